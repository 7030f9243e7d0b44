//! Server-side prices: `createPaymentIntent` with `lineItems` priced from the catalog (the
//! sandbox's, and Stripe's price list served by a stand-in, since localstripe has no
//! `/v1/prices`), and client-chosen amounts refused unless `PAYMENTS_ALLOW_CUSTOM_AMOUNT`
//! (against localstripe: nothing reaches Stripe).

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::single_error;
use crate::payments::{Client, app};

fn lines(items: &[(&str, u32)]) -> Value {
    json!({ "lineItems": items.iter().map(|(id, q)| json!({ "priceId": id, "quantity": q })).collect::<Vec<_>>() })
}

async fn payment_count(client: &Client<'_>) -> usize {
    let list = client
        .gql("{ payments { edges { node { id } } } }", json!({}))
        .await;
    list["data"]["payments"]["edges"].as_array().unwrap().len()
}

#[tokio::test]
async fn line_items_are_priced_from_the_catalog_once_per_key() {
    let app = app(600_000, |s| s.payments_allow_custom_amount = "false".into()).await;
    let ada = Client::sign_in(&app, "ada").await;
    let basket = lines(&[("price_sandbox_coffee", 2)]);
    let first = ada.create(basket.clone(), "basket-1").await;
    let payment = &first["data"]["createPaymentIntent"]["payment"];
    assert_eq!(
        (payment["amount"].clone(), payment["currency"].clone()),
        (json!(3_600), json!("USD")),
        "{first}"
    );
    let again = ada.create(basket, "basket-1").await;
    assert_eq!(
        first["data"], again["data"],
        "a retry replays the same payment"
    );
    let other = ada
        .create(lines(&[("price_sandbox_coffee", 3)]), "basket-1")
        .await;
    single_error(&other, "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(payment_count(&ada).await, 1);

    let recorded = ada
        .gql(
            "query($id: ID!) { payment(id: $id) { lineItems { priceId quantity unitAmount } } }",
            json!({ "id": payment["id"] }),
        )
        .await;
    assert_eq!(
        recorded["data"]["payment"]["lineItems"],
        json!([{ "priceId": "price_sandbox_coffee", "quantity": 2, "unitAmount": 1_800 }]),
        "{recorded}"
    );

    let anonymous = app
        .graphql(
            "mutation { createPaymentIntent(input: { lineItems: [{ priceId: \"price_sandbox_coffee\", quantity: 1 }] }, idempotencyKey: \"k\") { clientSecret } }",
            json!({}),
        )
        .await;
    single_error(&anonymous, "UNAUTHENTICATED");
}

#[tokio::test]
async fn bad_line_items_say_what_is_wrong_and_create_nothing() {
    let app = app(600_000, |_| {}).await;
    let bo = Client::sign_in(&app, "bo").await;
    let unknown = bo.create(lines(&[("price_gone", 1)]), "k1").await;
    let error = single_error(&unknown, "PRICE_NOT_FOUND");
    assert_eq!(error["extensions"]["priceId"], "price_gone");
    let mut both = lines(&[("price_sandbox_coffee", 1)]);
    both["amount"] = json!(1000);
    both["currency"] = json!("usd");
    let hundred_one: Vec<(&str, u32)> = vec![("price_sandbox_coffee", 1); 101];
    let cases = [
        (
            lines(&[("price_sandbox_club", 1)]),
            "input.lineItems.priceId",
        ),
        (both, "input.lineItems"),
        (json!({ "description": "nothing" }), "input.lineItems"),
        (json!({ "amount": 1000 }), "input.currency"),
        (
            lines(&[("price_sandbox_coffee", 0)]),
            "input.lineItems.quantity",
        ),
        (
            lines(&[("price_sandbox_coffee", 1000)]),
            "input.lineItems.quantity",
        ),
        (lines(&hundred_one), "input.lineItems"),
        (lines(&[]), "input.lineItems"),
    ];
    for (index, (input, field)) in cases.into_iter().enumerate() {
        let body = bo.create(input, &format!("bad-{index}")).await;
        assert_eq!(
            single_error(&body, "BAD_USER_INPUT")["extensions"]["field"],
            field,
            "{body}"
        );
    }
    assert_eq!(payment_count(&bo).await, 0);
}

#[tokio::test]
async fn a_custom_amount_is_refused_unless_allowed_and_reaches_no_provider() {
    let Some(stripe) = crate::stripe::LocalStripe::start().await else {
        return;
    };
    let base = format!("{}/", stripe.base);
    let app = crate::helpers::TestApp::spawn_with(crate::helpers::Backend::Sqlite, |s| {
        s.stripe_secret_key = "sk_test_prices".into();
        s.stripe_api_base = base;
        s.payments_allow_custom_amount = "false".into();
    })
    .await
    .unwrap();
    let cy = Client::sign_in(&app, "cy").await;
    let body = cy
        .create(json!({ "amount": 100, "currency": "usd" }), "cheap")
        .await;
    let error = single_error(&body, "CUSTOM_AMOUNT_NOT_ALLOWED");
    assert!(
        error["message"].as_str().unwrap().contains("lineItems"),
        "{body}"
    );
    assert!(
        stripe.intents().await.is_empty(),
        "no PaymentIntent at Stripe"
    );
    assert!(
        stripe.list("/v1/customers").await.is_empty(),
        "not even a customer"
    );
    assert_eq!(payment_count(&cy).await, 0);
    // Where custom amounts are allowed, the same request reaches Stripe.
    let allowed = crate::helpers::TestApp::spawn_with(crate::helpers::Backend::Sqlite, |s| {
        s.stripe_secret_key = "sk_test_prices".into();
        s.stripe_api_base = format!("{}/", stripe.base);
        s.payments_allow_custom_amount = "true".into();
    })
    .await
    .unwrap();
    let dee = Client::sign_in(&allowed, "dee").await;
    let body = dee
        .create(json!({ "amount": 2500, "currency": "usd" }), "chosen")
        .await;
    assert_eq!(
        body["data"]["createPaymentIntent"]["payment"]["amount"], 2500,
        "{body}"
    );
    assert_eq!(stripe.intents().await.len(), 1);
}

#[tokio::test]
async fn stripe_line_items_are_priced_from_its_price_list() {
    let stripe = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/prices"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "object": "list", "has_more": false, "data": [
            { "id": "price_basic", "object": "price", "active": true, "product": "prod_basic", "unit_amount": 900, "currency": "eur", "recurring": null },
            { "id": "price_pro", "object": "price", "active": true, "product": "prod_pro", "unit_amount": 4900, "currency": "eur", "recurring": { "interval": "month" } }
        ] })))
        .mount(&stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "id": "cus_P1", "object": "customer" })),
        )
        .mount(&stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "pi_P1", "object": "payment_intent", "status": "requires_payment_method",
            "client_secret": "pi_P1_secret_x", "amount": 2700, "currency": "eur"
        })))
        .mount(&stripe)
        .await;
    let base = format!("{}/", stripe.uri());
    let app = app(600_000, |s| {
        s.stripe_secret_key = "sk_test_prices".into();
        s.stripe_api_base = base;
        s.payments_allow_custom_amount = "false".into();
    })
    .await;
    let eve = Client::sign_in(&app, "eve").await;
    let body = eve.create(lines(&[("price_basic", 3)]), "basic-3").await;
    let payment = &body["data"]["createPaymentIntent"]["payment"];
    assert_eq!(
        (payment["amount"].clone(), payment["currency"].clone()),
        (json!(2_700), json!("EUR")),
        "{body}"
    );
    let requests = stripe.received_requests().await.unwrap();
    let created: Vec<_> = requests
        .iter()
        .filter(|r| r.url.path() == "/v1/payment_intents")
        .collect();
    assert_eq!(created.len(), 1);
    let form = String::from_utf8_lossy(&created[0].body).into_owned();
    assert!(
        form.contains("amount=2700") && form.contains("currency=eur"),
        "{form}"
    );
    let recurring = eve.create(lines(&[("price_pro", 1)]), "pro").await;
    assert_eq!(
        single_error(&recurring, "BAD_USER_INPUT")["extensions"]["field"],
        "input.lineItems.priceId"
    );
}
