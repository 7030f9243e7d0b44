//! `deploy/`: the Prometheus alert rules pass `promtool check rules` and their unit tests, every
//! alert has a unit test and a runbook section, and the Grafana dashboard reads.

use std::path::{Path, PathBuf};
use std::process::Command;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// The names after `key:` on lines of `text`, e.g. every `alert: Name`.
fn values_of(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.trim().trim_start_matches("- ").strip_prefix(key))
        .map(|name| name.trim().to_owned())
        .collect()
}

/// `promtool`, or `None` (with a message saying how to get it) when it is not installed.
fn promtool() -> Option<Command> {
    match Command::new("promtool").arg("--version").output() {
        Ok(output) if output.status.success() => Some(Command::new("promtool")),
        _ => {
            eprintln!(
                "skipped: promtool is not installed (Debian: `apt-get install prometheus`); \
                 the alert rules were not checked"
            );
            None
        }
    }
}

fn run(mut command: Command) {
    let output = command.output().expect("promtool runs");
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn alert_rules_pass_promtool_check_and_unit_tests() {
    let Some(mut check) = promtool() else {
        return;
    };
    let rules = deploy().join("prometheus");
    check
        .current_dir(&rules)
        .args(["check", "rules", "alerts.yml"]);
    run(check);
    let mut test = Command::new("promtool");
    test.current_dir(&rules)
        .args(["test", "rules", "alerts.test.yml"]);
    run(test);
}

#[test]
fn every_alert_has_a_unit_test_and_a_runbook_section() {
    let rules = deploy().join("prometheus");
    let alerts = values_of(&read(&rules.join("alerts.yml")), "alert:");
    assert!(alerts.len() >= 7, "{alerts:?}");
    let tested = values_of(&read(&rules.join("alerts.test.yml")), "alertname:");
    let runbook = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/operations.md"));
    let sections = values_of(&runbook, "### ");
    for alert in &alerts {
        assert!(tested.contains(alert), "{alert} has no promtool unit test");
        assert!(
            sections.contains(alert),
            "{alert} has no `### {alert}` section in docs/operations.md"
        );
    }
}

/// How the names of the server's metrics end (Prometheus conventions: unit or kind last).
const METRIC_SUFFIXES: &[&str] = &[
    "_total", "_seconds", "_events", "_state", "_open", "_active",
];

#[test]
fn the_dashboard_queries_only_metrics_the_server_exports() {
    let dashboard: serde_json::Value =
        serde_json::from_str(&read(&deploy().join("grafana/switchboard.json"))).expect("JSON");
    let exprs: Vec<&str> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|panel| panel["targets"].as_array().into_iter().flatten())
        .map(|target| target["expr"].as_str().expect("every target has an expr"))
        .collect();
    assert!(exprs.len() >= 10, "{exprs:?}");
    let source: String = [
        "src/telemetry/stages.rs",
        "src/providers/resilience/metrics.rs",
        "src/webhooks/mod.rs",
        "src/webhooks/processor.rs",
        "src/webhooks/reconcile.rs",
    ]
    .iter()
    .map(|file| read(&Path::new(env!("CARGO_MANIFEST_DIR")).join(file)))
    .collect();
    for &expr in &exprs {
        let names = expr
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map(|word| word.trim_end_matches("_count").trim_end_matches("_sum"))
            .filter(|word| METRIC_SUFFIXES.iter().any(|suffix| word.ends_with(suffix)));
        for name in names {
            assert!(
                source.contains(&format!("\"{name}\"")),
                "{expr}: the server exports no {name}"
            );
        }
    }
    // promtool parses each query as the expression of a recording rule.
    let Some(mut check) = promtool() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rules: String = exprs
        .iter()
        .enumerate()
        .map(|(i, expr)| {
            format!(
                "      - record: dashboard:query{i}\n        expr: {}\n",
                serde_json::to_string(expr).unwrap()
            )
        })
        .collect();
    let file = dir.path().join("dashboard.yml");
    std::fs::write(
        &file,
        format!("groups:\n  - name: dashboard\n    rules:\n{rules}"),
    )
    .unwrap();
    check.arg("check").arg("rules").arg(&file);
    run(check);
}
