//! The embedded store: state in process memory only, lost on restart.
//!
//! One mutex per buyer, never held across an await: check-and-reserve for a buyer
//! is a single critical section. Buyers contend only for the short step that
//! files a decision's record (the review lock, `store::review`, taken inside
//! the buyer's and never the other way round).

use super::review::{DEFAULT_DECISION_HISTORY, Review};
use super::tables::{Fifo, Table};
use super::{
    Approval, CancelOutcome, DisputeOutcome, HeldCursor, HeldOrder, InvoiceOutcome, LedgerView,
    OutboxEntry, PRUNE_BATCH, PaymentOutcome, PaymentRequest, ReleaseOutcome, ReleaseRequest,
    ReserveOutcome, ReserveRequest, Store, StoreError, StoreHealth, StoredBuyer, UpsertOutcome,
};
use crate::domain::buyer::{BuyerRecord, Rating};
use crate::domain::date::Date;
use crate::domain::decision_record::{DecisionRecord, StoreVerdict};
use crate::domain::exposure::{
    DUNNING_SAMPLE, DueItem, ExposureTotals, Invoice, LedgerSnapshot, MAX_EXPOSURE_MINOR,
    PaymentStats, dso_window,
};
use crate::domain::ids::{BuyerId, InvoiceId, OrderId, PaymentId};
use crate::domain::retention::LedgerDay;
use parking_lot::{Mutex, RwLock};
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub struct MemoryStore {
    buyers: RwLock<Table<BuyerId, Arc<Mutex<BuyerState>>>>,
    /// Taken only while a buyer's lock is held, or alone.
    review: Mutex<Review>,
    /// With an archive: decisions check the outbox's room (without one, the
    /// check path takes the review lock no more often than before).
    has_outbox: bool,
}

impl Default for MemoryStore {
    fn default() -> MemoryStore {
        MemoryStore::with_history(DEFAULT_DECISION_HISTORY)
    }
}

/// An order's lineage (docs/policy.md, "Orders, invoices and payments").
enum OrderState {
    Approved(Approval),
    /// Invoiced without an approval: the first invoice and all invoiced so far.
    Invoiced {
        invoice_id: InvoiceId,
        amount: i64,
    },
    /// Retired. `was_approved`: it held an approval when it was cancelled, so a
    /// retried cancel answers as the first one did.
    Cancelled {
        was_approved: bool,
    },
}

struct OrderEntry {
    state: OrderState,
    /// When an open reservation lapses.
    expires_at: Option<i64>,
    /// The day the record stopped reserving anything (fully invoiced, lapsed
    /// after a partial invoice, invoiced without approval, cancelled): it is kept
    /// for the retention window from then on. None while it reserves.
    settled_on: Option<Date>,
}

/// A recorded payment, kept so that the same payment_id again is recognised.
struct PaymentEntry {
    invoice_id: InvoiceId,
    amount: i64,
    paid_date: Date,
    /// The invoice's open balance right after this payment: a replay's answer.
    open_after: i64,
    /// The ledger's today when it was recorded: kept for the retention window.
    recorded_on: Date,
}

/// An invoice paid in full, kept for replays for the retention window.
struct PaidInvoice {
    invoice: Invoice,
    paid_on: Date,
}

/// A settled item, queued for pruning under the day it settled.
enum Retained {
    Order(OrderId),
    Invoice(InvoiceId),
    Payment(PaymentId),
}

struct BuyerState {
    record: Arc<BuyerRecord>,
    version: u64,
    /// The version at which the profile was last written.
    profile_version: u64,
    totals: ExposureTotals,
    orders: Table<OrderId, OrderEntry>,
    expiry: BTreeSet<(i64, OrderId)>,
    /// Invoices with an open balance: what GetBuyerExposure lists.
    invoices: Table<InvoiceId, Invoice>,
    /// Invoices paid in full, apart so that listing the open ones never reads them.
    paid: Table<InvoiceId, PaidInvoice>,
    payments: Table<PaymentId, PaymentEntry>,
    /// Undisputed open invoices by due date: the dunning ladder's view.
    due_index: BTreeSet<(Date, InvoiceId)>,
    /// Settled items in the order they settled (the Redis `ret` list): pruning
    /// takes them from the front once the retention window has passed.
    retained: Fifo<(Date, Retained)>,
    /// Credit sales per issue day, for DSO; days before the window are dropped.
    sales: BTreeMap<Date, i64>,
    stats: PaymentStats,
}

impl BuyerState {
    fn new(record: BuyerRecord) -> BuyerState {
        BuyerState {
            record: Arc::new(record),
            version: 1,
            profile_version: 1,
            totals: ExposureTotals::default(),
            orders: Table::new(),
            expiry: BTreeSet::new(),
            invoices: Table::new(),
            paid: Table::new(),
            payments: Table::new(),
            due_index: BTreeSet::new(),
            retained: Fifo::default(),
            sales: BTreeMap::new(),
            stats: PaymentStats::default(),
        }
    }

