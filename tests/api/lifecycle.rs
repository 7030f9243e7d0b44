//! Start-up and graceful shutdown.

use serde_json::json;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::helpers::TestApp;
use crate::websocket::{close_code, connect, receive, send};

#[tokio::test]
async fn shutdown_closes_websockets_with_going_away_and_stops_listening() {
    let app = TestApp::spawn().await;
    let address = app.address.clone();
    let mut socket = connect(&app, "graphql-transport-ws").await;
    send(&mut socket, json!({ "type": "connection_init" })).await;
    assert_eq!(receive(&mut socket).await["type"], "connection_ack");

    let client = app.client.clone();
    let stopped = tokio::spawn(app.stop());

    assert_eq!(close_code(&mut socket).await, u16::from(CloseCode::Away));
    stopped.await.unwrap().expect("clean shutdown");

    let refused = client.get(format!("{address}/health/live")).send().await;
    assert!(refused.is_err(), "listener is closed after shutdown");
}

#[tokio::test]
async fn the_binary_drains_and_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = crate::auth_support::free_port();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .env_clear()
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("METRICS_ADDR", "127.0.0.1:0")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("term.db").display()),
        )
        .env("LOG_FORMAT", "json")
        .current_dir(dir.path())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/health/ready");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while client
        .get(&url)
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "server did not become ready"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let pid = child.id().unwrap().to_string();
    let killed = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let output = tokio::time::timeout(std::time::Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("exits before the deadline")
        .unwrap();
    assert!(output.status.success(), "exit status {:?}", output.status);
    let logs = String::from_utf8(output.stderr).unwrap();
    let messages: Vec<String> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|l| l["message"].as_str().map(str::to_owned))
        .collect();
    assert!(
        messages.iter().any(|m| m == "shutdown requested; draining"),
        "{messages:?}"
    );
    assert_eq!(
        messages.last().map(String::as_str),
        Some("switchboard stopped")
    );
}
