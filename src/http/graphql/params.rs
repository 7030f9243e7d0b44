//! Reading a GraphQL request from a GET query string or a POST JSON body.

use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{Request, Variables};

use super::persisted::{PersistedError, PersistedQuery};
use super::trusted::{DocumentPolicy, Sender};
use crate::graphql::DocumentCache;
use axum::http::{HeaderMap, header};
use serde_json::{Map, Value};

/// Why a request could not be read; the message tells the client what to send instead.
#[derive(Debug, PartialEq, Eq)]
pub enum ParamsError {
    /// The body or parameters are malformed (400).
    Malformed(String),
    /// POST without `Content-Type: application/json` (415).
    UnsupportedMediaType,
    /// A multipart request: file uploads are not supported (415).
    Multipart,
    /// A JSON array of this many operations: batching is not supported.
    Batch(usize),
    /// An automatic persisted query could not be used.
    Persisted(PersistedError),
}

/// The four request parameters, before they become an engine request.
#[derive(Debug, Default)]
pub struct Params {
    query: String,
    operation_name: Option<String>,
    variables: Option<Map<String, Value>>,
    extensions: Option<Map<String, Value>>,
}

impl Params {
    /// Reads the parameters of a GET request from its raw query string.
    pub fn from_query_string(raw: &str) -> Result<Params, ParamsError> {
        let mut params = Params::default();
        let mut query = None;
        for (key, value) in url::form_urlencoded::parse(raw.as_bytes()) {
            match key.as_ref() {
                "query" => query = Some(value.into_owned()),
                "operationName" => params.operation_name = Some(value.into_owned()),
                "variables" => params.variables = json_map("variables", &value)?,
                "extensions" => params.extensions = json_map("extensions", &value)?,
                _ => {}
            }
        }
        params.query = params.query_or_persisted(query)?;
        Ok(params)
    }

    /// Reads the parameters of a POST request from its headers and JSON body.
    pub fn from_json_body(headers: &HeaderMap, body: &[u8]) -> Result<Params, ParamsError> {
        if is_multipart(headers) {
            return Err(ParamsError::Multipart);
        }
        if !is_json_utf8(headers) {
            return Err(ParamsError::UnsupportedMediaType);
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| ParamsError::Malformed(format!("The body is not valid JSON: {e}.")))?;
        let mut body = match value {
            Value::Object(body) => body,
            Value::Array(batch) if !batch.is_empty() => {
                return Err(ParamsError::Batch(batch.len()));
            }
            _ => {
                return Err(malformed(
                    "The body must be a JSON object with a \"query\" string.",
                ));
            }
        };
        let query = match body.remove("query") {
            None | Some(Value::Null) => None,
            Some(Value::String(query)) => Some(query),
            Some(_) => return Err(malformed("\"query\" must be a string.")),
        };
        let mut params = Params {
            query: String::new(),
            operation_name: match body.remove("operationName") {
                None | Some(Value::Null) => None,
                Some(Value::String(name)) => Some(name),
                Some(_) => return Err(malformed("\"operationName\" must be a string or null.")),
            },
            variables: object_or_null("variables", body.remove("variables"))?,
            extensions: object_or_null("extensions", body.remove("extensions"))?,
        };
        params.query = params.query_or_persisted(query)?;
        Ok(params)
    }

    /// The query text; without one, a persisted query's hash stands in for it (an empty text
    /// that [`Params::resolve_persisted`] fills in).
    fn query_or_persisted(&self, query: Option<String>) -> Result<String, ParamsError> {
        match query {
            Some(query) => Ok(query),
            None if self.persisted()?.is_some() => Ok(String::new()),
            None => Err(missing_query()),
        }
    }

    fn persisted(&self) -> Result<Option<PersistedQuery>, ParamsError> {
        match &self.extensions {
            Some(extensions) => {
                PersistedQuery::from_extensions(extensions).map_err(ParamsError::Malformed)
            }
            None => Ok(None),
        }
    }

    /// Applies `extensions.persistedQuery` and the trusted-documents policy: runs the
    /// manifest's or the registered query for a hash sent alone, checks and registers a query
    /// sent beside its hash, and in trusted-only mode refuses any other document.
    pub fn resolve_persisted(
        &mut self,
        documents: &DocumentCache,
        policy: &DocumentPolicy,
        sender: Sender,
    ) -> Result<(), ParamsError> {
        let persisted = self.persisted()?;
        self.query = policy
            .resolve(&self.query, persisted.as_ref(), documents, sender)
            .map_err(ParamsError::Persisted)?;
        Ok(())
    }

