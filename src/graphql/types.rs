//! GraphQL object types over the domain's data.

use async_graphql::dataloader::DataLoader;
use async_graphql::{
    Context, ID, InputValueError, InputValueResult, Object, Scalar, ScalarType, SimpleObject, Value,
};

use super::loaders::IdentitiesLoader;
use crate::error::AppError;
use crate::store;

/// Facts about the running server.
#[derive(SimpleObject)]
pub struct ServerInfo {
    /// The switchboard version, e.g. `0.1.0`.
    pub version: &'static str,
    /// `development` or `production`.
    pub environment: &'static str,
    /// The active payment provider: `stripe`, or `sandbox` when no Stripe key is configured.
    pub payment_provider: &'static str,
    /// Stripe's publishable key (`pk_test_...` / `pk_live_...`) for Stripe.js, the Payment
    /// Element and PaymentSheet, so apps need not hard-code it; null with the sandbox.
    pub stripe_publishable_key: Option<String>,
}

/// A person who signs in through one or more identity providers.
pub struct User(pub store::User);

/// A person who signs in through one or more identity providers.
#[Object]
impl User {
    /// Opaque, stable id.
    pub async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Email address, when a provider asserted one.
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }

    /// Display name.
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }

    /// What the user's subscriptions grant (active, trialing and past-due ones): entitlement
    /// keys from the plans' `entitlements` metadata, sorted, without duplicates. Gate features
    /// on these. Only the user and admins may read it.
    async fn entitlements(&self, ctx: &Context<'_>) -> Result<Vec<String>, AppError> {
        let viewer = super::viewer_state(ctx).require()?;
        let payments = &ctx.data_unchecked::<super::SchemaDeps>().payments;
        payments.entitlements(viewer, self.0.id).await
    }

    /// The provider accounts that sign this user in.
    async fn identities(&self, ctx: &Context<'_>) -> Result<Vec<Identity>, AppError> {
        let loader = ctx.data_unchecked::<DataLoader<IdentitiesLoader>>();
        let identities = loader.load_one(self.0.id).await?.unwrap_or_default();
        Ok(identities.into_iter().map(Identity).collect())
    }
}

/// One provider account linked to a user.
pub struct Identity(pub store::Identity);

/// One provider account linked to a user.
#[Object]
impl Identity {
    /// The configured provider name, e.g. `google`.
    async fn provider(&self) -> &str {
        &self.0.provider
    }

    /// The provider's id for the account.
    async fn subject(&self) -> &str {
        &self.0.subject
    }
}

/// An instant, as an RFC 3339 string in UTC with millisecond precision
/// (`2026-01-31T12:00:00.000Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime(pub chrono::DateTime<chrono::Utc>);

impl From<chrono::DateTime<chrono::Utc>> for DateTime {
    fn from(instant: chrono::DateTime<chrono::Utc>) -> Self {
        Self(instant)
    }
}

/// An instant, as an RFC 3339 string in UTC with millisecond precision, e.g.
/// `2026-01-31T12:00:00.000Z`. Inputs may use any offset.
#[Scalar(specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        let Value::String(text) = &value else {
            return Err(InputValueError::expected_type(value));
        };
        chrono::DateTime::parse_from_rfc3339(text)
            .map(|instant| Self(instant.with_timezone(&chrono::Utc)))
            .map_err(|_| InputValueError::custom("expected an RFC 3339 date-time"))
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    }
}
