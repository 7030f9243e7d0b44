//! `Query`: the read side of the API.

use async_graphql::{Context, Object};

use super::SchemaDeps;
use super::types::{ServerInfo, User};
use crate::error::AppError;

/// The root of every query.
pub struct QueryRoot;

/// The root of every query.
#[Object(name = "Query")]
impl QueryRoot {
    /// The signed-in user, or null when the request carries no valid session.
    async fn me(&self, _ctx: &Context<'_>) -> Result<Option<User>, AppError> {
        // Sessions arrive with the login capability; until then no request is signed in.
        Ok(None)
    }

    /// What this server is and how it runs.
    async fn server_info(&self, ctx: &Context<'_>) -> ServerInfo {
        let deps = ctx.data_unchecked::<SchemaDeps>();
        ServerInfo {
            version: env!("CARGO_PKG_VERSION"),
            environment: deps.app_env.as_str(),
        }
    }
}
