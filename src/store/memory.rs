//! The embedded store: state in process memory only, lost on restart.
//!
//! One mutex per buyer, never held across an await: check-and-reserve for a buyer
//! is a single critical section, and buyers never contend with each other.

use super::{
    Approval, CancelOutcome, DisputeOutcome, InvoiceOutcome, LedgerView, PaymentOutcome,
    PaymentRequest, ReserveOutcome, ReserveRequest, Store, StoreError, StoreHealth, StoredBuyer,
    UpsertOutcome,
};
use crate::domain::buyer::{BuyerRecord, Rating};
use crate::domain::date::Date;
use crate::domain::exposure::{
    DUNNING_SAMPLE, DueItem, ExposureTotals, Invoice, LedgerSnapshot, MAX_EXPOSURE_MINOR,
    PaymentStats,
};
use crate::domain::ids::{BuyerId, InvoiceId, OrderId, PaymentId};
use parking_lot::{Mutex, RwLock};
use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

#[derive(Default)]
pub struct MemoryStore {
    buyers: RwLock<HashMap<BuyerId, Arc<Mutex<BuyerState>>>>,
}

/// An order's lineage (docs/policy.md, "Orders, invoices and payments").
enum OrderState {
    Approved(Approval),
    /// Invoiced without an approval: the first invoice and all invoiced so far.
    Invoiced {
        invoice_id: InvoiceId,
        amount: i64,
    },
    Cancelled,
}

struct OrderEntry {
    state: OrderState,
    /// When an open reservation lapses or a cancellation tombstone is dropped.
    expires_at: Option<i64>,
}

/// A recorded payment, kept so that the same payment_id again is recognised.
struct PaymentEntry {
    invoice_id: InvoiceId,
    amount: i64,
    paid_date: Date,
    /// The invoice's open balance right after this payment: a replay's answer.
    open_after: i64,
}

struct BuyerState {
    record: Arc<BuyerRecord>,
    version: u64,
    /// The version at which the profile was last written.
    profile_version: u64,
    totals: ExposureTotals,
    orders: HashMap<OrderId, OrderEntry>,
    expiry: BTreeSet<(i64, OrderId)>,
    invoices: HashMap<InvoiceId, Invoice>,
    payments: HashMap<PaymentId, PaymentEntry>,
    /// Undisputed open invoices by due date: the dunning ladder's view.
    due_index: BTreeSet<(Date, InvoiceId)>,
    stats: PaymentStats,
}

impl BuyerState {
    fn new(record: BuyerRecord) -> BuyerState {
        BuyerState {
            record: Arc::new(record),
            version: 1,
            profile_version: 1,
            totals: ExposureTotals::default(),
            orders: HashMap::new(),
            expiry: BTreeSet::new(),
            invoices: HashMap::new(),
            payments: HashMap::new(),
            due_index: BTreeSet::new(),
            stats: PaymentStats::default(),
        }
    }

    /// Releases lapsed reservations and drops old tombstones; cost proportional to
    /// what lapsed, not to the ledger's size.
    fn expire(&mut self, now_secs: i64) {
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
                    }
                }
                OrderState::Cancelled | OrderState::Invoiced { .. } => {
                    self.orders.remove(&order_id);
                }
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
    fn invoice_order(&mut self, order_id: &OrderId, invoice: &Invoice, consumed: i64) {
        match self.orders.get_mut(order_id).map(|entry| &mut entry.state) {
            Some(OrderState::Approved(approval)) => {
                approval.remaining -= consumed;
                self.totals.open_orders -= consumed;
                if approval.remaining == 0 {
                    self.set_expiry(order_id, None);
                }
            }
            Some(OrderState::Invoiced { amount, .. }) => {
                *amount = amount.saturating_add(invoice.amount);
            }
            Some(OrderState::Cancelled) | None => {
                self.set_expiry(order_id, None);
                self.orders.insert(
                    order_id.clone(),
                    OrderEntry {
                        state: OrderState::Invoiced {
                            invoice_id: invoice.id.clone(),
                            amount: invoice.amount,
                        },
                        expires_at: None,
                    },
                );
            }
        }
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

fn invoice_entry<'a>(
    invoices: &'a mut HashMap<InvoiceId, Invoice>,
    invoice_id: &InvoiceId,
) -> Result<&'a mut Invoice, StoreError> {
    invoices
        .get_mut(invoice_id)
        .ok_or_else(|| StoreError::UnknownInvoice(invoice_id.clone()))
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn buyer(&self, buyer_id: &BuyerId) -> Result<Arc<Mutex<BuyerState>>, StoreError> {
        self.buyers
            .read()
            .get(buyer_id)
            .cloned()
            .ok_or_else(|| StoreError::UnknownBuyer(buyer_id.clone()))
    }

    /// Runs `f` on the buyer's state under its lock, after releasing what expired.
    fn with_buyer<T>(
        &self,
        buyer_id: &BuyerId,
        now_secs: i64,
        f: impl FnOnce(&mut BuyerState) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let state = self.buyer(buyer_id)?;
        let mut state = state.lock();
        state.expire(now_secs);
        f(&mut state)
    }
}

impl Store for MemoryStore {
    const IN_PROCESS: bool = true;

