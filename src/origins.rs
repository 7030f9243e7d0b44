//! Allowed origins: the one check that keeps redirects and return URLs on our own sites.

use url::Url;

/// `raw` as a URL if it is an absolute http(s) URL whose origin is in `allowed` (redirect
/// targets, Checkout return URLs): the one place open redirects are refused.
pub fn url_on_allowed_origin(allowed: &[String], raw: &str) -> Option<Url> {
    let url = Url::parse(raw).ok()?;
    let origin = url.origin().ascii_serialization();
    (matches!(url.scheme(), "http" | "https") && allowed.contains(&origin)).then_some(url)
}
