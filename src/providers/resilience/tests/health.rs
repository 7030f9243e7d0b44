//! Health reports, the registry, and construction.

use super::*;

#[tokio::test(start_paused = true)]
async fn registry_reports_health_in_name_order() {
    let make = |name: &str| ResilientProvider::new(name, config()).expect("valid");
    let registry: ProviderRegistry = [make("stripe"), make("github"), make("sandbox")]
        .into_iter()
        .collect();
    fail_calls(registry.get("sandbox").expect("registered"), 10).await;
    let names: Vec<_> = registry
        .health()
        .into_iter()
        .map(|h| (h.name, h.state))
        .collect();
    assert_eq!(
        names,
        [
            ("github".to_owned(), BreakerState::Closed),
            ("sandbox".to_owned(), BreakerState::Open),
            ("stripe".to_owned(), BreakerState::Closed),
        ]
    );
    let degraded: Vec<_> = registry.degraded().into_iter().map(|h| h.name).collect();
    assert_eq!(degraded, ["sandbox"]);
    assert_eq!(
        registry.names().collect::<Vec<_>>(),
        ["github", "sandbox", "stripe"]
    );
}

#[test]
fn invalid_settings_are_refused_at_construction() {
    let err = ResilientProvider::new(
        "stripe",
        PolicyConfig {
            max_attempts: 0,
            ..config()
        },
    )
    .unwrap_err();
    assert_eq!(err.field, "max_attempts");
    assert_eq!(
        ResilientProvider::new(" ", config()).unwrap_err().field,
        "name"
    );
}

#[test]
fn calls_can_be_spawned_on_a_multi_threaded_runtime() {
    fn assert_send<T: Send>(_: &T) {}
    let provider = ResilientProvider::new("stripe", config()).expect("valid");
    let call = provider.call(READ, |_| async { Ok::<_, ProviderError>(1) });
    assert_send(&call);
    let with_fallback =
        provider.call_with_fallback(READ, |_| async { Ok::<_, ProviderError>(1) }, |_| Some(0));
    assert_send(&with_fallback);
}
