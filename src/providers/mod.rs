//! Third-party providers: identity (OIDC, GitHub, the dev login) and payments, and the
//! resilience layer every outbound call goes through.

pub mod cache;
pub mod identity;
pub mod payments;
pub mod resilience;

use std::time::Duration;

/// The HTTP client for provider calls: rustls, no redirects (OAuth endpoints must not bounce us
/// elsewhere), and a connect timeout; per-attempt timeouts come from the resilience layer.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
        .build()
        // Building only fails when the TLS backend cannot initialise, which is fatal at start.
        .expect("the HTTP client can be built")
}
