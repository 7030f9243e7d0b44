//! Error reporting for every operation: stable codes on request errors, and internal causes logged
//! once with the request id but never shown to the client.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::extensions::ExtensionContext;
use async_graphql::{Response, ServerError};

use super::Caller;
use crate::error::ErrorCode;

/// `extensions.code` of a document that is not valid GraphQL syntax.
pub const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
/// `extensions.code` of a document that does not validate against the schema or the limits.
pub const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";

/// True when `response` failed before execution (parse or validation): the GraphQL-over-HTTP
/// spec calls this a request error, answered without `data` and, for
/// `application/graphql-response+json`, with status 400.
pub fn is_request_error(response: &Response) -> bool {
    !response.errors.is_empty()
        && response.data == async_graphql::Value::Null
        && response
            .errors
            .iter()
            .all(|e| matches!(code_of(e), Some(PARSE_FAILED | VALIDATION_FAILED)))
}

fn code_of(error: &ServerError) -> Option<&str> {
    match error.extensions.as_ref()?.get("code")? {
        async_graphql::Value::String(code) => Some(code.as_str()),
        _ => None,
    }
}

fn set_code_if_missing(error: &mut ServerError, code: &str) {
    if code_of(error).is_none() {
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", code);
    }
}

/// The per-operation error reporter's state (one of the parts of [`super::pipeline`]).
#[derive(Default)]
pub(super) struct ErrorReporter {
    /// Set once execution starts: errors before that are request errors.
    executing: AtomicBool,
    /// The request id, read when execution starts (the request hook's context predates the
    /// request's data).
    request_id: std::sync::OnceLock<Arc<str>>,
}

impl ErrorReporter {
    /// Codes the errors of a finished operation: request errors are validation failures
    /// unless they say otherwise; execution errors are reported (see
    /// [`report_execution_error`]).
    pub(super) fn finish(&self, ctx: &ExtensionContext<'_>, response: &mut Response) {
        if response.errors.is_empty() {
            return;
        }
        let request_id = self
            .request_id
            .get()
            .or_else(|| ctx.data_opt::<Caller>().map(|caller| &caller.request_id))
            .map(|id| &**id);
        let before_execution = !self.executing.load(Ordering::Acquire);
        for error in &mut response.errors {
            if before_execution {
                set_code_if_missing(error, VALIDATION_FAILED);
            } else {
                report_execution_error(error, request_id);
            }
        }
    }

    /// Marks the start of execution and keeps the request id for [`Self::finish`].
    pub(super) fn start_execution(&self, ctx: &ExtensionContext<'_>) {
        self.executing.store(true, Ordering::Release);
        if let Some(caller) = ctx.data_opt::<Caller>() {
            let _ = self.request_id.set(caller.request_id.clone());
        }
    }

    /// Codes an error raised while parsing and puts its message on one line.
    pub(super) fn parse_failed(mut error: ServerError) -> ServerError {
        set_code_if_missing(&mut error, PARSE_FAILED);
        error.message = one_line_syntax_error(&error);
        error
    }
}

/// The parser's message is a multi-line drawing of the document with a caret; clients show
/// `message` on one line, so keep its explanation and say where.
fn one_line_syntax_error(error: &ServerError) -> String {
    let lines = error.message.lines().map(str::trim);
    let explanation = lines
        .clone()
        .find_map(|line| line.strip_prefix("= "))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            lines
                .filter(|line| !line.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        });
    match error.locations.first() {
        Some(at) => format!(
            "Syntax error at line {}, column {}: {explanation}",
            at.line, at.column
        ),
        None => format!("Syntax error: {explanation}"),
    }
}

/// Finishes an error raised while resolving fields.
///
/// Errors from our resolvers always carry a code (see `AppError`); an error without one was
/// raised by the GraphQL engine while reading arguments, which is bad input.
fn report_execution_error(error: &mut ServerError, request_id: Option<&str>) {
    let Some(cause) = error.source::<anyhow::Error>() else {
        set_code_if_missing(error, ErrorCode::BadUserInput.as_str());
        return;
    };
    let request_id = request_id.unwrap_or("-");
    let path = serde_json::to_string(&error.path).unwrap_or_default();
    tracing::error!(
        request_id,
        path,
        error = format!("{cause:#}"),
        "internal error"
    );
    error.message = format!("Internal error; quote request id {request_id} when reporting it.");
    let extensions = error.extensions.get_or_insert_with(Default::default);
    extensions.set("code", ErrorCode::Internal.as_str());
    extensions.set("requestId", request_id);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_are_one_line() {
        let error = async_graphql::parser::parse_query("{ serverInfo {").unwrap_err();
        let error = ServerError::from(error);
        let message = one_line_syntax_error(&error);
        assert!(!message.contains('\n'), "{message}");
        assert!(
            message.starts_with("Syntax error at line 1, column "),
            "{message}"
        );
        assert!(message.contains("expected"), "{message}");
    }
}
