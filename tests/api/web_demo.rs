//! The web demo's generated code (examples/web/src/gql: types and the trusted-documents
//! manifest) must be what GraphQL Code Generator makes of today's schema.graphql and the
//! demo's operations.

use std::collections::BTreeMap;
use std::path::Path;

use crate::helpers::{peers_required, repo_root};

fn files(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect()
}

#[tokio::test]
async fn the_demo_s_generated_types_and_manifest_have_not_drifted() {
    let web = repo_root().join("examples/web");
    let codegen = web.join("node_modules/@graphql-codegen/cli/cjs/bin.js");
    if !codegen.is_file() {
        assert!(
            !peers_required(),
            "examples/web is not installed; run scripts/test"
        );
        eprintln!("skipping: examples/web is not installed; scripts/test installs it");
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let output = tokio::process::Command::new("node")
        .arg(&codegen)
        .args(["--config", "codegen.ts"])
        .env("CODEGEN_OUT", format!("{}/", out.path().display()))
        .current_dir(&web)
        .output()
        .await
        .expect("node runs");
    assert!(
        output.status.success(),
        "codegen failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let (committed, fresh) = (files(&web.join("src/gql")), files(out.path()));
    assert_eq!(
        committed.keys().collect::<Vec<_>>(),
        fresh.keys().collect::<Vec<_>>()
    );
    for (name, text) in &fresh {
        assert!(
            committed[name] == *text,
            "examples/web/src/gql/{name} is out of date with schema.graphql or the demo's \
             operations: run `npm run --prefix examples/web codegen` and commit the result"
        );
    }
}

#[tokio::test]
async fn the_demo_is_served_only_with_demo_dir_and_under_a_self_only_policy() {
    let without = crate::helpers::TestApp::spawn().await;
    let response = without
        .client
        .get(without.url("/demo/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);

    let dist = tempfile::tempdir().unwrap();
    std::fs::write(
        dist.path().join("index.html"),
        "<!doctype html><title>demo</title>",
    )
    .unwrap();
    let dir = dist.path().display().to_string();
    let app = crate::helpers::TestApp::spawn_with(crate::helpers::Backend::Sqlite, |s| {
        s.demo_dir = dir;
    })
    .await
    .unwrap();
    // Any path that is not a file is the app's own route: index.html answers it.
    for path in ["/demo/", "/demo/orders/42"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let policy = response.headers()["content-security-policy"]
            .to_str()
            .unwrap();
        assert!(policy.starts_with("default-src 'self'"), "{policy}");
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("<title>demo</title>")
        );
    }
    let outside = app
        .client
        .get(app.url("/demo/..%2F..%2Fetc%2Fpasswd"))
        .send()
        .await
        .unwrap();
    assert!(
        !outside.text().await.unwrap().contains("root:"),
        "no file outside DEMO_DIR"
    );
}
