//! The `switchboard` binary: help, configuration errors, `schema` and `migrate`.

use std::process::Command;

use crate::helpers::repo_root;

fn switchboard(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        // A developer's .env must not leak into these tests.
        .current_dir(dir.path())
        .output()
        .expect("binary runs")
}

/// Every variable documented in .env.example, in order.
fn documented_variables() -> Vec<String> {
    let example = std::fs::read_to_string(repo_root().join(".env.example")).unwrap();
    example
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(name, _)| name.trim().to_owned())
        .filter(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .collect()
}

#[test]
fn help_lists_every_documented_variable() {
    let output = switchboard(&["--help"], &[]);
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    let documented = documented_variables();
    assert!(documented.len() >= 10, "found {documented:?}");
    for variable in documented {
        assert!(
            help.contains(&format!("[env: {variable}")),
            "--help lacks {variable}"
        );
    }
}

#[test]
fn help_lists_every_provider_policy_setting() {
    let help = String::from_utf8(switchboard(&["--help"], &[]).stdout).unwrap();
    for field in switchboard::providers::resilience::ENV_FIELDS {
        assert!(
            help.contains(&format!("_{}", field.suffix)),
            "--help lacks PROVIDER_<NAME>_{}",
            field.suffix
        );
    }
}

#[test]
fn bad_setting_exits_with_one_line_naming_it() {
    let output = switchboard(&["migrate"], &[("DATABASE_URL", "mysql://localhost/app")]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        stderr,
        "switchboard: DATABASE_URL: unsupported scheme \"mysql\"; use sqlite://... or postgres://...\n"
    );
}

#[test]
fn secrets_never_appear_in_help() {
    let output = switchboard(
        &["--help"],
        &[("DATABASE_URL", "postgres://app:hunter2@db/app")],
    );
    let help = String::from_utf8(output.stdout).unwrap();
    assert!(!help.contains("hunter2"));
}

#[test]
fn schema_command_prints_the_committed_schema() {
    let output = switchboard(&["schema"], &[]);
    assert!(output.status.success());
    let printed = String::from_utf8(output.stdout).unwrap();
    let committed = std::fs::read_to_string(repo_root().join("schema.graphql")).unwrap();
    assert!(
        printed == committed,
        "schema.graphql is out of date; run `cargo run -- schema > schema.graphql`"
    );
    assert_eq!(printed, switchboard::graphql::sdl());
}

#[test]
fn migrate_creates_the_database_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fresh.db");
    let url = format!("sqlite://{}", db.display());
    let output = switchboard(
        &["migrate"],
        &[("DATABASE_URL", &url), ("LOG_FORMAT", "json")],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(db.exists());
    let stderr = String::from_utf8(output.stderr).unwrap();
    let last: serde_json::Value = serde_json::from_str(stderr.lines().last().unwrap()).unwrap();
    assert_eq!(last["message"], "migrations are up to date");
}
