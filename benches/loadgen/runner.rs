//! The two ways of driving load: closed loop (workers) and open loop (schedule).
//!
//! Both are bounded by the run window: nothing is sent at or after `end`, and a
//! call still in flight at `end` is dropped (and not counted).

use crate::client::{DecisionClient, OVERLOAD, Outcome, TASK_FAILED, Workload};
use crate::stats::Stats;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::task::{JoinError, JoinSet};
use tokio::time::{Instant, sleep_until};
use tonic::transport::Channel;

/// Calls sent before `measure_from` are warmup; the run stops at `end`.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub start: Instant,
    pub measure_from: Instant,
    pub end: Instant,
}

/// How long past `end` the collection waits for tasks that should already be done.
pub const STRAGGLER_GRACE: Duration = Duration::from_secs(2);

pub struct RunResult {
    pub stats: Stats,
    /// Tasks that had not stopped by `end` + grace and were aborted (should be 0).
    pub aborted: usize,
}

async fn collect(mut tasks: JoinSet<Stats>, window: Window) -> RunResult {
    let mut stats = Stats::default();
    let deadline = window.end + STRAGGLER_GRACE;
    while let Ok(Some(joined)) = tokio::time::timeout_at(deadline, tasks.join_next()).await {
        match joined {
            Ok(part) => stats.merge(part),
            Err(_) => stats.record_error(TASK_FAILED),
        }
    }
    let aborted = tasks.len();
    tasks.abort_all();
    RunResult { stats, aborted }
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
    collect(tasks, window).await
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

/// Releases one slot of the outstanding-call cap when the call's task ends, however it ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Calls scheduled at `rate` per second in total, independent of answers: call
/// number `k` of connection `c` is due at start + (k * connections + c) / rate.
/// Latency runs from the due time, so a late send (or a full cap) shows up in it
/// instead of silently slowing the schedule (no coordinated omission).
pub async fn open_loop(
    channels: &[Channel],
    rate: u64,
    max_outstanding: usize,
    workload: Arc<Workload>,
    window: Window,
) -> RunResult {
    let outstanding = Arc::new(AtomicUsize::new(0));
    let connections = channels.len() as u64;
    let mut tasks = JoinSet::new();
    for (connection, channel) in channels.iter().enumerate() {
        let schedule = Schedule {
            connection: connection as u64,
            connections,
            rate,
            max_outstanding,
            window,
        };
        let client = DecisionClient::new(channel.clone());
        tasks.spawn(schedule.run(client, workload.clone(), outstanding.clone()));
    }
    collect(tasks, window).await
}

struct Schedule {
    connection: u64,
    connections: u64,
    rate: u64,
    max_outstanding: usize,
    window: Window,
}

type Answer = Option<(Outcome, Duration)>;

impl Schedule {
    fn due(&self, k: u64) -> Instant {
        let slot = u128::from(k) * u128::from(self.connections) + u128::from(self.connection);
        let nanos = slot * 1_000_000_000 / u128::from(self.rate);
        self.window.start + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    async fn run(
        self,
        client: DecisionClient,
        workload: Arc<Workload>,
        outstanding: Arc<AtomicUsize>,
    ) -> Stats {
        let mut stats = Stats::default();
        let mut in_flight: JoinSet<Answer> = JoinSet::new();
        let end = self.window.end;
        for k in 0u64.. {
            let due = self.due(k);
            if due >= end {
                break;
            }
            if Instant::now() < due {
                sleep_until(due).await;
            } else if k % 256 == 0 {
                // Behind schedule: catch up, but let other tasks run now and then.
                tokio::task::yield_now().await;
            }
            while let Some(joined) = in_flight.try_join_next() {
                absorb(&mut stats, joined);
            }
            let measured = due >= self.window.measure_from;
            if outstanding.fetch_add(1, Ordering::AcqRel) >= self.max_outstanding {
                outstanding.fetch_sub(1, Ordering::AcqRel);
                if measured {
                    stats.record_error(OVERLOAD);
                }
                continue;
            }
            let slot = Slot(outstanding.clone());
            let mut client = client.clone();
            let workload = workload.clone();
            let worker = self.connection;
            in_flight.spawn(async move {
                let _slot = slot;
                let outcome = tokio::select! {
                    biased;
                    outcome = workload.call(&mut client, worker, k) => outcome,
                    () = sleep_until(end) => return None,
                };
                let done = Instant::now();
                (measured && done <= end).then(|| (outcome, done - due))
            });
        }
        // Every call task returns by `end` at the latest.
        while let Some(joined) = in_flight.join_next().await {
            absorb(&mut stats, joined);
        }
        stats
    }
}

fn absorb(stats: &mut Stats, joined: Result<Answer, JoinError>) {
    match joined {
        Ok(Some((outcome, latency))) => stats.record(outcome, latency),
        Ok(None) => {}
        Err(_) => stats.record_error(TASK_FAILED),
    }
}
