//! Idempotency keys: one request per (user, operation, key), remembered with its response.

use std::future::Future;

use chrono::Utc;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::PaymentService;
use crate::error::AppError;
use crate::store::IdempotencyStart;

impl PaymentService {
    /// The protocol of every idempotent mutation. The key is taken with the request's
    /// `fingerprint` before anything else happens. A first request runs `fresh`, which answers
    /// with its result and what to remember of it; that is stored under the key, and on any
    /// failure the key is released so the client may retry (nothing was charged, or the
    /// provider dedupes by its own key). A retry with the same request gets `replay` of what was
    /// remembered; one with another request, or while the first still runs, is refused.
    pub(super) async fn idempotent<T, S, R>(
        &self,
        user: Uuid,
        operation: &str,
        key: &str,
        fingerprint: &str,
        fresh: impl Future<Output = Result<(T, S), AppError>>,
        replay: impl FnOnce(S) -> R,
    ) -> Result<T, AppError>
    where
        S: Serialize + DeserializeOwned,
        R: Future<Output = Result<T, AppError>>,
    {
        let start = self
            .store
            .begin_idempotent(user, operation, key, fingerprint, Utc::now())
            .await?;
        match start {
            IdempotencyStart::Fresh => {}
            IdempotencyStart::Replay(stored) => {
                let stored = serde_json::from_str(&stored).map_err(AppError::internal)?;
                return replay(stored).await;
            }
            IdempotencyStart::InFlight => return Err(in_flight()),
            IdempotencyStart::Mismatch => return Err(AppError::IdempotencyKeyReused),
        }
        let result = async {
            let (result, remembered) = fresh.await?;
            let remembered = serde_json::to_string(&remembered).map_err(AppError::internal)?;
            self.store
                .complete_idempotent(user, operation, key, &remembered, Utc::now())
                .await?;
            Ok(result)
        }
        .await;
        if result.is_err() {
            self.store.release_idempotent(user, operation, key).await?;
        }
        result
    }
}

fn in_flight() -> AppError {
    AppError::Conflict(
        "a request with this idempotency key is still being handled; retry in a moment".into(),
    )
}

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
