//! The shipper: a task in every replica that moves decision records from the
//! store's outbox to the archive (docs/archive.md, "The shipper"). At least once:
//! a batch is committed in PostgreSQL before its entries leave the outbox, and
//! the archive keeps a record once (ON CONFLICT DO NOTHING on its id). The
//! archive's schema is brought up to date first, and retention runs hourly.

use super::decisions::{self, InsertError};
use super::pool::{Archive, timed};
use super::{migrate, partitions};
use crate::cli::archive_migrate::MONTHS_AHEAD;
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::store::{OutboxEntry, Store};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Records per INSERT.
pub const BATCH: usize = 500;
/// How often an idle shipper looks at the outbox: a record reaches the archive
/// this long after its decision, at most, when all is well.
const POLL: Duration = Duration::from_millis(50);
/// The longest pause between attempts while the archive is down.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

async fn timed_insert(
    client: &tokio_postgres::Client,
    records: &[Arc<crate::domain::decision_record::DecisionRecord>],
) -> Result<(), InsertError> {
    match tokio::time::timeout(
        super::pool::STATEMENT_TIMEOUT,
        decisions::insert(client, records),
    )
    .await
    {
        Ok(result) => result.map(|_| ()),
        Err(_) => Err(InsertError::Failed(format!(
            "the archive did not answer within {:?}",
            super::pool::STATEMENT_TIMEOUT
        ))),
    }
}

pub struct Shipper<S: Store> {
    pub store: Arc<S>,
    pub archive: Arc<Archive>,
    pub clock: Arc<dyn Clock>,
    /// Set when the server has drained: ship what is left, then stop.
    pub stop: watch::Receiver<bool>,
    pub metrics: Option<Arc<Metrics>>,
}

impl<S: Store> Shipper<S> {
    pub async fn run(mut self) {
        let mut backoff = POLL;
        let mut ready = false;
        let mut retention_at: Option<Instant> = None;
        loop {
            if !ready {
                match self.prepare().await {
                    Ok(()) => ready = true,
                    Err(error) => {
                        self.failed(error);
                        if self.pause(&mut backoff).await {
                            return;
                        }
                        continue;
                    }
                }
            }
            if retention_at.is_none_or(|at| at.elapsed() >= RETENTION_EVERY) {
                retention_at = Some(Instant::now());
                if let Err(error) = self.retention().await {
                    tracing::warn!(%error, "archive retention did not run; it is tried again in an hour");
                }
                match self.store.outbox_housekeeping().await {
                    Ok(0) => {}
                    Ok(removed) => tracing::info!(
                        removed,
                        "removed outbox consumers of replicas that are gone"
                    ),
                    Err(error) => {
                        tracing::warn!(%error, "outbox upkeep did not run; it is tried again in an hour")
                    }
                }
            }
            let entries = match self.store.outbox_read(BATCH).await {
                Ok(entries) => {
                    self.report_outbox().await;
                    entries
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot read the decision outbox");
                    if self.pause(&mut backoff).await {
                        return;
                    }
                    continue;
                }
            };
            if entries.is_empty() {
                if *self.stop.borrow() {
                    return;
                }
                backoff = POLL;
                if self.pause(&mut POLL.clone()).await {
                    return;
                }
                continue;
            }
            for batch in entries.chunks(BATCH) {
                // A batch that cannot be written is retried as it is: its
                // entries stay in the outbox (and, on Redis, pending to this
                // replica until another claims them).
                loop {
                    match self.write(batch).await {
                        Ok(()) => {
                            backoff = POLL;
                            break;
                        }
                        Err(error) => {
                            self.failed(error);
                            // The gauge keeps moving while the outbox grows.
                            self.report_outbox().await;
                            if self.pause(&mut backoff).await {
                                return;
                            }
                        }
                    }
                }
                if let Err(error) = self.store.outbox_ack(batch).await {
                    // Archived; the entries are read again and conflict away.
                    tracing::warn!(%error, "archived a batch but could not remove it from the outbox");
                }
            }
        }
    }

