//! Parsed and validated documents of repeated operations.
//!
//! Clients send the same few operations over and over; parsing and validating each one again is
//! most of the engine's work for a small query. The cache keeps the parsed document per query
//! text and the validation outcome per (query, operation, variables), both bounded by LRU.
//! Only successes are kept: a document that fails to parse or validate is checked again, so its
//! errors are always reported fresh.

use std::cell::RefCell;
use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Request, ServerError, ServerResult, ValidationResult, Variables};
use lru::LruCache;

use crate::sync::{PerThread, lock};

/// Documents kept by default; a client set rarely uses more than a few hundred operations.
pub const DEFAULT_CAPACITY: usize = 1024;

/// The shared cache: the schema's extension and the HTTP transport both read it.
///
/// Each thread also keeps what it used in a map of its own ([`PerThread`]), so a repeated
/// operation touches no lock, no LRU order and no reference count that another thread writes.
pub struct DocumentCache {
    parsed: Mutex<LruCache<Arc<str>, Arc<ExecutableDocument>>>,
    validated: Mutex<LruCache<String, ValidationResult>>,
    /// Automatic persisted queries: query text by its SHA-256 (lower-case hex).
    persisted: Mutex<LruCache<String, Arc<str>>>,
    /// This thread's documents, by query text.
    here: PerThread<Box<str>, Known>,
}

/// What one thread knows about one query text.
struct Known {
    /// Parsed on this thread, so the names it shares with every execution are this thread's.
    document: Arc<ExecutableDocument>,
    /// Validation outcomes by [`Suffix`], most recent last.
    validated: RefCell<Vec<(Suffix, ValidationResult)>>,
}

/// Validation outcomes kept per document and thread: the variables of one operation rarely
/// take more shapes than this that validation can tell apart.
const VALIDATIONS_PER_DOCUMENT: usize = 16;

/// Documents kept per thread.
const DOCUMENTS_PER_THREAD: usize = 256;

