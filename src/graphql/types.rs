//! GraphQL object types over the domain's data.

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, ID, Object, SimpleObject};

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
}

/// A person who signs in through one or more identity providers.
pub struct User(pub store::User);

/// A person who signs in through one or more identity providers.
#[Object]
impl User {
    /// Opaque, stable id.
    async fn id(&self) -> ID {
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
