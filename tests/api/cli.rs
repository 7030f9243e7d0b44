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

/// A signing secret as `openssl rand -base64 48` prints it.
const RANDOM_SECRET: &str = "k1:r8Jx0vQ2mZ7pLk4tN1sW9yB6cH3fD5gA0eU8iO2qT7wE4rY6uI1oP3aS5dF7gH9j";

#[test]
fn production_refuses_each_unsafe_setting_with_one_line() {
    let weak = format!("k1:{}", "a".repeat(32));
    let production = [
        ("APP_ENV", "production"),
        ("SESSION_SIGNING_KEYS", RANDOM_SECRET),
    ];
    let stripe = [
        ("STRIPE_SECRET_KEY", "sk_live_x"),
        ("STRIPE_WEBHOOK_SECRETS", "whsec_x"),
        ("STRIPE_PUBLISHABLE_KEY", "pk_live_x"),
    ];
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            production.to_vec(),
            "STRIPE_SECRET_KEY: required in production",
        ),
        (
            [&production[..], &[("STRIPE_SECRET_KEY", "sk_live_x")]].concat(),
            "STRIPE_WEBHOOK_SECRETS: required in production",
        ),
        (
            [&production[..], &stripe[..2]].concat(),
            "STRIPE_PUBLISHABLE_KEY: required in production",
        ),
        (
            [
                &production[..],
                &stripe[..2],
                &[("STRIPE_PUBLISHABLE_KEY", "pk_test_x")],
            ]
            .concat(),
            "STRIPE_PUBLISHABLE_KEY: a test key while STRIPE_SECRET_KEY is a live key",
        ),
        (
            [
                &production[..],
                &stripe[..],
                &[("SESSION_SIGNING_KEYS", weak.as_str())],
            ]
            .concat(),
            "SESSION_SIGNING_KEYS: the secret of key \"k1\" is not 32+ random bytes",
        ),
        (
            [
                &production[..],
                &stripe[..],
                &[("STRIPE_API_BASE", "http://127.0.0.1:8420/")],
            ]
            .concat(),
            "STRIPE_API_BASE: http://127.0.0.1:8420/ is not https",
        ),
        (
            [
                &production[..],
                &stripe[..],
                &[
                    ("AUTH_PROVIDERS", "corp"),
                    ("AUTH_CORP_KIND", "oidc"),
                    ("AUTH_CORP_ISSUER", "http://idp.example"),
                    ("AUTH_CORP_CLIENT_ID", "switchboard"),
                    ("AUTH_CORP_CLIENT_SECRET", "secret"),
                ],
            ]
            .concat(),
            "AUTH_CORP_ISSUER: http://idp.example/ is not https",
        ),
        // No APP_ENV: development, whose dev login must not face the network.
        (
            vec![("LISTEN_ADDR", "0.0.0.0:8000")],
            "AUTH_DEV_LOGIN: the password-less dev login would be reachable from outside this machine",
        ),
        (
            vec![("PUBLIC_URL", "https://api.example.com")],
            "AUTH_DEV_LOGIN: the password-less dev login would be reachable from outside this machine",
        ),
    ];
    for (env, expected) in cases {
        let output = switchboard(&["migrate"], &env);
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(2), "{env:?}: {stderr}");
        assert!(
            stderr.starts_with(&format!("switchboard: {expected}")),
            "{env:?}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(
            !stderr.contains("sk_live_x") && !stderr.contains("aaaa"),
            "{stderr}"
        );
    }
    // The safe version of the same deployment gets past validation.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("prod.db").display());
    let env = [
        &production[..],
        &stripe[..],
        &[("DATABASE_URL", url.as_str())],
    ]
    .concat();
    let output = switchboard(&["migrate"], &env);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
