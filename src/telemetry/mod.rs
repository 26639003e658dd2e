//! The tracing subscriber: human-readable text or one JSON object per line.
//! JSON lines carry the event's target (`creditgate::decision`, …) and the
//! fields of the request span they belong to (`span`: rpc, buyer_id,
//! latency_us), so a log platform can index and filter on them.
//!
//! Lines are written by a thread of their own through a buffer that is flushed
//! whenever no line is waiting: a request formats its line and hands it over,
//! and a burst of decisions costs one write(2) instead of one each
//! (BENCHMARKS.md, "Telemetry"). Nothing is dropped: when 128,000 lines wait, a
//! request waits for the writer (the log is an audit trail, not a sample).

mod json_line;
mod text_fields;

use crate::config::LogFormat;
use std::io::BufWriter;
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// Bytes gathered before a write when lines come faster than they are written.
const WRITE_BUFFER: usize = 64 * 1024;

/// Calls `use_text` with the Debug text of `value` (Display for `%` fields),
/// formatted into a scratch buffer of the thread: a field costs no allocation.
fn with_text_of(value: &dyn std::fmt::Debug, use_text: impl FnOnce(&str)) {
    use std::cell::RefCell;
    use std::fmt::Write;
    thread_local! {
        static SCRATCH: RefCell<String> = const { RefCell::new(String::new()) };
    }
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut text) => {
            text.clear();
            let _ = write!(text, "{value:?}");
            use_text(&text);
        }
        // A value whose Debug itself logs (re-entrant): no scratch to share.
        Err(_) => use_text(&format!("{value:?}")),
    });
}

/// Installs the subscriber. Keep the guard until the process ends: dropping it
/// writes out the lines still waiting.
pub fn init(format: LogFormat, filter: &str) -> Result<WorkerGuard, String> {
    let filter =
        EnvFilter::try_new(filter).map_err(|e| format!("invalid log filter {filter:?}: {e}"))?;
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("creditgate-log")
        .finish(BufWriter::with_capacity(WRITE_BUFFER, std::io::stdout()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let result = match format {
        LogFormat::Text => builder
            .with_target(false)
            .fmt_fields(text_fields::TextFields)
            .try_init(),
        LogFormat::Json => builder
            .fmt_fields(json_line::JsonFields)
            .event_format(json_line::JsonLine)
            .try_init(),
    };
    result.map_err(|e| format!("cannot install the log subscriber: {e}"))?;
    Ok(guard)
}

#[cfg(test)]
pub(crate) mod test_writer {
    use std::sync::{Arc, Mutex};

    /// What a subscriber under test wrote.
    #[derive(Clone, Default)]
    pub struct Buffer(pub Arc<Mutex<Vec<u8>>>);

    impl Buffer {
        pub fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
