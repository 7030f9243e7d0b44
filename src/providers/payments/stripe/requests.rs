//! Stripe requests async-stripe has no builder for (or none in the features we compile).

use stripe::StripeRequest;
use stripe_client_core::{RequestBuilder, StripeMethod};

use crate::providers::payments::CheckoutRequest;

/// `GET /v1/prices`: a page of 100 prices, active and archived, each with its product.
pub(super) struct ListPrices<'a> {
    pub starting_after: Option<&'a str>,
}

impl StripeRequest for ListPrices<'_> {
    type Output = ();

    fn build(&self) -> RequestBuilder {
        #[derive(serde::Serialize)]
        struct Query<'a> {
            limit: u32,
            /// Sent as `expand[0]=data.product`.
            expand: [&'static str; 1],
            #[serde(skip_serializing_if = "Option::is_none")]
            starting_after: Option<&'a str>,
        }
        RequestBuilder::new(StripeMethod::Get, "/prices").query(&Query {
            limit: 100,
            expand: ["data.product"],
            starting_after: self.starting_after,
        })
    }
}

/// `POST /v1/checkout/sessions` in payment mode.
pub(super) struct CreateCheckoutSession<'a>(pub &'a CheckoutRequest);

impl StripeRequest for CreateCheckoutSession<'_> {
    type Output = ();

    fn build(&self) -> RequestBuilder {
        #[derive(serde::Serialize)]
        struct LineItem<'a> {
            price: &'a str,
            quantity: u32,
        }
        #[derive(serde::Serialize)]
        struct Form<'a> {
            mode: &'static str,
            line_items: Vec<LineItem<'a>>,
            success_url: &'a str,
            cancel_url: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            customer: Option<&'a str>,
        }
        let request = self.0;
        RequestBuilder::new(StripeMethod::Post, "/checkout/sessions").form(&Form {
            mode: "payment",
            line_items: request
                .line_items
                .iter()
                .map(|(price, quantity)| LineItem {
                    price,
                    quantity: *quantity,
                })
                .collect(),
            success_url: &request.success_url,
            cancel_url: &request.cancel_url,
            customer: request.customer.as_deref(),
        })
    }
}

/// `GET /v1/events` created after a time.
pub(super) struct ListEvents<'a> {
    pub created_after: i64,
    pub starting_after: Option<&'a str>,
}

impl StripeRequest for ListEvents<'_> {
    type Output = ();

    fn build(&self) -> RequestBuilder {
        #[derive(serde::Serialize)]
        struct Query<'a> {
            created: Created,
            limit: u32,
            #[serde(skip_serializing_if = "Option::is_none")]
            starting_after: Option<&'a str>,
        }
        #[derive(serde::Serialize)]
        struct Created {
            gt: i64,
        }
        RequestBuilder::new(StripeMethod::Get, "/events").query(&Query {
            created: Created {
                gt: self.created_after,
            },
            limit: 100,
            starting_after: self.starting_after,
        })
    }
}
