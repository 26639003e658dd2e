//! Fields of the text log format, written so that a caller cannot forge one:
//! a value holding a space, `=`, a quote, a backslash or a control character is
//! written quoted and escaped (`order_id="O-1 decision=approved"`), any other
//! bare (`order_id=O-1`). The default formatter writes `%` values bare, and ids
//! may hold spaces. The JSON format needs none of this: it escapes by itself.

use std::fmt;
use tracing::field::{Field, Visit};
use tracing_subscriber::field::{MakeVisitor, VisitFmt, VisitOutput};
use tracing_subscriber::fmt::format::Writer;

pub struct TextFields;

impl<'a> MakeVisitor<Writer<'a>> for TextFields {
    type Visitor = TextVisitor<'a>;

    fn make_visitor(&self, writer: Writer<'a>) -> TextVisitor<'a> {
        TextVisitor {
            writer,
            first: true,
            result: Ok(()),
        }
    }
}

pub struct TextVisitor<'a> {
    writer: Writer<'a>,
    first: bool,
    result: fmt::Result,
}

fn needs_quotes(value: &str) -> bool {
    value.is_empty()
        || value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '=' | '"' | '\\'))
}

impl TextVisitor<'_> {
    fn write(&mut self, field: &Field, value: &str) {
        if self.result.is_err() {
            return;
        }
        let separator = if self.first { "" } else { " " };
        self.first = false;
        self.result = if field.name() == "message" {
            // The event's own text comes first, bare; a line break in it must
            // not start a forged line.
            self.writer.write_str(separator).and_then(|()| {
                if !value.contains(['\n', '\r']) {
                    return self.writer.write_str(value);
                }
                value.chars().try_for_each(|c| match c {
                    '\n' => self.writer.write_str("\\n"),
                    '\r' => self.writer.write_str("\\r"),
                    c => self.writer.write_char(c),
                })
            })
        } else if needs_quotes(value) {
            write!(self.writer, "{separator}{}={value:?}", field.name())
        } else {
            write!(self.writer, "{separator}{}={value}", field.name())
        };
    }
}

impl Visit for TextVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.write(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `%` values arrive here too, as Debug forwarding to Display; written out
        // first to see whether they need quotes.
        super::with_text_of(value, |text| self.write(field, text));
    }
}

impl VisitOutput<fmt::Result> for TextVisitor<'_> {
    fn finish(self) -> fmt::Result {
        self.result
    }
}

impl VisitFmt for TextVisitor<'_> {
    fn writer(&mut self) -> &mut dyn fmt::Write {
        &mut self.writer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One event through a text subscriber with these fields; the line written.
    fn line_of(event: impl FnOnce()) -> String {
        let buffer = crate::telemetry::test_writer::Buffer::default();
        let written = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(TextFields)
            .with_writer(move || buffer.clone())
            .with_target(false)
            .without_time()
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, event);
        written.text()
    }

    #[test]
    fn a_caller_cannot_forge_a_field_in_the_text_format() {
        let order_id = "O-1 decision=approved caller=admin";
        let line =
            line_of(|| tracing::info!(order_id = %order_id, decision = "referred", "decision"));
        assert_eq!(
            line.trim(),
            r#"INFO decision order_id="O-1 decision=approved caller=admin" decision=referred"#
        );
        let line = line_of(|| tracing::info!(buyer_id = %"B-1\n INFO forged", n = 3, "x\ny"));
        assert_eq!(line.lines().count(), 1, "{line}");
        assert!(
            line.contains(r#"buyer_id="B-1\n INFO forged" n=3"#),
            "{line}"
        );
        assert!(line.contains(r"x\ny"), "{line}");
    }
}
