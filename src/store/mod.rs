//! The one storage contract the service needs, and its implementations.
//!
//! Every write that a decision depends on is atomic per buyer: a store checks the
//! [`ReserveConditions`] and reserves in one step, so concurrent checks can never
//! approve past a limit.

pub mod deadline;
pub mod decision_format;
pub mod ledger_rows;
pub mod memory;
pub mod outbox;
pub mod redis;
pub mod review;
pub mod tables;
pub mod timed;

use crate::domain::buyer::BuyerRecord;
use crate::domain::date::Date;
use crate::domain::decision_record::{DecisionInputs, DecisionRecord};
use crate::domain::exposure::{ExposureTotals, Invoice, LedgerSnapshot, PaymentStats};
use crate::domain::ids::{BuyerId, InvoiceId, OrderId, PaymentId};
use crate::domain::money::Money;
use crate::domain::policy::{AdjustmentRule, ReserveConditions};
use crate::domain::retention::LedgerDay;
use std::future::Future;
use std::sync::Arc;

pub use ledger_rows::{LedgerWrite, LedgerWritten, RowAnswers};
pub use outbox::{OutboxEntry, OutboxPlace};

/// Most settled items (order records, paid invoices, payment ids) a store call
/// removes once they are past the retention window, and most days of DSO sales it
/// drops: pruning keeps up with the flow of new items without any call's cost
/// growing with a backlog. The Redis scripts' PRUNE_BATCH is the same number.
pub const PRUNE_BATCH: usize = 32;

/// A buyer record and the version that a reservation must match. Shared, not
/// copied: a decision reads the record on every call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBuyer {
    pub record: Arc<BuyerRecord>,
    /// Moves with every change a decision depends on: profile, rating, limit
    /// adjustment.
    pub version: u64,
    /// Moves only when the profile is written: what profile and rating writes
    /// compare-and-set against, so that a rating write (or a payment moving the
    /// limit) never makes a concurrent profile write or scoring start over.
    pub profile_version: u64,
}

/// A sticky approval: the idempotency record of an approved order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approval {
    pub order_id: OrderId,
    pub amount: i64,
    /// Still reserved: not yet invoiced, cancelled or expired.
    pub remaining: i64,
    pub decision_id: String,
    pub approved_at_secs: i64,
}

/// Everything a check-and-reserve needs, decided by the service beforehand.
#[derive(Clone, Debug)]
pub struct ReserveRequest {
    pub buyer_id: BuyerId,
    pub order_id: OrderId,
    pub amount: Money,
    pub conditions: ReserveConditions,
    /// The buyer version the conditions were computed from.
    pub buyer_version: u64,
    /// What the decision record keeps of the service's side, written with the
    /// outcome in the same atomic step; its decision_id is the approval's if this
    /// call creates one.
    pub inputs: Arc<DecisionInputs>,
    pub now_secs: i64,
    /// The service's clock in ms: the embedded store's decision time (Redis uses
    /// its own TIME).
    pub now_ms: i64,
    pub reservation_ttl_secs: i64,
}

impl ReserveRequest {
    pub fn decision_id(&self) -> &str {
        &self.inputs.decision_id
    }
}

/// An analyst's release of a held or referred order (CreditReviewService).
#[derive(Clone, Debug)]
pub struct ReleaseRequest {
    pub buyer_id: BuyerId,
    pub order_id: OrderId,
    pub amount: Money,
    /// The buyer version the inputs were read at.
    pub buyer_version: u64,
    /// With `release` set; its decision_id becomes the approval's.
    pub inputs: Arc<DecisionInputs>,
    pub now_secs: i64,
    pub now_ms: i64,
    pub reservation_ttl_secs: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReleaseOutcome {
    /// Reserved over whatever the policy said; the snapshot is from before.
    Released(LedgerSnapshot),
    /// The order is not waiting for review: never checked, its latest outcome
    /// aged out, or it left the list (approved, cancelled, invoiced).
    NotHeld,
    /// The order waits, for another amount (what it was checked for).
    AmountDiffers(i64),
    /// The order holds an approval already: the service tells a retried release
    /// (its decision record says so) from an ordinary approval.
    Approved(Approval),
    Cancelled,
    Invoiced,
    StaleBuyer,
    UnknownBuyer,
}

/// An order waiting for the credit team: its latest HELD or REFERRED decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldOrder {
    /// When the first decision that left it waiting was made (ms).
    pub first_at_ms: i64,
    /// The latest one; its `decided_at_ms` orders the list.
    pub record: Arc<DecisionRecord>,
}

