//! `Stripe-Signature` verification: HMAC-SHA256 over `"{t}.{body}"`, checked in constant time
//! against every configured secret (so secrets rotate without dropping events), within a
//! tolerance of the signed timestamp.

use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// Why a signature was refused; the text is safe to return to the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `Stripe-Signature` header.
    #[error("missing Stripe-Signature header")]
    Missing,
    /// The header has no timestamp or no `v1` signature.
    #[error("malformed Stripe-Signature header")]
    Malformed,
    /// The timestamp is too far from now (a replay, or a badly wrong clock).
    #[error("timestamp outside the tolerance")]
    Stale,
    /// No configured secret produces any of the signatures.
    #[error("no signature matches")]
    Mismatch,
}

impl SignatureError {
    /// Label for the rejection metric.
    pub fn reason(self) -> &'static str {
        match self {
            SignatureError::Missing => "missing",
            SignatureError::Malformed => "malformed",
            SignatureError::Stale => "stale",
            SignatureError::Mismatch => "mismatch",
        }
    }
}

/// Checks `header` for `payload` at `now` (Unix seconds).
pub fn verify(
    header: Option<&str>,
    payload: &[u8],
    secrets: &[SecretString],
    tolerance_seconds: i64,
    now: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.extend(decode_hex(value)),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    // abs_diff cannot overflow, whatever timestamp the header claims.
    if now.abs_diff(timestamp) > tolerance_seconds.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let matches = secrets.iter().any(|secret| {
        signatures.iter().any(|signature| {
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
                .expect("HMAC takes keys of any length");
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(payload);
            // verify_slice compares in constant time.
            mac.verify_slice(signature).is_ok()
        })
    });
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Signs `payload` as Stripe does; used by the sandbox provider for its own events.
pub fn sign(payload: &[u8], secret: &SecretString, timestamp: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={timestamp},v1={hex}")
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        s.into()
    }

    #[test]
    fn extreme_timestamps_are_stale_not_an_overflow() {
        let body = br#"{"id":"evt_1"}"#;
        let now = 1_700_000_000;
        // `now - t` overflows for these; with wrapping arithmetic the first even came out
        // inside the tolerance.
        for t in [i64::MIN + now, i64::MIN, i64::MAX, -now] {
            let header = sign(body, &secret("whsec_a"), t);
            assert_eq!(
                verify(Some(&header), body, &[secret("whsec_a")], 300, now),
                Err(SignatureError::Stale),
                "t={t}"
            );
        }
    }

    #[test]
    fn own_signatures_verify_and_anything_else_does_not() {
        let body = br#"{"id":"evt_1"}"#;
        let header = sign(body, &secret("whsec_a"), 1_000);
        assert_eq!(
            verify(Some(&header), body, &[secret("whsec_a")], 300, 1_100),
            Ok(())
        );
        // Rotation: the old secret is still listed.
        assert_eq!(
            verify(
                Some(&header),
                body,
                &[secret("whsec_new"), secret("whsec_a")],
                300,
                1_100
            ),
            Ok(())
        );
        assert_eq!(
            verify(Some(&header), body, &[secret("whsec_b")], 300, 1_100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&header), b"{}", &[secret("whsec_a")], 300, 1_100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&header), body, &[secret("whsec_a")], 300, 1_301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(None, body, &[secret("whsec_a")], 300, 1_000),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(Some("t=1000"), body, &[secret("whsec_a")], 300, 1_000),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(Some("v1=00"), body, &[secret("whsec_a")], 300, 1_000),
            Err(SignatureError::Malformed)
        );
    }
}
