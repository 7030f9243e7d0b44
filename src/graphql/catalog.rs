//! Plans: the recurring prices a user can subscribe to, with what each grants.

use async_graphql::{Context, ID, Object, SimpleObject};

use super::SchemaDeps;
use crate::error::AppError;
use crate::payments::catalog::granted_by;
use crate::providers::payments::ProviderPrice;

/// A recurring price: what a subscription bills, and what it grants.
#[derive(SimpleObject)]
pub struct Plan {
    /// The price id to subscribe to (`price_...`).
    pub id: ID,
    /// The product's name (its id when the provider did not say).
    pub product: Option<String>,
    /// Minor units per billing period.
    pub unit_amount: i64,
    /// ISO-4217 code, upper case.
    pub currency: String,
    /// `day`, `week`, `month` or `year`.
    pub interval: String,
    /// How many intervals one billing period lasts (3 with `month` bills quarterly); null when
    /// the provider did not say.
    pub interval_count: Option<u32>,
    /// The entitlement keys a subscription to it grants (its `entitlements` metadata), in the
    /// order configured.
    pub entitlements: Vec<String>,
}

impl Plan {
    /// The plan of a recurring price; `None` for one-time prices.
    pub fn of(price: &ProviderPrice) -> Option<Self> {
        Some(Plan {
            id: ID(price.id.clone()),
            product: price.product.clone(),
            unit_amount: price.unit_amount,
            currency: price.currency.to_ascii_uppercase(),
            interval: price.interval.clone()?,
            interval_count: price.interval_count,
            entitlements: granted_by(price),
        })
    }
}

/// Catalog queries.
#[derive(Default)]
pub struct CatalogQuery;

/// Catalog queries.
#[Object]
impl CatalogQuery {
    /// The active recurring prices, from the cached catalog: served from the cache while the
    /// payment provider is down (`PROVIDER_UNAVAILABLE` only when nothing was cached yet).
    async fn plans(&self, ctx: &Context<'_>) -> Result<Vec<Plan>, AppError> {
        let payments = &ctx.data_unchecked::<SchemaDeps>().payments;
        Ok(payments
            .plans()
            .await?
            .iter()
            .filter_map(Plan::of)
            .collect())
    }
}
