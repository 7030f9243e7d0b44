//! Parsed and validated documents of repeated operations.
//!
//! Clients send the same few operations over and over; parsing and validating each one again is
//! most of the engine's work for a small query. The cache keeps the parsed document per query
//! text and the validation outcome per (query, operation, variables), both bounded by LRU.
//! Only successes are kept: a document that fails to parse or validate is checked again, so its
//! errors are always reported fresh.

use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Request, ServerError, ServerResult, ValidationResult, Variables};
use lru::LruCache;

use crate::sync::lock;

/// Documents kept by default; a client set rarely uses more than a few hundred operations.
pub const DEFAULT_CAPACITY: usize = 1024;

/// The shared cache: the schema's extension and the HTTP transport both read it.
pub struct DocumentCache {
    parsed: Mutex<LruCache<Arc<str>, Arc<ExecutableDocument>>>,
    validated: Mutex<LruCache<String, ValidationResult>>,
    /// Automatic persisted queries: query text by its SHA-256 (lower-case hex).
    persisted: Mutex<LruCache<String, Arc<str>>>,
}

impl DocumentCache {
    /// A cache holding up to `capacity` documents (and as many validation outcomes).
    pub fn new(capacity: usize) -> Arc<Self> {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Arc::new(Self {
            parsed: Mutex::new(LruCache::new(capacity)),
            validated: Mutex::new(LruCache::new(capacity)),
            persisted: Mutex::new(LruCache::new(capacity)),
        })
    }

    /// The query registered under `sha256` (lower-case hex), if this instance has it.
    pub fn persisted(&self, sha256: &str) -> Option<Arc<str>> {
        lock(&self.persisted).get(sha256).cloned()
    }

    /// Registers `query` under `sha256`, which the caller has checked is the query's hash.
    pub fn persist(&self, sha256: String, query: &str) {
        lock(&self.persisted).put(sha256, Arc::from(query));
    }

    /// The parsed document of `query`, parsing it on a miss; `None` if it does not parse.
    ///
    /// A miss is not remembered: only the engine, which also applies the recursion and
    /// directive limits while parsing, adds documents.
    pub fn parse(&self, query: &str) -> Option<Arc<ExecutableDocument>> {
        self.cached(query)
            .or_else(|| async_graphql::parser::parse_query(query).ok().map(Arc::new))
    }

    fn cached(&self, query: &str) -> Option<Arc<ExecutableDocument>> {
        lock(&self.parsed).get(query).cloned()
    }

    fn remember(&self, query: &str, document: Arc<ExecutableDocument>) {
        lock(&self.parsed).put(Arc::from(query), document);
    }
}

/// The per-request part of the cache (a part of [`super::pipeline`]): answers parsing and
/// validation from the shared cache.
pub(super) struct PerRequest {
    cache: Arc<DocumentCache>,
    /// Set in `prepare`, where the whole request is visible; read in `validation`.
    validation_key: Mutex<Option<String>>,
}

/// What validation depends on besides the schema: the chosen operation, the variables
/// (argument checks and complexity read them) and the text. The key is the exact text of all
/// three, not a hash of it, so no crafted document can collide with one that passed.
fn validation_key(request: &Request) -> Option<String> {
    let variables = variables_text(&request.variables)?;
    let operation = request.operation_name.as_deref().unwrap_or_default();
    Some(format!("{operation}\u{0}{variables}\u{0}{}", request.query))
}

fn variables_text(variables: &Variables) -> Option<String> {
    if variables.is_empty() {
        return Some(String::new());
    }
    serde_json::to_string(variables).ok()
}

impl PerRequest {
    /// The per-request view of `cache`.
    pub(super) fn new(cache: Arc<DocumentCache>) -> Self {
        Self {
            cache,
            validation_key: Mutex::new(None),
        }
    }

    /// Keys the request's validation outcome.
    pub(super) fn prepare(&self, request: &Request) {
        *lock(&self.validation_key) = validation_key(request);
    }

    /// The parsed document of `query`, from the cache or from `parse` (remembered on
    /// success: `parse` is the engine's, which also applies the recursion and directive limits,
    /// so only documents that passed them are kept).
    pub(super) async fn parse(
        &self,
        query: &str,
        parse: impl Future<Output = ServerResult<ExecutableDocument>>,
    ) -> ServerResult<ExecutableDocument> {
        if let Some(document) = self.cache.cached(query) {
            return Ok(ExecutableDocument::clone(&document));
        }
        let document = parse.await?;
        self.cache.remember(query, Arc::new(document.clone()));
        Ok(document)
    }

    /// The validation outcome of this request's key, from the cache or from `validate`
    /// (remembered on success).
    pub(super) async fn validate(
        &self,
        validate: impl Future<Output = Result<ValidationResult, Vec<ServerError>>>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let key = lock(&self.validation_key).take();
        if let Some(key) = &key
            && let Some(result) = lock(&self.cache.validated).get(key).copied()
        {
            return Ok(result);
        }
        let result = validate.await?;
        if let Some(key) = key {
            lock(&self.cache.validated).put(key, result);
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};

    use super::*;

    struct Query;

    #[Object]
    impl Query {
        /// `n` items; each costs one unit of complexity.
        #[graphql(complexity = "n.max(0) as usize")]
        async fn items(&self, n: i32) -> Vec<i32> {
            (0..n).collect()
        }
    }

    fn schema(cache: &Arc<DocumentCache>) -> Schema<Query, EmptyMutation, EmptySubscription> {
        Schema::build(Query, EmptyMutation, EmptySubscription)
            .limit_complexity(10)
            .limit_recursive_depth(8)
            .extension(crate::graphql::pipeline::Pipeline::for_tests(cache.clone()))
            .finish()
    }

    fn request(query: &str, n: i32) -> Request {
        Request::new(query).variables(Variables::from_json(serde_json::json!({ "n": n })))
    }

    #[tokio::test]
    async fn a_cached_validation_never_answers_for_other_variables() {
        let cache = DocumentCache::new(8);
        let schema = schema(&cache);
        let query = "query($n: Int!) { items(n: $n) }";
        for _ in 0..2 {
            let small = schema.execute(request(query, 3)).await;
            assert!(small.errors.is_empty(), "{:?}", small.errors);
        }
        assert!(cache.cached(query).is_some());
        // Same text, variables that break the complexity limit: validated afresh and refused.
        let large = schema.execute(request(query, 100)).await;
        assert_eq!(large.errors.len(), 1, "{:?}", large.errors);
        assert!(large.errors[0].message.contains("too complex"));
        assert_eq!(lock(&cache.validated).len(), 1);
    }

    #[tokio::test]
    async fn failures_are_reported_every_time_and_never_cached() {
        let cache = DocumentCache::new(8);
        let schema = schema(&cache);
        let deep = format!("{{ {}items(n: 1){} }}", "a { ".repeat(20), " }".repeat(20));
        for query in ["{ items(n: ", "{ nope }", "{ items(n: 50) }", deep.as_str()] {
            for _ in 0..2 {
                let response = schema.execute(Request::new(query)).await;
                assert_eq!(response.errors.len(), 1, "{query}: {:?}", response.errors);
            }
        }
        // Only a document that parsed within the limits is kept; none was valid.
        assert!(cache.cached("{ items(n: ").is_none());
        assert!(cache.cached(&deep).is_none());
        assert_eq!(lock(&cache.validated).len(), 0);
        // The transport's own parse does not fill the cache either.
        assert!(cache.parse(&deep).is_some());
        assert!(cache.cached(&deep).is_none());
    }
}
