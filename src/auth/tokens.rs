//! Session access tokens (HS256 JWTs with a key id, so keys rotate without signing anyone
//! out) and opaque refresh tokens (random, stored only as a hash).

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use lru::LruCache;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::sync::PerThread;

/// Audience of every access token this server issues.
const AUDIENCE: &str = "switchboard";
/// Clock skew tolerated when verifying.
const LEEWAY_SECONDS: u64 = 5;
/// Tokens whose signature was checked, remembered so a client's next request skips the check.
const VERIFIED_TOKENS: usize = 16_384;
/// Tokens each thread keeps its own copy of.
const VERIFIED_TOKENS_PER_THREAD: usize = 4_096;

/// What an access token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user id.
    pub sub: Uuid,
    /// The session id.
    pub sid: Uuid,
    /// Issuer: this server's public URL.
    pub iss: String,
    /// Audience: `switchboard`.
    pub aud: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
}

/// Why an access token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// It has expired; refresh the session.
    #[error("the access token has expired; refresh the session")]
    Expired,
    /// It is malformed, forged, or signed by a key we do not have.
    #[error("the access token is not valid")]
    Invalid,
}

/// Signs and verifies access tokens with a ring of HMAC keys.
pub struct TokenSigner {
    issuer: String,
    ttl: Duration,
    signing_kid: String,
    signing_key: EncodingKey,
    verifying: HashMap<String, DecodingKey>,
    validation: Validation,
    /// Every key's secret, the signing one first: they derive refresh token successors.
    derivation_keys: Vec<SecretString>,
    /// Recently verified tokens and their claims. A client sends the same token for minutes, and
    /// checking it (base64, JSON, HMAC) was the largest single cost of a small query. Keyed by
    /// the whole token, so only a byte-identical token hits; expiry is checked on every hit.
    verified: Mutex<LruCache<String, Arc<AccessClaims>>>,
    /// Each thread's own copy of the tokens it verified or found in `verified` (see
    /// [`crate::sync::PerThread`]).
    verified_here: PerThread<Box<str>, Arc<AccessClaims>>,
}

impl TokenSigner {
    /// A signer whose first key signs and whose every key verifies. With no keys, one random
    /// key is generated (development: sessions end when the process does).
    pub fn new(
        issuer: String,
        ttl: Duration,
        keys: &[(String, SecretString)],
    ) -> Result<Self, jsonwebtoken::errors::Error> {
        let keys = if keys.is_empty() {
            tracing::warn!("SESSION_SIGNING_KEYS is not set; sessions will not survive a restart");
            vec![("ephemeral".to_owned(), random_token().into())]
        } else {
            keys.to_vec()
        };
        let verifying = keys
            .iter()
            .map(|(kid, secret)| {
                Ok((
                    kid.clone(),
                    DecodingKey::from_secret(secret.expose_secret().as_bytes())?,
                ))
            })
            .collect::<Result<_, jsonwebtoken::errors::Error>>()?;
        let (signing_kid, secret) = &keys[0];
        let validation = validation(&issuer, AUDIENCE);
        let derivation_keys = keys.iter().map(|(_, secret)| secret.clone()).collect();
        Ok(Self {
            derivation_keys,
            issuer,
            ttl,
            signing_kid: signing_kid.clone(),
            signing_key: EncodingKey::from_secret(secret.expose_secret().as_bytes())?,
            verifying,
            validation,
            verified: Mutex::new(LruCache::new(
                NonZeroUsize::new(VERIFIED_TOKENS).expect("capacity is not zero"),
            )),
            verified_here: PerThread::new(VERIFIED_TOKENS_PER_THREAD),
        })
    }

    /// Issues an access token for a session; returns it with its expiry.
    pub fn issue(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        now: DateTime<Utc>,
    ) -> (String, DateTime<Utc>) {
        let expires_at = now + self.ttl;
        let claims = AccessClaims {
            sub: user_id,
            sid: session_id,
            iss: self.issuer.clone(),
            aud: AUDIENCE.to_owned(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
        };
        (self.sign(&claims), expires_at)
    }

    /// Signs any claims with the current key (access tokens, link confirmations).
    fn sign(&self, claims: &impl Serialize) -> String {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.signing_kid.clone());
        // Encoding our own claims with an HMAC key cannot fail.
        jsonwebtoken::encode(&header, claims, &self.signing_key).expect("HS256 signing never fails")
    }

