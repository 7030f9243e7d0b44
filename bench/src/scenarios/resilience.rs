//! The provider layer's criterion bench (`cargo bench --bench resilience`), read from
//! criterion's estimates so its figures sit in the same report.

use std::path::Path;

use crate::results::ResiliencePoint;

const BENCHES: [&str; 3] = [
    "direct",
    "full_stack_no_recorder",
    "full_stack_registry_recorder",
];

/// The latest estimates under `target_dir/criterion`, if the bench has run.
pub fn read(target_dir: &Path) -> Vec<ResiliencePoint> {
    BENCHES
        .iter()
        .filter_map(|name| {
            let path = target_dir
                .join("criterion/provider_call")
                .join(name)
                .join("new/estimates.json");
            let estimates: serde_json::Value =
                serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
            Some(ResiliencePoint {
                name: (*name).to_owned(),
                ns_per_call: estimates["mean"]["point_estimate"].as_f64()?,
            })
        })
        .collect()
}
