//! Automatic persisted queries (APQ), as Apollo's `PersistedQueryLink` speaks them.
//!
//! A client first sends only `extensions.persistedQuery.sha256Hash`. An instance that knows the
//! hash runs its query; one that does not answers `PERSISTED_QUERY_NOT_FOUND`, and the client
//! sends the query beside the hash once, which registers it. A hash that is not the SHA-256 of
//! the query sent with it is refused, so no client can plant a query under another's hash.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::graphql::DocumentCache;

/// `extensions.code` when the hash is unknown here: send the query with it.
pub const NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
/// `extensions.code` for a protocol version other than 1: stop sending hashes alone.
pub const NOT_SUPPORTED: &str = "PERSISTED_QUERY_NOT_SUPPORTED";
/// `extensions.code` when the hash is not the query's SHA-256.
pub const HASH_MISMATCH: &str = "PERSISTED_QUERY_HASH_MISMATCH";

/// `extensions.persistedQuery` of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistedQuery {
    version: i64,
    sha256: String,
}

/// Why a persisted query could not be used; each maps to one `extensions.code`.
#[derive(Debug, PartialEq, Eq)]
pub enum PersistedError {
    /// The hash is not known to this instance.
    NotFound,
    /// A protocol version this server does not speak.
    NotSupported,
    /// The hash does not match the query sent with it.
    HashMismatch,
    /// Trusted-documents-only mode, and the document is not in the manifest.
    NotTrusted,
}

impl PersistedError {
    /// The `extensions.code` and message clients see.
    pub fn code_and_message(&self) -> (&'static str, &'static str) {
        match self {
            // Apollo's link also matches this exact message.
            PersistedError::NotFound => (NOT_FOUND, "PersistedQueryNotFound"),
            PersistedError::NotSupported => (
                NOT_SUPPORTED,
                "Only version 1 of automatic persisted queries is supported.",
            ),
            PersistedError::HashMismatch => (
                HASH_MISMATCH,
                "extensions.persistedQuery.sha256Hash is not the SHA-256 of the query sent with it.",
            ),
            PersistedError::NotTrusted => (
                super::trusted::NOT_TRUSTED,
                "This server runs only the documents of its trusted-documents manifest; \
                 send one of them (by hash or text), or add this one to the manifest.",
            ),
        }
    }
}

impl PersistedQuery {
    /// Reads `persistedQuery` from a request's extensions; `Err` names what is malformed.
    pub fn from_extensions(extensions: &Map<String, Value>) -> Result<Option<Self>, String> {
        let Some(persisted) = extensions.get("persistedQuery") else {
            return Ok(None);
        };
        let malformed = || {
            "\"extensions.persistedQuery\" must be an object with \"version\" and \"sha256Hash\"."
                .to_owned()
        };
        let Value::Object(persisted) = persisted else {
            return Err(malformed());
        };
        let version = persisted
            .get("version")
            .and_then(Value::as_i64)
            .ok_or_else(malformed)?;
        let sha256 = persisted
            .get("sha256Hash")
            .and_then(Value::as_str)
            .map(super::trusted::normalise_hash)
            .ok_or_else(malformed)?;
        Ok(Some(Self { version, sha256 }))
    }

    /// The hash, when the version is one this server speaks.
    pub fn hash(&self) -> Option<&str> {
        (self.version == 1).then_some(self.sha256.as_str())
    }

    /// The query to run: the registered one when `query` is empty, else `query` itself once
    /// its hash is checked and it is registered.
    pub fn resolve(
        &self,
        query: &str,
        documents: &DocumentCache,
    ) -> Result<String, PersistedError> {
        if self.version != 1 {
            return Err(PersistedError::NotSupported);
        }
        if query.is_empty() {
            return documents
                .persisted(&self.sha256)
                .map(|q| q.to_string())
                .ok_or(PersistedError::NotFound);
        }
        if sha256_hex(query) != self.sha256 {
            return Err(PersistedError::HashMismatch);
        }
        documents.persist(self.sha256.clone(), query);
        Ok(query.to_owned())
    }
}

/// The SHA-256 of `text`, lower-case hex, as persisted queries and manifests name documents.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn persisted(hash: &str) -> PersistedQuery {
        let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
        PersistedQuery::from_extensions(extensions.as_object().unwrap())
            .unwrap()
            .unwrap()
    }

    #[test]
    fn a_query_is_registered_under_its_hash_and_found_by_it() {
        let documents = DocumentCache::new(4);
        let query = "{ serverInfo { version } }";
        let hash = sha256_hex(query);
        assert_eq!(
            persisted(&hash).resolve("", &documents),
            Err(PersistedError::NotFound)
        );
        assert_eq!(persisted(&hash).resolve(query, &documents).unwrap(), query);
        assert_eq!(
            persisted(&hash.to_ascii_uppercase())
                .resolve("", &documents)
                .unwrap(),
            query
        );
    }

    #[test]
    fn a_hash_that_is_not_the_query_s_is_refused_and_not_registered() {
        let documents = DocumentCache::new(4);
        let other = sha256_hex("{ me { id } }");
        assert_eq!(
            persisted(&other).resolve("{ serverInfo { version } }", &documents),
            Err(PersistedError::HashMismatch)
        );
        assert_eq!(
            persisted(&other).resolve("", &documents),
            Err(PersistedError::NotFound)
        );
    }

    #[test]
    fn malformed_and_unknown_versions_are_told_apart() {
        let bad = json!({ "persistedQuery": { "version": 1 } });
        assert!(PersistedQuery::from_extensions(bad.as_object().unwrap()).is_err());
        let v2 = json!({ "persistedQuery": { "version": 2, "sha256Hash": "ab" } });
        let v2 = PersistedQuery::from_extensions(v2.as_object().unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(
            v2.resolve("", &DocumentCache::new(1)),
            Err(PersistedError::NotSupported)
        );
    }
}
