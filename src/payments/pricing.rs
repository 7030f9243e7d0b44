//! Pricing a payment from the catalog: the server, not the client, decides what line items
//! cost. One-time prices only, one currency per payment, overflow-checked.

use super::money;
use crate::error::AppError;
use crate::providers::payments::ProviderPrice;
use crate::store::PaymentLine;

/// A payment priced from the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Priced {
    /// The total, in minor units.
    pub(super) amount: i64,
    /// Lower-case ISO-4217, shared by every line.
    pub(super) currency: String,
    /// The lines at the prices charged (their payment id is filled in when it is recorded).
    pub(super) lines: Vec<PaymentLine>,
}

/// Prices `items` (`(price id, quantity)`, already checked for shape) from `catalog`; an
/// archived price is not for sale.
pub(super) fn price(
    catalog: &[ProviderPrice],
    items: &[(String, u32)],
) -> Result<Priced, AppError> {
    const FIELD: &str = "input.lineItems";
    let mut currency: Option<&str> = None;
    let mut total: i64 = 0;
    let mut lines = Vec::with_capacity(items.len());
    for (position, (price_id, quantity)) in items.iter().enumerate() {
        let price = catalog
            .iter()
            .find(|p| &p.id == price_id && p.active)
            .ok_or_else(|| AppError::PriceNotFound {
                price_id: price_id.clone(),
            })?;
        if price.interval.is_some() {
            return Err(AppError::bad_input(
                "input.lineItems.priceId",
                format!("{price_id:?} is a recurring price; a payment takes one-time prices only"),
            ));
        }
        match currency {
            None => currency = Some(&price.currency),
            Some(first) if first != price.currency => {
                return Err(AppError::bad_input(
                    FIELD,
                    format!(
                        "one currency per payment: {price_id:?} is in {}, earlier lines in {}",
                        price.currency.to_ascii_uppercase(),
                        first.to_ascii_uppercase()
                    ),
                ));
            }
            Some(_) => {}
        }
        let too_large = || AppError::bad_input(FIELD, "the total is too large for one payment");
        let line = price
            .unit_amount
            .checked_mul(i64::from(*quantity))
            .ok_or_else(too_large)?;
        total = total.checked_add(line).ok_or_else(too_large)?;
        lines.push(PaymentLine {
            payment_id: uuid::Uuid::nil(),
            position: position as i64,
            price_id: price_id.clone(),
            quantity: i64::from(*quantity),
            unit_amount: price.unit_amount,
        });
    }
    let currency = currency
        .ok_or_else(|| AppError::bad_input(FIELD, "send 1 to 100 line items"))?
        .to_owned();
    let amount = money::amount(total, &currency, FIELD)?;
    Ok(Priced {
        amount,
        currency,
        lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn catalog() -> Vec<ProviderPrice> {
        let price = |id: &str, amount, currency: &str, interval: Option<&str>| ProviderPrice {
            id: id.into(),
            product: None,
            unit_amount: amount,
            currency: currency.into(),
            interval: interval.map(Into::into),
            interval_count: interval.map(|_| 1),
            active: id != "price_archived",
            metadata: Default::default(),
        };
        vec![
            price("price_beans", 1_800, "usd", None),
            price("price_mug", 950, "usd", None),
            price("price_club", 2_500, "usd", Some("month")),
            price("price_euro", 900, "eur", None),
            price("price_huge", i64::MAX / 2, "usd", None),
            price("price_archived", 500, "usd", None),
        ]
    }

    fn items(lines: &[(&str, u32)]) -> Vec<(String, u32)> {
        lines.iter().map(|(id, q)| ((*id).to_owned(), *q)).collect()
    }

    fn code(lines: &[(&str, u32)]) -> (ErrorCode, Option<String>) {
        match price(&catalog(), &items(lines)) {
            Err(AppError::BadUserInput { field, .. }) => (ErrorCode::BadUserInput, field),
            Err(err) => (err.code(), None),
            Ok(priced) => panic!("priced {priced:?}"),
        }
    }

    #[test]
    fn totals_come_from_the_catalog() {
        let priced = price(&catalog(), &items(&[("price_beans", 2), ("price_mug", 1)])).unwrap();
        assert_eq!((priced.amount, priced.currency.as_str()), (4_550, "usd"));
        assert_eq!(
            priced
                .lines
                .iter()
                .map(|l| (l.position, l.price_id.as_str(), l.quantity, l.unit_amount))
                .collect::<Vec<_>>(),
            [(0, "price_beans", 2, 1_800), (1, "price_mug", 1, 950)]
        );
    }

    #[test]
    fn unknown_recurring_mixed_and_oversized_lines_are_refused() {
        assert_eq!(code(&[("price_gone", 1)]).0, ErrorCode::PriceNotFound);
        assert_eq!(code(&[("price_archived", 1)]).0, ErrorCode::PriceNotFound);
        assert_eq!(
            code(&[("price_club", 1)]),
            (
                ErrorCode::BadUserInput,
                Some("input.lineItems.priceId".into())
            )
        );
        let field = Some("input.lineItems".to_owned());
        assert_eq!(
            code(&[("price_beans", 1), ("price_euro", 1)]),
            (ErrorCode::BadUserInput, field.clone())
        );
        // Overflow is caught, and so is a total past Stripe's largest amount.
        assert_eq!(
            code(&[("price_huge", 999)]),
            (ErrorCode::BadUserInput, field.clone())
        );
        assert_eq!(
            code(&[("price_huge", 1), ("price_huge", 1), ("price_huge", 1)]),
            (ErrorCode::BadUserInput, field.clone())
        );
        assert_eq!(code(&[]), (ErrorCode::BadUserInput, field));
    }
}
