//! switchboard: a GraphQL backend-for-frontend that puts Stripe payments and OAuth/OpenID Connect
//! login behind one schema.
//!
//! Modules depend downwards only: `http` → `graphql` → services → `store`.

#![warn(missing_docs)]

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
pub mod payments;
pub mod providers;
mod redact;
pub mod store;
pub(crate) mod sync;
pub mod telemetry;
pub mod webhooks;

pub use app::{App, ShutdownHandle};
pub use config::Config;
