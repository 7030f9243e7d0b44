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
