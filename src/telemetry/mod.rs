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
