//! The GraphQL surface: schema, root types, limits and error reporting.
//!
//! Transport (HTTP, WebSocket) lives in `crate::http`; this module only knows GraphQL.

mod errors;
mod loaders;
mod query;
mod types;

use async_graphql::dataloader::DataLoader;
use async_graphql::{EmptyMutation, EmptySubscription, Schema, SchemaBuilder};

use crate::config::{AppEnv, GraphqlLimits};
use crate::store::Store;

pub use errors::{ErrorReporting, RequestId, is_request_error};
pub use query::QueryRoot;

/// The complete schema type served at `/graphql`.
pub type AppSchema = Schema<QueryRoot, EmptyMutation, EmptySubscription>;

/// What resolvers need from the running server.
#[derive(Clone)]
pub struct SchemaDeps {
    /// The database.
    pub store: Store,
    /// Development or production.
    pub app_env: AppEnv,
}

/// A schema builder with the roots, limits and error reporting, but no runtime data.
fn builder(limits: &GraphqlLimits) -> SchemaBuilder<QueryRoot, EmptyMutation, EmptySubscription> {
    let builder = Schema::build(QueryRoot, EmptyMutation, EmptySubscription)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        // Fragment cycles and absurd nesting are refused before validation walks them.
        .limit_recursive_depth(64)
        .limit_directives(32)
        .extension(ErrorReporting);
    if limits.introspection {
        builder
    } else {
        builder.disable_introspection()
    }
}

/// Builds the schema the server executes.
pub fn build_schema(limits: &GraphqlLimits, deps: SchemaDeps) -> AppSchema {
    let identities = DataLoader::new(
        loaders::IdentitiesLoader::new(deps.store.clone()),
        tokio::spawn,
    );
    builder(limits).data(deps).data(identities).finish()
}

/// The schema in SDL, as committed in `schema.graphql` and printed by `switchboard schema`.
pub fn sdl() -> String {
    let limits = GraphqlLimits {
        max_depth: usize::MAX,
        max_complexity: usize::MAX,
        introspection: true,
        graphiql: false,
    };
    builder(&limits).finish().sdl()
}
