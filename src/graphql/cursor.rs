//! Opaque cursors: clients pass back what they were given and never build their own.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::AppError;

/// Encodes a position in a list kind (e.g. `pe` for payment events).
pub fn encode(kind: &str, position: i64) -> String {
    encode_text(kind, &position.to_string())
}

/// Decodes a cursor of `kind`; `field` names the argument in the error.
pub fn decode(kind: &str, cursor: &str, field: &str) -> Result<i64, AppError> {
    let position = decode_text(kind, cursor, field)?;
    position
        .parse::<i64>()
        .ok()
        .filter(|p| *p >= 0)
        .ok_or_else(|| invalid(field))
}

/// Encodes any position text for a list kind.
pub fn encode_text(kind: &str, position: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{position}"))
}

/// Decodes a cursor of `kind` to its position text.
pub fn decode_text(kind: &str, cursor: &str, field: &str) -> Result<String, AppError> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid(field))?;
    let text = String::from_utf8(bytes).map_err(|_| invalid(field))?;
    let (found, position) = text.split_once(':').ok_or_else(|| invalid(field))?;
    if found != kind {
        return Err(invalid(field));
    }
    Ok(position.to_owned())
}

/// The error for a cursor this API did not hand out.
pub fn invalid(field: &str) -> AppError {
    AppError::bad_input(
        field,
        "not a cursor this API returned; pass back a cursor exactly as received",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        assert_eq!(decode("pe", &encode("pe", 42), "after").unwrap(), 42);
        assert!(decode("pe", &encode("pay", 42), "after").is_err());
        assert!(decode("pe", "42", "after").is_err());
        assert!(decode("pe", &URL_SAFE_NO_PAD.encode("pe:-1"), "after").is_err());
        assert_eq!(
            decode_text("pay", &encode_text("pay", "abc"), "after").unwrap(),
            "abc"
        );
    }
}