impl HeldOrder {
    pub fn cursor(&self) -> HeldCursor {
        HeldCursor {
            last_at_ms: self.record.decided_at_ms,
            buyer_id: self.record.inputs.buyer.profile.id.clone(),
            order_id: self.record.inputs.order_id.clone(),
        }
    }
}

/// A position in the held-order list, which runs newest first and then by
/// buyer and order id, descending: a page continues strictly after it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct HeldCursor {
    pub last_at_ms: i64,
    pub buyer_id: BuyerId,
    pub order_id: OrderId,
}

fn new_uuid_v7() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReserveOutcome {
    /// Conditions held: the amount is now reserved. The snapshot is from before.
    Reserved(LedgerSnapshot),
    /// Conditions failed: nothing reserved.
    NotReserved(LedgerSnapshot),
    /// The same order was approved before with the same amount: nothing more reserved.
    Replay(Approval, LedgerSnapshot),
    /// The order id was approved before with another amount.
    Conflict(Approval),
    /// The order was invoiced without an approval (the ERP billed it before, or
    /// without, a check): nothing reserved, it already counts as a receivable.
    Invoiced {
        /// The first invoice that billed the order.
        invoice_id: InvoiceId,
        /// Everything invoiced against the order so far.
        amount: i64,
        snapshot: LedgerSnapshot,
    },
    /// The order was cancelled; its id cannot be approved again.
    Cancelled,
    /// The buyer changed since the conditions were computed: recompute and retry.
    StaleBuyer,
    UnknownBuyer,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CancelOutcome {
    pub released: i64,
    pub was_approved: bool,
    /// The order was invoiced (in part or in full): it stays a receivable, and
    /// only the unshipped remainder, if any, was released.
    pub invoiced: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoiceOutcome {
    pub consumed: i64,
    pub created: bool,
    pub totals: ExposureTotals,
}

#[derive(Clone, Debug)]
pub struct PaymentRequest {
    pub invoice_id: InvoiceId,
    pub amount: i64,
    pub paid_date: Date,
    /// Unique per buyer: the same payment again is a no-op.
    pub payment_id: PaymentId,
    /// The buyer's early-payment discount period, to count early payments.
    pub discount_days: Option<u32>,
    /// How this payment moves the buyer's limit adjustment.
    pub adjustment_rule: AdjustmentRule,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentOutcome {
    pub open_balance: i64,
    pub created: bool,
    pub totals: ExposureTotals,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisputeOutcome {
    pub open_balance: i64,
    pub disputed: bool,
}

/// A buyer's ledger for reporting and scoring.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerView {
    pub totals: ExposureTotals,
    /// Invoices with an open balance, in no particular order. Paid invoices are
    /// not read: what reporting needs of them is in `stats` and `sales_in_window`.
    pub open_invoices: Vec<Invoice>,
    pub stats: PaymentStats,
    /// Credit sales invoiced in the DSO window ending on the call's today
    /// ([`crate::domain::exposure::dso_window`]), paid invoices included.
    pub sales_in_window: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("buyer {0} not found")]
    UnknownBuyer(BuyerId),
    #[error("invoice {0} not found")]
    UnknownInvoice(InvoiceId),
    #[error("invoice {0} was already recorded with other content")]
    InvoiceConflict(InvoiceId),
    #[error("payment {0} was already recorded with another invoice, amount or paid_date")]
    PaymentConflict(PaymentId),
    #[error("paid_date {paid_date} is before the issue date {issue_date} of invoice {invoice}")]
    PaidBeforeIssue {
        invoice: InvoiceId,
        paid_date: Date,
        issue_date: Date,
    },
    /// The buyer changed since it was read (compare-and-set lost): read again.
    #[error("buyer {0} changed concurrently")]
    StaleBuyer(BuyerId),
    #[error("payment of {attempted} exceeds the open balance {open} of invoice {invoice}")]
    Overpayment {
        invoice: InvoiceId,
        open: i64,
        attempted: i64,
    },
    #[error("the buyer's exposure would pass 2^53-1 minor units, the most the ledger keeps exact")]
    Overflow,
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The outbox is full: the archive has not taken records for long (it is
    /// unreachable, or slower than the decisions). No decision is made without
    /// its record (docs/archive.md, "The outbox").
    #[error(
        "the decision outbox is full: the archive has not taken decision records for a while, and no decision is made without its record"
    )]
    ArchiveBacklog,
    /// The store has no marker for this part of the keyspace: it was emptied or
    /// never initialised, so missing data cannot be read as zero exposure.
    #[error(
        "store not initialised (no store marker): exposure unknown; re-seed the ledger and run `creditgate store-init` (docs/operations.md, store loss)"
    )]
    Uninitialised,
}

