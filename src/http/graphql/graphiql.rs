//! GraphiQL, served entirely by this server: the page, and the pinned, minified bundle in
//! `assets/graphiql` (built from npm by `tools/graphiql`, licences in `LICENSES.txt`).
//!
//! The page loads nothing from anywhere else, so it works air-gapped, and it is sent with a
//! Content-Security-Policy that allows only this origin. Its script reads the endpoints from
//! data attributes, so no inline script is needed.

use axum::extract::{Path, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::super::AppState;

mod bundle {
    include!("../../../assets/graphiql/files.rs");
}

/// Where the assets are served; their names carry a content hash.
pub const ASSETS_PATH: &str = "/graphql/assets";

/// The page's policy: everything from this origin only (`'self'` covers `ws:`/`wss:` to this
/// host in CSP Level 3), no plugins, no framing, no `<base>` tricks.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; font-src 'self'; img-src 'self'; connect-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// An asset name never changes content, so browsers may keep it for a year.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The GraphiQL page. The subscription endpoint is a path: the script turns it into a
/// `ws:`/`wss:` URL on whatever host the browser reached, which also works behind proxies.
pub fn page() -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>switchboard · GraphiQL</title>
<link rel="stylesheet" href="{ASSETS_PATH}/{style}">
<script defer src="{ASSETS_PATH}/{script}"></script>
</head>
<body>
<div id="graphiql" data-endpoint="/graphql" data-subscription-endpoint="/graphql/ws">Loading GraphiQL…</div>
</body>
</html>
"#,
        style = bundle::STYLE,
        script = bundle::SCRIPT,
    )
}

/// The page as a response, with its Content-Security-Policy.
pub fn page_response(html: &str) -> Response {
    let mut response = Html(html.to_owned()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// `GET /graphql/assets/{name}`: one bundled file, while GraphiQL is enabled.
pub async fn asset(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let found = bundle::FILES.iter().find(|(file, _, _)| *file == name);
    match found {
        Some((_, content_type, bytes)) if state.graphiql_html.is_some() => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, IMMUTABLE),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            *bytes,
        )
            .into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_bundled_assets_that_exist() {
        let html = page();
        for name in [bundle::SCRIPT, bundle::STYLE] {
            assert!(html.contains(&format!("{ASSETS_PATH}/{name}")), "{name}");
            assert!(bundle::FILES.iter().any(|(file, _, _)| *file == name));
        }
        assert!(!html.contains("http"), "no absolute URL in the page");
        assert!(!html.contains("<script>"), "no inline script");
    }

    #[test]
    fn the_stylesheet_refers_only_to_bundled_files() {
        let (_, _, css) = bundle::FILES
            .iter()
            .find(|(file, _, _)| *file == bundle::STYLE)
            .unwrap();
        let css = std::str::from_utf8(css).unwrap();
        for reference in css.split("url(").skip(1) {
            let target = reference
                .split(')')
                .next()
                .unwrap()
                .trim_matches(['"', '\'']);
            assert!(
                bundle::FILES.iter().any(|(file, _, _)| *file == target),
                "{target} is bundled"
            );
        }
    }
}