    /// Releases lapsed reservations; cost proportional to what lapsed, not to the
    /// ledger's size.
    fn expire(&mut self, now_secs: i64, today: Date) {
        while let Some((at, order_id)) = self.expiry.first().cloned() {
            if at > now_secs {
                break;
            }
            self.expiry.pop_first();
            let Some(entry) = self.orders.get_mut(&order_id) else {
                continue;
            };
            entry.expires_at = None;
            match &mut entry.state {
                OrderState::Approved(approval) => {
                    self.totals.open_orders -= approval.remaining;
                    let never_invoiced = approval.remaining == approval.amount;
                    approval.remaining = 0;
                    // An order never shipped may be checked afresh; a partly invoiced
                    // one stays sticky so a replay cannot reserve it twice.
                    if never_invoiced {
                        self.orders.remove(&order_id);
                    } else {
                        self.settle_order(&order_id, today);
                    }
                }
                // Settled records carry no expiry.
                OrderState::Cancelled { .. } | OrderState::Invoiced { .. } => {}
            }
        }
    }

    /// Starts the retention window of an order record that reserves nothing any more.
    fn settle_order(&mut self, order_id: &OrderId, today: Date) {
        if let Some(entry) = self.orders.get_mut(order_id) {
            entry.settled_on = Some(today);
            self.retained
                .push_back((today, Retained::Order(order_id.clone())));
        }
    }

    /// Inserts a settled record (a tombstone, an order invoiced without approval).
    fn insert_settled(&mut self, order_id: &OrderId, state: OrderState, today: Date) {
        self.set_expiry(order_id, None);
        self.orders.insert(
            order_id.clone(),
            OrderEntry {
                state,
                expires_at: None,
                settled_on: None,
            },
        );
        self.settle_order(order_id, today);
    }

    /// The order's record as the ledger still knows it: none once it settled
    /// before the retention window, whether or not it was pruned yet.
    fn live_order(&self, order_id: &OrderId, day: &LedgerDay) -> Option<&OrderEntry> {
        self.orders
            .get(order_id)
            .filter(|entry| entry.settled_on.is_none_or(|on| day.keeps(on)))
    }

    fn live_order_mut(&mut self, order_id: &OrderId, day: &LedgerDay) -> Option<&mut OrderEntry> {
        self.orders
            .get_mut(order_id)
            .filter(|entry| entry.settled_on.is_none_or(|on| day.keeps(on)))
    }

    /// A paid invoice still within the retention window.
    fn live_paid(&self, invoice_id: &InvoiceId, day: &LedgerDay) -> Option<&PaidInvoice> {
        self.paid
            .get(invoice_id)
            .filter(|paid| day.keeps(paid.paid_on))
    }

    /// Removes settled items past the retention window, at most PRUNE_BATCH of
    /// each kind, oldest first; and DSO sales of days no window needs any more.
    fn prune(&mut self, day: &LedgerDay) {
        for _ in 0..PRUNE_BATCH {
            match self.retained.front() {
                Some((settled_on, _)) if !day.keeps(*settled_on) => {}
                _ => break,
            }
            let Some((settled_on, item)) = self.retained.pop_front() else {
                break;
            };
            // The item may have been replaced since it was queued (an id used
            // again once forgotten): only the instance settled that day goes.
            let settled = Some(settled_on);
            match item {
                Retained::Order(id) => {
                    if self.orders.get(&id).and_then(|e| e.settled_on) == settled {
                        self.orders.remove(&id);
                    }
                }
                Retained::Invoice(id) => {
                    if self.paid.get(&id).map(|p| p.paid_on) == settled {
                        self.paid.remove(&id);
                    }
                }
                Retained::Payment(id) => {
                    if self.payments.get(&id).map(|p| p.recorded_on) == settled {
                        self.payments.remove(&id);
                    }
                }
            }
        }
        for _ in 0..PRUNE_BATCH {
            match self.sales.first_key_value() {
                Some((issue_date, _)) if !day.keeps_sales_of(*issue_date) => {
                    self.sales.pop_first();
                }
                _ => break,
            }
        }
    }

    fn snapshot(&self, today: Date) -> LedgerSnapshot {
        let item = |(due_date, invoice_id): &(Date, InvoiceId)| DueItem {
            invoice_id: invoice_id.clone(),
            due_date: *due_date,
        };
        let oldest_due = self
            .due_index
            .iter()
            .take(DUNNING_SAMPLE)
            .map(item)
            .collect();
        let next_due = self
            .due_index
            .range((today, InvoiceId::lower_bound())..)
            .next()
            .map(item);
        LedgerSnapshot {
            totals: self.totals,
            oldest_due,
            next_due,
        }
    }

    /// Records an invoice against its order: consumes an approval's reservation,
    /// or marks an order never approved (or cancelled, then shipped anyway) as
    /// invoiced, so a later check of it reserves nothing.
    fn invoice_order(
        &mut self,
        order_id: &OrderId,
        invoice: &Invoice,
        consumed: i64,
        day: &LedgerDay,
    ) {
        let live = self.live_order(order_id, day).is_some();
        match self
            .orders
            .get_mut(order_id)
            .filter(|_| live)
            .map(|entry| &mut entry.state)
        {
            Some(OrderState::Approved(approval)) => {
                if consumed > 0 {
                    approval.remaining -= consumed;
                    self.totals.open_orders -= consumed;
                    if approval.remaining == 0 {
                        self.set_expiry(order_id, None);
                        self.settle_order(order_id, day.today);
                    }
                }
            }
            Some(OrderState::Invoiced { amount, .. }) => {
                *amount = amount.saturating_add(invoice.amount);
            }
            Some(OrderState::Cancelled { .. }) | None => {
                let state = OrderState::Invoiced {
                    invoice_id: invoice.id.clone(),
                    amount: invoice.amount,
                };
                self.insert_settled(order_id, state, day.today);
            }
        }
    }

