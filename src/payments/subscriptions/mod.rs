//! Subscriptions (Stripe Billing): subscribing with the first invoice's client secret, changing
//! plan, cancelling and resuming, each idempotent through [`PaymentService::idempotent`]; what a
//! user's subscriptions are and grant; and applying the provider's subscription and invoice
//! events through the never-backwards rule of [`rule`].

mod apply;
mod reads;
mod rule;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::PaymentService;
use super::change::CHANGE_ROUNDS;
use super::idempotency::{check_key, fingerprint, provider_key};
use crate::auth::Viewer;
use crate::error::AppError;
use crate::providers::payments::{ProviderSubscription, SubscriptionRequest, SubscriptionUpdate};
use crate::store::{
    NewSubscriptionEvent, Notice, StoreError, SubscriptionRow, SubscriptionWrite,
    SubscriptionWritten,
};
use rule::Report;

const SUBSCRIBE: &str = "subscriptions.create";
const CHANGE_PLAN: &str = "subscriptions.change_plan";
const CANCEL: &str = "subscriptions.cancel";
const RESUME: &str = "subscriptions.resume";

/// Largest quantity of one subscription.
pub const MAX_QUANTITY: u32 = 999;

/// Input of `subscribe` and `changeSubscriptionPlan`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanChoice {
    /// A recurring price of the catalog.
    pub price_id: String,
    /// From 1 to [`MAX_QUANTITY`].
    pub quantity: u32,
}

/// A created (or replayed) subscription.
#[derive(Clone)]
pub struct Subscribed {
    /// The recorded subscription.
    pub subscription: SubscriptionRow,
    /// The client secret of the first invoice's payment, for Stripe.js / PaymentSheet; `None`
    /// when there is nothing to pay (a free trial, a zero amount, the sandbox).
    pub client_secret: Option<String>,
}

crate::redact::redacted_debug!(Subscribed { subscription } hides { client_secret });

/// What an idempotent subscription mutation remembers to replay.
#[derive(Debug, Serialize, Deserialize)]
struct StoredSubscription {
    subscription_id: Uuid,
}

impl PaymentService {
    /// Subscribes the viewer to a recurring price, once per idempotency key. The provider's
    /// customer is created on first need; the first invoice waits for the payer to confirm the
    /// returned client secret.
    pub async fn subscribe(
        &self,
        viewer: &Viewer,
        choice: PlanChoice,
        key: &str,
    ) -> Result<Subscribed, AppError> {
        check_key(key)?;
        self.check_plan(&choice, "input.").await?;
        let user = viewer.user_id;
        self.idempotent(
            user,
            SUBSCRIBE,
            key,
            &fingerprint(&choice),
            self.subscribe_fresh(user, &choice, key),
            |stored: StoredSubscription| self.replay_subscribe(stored),
        )
        .await
    }

    /// Moves a subscription to another price or quantity, prorated, once per key.
    pub async fn change_subscription_plan(
        &self,
        viewer: &Viewer,
        id: Uuid,
        choice: PlanChoice,
        key: &str,
    ) -> Result<SubscriptionRow, AppError> {
        check_key(key)?;
        self.check_plan(&choice, "").await?;
        let update = SubscriptionUpdate::ChangePrice {
            price_id: choice.price_id.clone(),
            quantity: choice.quantity,
        };
        self.update_once(viewer, id, CHANGE_PLAN, key, &(id, &choice), update)
            .await
    }

