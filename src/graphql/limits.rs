//! Per-operation abuse limits, for HTTP and WebSocket alike: the inbound rate limits (per
//! user, per client address, and tighter for logins and payments), and caps on aliases and
//! root fields that the complexity limit does not see (a hundred aliases of a cheap field are
//! a hundred resolver calls).

use std::collections::HashSet;
use std::sync::Mutex;

use async_graphql::extensions::ExtensionContext;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};
use async_graphql::{Pos, Positioned, Request, ServerError, ServerResult};

use super::SchemaDeps;
use super::errors::VALIDATION_FAILED;
use crate::auth::ViewerState;
use crate::error::AppError;
use crate::limits::Costly;
use crate::sync::lock;

/// Root mutations that start, finish or refresh a login.
const LOGIN_MUTATIONS: [&str; 4] = [
    "startLogin",
    "completeLogin",
    "refreshSession",
    "linkIdentity",
];
/// Root mutations that call the payment provider.
const PAYMENT_MUTATIONS: [&str; 3] = [
    "createPaymentIntent",
    "createCheckoutSession",
    "refundPayment",
];

/// The per-operation limits (settings).
#[derive(Debug, Clone)]
pub struct OperationLimits {
    /// Most aliases one document may use.
    pub max_aliases: usize,
    /// Most fields an operation may select at its root.
    pub max_root_fields: usize,
}

impl OperationLimits {
    /// The state of one operation (a part of [`super::pipeline`]).
    pub(super) fn start(&self) -> PerOperation {
        PerOperation {
            max_aliases: self.max_aliases,
            max_root_fields: self.max_root_fields,
            operation_name: Mutex::default(),
            shape: Mutex::default(),
        }
    }
}

pub(super) struct PerOperation {
    max_aliases: usize,
    max_root_fields: usize,
    operation_name: Mutex<Option<String>>,
    shape: Mutex<Option<Shape>>,
}

/// What the limits need to know about a parsed operation.
#[derive(Debug, Default, Clone)]
struct Shape {
    aliases: usize,
    root_fields: Vec<String>,
    mutation: bool,
}

impl Shape {
    fn of(document: &ExecutableDocument, operation_name: Option<&str>) -> Shape {
        let mut aliases = 0;
        for (_, operation) in document.operations.iter() {
            aliases += count_aliases(&operation.node.selection_set.node);
        }
        for fragment in document.fragments.values() {
            aliases += count_aliases(&fragment.node.selection_set.node);
        }
        let operation = match (&document.operations, operation_name) {
            (DocumentOperations::Single(operation), _) => Some(operation),
            (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name),
            (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
                operations.values().next()
            }
            _ => None,
        };
        let mut root_fields = Vec::new();
        if let Some(operation) = operation {
            let mut seen = HashSet::new();
            root_field_names(
                document,
                &operation.node.selection_set,
                &mut seen,
                &mut root_fields,
            );
        }
        Shape {
            aliases,
            root_fields,
            mutation: operation.is_some_and(|o| o.node.ty == OperationType::Mutation),
        }
    }

    /// How many root fields of `kind` the operation runs.
    fn costly(&self, kind: Costly) -> u32 {
        if !self.mutation {
            return 0;
        }
        let names: &[&str] = match kind {
            Costly::Login => &LOGIN_MUTATIONS,
            Costly::Payment => &PAYMENT_MUTATIONS,
        };
        let count = self
            .root_fields
            .iter()
            .filter(|f| names.contains(&f.as_str()))
            .count();
        u32::try_from(count).unwrap_or(u32::MAX)
    }
}

