//! Stripe's customer portal (`POST /v1/billing_portal/sessions`): the request, its answer on the
//! wire, and the conversion into the port's type. async-stripe's billing crate is not compiled
//! in for this one call.

use serde::Deserialize;
use stripe::StripeRequest;
use stripe_client_core::{RequestBuilder, StripeMethod};

use crate::providers::payments::{PortalRequest, ProviderPortal};
use crate::providers::resilience::ProviderError;

/// `POST /v1/billing_portal/sessions` for one customer, coming back to `return_url`.
pub(super) struct CreatePortalSession<'a> {
    pub customer: &'a str,
    pub return_url: &'a str,
}

impl StripeRequest for CreatePortalSession<'_> {
    type Output = ();

    fn build(&self) -> RequestBuilder {
        #[derive(serde::Serialize)]
        struct Form<'a> {
            customer: &'a str,
            return_url: &'a str,
        }
        RequestBuilder::new(StripeMethod::Post, "/billing_portal/sessions").form(&Form {
            customer: self.customer,
            return_url: self.return_url,
        })
    }
}

impl<'a> CreatePortalSession<'a> {
    /// The request for `request`; Stripe's portal is always for a customer.
    pub fn of(request: &'a PortalRequest) -> Result<Self, ProviderError> {
        let customer = request
            .customer
            .as_deref()
            .ok_or_else(|| ProviderError::Permanent {
                status: None,
                code: Some("customer".into()),
                message: "a billing portal session needs a Stripe customer".into(),
            })?;
        Ok(Self {
            customer,
            return_url: &request.return_url,
        })
    }
}

/// A `billing_portal.session`.
#[derive(Debug, Deserialize)]
pub(super) struct PortalSession {
    id: String,
    url: Option<String>,
}

impl TryFrom<PortalSession> for ProviderPortal {
    type Error = ProviderError;

    fn try_from(session: PortalSession) -> Result<Self, Self::Error> {
        Ok(ProviderPortal {
            url: session.url.ok_or_else(|| ProviderError::Permanent {
                status: None,
                code: None,
                message: "Stripe response lacks url".into(),
            })?,
            id: session.id,
        })
    }
}
