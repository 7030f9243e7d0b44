//! Which subscriptions may be executed once for many sockets (decision 0020).
//!
//! Two subscribers of the same document with the same variables and the same viewer receive the
//! same responses for the same events, as long as the subscription starts "now": then every
//! response depends only on the event, the arguments and what the viewer may see. A subscription
//! resumed `after` a cursor starts from the subscriber's own position, so it always runs alone.

use async_graphql::Request;
use async_graphql::parser::parse_query;
use async_graphql::parser::types::{DocumentOperations, OperationType, Selection};

/// What a subscriber joining an execution that is already running must receive first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// The latest response: the subscription starts with the current state
    /// (`paymentUpdated` sends the payment's latest event first).
    Latest,
    /// Nothing: the subscription only reports changes from now on (`myPaymentEvents`).
    Nothing,
}

/// Whether `request` is a subscription whose execution can be shared by every subscriber with
/// the same document, variables and viewer, and what a late joiner is owed. `None` for anything
/// else (queries, documents that do not parse, resumed subscriptions, persisted queries, fields
/// under directives), which then runs for its subscriber alone.
pub fn shared_subscription(request: &Request) -> Option<Replay> {
    if request.query.is_empty() || !request.extensions.is_empty() || !request.uploads.is_empty() {
        return None;
    }
    let document = parse_query(&request.query).ok()?;
    let operation = match (&document.operations, request.operation_name.as_deref()) {
        (DocumentOperations::Single(operation), _) => operation,
        (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name)?,
        (DocumentOperations::Multiple(_), None) => return None,
    };
    let operation = &operation.node;
    if operation.ty != OperationType::Subscription || !operation.directives.is_empty() {
        return None;
    }
    let [root] = operation.selection_set.node.items.as_slice() else {
        return None;
    };
    let Selection::Field(field) = &root.node else {
        return None;
    };
    let field = &field.node;
    let resumed = field.arguments.iter().any(|(name, _)| name.node == "after");
    if resumed || !field.directives.is_empty() {
        return None;
    }
    match field.name.node.as_str() {
        "paymentUpdated" => Some(Replay::Latest),
        "myPaymentEvents" => Some(Replay::Nothing),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(query: &str) -> Option<Replay> {
        shared_subscription(&Request::new(query))
    }

    #[test]
    fn live_subscriptions_are_shared_with_their_replay() {
        assert_eq!(
            decide("subscription($id: ID!) { paymentUpdated(paymentId: $id) { status } }"),
            Some(Replay::Latest)
        );
        assert_eq!(
            decide(
                "subscription { e: myPaymentEvents { cursor ...F } } fragment F on PaymentEvent { kind }"
            ),
            Some(Replay::Nothing)
        );
    }

    #[test]
    fn resumed_conditional_and_other_operations_run_alone() {
        for query in [
            "subscription { myPaymentEvents(after: \"x\") { cursor } }",
            "subscription($a: String) { myPaymentEvents(after: $a) { cursor } }",
            "subscription($s: Boolean!) { myPaymentEvents @skip(if: $s) { cursor } }",
            "subscription { myPaymentEvents { cursor } paymentUpdated(paymentId: \"1\") { cursor } }",
            "subscription { ... on Subscription { myPaymentEvents { cursor } } }",
            "query { me { id } }",
            "subscription {",
        ] {
            assert_eq!(decide(query), None, "{query}");
        }
        let mut persisted = Request::new("subscription { myPaymentEvents { cursor } }");
        persisted
            .extensions
            .insert("persistedQuery".into(), async_graphql::Value::Null);
        assert_eq!(shared_subscription(&persisted), None);
    }

    #[test]
    fn the_named_operation_decides() {
        let query = "subscription A { myPaymentEvents { cursor } } query B { me { id } }";
        let named = |name: &str| shared_subscription(&Request::new(query).operation_name(name));
        assert_eq!(named("A"), Some(Replay::Nothing));
        assert_eq!(named("B"), None);
        assert_eq!(decide(query), None);
    }
}
