//! Plans and entitlements, read from the cached catalog.
//!
//! Entitlements are configured in the provider as metadata: the key `entitlements` holds a
//! comma-separated list (`pro,api`), on a product (every price of it grants them) or on a price
//! (which then replaces its product's list). Items are trimmed; empty items are ignored; case is
//! kept. See docs/payments.md.

use std::collections::BTreeSet;
use std::sync::Arc;

use uuid::Uuid;

use super::PaymentService;
use crate::auth::Viewer;
use crate::error::AppError;
use crate::providers::payments::ProviderPrice;

/// The metadata key that lists what a price grants.
pub const ENTITLEMENTS_KEY: &str = "entitlements";

/// Subscription statuses that grant their price's entitlements (Stripe's names). `past_due`
/// keeps access while Stripe retries the payment; `unpaid`, `canceled`, `incomplete`,
/// `incomplete_expired` and `paused` do not.
pub const GRANTING_STATUSES: &[&str] = &["active", "trialing", "past_due"];

/// Whether a subscription in `status` (Stripe's name) grants its price's entitlements.
pub fn grants_access(status: &str) -> bool {
    GRANTING_STATUSES.contains(&status)
}

/// What one price grants, in the order its metadata lists it.
pub fn granted_by(price: &ProviderPrice) -> Vec<String> {
    let Some(list) = price.metadata.get(ENTITLEMENTS_KEY) else {
        return Vec::new();
    };
    let mut seen = BTreeSet::new();
    list.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty() && seen.insert(*item))
        .map(str::to_owned)
        .collect()
}

/// What subscriptions to `price_ids` grant together, sorted and without duplicates. A price the
/// catalog does not know grants nothing.
pub fn entitlements(price_ids: &[String], catalog: &[ProviderPrice]) -> Vec<String> {
    let granted: BTreeSet<String> = catalog
        .iter()
        .filter(|price| price_ids.contains(&price.id))
        .flat_map(granted_by)
        .collect();
    granted.into_iter().collect()
}

impl PaymentService {
    /// The active recurring prices: what a user can subscribe to.
    pub async fn plans(&self) -> Result<Vec<ProviderPrice>, AppError> {
        let catalog = self.catalog().await?;
        Ok(catalog
            .iter()
            .filter(|price| price.interval.is_some())
            .cloned()
            .collect())
    }

    /// What `user`'s subscriptions grant, sorted and without duplicates; only the user and
    /// admins may ask.
    pub async fn entitlements(&self, viewer: &Viewer, user: Uuid) -> Result<Vec<String>, AppError> {
        if !viewer.may_see_owned_by(user) {
            return Err(AppError::NotFound("user"));
        }
        // The subscriptions in force (src/payments/subscriptions): active, trialing, past due.
        let price_ids = self.active_price_ids(user).await?;
        if price_ids.is_empty() {
            // Nothing to look up: no catalog fetch, so no provider outage can fail this.
            return Ok(Vec::new());
        }
        let catalog: Arc<Vec<ProviderPrice>> = self.all_prices().await?;
        Ok(entitlements(&price_ids, &catalog))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn price(id: &str, entitlements: Option<&str>) -> ProviderPrice {
        ProviderPrice {
            id: id.into(),
            product: None,
            unit_amount: 100,
            currency: "usd".into(),
            interval: Some("month".into()),
            interval_count: Some(1),
            active: true,
            metadata: entitlements
                .map(|e| BTreeMap::from([(ENTITLEMENTS_KEY.to_owned(), e.to_owned())]))
                .unwrap_or_default(),
        }
    }

    fn ids(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|id| (*id).to_owned()).collect()
    }

    #[test]
    fn a_price_grants_its_trimmed_comma_separated_list() {
        assert_eq!(
            granted_by(&price("p", Some(" pro, api ,,pro,API "))),
            ids(&["pro", "api", "API"])
        );
        assert!(granted_by(&price("p", None)).is_empty());
        assert!(granted_by(&price("p", Some(" , "))).is_empty());
    }

    #[test]
    fn subscriptions_grant_the_sorted_union_of_their_prices() {
        let catalog = [
            price("price_pro", Some("pro,api")),
            price("price_team", Some("team, pro")),
            price("price_plain", None),
            price("price_other", Some("other")),
        ];
        assert_eq!(
            entitlements(&ids(&["price_team", "price_pro", "price_plain"]), &catalog),
            ids(&["api", "pro", "team"])
        );
        assert!(entitlements(&ids(&["price_unknown"]), &catalog).is_empty());
        assert!(entitlements(&[], &catalog).is_empty());
    }

    #[test]
    fn active_trialing_and_past_due_grant_access() {
        for status in ["active", "trialing", "past_due"] {
            assert!(grants_access(status), "{status}");
        }
        for status in [
            "incomplete",
            "incomplete_expired",
            "canceled",
            "unpaid",
            "paused",
            "unknown",
        ] {
            assert!(!grants_access(status), "{status}");
        }
    }
}
