//! Null propagation as the GraphQL specification defines it ("Handling Execution Errors").
//!
//! async-graphql 7 drops the key of a field whose resolver fails (`do_resolve_container` adds the
//! error and inserts nothing), so `{ a b }` with a failing `b` answers `{"a": 1}` instead of
//! `{"a": 1, "b": null}`, and a failing non-null field never nulls its parent. Clients that
//! normalise responses (Apollo's `errorPolicy: "all"`, urql's Graphcache, generated types) expect
//! every selected key to be present.
//!
//! This extension completes each field's result once, for every resolver: a failed field
//! answers `null` and its error is kept; when the failed field is non-null, its parent is marked
//! failed too, which repeats until a nullable field absorbs the failure or it reaches the root,
//! where `data` becomes `null`. A field only completes after all its children, so the mark is
//! always set before the parent looks for it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use async_graphql::extensions::{ExtensionContext, NextResolve, ResolveInfo};
use async_graphql::{QueryPathNode, QueryPathSegment, Response, ServerError, ServerResult, Value};

/// The failures of the operation being executed (one execution at a time: a query or mutation
/// runs once, and a subscription's events run one after another).
#[derive(Default)]
pub(super) struct Propagator {
    state: Mutex<Failures>,
    /// Fast path: most responses have no failed non-null field, so no field looks up its path.
    any_failed_parent: AtomicBool,
}

#[derive(Default)]
struct Failures {
    /// Errors of failed fields, in the order they failed.
    errors: Vec<ServerError>,
    /// Paths (as `a.0.b`) of fields that failed because a non-null child failed.
    failed_parents: HashSet<String>,
    /// A non-null root field failed: `data` is `null`.
    root_failed: bool,
}

impl Propagator {
    fn failures(&self) -> std::sync::MutexGuard<'_, Failures> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// True when a non-null child of the field at `path` has failed.
    fn child_failed(&self, path: &QueryPathNode<'_>) -> bool {
        self.any_failed_parent.load(Ordering::Acquire)
            && self.failures().failed_parents.contains(&path.to_string())
    }

    /// Records that the field at `path` failed; a non-null field passes the failure up.
    fn fail(&self, path: &QueryPathNode<'_>, nullable: bool, error: Option<ServerError>) {
        let mut failures = self.failures();
        failures.errors.extend(error);
        if nullable {
            return;
        }
        match path.parent {
            Some(parent) => {
                failures.failed_parents.insert(parent.to_string());
                self.any_failed_parent.store(true, Ordering::Release);
            }
            None => failures.root_failed = true,
        }
    }
}

impl Propagator {
    /// Applies the recorded failures to an executed operation's response.
    pub(super) fn finish(&self, mut response: Response) -> Response {
        let failures = std::mem::take(&mut *self.failures());
        self.any_failed_parent.store(false, Ordering::Release);
        if failures.root_failed {
            response.data = Value::Null;
        }
        // Field errors first, in the order fields failed; the engine's own errors follow.
        let engine_errors = std::mem::take(&mut response.errors);
        response.errors = failures.errors;
        response.errors.extend(engine_errors);
        response
    }

    /// Resolves one field and completes its result (see the module's documentation).
    pub(super) async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let path = info.path_node;
        // The engine reports list items' types wrongly when it lists by reference, so an item
        // always passes its failure to its list, which knows its declared item type.
        // Read before `info` moves on: (this field is nullable, its items are).
        let (nullable, nullable_items) = match path.segment {
            QueryPathSegment::Index(_) => (false, false),
            QueryPathSegment::Name(_) => (
                is_nullable(info.return_type),
                has_nullable_items(info.return_type),
            ),
        };
        let result = next.run(ctx, info).await;
        match result {
            Ok(value) if !self.child_failed(path) => Ok(value),
            // Failed items are already null; that is the answer when the items are nullable.
            Ok(value) if nullable_items => Ok(value),
            // A non-null child failed; its error is already recorded.
            Ok(_) => {
                self.fail(path, nullable, None);
                Ok(Some(Value::Null))
            }
            Err(error) => {
                self.fail(path, nullable, Some(error));
                Ok(Some(Value::Null))
            }
        }
    }
}

/// `User` is nullable, `User!` is not.
fn is_nullable(type_name: &str) -> bool {
    !type_name.ends_with('!')
}

/// True for a list type whose items may be null: `[User]`, `[User]!`.
///
/// For nested lists this asks about the outer items, so an inner list whose item failed
/// becomes null as a whole even when its own items are nullable (the schema has none).
fn has_nullable_items(type_name: &str) -> bool {
    type_name
        .trim_end_matches('!')
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .is_some_and(is_nullable)
}