    /// Cancels a subscription at the end of its period (it stays in force until then), or now;
    /// once per key.
    pub async fn cancel_subscription(
        &self,
        viewer: &Viewer,
        id: Uuid,
        at_period_end: bool,
        key: &str,
    ) -> Result<SubscriptionRow, AppError> {
        check_key(key)?;
        if at_period_end {
            let update = SubscriptionUpdate::CancelAtPeriodEnd;
            return self
                .update_once(viewer, id, CANCEL, key, &(id, at_period_end), update)
                .await;
        }
        let current = self.visible(viewer, id).await?;
        let user = viewer.user_id;
        let fresh = async {
            still_changeable(&current)?;
            let answer = self
                .provider
                .cancel_subscription_now(
                    &current.provider_subscription_id,
                    &provider_key(user, CANCEL, key),
                )
                .await
                .map_err(|e| self.provider_error(e))?;
            let row = self.apply_answer(id, &answer, "canceled").await?;
            Ok((
                row,
                StoredSubscription {
                    subscription_id: id,
                },
            ))
        };
        self.idempotent(
            user,
            CANCEL,
            key,
            &fingerprint(&(id, at_period_end)),
            fresh,
            |stored: StoredSubscription| self.stored_subscription(stored.subscription_id),
        )
        .await
    }

    /// Takes back a cancellation at period end, once per key.
    pub async fn resume_subscription(
        &self,
        viewer: &Viewer,
        id: Uuid,
        key: &str,
    ) -> Result<SubscriptionRow, AppError> {
        check_key(key)?;
        self.update_once(viewer, id, RESUME, key, &id, SubscriptionUpdate::Resume)
            .await
    }

    /// The viewer's subscriptions, newest first.
    pub async fn my_subscriptions(
        &self,
        viewer: &Viewer,
    ) -> Result<Vec<SubscriptionRow>, AppError> {
        Ok(self.store.subscriptions_of_user(viewer.user_id).await?)
    }

    /// A subscription, if the viewer may see it (its owner, or an admin).
    pub async fn visible_subscription(
        &self,
        viewer: &Viewer,
        id: Uuid,
    ) -> Result<Option<SubscriptionRow>, AppError> {
        let subscription = self.store.subscription_by_id(id).await?;
        Ok(subscription.filter(|s| viewer.may_see_owned_by(s.user_id)))
    }

    /// The price ids of `user`'s subscriptions in force (trialing, active or past due), sorted
    /// and without repeats: what entitlements are computed from.
    pub async fn active_price_ids(&self, user: Uuid) -> Result<Vec<String>, AppError> {
        Ok(price_ids_in_force(
            self.store.subscriptions_of_user(user).await?,
        ))
    }

    /// Refuses a quantity out of range or a price that is not a recurring price of the catalog;
    /// the error names the argument under `prefix` (`input.` for `subscribe`).
    async fn check_plan(&self, choice: &PlanChoice, prefix: &str) -> Result<(), AppError> {
        if !(1..=MAX_QUANTITY).contains(&choice.quantity) {
            return Err(AppError::bad_input(
                format!("{prefix}quantity"),
                format!("use a quantity from 1 to {MAX_QUANTITY}"),
            ));
        }
        let catalog = self.catalog().await?;
        let recurring = catalog
            .iter()
            .any(|p| p.id == choice.price_id && p.interval.is_some());
        if recurring {
            Ok(())
        } else {
            Err(AppError::bad_input(
                format!("{prefix}priceId"),
                "not a recurring price of the catalog; pick one from `catalog` with an interval",
            ))
        }
    }

    async fn subscribe_fresh(
        &self,
        user: Uuid,
        choice: &PlanChoice,
        key: &str,
    ) -> Result<(Subscribed, StoredSubscription), AppError> {
        let customer = self.customer_of(user).await?;
        let request = SubscriptionRequest {
            customer,
            price_id: choice.price_id.clone(),
            quantity: choice.quantity,
            idempotency_key: provider_key(user, SUBSCRIBE, key),
        };
        let created = self
            .provider
            .create_subscription(&request)
            .await
            .map_err(|e| self.provider_error(e))?;
        let subscription = self.record_subscription(user, &created).await?;
        tracing::info!(subscription_id = %subscription.id, provider_subscription_id = %created.id, "subscription created");
        let stored = StoredSubscription {
            subscription_id: subscription.id,
        };
        let subscribed = Subscribed {
            subscription,
            client_secret: created.client_secret,
        };
        Ok((subscribed, stored))
    }