    /// The order record and expiry of a reservation just counted in
    /// `open_orders`: a check's approval and an analyst's release alike. Replaces
    /// a settled record past the window, if one is still there.
    fn approve(
        &mut self,
        order_id: &OrderId,
        amount: i64,
        decision_id: &str,
        now_secs: i64,
        ttl_secs: i64,
    ) {
        let approval = Approval {
            order_id: order_id.clone(),
            amount,
            remaining: amount,
            decision_id: decision_id.to_owned(),
            approved_at_secs: now_secs,
        };
        self.orders.insert(
            order_id.clone(),
            OrderEntry {
                state: OrderState::Approved(approval),
                expires_at: None,
                settled_on: None,
            },
        );
        self.set_expiry(order_id, Some(now_secs.saturating_add(ttl_secs)));
    }

    fn set_expiry(&mut self, order_id: &OrderId, at: Option<i64>) {
        if let Some(entry) = self.orders.get_mut(order_id) {
            if let Some(old) = entry.expires_at.take() {
                self.expiry.remove(&(old, order_id.clone()));
            }
            if let Some(at) = at {
                self.expiry.insert((at, order_id.clone()));
            }
            entry.expires_at = at;
        }
    }
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Keeping at most `decisions` decision records (and as many waiting orders).
    pub fn with_history(decisions: usize) -> MemoryStore {
        MemoryStore::with_outbox(decisions, None)
    }

    /// As [`MemoryStore::with_history`], and with an archive: every record
    /// also waits in an outbox of at most `outbox_max` records until the
    /// shipper has archived it; a full outbox refuses new decisions.
    pub fn with_outbox(decisions: usize, outbox_max: Option<usize>) -> MemoryStore {
        MemoryStore {
            buyers: RwLock::default(),
            review: Mutex::new(Review::new(decisions, outbox_max)),
            has_outbox: outbox_max.is_some(),
        }
    }

    /// A decision about to be recorded, refused while the outbox is full
    /// (checked under the buyer's lock, so nothing of the decision is written).
    fn room_for_a_record(&self) -> Result<(), StoreError> {
        if self.has_outbox && self.review.lock().outbox_full() {
            return Err(StoreError::ArchiveBacklog);
        }
        Ok(())
    }

    /// Keeps the record of a decision made under the buyer's lock, and moves the
    /// order on or off the held list as its verdict says.
    fn record(&self, record: DecisionRecord) {
        let record = Arc::new(record);
        let forgotten = {
            let mut review = self.review.lock();
            if record.waits_for_review() {
                review.hold(record.clone());
            } else {
                review.unhold(&record.inputs.buyer.profile.id, &record.inputs.order_id);
            }
            review.keep(record)
        };
        // Freed outside the lock every check takes.
        drop(forgotten);
    }

    fn buyer(&self, buyer_id: &BuyerId) -> Result<Arc<Mutex<BuyerState>>, StoreError> {
        self.buyers
            .read()
            .get(buyer_id)
            .cloned()
            .ok_or_else(|| StoreError::UnknownBuyer(buyer_id.clone()))
    }

    /// Runs `f` on the buyer's state under its lock, after releasing what expired
    /// and pruning what left the retention window (as every ledger script but the
    /// check does).
    fn with_buyer<T>(
        &self,
        buyer_id: &BuyerId,
        now_secs: i64,
        day: &LedgerDay,
        f: impl FnOnce(&mut BuyerState) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let state = self.buyer(buyer_id)?;
        let mut state = state.lock();
        state.expire(now_secs, day.today);
        state.prune(day);
        f(&mut state)
    }
}

impl Store for MemoryStore {
    const IN_PROCESS: bool = true;

    async fn health(&self) -> StoreHealth {
        if self.review.lock().outbox_full() {
            return StoreHealth::ArchiveBacklog;
        }
        StoreHealth::Ready
    }

    async fn load_buyer(&self, buyer_id: &BuyerId) -> Result<Option<StoredBuyer>, StoreError> {
        let Ok(state) = self.buyer(buyer_id) else {
            return Ok(None);
        };
        let state = state.lock();
        Ok(Some(StoredBuyer {
            record: state.record.clone(),
            version: state.version,
            profile_version: state.profile_version,
        }))
    }

    async fn upsert_buyer(
        &self,
        record: BuyerRecord,
        expected_profile_version: Option<u64>,
    ) -> Result<UpsertOutcome, StoreError> {
        let buyer_id = record.profile.id.clone();
        let Some(expected) = expected_profile_version else {
            // Creating takes the directory's write lock; an existing buyer (the
            // usual case) only its own.
            return match self.buyers.write().entry(buyer_id.clone()) {
                Entry::Vacant(slot) => {
                    slot.insert(Arc::new(Mutex::new(BuyerState::new(record))));
                    Ok(UpsertOutcome {
                        created: true,
                        version: 1,
                    })
                }
                // Lost a race with another upsert of the same new buyer.
                Entry::Occupied(_) => Err(StoreError::StaleBuyer(buyer_id)),
            };
        };
        let state = self.buyer(&buyer_id)?;
        let mut state = state.lock();
        if state.profile_version != expected {
            return Err(StoreError::StaleBuyer(buyer_id));
        }
        // The limit adjustment is ledger history: a profile write keeps it.
        state.record = Arc::new(BuyerRecord {
            adjustment: state.record.adjustment,
            ..record
        });
        state.version += 1;
        state.profile_version = state.version;
        Ok(UpsertOutcome {
            created: false,
            version: state.version,
        })
    }

