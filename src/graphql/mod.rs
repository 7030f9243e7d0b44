//! The GraphQL surface: schema, root types, limits and error reporting.
//!
//! Transport (HTTP, WebSocket) lives in `crate::http`; this module only knows GraphQL.

mod admin;
mod auth;
mod billing;
mod billing_portal;
mod caller;
mod cards;
mod catalog;
mod cookies;
mod cursor;
mod documents;
mod errors;
mod events;
mod kinds;
mod limits;
mod loaders;
mod nulls;
mod payments;
mod pipeline;
mod public;
mod query;
mod query_root;
mod relay;
mod sharing;
mod types;

use async_graphql::dataloader::DataLoader;
use std::sync::Arc;

use async_graphql::{Context, Schema, SchemaBuilder};

use crate::auth::{AuthService, ViewerState};
use crate::providers::resilience::ProviderRegistry;

pub use caller::Caller;
pub use cookies::CookieChanges;
pub use documents::{DEFAULT_CAPACITY as DOCUMENT_CACHE_CAPACITY, DocumentCache};
pub use errors::is_request_error;
pub use events::SubscriptionRoot;
pub use public::reads_only_public_fields;
pub use sharing::{Replay, shared_subscription};

/// The root of every mutation.
#[derive(async_graphql::MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    auth::AuthMutation,
    payments::PaymentsMutation,
    billing_portal::BillingPortalMutation,
    admin::AdminMutation,
    billing::BillingMutation,
    cards::CardsMutation,
);

// The parts of the query root, registered as one type; the doc comment below is the type's
// description in the schema.
/// The root of every query: the parts of the API merged into one type.
#[derive(async_graphql::MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryParts(
    query::CoreQuery,
    payments::PaymentsQuery,
    catalog::CatalogQuery,
    events::EventsQuery,
    relay::NodeQuery,
    billing::BillingQuery,
    admin::AdminQuery,
    cards::CardsQuery,
);

/// The root of every query: [`QueryParts`] as the schema shows them, resolved by asking the
/// parts in turn (`query_root.rs`).
#[derive(Default)]
pub struct QueryRoot(QueryParts);

/// The complete schema type served at `/graphql`.
pub type AppSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Limits applied to every GraphQL request.
#[derive(Debug, Clone)]
pub struct GraphqlLimits {
    /// Deepest selection nesting allowed.
    pub max_depth: usize,
    /// Highest operation complexity allowed.
    pub max_complexity: usize,
    /// Whether introspection queries are answered.
    pub introspection: bool,
    /// Whether GraphiQL is served at `GET /graphql`.
    pub graphiql: bool,
    /// Most aliases one document may use.
    pub max_aliases: usize,
    /// Most fields an operation may select at its root.
    pub max_root_fields: usize,
}

/// What resolvers need from the running server.
#[derive(Clone)]
pub struct SchemaDeps {
    /// Whether this is a production deployment (development-only tools are refused).
    pub production: bool,
    /// Login and sessions.
    pub auth: Arc<AuthService>,
    /// Payments.
    pub payments: Arc<crate::payments::PaymentService>,
    /// Resilience state of every provider.
    pub providers: Arc<ProviderRegistry>,
    /// What viewers may read of payments and their events.
    pub reads: Arc<crate::payments::PaymentReads>,
    /// Incoming provider webhooks.
    pub webhooks: Arc<crate::webhooks::WebhookService>,
    /// Fetches provider events that were never delivered.
    pub reconciler: Arc<crate::webhooks::Reconciler>,
    /// Inbound rate limits, applied to every operation.
    pub limits: Arc<crate::limits::InboundLimits>,
}

/// The viewer of the current operation (anonymous when the transport set none).
pub fn viewer_state<'a>(ctx: &Context<'a>) -> &'a ViewerState {
    static ANONYMOUS: ViewerState = ViewerState::Anonymous;
    ctx.data_opt::<Caller>()
        .map_or(&ANONYMOUS, |caller| &caller.viewer)
}

/// A schema builder with the roots and limits, but no runtime data nor the server's
/// extensions.
fn builder(limits: &GraphqlLimits) -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    let builder = Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot,
    )
    .limit_depth(limits.max_depth)
    .limit_complexity(limits.max_complexity)
    // Fragment cycles and absurd nesting are refused before validation walks them.
    .limit_recursive_depth(64)
    .limit_directives(32);
    if limits.introspection {
        builder
    } else {
        // "Did you mean ...?" would reveal the schema that introspection hides.
        builder.disable_introspection().disable_suggestions()
    }
}

/// Builds the schema the server executes; it parses and validates repeated operations once,
/// through `documents`.
pub fn build_schema(
    limits: &GraphqlLimits,
    deps: SchemaDeps,
    documents: Arc<DocumentCache>,
) -> AppSchema {
    let identities = DataLoader::new(
        loaders::IdentitiesLoader::new(deps.auth.clone()),
        tokio::spawn,
    );
    let refunds = DataLoader::new(
        loaders::RefundsLoader::new(deps.reads.clone()),
        tokio::spawn,
    );
    let line_items = DataLoader::new(
        loaders::LineItemsLoader::new(deps.reads.clone()),
        tokio::spawn,
    );
    let users = DataLoader::new(loaders::UsersLoader::new(deps.auth.clone()), tokio::spawn);
    let payments = DataLoader::new(
        loaders::PaymentsLoader::new(deps.reads.clone()),
        tokio::spawn,
    );
    let operation_limits = limits::OperationLimits {
        max_aliases: limits.max_aliases,
        max_root_fields: limits.max_root_fields,
    };
    builder(limits)
        .extension(pipeline::Pipeline::new(operation_limits, documents))
        .data(deps)
        .data(identities)
        .data(refunds)
        .data(line_items)
        .data(payments)
        .data(users)
        .finish()
}

/// The schema in SDL, as committed in `schema.graphql` and printed by `switchboard schema`.
pub fn sdl() -> String {
    let limits = GraphqlLimits {
        max_depth: usize::MAX,
        max_complexity: usize::MAX,
        introspection: true,
        graphiql: false,
        max_aliases: usize::MAX,
        max_root_fields: usize::MAX,
    };
    builder(&limits)
        .finish()
        .sdl_with_options(async_graphql::SDLExportOptions::new().include_specified_by())
}
