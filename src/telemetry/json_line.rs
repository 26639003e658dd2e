//! The JSON log format: one object per line, `timestamp`, `level`, the event's
//! fields at the top level (`message` among them), `target`, and the request
//! span's fields under `span`. The same shape as tracing-subscriber's own JSON
//! format with `flatten_event`, written directly: that format stores a span's
//! fields as JSON text and parses them back with serde for every event, which
//! tripled the cost of the decision line (BENCHMARKS.md, "Telemetry"). Here the
//! span's fields are kept as the text of JSON members and copied in as they are.

use std::fmt;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// Span and event fields as JSON members: `"name":value,…` (no braces).
pub struct JsonFields;

impl<'writer> FormatFields<'writer> for JsonFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = Members::new(writer, true);
        fields.record(&mut visitor);
        visitor.result
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let first = current.fields.is_empty();
        let mut visitor = Members::new(current.as_writer(), first);
        fields.record(&mut visitor);
        visitor.result
    }
}

/// The line of an event.
pub struct JsonLine;

impl<S, N> FormatEvent<S, N> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        writer.write_str("{\"timestamp\":\"")?;
        SystemTime.format_time(&mut writer)?;
        write!(writer, "\",\"level\":\"{}\"", meta.level())?;
        let mut fields = Members::new(writer.by_ref(), false);
        event.record(&mut fields);
        fields.result?;
        writer.write_str(",\"target\":")?;
        json_string(&mut writer, meta.target())?;
        let span = event
            .parent()
            .and_then(|id| ctx.span(id))
            .or_else(|| ctx.lookup_current());
        if let Some(span) = span {
            let extensions = span.extensions();
            writer.write_str(",\"span\":{")?;
            if let Some(fields) = extensions.get::<FormattedFields<N>>()
                && !fields.fields.is_empty()
            {
                writer.write_str(&fields.fields)?;
                writer.write_str(",")?;
            }
            writer.write_str("\"name\":")?;
            json_string(&mut writer, span.name())?;
            writer.write_str("}")?;
        }
        writer.write_str("}\n")
    }
}

/// Writes `"name":value` members, comma-separated.
struct Members<'a> {
    writer: Writer<'a>,
    first: bool,
    result: fmt::Result,
}

impl<'a> Members<'a> {
    fn new(writer: Writer<'a>, first: bool) -> Members<'a> {
        Members {
            writer,
            first,
            result: Ok(()),
        }
    }

    fn member(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'a>) -> fmt::Result) {
        if self.result.is_err() {
            return;
        }
        let separator = if self.first { "" } else { "," };
        self.first = false;
        self.result = self
            .writer
            .write_str(separator)
            .and_then(|()| json_string(&mut self.writer, field.name()))
            .and_then(|()| self.writer.write_str(":"))
            .and_then(|()| value(&mut self.writer));
    }
}

impl Visit for Members<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field, |w| json_string(w, value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field, |w| write!(w, "{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field, |w| write!(w, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field, |w| write!(w, "{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // Display and Debug values become strings, escaped.
        super::with_text_of(value, |text| self.member(field, |w| json_string(w, text)));
    }
}

/// A JSON string literal (RFC 8259 escaping). Scanned as bytes: every byte
/// that needs escaping is ASCII, and a UTF-8 sequence never contains one, so
/// the text between them is copied whole.
fn json_string(writer: &mut Writer<'_>, text: &str) -> fmt::Result {
    writer.write_char('"')?;
    let bytes = text.as_bytes();
    let mut plain_from = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        let escaped = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        writer.write_str(&text[plain_from..at])?;
        if escaped.is_empty() {
            write!(writer, "\\u{byte:04x}")?;
        } else {
            writer.write_str(escaped)?;
        }
        plain_from = at + 1;
    }
    writer.write_str(&text[plain_from..])?;
    writer.write_char('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(events: impl FnOnce()) -> Vec<serde_json::Value> {
        let buffer = crate::telemetry::test_writer::Buffer::default();
        let written = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(JsonFields)
            .event_format(JsonLine)
            .with_writer(move || buffer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, events);
        let text = written.text();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    #[test]
    fn every_value_round_trips_through_json_with_its_span() {
        let hostile = "O-1\",\"decision\":\"approved\\\n\u{1}\u{7f}é";
        let lines = lines_of(|| {
            let span = tracing::info_span!("request", rpc = "CheckCreditLimit", buyer_id = %hostile, latency_us = tracing::field::Empty);
            span.record("latency_us", 42u64);
            span.in_scope(|| {
                tracing::info!(target: "creditgate::decision", order_id = %hostile, n = -3i64, ok = true, "decision")
            });
            tracing::warn!(note = ?Some("x"), "outside\nany span");
        });
        assert_eq!(lines.len(), 2);
        let event = &lines[0];
        assert_eq!(event["level"], "INFO");
        assert_eq!(event["message"], "decision");
        assert_eq!(event["target"], "creditgate::decision");
        assert_eq!(event["order_id"], hostile);
        assert_eq!(event["n"], -3);
        assert_eq!(event["ok"], true);
        assert!(event["decision"].is_null(), "no forged member: {event}");
        assert_eq!(event["span"]["rpc"], "CheckCreditLimit");
        assert_eq!(event["span"]["buyer_id"], hostile);
        assert_eq!(event["span"]["latency_us"], 42);
        assert_eq!(event["span"]["name"], "request");
        assert!(event["timestamp"].as_str().unwrap().ends_with('Z'));
        let outside = &lines[1];
        assert_eq!(outside["message"], "outside\nany span");
        assert_eq!(outside["note"], "Some(\"x\")");
        assert!(outside["span"].is_null());
    }
}
