//! Checking mutation input before anything is remembered or charged: bad input gets a clear
//! `BAD_USER_INPUT` naming the field, and leaves no state behind.

use super::money;
use super::service::{CreateCheckout, CreateIntent};
use crate::error::AppError;
use crate::origins::url_on_allowed_origin;

/// The input of `createPaymentIntent`, checked and normalised (currency lower-cased, blank
/// descriptions dropped): exactly one of `amount` (with `currency`) or `lineItems`.
pub(super) fn intent(input: CreateIntent) -> Result<CreateIntent, AppError> {
    let (amount, currency) = match (input.amount, &input.currency, &input.line_items) {
        (Some(_), _, Some(_)) => {
            return Err(AppError::bad_input(
                "input.lineItems",
                "send either lineItems or amount and currency, not both",
            ));
        }
        (None, None, None) => {
            return Err(AppError::bad_input(
                "input.lineItems",
                "send lineItems (prices from the catalog), or amount and currency",
            ));
        }
        (Some(_), None, None) => {
            return Err(AppError::bad_input(
                "input.currency",
                "required with amount, e.g. usd",
            ));
        }
        (None, Some(_), _) => {
            return Err(AppError::bad_input(
                "input.currency",
                "the catalog sets the currency of lineItems; send currency only with amount",
            ));
        }
        (Some(amount), Some(currency), None) => {
            let currency = money::currency(currency, "input.currency")?;
            (
                Some(money::amount(amount, &currency, "input.amount")?),
                Some(currency),
            )
        }
        (None, None, Some(items)) => {
            line_items(items)?;
            (None, None)
        }
    };
    let input = CreateIntent {
        amount,
        currency,
        description: input
            .description
            .map(|d| d.trim().to_owned())
            .filter(|d| !d.is_empty()),
        metadata: input.metadata,
        line_items: input.line_items,
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

/// Checks the shape of line items: 1 to 100 lines of a price id and a quantity from 1 to 999.
fn line_items(items: &[(String, u32)]) -> Result<(), AppError> {
    if items.is_empty() || items.len() > 100 {
        return Err(AppError::bad_input(
            "input.lineItems",
            "send 1 to 100 line items",
        ));
    }
    for (price, quantity) in items {
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
    Ok(())
}

/// A refund's reason, as the audit keeps it: trimmed, blank dropped, at most 500 characters
/// and no control characters.
pub(super) fn refund_reason(reason: Option<String>) -> Result<Option<String>, AppError> {
    let reason = reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if let Some(text) = &reason
        && (text.chars().count() > 500 || text.chars().any(char::is_control))
    {
        return Err(AppError::bad_input(
            "reason",
            "at most 500 characters, on one line",
        ));
    }
    Ok(reason)
}

/// Checks the input of `createCheckoutSession`; return URLs must be on `allowed_origins`.
pub(super) fn checkout(input: &CreateCheckout, allowed_origins: &[String]) -> Result<(), AppError> {
    line_items(&input.line_items)?;
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
