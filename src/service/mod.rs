//! Use cases: what the gRPC layer calls once input is parsed into domain types.
//!
//! The service owns the clock, the policy and the store; it turns store outcomes
//! into decisions and errors, and never sees protobuf.

mod decision;
mod error;
mod ledger;
mod ledger_rows;
mod review;
pub mod whatif;

pub use decision::{CheckOutcome, Offer, OrderCheck};
pub use error::ServiceError;
pub use ledger::{ExposureReport, InsuranceView, InvoiceDraft, OpenInvoiceLine, PaymentDraft};
pub use ledger_rows::{LedgerEntry, RowOutcome};
pub use review::{HeldPage, OrderRelease, Releasable, ReleaseAnswer, outcome_of};

use crate::clock::Clock;
use crate::domain::date::Date;
use crate::domain::date_window::DateWindow;
use crate::domain::policy::Policy;
use crate::domain::retention::{LedgerDay, Retention};
use crate::store::{Store, StoreError};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

tokio::task_local! {
    static CALLER_DEADLINE: Instant;
}

/// Runs a use case under the caller's deadline (`answer_by`, from its gRPC
/// timeout): every store call it makes keeps within it as well as within the
/// store timeout, so that a call the caller has given up on writes nothing.
pub async fn within_caller_deadline<F: Future>(until: Option<Instant>, call: F) -> F::Output {
    match until {
        Some(until) => CALLER_DEADLINE.scope(until, call).await,
        None => call.await,
    }
}

#[derive(Clone, Debug)]
pub struct ServiceSettings {
    /// How long an approved order stays reserved without an invoice or cancel.
    pub reservation_ttl: Duration,
    /// Longest wait for a store answer (out-of-process stores only); a decision
    /// also keeps within the caller's gRPC deadline.
    pub store_timeout: Duration,
    /// How far from today invoice and payment dates may lie.
    pub ledger_date_window: DateWindow,
    /// How long settled items (tombstones, sticky orders, paid invoices, payment
    /// ids) are honoured after they settled, on the service's business date.
    pub ledger_retention: Retention,
}

impl Default for ServiceSettings {
    fn default() -> ServiceSettings {
        ServiceSettings {
            reservation_ttl: Duration::from_secs(30 * 86_400),
            store_timeout: Duration::from_millis(250),
            ledger_date_window: DateWindow::DEFAULT,
            ledger_retention: Retention::DEFAULT,
        }
    }
}

/// Counts runtime invariant violations (reserved without APPROVED and the like).
/// Each is also logged at error level with its decision_id; tests and operators
/// read the count to know the copies of a rule still agree.
#[derive(Clone, Debug, Default)]
pub struct InvariantMonitor(Arc<AtomicU64>);

impl InvariantMonitor {
    fn record(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn violations(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

pub struct CreditService<S: Store> {
    store: Arc<S>,
    policy: Arc<Policy>,
    clock: Arc<dyn Clock>,
    settings: ServiceSettings,
    invariants: InvariantMonitor,
    /// The decision archive (`--archive-url`), read by GetDecision and
    /// ListDecisions; its shipper runs beside the server.
    archive: Option<Arc<crate::archive::pool::Archive>>,
}

impl<S: Store> Clone for CreditService<S> {
    fn clone(&self) -> Self {
        CreditService {
            store: self.store.clone(),
            policy: self.policy.clone(),
            clock: self.clock.clone(),
            settings: self.settings.clone(),
            invariants: self.invariants.clone(),
            archive: self.archive.clone(),
        }
    }
}

impl<S: Store> CreditService<S> {
    pub fn new(
        store: Arc<S>,
        policy: Arc<Policy>,
        clock: Arc<dyn Clock>,
        settings: ServiceSettings,
    ) -> Self {
        CreditService {
            store,
            policy,
            clock,
            settings,
            invariants: InvariantMonitor::default(),
            archive: None,
        }
    }

    pub fn with_archive(mut self, archive: Arc<crate::archive::pool::Archive>) -> Self {
        self.archive = Some(archive);
        self
    }

    /// The store, for the tasks beside the server (the archive's shipper).
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    pub fn archive(&self) -> Option<&Arc<crate::archive::pool::Archive>> {
        self.archive.as_ref()
    }

    /// The service's invariant monitor (shared by its clones).
    pub fn invariants(&self) -> InvariantMonitor {
        self.invariants.clone()
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub async fn store_health(&self) -> crate::store::StoreHealth {
        match tokio::time::timeout(self.settings.store_timeout, self.store.health()).await {
            Ok(health) => health,
            Err(_) => crate::store::StoreHealth::Unreachable,
        }
    }

    /// Bounds a store call by the store timeout and by the caller's deadline
    /// (see [`within_caller_deadline`]), whichever is sooner: a store that does
    /// not answer in time counts as unavailable.
    async fn bounded<T>(
        &self,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        if S::IN_PROCESS {
            return call.await;
        }
        let caller = CALLER_DEADLINE.try_with(|at| *at).ok();
        self.bound(caller, call).await
    }

    /// As [`Self::bounded`], ending early enough to leave time, within the
    /// caller's deadline, for a release of what the call may have reserved if its
    /// answer comes too late: a quarter of what is left, at most the store timeout.
    async fn bounded_leaving_release_time<T>(
        &self,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        if S::IN_PROCESS {
            return call.await;
        }
        let caller = CALLER_DEADLINE.try_with(|at| *at).ok();
        let until = caller.map(|until| {
            let left = until.saturating_duration_since(Instant::now());
            until - (left / 4).min(self.settings.store_timeout)
        });
        self.bound(until, call).await
    }

    async fn bound<T>(
        &self,
        until: Option<Instant>,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        if S::IN_PROCESS {
            return call.await;
        }
        let limit = self.settings.store_timeout;
        let budget = until.map_or(limit, |u| {
            u.saturating_duration_since(Instant::now()).min(limit)
        });
        let give_up = Instant::now() + budget;
        match crate::store::deadline::within(give_up, tokio::time::timeout(budget, call)).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Unavailable(format!(
                "no answer within {} ms",
                budget.as_millis()
            ))),
        }
    }

    /// The ledger's calendar for a store call made on `today`: retention is
    /// measured on the service's date, never on the store's clock.
    fn ledger_day(&self, today: Date) -> LedgerDay {
        self.settings.ledger_retention.on(today)
    }

    /// The ledger's calendar for a store call made now.
    fn ledger_today(&self) -> LedgerDay {
        self.ledger_day(self.clock.today())
    }

    fn ttl_secs(&self) -> i64 {
        self.settings.reservation_ttl.as_secs() as i64
    }
}
