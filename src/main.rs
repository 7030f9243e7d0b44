//! The `switchboard` binary: reads configuration, then serves, migrates, prints the schema or
//! checks the configuration (`doctor`).

use std::process::ExitCode;

use switchboard::config::{Command, Config};
use switchboard::{App, telemetry};

/// mimalloc (see [`switchboard::allocator`]). Tests run the library on the system allocator.
#[global_allocator]
static ALLOCATOR: switchboard::allocator::Mimalloc = switchboard::allocator::Mimalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let (command, config) = Config::load_command();
    if command == Command::Doctor {
        let checks = switchboard::doctor::run(config).await;
        for check in &checks {
            println!("{check}");
        }
        return if switchboard::doctor::failed(&checks) {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        };
    }
    let config = match config {
        Ok(config) => config,
        Err(err) => {
            eprintln!("switchboard: {err}");
            return ExitCode::from(2);
        }
    };
    if command == Command::Schema {
        print!("{}", switchboard::graphql::sdl());
        return ExitCode::SUCCESS;
    }
    telemetry::init(&config.log_level, config.log_format);
    let result = match command {
        Command::Migrate => switchboard::app::open_store(&config).await.map(|_| {
            tracing::info!(
                database = config.database_url.backend(),
                "migrations are up to date"
            );
        }),
        _ => serve(config).await,
    };
    // Spans still waiting in the exporter's batch are sent before the process ends.
    telemetry::shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = format!("{err:#}"), "switchboard failed");
            eprintln!("switchboard: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let app = App::build(config).await?;
    let handle = app.shutdown_handle();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested; draining");
        handle.shutdown();
    });
    app.run_until_stopped().await
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
