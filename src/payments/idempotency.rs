//! Idempotency keys: one request per (user, operation, key), remembered with its response.

use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::AppError;

/// Checks a client's key: 1 to 255 visible ASCII characters.
pub fn check_key(key: &str) -> Result<(), AppError> {
    if (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(AppError::bad_input(
            "idempotencyKey",
            "use 1-255 visible ASCII characters, e.g. a UUID generated once per user action",
        ))
    }
}

/// A stable digest of the request, so a reused key with another request is caught.
pub fn fingerprint(request: &impl Serialize) -> String {
    let canonical = serde_json::to_vec(request).unwrap_or_default();
    hex(&Sha256::digest(&canonical))
}

/// The key sent to the provider: derived per user and operation, so two users' keys never
/// collide at the provider, and the same on every retry.
pub fn provider_key(user_id: Uuid, operation: &str, key: &str) -> String {
    hex(&Sha256::digest(
        format!("switchboard:{user_id}:{operation}:{key}").as_bytes(),
    ))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_fingerprints_and_provider_keys() {
        assert!(check_key("0b9e2c6e-2f5a-4c1e-9d7f-6a1b2c3d4e5f").is_ok());
        assert!(check_key("").is_err());
        assert!(check_key("has space").is_err());
        assert!(check_key(&"k".repeat(256)).is_err());
        assert_eq!(fingerprint(&("a", 1)), fingerprint(&("a", 1)));
        assert_ne!(fingerprint(&("a", 1)), fingerprint(&("a", 2)));
        let user = Uuid::now_v7();
        assert_eq!(provider_key(user, "op", "k"), provider_key(user, "op", "k"));
        assert_ne!(
            provider_key(user, "op", "k"),
            provider_key(Uuid::now_v7(), "op", "k")
        );
        assert_eq!(provider_key(user, "op", "k").len(), 64);
    }
}
