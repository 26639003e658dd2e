//! The two ways of driving load: closed loop (workers) and open loop (schedule).
//!
//! Both are bounded: nothing is sent at or after `end`. Closed loop drops a call
//! still in flight at `end` (it counts calls answered inside the window); open loop
//! lets each call scheduled inside the window run to its answer or its deadline,
//! so the slowest calls are not left out of the latency.

use crate::client::{DecisionClient, OVERLOAD, Outcome, TASK_FAILED, Workload};
use crate::stats::Stats;
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::task::{JoinError, JoinSet};
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
    /// Open loop: the latest a measured call was sent after its due time.
    pub max_send_lag: Option<Duration>,
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
    RunResult {
        stats,
        aborted,
        max_send_lag: None,
    }
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
            stats.record(outcome, done - sent);
        }
    }
    stats
}

/// The outcome and latency of a measured call; None for a warmup call.
type Answer = Option<(Outcome, Duration)>;

/// Calls scheduled at `rate` per second in total, independent of answers: call
/// `k` is due at start + k / rate and goes out on connection k mod connections.
/// Latency runs from the due time, so a late send shows up in it instead of
/// silently slowing the schedule (no coordinated omission). Every call due inside
/// the measured window is counted once answered or past its deadline.
///
/// The schedule runs on a blocking-pool thread with `std::thread::sleep`: tokio's
/// timer rounds up to whole milliseconds, which would add up to 1 ms of the load
/// generator's own lateness to every measured latency.
pub async fn open_loop(
    channels: &[Channel],
    rate: u64,
    max_outstanding: usize,
    workload: Arc<Workload>,
    window: Window,
) -> RunResult {
    let last_answer = window.end + workload.timeout();
    let schedule = Schedule {
        clients: channels
            .iter()
            .map(|channel| DecisionClient::new(channel.clone()))
            .collect(),
        rate,
        max_outstanding,
        workload,
        window,
        runtime: Handle::current(),
    };
    let Ok(ticked) = tokio::task::spawn_blocking(move || schedule.run()).await else {
        let mut stats = Stats::default();
        stats.record_error(TASK_FAILED);
        return RunResult {
            stats,
            aborted: 0,
            max_send_lag: None,
        };
    };
    let Ticked {
        mut stats,
        mut in_flight,
        max_send_lag,
    } = ticked;
    // Every call returns by its own deadline, at most `timeout` after `end`.
    let deadline = last_answer + STRAGGLER_GRACE;
    while let Ok(Some(joined)) = timeout_at(deadline, in_flight.join_next()).await {
        absorb(&mut stats, joined);
    }
    let aborted = in_flight.len();
    in_flight.abort_all();
    RunResult {
        stats,
        aborted,
        max_send_lag: Some(max_send_lag),
    }
}

struct Schedule {
    clients: Vec<DecisionClient>,
    rate: u64,
    max_outstanding: usize,
    workload: Arc<Workload>,
    window: Window,
    runtime: Handle,
}

/// What the schedule thread hands back: counts so far and the calls still out.
struct Ticked {
    stats: Stats,
    in_flight: JoinSet<Answer>,
    max_send_lag: Duration,
}

impl Schedule {
    fn due(&self, k: u64) -> Instant {
        let nanos = u128::from(k) * 1_000_000_000 / u128::from(self.rate);
        self.window.start + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// Blocking: sleeps between sends, so it runs on a blocking-pool thread.
    fn run(self) -> Ticked {
        let mut stats = Stats::default();
        let mut in_flight: JoinSet<Answer> = JoinSet::new();
        let mut max_send_lag = Duration::ZERO;
        let connections = self.clients.len() as u64;
        for k in 0u64.. {
            let due = self.due(k);
            if due >= self.window.end {
                break;
            }
            let now = Instant::now();
            if now < due {
                std::thread::sleep(due - now);
            }
            while let Some(joined) = in_flight.try_join_next() {
                absorb(&mut stats, joined);
            }
            let measured = due >= self.window.measure_from;
            if in_flight.len() >= self.max_outstanding {
                if measured {
                    stats.record_error(OVERLOAD);
                }
                continue;
            }
            if measured {
                max_send_lag = max_send_lag.max(Instant::now().saturating_duration_since(due));
            }
            let connection = k % connections;
            // The remainder is below clients.len(), a usize.
            let mut client = self.clients[connection as usize].clone();
            let workload = self.workload.clone();
            in_flight.spawn_on(
                async move {
                    // Bounded by the call's own deadline.
                    let outcome = workload.call(&mut client, connection, k).await;
                    measured.then(|| (outcome, Instant::now() - due))
                },
                &self.runtime,
            );
        }
        Ticked {
            stats,
            in_flight,
            max_send_lag,
        }
    }
}

fn absorb(stats: &mut Stats, joined: Result<Answer, JoinError>) {
    match joined {
        Ok(Some((outcome, latency))) => stats.record(outcome, latency),
        Ok(None) => {}
        Err(_) => stats.record_error(TASK_FAILED),
    }
}
