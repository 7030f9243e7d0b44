//! `Debug` that never prints secrets: types holding tokens, verifiers or keys list their
//! harmless fields and show each secret one as `[REDACTED]`, so a stray `{:?}` in a log line
//! or a panic message leaks nothing.

/// What a redacted field prints as.
pub const REDACTED: &str = "[REDACTED]";

/// Implements `Debug` for a struct: `shown` fields as usual, `hidden` fields as [`REDACTED`].
macro_rules! redacted_debug {
    ($ty:ty { $($shown:ident),* $(,)? } hides { $($hidden:ident),* $(,)? }) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let mut out = f.debug_struct(stringify!($ty));
                $(out.field(stringify!($shown), &self.$shown);)*
                $(
                    let _ = &self.$hidden;
                    out.field(stringify!($hidden), &$crate::redact::REDACTED);
                )*
                out.finish()
            }
        }
    };
}
pub(crate) use redacted_debug;

#[cfg(test)]
mod tests {
    //! Formats every type that holds a secret, with a canary in each secret field.

    use chrono::Utc;
    use uuid::Uuid;

    use crate::auth::{Credentials, IssuedSession};
    use crate::config::Settings;
    use crate::providers::identity::{AuthorizationRequest, CodeExchange};
    use crate::providers::payments::{EphemeralKey, ProviderIntent, ProviderSetupIntent};
    use crate::store::{LoginAttempt, PaymentRow, Session, User};

    const CANARY: &str = "canary-5ecret-value";

    fn assert_redacted(debug: String) {
        assert!(!debug.contains(CANARY), "a secret in {debug}");
        assert!(debug.contains("REDACTED"), "{debug}");
    }

    #[test]
    fn no_secret_holding_type_prints_its_secret() {
        let mut settings = Settings::defaults();
        settings.session_signing_keys = format!("k1:{CANARY}");
        settings.stripe_secret_key = CANARY.into();
        settings.stripe_webhook_secrets = CANARY.into();
        settings.database_url = format!("postgres://app:{CANARY}@db/app");
        settings
            .provider_env
            .insert("AUTH_CORP_CLIENT_SECRET".into(), CANARY.into());
        assert_redacted(format!("{settings:?}"));

        let now = Utc::now();
        assert_redacted(format!(
            "{:?}",
            LoginAttempt {
                state_hash: CANARY.into(),
                provider: "dev".into(),
                pkce_verifier: Some(CANARY.into()),
                code_challenge: None,
                browser_hash: Some(CANARY.into()),
                nonce: CANARY.into(),
                redirect_to: None,
                client_completes: false,
                link_user_id: None,
                created_at: now,
                expires_at: now,
                consumed_at: None,
            }
        ));
        assert_redacted(format!(
            "{:?}",
            AuthorizationRequest {
                state: CANARY,
                pkce: crate::providers::identity::Pkce::Verifier(CANARY),
                nonce: CANARY,
            }
        ));
        assert_redacted(format!(
            "{:?}",
            CodeExchange {
                code: CANARY,
                pkce_verifier: CANARY,
                nonce: CANARY,
            }
        ));
        let intent = ProviderIntent {
            id: "pi_1".into(),
            status: crate::domain::PaymentStatus::RequiresPaymentMethod,
            client_secret: CANARY.into(),
        };
        assert_redacted(format!("{intent:?}"));
        let setup = ProviderSetupIntent {
            id: "seti_1".into(),
            client_secret: CANARY.into(),
        };
        assert_redacted(format!("{setup:?}"));
        let key = EphemeralKey {
            secret: CANARY.to_owned().into(),
            expires: Some(1),
        };
        assert_redacted(format!("{key:?}"));
        let payment = PaymentRow {
            id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            provider: "sandbox".into(),
            provider_payment_id: "pi_1".into(),
            status: crate::domain::PaymentStatus::Succeeded,
            amount: 1,
            currency: "usd".into(),
            amount_refunded: 0,
            description: None,
            metadata: crate::domain::Metadata::default(),
            created_at: now,
            updated_at: now,
            last_error: Default::default(),
        };
        assert_redacted(format!(
            "{:?}",
            crate::payments::CreatedIntent {
                payment,
                client_secret: CANARY.into(),
            }
        ));
        let user = User {
            id: Uuid::now_v7(),
            email: None,
            name: None,
            is_admin: false,
            created_at: now,
            updated_at: now,
        };
        let session = Session {
            id: Uuid::now_v7(),
            user_id: user.id,
            provider: "dev".into(),
            created_at: now,
            expires_at: now,
            revoked_at: None,
        };
        assert_redacted(format!(
            "{:?}",
            IssuedSession {
                access_token: CANARY.into(),
                access_expires_at: now,
                refresh_token: CANARY.into(),
                session,
                user,
            }
        ));
        assert_redacted(format!("{:?}", Credentials::bearer(CANARY.into())));
        assert_redacted(format!(
            "{:?}",
            crate::auth::LoginStart {
                authorization_url: url::Url::parse("https://idp.example/auth").unwrap(),
                state: CANARY.into(),
            }
        ));
    }
}