impl DocumentCache {
    /// A cache holding up to `capacity` documents (and as many validation outcomes).
    pub fn new(capacity: usize) -> Arc<Self> {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Arc::new(Self {
            parsed: Mutex::new(LruCache::new(capacity)),
            validated: Mutex::new(LruCache::new(capacity)),
            persisted: Mutex::new(LruCache::new(capacity)),
            here: PerThread::new(DOCUMENTS_PER_THREAD.min(capacity.get())),
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

    /// The document of `query` if the engine parsed it within its limits before.
    fn cached(&self, query: &str) -> Option<Arc<ExecutableDocument>> {
        if let Some(document) = self.here.read(query, |known| known.document.clone()) {
            return Some(document);
        }
        lock(&self.parsed).get(query)?;
        // Parsed again on this thread for its own copy; it parsed within the limits before.
        let document = Arc::new(async_graphql::parser::parse_query(query).ok()?);
        self.know(query, document.clone());
        Some(document)
    }

    fn know(&self, query: &str, document: Arc<ExecutableDocument>) {
        let known = Known {
            document,
            validated: RefCell::default(),
        };
        self.here.insert(query.into(), known);
    }

    fn remember(&self, query: &str, document: Arc<ExecutableDocument>) {
        lock(&self.parsed).put(Arc::from(query), document.clone());
        self.know(query, document);
    }

    /// This thread's document of `query` and its validation outcome for `operation` and
    /// `variables` (as JSON).
    fn known_here(
        &self,
        query: &str,
        operation: Option<&str>,
        variables: &str,
    ) -> Option<(Arc<ExecutableDocument>, ValidationResult)> {
        self.here
            .read(query, |known| {
                let validated = known.validated.borrow();
                let (_, result) = validated
                    .iter()
                    .find(|(seen, _)| seen.is(operation, variables))?;
                Some((known.document.clone(), *result))
            })
            .flatten()
    }

    /// The outcome of validating `query` for `suffix`, from the shared cache.
    fn validated_shared(&self, query: &str, suffix: &Suffix) -> Option<ValidationResult> {
        lock(&self.validated).get(&suffix.key(query)).copied()
    }

    /// Keeps a validation outcome on this thread (when it knows the document).
    fn know_validation(&self, query: &str, suffix: Suffix, result: ValidationResult) {
        self.here.read(query, |known| {
            let mut validated = known.validated.borrow_mut();
            if validated.len() >= VALIDATIONS_PER_DOCUMENT {
                validated.remove(0);
            }
            validated.push((suffix, result));
        });
    }

    /// Keeps a fresh validation outcome in the shared cache and on this thread.
    fn remember_validation(&self, query: &str, suffix: Suffix, result: ValidationResult) {
        lock(&self.validated).put(suffix.key(query), result);
        self.know_validation(query, suffix, result);
    }
}

/// What validation depends on besides the schema and the query text: the chosen operation
/// and the variables (argument checks and complexity read them), as exact text, so no crafted
/// request can collide with one that passed.
#[derive(Clone)]
struct Suffix {
    operation: Option<String>,
    /// The variables as JSON; empty for none.
    variables: String,
}

impl Suffix {
    fn is(&self, operation: Option<&str>, variables: &str) -> bool {
        self.operation.as_deref() == operation && self.variables == variables
    }

    /// The shared cache's key: operation, variables and query, separated by NUL.
    fn key(&self, query: &str) -> String {
        let operation = self.operation.as_deref().unwrap_or_default();
        format!("{operation}\u{0}{}\u{0}{query}", self.variables)
    }
}

/// The variables as JSON, empty for none; `None` when they cannot be written (never cached).
fn variables_text(variables: &Variables) -> Option<String> {
    if variables.is_empty() {
        return Some(String::new());
    }
    serde_json::to_string(variables).ok()
}

/// The per-request part of the cache (a part of [`super::pipeline`]): answers parsing and
/// validation from this thread's cache or the shared one.
pub(super) struct PerRequest {
    cache: Arc<DocumentCache>,
    /// Set in `prepare`, where the whole request is visible; read in `parse` and `validation`.
    pending: Mutex<Option<Pending>>,
}

/// What `prepare` found, for `parse` and `validate`.
enum Pending {
    /// This thread has validated this very request before.
    Known {
        document: Arc<ExecutableDocument>,
        result: ValidationResult,
    },
    /// To be looked up in the shared cache, or validated.
    Unknown { query: Arc<str>, suffix: Suffix },
}

impl PerRequest {
    /// The per-request view of `cache`.
    pub(super) fn new(cache: Arc<DocumentCache>) -> Self {
        Self {
            cache,
            pending: Mutex::new(None),
        }
    }

    /// Looks the request up in this thread's cache, or keys its validation outcome.
    pub(super) fn prepare(&self, request: &Request) {
        let pending = variables_text(&request.variables).map(|variables| {
            let operation = request.operation_name.as_deref();
            match self.cache.known_here(&request.query, operation, &variables) {
                Some((document, result)) => Pending::Known { document, result },
                None => Pending::Unknown {
                    query: Arc::from(request.query.as_str()),
                    suffix: Suffix {
                        operation: operation.map(str::to_owned),
                        variables,
                    },
                },
            }
        });
        *lock(&self.pending) = pending;
    }

    /// The parsed document of `query`, from the cache or from `parse` (remembered on
    /// success: `parse` is the engine's, which also applies the recursion and directive limits,
    /// so only documents that passed them are kept).
    pub(super) async fn parse(
        &self,
        query: &str,
        parse: impl Future<Output = ServerResult<ExecutableDocument>>,
    ) -> ServerResult<ExecutableDocument> {
        let known = match &*lock(&self.pending) {
            Some(Pending::Known { document, .. }) => Some(document.clone()),
            _ => None,
        };
        if let Some(document) = known.or_else(|| self.cache.cached(query)) {
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
        let pending = lock(&self.pending).take();
        let unknown = match pending {
            Some(Pending::Known { result, .. }) => return Ok(result),
            Some(Pending::Unknown { query, suffix }) => {
                if let Some(result) = self.cache.validated_shared(&query, &suffix) {
                    // Already shared: only this thread learns it.
                    self.cache.know_validation(&query, suffix, result);
                    return Ok(result);
                }
                Some((query, suffix))
            }
            None => None,
        };
        let result = validate.await?;
        if let Some((query, suffix)) = unknown {
            self.cache.remember_validation(&query, suffix, result);
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
