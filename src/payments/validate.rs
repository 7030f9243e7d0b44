//! Checking mutation input before anything is remembered or charged: bad input gets a clear
//! `BAD_USER_INPUT` naming the field, and leaves no state behind.

use super::money;
use super::service::{CreateCheckout, CreateIntent};
use crate::error::AppError;
use crate::origins::url_on_allowed_origin;

/// The input of `createPaymentIntent`, checked and normalised (currency lower-cased, blank
/// descriptions dropped).
pub(super) fn intent(input: CreateIntent) -> Result<CreateIntent, AppError> {
    let currency = money::currency(&input.currency, "input.currency")?;
    let input = CreateIntent {
        amount: money::amount(input.amount, &currency, "input.amount")?,
        currency,
        description: input
            .description
            .map(|d| d.trim().to_owned())
            .filter(|d| !d.is_empty()),
        metadata: input.metadata,
    };
    if input
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 1000)
    {
        return Err(AppError::bad_input(
            "input.description",
            "at most 1000 characters",
        ));
    }
    money::metadata(&input.metadata, "input.metadata")?;
    Ok(input)
}

/// Checks the input of `createCheckoutSession`; return URLs must be on `allowed_origins`.
pub(super) fn checkout(input: &CreateCheckout, allowed_origins: &[String]) -> Result<(), AppError> {
    if input.line_items.is_empty() || input.line_items.len() > 100 {
        return Err(AppError::bad_input(
            "input.lineItems",
            "send 1 to 100 line items",
        ));
    }
    for (price, quantity) in &input.line_items {
        if !(1..=255).contains(&price.len())
            || !price
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(AppError::bad_input(
                "input.lineItems.priceId",
                format!("{price:?} is not a price id (price_...)"),
            ));
        }
        if !(1..=999).contains(quantity) {
            return Err(AppError::bad_input(
                "input.lineItems.quantity",
                "quantity must be from 1 to 999",
            ));
        }
    }
    for (field, url) in [
        ("input.successUrl", &input.success_url),
        ("input.cancelUrl", &input.cancel_url),
    ] {
        if url_on_allowed_origin(allowed_origins, url).is_none() {
            return Err(AppError::bad_input(
                field,
                "must be an absolute http(s) URL on an allowed origin (ALLOWED_ORIGINS)",
            ));
        }
    }
    Ok(())
}
