//! Time to ready and idle footprint of fresh servers.

use std::time::Duration;

use crate::results::Startup;
use crate::server::{Backend, Launcher};

/// Starts `runs` servers on fresh SQLite files, one at a time.
pub async fn run(launcher: &Launcher, runs: usize) -> anyhow::Result<Startup> {
    let mut ready = Vec::new();
    let mut rss = Vec::new();
    for run in 0..runs {
        let server = launcher
            .start(Backend::Sqlite, &format!("startup-{run}"))
            .await?;
        ready.push(server.startup.as_secs_f64() * 1000.0);
        // Idle means after start-up work (migrations, first sweeps) has settled.
        tokio::time::sleep(Duration::from_millis(500)).await;
        rss.push(server.rss_kib()? as f64 / 1024.0);
        server.stop().await;
    }
    ready.sort_by(f64::total_cmp);
    rss.sort_by(f64::total_cmp);
    Ok(Startup {
        runs,
        ready_ms_median: ready[runs / 2],
        ready_ms_max: ready[runs - 1],
        idle_rss_mib: rss[runs / 2],
        binary_mib: std::fs::metadata(&launcher.binary)?.len() as f64 / (1024.0 * 1024.0),
    })
}