    /// Signs a short-lived statement for `audience` (not an access token: its audience differs,
    /// so it can never be used as one).
    pub fn sign_statement<T: Serialize>(&self, audience: &str, claims: &T) -> String {
        #[derive(Serialize)]
        struct Envelope<'a, T> {
            iss: &'a str,
            aud: &'a str,
            #[serde(flatten)]
            claims: &'a T,
        }
        self.sign(&Envelope {
            iss: &self.issuer,
            aud: audience,
            claims,
        })
    }

    /// Verifies a statement signed by [`Self::sign_statement`] for `audience`, with its `exp`.
    pub fn verify_statement<T: DeserializeOwned>(
        &self,
        audience: &str,
        token: &str,
    ) -> Result<T, TokenError> {
        let key = self.key_of(token)?;
        let mut validation = validation(&self.issuer, audience);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<T>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }

    /// The refresh token that replaces `refresh_token`: HMAC-SHA256 under the signing key. Only
    /// the server can compute it, and it can compute it again, so a concurrent replay within
    /// the grace window receives the same successor without it ever being stored.
    pub fn successor(&self, refresh_token: &str) -> String {
        derive(&self.derivation_keys[0], refresh_token)
    }

    /// The successor of `refresh_token` under each key, the signing key first (a key may have
    /// been rotated between the first use and a replay).
    pub fn successor_candidates<'a>(
        &'a self,
        refresh_token: &'a str,
    ) -> impl Iterator<Item = String> + 'a {
        self.derivation_keys
            .iter()
            .map(move |key| derive(key, refresh_token))
    }

    /// Verifies signature, key id, issuer, audience and expiry.
    pub fn verify(&self, token: &str) -> Result<Arc<AccessClaims>, TokenError> {
        let claims = match self.verified_here.read(token, Arc::clone) {
            Some(claims) => claims,
            None => {
                let claims = self.verify_shared(token)?;
                // This thread's own copy, so its reference count is this thread's alone.
                let mine = Arc::new(AccessClaims::clone(&claims));
                self.verified_here.insert(token.into(), mine.clone());
                mine
            }
        };
        if claims.exp + (LEEWAY_SECONDS as i64) < Utc::now().timestamp() {
            self.verified_here.remove(token);
            self.verified_tokens().pop(token);
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// The claims of `token` from the shared cache, or checked now and remembered there.
    fn verify_shared(&self, token: &str) -> Result<Arc<AccessClaims>, TokenError> {
        if let Some(claims) = self.verified_tokens().get(token).cloned() {
            return Ok(claims);
        }
        let claims = Arc::new(self.verify_signed(token)?);
        self.verified_tokens().put(token.to_owned(), claims.clone());
        Ok(claims)
    }

    fn verified_tokens(&self) -> MutexGuard<'_, LruCache<String, Arc<AccessClaims>>> {
        crate::sync::lock(&self.verified)
    }

    /// The verifying key a token's header names; only HS256 is accepted.
    fn key_of(&self, token: &str) -> Result<&DecodingKey, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::Invalid);
        }
        header
            .kid
            .as_deref()
            .and_then(|kid| self.verifying.get(kid))
            .ok_or(TokenError::Invalid)
    }

    fn verify_signed(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let key = self.key_of(token)?;
        jsonwebtoken::decode::<AccessClaims>(token, key, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }
}

/// What every access token must satisfy besides its signature.
fn validation(issuer: &str, audience: &str) -> Validation {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = LEEWAY_SECONDS;
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    validation
}