    async fn health(&self) -> StoreHealth {
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
        today: Date,
    ) -> Result<ReserveOutcome, StoreError> {
        let Ok(state) = self.buyer(&request.buyer_id) else {
            return Ok(ReserveOutcome::UnknownBuyer);
        };
        let mut state = state.lock();
        state.expire(request.now_secs);
        let amount = request.amount.minor();
        if let Some(entry) = state.orders.get(&request.order_id) {
            return Ok(match &entry.state {
                OrderState::Cancelled => ReserveOutcome::Cancelled,
                OrderState::Invoiced { invoice_id, amount } => ReserveOutcome::Invoiced {
                    invoice_id: invoice_id.clone(),
                    amount: *amount,
                    snapshot: state.snapshot(today),
                },
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
        let snapshot = state.snapshot(today);
        if !request.conditions.admit(&snapshot, amount) {
            return Ok(ReserveOutcome::NotReserved(snapshot));
        }
        state.totals.open_orders = state
            .totals
            .open_orders
            .checked_add(amount)
            .ok_or(StoreError::Overflow)?;
        let approval = Approval {
            order_id: request.order_id.clone(),
            amount,
            remaining: amount,
            decision_id: request.decision_id,
            approved_at_secs: request.now_secs,
        };
        state.orders.insert(
            request.order_id.clone(),
            OrderEntry {
                state: OrderState::Approved(approval),
                expires_at: None,
            },
        );
        let expires_at = request
            .now_secs
            .saturating_add(request.reservation_ttl_secs);
        state.set_expiry(&request.order_id, Some(expires_at));
        Ok(ReserveOutcome::Reserved(snapshot))
    }

    async fn release_reservation(
        &self,
        buyer_id: &BuyerId,
        order_id: &OrderId,
        decision_id: &str,
        now_secs: i64,
    ) -> Result<i64, StoreError> {
        self.with_buyer(buyer_id, now_secs, |state| {
            let released = match state.orders.get(order_id) {
                Some(OrderEntry {
                    state: OrderState::Approved(approval),
                    ..
                }) if approval.decision_id == decision_id
                    && approval.remaining == approval.amount =>
                {
                    approval.remaining
                }
                _ => return Ok(0),
            };
            state.set_expiry(order_id, None);
            state.orders.remove(order_id);
            state.totals.open_orders -= released;
            Ok(released)
        })
    }

    async fn cancel_order(
        &self,
        buyer_id: &BuyerId,
        order_id: &OrderId,
        now_secs: i64,
        tombstone_ttl_secs: i64,
    ) -> Result<CancelOutcome, StoreError> {
        self.with_buyer(buyer_id, now_secs, |state| {
            let nothing = CancelOutcome {
                released: 0,
                was_approved: false,
                invoiced: false,
            };
            match state.orders.get_mut(order_id).map(|entry| &mut entry.state) {
                Some(OrderState::Cancelled) => return Ok(nothing),
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
                    approval.remaining = 0;
                    state.totals.open_orders -= released;
                    state.set_expiry(order_id, None);
                    return Ok(CancelOutcome {
                        released,
                        was_approved: true,
                        invoiced: true,
                    });
                }
                Some(OrderState::Approved(approval)) => {
                    let released = approval.remaining;
                    state.totals.open_orders -= released;
                    state.set_expiry(order_id, None);
                    state.orders.insert(
                        order_id.clone(),
                        OrderEntry {
                            state: OrderState::Cancelled,
                            expires_at: None,
                        },
                    );
                    // The cancelled id stays retired for a reservation's lifetime,
                    // so a late retry of the check cannot approve it again.
                    state.set_expiry(order_id, Some(now_secs.saturating_add(tombstone_ttl_secs)));
                    return Ok(CancelOutcome {
                        released,
                        was_approved: true,
                        invoiced: false,
                    });
                }
                None => {}
            }
            state.orders.insert(
                order_id.clone(),
                OrderEntry {
                    state: OrderState::Cancelled,
                    expires_at: None,
                },
            );
            state.set_expiry(order_id, Some(now_secs.saturating_add(tombstone_ttl_secs)));
            Ok(nothing)
        })
    }

    async fn record_invoice(
        &self,
        buyer_id: &BuyerId,
        invoice: Invoice,
        now_secs: i64,
    ) -> Result<InvoiceOutcome, StoreError> {
        self.with_buyer(buyer_id, now_secs, |state| {
            if let Some(existing) = state.invoices.get(&invoice.id) {
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
                .and_then(|id| state.orders.get(id));
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
            if let Some(order_id) = &invoice.order_id {
                state.invoice_order(order_id, &invoice, consumed);
            }
            state
                .due_index
                .insert((invoice.due_date, invoice.id.clone()));
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
    ) -> Result<PaymentOutcome, StoreError> {
        self.with_buyer(buyer_id, now_secs, |state| {
            if let Some(previous) = state.payments.get(&payment.payment_id) {
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
            let invoice = invoice_entry(&mut state.invoices, &payment.invoice_id)?;
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
            state.payments.insert(
                payment.payment_id,
                PaymentEntry {
                    invoice_id: payment.invoice_id,
                    amount: payment.amount,
                    paid_date: payment.paid_date,
                    open_after,
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
    ) -> Result<DisputeOutcome, StoreError> {
        self.with_buyer(buyer_id, now_secs, |state| {
            let invoice = invoice_entry(&mut state.invoices, invoice_id)?;
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

    async fn ledger(
        &self,
        buyer_id: &BuyerId,
        since: Date,
        now_secs: i64,
    ) -> Result<LedgerView, StoreError> {
        self.with_buyer(buyer_id, now_secs, |state| {
            let invoices = state
                .invoices
                .values()
                .filter(|invoice| invoice.open > 0 || invoice.issue_date >= since)
                .cloned()
                .collect();
            Ok(LedgerView {
                totals: state.totals,
                invoices,
                stats: state.stats,
            })
        })
    }
}
