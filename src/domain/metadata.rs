//! Client metadata attached to a payment.

use std::borrow::Cow;
use std::collections::BTreeMap;

/// Client metadata of a payment: string keys to string values, stored as a JSON object in a text
/// column. A stored value that is not such an object fails to load instead of reading as empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata(pub BTreeMap<String, String>);

impl Metadata {
    /// The stored JSON text, e.g. `{"order":"42"}`.
    pub fn as_text(&self) -> Cow<'_, str> {
        // A map of strings always serialises.
        Cow::Owned(serde_json::to_string(&self.0).unwrap_or_else(|_| "{}".into()))
    }
}

impl From<BTreeMap<String, String>> for Metadata {
    fn from(map: BTreeMap<String, String>) -> Self {
        Metadata(map)
    }
}

impl TryFrom<&str> for Metadata {
    type Error = serde_json::Error;

    fn try_from(text: &str) -> Result<Self, Self::Error> {
        serde_json::from_str(text).map(Metadata)
    }
}

crate::domain::text::stored_as_text!(Metadata);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips_and_a_corrupt_value_is_an_error() {
        let map = BTreeMap::from([("order".to_owned(), "42".to_owned())]);
        let text = Metadata(map.clone()).as_text().into_owned();
        assert_eq!(text, r#"{"order":"42"}"#);
        assert_eq!(Metadata::try_from(text.as_str()).unwrap(), Metadata(map));
        assert_eq!(Metadata::try_from("{}").unwrap(), Metadata::default());
        assert!(Metadata::try_from("{not json").is_err());
        assert!(Metadata::try_from(r#"{"n":1}"#).is_err());
    }
}
