//! The two references every read is measured against, each in its own process (this binary
//! with a subcommand), so they get the same cores and the same client as the server does:
//!
//! - the **ceiling**, a bare axum handler answering `POST /graphql` with a fixed JSON body of the
//!   same shape as a `{ me { id } }` response;
//! - **plain async-graphql**: the engine switchboard runs, served the way its own documentation
//!   shows (`async-graphql-axum`), answering `{ me { id } }` from memory: no I/O, no auth, no
//!   middleware, no document cache.

use std::process::Stdio;

use anyhow::Context;
use async_graphql::{EmptyMutation, EmptySubscription, ID, Object, Schema, SimpleObject};
use axum::Router;
use axum::http::header;
use axum::routing::{post, post_service};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const ID_VALUE: &str = "0193a6c2-5b1e-7c3d-9f00-5a1b2c3d4e5f";
const BODY: &str = r#"{"data":{"me":{"id":"0193a6c2-5b1e-7c3d-9f00-5a1b2c3d4e5f"}}}"#;

/// Which reference process to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference {
    /// The bare axum handler.
    Ceiling,
    /// Plain async-graphql.
    PlainGraphql,
}

impl Reference {
    /// The subcommand that serves it.
    pub fn subcommand(self) -> &'static str {
        match self {
            Reference::Ceiling => "ceiling",
            Reference::PlainGraphql => "plain-graphql",
        }
    }
}

/// Serves the fixed response on a loopback port and prints `listening <addr>` on stdout.
pub async fn serve() -> anyhow::Result<()> {
    let app = Router::new().route(
        "/graphql",
        post(|| async { ([(header::CONTENT_TYPE, "application/json")], BODY) }),
    );
    listen(app).await
}

/// The user of the plain server.
#[derive(SimpleObject)]
struct User {
    id: ID,
}

/// The plain server's query root.
struct Query;

#[Object]
impl Query {
    /// Always the same user.
    async fn me(&self) -> User {
        User {
            id: ID::from(ID_VALUE),
        }
    }
}

/// Serves plain async-graphql on a loopback port and prints `listening <addr>` on stdout.
pub async fn serve_plain_graphql() -> anyhow::Result<()> {
    let schema = Schema::build(Query, EmptyMutation, EmptySubscription).finish();
    let app = Router::new().route(
        "/graphql",
        post_service(async_graphql_axum::GraphQL::new(schema)),
    );
    listen(app).await
}

async fn listen(app: Router) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

/// A running reference process.
pub struct Ceiling {
    _child: Child,
    /// Where it listens.
    pub addr: std::net::SocketAddr,
}

impl Ceiling {
    /// Its process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self._child.id()
    }
}

/// Starts `reference` in a child process of this binary.
pub async fn start(reference: Reference) -> anyhow::Result<Ceiling> {
    let mut child = Command::new(std::env::current_exe()?)
        .arg(reference.subcommand())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child.stdout.take().context("no stdout")?;
    let line = BufReader::new(stdout)
        .lines()
        .next_line()
        .await?
        .context("reference server exited before listening")?;
    let addr = line
        .strip_prefix("listening ")
        .context("unexpected reference server output")?
        .parse()?;
    Ok(Ceiling {
        _child: child,
        addr,
    })
}
