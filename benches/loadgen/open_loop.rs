//! Open loop: calls due at a fixed rate whatever the server answers, latency from
//! the due time (no coordinated omission), and the generator's own lateness
//! measured for every call, so that a run it could not drive is known as such.
//!
//! Why it spins: tokio's timer rounds up to whole milliseconds and a sleeping
//! thread wakes tens of microseconds late, either of which would put the
//! generator's own lateness into every latency. So the schedule runs on a
//! current-thread runtime (the one the connections live on, pinned to the load
//! generator's core) and, once the next call is less than a timer tick away,
//! yields in a loop: each yield lets the runtime poll its sockets without
//! blocking and run the answers that arrived, then the clock is read again. The
//! core spins while the rate leaves it idle; that is the price of a schedule
//! that is kept to within microseconds.

use crate::client::{DecisionClient, OVERLOAD, Outcome, TASK_FAILED, Workload};
use crate::runner::{RunResult, STRAGGLER_GRACE, Window};
use crate::stats::Stats;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::{JoinError, JoinSet};
use tokio::time::{Instant, sleep_until, timeout_at};
use tonic::transport::Channel;

/// Farther than this from the next due time, the schedule sleeps on the timer
/// (waking `SPIN_AHEAD` early) instead of spinning.
const SPIN_AHEAD: Duration = Duration::from_millis(2);

/// What a measured call came to: outcome, latency from due time, and how late it
/// began. None for a warmup call.
type Answer = Option<(Outcome, Duration, Duration, Duration)>;

/// Call `k` is due at start + k / rate and goes out on connection k mod
/// connections. Every call due inside the measured window is counted once
/// answered or past its deadline.
pub async fn open_loop(
    channels: &[Channel],
    rate: u64,
    max_outstanding: usize,
    workload: Arc<Workload>,
    window: Window,
) -> RunResult {
    let clients: Vec<DecisionClient> = channels
        .iter()
        .map(|channel| DecisionClient::new(channel.clone()))
        .collect();
    let connections = clients.len() as u64;
    let due = |k: u64| {
        let nanos = u128::from(k) * 1_000_000_000 / u128::from(rate);
        window.start + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    };
    let mut stats = Stats::default();
    let mut in_flight: JoinSet<Answer> = JoinSet::new();
    for k in 0u64.. {
        let due = due(k);
        if due >= window.end {
            break;
        }
        wait_until(due, &mut in_flight, &mut stats).await;
        let measured = due >= window.measure_from;
        if in_flight.len() >= max_outstanding {
            if measured {
                stats.record_error(OVERLOAD);
            }
            continue;
        }
        let connection = k % connections;
        // The remainder is below clients.len(), a usize.
        let mut client = clients[connection as usize].clone();
        let workload = workload.clone();
        in_flight.spawn(async move {
            // Lateness is taken where the call really begins: after the spawn,
            // on the task's first poll.
            let began = Instant::now();
            // Bounded by the call's own deadline.
            let outcome = workload.call(&mut client, connection, k).await;
            measured.then(|| {
                (
                    outcome,
                    due - window.measure_from,
                    Instant::now() - due,
                    began.saturating_duration_since(due),
                )
            })
        });
    }
    // Every call returns by its own deadline, at most `timeout` after `end`.
    let deadline = window.end + workload.timeout() + STRAGGLER_GRACE;
    while let Ok(Some(joined)) = timeout_at(deadline, in_flight.join_next()).await {
        absorb(&mut stats, joined);
    }
    let aborted = in_flight.len();
    in_flight.abort_all();
    RunResult { stats, aborted }
}

/// Returns at `due` (or at once when already late), collecting answers meanwhile.
async fn wait_until(due: Instant, in_flight: &mut JoinSet<Answer>, stats: &mut Stats) {
    loop {
        while let Some(joined) = in_flight.try_join_next() {
            absorb(stats, joined);
        }
        let now = Instant::now();
        if now >= due {
            return;
        }
        if due - now > SPIN_AHEAD {
            sleep_until(due - SPIN_AHEAD).await;
        } else {
            tokio::task::yield_now().await;
        }
    }
}

fn absorb(stats: &mut Stats, joined: Result<Answer, JoinError>) {
    match joined {
        Ok(Some((outcome, at, latency, lag))) => {
            stats.record(outcome, at, latency);
            stats.record_lag(lag);
        }
        Ok(None) => {}
        Err(_) => stats.record_error(TASK_FAILED),
    }
}