    async fn replay_subscribe(&self, stored: StoredSubscription) -> Result<Subscribed, AppError> {
        let subscription = self.stored_subscription(stored.subscription_id).await?;
        // The secret is never stored: ask again while there is something to pay.
        let client_secret = if subscription.status == crate::domain::SubscriptionStatus::Incomplete
        {
            self.provider
                .retrieve_subscription(&subscription.provider_subscription_id)
                .await
                .map_err(|e| self.provider_error(e))?
                .client_secret
        } else {
            None
        };
        Ok(Subscribed {
            subscription,
            client_secret,
        })
    }

    /// Records a subscription the provider just created, and announces its first event. A
    /// retry whose provider call was deduplicated finds the record already there.
    async fn record_subscription(
        &self,
        user: Uuid,
        created: &ProviderSubscription,
    ) -> Result<SubscriptionRow, AppError> {
        let now = Utc::now();
        let blank = SubscriptionRow {
            id: Uuid::now_v7(),
            user_id: user,
            provider: self.provider.name().to_owned(),
            provider_subscription_id: created.id.clone(),
            price_id: created.price_id.clone(),
            quantity: i64::from(created.quantity),
            status: created.status,
            current_period_end: None,
            cancel_at_period_end: false,
            latest_invoice_id: None,
            latest_invoice_amount_due: None,
            latest_invoice_currency: None,
            latest_invoice_status: None,
            latest_invoice_url: None,
            provider_event_at: 0,
            version: 0,
            created_at: now,
            updated_at: now,
        };
        // The answer through the rule fills the rest, as any later answer would.
        let row = rule::next(
            &blank,
            Report::Snapshot {
                subscription: created,
                occurred_at: None,
            },
        );
        match self.store.insert_subscription(&row).await {
            Ok(logged) => {
                self.bus.publish_notices(&[Notice::from(&logged)]).await;
                Ok(row)
            }
            Err(StoreError::Conflict(_)) => {
                let existing = self
                    .store
                    .subscriptions_by_provider_ids(std::slice::from_ref(&created.id))
                    .await?;
                existing
                    .into_iter()
                    .next()
                    .ok_or(AppError::NotFound("subscription"))
            }
            Err(err) => Err(err.into()),
        }
    }

    /// The protocol of `changeSubscriptionPlan`, `cancelSubscription(atPeriodEnd: true)` and
    /// `resumeSubscription`: check, then send `update` once per key and apply the answer.
    async fn update_once(
        &self,
        viewer: &Viewer,
        id: Uuid,
        operation: &'static str,
        key: &str,
        request: &impl Serialize,
        update: SubscriptionUpdate,
    ) -> Result<SubscriptionRow, AppError> {
        let current = self.visible(viewer, id).await?;
        let user = viewer.user_id;
        let kind = match &update {
            SubscriptionUpdate::ChangePrice { .. } => "plan_changed",
            SubscriptionUpdate::CancelAtPeriodEnd => "cancellation_scheduled",
            SubscriptionUpdate::Resume => "resumed",
        };
        let fresh = async {
            still_changeable(&current)?;
            let answer = self
                .provider
                .update_subscription(
                    &current.provider_subscription_id,
                    &update,
                    &provider_key(user, operation, key),
                )
                .await
                .map_err(|e| self.provider_error(e))?;
            let row = self.apply_answer(id, &answer, kind).await?;
            Ok((
                row,
                StoredSubscription {
                    subscription_id: id,
                },
            ))
        };
        self.idempotent(
            user,
            operation,
            key,
            &fingerprint(request),
            fresh,
            |stored: StoredSubscription| self.stored_subscription(stored.subscription_id),
        )
        .await
    }

