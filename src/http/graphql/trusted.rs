//! Trusted documents: the manifest of operations a client build may send
//! (`TRUSTED_DOCUMENTS=FILE`), and the policy that, with `TRUSTED_DOCUMENTS_ONLY=true`, runs
//! nothing else.
//!
//! The manifest is the JSON object graphql-codegen's client preset writes with
//! `persistedDocuments: true`: SHA-256 (lower-case hex) of each document → the document. A
//! client may send the hash alone (`extensions.persistedQuery.sha256Hash`, as with automatic
//! persisted queries) or the document itself; in trusted-only mode either must be in the
//! manifest, and automatic persisted queries can no longer register new documents.
//! GraphiQL's own requests (marked `x-graphiql: 1`) are exempt while GraphiQL is enabled, so
//! production should keep GraphiQL off (docs/security.md).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use super::persisted::{PersistedError, PersistedQuery, sha256_hex};
use crate::graphql::DocumentCache;

/// `extensions.code` for a document this server will not run in trusted-only mode.
pub const NOT_TRUSTED: &str = "DOCUMENT_NOT_TRUSTED";

/// The header (HTTP) and `connection_init` field (WebSocket) that GraphiQL's page sends.
pub const GRAPHIQL_MARK: &str = "x-graphiql";
/// [`GRAPHIQL_MARK`] as a header name, so looking for it on every request parses nothing.
pub static GRAPHIQL_HEADER: axum::http::HeaderName =
    axum::http::HeaderName::from_static(GRAPHIQL_MARK);

/// A hash as manifests and clients write it: lower-case hex, or with graphql-codegen's
/// `sha256:` prefix.
pub fn normalise_hash(hash: &str) -> String {
    hash.strip_prefix("sha256:")
        .unwrap_or(hash)
        .to_ascii_lowercase()
}

/// The documents of a manifest, by hash.
#[derive(Debug, Default)]
pub struct TrustedDocuments {
    by_hash: HashMap<String, Arc<str>>,
}

impl TrustedDocuments {
    /// Reads and checks a manifest file; the error says what is wrong and where.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses a manifest: a JSON object of SHA-256 hex (optionally `sha256:`-prefixed) →
    /// document, each hash checked.
    pub fn parse(text: &str) -> Result<Self, String> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| format!("not JSON ({e}); expected {{\"<sha256>\": \"<document>\"}}"))?;
        let Value::Object(entries) = value else {
            return Err("expected a JSON object of SHA-256 hash → document".into());
        };
        let mut by_hash = HashMap::with_capacity(entries.len());
        for (hash, document) in entries {
            let Value::String(document) = document else {
                return Err(format!("the entry {hash:?} is not a document string"));
            };
            let hash = normalise_hash(&hash);
            if sha256_hex(&document) != hash {
                return Err(format!(
                    "{hash:?} is not the SHA-256 of its document; generate the manifest with \
                     hashAlgorithm sha256"
                ));
            }
            by_hash.insert(hash, Arc::from(document));
        }
        Ok(Self { by_hash })
    }

    /// How many documents the manifest holds.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// True when the manifest holds no document.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    fn get(&self, hash: &str) -> Option<&Arc<str>> {
        self.by_hash.get(hash)
    }

    fn contains_text(&self, query: &str) -> bool {
        self.get(&sha256_hex(query))
            .is_some_and(|doc| doc.as_ref() == query)
    }
}

/// Which documents run: the manifest's documents are always known by hash; with `only`,
/// nothing else runs except GraphiQL's requests while GraphiQL is enabled.
#[derive(Debug, Default)]
pub struct DocumentPolicy {
    manifest: TrustedDocuments,
    only: bool,
    graphiql_enabled: bool,
}

/// Who sent a request, as far as the document policy cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// GraphiQL's page (it marks its requests).
    Graphiql,
    /// Any other client.
    Client,
}

impl DocumentPolicy {
    /// A policy over `manifest`; `only` refuses every other document.
    pub fn new(manifest: TrustedDocuments, only: bool, graphiql_enabled: bool) -> Self {
        Self {
            manifest,
            only,
            graphiql_enabled,
        }
    }

    /// The document to run, from the text sent and `extensions.persistedQuery`: the manifest
    /// answers hashes first, then automatic persisted queries do (unless trusted-only).
    pub fn resolve(
        &self,
        query: &str,
        persisted: Option<&PersistedQuery>,
        documents: &DocumentCache,
        sender: Sender,
    ) -> Result<String, PersistedError> {
        let restricted = self.only && !(sender == Sender::Graphiql && self.graphiql_enabled);
        if let Some(persisted) = persisted
            && query.is_empty()
            && let Some(document) = persisted.hash().and_then(|hash| self.manifest.get(hash))
        {
            return Ok(document.to_string());
        }
        if !restricted {
            return match persisted {
                Some(persisted) => persisted.resolve(query, documents),
                None => Ok(query.to_owned()),
            };
        }
        if query.is_empty() || !self.manifest.contains_text(query) {
            return Err(PersistedError::NotTrusted);
        }
        match persisted {
            // The text is trusted; a hash sent with it must still be its own.
            Some(persisted) => persisted.resolve(query, documents),
            None => Ok(query.to_owned()),
        }
    }
}

