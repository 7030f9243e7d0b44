//! `Query`: the read side of the API.

use async_graphql::{Context, Object};

use super::auth::{LoginProvider, ProviderHealth};
use super::types::{ServerInfo, User};
use super::{SchemaDeps, viewer_state};
use crate::error::AppError;

/// Who is asking, how the server runs, and how to sign in.
#[derive(Default)]
pub struct CoreQuery;

/// Who is asking, how the server runs, and how to sign in.
#[Object]
impl CoreQuery {
    /// The signed-in user; null when the request carries no credentials. Credentials that are
    /// refused (expired, invalid, ended session) answer `UNAUTHENTICATED` with
    /// `extensions.reason`, and `me` is null beside that error.
    async fn me(&self, ctx: &Context<'_>) -> Result<Option<User>, AppError> {
        let Some(viewer) = viewer_state(ctx).viewer()? else {
            return Ok(None);
        };
        let auth = &ctx.data_unchecked::<SchemaDeps>().auth;
        Ok(auth.viewer_user(viewer).await?.map(User))
    }

    /// The ways to sign in, for login buttons.
    async fn login_providers(&self, ctx: &Context<'_>) -> Vec<LoginProvider> {
        let auth = &ctx.data_unchecked::<SchemaDeps>().auth;
        auth.providers()
            .map(|p| LoginProvider {
                name: p.name().to_owned(),
                display_name: p.display_name().to_owned(),
                kind: p.kind().into(),
            })
            .collect()
    }

    /// Health of every configured provider, as the resilience layer sees it (admins only: it
    /// tells an attacker which provider is struggling).
    #[graphql(guard = "super::admin::AdminOnly")]
    async fn provider_health(&self, ctx: &Context<'_>) -> Result<Vec<ProviderHealth>, AppError> {
        let registry = &ctx.data_unchecked::<SchemaDeps>().providers;
        Ok(registry
            .health()
            .into_iter()
            .map(ProviderHealth::from)
            .collect())
    }

    /// What this server is and how it runs. Open to anyone: clients read the environment and
    /// payment provider to show a test-mode banner, and nothing in it is secret.
    async fn server_info(&self, ctx: &Context<'_>) -> ServerInfo {
        let deps = ctx.data_unchecked::<SchemaDeps>();
        ServerInfo {
            version: env!("CARGO_PKG_VERSION"),
            environment: if deps.production {
                "production"
            } else {
                "development"
            },
            payment_provider: deps.payments.provider_name(),
            stripe_publishable_key: deps.payments.publishable_key().map(str::to_owned),
        }
    }
}
