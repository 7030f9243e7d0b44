//! Sandbox subscriptions: kept in memory, with nothing to pay, so `cargo run` without keys can
//! subscribe, change plan, cancel and resume. A sandbox subscription starts `ACTIVE` (its first
//! invoice is paid at once, so there is no client secret to confirm) and answers every change at
//! once; it sends no events.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::domain::SubscriptionStatus;
use crate::providers::payments::{
    ProviderInvoice, ProviderPrice, ProviderSubscription, SubscriptionRequest, SubscriptionUpdate,
};
use crate::providers::resilience::ProviderError;
use crate::sync::lock;

/// A day, in seconds.
const DAY: i64 = 24 * 60 * 60;

/// The sandbox's subscriptions, and which idempotency key created which.
#[derive(Default)]
pub(super) struct SandboxBilling {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    subscriptions: HashMap<String, ProviderSubscription>,
    created_by_key: HashMap<String, String>,
}

impl SandboxBilling {
    /// Creates (once per idempotency key) an active subscription to one of `prices`.
    pub(super) fn create(
        &self,
        request: &SubscriptionRequest,
        prices: &[ProviderPrice],
    ) -> Result<ProviderSubscription, ProviderError> {
        let mut state = lock(&self.state);
        if let Some(id) = state.created_by_key.get(&request.idempotency_key) {
            return Ok(state.subscriptions[id].clone());
        }
        let id = format!("sub_sandbox_{}", uuid::Uuid::now_v7().simple());
        let subscription = ProviderSubscription {
            id: id.clone(),
            status: SubscriptionStatus::Active,
            price_id: request.price_id.clone(),
            quantity: request.quantity,
            current_period_end: Some(
                chrono::Utc::now().timestamp() + period(&request.price_id, prices),
            ),
            cancel_at_period_end: false,
            latest_invoice: Some(paid_invoice(&request.price_id, request.quantity, prices)),
            client_secret: None,
        };
        state
            .created_by_key
            .insert(request.idempotency_key.clone(), id.clone());
        state.subscriptions.insert(id, subscription.clone());
        Ok(subscription)
    }

    /// The subscription as the sandbox has it.
    pub(super) fn get(&self, id: &str) -> Result<ProviderSubscription, ProviderError> {
        lock(&self.state)
            .subscriptions
            .get(id)
            .cloned()
            .ok_or_else(|| not_found(id))
    }

    /// Applies `update` (a price change is billed at once, prorations aside).
    pub(super) fn update(
        &self,
        id: &str,
        update: &SubscriptionUpdate,
        prices: &[ProviderPrice],
    ) -> Result<ProviderSubscription, ProviderError> {
        self.change(id, |subscription| match update {
            SubscriptionUpdate::ChangePrice { price_id, quantity } => {
                subscription.price_id = price_id.clone();
                subscription.quantity = *quantity;
                subscription.latest_invoice = Some(paid_invoice(price_id, *quantity, prices));
            }
            SubscriptionUpdate::CancelAtPeriodEnd => subscription.cancel_at_period_end = true,
            SubscriptionUpdate::Resume => subscription.cancel_at_period_end = false,
        })
    }

    /// Ends the subscription now.
    pub(super) fn cancel_now(&self, id: &str) -> Result<ProviderSubscription, ProviderError> {
        self.change(id, |subscription| {
            subscription.status = SubscriptionStatus::Canceled;
        })
    }

    fn change(
        &self,
        id: &str,
        apply: impl FnOnce(&mut ProviderSubscription),
    ) -> Result<ProviderSubscription, ProviderError> {
        let mut state = lock(&self.state);
        let subscription = state
            .subscriptions
            .get_mut(id)
            .ok_or_else(|| not_found(id))?;
        if subscription.status.is_terminal() {
            return Err(ProviderError::Permanent {
                status: Some(400),
                code: Some("subscription_canceled".into()),
                message: "a canceled subscription cannot be changed".into(),
            });
        }
        apply(subscription);
        Ok(subscription.clone())
    }
}

/// The length of a period of `price_id` (a month is thirty days here).
fn period(price_id: &str, prices: &[ProviderPrice]) -> i64 {
    let price = prices.iter().find(|p| p.id == price_id);
    let count = i64::from(price.and_then(|p| p.interval_count).unwrap_or(1));
    let unit = match price.and_then(|p| p.interval.as_deref()) {
        Some("day") => DAY,
        Some("week") => 7 * DAY,
        Some("year") => 365 * DAY,
        _ => 30 * DAY,
    };
    count * unit
}

fn paid_invoice(price_id: &str, quantity: u32, prices: &[ProviderPrice]) -> ProviderInvoice {
    let price = prices.iter().find(|p| p.id == price_id);
    ProviderInvoice {
        id: format!("in_sandbox_{}", uuid::Uuid::now_v7().simple()),
        amount_due: price.map_or(0, |p| p.unit_amount * i64::from(quantity)),
        currency: price.map(|p| p.currency.clone()),
        status: Some("paid".into()),
        hosted_invoice_url: None,
    }
}

fn not_found(id: &str) -> ProviderError {
    ProviderError::Permanent {
        status: Some(404),
        code: Some("resource_missing".into()),
        message: format!("no sandbox subscription {id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(key: &str) -> SubscriptionRequest {
        SubscriptionRequest {
            customer: None,
            price_id: "price_sandbox_club".into(),
            quantity: 2,
            idempotency_key: key.into(),
        }
    }

    #[test]
    fn sandbox_subscriptions_start_active_and_change_on_request() {
        let billing = SandboxBilling::default();
        let prices = [ProviderPrice {
            id: "price_sandbox_club".into(),
            product: None,
            unit_amount: 2_500,
            currency: "usd".into(),
            interval: Some("month".into()),
            interval_count: Some(1),
            active: true,
            metadata: Default::default(),
        }];
        let created = billing.create(&request("k1"), &prices).unwrap();
        assert_eq!(created.status, SubscriptionStatus::Active);
        assert_eq!(created.latest_invoice.as_ref().unwrap().amount_due, 5_000);
        assert_eq!(billing.create(&request("k1"), &prices).unwrap(), created);
        assert_ne!(
            billing.create(&request("k2"), &prices).unwrap().id,
            created.id
        );
        let cancelling = billing
            .update(&created.id, &SubscriptionUpdate::CancelAtPeriodEnd, &prices)
            .unwrap();
        assert!(cancelling.cancel_at_period_end);
        let resumed = billing
            .update(&created.id, &SubscriptionUpdate::Resume, &prices)
            .unwrap();
        assert!(!resumed.cancel_at_period_end);
        assert_eq!(
            billing.cancel_now(&created.id).unwrap().status,
            SubscriptionStatus::Canceled
        );
        assert!(billing.cancel_now(&created.id).is_err());
        assert!(billing.get("sub_unknown").is_err());
    }
}
