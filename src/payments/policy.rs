//! The payment rules an operator sets: whether clients may choose amounts, and when a payment's
//! owner may refund it. Deciding is pure (the time is an argument), so it is tested without
//! waiting. See docs/payments.md.

use chrono::{DateTime, Duration, Utc};

use crate::auth::Viewer;
use crate::domain::RefundActor;
use crate::error::AppError;

/// When the owner of a payment may refund it (`REFUNDS_BY_OWNER`). Admins always may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerRefunds {
    /// Never: only admins refund (the production default).
    Off,
    /// At any time (the development default).
    Always,
    /// Within this long after the payment was paid.
    Within(Duration),
}

/// The operator's payment rules, from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentRules {
    /// Whether `createPaymentIntent` may take a client-chosen `amount`
    /// (`PAYMENTS_ALLOW_CUSTOM_AMOUNT`); otherwise only catalog `lineItems`.
    pub allow_custom_amount: bool,
    /// When owners may refund their payments (`REFUNDS_BY_OWNER`).
    pub owner_refunds: OwnerRefunds,
}

impl PaymentRules {
    /// The development defaults: custom amounts and owner refunds at any time.
    pub const DEVELOPMENT: PaymentRules = PaymentRules {
        allow_custom_amount: true,
        owner_refunds: OwnerRefunds::Always,
    };

    /// The production defaults: catalog prices only, and only admins refund.
    pub const PRODUCTION: PaymentRules = PaymentRules {
        allow_custom_amount: false,
        owner_refunds: OwnerRefunds::Off,
    };

    /// In what capacity `viewer` may refund a payment paid at `paid_at`, at `now`; or why not.
    /// The caller has already made sure the viewer owns the payment or is an admin.
    pub fn refund_actor(
        &self,
        viewer: &Viewer,
        paid_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<RefundActor, AppError> {
        // An admin refunding their own payment acts as admin: the policy is for customers.
        if viewer.is_admin {
            return Ok(RefundActor::Admin);
        }
        match self.owner_refunds {
            OwnerRefunds::Always => Ok(RefundActor::Owner),
            OwnerRefunds::Off => Err(AppError::RefundNotAllowed {
                reason: "OWNER_REFUNDS_OFF",
                message: "refunds are made by support on this service; contact them to ask for one"
                    .into(),
            }),
            OwnerRefunds::Within(window) if now <= paid_at + window => Ok(RefundActor::Owner),
            OwnerRefunds::Within(window) => Err(AppError::RefundNotAllowed {
                reason: "REFUND_WINDOW_PASSED",
                message: format!(
                    "payments can be refunded here for {} hours after they were paid, and that time has passed; contact support",
                    window.num_hours()
                ),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::CredentialSource;
    use crate::error::ErrorCode;

    fn viewer(is_admin: bool) -> Viewer {
        Viewer {
            user_id: uuid::Uuid::now_v7(),
            session_id: uuid::Uuid::now_v7(),
            is_admin,
            source: CredentialSource::Bearer,
        }
    }

    fn rules(owner_refunds: OwnerRefunds) -> PaymentRules {
        PaymentRules {
            allow_custom_amount: false,
            owner_refunds,
        }
    }

    fn reason(result: Result<RefundActor, AppError>) -> &'static str {
        match result {
            Err(AppError::RefundNotAllowed { reason, .. }) => reason,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn owners_refund_by_the_policy_and_admins_always() {
        let paid = DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let owner = viewer(false);
        let admin = viewer(true);
        let window = rules(OwnerRefunds::Within(Duration::hours(72)));
        let decide = |rules: PaymentRules, who: &Viewer, hours: i64| {
            rules.refund_actor(who, paid, paid + Duration::hours(hours))
        };

        assert_eq!(
            decide(rules(OwnerRefunds::Always), &owner, 10_000).unwrap(),
            RefundActor::Owner
        );
        assert_eq!(
            reason(decide(rules(OwnerRefunds::Off), &owner, 0)),
            "OWNER_REFUNDS_OFF"
        );
        assert_eq!(decide(window, &owner, 72).unwrap(), RefundActor::Owner);
        let late = decide(window, &owner, 73);
        assert_eq!(
            late.as_ref().unwrap_err().code(),
            ErrorCode::RefundNotAllowed
        );
        assert!(
            late.as_ref().unwrap_err().to_string().contains("72 hours"),
            "{late:?}"
        );
        assert_eq!(reason(late), "REFUND_WINDOW_PASSED");
        for policy in [OwnerRefunds::Off, OwnerRefunds::Within(Duration::hours(1))] {
            assert_eq!(
                decide(rules(policy), &admin, 10_000).unwrap(),
                RefundActor::Admin
            );
        }
    }
}
