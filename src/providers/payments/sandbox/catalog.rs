//! The sandbox's fixed catalog, so the quick start has something to show: a one-time price and
//! plans whose metadata grants entitlements, configured the way they would be in Stripe.

use std::collections::BTreeMap;

use crate::providers::payments::ProviderPrice;

/// One sandbox price; `entitlements` is its (merged) `entitlements` metadata, if any.
fn price(
    id: &str,
    product: &str,
    unit_amount: i64,
    recurring: Option<(&str, u32)>,
    entitlements: Option<&str>,
) -> ProviderPrice {
    ProviderPrice {
        id: id.to_owned(),
        product: Some(product.to_owned()),
        unit_amount,
        currency: "usd".to_owned(),
        interval: recurring.map(|(interval, _)| interval.to_owned()),
        interval_count: recurring.map(|(_, count)| count),
        active: true,
        metadata: entitlements
            .map(|value| BTreeMap::from([("entitlements".to_owned(), value.to_owned())]))
            .unwrap_or_default(),
    }
}

/// The prices the sandbox sells.
pub(super) fn prices() -> Vec<ProviderPrice> {
    vec![
        price("price_sandbox_coffee", "Coffee beans", 1_800, None, None),
        price(
            "price_sandbox_club",
            "Coffee club",
            2_500,
            Some(("month", 1)),
            Some("club"),
        ),
        price(
            "price_sandbox_pro_monthly",
            "Roaster Pro",
            4_900,
            Some(("month", 1)),
            Some("pro,api"),
        ),
        // The yearly price sets its own `entitlements`, which replaces the product's.
        price(
            "price_sandbox_pro_yearly",
            "Roaster Pro",
            49_000,
            Some(("year", 1)),
            Some("pro,api,priority_support"),
        ),
    ]
}
