//! Span fields as one JSON object, for the JSON log lines (each line carries the fields of the
//! span it was logged in, the request id among them).
//!
//! The stock `JsonFields` gathers a span's fields into a map of `serde_json::Value`s and
//! serialises the map through a UTF-8-checking adaptor; every request opens a span, and that
//! was a tenth of the instructions of an authenticated `{ me { id } }` (decision 0023). This
//! writes each field once, straight into the span's buffer, escaped by serde_json, with the
//! same rules for names (`log.*` dropped, `r#` stripped).

use std::fmt;

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormattedFields;
use tracing_subscriber::fmt::format::{FormatFields, Writer};

/// See the module documentation.
#[derive(Debug, Default, Clone, Copy)]
pub struct SpanFieldsJson;

impl<'writer> FormatFields<'writer> for SpanFieldsJson {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut object = JsonObject::new();
        fields.record(&mut object);
        writer.write_str(&object.finish())
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let mut object = JsonObject::continuing(&current.fields);
        fields.record(&mut object);
        current.fields = object.finish();
        Ok(())
    }
}

/// A JSON object being written; a name recorded twice appears twice, and readers keep the
/// last, as the stock formatter does.
struct JsonObject {
    buffer: Vec<u8>,
    empty: bool,
}

impl JsonObject {
    fn new() -> Self {
        let mut buffer = Vec::with_capacity(128);
        buffer.push(b'{');
        Self {
            buffer,
            empty: true,
        }
    }

    /// Continues an object written earlier (`{...}`), or starts one.
    fn continuing(written: &str) -> Self {
        match written.strip_suffix('}') {
            Some(open) if open.len() > 1 => Self {
                buffer: open.as_bytes().to_vec(),
                empty: false,
            },
            _ => Self::new(),
        }
    }

    fn finish(mut self) -> String {
        self.buffer.push(b'}');
        // Only ASCII punctuation and serde_json's output were written.
        String::from_utf8(self.buffer).unwrap_or_default()
    }

    /// Writes `"name":` (with the separator), or `None` for a field that is not written.
    fn key(&mut self, field: &Field) -> Option<&mut Vec<u8>> {
        let name = field.name();
        if name.starts_with("log.") {
            return None;
        }
        let name = name.strip_prefix("r#").unwrap_or(name);
        if !self.empty {
            self.buffer.push(b',');
        }
        self.empty = false;
        serde_json::to_writer(&mut self.buffer, name).ok()?;
        self.buffer.push(b':');
        Some(&mut self.buffer)
    }

    fn value(&mut self, field: &Field, value: &impl serde::Serialize) {
        if let Some(buffer) = self.key(field)
            && serde_json::to_writer(&mut *buffer, value).is_err()
        {
            buffer.extend_from_slice(b"null");
        }
    }
}

impl Visit for JsonObject {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.value(field, &value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.value(field, &value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.value(field, &value);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.value(field, &value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.value(field, &value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.value(field, &format!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::fmt::format::JsonFields;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;
    use crate::telemetry::captured::CapturedLogs;

    /// The `span` object of a JSON log line written inside a span, its fields formatted by
    /// `fields`.
    fn span_of_log_line<N>(fields: N) -> serde_json::Value
    where
        N: for<'w> FormatFields<'w> + Send + Sync + 'static,
    {
        let logs = CapturedLogs::default();
        let subscriber = tracing_subscriber::registry().with(logs.json_layer(fields));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "http",
                method = "POST",
                r#type = 3_u64,
                quote = "a \"b\"\n",
                shown = %"x",
                later = tracing::field::Empty,
            );
            span.record("later", "set");
            let _entered = span.enter();
            tracing::info!("inside");
        });
        logs.lines()[0]["span"].clone()
    }

    #[test]
    fn log_lines_carry_the_same_span_fields_as_with_the_stock_formatter() {
        let ours = span_of_log_line(SpanFieldsJson);
        assert_eq!(ours, span_of_log_line(JsonFields::new()));
        assert_eq!(ours["method"], "POST");
        assert_eq!(ours["type"], 3);
        assert_eq!(ours["quote"], "a \"b\"\n");
        assert_eq!(ours["shown"], "x");
        assert_eq!(ours["later"], "set");
        assert_eq!(ours["name"], "http");
    }

    #[test]
    fn an_object_written_earlier_is_continued() {
        let mut object = JsonObject::continuing(r#"{"a":1}"#);
        object.buffer.extend_from_slice(br#","b":2"#);
        assert_eq!(object.finish(), r#"{"a":1,"b":2}"#);
        assert_eq!(JsonObject::continuing("").finish(), "{}");
        assert_eq!(JsonObject::continuing("{}").finish(), "{}");
    }
}
