//! Proof that whoever finishes a login is whoever started it.
//!
//! A `state` alone proves nothing: whoever holds the callback URL holds it. So every login is
//! bound when it starts, either to the browser (a login cookie whose hash the attempt keeps)
//! or, for apps, to a PKCE verifier only the app knows (it sends the S256 challenge to
//! `startLogin` and the verifier to `completeLogin`). Finishing needs the matching proof.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::tokens::{random_token, token_hash};
use crate::error::AppError;
use crate::store::LoginAttempt;

/// What a client presents to finish a login.
#[derive(Clone, Default)]
pub struct LoginProof<'a> {
    /// The login cookie of the browser, if it sent one.
    pub login_cookie: Option<&'a str>,
    /// The PKCE verifier of an app that sent its own challenge.
    pub code_verifier: Option<&'a str>,
}

/// Says which proofs are present, never their values (both are secrets).
impl std::fmt::Debug for LoginProof<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |present: bool| if present { "[redacted]" } else { "none" };
        f.debug_struct("LoginProof")
            .field("login_cookie", &shown(self.login_cookie.is_some()))
            .field("code_verifier", &shown(self.code_verifier.is_some()))
            .finish()
    }
}

/// The login cookie value to bind a new login to: the browser's current one when it has a
/// well-formed one (so logins started in several tabs all stay valid), else a fresh one.
pub fn login_cookie_value(current: Option<&str>) -> String {
    match current {
        Some(value) if is_token_shaped(value) => value.to_owned(),
        _ => random_token(),
    }
}

/// Checks an app's PKCE challenge: S256 output, 43 base64url characters (RFC 7636).
pub fn check_code_challenge(challenge: &str) -> Result<(), AppError> {
    if is_token_shaped(challenge) {
        Ok(())
    } else {
        Err(AppError::bad_input(
            "codeChallenge",
            "codeChallenge must be BASE64URL(SHA-256(codeVerifier)) without padding: 43 characters (S256)",
        ))
    }
}

/// Whether `proof` shows that its holder started `attempt`.
pub fn check_proof(attempt: &LoginAttempt, proof: &LoginProof<'_>) -> Result<(), AppError> {
    if let Some(challenge) = &attempt.code_challenge {
        let verifier = proof.code_verifier.ok_or_else(|| {
            AppError::Forbidden(
                "this login was started with a codeChallenge; send its codeVerifier to finish it"
                    .into(),
            )
        })?;
        if !is_valid_verifier(verifier) || !same(&s256(verifier), challenge) {
            return Err(AppError::Forbidden(
                "the codeVerifier does not match the codeChallenge this login was started with"
                    .into(),
            ));
        }
        return Ok(());
    }
    if started_in_this_browser(attempt, proof.login_cookie) {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "this login was started in another browser or app; finish it where it started (send the login cookie set by startLogin, or start with a codeChallenge)".into(),
        ))
    }
}

/// Whether the browser's login cookie is the one the login was started with.
pub fn started_in_this_browser(attempt: &LoginAttempt, login_cookie: Option<&str>) -> bool {
    match (&attempt.browser_hash, login_cookie) {
        (Some(bound), Some(cookie)) => same(&token_hash(cookie), bound),
        _ => false,
    }
}

/// `BASE64URL(SHA-256(verifier))`, the S256 challenge of a verifier.
fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// RFC 7636: 43 to 128 characters of `[A-Za-z0-9-._~]`.
fn is_valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// 43 base64url characters: 32 random bytes, or a SHA-256.
fn is_token_shaped(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

fn same(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn attempt(code_challenge: Option<String>, browser: Option<&str>) -> LoginAttempt {
        LoginAttempt {
            state_hash: token_hash("state"),
            provider: "dev".into(),
            pkce_verifier: None,
            code_challenge,
            browser_hash: browser.map(token_hash),
            nonce: "n".into(),
            redirect_to: None,
            client_completes: true,
            link_user_id: None,
            created_at: Utc::now(),
            expires_at: Utc::now(),
            consumed_at: None,
        }
    }

    #[test]
    fn an_app_proves_its_login_with_the_verifier_only() {
        // RFC 7636, appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert_eq!(s256(verifier), challenge);
        check_code_challenge(challenge).unwrap();
        assert!(check_code_challenge("plain-verifier").is_err());
        let bound = attempt(Some(challenge.into()), Some(&random_token()));
        let with = |code_verifier| LoginProof {
            login_cookie: None,
            code_verifier,
        };
        assert!(check_proof(&bound, &with(Some(verifier))).is_ok());
        let wrong = random_token();
        assert!(check_proof(&bound, &with(None)).is_err());
        assert!(check_proof(&bound, &with(Some(&wrong))).is_err());
    }

    #[test]
    fn a_browser_proves_its_login_with_its_cookie() {
        let cookie = random_token();
        let bound = attempt(None, Some(&cookie));
        let with = |login_cookie| LoginProof {
            login_cookie,
            code_verifier: None,
        };
        let other = random_token();
        assert!(check_proof(&bound, &with(Some(&cookie))).is_ok());
        assert!(check_proof(&bound, &with(Some(&other))).is_err());
        assert!(check_proof(&bound, &with(None)).is_err());
        assert!(check_proof(&attempt(None, None), &with(Some(&cookie))).is_err());
        assert_eq!(login_cookie_value(Some(&cookie)), cookie);
        assert!(!format!("{:?}", with(Some(&cookie))).contains(&cookie));
        assert_ne!(login_cookie_value(Some("short")), "short");
    }
}
