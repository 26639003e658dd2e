//! The service's handle on the archive: a connection pool, the reads GetDecision
//! and ListDecisions make, and what the shipper last saw (for health, metrics
//! and the logs).

use super::connect::redact;
use super::decisions;
use crate::domain::decision_record::DecisionRecord;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use parking_lot::Mutex;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_postgres::NoTls;

/// Connections a replica holds to the archive: the shipper's and a few for
/// analysts' reads.
const POOL_SIZE: usize = 4;

/// How long a read or a batch may wait for a connection or a statement: an
/// archive that hangs must not hold a GetDecision (or the shipper) for long.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Archive {
    pool: Pool,
    url: String,
    pub retention_days: u32,
    shipped: AtomicU64,
    /// Since when batches fail, and the last error: an outage the operator
    /// sees in health and logs before the outbox fills.
    failing: Mutex<Option<(Instant, String)>>,
}

impl Archive {
    /// Connects lazily: a replica starts, and decides, while the archive is
    /// down (its decisions wait in the outbox).
    pub fn new(url: &str, retention_days: u32) -> Result<Archive, String> {
        let config = tokio_postgres::Config::from_str(url)
            .map_err(|e| format!("--archive-url {}: {e}", redact(url)))?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(STATEMENT_TIMEOUT))
            .create_timeout(Some(STATEMENT_TIMEOUT))
            .recycle_timeout(Some(STATEMENT_TIMEOUT))
            .build()
            .map_err(|e| format!("archive pool: {e}"))?;
        Ok(Archive {
            pool,
            url: url.to_owned(),
            retention_days,
            shipped: AtomicU64::new(0),
            failing: Mutex::new(None),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub async fn client(&self) -> Result<deadpool_postgres::Object, String> {
        self.pool
            .get()
            .await
            .map_err(|e| format!("archive at {}: {e}", redact(&self.url)))
    }

    pub async fn get(&self, decision_id: &str) -> Result<Option<DecisionRecord>, String> {
        let client = self.client().await?;
        timed(decisions::get(&client, decision_id)).await
    }

    pub async fn list(
        &self,
        buyer_id: &str,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        after: Option<(i64, String)>,
        limit: usize,
    ) -> Result<Vec<DecisionRecord>, String> {
        let client = self.client().await?;
        timed(decisions::list(
            &client, buyer_id, from_ms, to_ms, after, limit,
        ))
        .await
    }

    /// One page of every buyer's decisions in a period ([`decisions::list_all`]).
    pub async fn list_all(
        &self,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DecisionRecord>, String> {
        let client = self.client().await?;
        timed(decisions::list_all(&client, from_ms, to_ms, after, limit)).await
    }

    pub fn shipped(&self, n: u64) {
        self.shipped.fetch_add(n, Ordering::Relaxed);
        if let Some((since, _)) = self.failing.lock().take() {
            tracing::info!(
                down_for_secs = since.elapsed().as_secs(),
                "decision archive reachable again: shipping"
            );
        }
    }

    pub fn shipped_total(&self) -> u64 {
        self.shipped.load(Ordering::Relaxed)
    }

    pub fn failed(&self, error: String) {
        let mut failing = self.failing.lock();
        match &mut *failing {
            Some((_, last)) => *last = error,
            None => {
                tracing::error!(%error, "decision archive unreachable: decisions wait in the outbox (docs/operations.md, archive backlog)");
                *failing = Some((Instant::now(), error));
            }
        }
    }

    /// Since when, and why, the archive takes no records (None: it does).
    pub fn failing(&self) -> Option<(Duration, String)> {
        self.failing
            .lock()
            .as_ref()
            .map(|(since, error)| (since.elapsed(), error.clone()))
    }
}

/// Bounds an archive statement (PostgreSQL gone silent, a lock held).
pub async fn timed<T>(work: impl Future<Output = Result<T, String>>) -> Result<T, String> {
    tokio::time::timeout(STATEMENT_TIMEOUT, work)
        .await
        .map_err(|_| format!("the archive did not answer within {STATEMENT_TIMEOUT:?}"))?
}
