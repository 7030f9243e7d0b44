//! Which operations read only public data, the same for every viewer, so HTTP caches may keep
//! their answers.

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};

/// Root query fields whose answers do not depend on who asks. Their types hold no private
/// fields, so a document selecting only these is public as a whole.
const PUBLIC_ROOT_FIELDS: &[&str] = &[
    "serverInfo",
    "loginProviders",
    "catalog",
    "plans",
    "__typename",
    "__schema",
    "__type",
];

/// True when the operation `operation_name` selects of `document` is a query that reads
/// only public root fields.
pub fn reads_only_public_fields(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
) -> bool {
    let operation = match (&document.operations, operation_name) {
        (DocumentOperations::Single(op), _) => Some(op),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
        (DocumentOperations::Multiple(_), None) => None,
    };
    operation.is_some_and(|op| {
        op.node.ty == OperationType::Query
            && op.node.variable_definitions.is_empty()
            && public_selection(document, &op.node.selection_set.node, 0)
    })
}

/// Fragments nest at most this deep here; deeper documents are simply not cached.
const MAX_FRAGMENT_DEPTH: usize = 8;

fn public_selection(document: &ExecutableDocument, set: &SelectionSet, depth: usize) -> bool {
    if depth > MAX_FRAGMENT_DEPTH {
        return false;
    }
    set.items.iter().all(|item| match &item.node {
        Selection::Field(field) => PUBLIC_ROOT_FIELDS.contains(&field.node.name.node.as_str()),
        Selection::InlineFragment(fragment) => {
            public_selection(document, &fragment.node.selection_set.node, depth + 1)
        }
        Selection::FragmentSpread(spread) => document
            .fragments
            .get(&spread.node.fragment_name.node)
            .is_some_and(|fragment| {
                public_selection(document, &fragment.node.selection_set.node, depth + 1)
            }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(query: &str) -> bool {
        let document = async_graphql::parser::parse_query(query).unwrap();
        reads_only_public_fields(&document, None)
    }

    #[test]
    fn only_queries_of_public_root_fields_are_public() {
        assert!(public(
            "{ serverInfo { version } catalog { id } plans { id } }"
        ));
        assert!(public(
            "query { ...F } fragment F on Query { loginProviders { name } }"
        ));
        assert!(!public("{ serverInfo { version } me { id } }"));
        assert!(!public("query { ...F } fragment F on Query { me { id } }"));
        assert!(!public("mutation { logout }"));
        // Variables could change what a public field answers only through arguments; none of
        // the public fields takes any, but a document with variables is kept out to be safe.
        assert!(!public("query($a: Int) { serverInfo { version } }"));
    }
}