    async fn store_rating(
        &self,
        buyer_id: &BuyerId,
        rating: Rating,
        expected_profile_version: u64,
    ) -> Result<u64, StoreError> {
        let state = self.buyer(buyer_id)?;
        let mut state = state.lock();
        if state.profile_version != expected_profile_version {
            return Err(StoreError::StaleBuyer(buyer_id.clone()));
        }
        Arc::make_mut(&mut state.record).rating = rating;
        state.version += 1;
        Ok(state.version)
    }

    async fn check_and_reserve(
        &self,
        request: ReserveRequest,
        day: LedgerDay,
    ) -> Result<ReserveOutcome, StoreError> {
        let Ok(state) = self.buyer(&request.buyer_id) else {
            return Ok(ReserveOutcome::UnknownBuyer);
        };
        let mut state = state.lock();
        // No pruning on the decision path (as check.lua): the settled records it
        // meets past the window are ignored, and later ledger calls remove them.
        state.expire(request.now_secs, day.today);
        let today = day.today;
        let amount = request.amount.minor();
        let record = |snapshot: &LedgerSnapshot, verdict| DecisionRecord {
            inputs: request.inputs.clone(),
            decided_at_ms: request.now_ms,
            snapshot: snapshot.clone(),
            verdict,
        };
        if let Some(entry) = state.live_order(&request.order_id, &day) {
            return Ok(match &entry.state {
                OrderState::Cancelled { .. } => ReserveOutcome::Cancelled,
                OrderState::Invoiced { invoice_id, amount } => {
                    self.room_for_a_record()?;
                    let snapshot = state.snapshot(today);
                    self.record(record(
                        &snapshot,
                        StoreVerdict::Invoiced {
                            invoice_id: invoice_id.clone(),
                            amount: *amount,
                        },
                    ));
                    ReserveOutcome::Invoiced {
                        invoice_id: invoice_id.clone(),
                        amount: *amount,
                        snapshot,
                    }
                }
                OrderState::Approved(approval) if approval.amount != amount => {
                    ReserveOutcome::Conflict(approval.clone())
                }
                OrderState::Approved(approval) => {
                    ReserveOutcome::Replay(approval.clone(), state.snapshot(today))
                }
            });
        }
        if state.version != request.buyer_version {
            return Ok(ReserveOutcome::StaleBuyer);
        }
        self.room_for_a_record()?;
        let snapshot = state.snapshot(today);
        if !request.conditions.admit(&snapshot, amount) {
            self.record(record(&snapshot, StoreVerdict::NotReserved));
            return Ok(ReserveOutcome::NotReserved(snapshot));
        }
        state.totals.open_orders = state
            .totals
            .open_orders
            .checked_add(amount)
            .ok_or(StoreError::Overflow)?;
        self.record(record(&snapshot, StoreVerdict::Reserved));
        state.approve(
            &request.order_id,
            amount,
            request.decision_id(),
            request.now_secs,
            request.reservation_ttl_secs,
        );
        Ok(ReserveOutcome::Reserved(snapshot))
    }

    async fn release_reservation(
        &self,
        buyer_id: &BuyerId,
        order_id: &OrderId,
        decision_id: &str,
    ) -> Result<i64, StoreError> {
        // Like release.lua: no expiry and no pruning, only this decision's undo.
        let state = self.buyer(buyer_id)?;
        let mut state = state.lock();
        let released = match state.orders.get(order_id) {
            Some(OrderEntry {
                state: OrderState::Approved(approval),
                ..
            }) if approval.decision_id == decision_id && approval.remaining == approval.amount => {
                approval.remaining
            }
            _ => return Ok(0),
        };
        state.set_expiry(order_id, None);
        state.orders.remove(order_id);
        state.totals.open_orders -= released;
        Ok(released)
    }

    async fn cancel_order(
        &self,
        buyer_id: &BuyerId,
        order_id: &OrderId,
        now_secs: i64,
        day: LedgerDay,
    ) -> Result<CancelOutcome, StoreError> {
        self.with_buyer(buyer_id, now_secs, &day, |state| {
            // Whatever it was, a cancelled order waits for nobody.
            self.review.lock().unhold(buyer_id, order_id);
            let nothing = CancelOutcome {
                released: 0,
                was_approved: false,
                invoiced: false,
            };
            match state
                .live_order_mut(order_id, &day)
                .map(|entry| &mut entry.state)
            {
                Some(OrderState::Cancelled { was_approved }) => {
                    return Ok(CancelOutcome {
                        was_approved: *was_approved,
                        ..nothing
                    });
                }
                Some(OrderState::Invoiced { .. }) => {
                    return Ok(CancelOutcome {
                        invoiced: true,
                        ..nothing
                    });
                }
                // Shipped in part: the receivable stays; only the rest is released,
                // and the order keeps its approval for replays.
                Some(OrderState::Approved(approval)) if approval.remaining < approval.amount => {
                    let released = approval.remaining;
                    if released > 0 {
                        approval.remaining = 0;
                        state.totals.open_orders -= released;
                        state.set_expiry(order_id, None);
                        state.settle_order(order_id, day.today);
                    }
                    return Ok(CancelOutcome {
                        released,
                        was_approved: true,
                        invoiced: true,
                    });
                }
                Some(OrderState::Approved(approval)) => {
                    let released = approval.remaining;
                    state.totals.open_orders -= released;
                    // The cancelled id stays retired for the retention window, so a
                    // late retry of the check cannot approve it again.
                    let retired = OrderState::Cancelled { was_approved: true };
                    state.insert_settled(order_id, retired, day.today);
                    return Ok(CancelOutcome {
                        released,
                        was_approved: true,
                        invoiced: false,
                    });
                }
                None => {}
            }
            let retired = OrderState::Cancelled {
                was_approved: false,
            };
            state.insert_settled(order_id, retired, day.today);
            Ok(nothing)
        })
    }

