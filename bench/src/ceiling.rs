//! The ceiling: a bare axum handler answering `POST /graphql` with a fixed JSON body of the
//! same shape as a `{ me { id } }` response. It runs as its own process (this binary with the
//! `ceiling` subcommand), so it gets the same cores and the same client as the server does.

use std::process::Stdio;

use anyhow::Context;
use axum::Router;
use axum::http::header;
use axum::routing::post;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BODY: &str = r#"{"data":{"me":{"id":"0193a6c2-5b1e-7c3d-9f00-5a1b2c3d4e5f"}}}"#;

/// Serves the fixed response on a loopback port and prints `listening <addr>` on stdout.
pub async fn serve() -> anyhow::Result<()> {
    let app = Router::new().route(
        "/graphql",
        post(|| async { ([(header::CONTENT_TYPE, "application/json")], BODY) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

/// A running ceiling process.
pub struct Ceiling {
    _child: Child,
    /// Where it listens.
    pub addr: std::net::SocketAddr,
}

/// Starts the ceiling in a child process of this binary.
pub async fn start() -> anyhow::Result<Ceiling> {
    let mut child = Command::new(std::env::current_exe()?)
        .arg("ceiling")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child.stdout.take().context("no stdout")?;
    let line = BufReader::new(stdout)
        .lines()
        .next_line()
        .await?
        .context("ceiling exited before listening")?;
    let addr = line
        .strip_prefix("listening ")
        .context("unexpected ceiling output")?
        .parse()?;
    Ok(Ceiling {
        _child: child,
        addr,
    })
}
