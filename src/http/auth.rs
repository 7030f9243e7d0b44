//! Browser endpoints of the login flow: the provider callback (BFF pattern), the confirmation
//! of an account link, and the development login form.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use url::Url;

use super::AppState;
use crate::auth::{Credentials, IssuedSession, PendingLink, SessionCookies};
use crate::error::AppError;
use crate::providers::identity::DEV_PROVIDER;
use crate::providers::identity::is_valid_login;

/// What a provider redirects back with.
#[derive(Debug, Deserialize)]
pub struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /auth/callback/{provider}`: finishes a web login in the browser that started it, sets
/// the session cookies and redirects to the target the login started with. A link shows the
/// account found and waits for the user's confirmation.
pub async fn callback(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    Query(params): Query<CallbackParams>,
    headers: HeaderMap,
) -> Response {
    let Some(login_state) = params.state.as_deref() else {
        return refusal_page(AppError::bad_input(
            "state",
            "the provider sent no state; start the login again",
        ));
    };
    // An app finishes the login itself (proving it with its cookie or PKCE verifier): hand it
    // the code and state, using nothing up here.
    if let Ok(Some(attempt)) = state.auth.peek_attempt(login_state).await
        && attempt.client_completes
        && let Some(target) = attempt
            .redirect_to
            .as_deref()
            .and_then(|t| Url::parse(t).ok())
    {
        return forward_to_app(target, &params);
    }
    let credentials = Credentials::from_headers(&headers, state.auth.cookies());
    if let Some(duplicate) = credentials.duplicate {
        return refusal_page(duplicate.into_error());
    }
    let viewer = signed_in_user(&state, &credentials).await;
    let attempt = match state
        .auth
        .browser_attempt(
            &provider,
            login_state,
            credentials.login_cookie.as_deref(),
            viewer,
        )
        .await
    {
        Ok(attempt) => attempt,
        Err(err) => return refusal_page(err),
    };
    let target = landing(&state, attempt.redirect_to.as_deref());
    if let Some(error) = params.error {
        // The user declined or the provider failed before issuing a code.
        return redirect_with_error(target, &error);
    }
    let Some(code) = params.code else {
        return redirect_with_error(target, "missing_code");
    };
    let identity = match state.auth.identify(&attempt, &code, None).await {
        Ok(identity) => identity,
        Err(err) => return redirect_with_error(target, &error_code(&err)),
    };
    if let Some(user_id) = attempt.link_user_id {
        return match state.auth.pending_link(&attempt, user_id, identity) {
            Ok((pending, token)) => confirm_page(&state, &pending, &token),
            Err(err) => refusal_page(err),
        };
    }
    match state.auth.sign_in(&attempt.provider, identity, None).await {
        Ok(issued) => signed_in(target, &issued, state.auth.cookies()),
        Err(err) => redirect_with_error(target, &error_code(&err)),
    }
}

/// The confirmation form's fields.
#[derive(Debug, Deserialize)]
pub struct ConfirmLink {
    token: String,
    decision: String,
}

/// `POST /auth/link/confirm`: adds the account the confirmation page showed, when the user
/// chose to, in the browser and session that started the link.
pub async fn confirm_link(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<ConfirmLink>,
) -> Response {
    let credentials = Credentials::from_headers(&headers, state.auth.cookies());
    if let Some(duplicate) = credentials.duplicate {
        return refusal_page(duplicate.into_error());
    }
    let viewer = signed_in_user(&state, &credentials).await;
    let pending =
        match state
            .auth
            .confirmed_link(&form.token, credentials.login_cookie.as_deref(), viewer)
        {
            Ok(pending) => pending,
            Err(err) => return refusal_page(err),
        };
    let mut target = landing(&state, pending.redirect_to.as_deref());
    if form.decision != "link" {
        return redirect_with_error(target, "link_cancelled");
    }
    let provider = pending.provider.clone();
    match state.auth.link_confirmed(pending).await {
        Ok(_) => {
            target.query_pairs_mut().append_pair("linked", &provider);
            Redirect::to(target.as_str()).into_response()
        }
        Err(err) => redirect_with_error(target, &error_code(&err)),
    }
}

/// The user the browser's session cookie signs in, if any.
async fn signed_in_user(state: &AppState, credentials: &Credentials) -> Option<uuid::Uuid> {
    let (token, source) = credentials.access.as_ref()?;
    let (viewer, _) = state.auth.session_of(token, *source).await.ok()?;
    Some(viewer.user_id)
}

fn landing(state: &AppState, redirect_to: Option<&str>) -> Url {
    redirect_to
        .and_then(|t| Url::parse(t).ok())
        .unwrap_or_else(|| state.auth.default_landing())
}

fn error_code(err: &AppError) -> String {
    err.code().as_str().to_ascii_lowercase()
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

fn signed_in(target: Url, issued: &IssuedSession, cookies: &SessionCookies) -> Response {
    let mut response = Redirect::to(target.as_str()).into_response();
    for cookie in cookies.for_session(issued) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

fn redirect_with_error(mut target: Url, code: &str) -> Response {
    target.query_pairs_mut().append_pair("error", code);
    Redirect::to(target.as_str()).into_response()
}

/// A refused callback or confirmation: a page a person can read, saying nothing happened.
fn refusal_page(err: AppError) -> Response {
    let code = err.code();
    let message = html_escape(&err.to_string());
    let body = format!(
        "<!doctype html><meta charset=utf-8><title>Sign-in refused</title>\
         <h1>Sign-in refused</h1><p>{message}</p><p><code>{}</code></p>",
        code.as_str()
    );
    page(code.http_status(), body)
}

/// The page that shows which account is about to be linked and asks to confirm.
fn confirm_page(state: &AppState, pending: &PendingLink, token: &str) -> Response {
    let provider = state
        .auth
        .providers()
        .find(|p| p.name() == pending.provider)
        .map_or(pending.provider.as_str(), |p| p.display_name());
    let body = format!(
        "<!doctype html><meta charset=utf-8><title>Link an account</title>\
         <h1>Link an account</h1>\
         <p>Add the {provider} account <strong>{account}</strong> to the account you are signed in with? \
         Anyone who can sign in to that {provider} account will then be able to sign in as you.</p>\
         <form method=post action=/auth/link/confirm>\
         <input type=hidden name=token value=\"{token}\">\
         <button name=decision value=link>Link {provider} account</button> \
         <button name=decision value=cancel>Cancel</button></form>",
        provider = html_escape(provider),
        account = html_escape(&pending.account_label()),
        token = html_escape(token),
    );
    page(StatusCode::OK, body)
}

/// An HTML page that is never cached nor framed (a framed confirmation could be clickjacked).
fn page(status: StatusCode, body: String) -> Response {
    let mut response = (status, Html(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("frame-ancestors 'none'; default-src 'none'; form-action 'self'"),
    );
    response
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