    async fn record_invoice(
        &self,
        buyer_id: &BuyerId,
        invoice: Invoice,
        now_secs: i64,
        day: LedgerDay,
    ) -> Result<InvoiceOutcome, StoreError> {
        self.with_buyer(buyer_id, now_secs, &day, |state| {
            let existing = state
                .invoices
                .get(&invoice.id)
                .or_else(|| state.live_paid(&invoice.id, &day).map(|p| &p.invoice));
            if let Some(existing) = existing {
                let same = existing.order_id == invoice.order_id
                    && existing.amount == invoice.amount
                    && existing.issue_date == invoice.issue_date
                    && existing.due_date == invoice.due_date;
                if !same {
                    return Err(StoreError::InvoiceConflict(invoice.id));
                }
                return Ok(InvoiceOutcome {
                    consumed: 0,
                    created: false,
                    totals: state.totals,
                });
            }
            let order = invoice
                .order_id
                .as_ref()
                .and_then(|id| state.live_order(id, &day));
            let consumed = match order {
                Some(OrderEntry {
                    state: OrderState::Approved(approval),
                    ..
                }) => approval.remaining.min(invoice.amount),
                _ => 0,
            };
            // Validate before writing: the exposure ceiling keeps every total exact
            // in any store (see MAX_EXPOSURE_MINOR).
            let exposure_after = state.totals.total() - consumed + invoice.amount;
            if exposure_after > MAX_EXPOSURE_MINOR {
                return Err(StoreError::Overflow);
            }
            state.totals.open_invoices += invoice.amount;
            state.stats.note_invoice(invoice.issue_date);
            if day.keeps_sales_of(invoice.issue_date) {
                // Capped like every other sum the scripts keep exact; a day with
                // that much in sales has a DSO of zero either way.
                let sales = state.sales.entry(invoice.issue_date).or_insert(0);
                *sales = sales.saturating_add(invoice.amount).min(MAX_EXPOSURE_MINOR);
            }
            if let Some(order_id) = &invoice.order_id {
                state.invoice_order(order_id, &invoice, consumed, &day);
                // Invoiced: shipped, so no longer waiting for the credit team.
                self.review.lock().unhold(buyer_id, order_id);
            }
            state
                .due_index
                .insert((invoice.due_date, invoice.id.clone()));
            // A paid copy past the window (not pruned yet) is replaced.
            state.paid.remove(&invoice.id);
            state.invoices.insert(invoice.id.clone(), invoice);
            Ok(InvoiceOutcome {
                consumed,
                created: true,
                totals: state.totals,
            })
        })
    }

    async fn record_payment(
        &self,
        buyer_id: &BuyerId,
        payment: PaymentRequest,
        now_secs: i64,
        day: LedgerDay,
    ) -> Result<PaymentOutcome, StoreError> {
        self.with_buyer(buyer_id, now_secs, &day, |state| {
            let previous = state
                .payments
                .get(&payment.payment_id)
                .filter(|previous| day.keeps(previous.recorded_on));
            if let Some(previous) = previous {
                let same = previous.invoice_id == payment.invoice_id
                    && previous.amount == payment.amount
                    && previous.paid_date == payment.paid_date;
                if !same {
                    return Err(StoreError::PaymentConflict(payment.payment_id));
                }
                return Ok(PaymentOutcome {
                    open_balance: previous.open_after,
                    created: false,
                    totals: state.totals,
                });
            }
            let Some(invoice) = state.invoices.get_mut(&payment.invoice_id) else {
                // Paid in full already: nothing is open to pay.
                let paid = state
                    .live_paid(&payment.invoice_id, &day)
                    .ok_or_else(|| StoreError::UnknownInvoice(payment.invoice_id.clone()))?;
                let invoice = &paid.invoice;
                if payment.paid_date < invoice.issue_date {
                    return Err(StoreError::PaidBeforeIssue {
                        invoice: invoice.id.clone(),
                        paid_date: payment.paid_date,
                        issue_date: invoice.issue_date,
                    });
                }
                return Err(StoreError::Overpayment {
                    invoice: invoice.id.clone(),
                    open: 0,
                    attempted: payment.amount,
                });
            };
            if payment.paid_date < invoice.issue_date {
                return Err(StoreError::PaidBeforeIssue {
                    invoice: invoice.id.clone(),
                    paid_date: payment.paid_date,
                    issue_date: invoice.issue_date,
                });
            }
            if payment.amount > invoice.open {
                return Err(StoreError::Overpayment {
                    invoice: invoice.id.clone(),
                    open: invoice.open,
                    attempted: payment.amount,
                });
            }
            invoice.open -= payment.amount;
            state.totals.open_invoices -= payment.amount;
            if invoice.disputed {
                state.totals.disputed -= payment.amount;
            } else if invoice.open == 0 {
                state
                    .due_index
                    .remove(&(invoice.due_date, invoice.id.clone()));
            }
            let days_beyond_terms = payment.paid_date.days_since(invoice.due_date);
            let early = payment.discount_days.is_some_and(|days| {
                payment.paid_date.days_since(invoice.issue_date) <= days as i32
            });
            let open_after = invoice.open;
            if open_after == 0 {
                // Paid in full: kept apart for replays, for the retention window.
                if let Some(invoice) = state.invoices.remove(&payment.invoice_id) {
                    state.paid.insert(
                        payment.invoice_id.clone(),
                        PaidInvoice {
                            invoice,
                            paid_on: day.today,
                        },
                    );
                    state
                        .retained
                        .push_back((day.today, Retained::Invoice(payment.invoice_id.clone())));
                }
            }
            state.stats.record(payment.amount, days_beyond_terms, early);
            let adjusted = state
                .record
                .adjustment
                .after_payment(&payment.adjustment_rule, days_beyond_terms);
            if adjusted.percent != state.record.adjustment.percent {
                // The limit in effect moved: cached copies of the buyer are stale.
                state.version += 1;
            }
            if adjusted != state.record.adjustment {
                Arc::make_mut(&mut state.record).adjustment = adjusted;
            }
            state
                .retained
                .push_back((day.today, Retained::Payment(payment.payment_id.clone())));
            state.payments.insert(
                payment.payment_id,
                PaymentEntry {
                    invoice_id: payment.invoice_id,
                    amount: payment.amount,
                    paid_date: payment.paid_date,
                    open_after,
                    recorded_on: day.today,
                },
            );
            Ok(PaymentOutcome {
                open_balance: open_after,
                created: true,
                totals: state.totals,
            })
        })
    }

