//! Resilient provider layer: the single policy stack every outbound call to
//! a third-party provider (Stripe, OIDC discovery/JWKS/token/userinfo,
//! GitHub) goes through.
//!
//! Each provider gets a [`ResilientProvider`] that applies, outermost first:
//!
//! 1. an overall **deadline** for the call, retries included;
//! 2. **retry** with exponential backoff and full jitter, honouring
//!    `Retry-After` and `Stripe-Should-Retry`, limited by a retry budget;
//! 3. a **circuit breaker** on the failure rate of recent calls;
//! 4. a **bulkhead** capping calls in flight;
//! 5. an outbound **rate limit** (token bucket);
//! 6. a **timeout** per attempt.
//!
//! Provider adapters classify each failure once into a [`ProviderError`]
//! ([`http::classify_response`], [`http::classify_transport_error`]); the
//! policies act on that class only.
//!
//! ```no_run
//! use switchboard::providers::resilience::{
//!     Operation, PolicyConfig, ProviderError, ProviderRegistry, ResilientProvider,
//! };
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let stripe = ResilientProvider::new("stripe", PolicyConfig::default())?;
//! let registry: ProviderRegistry = [stripe.clone()].into_iter().collect();
//!
//! let idempotency_key = "order-42-refund";
//! let refund_id = stripe
//!     .call(Operation::idempotent_write("refunds.create"), |attempt| async move {
//!         // Send the same `idempotency_key` on every attempt.
//!         let _ = (attempt.number(), idempotency_key);
//!         Ok::<_, ProviderError>("re_123".to_owned())
//!     })
//!     .await?;
//! # let _ = (refund_id, registry.health());
//! # Ok(())
//! # }
//! ```

mod breaker;
mod bulkhead;
mod config;
mod error;
mod health;
pub mod http;
pub mod metrics;
mod operation;
mod provider;
mod rate_limit;
mod registry;
mod retry;
mod trace;

#[cfg(test)]
mod tests;

pub use config::{ConfigError, ENV_FIELDS, EnvField, PolicyConfig, Unit, env_help, env_table};
pub use error::ProviderError;
pub use health::{BreakerState, ProviderHealth};
pub use operation::{Attempt, Operation, Safety};
pub use provider::ResilientProvider;
pub use registry::ProviderRegistry;
pub use retry::{Backoff, Jitter, parse_retry_after};
