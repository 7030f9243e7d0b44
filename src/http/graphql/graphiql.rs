//! GraphiQL, served entirely by this server: the page, and the pinned, minified bundle in
//! `assets/graphiql` (built from npm by `tools/graphiql`, licences in `LICENSES.txt`).
//!
//! The page loads nothing from anywhere else, so it works air-gapped, and it is sent with a
//! Content-Security-Policy that allows only this origin. Its script reads the endpoints from
//! data attributes, so no inline script is needed.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::super::AppState;

mod bundle {
    use super::Asset;

    include!("../../../assets/graphiql/files.rs");
}

/// One bundled file.
struct Asset {
    /// Its name under [`ASSETS_PATH`] (content-hashed for the script and stylesheet).
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    /// The same bytes gzipped at bundle time, for the script and stylesheet.
    gzip: Option<&'static [u8]>,
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
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// `GET /graphql/assets/{name}`: one bundled file, while GraphiQL is enabled; gzipped when the
/// browser accepts it and a compressed copy was bundled.
pub async fn asset(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(asset) = bundle::FILES.iter().find(|asset| asset.name == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if state.graphiql_html.is_none() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let fixed = [
        (header::CONTENT_TYPE, asset.content_type),
        (header::CACHE_CONTROL, IMMUTABLE),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::VARY, "accept-encoding"),
    ];
    match asset.gzip {
        Some(gzip) if accepts_gzip(&headers) => {
            (fixed, [(header::CONTENT_ENCODING, "gzip")], gzip).into_response()
        }
        _ => (fixed, asset.bytes).into_response(),
    }
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or_default().trim();
            // `gzip;q=0` means "not gzip".
            let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            name.eq_ignore_ascii_case("gzip") && !refused
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_bundled_assets_that_exist() {
        let html = page();
        for name in [bundle::SCRIPT, bundle::STYLE] {
            assert!(html.contains(&format!("{ASSETS_PATH}/{name}")), "{name}");
            assert!(bundle::FILES.iter().any(|asset| asset.name == name));
        }
        assert!(!html.contains("http"), "no absolute URL in the page");
        assert!(!html.contains("<script>"), "no inline script");
    }

    #[test]
    fn the_stylesheet_refers_only_to_bundled_files() {
        let css = bundle::FILES
            .iter()
            .find(|asset| asset.name == bundle::STYLE)
            .unwrap();
        let css = std::str::from_utf8(css.bytes).unwrap();
        for reference in css.split("url(").skip(1) {
            let target = reference
                .split(')')
                .next()
                .unwrap()
                .trim_matches(['"', '\'']);
            assert!(
                bundle::FILES.iter().any(|asset| asset.name == target),
                "{target} is bundled"
            );
        }
    }

    #[test]
    fn gzip_is_chosen_only_when_accepted() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::ACCEPT_ENCODING,
                HeaderValue::from_str(value).unwrap(),
            );
            accepts_gzip(&headers)
        };
        assert!(with("gzip, deflate, br, zstd"));
        assert!(with("br;q=1.0, GZIP;q=0.5"));
        assert!(!with("br, gzip;q=0"));
        assert!(!with("identity"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
