//! Closed loop (workers), and what both ways of driving load share; open loop is
//! in `open_loop`.
//!
//! Both are bounded: nothing is sent at or after `end`. Closed loop drops a call
//! still in flight at `end` (it counts calls answered inside the window); open loop
//! lets each call scheduled inside the window run to its answer or its deadline,
//! so the slowest calls are not left out of the latency.

use crate::client::{DecisionClient, TASK_FAILED, Workload};
use crate::stats::Stats;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until, timeout_at};
use tonic::transport::Channel;

/// Calls sent before `measure_from` are warmup; the run stops at `end`.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub start: Instant,
    pub measure_from: Instant,
    pub end: Instant,
}

/// How long past their last possible answer the collection waits for tasks that
/// should already be done, before aborting them.
pub const STRAGGLER_GRACE: Duration = Duration::from_secs(2);

pub struct RunResult {
    pub stats: Stats,
    /// Tasks that had not stopped in time and were aborted (should be 0).
    pub aborted: usize,
}

/// connections x streams workers; each sends its next call when the previous answered.
pub async fn closed_loop(
    channels: &[Channel],
    streams: usize,
    workload: Arc<Workload>,
    window: Window,
) -> RunResult {
    let mut tasks = JoinSet::new();
    for (connection, channel) in channels.iter().enumerate() {
        for stream in 0..streams {
            let worker = (connection * streams + stream) as u64;
            let client = DecisionClient::new(channel.clone());
            tasks.spawn(closed_worker(client, workload.clone(), worker, window));
        }
    }
    let mut stats = Stats::default();
    let deadline = window.end + STRAGGLER_GRACE;
    while let Ok(Some(joined)) = timeout_at(deadline, tasks.join_next()).await {
        match joined {
            Ok(part) => stats.merge(part),
            Err(_) => stats.record_error(TASK_FAILED),
        }
    }
    let aborted = tasks.len();
    tasks.abort_all();
    RunResult { stats, aborted }
}

async fn closed_worker(
    mut client: DecisionClient,
    workload: Arc<Workload>,
    worker: u64,
    window: Window,
) -> Stats {
    let mut stats = Stats::default();
    sleep_until(window.start).await;
    for seq in 0u64.. {
        let sent = Instant::now();
        if sent >= window.end {
            break;
        }
        let outcome = tokio::select! {
            biased;
            outcome = workload.call(&mut client, worker, seq) => outcome,
            () = sleep_until(window.end) => break,
        };
        let done = Instant::now();
        if sent >= window.measure_from && done <= window.end {
            stats.record(outcome, sent - window.measure_from, done - sent);
        }
    }
    stats
}
