//! The measured scenarios.

pub mod fanout;
pub mod ingest;
pub mod read;
pub mod resilience;
pub mod startup;