    /// A subscription the viewer may see, or `NOT_FOUND`.
    async fn visible(&self, viewer: &Viewer, id: Uuid) -> Result<SubscriptionRow, AppError> {
        self.visible_subscription(viewer, id)
            .await?
            .ok_or(AppError::NotFound("subscription"))
    }

    async fn stored_subscription(&self, id: Uuid) -> Result<SubscriptionRow, AppError> {
        self.store
            .subscription_by_id(id)
            .await?
            .ok_or(AppError::NotFound("subscription"))
    }

    /// Applies the provider's answer to our call through the rule, logging it as `kind`.
    async fn apply_answer(
        &self,
        id: Uuid,
        answer: &ProviderSubscription,
        kind: &str,
    ) -> Result<SubscriptionRow, AppError> {
        for _ in 0..CHANGE_ROUNDS {
            let current = self.stored_subscription(id).await?;
            let next = rule::next(
                &current,
                Report::Snapshot {
                    subscription: answer,
                    occurred_at: None,
                },
            );
            if next == current {
                return Ok(current);
            }
            let write = SubscriptionWrite {
                log: rule::visible_change(&current, &next).then(|| NewSubscriptionEvent {
                    kind: kind.to_owned(),
                    source_event_id: None,
                }),
                next,
            };
            match self
                .store
                .write_subscription(Some(&write), None, Utc::now())
                .await?
            {
                SubscriptionWritten::Written(logged) => {
                    if let Some(logged) = logged {
                        self.bus.publish_notices(&[Notice::from(&logged)]).await;
                    }
                    return self.stored_subscription(id).await;
                }
                SubscriptionWritten::Contended => continue,
            }
        }
        Err(AppError::Conflict(
            "the subscription kept changing; try again in a moment".into(),
        ))
    }
}

/// `CONFLICT` once a subscription has ended (checked for a first request only: a replay answers
/// what the first one did).
fn still_changeable(subscription: &SubscriptionRow) -> Result<(), AppError> {
    if subscription.status.is_terminal() {
        return Err(AppError::Conflict(
            "this subscription has ended and cannot be changed; subscribe again".into(),
        ));
    }
    Ok(())
}

/// The price ids of the subscriptions in force, sorted and without repeats.
fn price_ids_in_force(subscriptions: Vec<SubscriptionRow>) -> Vec<String> {
    let mut ids: Vec<String> = subscriptions
        .into_iter()
        .filter(|s| s.status.is_in_force())
        .map(|s| s.price_id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SubscriptionStatus::{self, *};

    fn on(price: &str, status: SubscriptionStatus) -> SubscriptionRow {
        let now = Utc::now();
        SubscriptionRow {
            id: Uuid::now_v7(),
            user_id: Uuid::nil(),
            provider: "stripe".into(),
            provider_subscription_id: format!("sub_{price}_{status}"),
            price_id: price.into(),
            quantity: 1,
            status,
            current_period_end: None,
            cancel_at_period_end: false,
            latest_invoice_id: None,
            latest_invoice_amount_due: None,
            latest_invoice_currency: None,
            latest_invoice_status: None,
            latest_invoice_url: None,
            provider_event_at: 0,
            version: 0,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn entitling_prices_are_those_of_subscriptions_in_force() {
        let rows = vec![
            on("price_pro", Active),
            on("price_team", PastDue),
            on("price_pro", Trialing),
            on("price_old", Canceled),
            on("price_new", Incomplete),
            on("price_unpaid", Unpaid),
            on("price_paused", Paused),
        ];
        assert_eq!(price_ids_in_force(rows), ["price_pro", "price_team"]);
    }

    #[test]
    fn in_force_is_what_grants_entitlements() {
        for status in SubscriptionStatus::ALL {
            let stripe_name = status.as_str().to_ascii_lowercase();
            assert_eq!(
                status.is_in_force(),
                crate::payments::catalog::grants_access(&stripe_name),
                "{status}"
            );
        }
    }
}