/// What the health service reports for the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreHealth {
    Ready,
    Uninitialised,
    Unreachable,
    /// The outbox refuses decisions (full: the archive takes no records). The
    /// ledger is still written.
    ArchiveBacklog,
}

/// Whether a buyer was created or replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpsertOutcome {
    pub created: bool,
    pub version: u64,
}

/// Every call that takes a [`LedgerDay`] treats a settled item (order record,
/// tombstone, paid invoice, payment id) that settled before the retention window
/// as absent — a replay of it is a new call — and, except for a check, removes up
/// to [`PRUNE_BATCH`] such items (docs/redis.md, "Retention").
pub trait Store: Send + Sync + 'static {
    /// True for a store inside the process: its calls cannot hang, so the service
    /// does not put them under a timeout.
    const IN_PROCESS: bool;

    fn health(&self) -> impl Future<Output = StoreHealth> + Send;

    fn load_buyer(
        &self,
        buyer_id: &BuyerId,
    ) -> impl Future<Output = Result<Option<StoredBuyer>, StoreError>> + Send;

    /// The buyer as stored now, never from a cache: what a read-modify-write
    /// (UpsertBuyer deciding that nothing changed) must compare against.
    fn load_buyer_fresh(
        &self,
        buyer_id: &BuyerId,
    ) -> impl Future<Output = Result<Option<StoredBuyer>, StoreError>> + Send {
        self.load_buyer(buyer_id)
    }

    /// Creates the buyer (`expected_profile_version` None: it must not exist
    /// yet) or replaces its profile and rating if its profile is still at
    /// `expected_profile_version`; [`StoreError::StaleBuyer`] otherwise. The
    /// limit adjustment is kept.
    fn upsert_buyer(
        &self,
        record: BuyerRecord,
        expected_profile_version: Option<u64>,
    ) -> impl Future<Output = Result<UpsertOutcome, StoreError>> + Send;

    /// Replaces the rating of a buyer whose profile is still at
    /// `expected_profile_version` (the profile that was scored);
    /// [`StoreError::StaleBuyer`] otherwise.
    fn store_rating(
        &self,
        buyer_id: &BuyerId,
        rating: crate::domain::buyer::Rating,
        expected_profile_version: u64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// A settled order record past the retention window reads as no record: the
    /// order is evaluated afresh.
    fn check_and_reserve(
        &self,
        request: ReserveRequest,
        day: LedgerDay,
    ) -> impl Future<Output = Result<ReserveOutcome, StoreError>> + Send;

    /// Undoes a reservation made by `decision_id` that was never invoiced, as if
    /// the check had not happened (the order id may be checked again). Returns
    /// the amount released; 0 when there was nothing of that decision to undo.
    /// Neither releases lapsed reservations nor prunes: it is the rare repair path.
    fn release_reservation(
        &self,
        buyer_id: &BuyerId,
        order_id: &OrderId,
        decision_id: &str,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// Releases what the order still reserves and retires its id: the tombstone
    /// (or the approval, when the order was partly invoiced) settles today and is
    /// kept for the retention window.
    fn cancel_order(
        &self,
        buyer_id: &BuyerId,
        order_id: &OrderId,
        now_secs: i64,
        day: LedgerDay,
    ) -> impl Future<Output = Result<CancelOutcome, StoreError>> + Send;

    fn record_invoice(
        &self,
        buyer_id: &BuyerId,
        invoice: Invoice,
        now_secs: i64,
        day: LedgerDay,
    ) -> impl Future<Output = Result<InvoiceOutcome, StoreError>> + Send;

    fn record_payment(
        &self,
        buyer_id: &BuyerId,
        payment: PaymentRequest,
        now_secs: i64,
        day: LedgerDay,
    ) -> impl Future<Output = Result<PaymentOutcome, StoreError>> + Send;

    fn set_dispute(
        &self,
        buyer_id: &BuyerId,
        invoice_id: &InvoiceId,
        disputed: bool,
        now_secs: i64,
        day: LedgerDay,
    ) -> impl Future<Output = Result<DisputeOutcome, StoreError>> + Send;

    /// Rows of ledger writes of one buyer (an import), in order, each write as
    /// its own call applies it, a row stopping at its first refusal; one answer
    /// list per row. An error of the whole call (unreachable, no such buyer)
    /// may come after some rows were applied: they are idempotent, so the caller
    /// retries them all.
    fn record_ledger_rows(
        &self,
        buyer_id: &BuyerId,
        rows: &[Vec<LedgerWrite>],
        now_secs: i64,
        day: LedgerDay,
    ) -> impl Future<Output = Result<Vec<RowAnswers>, StoreError>> + Send {
        ledger_rows::one_by_one(self, buyer_id, rows, now_secs, day)
    }

    /// Totals, payment stats, DSO sales and the open invoices. The open invoices
    /// may be read in pages after the rest (Redis): a write landing in between
    /// can show in one part and not yet in the other.
    fn ledger(
        &self,
        buyer_id: &BuyerId,
        now_secs: i64,
        day: LedgerDay,
    ) -> impl Future<Output = Result<LedgerView, StoreError>> + Send;

    /// A new decision id for an order of this buyer: a UUIDv7, in which a store
    /// may encode where it will keep the record (Redis: its hash slot), so that
    /// [`Store::decision`] finds it from the id alone.
    fn new_decision_id(&self, _buyer_id: &BuyerId) -> String {
        new_uuid_v7()
    }

    /// Reserves a waiting order's amount whatever its conditions, and records the
    /// release, in one atomic step; the order leaves the held list.
    fn release_order(
        &self,
        request: ReleaseRequest,
        day: LedgerDay,
    ) -> impl Future<Output = Result<ReleaseOutcome, StoreError>> + Send;

    /// A decision record still in the store's bounded history.
    fn decision(
        &self,
        decision_id: &str,
    ) -> impl Future<Output = Result<Option<DecisionRecord>, StoreError>> + Send;

    /// Decisions still in the store's bounded history decided in
    /// `from_ms <= decided_at < to_ms` (either bound optional), in no
    /// particular order; at most `limit` of them (a caller asks one more than
    /// it takes, to learn that there are more). For a policy what-if.
    fn recent_decisions(
        &self,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<DecisionRecord>, StoreError>> + Send;

    /// Waiting orders, newest first, strictly after `after`; at most `limit`.
    fn held_orders(
        &self,
        buyer_id: Option<&BuyerId>,
        after: Option<&HeldCursor>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<HeldOrder>, StoreError>> + Send;

    /// Up to `max` outbox records not yet acknowledged, oldest first per
    /// outbox; records read by a shipper that died are read again once idle
    /// (Redis). A store without an outbox (no archive) has none.
    fn outbox_read(
        &self,
        _max: usize,
    ) -> impl Future<Output = Result<Vec<OutboxEntry>, StoreError>> + Send {
        std::future::ready(Ok(Vec::new()))
    }

    /// Removes records the archive has committed.
    fn outbox_ack(
        &self,
        _entries: &[OutboxEntry],
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        std::future::ready(Ok(()))
    }

    /// Records waiting in the outbox (on Redis as of the last sweep of every
    /// slot), for health and metrics.
    fn outbox_len(&self) -> impl Future<Output = Result<u64, StoreError>> + Send {
        std::future::ready(Ok(0))
    }

    /// Hourly upkeep of the outbox by the shipper (Redis: consumers left by
    /// replicas that are gone); answers a count for the log.
    fn outbox_housekeeping(&self) -> impl Future<Output = Result<u64, StoreError>> + Send {
        std::future::ready(Ok(0))
    }
}