    /// True when the operation this request selects is a mutation, which GET must not run.
    ///
    /// A document that does not parse or names no known operation is left to the engine, which
    /// reports it properly.
    pub fn selects_mutation(&self, documents: &DocumentCache) -> bool {
        let Some(document) = documents.parse(&self.query) else {
            return false;
        };
        let operation = match (&document.operations, &self.operation_name) {
            (DocumentOperations::Single(op), _) => Some(op),
            (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name.as_str()),
            (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
            (DocumentOperations::Multiple(_), None) => None,
        };
        operation.is_some_and(|op| op.node.ty == OperationType::Mutation)
    }

    /// True when the request is a query of public fields only (see
    /// [`crate::graphql::reads_only_public_fields`]).
    pub fn reads_only_public_fields(&self, documents: &DocumentCache) -> bool {
        documents.parse(&self.query).is_some_and(|document| {
            crate::graphql::reads_only_public_fields(&document, self.operation_name.as_deref())
        })
    }

    /// The `operationName` the client sent, if any.
    pub fn operation_name(&self) -> Option<&str> {
        self.operation_name.as_deref()
    }

    /// The engine request.
    pub fn into_request(self) -> Request {
        let mut request = Request::new(self.query);
        if let Some(name) = self.operation_name {
            request = request.operation_name(name);
        }
        if let Some(variables) = self.variables {
            request = request.variables(Variables::from_json(Value::Object(variables)));
        }
        if let Some(extensions) = self.extensions {
            request.extensions = async_graphql::Extensions(
                extensions
                    .into_iter()
                    .filter_map(|(k, v)| async_graphql::Value::from_json(v).ok().map(|v| (k, v)))
                    .collect(),
            );
        }
        request
    }
}

fn malformed(message: &str) -> ParamsError {
    ParamsError::Malformed(message.to_owned())
}

fn missing_query() -> ParamsError {
    malformed("The request has no \"query\"; send the GraphQL document in it.")
}

fn json_map(name: &str, raw: &str) -> Result<Option<Map<String, Value>>, ParamsError> {
    let value = serde_json::from_str(raw)
        .map_err(|_| ParamsError::Malformed(format!("\"{name}\" must be a JSON object.")))?;
    object_or_null(name, Some(value))
}

fn object_or_null(
    name: &str,
    value: Option<Value>,
) -> Result<Option<Map<String, Value>>, ParamsError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(_) => Err(ParamsError::Malformed(format!(
            "\"{name}\" must be an object or null."
        ))),
    }
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/")
        })
}

/// `application/json`, with no charset or with UTF-8.
fn is_json_utf8(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut parts = content_type
        .split(';')
        .map(|p| p.trim().to_ascii_lowercase());
    if parts.next().as_deref() != Some("application/json") {
        return false;
    }
    parts.all(|param| match param.split_once('=') {
        Some(("charset", charset)) => matches!(charset.trim_matches('"'), "utf-8" | "utf8"),
        _ => true,
    })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn json_headers(content_type: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).unwrap(),
        );
        headers
    }

    #[test]
    fn post_bodies_are_checked_field_by_field() {
        let headers = json_headers("application/json; charset=utf-8");
        assert!(Params::from_json_body(&headers, br#"{"query":"{ a }","variables":null}"#).is_ok());
        assert_eq!(
            Params::from_json_body(&headers, br#"[{"query":"{a}"},{"query":"{b}"}]"#).unwrap_err(),
            ParamsError::Batch(2)
        );
        assert_eq!(
            Params::from_json_body(&json_headers("multipart/form-data; boundary=x"), b"")
                .unwrap_err(),
            ParamsError::Multipart
        );
        for body in [
            &br#"[]"#[..],
            br#"{"query":1}"#,
            br#"{}"#,
            br#"{"query":"{a}","variables":[]}"#,
            b"{",
        ] {
            assert!(matches!(
                Params::from_json_body(&headers, body),
                Err(ParamsError::Malformed(_))
            ));
        }
        assert_eq!(
            Params::from_json_body(&json_headers("text/plain"), b"{}").unwrap_err(),
            ParamsError::UnsupportedMediaType
        );
        assert_eq!(
            Params::from_json_body(&json_headers("application/json; charset=latin1"), b"{}")
                .unwrap_err(),
            ParamsError::UnsupportedMediaType
        );
    }

    #[test]
    fn mutations_are_recognised_by_selected_operation() {
        let params = |query: &str, name: Option<&str>| Params {
            query: query.into(),
            operation_name: name.map(Into::into),
            ..Default::default()
        };
        let documents = DocumentCache::new(4);
        assert!(params("mutation { a }", None).selects_mutation(&documents));
        assert!(!params("{ a }", None).selects_mutation(&documents));
        assert!(params("query A { a } mutation B { b }", Some("B")).selects_mutation(&documents));
        assert!(!params("query A { a } mutation B { b }", Some("A")).selects_mutation(&documents));
    }
}
