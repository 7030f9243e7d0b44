//! The event envelope, read leniently: Stripe's API versions (and localstripe's 2017 one) differ
//! in many fields, but every event has an id, a type and `data.object`.

use serde::Deserialize;
use serde_json::Value;

/// The parts of an event every handler relies on.
#[derive(Debug, Clone, Deserialize)]
pub struct Envelope {
    /// `evt_...`: the dedupe key.
    pub id: String,
    /// e.g. `payment_intent.succeeded`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Unix seconds when the provider created the event.
    #[serde(default)]
    pub created: Option<i64>,
    /// The object the event is about.
    pub data: EventData,
}

/// `data` of an event.
#[derive(Debug, Clone, Deserialize)]
pub struct EventData {
    /// The object as it was when the event happened.
    pub object: Value,
}

impl Envelope {
    /// Parses an event body; `None` when it is not an event at all.
    pub fn parse(body: &[u8]) -> Option<Envelope> {
        let envelope: Envelope = serde_json::from_slice(body).ok()?;
        (!envelope.id.is_empty() && !envelope.event_type.is_empty()).then_some(envelope)
    }
}
