//! Tests' view of the logs: JSON log lines written to memory, as the server writes them.

use std::io;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::format::{DefaultFields, FormatFields};
use tracing_subscriber::fmt::{Layer, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

/// Log lines written so far; clones share them.
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// A JSON log layer writing here, shaped like the server's (`LOG_FORMAT=json`), its span
    /// fields formatted by `fields`.
    pub fn json_layer<S, N>(&self, fields: N) -> impl tracing_subscriber::Layer<S>
    where
        S: tracing::Subscriber + for<'a> LookupSpan<'a>,
        N: for<'w> FormatFields<'w> + Send + Sync + 'static,
    {
        Layer::<S, DefaultFields>::default()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .fmt_fields(fields)
            .with_writer(self.clone())
    }

    /// Every line written so far, parsed.
    pub fn lines(&self) -> Vec<serde_json::Value> {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

impl io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