#[cfg(test)]
mod tests {
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema, SimpleObject};
    use serde_json::json;

    use crate::graphql::DocumentCache;

    struct Query;

    #[derive(SimpleObject)]
    struct Item {
        ok: i32,
    }

    struct Inner;

    #[Object]
    impl Inner {
        async fn ok(&self) -> i32 {
            1
        }
        async fn nullable_fails(&self) -> async_graphql::Result<Option<i32>> {
            Err("nullable failed".into())
        }
        async fn required_fails(&self) -> async_graphql::Result<i32> {
            Err("required failed".into())
        }
    }

    #[Object]
    impl Query {
        async fn ok(&self) -> i32 {
            1
        }
        async fn nullable_fails(&self) -> async_graphql::Result<Option<i32>> {
            Err("nullable failed".into())
        }
        async fn required_fails(&self) -> async_graphql::Result<i32> {
            Err("required failed".into())
        }
        async fn inner(&self) -> Option<Inner> {
            Some(Inner)
        }
        async fn required_inner(&self) -> Inner {
            Inner
        }
        async fn items(&self) -> Vec<Option<Inner>> {
            vec![Some(Inner), Some(Inner)]
        }
        async fn required_items(&self) -> Option<Vec<Inner>> {
            Some(vec![Inner, Inner])
        }
        async fn plain(&self) -> Option<Item> {
            Some(Item { ok: 1 })
        }
    }

    async fn run(query: &str, propagate: bool) -> (serde_json::Value, Vec<String>) {
        let builder = Schema::build(Query, EmptyMutation, EmptySubscription);
        let schema = if propagate {
            builder
                .extension(crate::graphql::pipeline::Pipeline::for_tests(
                    DocumentCache::new(8),
                ))
                .finish()
        } else {
            builder.finish()
        };
        let response = schema.execute(query).await;
        let paths = response
            .errors
            .iter()
            .map(|e| serde_json::to_string(&e.path).unwrap())
            .collect();
        (response.data.into_json().unwrap(), paths)
    }

    /// Where the engine alone goes wrong: the failed key is missing, and a failed non-null
    /// field does not null its parent.
    #[tokio::test]
    async fn the_engine_alone_drops_failed_keys() {
        let (data, _) = run("{ ok nullableFails }", false).await;
        assert_eq!(data, json!({ "ok": 1 }));
        let (data, _) = run("{ ok inner { ok requiredFails } }", false).await;
        assert_eq!(data, json!({ "ok": 1, "inner": { "ok": 1 } }));
    }

    #[tokio::test]
    async fn a_failed_nullable_field_is_null() {
        let (data, paths) = run("{ ok nullableFails }", true).await;
        assert_eq!(data, json!({ "ok": 1, "nullableFails": null }));
        assert_eq!(paths, [r#"["nullableFails"]"#]);
    }

    #[tokio::test]
    async fn a_failed_non_null_field_nulls_its_nearest_nullable_parent() {
        let (data, paths) = run("{ ok inner { ok requiredFails } }", true).await;
        assert_eq!(data, json!({ "ok": 1, "inner": null }));
        assert_eq!(paths, [r#"["inner","requiredFails"]"#]);

        let (data, _) = run("{ ok inner { ok nullableFails } }", true).await;
        assert_eq!(
            data,
            json!({ "ok": 1, "inner": { "ok": 1, "nullableFails": null } })
        );
    }

    #[tokio::test]
    async fn failures_propagate_through_non_null_parents_up_to_data() {
        let (data, paths) = run("{ ok requiredFails }", true).await;
        assert_eq!(data, json!(null));
        assert_eq!(paths, [r#"["requiredFails"]"#]);
        let (data, _) = run("{ ok requiredInner { requiredFails } }", true).await;
        assert_eq!(data, json!(null));
    }

    #[tokio::test]
    async fn list_items_are_nulled_or_null_the_list() {
        let (data, paths) = run("{ items { ok requiredFails } }", true).await;
        assert_eq!(data, json!({ "items": [null, null] }));
        assert_eq!(paths.len(), 2);
        let (data, _) = run("{ requiredItems { ok requiredFails } }", true).await;
        assert_eq!(data, json!({ "requiredItems": null }));
        let (data, _) = run("{ plain { ok } inner { ok } }", true).await;
        assert_eq!(data, json!({ "plain": { "ok": 1 }, "inner": { "ok": 1 } }));
    }

    #[tokio::test]
    async fn aliases_are_completed_under_their_own_key() {
        let (data, _) = run("{ a: inner { x: requiredFails } b: inner { ok } }", true).await;
        assert_eq!(data, json!({ "a": null, "b": { "ok": 1 } }));
    }
}