fn count_aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some())
                    + count_aliases(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => count_aliases(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

/// The root fields an operation runs, fragments spread in (each fragment once).
fn root_field_names(
    document: &ExecutableDocument,
    set: &Positioned<SelectionSet>,
    seen: &mut HashSet<String>,
    out: &mut Vec<String>,
) {
    for item in &set.node.items {
        match &item.node {
            Selection::Field(field) => out.push(field.node.name.node.to_string()),
            Selection::InlineFragment(fragment) => {
                root_field_names(document, &fragment.node.selection_set, seen, out)
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.to_string();
                if let Some(fragment) = document.fragments.get(&spread.node.fragment_name.node)
                    && seen.insert(name)
                {
                    root_field_names(document, &fragment.node.selection_set, seen, out);
                }
            }
        }
    }
}

fn refused(message: String) -> ServerError {
    let mut error = ServerError::new(message, Some(Pos::default()));
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", VALIDATION_FAILED);
    error
}

/// Who is asking: the signed-in user, and the client address.
fn caller(ctx: &ExtensionContext<'_>) -> (Option<uuid::Uuid>, Option<std::net::IpAddr>) {
    let Some(caller) = ctx.data_opt::<super::Caller>() else {
        return (None, None);
    };
    let user = match &caller.viewer {
        ViewerState::SignedIn(viewer) => Some(viewer.user_id),
        _ => None,
    };
    (user, Some(caller.client.0))
}

/// Counts any operation, even one that will not parse, against the caller's general quota.
fn count_operation(ctx: &ExtensionContext<'_>) -> Result<(), AppError> {
    let Some(deps) = ctx.data_opt::<SchemaDeps>() else {
        return Ok(());
    };
    match caller(ctx) {
        (Some(user), _) => deps.limits.user(user),
        (None, Some(client)) => deps.limits.anonymous(client),
        (None, None) => Ok(()),
    }
}

/// Counts login and payment mutations against their tighter quotas.
fn count_costly(ctx: &ExtensionContext<'_>, shape: &Shape) -> Result<(), AppError> {
    let Some(deps) = ctx.data_opt::<SchemaDeps>() else {
        return Ok(());
    };
    let (user, client) = caller(ctx);
    let logins = shape.costly(Costly::Login);
    if logins > 0
        && let Some(client) = client
    {
        deps.limits.login(client, logins)?;
    }
    let payments = shape.costly(Costly::Payment);
    if payments > 0
        && let Some(user) = user
    {
        deps.limits.payments(user, payments)?;
    }
    Ok(())
}

fn rate_limited(err: AppError) -> ServerError {
    async_graphql::Error::from(err).into_server_error(Pos::default())
}

impl PerOperation {
    /// Keeps the operation name the request asks for.
    pub(super) fn prepare(&self, request: &Request) {
        (*lock(&self.operation_name)).clone_from(&request.operation_name);
    }

    /// Counts any operation, even one that will not parse, so a flood of any documents stays
    /// cheap.
    pub(super) fn before_parse(ctx: &ExtensionContext<'_>) -> ServerResult<()> {
        count_operation(ctx).map_err(rate_limited)
    }

    /// Reads what the limits need from the parsed document.
    pub(super) fn parsed(&self, document: &ExecutableDocument) {
        let shape = {
            let name = lock(&self.operation_name);
            Shape::of(document, name.as_deref())
        };
        *lock(&self.shape) = Some(shape);
    }

    /// Applies the costly-operation quotas and the alias and root-field caps.
    pub(super) fn check(&self, ctx: &ExtensionContext<'_>) -> Result<(), Vec<ServerError>> {
        let shape = lock(&self.shape).take().unwrap_or_default();
        count_costly(ctx, &shape).map_err(|err| vec![rate_limited(err)])?;
        if shape.aliases > self.max_aliases {
            return Err(vec![refused(format!(
                "The document uses {} aliases; at most {} are allowed.",
                shape.aliases, self.max_aliases
            ))]);
        }
        if shape.root_fields.len() > self.max_root_fields {
            return Err(vec![refused(format!(
                "The operation selects {} root fields; at most {} are allowed.",
                shape.root_fields.len(),
                self.max_root_fields
            ))]);
        }
        Ok(())
    }
}
