//! switchboard: a GraphQL backend-for-frontend that puts Stripe payments and OAuth/OpenID Connect
//! login behind one schema.
//!
//! Modules depend downwards only, in the layers of docs/decisions/0001-layout-and-errors.md
//! (top first), which `tests/layering.rs` checks on every `crate::` edge:
//!
//! - `app`, `doctor`: composition roots; `app` builds every provider and service from its own
//!   settings.
//! - `http`: the axum router and transport; writes the cookies resolvers ask for.
//! - `config`: reads the environment into each piece's settings type; nothing below uses it.
//! - `graphql`: schema and resolvers, which read and act only through services.
//! - `payments`, `auth`, `webhooks`: services (`payments` may use `auth` and `webhooks`).
//! - `limits`, `events`: inbound limits; the event bus.
//! - `providers`, `store`: outbound adapters; persistence.
//! - `domain`, `error`, `telemetry`, `redact`, `sync`, `origins`, `allocator`: leaves anyone
//!   may use (`allocator` is installed by the binary only).

#![warn(missing_docs)]

pub mod allocator;
pub mod app;
pub mod auth;
pub mod config;
pub mod doctor;
pub mod domain;
pub mod error;
pub mod events;
pub mod graphql;
pub mod http;
pub mod limits;
pub mod origins;
pub mod payments;
pub mod providers;
mod redact;
pub mod store;
pub(crate) mod sync;
pub mod telemetry;
pub mod webhooks;

pub use app::{App, ShutdownHandle};
pub use config::Config;
