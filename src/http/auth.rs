//! Browser endpoints of the login flow: the provider callback (BFF pattern) and the
//! development login form.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use url::Url;

use super::AppState;
use crate::auth::{IssuedSession, cookies};
use crate::config::auth::DEV_PROVIDER;
use crate::error::AppError;
use crate::providers::identity::is_valid_login;

/// What a provider redirects back with.
#[derive(Debug, Deserialize)]
pub struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /auth/callback/{provider}`: finishes a web login, sets the session cookies and
/// redirects to the target the login started with.
pub async fn callback(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    Query(params): Query<CallbackParams>,
) -> Response {
    let Some(login_state) = params.state.as_deref() else {
        return error_page(AppError::bad_input(
            "state",
            "the provider sent no state; start the login again",
        ));
    };
    // An app finishes the login itself: hand it the code and state, using nothing up here.
    if let Ok(Some(attempt)) = state.auth.peek_attempt(login_state).await
        && attempt.client_completes
        && let Some(target) = attempt
            .redirect_to
            .as_deref()
            .and_then(|t| Url::parse(t).ok())
    {
        return forward_to_app(target, &params);
    }
    let attempt = match state.auth.consume_attempt(&provider, login_state).await {
        Ok(attempt) => attempt,
        Err(err) => return error_page(err),
    };
    let target = attempt
        .redirect_to
        .as_deref()
        .and_then(|t| Url::parse(t).ok())
        .unwrap_or_else(|| state.auth.default_landing());
    if let Some(error) = params.error {
        // The user declined or the provider failed before issuing a code.
        return redirect_with_error(target, &error);
    }
    let Some(code) = params.code else {
        return redirect_with_error(target, "missing_code");
    };
    match state.auth.finish_login(&attempt, &code).await {
        Ok(issued) => signed_in(target, &issued, state.auth.secure_cookies()),
        Err(err) => redirect_with_error(target, &err.code().as_str().to_ascii_lowercase()),
    }
}

fn forward_to_app(mut target: Url, params: &CallbackParams) -> Response {
    {
        let mut query = target.query_pairs_mut();
        for (name, value) in [
            ("code", &params.code),
            ("state", &params.state),
            ("error", &params.error),
        ] {
            if let Some(value) = value {
                query.append_pair(name, value);
            }
        }
    }
    Redirect::to(target.as_str()).into_response()
}

fn signed_in(target: Url, issued: &IssuedSession, secure: bool) -> Response {
    let mut response = Redirect::to(target.as_str()).into_response();
    for cookie in cookies::for_session(issued, secure) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

fn redirect_with_error(mut target: Url, code: &str) -> Response {
    target.query_pairs_mut().append_pair("error", code);
    Redirect::to(target.as_str()).into_response()
}

/// A refused callback whose target is unknown: a JSON error a person can read.
fn error_page(err: AppError) -> Response {
    let code = err.code();
    let body = json!({ "error": { "code": code.as_str(), "message": err.to_string() } });
    (code.http_status(), axum::Json(body)).into_response()
}

/// Query of the dev login form.
#[derive(Debug, Deserialize)]
pub struct DevLoginParams {
    state: String,
    login: Option<String>,
}

/// `GET /auth/dev`: a form asking for a login name (development only); submitting it
/// redirects to the callback with the name as the code.
pub async fn dev_login(
    State(state): State<AppState>,
    Query(params): Query<DevLoginParams>,
) -> Response {
    if !state.auth.providers().any(|p| p.name() == DEV_PROVIDER) {
        return StatusCode::NOT_FOUND.into_response();
    }
    match params.login {
        Some(login) if is_valid_login(&login) => {
            let mut callback = state.config.public_url.clone();
            callback.set_path(&format!("/auth/callback/{DEV_PROVIDER}"));
            callback
                .query_pairs_mut()
                .append_pair("code", &login)
                .append_pair("state", &params.state);
            Redirect::to(callback.as_str()).into_response()
        }
        login => {
            let hint = if login.is_some() {
                "<p>Use lower-case letters, digits, '.', '_' or '-'.</p>"
            } else {
                ""
            };
            let state_value = html_escape(&params.state);
            let mut response = Html(format!(
                "<!doctype html><title>switchboard development login</title>\
                 <h1>Development login</h1>{hint}\
                 <form method=get action=/auth/dev><input type=hidden name=state value=\"{state_value}\">\
                 <label>Login name <input name=login autofocus required pattern=\"[a-z0-9._-]{{1,64}}\"></label>\
                 <button>Sign in</button></form>"
            ))
            .into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
    }
}

fn html_escape(raw: &str) -> String {
    raw.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}
