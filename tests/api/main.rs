//! Integration tests: the real server, started through the library on port 0, talking to real
//! peers (SQLite files, PostgreSQL, Node clients) over real sockets.

mod abuse;
mod auth_browser;
mod auth_oidc;
mod auth_sessions;
mod auth_support;
mod auth_tokens;
mod browser;
mod checkout;
mod cli;
mod client_contract;
mod client_http;
mod client_libraries;
mod client_relay;
mod deploy;
mod doctor;
mod event_log;
mod events;
mod graphql_http;
mod health;
mod helpers;
mod lifecycle;
mod limits;
mod metrics;
mod payments;
mod provider_seam;
mod resilience_wire;
mod shared_subscriptions;
mod store_contract;
mod stripe;
mod subscriptions;
mod trusted_documents;
mod web_demo;
mod webhook_flow;
mod webhooks;
mod websocket;