/// HMAC-SHA256 of `token` under `key`, URL-safe base64 (the shape of [`random_token`]).
fn derive(key: &SecretString, token: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.expose_secret().as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(b"switchboard refresh successor\0");
    mac.update(token.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// 32 random bytes, URL-safe base64: refresh tokens, state, nonces, CSRF tokens.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a secret token: SHA-256, hex.
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kid: &str, fill: char) -> (String, SecretString) {
        (kid.to_owned(), fill.to_string().repeat(40).into())
    }

    fn signer(keys: &[(String, SecretString)]) -> TokenSigner {
        TokenSigner::new(
            "http://127.0.0.1:8000".into(),
            Duration::from_secs(60),
            keys,
        )
        .unwrap()
    }

    #[test]
    fn tokens_round_trip_and_expire() {
        let signer = signer(&[key("k1", 'a')]);
        let (user, session) = (Uuid::now_v7(), Uuid::now_v7());
        let (token, _) = signer.issue(user, session, Utc::now());
        let claims = signer.verify(&token).unwrap();
        assert_eq!((claims.sub, claims.sid), (user, session));
        let (old, _) = signer.issue(user, session, Utc::now() - chrono::Duration::seconds(120));
        assert_eq!(signer.verify(&old), Err(TokenError::Expired));
    }

    #[test]
    fn remembered_tokens_answer_alike_and_still_expire() {
        let signer = signer(&[key("k1", 'a')]);
        let (token, _) = signer.issue(Uuid::now_v7(), Uuid::now_v7(), Utc::now());
        let first = signer.verify(&token).unwrap();
        assert_eq!(signer.verified_tokens().len(), 1);
        assert_eq!(signer.verify(&token).unwrap(), first);
        // The remembered claims pass their expiry: the next use is refused and forgotten.
        let lapsed = Arc::new(AccessClaims {
            exp: Utc::now().timestamp() - LEEWAY_SECONDS as i64 - 1,
            ..AccessClaims::clone(&first)
        });
        signer.verified_tokens().put(token.clone(), lapsed.clone());
        signer.verified_here.insert(token.as_str().into(), lapsed);
        assert_eq!(signer.verify(&token), Err(TokenError::Expired));
        assert_eq!(signer.verified_tokens().len(), 0);
        assert_eq!(signer.verified_here.read(token.as_str(), |_| ()), None);
        // A token differing in one byte is checked afresh, not matched.
        let mut forged = token.clone();
        forged.pop();
        forged.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(signer.verify(&forged), Err(TokenError::Invalid));
    }

    #[test]
    fn rotation_keeps_old_tokens_valid_and_unknown_keys_fail() {
        let old = signer(&[key("k1", 'a')]);
        let (token, _) = old.issue(Uuid::now_v7(), Uuid::now_v7(), Utc::now());
        let rotated = signer(&[key("k2", 'b'), key("k1", 'a')]);
        assert!(rotated.verify(&token).is_ok(), "old key still verifies");
        let retired = signer(&[key("k2", 'b')]);
        assert_eq!(retired.verify(&token), Err(TokenError::Invalid));
        let forged = signer(&[key("k1", 'z')]);
        assert_eq!(forged.verify(&token), Err(TokenError::Invalid));
    }

    #[test]
    fn unsigned_tokens_are_refused() {
        let signer = signer(&[key("k1", 'a')]);
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"k1"}"#);
        let body = URL_SAFE_NO_PAD.encode(r#"{"sub":"x"}"#);
        assert_eq!(
            signer.verify(&format!("{header}.{body}.")),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn successors_are_stable_per_key_and_survive_rotation() {
        let old = signer(&[key("k1", 'a')]);
        let refresh = random_token();
        let next = old.successor(&refresh);
        assert_eq!(
            next,
            old.successor(&refresh),
            "a replay derives the same successor"
        );
        assert_ne!(next, old.successor(&random_token()));
        assert_eq!(next.len(), random_token().len());
        let rotated = signer(&[key("k2", 'b'), key("k1", 'a')]);
        assert_ne!(rotated.successor(&refresh), next);
        assert!(rotated.successor_candidates(&refresh).any(|c| c == next));
    }

    #[test]
    fn statements_do_not_pass_as_access_tokens() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Note {
            sub: String,
            exp: i64,
        }
        let signer = signer(&[key("k1", 'a')]);
        let note = Note {
            sub: "x".into(),
            exp: Utc::now().timestamp() + 60,
        };
        let token = signer.sign_statement("switchboard-link", &note);
        assert_eq!(
            signer.verify_statement::<Note>("switchboard-link", &token),
            Ok(note)
        );
        assert_eq!(signer.verify(&token), Err(TokenError::Invalid));
        assert_eq!(
            signer.verify_statement::<Note>("something-else", &token),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn hashes_are_stable_hex() {
        assert_eq!(token_hash("abc").len(), 64);
        assert_eq!(token_hash("abc"), token_hash("abc"));
        assert_ne!(random_token(), random_token());
    }
}
