//! Relay's expectations: global object identification with the typed queries' visibility,
//! counted connections, and payloads that return their edge.

use serde_json::{Value, json};

use crate::helpers::single_error;
use crate::payments::{Client, app};

const NODE: &str = "query($id: ID!) { node(id: $id) { __typename id ... on Payment { amount } ... on Refund { amount } ... on User { name } } }";

#[tokio::test]
async fn relay_refetches_any_object_by_id_with_the_typed_queries_visibility() {
    let app = app(20, |_| {}).await;
    let uma = Client::sign_in(&app, "uma").await;
    let created = uma
        .create(json!({ "amount": 900, "currency": "usd" }), "relay-1")
        .await;
    let payment = &created["data"]["createPaymentIntent"]["payment"];
    let id = payment["id"].clone();
    uma.until_status(&id, "SUCCEEDED").await;
    let refund = uma
        .gql(
            "mutation($id: ID!) { refundPayment(paymentId: $id, amount: 100, idempotencyKey: \"r\") { id } }",
            json!({ "id": id }),
        )
        .await;
    let refund_id = refund["data"]["refundPayment"]["id"].clone();
    let me = uma.gql("{ me { id } }", json!({})).await["data"]["me"]["id"].clone();

    let node = |body: Value| body["data"]["node"].clone();
    let found = node(uma.gql(NODE, json!({ "id": id })).await);
    assert_eq!(
        found,
        json!({ "__typename": "Payment", "id": id, "amount": 900 })
    );
    let found = node(uma.gql(NODE, json!({ "id": refund_id })).await);
    assert_eq!(found["__typename"], "Refund");
    assert_eq!(found["amount"], 100);
    let found = node(uma.gql(NODE, json!({ "id": me })).await);
    assert_eq!(
        found,
        json!({ "__typename": "User", "id": me, "name": "uma" })
    );

    // Another user sees none of them, exactly as `payment(id:)` shows nothing.
    let vic = Client::sign_in(&app, "vic").await;
    for other in [&id, &refund_id, &me] {
        let body = vic.gql(NODE, json!({ "id": other })).await;
        assert!(body.get("errors").is_none(), "{body}");
        assert_eq!(node(body), Value::Null);
    }
    let body = vic
        .gql(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": [id, me] }),
        )
        .await;
    assert_eq!(body["data"]["nodes"], json!([null, null]), "{body}");
    let body = uma
        .gql(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": [me, id] }),
        )
        .await;
    assert_eq!(body["data"]["nodes"], json!([{ "id": me }, { "id": id }]));

    // Anonymous: the same refusal as the typed queries.
    let body = app.graphql(NODE, json!({ "id": id })).await;
    assert_eq!(
        single_error(&body, "UNAUTHENTICATED")["extensions"]["reason"],
        "NO_CREDENTIALS"
    );
    assert_eq!(body["data"], json!({ "node": null }));
}

#[tokio::test]
async fn connections_count_and_payloads_return_their_edge() {
    let app = app(60_000, |_| {}).await;
    let wes = Client::sign_in(&app, "wes").await;
    let mut edges = Vec::new();
    for key in ["a", "b", "c"] {
        let body = wes
            .gql(
                "mutation($k: String!) { createPaymentIntent(input: { amount: 100, currency: \"usd\" }, idempotencyKey: $k) { payment { id } paymentEdge { cursor node { id } } } }",
                json!({ "k": key }),
            )
            .await;
        let payload = &body["data"]["createPaymentIntent"];
        assert_eq!(
            payload["paymentEdge"]["node"]["id"],
            payload["payment"]["id"]
        );
        edges.push(payload["paymentEdge"].clone());
    }
    let body = wes
        .gql(
            "{ payments(first: 2) { totalCount edges { cursor node { id } } } }",
            json!({}),
        )
        .await;
    let page = &body["data"]["payments"];
    assert_eq!(page["totalCount"], 3, "{body}");
    // Newest first, and the payload's edge is the connection's edge, cursor and all.
    assert_eq!(page["edges"][0], edges[2]);
    assert_eq!(page["edges"][1], edges[1]);
    let body = wes
        .gql(
            "query($after: String) { payments(first: 2, after: $after) { totalCount edges { node { id } } } }",
            json!({ "after": edges[1]["cursor"] }),
        )
        .await;
    assert_eq!(body["data"]["payments"]["totalCount"], 3);
    assert_eq!(
        body["data"]["payments"]["edges"][0]["node"],
        edges[0]["node"]
    );

    // Backward: the page before a cursor, still newest first.
    let page = |body: Value| body["data"]["payments"].clone();
    let ids = |page: &Value| {
        page["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].clone())
            .collect::<Vec<_>>()
    };
    let backward = "query($last: Int, $before: String) { payments(last: $last, before: $before) { pageInfo { hasPreviousPage hasNextPage } edges { node { id } } } }";
    let newest = page(
        wes.gql(backward, json!({ "last": 1, "before": edges[1]["cursor"] }))
            .await,
    );
    assert_eq!(ids(&newest), [edges[2]["node"]["id"].clone()]);
    assert_eq!(
        newest["pageInfo"],
        json!({ "hasPreviousPage": false, "hasNextPage": true })
    );
    let oldest = page(wes.gql(backward, json!({ "last": 2 })).await);
    assert_eq!(
        ids(&oldest),
        [
            edges[1]["node"]["id"].clone(),
            edges[0]["node"]["id"].clone()
        ]
    );
    assert_eq!(
        oldest["pageInfo"],
        json!({ "hasPreviousPage": true, "hasNextPage": false })
    );
    let mixed = wes
        .gql("{ payments(first: 1, last: 1) { totalCount } }", json!({}))
        .await;
    single_error(&mixed, "BAD_USER_INPUT");

    let other = Client::sign_in(&app, "xan").await;
    let body = other.gql("{ payments { totalCount } }", json!({})).await;
    assert_eq!(body["data"]["payments"]["totalCount"], 0);
}