    async fn set_dispute(
        &self,
        buyer_id: &BuyerId,
        invoice_id: &InvoiceId,
        disputed: bool,
        now_secs: i64,
        day: LedgerDay,
    ) -> Result<DisputeOutcome, StoreError> {
        self.with_buyer(buyer_id, now_secs, &day, |state| {
            let Some(invoice) = state.invoices.get_mut(invoice_id) else {
                // Paid in full: the flag moves, no balance with it.
                if state.live_paid(invoice_id, &day).is_none() {
                    return Err(StoreError::UnknownInvoice(invoice_id.clone()));
                }
                let paid = state.paid.get_mut(invoice_id).expect("live paid invoice");
                paid.invoice.disputed = disputed;
                return Ok(DisputeOutcome {
                    open_balance: 0,
                    disputed,
                });
            };
            if invoice.disputed != disputed {
                invoice.disputed = disputed;
                let key = (invoice.due_date, invoice.id.clone());
                if disputed {
                    state.totals.disputed += invoice.open;
                    state.due_index.remove(&key);
                } else {
                    state.totals.disputed -= invoice.open;
                    if invoice.open > 0 {
                        state.due_index.insert(key);
                    }
                }
            }
            Ok(DisputeOutcome {
                open_balance: invoice.open,
                disputed: invoice.disputed,
            })
        })
    }

    async fn release_order(
        &self,
        request: ReleaseRequest,
        day: LedgerDay,
    ) -> Result<ReleaseOutcome, StoreError> {
        let Ok(state) = self.buyer(&request.buyer_id) else {
            return Ok(ReleaseOutcome::UnknownBuyer);
        };
        let mut state = state.lock();
        // As a check: lapsed reservations go first; nothing is pruned.
        state.expire(request.now_secs, day.today);
        if let Some(entry) = state.live_order(&request.order_id, &day) {
            return Ok(match &entry.state {
                OrderState::Cancelled { .. } => ReleaseOutcome::Cancelled,
                OrderState::Invoiced { .. } => ReleaseOutcome::Invoiced,
                OrderState::Approved(approval) => ReleaseOutcome::Approved(approval.clone()),
            });
        }
        let amount = request.amount.minor();
        let waiting = {
            let review = self.review.lock();
            review
                .held(&request.buyer_id, &request.order_id)
                .map(|held| held.record.inputs.amount.minor())
        };
        match waiting {
            None => return Ok(ReleaseOutcome::NotHeld),
            Some(held) if held != amount => return Ok(ReleaseOutcome::AmountDiffers(held)),
            Some(_) => {}
        }
        if state.version != request.buyer_version {
            return Ok(ReleaseOutcome::StaleBuyer);
        }
        self.room_for_a_record()?;
        let snapshot = state.snapshot(day.today);
        let open_orders = state
            .totals
            .open_orders
            .checked_add(amount)
            .filter(|_| state.totals.total().saturating_add(amount) <= MAX_EXPOSURE_MINOR)
            .ok_or(StoreError::Overflow)?;
        state.totals.open_orders = open_orders;
        self.record(DecisionRecord {
            inputs: request.inputs.clone(),
            decided_at_ms: request.now_ms,
            snapshot: snapshot.clone(),
            verdict: StoreVerdict::Reserved,
        });
        state.approve(
            &request.order_id,
            amount,
            &request.inputs.decision_id,
            request.now_secs,
            request.reservation_ttl_secs,
        );
        Ok(ReleaseOutcome::Released(snapshot))
    }

    async fn decision(&self, decision_id: &str) -> Result<Option<DecisionRecord>, StoreError> {
        Ok(self
            .review
            .lock()
            .get(decision_id)
            .map(|record| (**record).clone()))
    }