    async fn prepare(&self) -> Result<(), String> {
        let mut client = super::connect::connect(self.archive.url()).await?;
        let migrated = timed(migrate::migrate(&mut client)).await?;
        if !migrated.applied.is_empty() {
            tracing::info!(applied = ?migrated.applied, "archive schema migrated");
        }
        timed(partitions::ensure_ahead(
            &client,
            self.clock.today(),
            MONTHS_AHEAD,
        ))
        .await?;
        Ok(())
    }

    async fn retention(&self) -> Result<(), String> {
        let client = self.archive.client().await?;
        let today = self.clock.today();
        timed(partitions::ensure_ahead(&client, today, MONTHS_AHEAD)).await?;
        let dropped = timed(partitions::drop_expired(
            &client,
            today,
            self.archive.retention_days,
        ))
        .await?;
        if !dropped.is_empty() {
            tracing::info!(
                ?dropped,
                retention_days = self.archive.retention_days,
                "archive retention dropped whole months"
            );
        }
        Ok(())
    }

    /// Writes a batch. A batch PostgreSQL refuses for its content (one bad
    /// record) is written record by record, and what is refused alone is set
    /// aside in `creditgate.rejected_decisions`, loudly: one record must not
    /// hold back every later one (and, with the outbox full, every decision).
    async fn write(&self, batch: &[OutboxEntry]) -> Result<(), String> {
        let records: Vec<_> = batch.iter().map(|entry| entry.record.clone()).collect();
        let client = self.archive.client().await?;
        match timed_insert(&client, &records).await {
            Ok(()) => {}
            Err(InsertError::Failed(error)) => return Err(error),
            Err(InsertError::Refused(error)) => {
                tracing::warn!(%error, records = records.len(), "the archive refused a batch: writing its records one by one");
                for record in &records {
                    match timed_insert(&client, std::slice::from_ref(record)).await {
                        Ok(()) => {}
                        Err(InsertError::Failed(error)) => return Err(error),
                        Err(InsertError::Refused(error)) => {
                            timed(decisions::reject(&client, record, &error)).await?;
                            tracing::error!(decision_id = %record.inputs.decision_id, %error, "the archive refused a decision record: set aside in creditgate.rejected_decisions (docs/operations.md, archive backlog)");
                            if let Some(metrics) = &self.metrics {
                                metrics.archive().rejected.increment(1);
                            }
                        }
                    }
                }
            }
        }
        self.archive.shipped(records.len() as u64);
        if let Some(metrics) = &self.metrics {
            let archive = metrics.archive();
            archive.shipped.increment(records.len() as u64);
            archive.up.set(1.0);
        }
        Ok(())
    }

    async fn report_outbox(&self) {
        if let (Some(metrics), Ok(left)) = (&self.metrics, self.store.outbox_len().await) {
            metrics.archive().outbox.set(left as f64);
        }
    }

    fn failed(&self, error: String) {
        if let Some(metrics) = &self.metrics {
            metrics.archive().up.set(0.0);
        }
        self.archive.failed(error);
    }

    /// Waits `backoff` (then doubles it up to [`MAX_BACKOFF`]); true when the
    /// shipper is told to stop while the archive is failing and its records
    /// are safe without it: on Redis they stay in the outbox for another
    /// replica. The embedded store's outbox dies with the process, so that
    /// shipper keeps trying until the server's shutdown grace ends it.
    async fn pause(&mut self, backoff: &mut Duration) -> bool {
        let wait = *backoff;
        *backoff = (*backoff * 2).min(MAX_BACKOFF);
        let stopped = *self.stop.borrow();
        if stopped && !S::IN_PROCESS && self.archive.failing().is_some() {
            return true;
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = self.stop.changed(), if !stopped => {}
        }
        false
    }
}