/// The sender a socket's `connection_init` payload names: GraphiQL marks its own.
pub fn sender_of_init(payload: &serde_json::Value) -> Sender {
    if payload.get(GRAPHIQL_MARK).is_some() {
        Sender::Graphiql
    } else {
        Sender::Client
    }
}

/// The policy `config` asks for, its manifest read and checked; the error names the variable.
pub fn policy(config: &crate::config::Config) -> anyhow::Result<DocumentPolicy> {
    let manifest = match &config.web.trusted_documents {
        Some(path) => {
            let manifest = TrustedDocuments::load(path)
                .map_err(|err| anyhow::anyhow!("TRUSTED_DOCUMENTS: {err}"))?;
            tracing::info!(
                documents = manifest.len(),
                only = config.web.trusted_documents_only,
                path = %path.display(),
                "trusted documents loaded"
            );
            manifest
        }
        None => TrustedDocuments::default(),
    };
    Ok(DocumentPolicy::new(
        manifest,
        config.web.trusted_documents_only,
        config.graphql.graphiql,
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const QUERY: &str = "query Version { serverInfo { version } }";

    fn manifest() -> TrustedDocuments {
        TrustedDocuments::parse(&json!({ sha256_hex(QUERY): QUERY }).to_string()).unwrap()
    }

    fn hash_of(query: &str) -> PersistedQuery {
        let extensions =
            json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256_hex(query) } });
        PersistedQuery::from_extensions(extensions.as_object().unwrap())
            .unwrap()
            .unwrap()
    }

    #[test]
    fn a_manifest_with_a_wrong_hash_or_shape_is_refused_with_the_reason() {
        let prefixed = json!({ format!("sha256:{}", sha256_hex(QUERY)): QUERY }).to_string();
        assert_eq!(TrustedDocuments::parse(&prefixed).unwrap().len(), 1);
        let wrong = json!({ sha256_hex("{ me { id } }"): QUERY }).to_string();
        assert!(
            TrustedDocuments::parse(&wrong)
                .unwrap_err()
                .contains("SHA-256")
        );
        assert!(
            TrustedDocuments::parse("[]")
                .unwrap_err()
                .contains("object")
        );
        assert!(
            TrustedDocuments::parse("{\"ab\": 1}")
                .unwrap_err()
                .contains("\"ab\"")
        );
        assert_eq!(manifest().len(), 1);
    }

    #[test]
    fn trusted_only_runs_manifest_documents_by_hash_or_text_and_nothing_else() {
        let policy = DocumentPolicy::new(manifest(), true, false);
        let cache = DocumentCache::new(4);
        let by_hash = policy.resolve("", Some(&hash_of(QUERY)), &cache, Sender::Client);
        assert_eq!(by_hash.unwrap(), QUERY);
        let by_text = policy.resolve(QUERY, None, &cache, Sender::Client);
        assert_eq!(by_text.unwrap(), QUERY);
        let other = "{ serverInfo { version } }";
        for (query, persisted) in [
            (other, None),
            ("", Some(hash_of(other))),
            (other, Some(hash_of(other))),
        ] {
            assert_eq!(
                policy.resolve(query, persisted.as_ref(), &cache, Sender::Client),
                Err(PersistedError::NotTrusted),
                "{query:?}"
            );
        }
        // Nothing was registered on the way: the hash is still unknown.
        assert!(cache.persisted(&sha256_hex(other)).is_none());
        // GraphiQL's mark counts only while GraphiQL is enabled.
        assert_eq!(
            policy.resolve(other, None, &cache, Sender::Graphiql),
            Err(PersistedError::NotTrusted)
        );
        let with_graphiql = DocumentPolicy::new(manifest(), true, true);
        assert_eq!(
            with_graphiql.resolve(other, None, &cache, Sender::Graphiql),
            Ok(other.to_owned())
        );
    }

    #[test]
    fn without_trusted_only_the_manifest_answers_hashes_and_apq_still_registers() {
        let policy = DocumentPolicy::new(manifest(), false, false);
        let cache = DocumentCache::new(4);
        let other = "{ serverInfo { version } }";
        assert_eq!(
            policy.resolve("", Some(&hash_of(QUERY)), &cache, Sender::Client),
            Ok(QUERY.to_owned())
        );
        assert_eq!(
            policy.resolve("", Some(&hash_of(other)), &cache, Sender::Client),
            Err(PersistedError::NotFound)
        );
        assert_eq!(
            policy.resolve(other, Some(&hash_of(other)), &cache, Sender::Client),
            Ok(other.to_owned())
        );
        assert_eq!(
            policy.resolve("", Some(&hash_of(other)), &cache, Sender::Client),
            Ok(other.to_owned())
        );
    }
}
