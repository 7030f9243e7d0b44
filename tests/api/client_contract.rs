//! The contract GraphQL clients rely on: every selected key present, failures nulled exactly
//! as the specification says, machine-readable reasons, types codegen can use, and a sandbox
//! client screens can drive.

use serde_json::{Value, json};

use crate::auth_support::{bearer, graphql_with};
use crate::helpers::{TestApp, single_error};
use crate::payments::{Client, app};

fn error_paths(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("errors in {body}"))
        .iter()
        .map(|e| e["path"].to_string())
        .collect()
}

/// Each root field that can fail, with whether its type lets it be null on its own.
const ROOT_FAILURES: &[(&str, &str, bool)] = &[
    ("me", "me { id }", true),
    ("payment", r#"payment(id: "not-an-id") { id }"#, true),
    ("payments", "payments { edges { node { id } } }", false),
    ("paymentEvents", "paymentEvents { edges { cursor } }", false),
];

#[tokio::test]
async fn failed_root_fields_are_null_or_null_the_data() {
    let app = TestApp::spawn().await;
    for (field, selection, nullable) in ROOT_FAILURES {
        // A token that does not verify makes every viewer-dependent field fail.
        let body = graphql_with(
            &app,
            &[("authorization", &bearer("not-a-token"))],
            &format!("{{ serverInfo {{ version }} {selection} }}"),
            json!({}),
        )
        .await;
        assert_eq!(error_paths(&body), [format!(r#"["{field}"]"#)], "{body}");
        if *nullable {
            assert_eq!(body["data"][field], Value::Null, "{body}");
            assert!(body["data"].get(*field).is_some(), "{field} kept: {body}");
            assert!(body["data"]["serverInfo"].is_object(), "{body}");
        } else {
            // A failed non-null root field nulls the whole response data.
            assert!(body.get("data").is_some(), "{body}");
            assert_eq!(body["data"], Value::Null, "{body}");
        }
    }
}

#[tokio::test]
async fn anonymous_reads_of_private_fields_say_why() {
    let app = TestApp::spawn().await;
    let body = app
        .graphql(
            "{ serverInfo { version } payments { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"], Value::Null, "{body}");
    let error = single_error(&body, "UNAUTHENTICATED");
    assert_eq!(error["extensions"]["reason"], "NO_CREDENTIALS");
    assert_eq!(error["path"], json!(["payments"]));
}

#[tokio::test]
async fn a_failed_mutation_nulls_the_data() {
    let app = TestApp::spawn().await;
    let body = app
        .graphql(
            r#"mutation { createPaymentIntent(input: { amount: 100, currency: "usd" }, idempotencyKey: "k") { clientSecret } }"#,
            json!({}),
        )
        .await;
    single_error(&body, "UNAUTHENTICATED");
    assert!(body.get("data").is_some(), "{body}");
    assert_eq!(body["data"], Value::Null);
}

/// A nested non-null field that fails nulls its nearest nullable parent: here `payment`.
#[tokio::test]
async fn a_failed_nested_field_nulls_its_nearest_nullable_parent() {
    let app = app(60_000, |_| {}).await;
    let client = Client::sign_in(&app, "nora").await;
    let created = client
        .create(json!({ "amount": 500, "currency": "usd" }), "nested-1")
        .await;
    let id = created["data"]["createPaymentIntent"]["payment"]["id"].clone();
    // An identity row this version cannot read is an internal error of `User.identities`.
    let db = sqlx::SqlitePool::connect(app.database.url()).await.unwrap();
    sqlx::query("UPDATE identities SET created_at = 'not a time'")
        .execute(&db)
        .await
        .unwrap();

    let body = client
        .gql(
            "query($id: ID!) { serverInfo { version } payment(id: $id) { id owner { identities { provider } } } }",
            json!({ "id": id }),
        )
        .await;
    let error = single_error(&body, "INTERNAL");
    assert_eq!(error["path"], json!(["payment", "owner", "identities"]));
    assert_eq!(body["data"]["payment"], Value::Null, "{body}");
    assert!(body["data"]["serverInfo"].is_object(), "{body}");

    // Through a connection every level is non-null, so the failure reaches `data`.
    let body = client
        .gql(
            "{ payments { edges { node { id owner { identities { provider } } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"], Value::Null, "{body}");
    assert_eq!(
        error_paths(&body),
        [r#"["payments","edges",0,"node","owner","identities"]"#]
    );
}

/// A stored payment this version cannot read (an unknown status, metadata that is not a JSON
/// object) is an internal error of the field that loads it, never a silently defaulted value.
#[tokio::test]
async fn an_unreadable_stored_payment_is_an_internal_error() {
    let app = app(60_000, |_| {}).await;
    let client = Client::sign_in(&app, "olga").await;
    let created = client
        .create(json!({ "amount": 500, "currency": "usd" }), "unreadable-1")
        .await;
    let id = created["data"]["createPaymentIntent"]["payment"]["id"].clone();
    let db = sqlx::SqlitePool::connect(app.database.url()).await.unwrap();
    let query = "query($id: ID!) { payment(id: $id) { id status metadata { key } } }";
    for corruption in [
        "UPDATE payments SET status = 'from_the_future'",
        "UPDATE payments SET metadata = '{not json'",
    ] {
        sqlx::query(corruption).execute(&db).await.unwrap();
        let body = client.gql(query, json!({ "id": id })).await;
        let error = single_error(&body, "INTERNAL");
        assert_eq!(error["path"], json!(["payment"]), "{corruption}");
        assert_eq!(body["data"]["payment"], Value::Null, "{corruption}: {body}");
        sqlx::query("UPDATE payments SET status = 'PROCESSING', metadata = '{}'")
            .execute(&db)
            .await
            .unwrap();
        let body = client.gql(query, json!({ "id": id })).await;
        assert_eq!(body["data"]["payment"]["status"], "PROCESSING", "{body}");
    }
}

/// An RFC 3339 UTC instant with exactly three decimal places: `2026-01-31T12:00:00.000Z`.
fn is_millisecond_instant(value: &Value) -> bool {
    let Some(text) = value.as_str() else {
        return false;
    };
    text.len() == 24
        && text.ends_with('Z')
        && text.as_bytes()[19] == b'.'
        && chrono::DateTime::parse_from_rfc3339(text).is_ok()
}

#[tokio::test]
async fn types_are_what_codegen_needs() {
    let app = app(60_000, |_| {}).await;
    let body = app
        .graphql(
            r#"{
                dateTime: __type(name: "DateTime") { specifiedByURL description }
                price: __type(name: "Price") { fields { name type { kind ofType { name } } } }
                provider: __type(name: "Payment") { fields { name type { ofType { name kind } } } }
                loginProviders { kind }
            }"#,
            json!({}),
        )
        .await;
    let data = &body["data"];
    assert_eq!(
        data["dateTime"]["specifiedByURL"],
        "https://datatracker.ietf.org/doc/html/rfc3339"
    );
    assert!(
        data["dateTime"]["description"]
            .as_str()
            .unwrap()
            .contains("RFC 3339")
    );
    let field_type = |object: &str, name: &str| {
        data[object]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap()["type"]["ofType"]
            .clone()
    };
    assert_eq!(field_type("price", "id")["name"], "ID");
    assert_eq!(
        field_type("provider", "provider"),
        json!({ "name": "PaymentProvider", "kind": "ENUM" })
    );
    assert_eq!(data["loginProviders"], json!([{ "kind": "DEV" }]));

    let client = Client::sign_in(&app, "tara").await;
    let created = client
        .create(json!({ "amount": 700, "currency": "usd" }), "types-1")
        .await;
    let id = &created["data"]["createPaymentIntent"]["payment"]["id"];
    let body = client
        .gql(
            "query($id: ID!) { payment(id: $id) { provider createdAt updatedAt } paymentEvents { edges { node { kind providerEventType occurredAt } } } }",
            json!({ "id": id }),
        )
        .await;
    let payment = &body["data"]["payment"];
    assert_eq!(payment["provider"], "SANDBOX", "{body}");
    assert!(is_millisecond_instant(&payment["createdAt"]), "{payment}");
    assert!(is_millisecond_instant(&payment["updatedAt"]), "{payment}");
    let event = &body["data"]["paymentEvents"]["edges"][0]["node"];
    assert_eq!(event["kind"], "CREATED", "{body}");
    assert_eq!(event["providerEventType"], Value::Null);
    assert!(is_millisecond_instant(&event["occurredAt"]), "{event}");
}

const CONFIRM: &str = "mutation($id: ID!, $o: SandboxOutcome!, $c: String) { sandboxConfirmPayment(paymentId: $id, outcome: $o, declineCode: $c) { id status } }";

#[tokio::test]
async fn clients_drive_sandbox_payments_through_3ds_and_declines() {
    // Scripts would advance only after a minute: every change here is driven.
    let app = app(60_000, |_| {}).await;
    let zoe = Client::sign_in(&app, "zoe").await;
    let created = zoe
        .create(
            json!({ "amount": 4200, "currency": "usd", "description": "manual checkout" }),
            "drive-1",
        )
        .await;
    let id = created["data"]["createPaymentIntent"]["payment"]["id"].clone();

    let body = zoe
        .gql(CONFIRM, json!({ "id": id, "o": "REQUIRE_ACTION" }))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    zoe.until_status(&id, "REQUIRES_ACTION").await;

    // A decline answers with its reason, and the payment waits for another card.
    let body = zoe
        .gql(
            CONFIRM,
            json!({ "id": id, "o": "DECLINE", "c": "insufficient_funds" }),
        )
        .await;
    let error = single_error(&body, "PAYMENT_DECLINED");
    assert_eq!(error["extensions"]["declineCode"], "insufficient_funds");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("insufficient funds"),
        "{error}"
    );
    zoe.until_status(&id, "REQUIRES_PAYMENT_METHOD").await;

    let body = zoe.gql(CONFIRM, json!({ "id": id, "o": "SUCCEED" })).await;
    assert!(body.get("errors").is_none(), "{body}");
    zoe.until_status(&id, "SUCCEEDED").await;
    assert_eq!(
        zoe.event_kinds().await,
        [
            "created:REQUIRES_PAYMENT_METHOD",
            "payment_intent.requires_action:REQUIRES_ACTION",
            "payment_intent.payment_failed:REQUIRES_PAYMENT_METHOD",
            "payment_intent.succeeded:SUCCEEDED",
        ]
    );

    // Paid payments cannot be driven again; nobody drives another user's payment.
    let body = zoe.gql(CONFIRM, json!({ "id": id, "o": "DECLINE" })).await;
    single_error(&body, "CONFLICT");
    let other = Client::sign_in(&app, "abe").await;
    let body = other
        .gql(CONFIRM, json!({ "id": id, "o": "SUCCEED" }))
        .await;
    single_error(&body, "NOT_FOUND");
}

#[tokio::test]
async fn production_refuses_to_drive_payments() {
    let app = crate::helpers::TestApp::spawn_with(crate::helpers::Backend::Sqlite, |s| {
        s.app_env = "production".into();
        s.session_signing_keys = format!("k1:{}", crate::limits::RANDOM_SECRET);
        // A sandbox in production only as an explicit demo; driving it is refused even then.
        s.payments_sandbox = "true".into();
    })
    .await
    .unwrap();
    let id = uuid::Uuid::now_v7().to_string();
    let body = app
        .graphql(CONFIRM, json!({ "id": id, "o": "SUCCEED" }))
        .await;
    let error = single_error(&body, "FORBIDDEN");
    assert!(
        error["message"].as_str().unwrap().contains("development"),
        "{error}"
    );
}
