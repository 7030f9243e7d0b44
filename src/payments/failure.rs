//! A payment's last error: what a provider's failure report becomes before clients see it, and
//! when a later report sets or clears it.

use super::PaymentStatus;
use super::errors::decline_message;
use crate::domain::PaymentError;
use crate::providers::payments::PaymentFailure;

/// The longest provider text kept (in characters): Stripe's decline messages are meant for
/// payers, but they are still text from outside, shown in apps that may not expect a page of it.
const MAX_MESSAGE_CHARS: usize = 200;

/// The longest code kept; Stripe's are short snake_case words.
const MAX_CODE_CHARS: usize = 64;

/// What a provider's failure report becomes for clients: codes kept when they look like codes,
/// and a message in our words for the codes we know, or the provider's own, cleaned and cut.
pub(super) fn shown(failure: &PaymentFailure) -> PaymentError {
    let code = failure.code.as_deref().and_then(code_like);
    let decline_code = failure.decline_code.as_deref().and_then(code_like);
    let provider_text = failure
        .message
        .as_deref()
        .map(clean)
        .filter(|m| !m.is_empty());
    let message = match (decline_code.as_deref().or(code.as_deref()), provider_text) {
        (None, None) => None,
        (known, text) => Some(decline_message(
            known,
            text.as_deref().unwrap_or("the payment attempt failed"),
        )),
    };
    PaymentError {
        code,
        decline_code,
        message,
    }
}

/// The last error a payment has after a report that leaves it in `after`, or `None` when the
/// stored one (`stored`) stays as it is.
///
/// A failure the report carries is recorded while the payment is open (waiting for another
/// attempt); success or authorisation clears it; anything else keeps the last one, so a new
/// attempt in progress still shows why the previous one failed.
pub(super) fn after_report(
    after: PaymentStatus,
    failure: Option<&PaymentFailure>,
    stored: &PaymentError,
) -> Option<PaymentError> {
    let next = match (after, failure) {
        (PaymentStatus::Succeeded | PaymentStatus::RequiresCapture, _) => PaymentError::default(),
        (after, Some(failure)) if after.is_open() => shown(failure),
        _ => return None,
    };
    (next != *stored).then_some(next)
}

fn code_like(code: &str) -> Option<String> {
    let code = code.trim();
    let ok = !code.is_empty()
        && code.len() <= MAX_CODE_CHARS
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-');
    ok.then(|| code.to_owned())
}

/// Control characters and runs of whitespace become single spaces; at most
/// [`MAX_MESSAGE_CHARS`] characters are kept, cut on a character boundary.
fn clean(text: &str) -> String {
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect();
    let joined = words.join(" ");
    match joined.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &joined[..cut]),
        None => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: &str, decline: Option<&str>, message: &str) -> PaymentFailure {
        PaymentFailure {
            code: Some(code.into()),
            decline_code: decline.map(str::to_owned),
            message: Some(message.into()),
        }
    }

    #[test]
    fn known_codes_get_our_words_and_others_the_providers_cleaned() {
        let funds = shown(&failure(
            "card_declined",
            Some("insufficient_funds"),
            "Your card has insufficient funds.",
        ));
        assert_eq!(funds.code.as_deref(), Some("card_declined"));
        assert_eq!(funds.decline_code.as_deref(), Some("insufficient_funds"));
        assert_eq!(
            funds.message.as_deref(),
            Some("The card has insufficient funds. Try another card.")
        );
        let odd = shown(&failure(
            "processing_error",
            None,
            "Try\nagain\u{7}  later.",
        ));
        assert_eq!(
            odd.message.as_deref(),
            Some("The payment was declined: Try again later.")
        );
    }

    #[test]
    fn long_or_strange_text_is_cut_and_dropped() {
        let long = shown(&failure("x", None, &"é".repeat(1000)));
        let message = long.message.unwrap();
        assert!(
            message.chars().count() < MAX_MESSAGE_CHARS + 40,
            "{message}"
        );
        let strange = shown(&failure("<script>", Some(&"a".repeat(500)), ""));
        assert_eq!(
            (strange.code, strange.decline_code, strange.message),
            (None, None, None)
        );
    }

    #[test]
    fn a_failure_is_kept_until_a_success_clears_it() {
        let declined = failure("card_declined", None, "Your card was declined.");
        let none = PaymentError::default();
        let set = after_report(PaymentStatus::RequiresPaymentMethod, Some(&declined), &none)
            .expect("recorded");
        assert_eq!(set.code.as_deref(), Some("card_declined"));
        assert_eq!(
            after_report(PaymentStatus::RequiresPaymentMethod, Some(&declined), &set),
            None,
            "the same failure again changes nothing"
        );
        assert_eq!(after_report(PaymentStatus::Processing, None, &set), None);
        assert_eq!(
            after_report(PaymentStatus::Succeeded, None, &set),
            Some(PaymentError::default())
        );
        assert_eq!(after_report(PaymentStatus::Succeeded, None, &none), None);
        assert_eq!(
            after_report(PaymentStatus::Canceled, Some(&declined), &none),
            None
        );
    }
}