    async fn held_orders(
        &self,
        buyer_id: Option<&BuyerId>,
        after: Option<&HeldCursor>,
        limit: usize,
    ) -> Result<Vec<HeldOrder>, StoreError> {
        Ok(self.review.lock().list(buyer_id, after, limit))
    }

    async fn recent_decisions(
        &self,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        limit: usize,
    ) -> Result<Vec<DecisionRecord>, StoreError> {
        let found = self.review.lock().recent(from_ms, to_ms, limit);
        // Copied out of the records once the lock every check takes is released.
        Ok(found.iter().map(|record| (**record).clone()).collect())
    }

    async fn outbox_read(&self, max: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        Ok(self.review.lock().outbox_head(max))
    }

    async fn outbox_ack(&self, entries: &[OutboxEntry]) -> Result<(), StoreError> {
        let shipped = self.review.lock().outbox_ack(entries);
        // Freed outside the lock every check takes.
        drop(shipped);
        Ok(())
    }

    async fn outbox_len(&self) -> Result<u64, StoreError> {
        Ok(self.review.lock().outbox_len() as u64)
    }

    async fn ledger(
        &self,
        buyer_id: &BuyerId,
        now_secs: i64,
        day: LedgerDay,
    ) -> Result<LedgerView, StoreError> {
        self.with_buyer(buyer_id, now_secs, &day, |state| {
            let sales_in_window = state
                .sales
                .range(dso_window(day.today))
                .fold(0i64, |sum, (_, sales)| sum.saturating_add(*sales));
            Ok(LedgerView {
                totals: state.totals,
                open_invoices: state.invoices.values().cloned().collect(),
                stats: state.stats,
                sales_in_window,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::buyer::{BuyerProfile, Grade, RiskTier};
    use crate::domain::decision_record::DecisionInputs;
    use crate::domain::money::{Currency, Money};
    use crate::domain::policy::{Policy, reserve_conditions};
    use crate::domain::retention::Retention;
    use rust_decimal::Decimal;

    fn record(id: &BuyerId, today: Date) -> BuyerRecord {
        let eur = Currency::from_code("EUR").unwrap();
        let zero = Money::from_minor(eur, 0);
        BuyerRecord {
            profile: BuyerProfile {
                id: id.clone(),
                name: "B".into(),
                country_code: "DE".into(),
                currency: eur,
                tier: RiskTier::Standard,
                manual_limit: Some(Money::from_minor(eur, 1_000_000_000)),
                payment_terms_days: 30,
                early_payment_discount: None,
                financials: None,
                external_rating: None,
                insurance: None,
            },
            rating: Rating {
                score: 500,
                grade: Grade::new(5).unwrap(),
                probability_of_default: Decimal::new(40, 4),
                recommended_limit: zero,
                scored_limit: zero,
                insured_limit: zero,
                discretionary_limit: zero,
                rated_on: today,
                valid_until: today.add_days(100_000),
                reasons: vec![],
            },
            adjustment: Default::default(),
        }
    }

    /// One order cycle: approved, invoiced in full against the order, paid in full.
    async fn cycle(store: &MemoryStore, buyer: &BuyerId, n: usize, day: LedgerDay) {
        let stored = store.load_buyer(buyer).await.unwrap().unwrap();
        let amount = Money::from_minor(stored.record.profile.currency, 100);
        let order_id = OrderId::parse(&format!("O-{n}")).unwrap();
        let request = ReserveRequest {
            buyer_id: buyer.clone(),
            order_id: order_id.clone(),
            amount,
            conditions: reserve_conditions(&Policy::default(), &stored.record, amount, day.today),
            buyer_version: stored.version,
            inputs: Arc::new(DecisionInputs::new(
                &Policy::default(),
                format!("D-{n}"),
                stored.record.clone(),
                order_id.clone(),
                amount,
                day.today,
                None,
            )),
            now_secs: i64::from(day.today.days()) * 86_400,
            now_ms: i64::from(day.today.days()) * 86_400_000,
            reservation_ttl_secs: 30 * 86_400,
        };
        let outcome = store.check_and_reserve(request, day).await.unwrap();
        assert!(
            matches!(outcome, ReserveOutcome::Reserved(_)),
            "{outcome:?}"
        );
        let invoice_id = InvoiceId::parse(&format!("I-{n}")).unwrap();
        let invoice = Invoice {
            id: invoice_id.clone(),
            order_id: Some(order_id),
            amount: 100,
            open: 100,
            issue_date: day.today,
            due_date: day.today.add_days(30),
            disputed: false,
        };
        let now = i64::from(day.today.days()) * 86_400;
        store
            .record_invoice(buyer, invoice, now, day)
            .await
            .unwrap();
        let payment = PaymentRequest {
            invoice_id,
            amount: 100,
            paid_date: day.today,
            payment_id: PaymentId::parse(&format!("P-{n}")).unwrap(),
            discount_days: None,
            adjustment_rule: Policy::default().adjustment,
        };
        store
            .record_payment(buyer, payment, now, day)
            .await
            .unwrap();
    }

    async fn one_buyer_with_30_days_retention() -> (MemoryStore, BuyerId, Date, Retention) {
        let store = MemoryStore::new();
        let buyer = BuyerId::parse("B-1").unwrap();
        let start = Date::parse("2026-01-01").unwrap();
        store
            .upsert_buyer(record(&buyer, start), None)
            .await
            .unwrap();
        (store, buyer, start, Retention { days: 30 })
    }

    #[tokio::test]
    async fn a_steady_flow_keeps_only_the_retention_window() {
        let (store, buyer, start, retention) = one_buyer_with_30_days_retention().await;
        // Ten cycles a day for 200 days: 2,000 orders, invoices and payments.
        for n in 0..2_000 {
            let day = retention.on(start.add_days(n as i32 / 10));
            cycle(&store, &buyer, n, day).await;
        }
        let state = store.buyer(&buyer).unwrap();
        let state = state.lock();
        // What settled in the last 31 days (the window and today), ten a day,
        // plus at most the day the last call did not prune yet.
        let bound = 10 * (30 + 1 + 1);
        assert!(state.orders.len() <= bound, "{}", state.orders.len());
        assert!(state.paid.len() <= bound, "{}", state.paid.len());
        assert!(state.payments.len() <= bound, "{}", state.payments.len());
        assert!(
            state.retained.len() <= 3 * bound,
            "{}",
            state.retained.len()
        );
        assert!(state.invoices.is_empty() && state.due_index.is_empty());
        assert!(state.expiry.is_empty());
        // Sales of the DSO window and its day of slack only.
        assert!(state.sales.len() <= 91, "{}", state.sales.len());
        // Nothing inside the window was pruned: the oldest kept order replays.
        let oldest_kept = 10 * (199 - 30);
        assert!(
            state
                .orders
                .contains_key(&OrderId::parse(&format!("O-{oldest_kept}")).unwrap())
        );
    }

    #[tokio::test]
    async fn pruning_takes_a_bounded_batch_per_call() {
        let (store, buyer, start, retention) = one_buyer_with_30_days_retention().await;
        for n in 0..40 {
            cycle(&store, &buyer, n, retention.on(start)).await;
        }
        let backlog = store.buyer(&buyer).unwrap().lock().retained.len();
        assert_eq!(backlog, 120);
        let later = retention.on(start.add_days(31));
        store.ledger(&buyer, 0, later).await.unwrap();
        let left = store.buyer(&buyer).unwrap().lock().retained.len();
        assert_eq!(left, backlog - PRUNE_BATCH);
    }
}

#[cfg(test)]
mod history_size {
    //! How much memory the decision history takes per record: run with
    //! `cargo test --release --lib history_size -- --ignored --nocapture`
    //! (docs/operations.md, "Decision history", quotes the figure).
    use super::*;
    use crate::domain::buyer::{BuyerProfile, Grade, RiskTier};
    use crate::domain::decision_record::DecisionInputs;
    use crate::domain::money::{Currency, Money};
    use crate::domain::policy::{Policy, reserve_conditions};
    use crate::domain::retention::Retention;

    fn rss_bytes() -> usize {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|kb| {
                kb.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<usize>()
                    .ok()
            })
            .map_or(0, |kb| kb * 1024)
    }

    #[tokio::test]
    #[ignore = "a measurement, not a check"]
    async fn bytes_per_decision_record() {
        const N: usize = 200_000;
        let store = MemoryStore::with_history(N);
        let eur = Currency::from_code("EUR").unwrap();
        let today = Date::parse("2026-12-02").unwrap();
        let id = BuyerId::parse("SIZE").unwrap();
        let profile = BuyerProfile {
            id: id.clone(),
            name: "Size Measurement GmbH".into(),
            country_code: "DE".into(),
            currency: eur,
            tier: RiskTier::Standard,
            manual_limit: Some(Money::from_minor(eur, 1)),
            payment_terms_days: 30,
            early_payment_discount: None,
            financials: None,
            external_rating: Some(crate::domain::buyer::ExternalRating {
                grade: Grade::new(3).unwrap(),
                legal_disputes: 0,
                insolvency: false,
            }),
            insurance: None,
        };
        let record = BuyerRecord {
            rating: crate::domain::buyer::Rating {
                score: 700,
                grade: Grade::new(3).unwrap(),
                probability_of_default: "0.004".parse().unwrap(),
                recommended_limit: Money::from_minor(eur, 1),
                scored_limit: Money::from_minor(eur, 1),
                insured_limit: Money::zero(eur),
                discretionary_limit: Money::from_minor(eur, 1),
                rated_on: today,
                valid_until: today.add_days(365),
                reasons: vec![],
            },
            profile,
            adjustment: Default::default(),
        };
        store.upsert_buyer(record, None).await.unwrap();
        let stored = store.load_buyer(&id).await.unwrap().unwrap();
        let day = Retention::DEFAULT.on(today);
        let before = rss_bytes();
        for n in 0..N {
            // Refused (limit 0.01): each one is kept and listed as waiting.
            let amount = Money::from_minor(eur, 10_000);
            let order_id = OrderId::parse(&format!("SO-{n:08}")).unwrap();
            let request = ReserveRequest {
                buyer_id: id.clone(),
                order_id: order_id.clone(),
                amount,
                conditions: reserve_conditions(&Policy::default(), &stored.record, amount, today),
                buyer_version: stored.version,
                inputs: Arc::new(DecisionInputs::new(
                    &Policy::default(),
                    uuid::Uuid::now_v7().to_string(),
                    stored.record.clone(),
                    order_id,
                    amount,
                    today,
                    None,
                )),
                now_secs: 1,
                now_ms: 1_000 + n as i64,
                reservation_ttl_secs: 86_400,
            };
            store.check_and_reserve(request, day).await.unwrap();
        }
        let per = (rss_bytes() - before) / N;
        println!("{per} bytes per decision record (kept and listed as waiting), {N} records");
    }
}
