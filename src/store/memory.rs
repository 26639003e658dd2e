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

enum OrderState {
    Approved(Approval),
    Cancelled,
}

struct OrderEntry {
    state: OrderState,
    /// When an open reservation lapses or a cancellation tombstone is dropped.
    expires_at: Option<i64>,
}

struct InvoiceEntry {
    invoice: Invoice,
    payments: HashMap<PaymentId, i64>,
}

struct BuyerState {
    record: Arc<BuyerRecord>,
    version: u64,
    totals: ExposureTotals,
    orders: HashMap<OrderId, OrderEntry>,
    expiry: BTreeSet<(i64, OrderId)>,
    invoices: HashMap<InvoiceId, InvoiceEntry>,
    /// Undisputed open invoices by due date: the dunning ladder's view.
    due_index: BTreeSet<(Date, InvoiceId)>,
    stats: PaymentStats,
}

impl BuyerState {
    fn new(record: BuyerRecord) -> BuyerState {
        BuyerState {
            record: Arc::new(record),
            version: 1,
            totals: ExposureTotals::default(),
            orders: HashMap::new(),
            expiry: BTreeSet::new(),
            invoices: HashMap::new(),
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
                OrderState::Cancelled => {
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
    invoices: &'a mut HashMap<InvoiceId, InvoiceEntry>,
    invoice_id: &InvoiceId,
) -> Result<&'a mut InvoiceEntry, StoreError> {
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
        }))
    }

    async fn upsert_buyer(&self, record: BuyerRecord) -> Result<UpsertOutcome, StoreError> {
        // Creating takes the directory's write lock; an existing buyer (the usual
        // case) only its own.
        let state = match self.buyer(&record.profile.id) {
            Ok(state) => state,
            Err(_) => match self.buyers.write().entry(record.profile.id.clone()) {
                Entry::Vacant(slot) => {
                    slot.insert(Arc::new(Mutex::new(BuyerState::new(record))));
                    return Ok(UpsertOutcome {
                        created: true,
                        version: 1,
                    });
                }
                // Lost a race with another upsert of the same new buyer.
                Entry::Occupied(existing) => existing.get().clone(),
            },
        };
        let mut state = state.lock();
        // The limit adjustment is ledger history: a profile write keeps it.
        state.record = Arc::new(BuyerRecord {
            adjustment: state.record.adjustment,
            ..record
        });
        state.version += 1;
        Ok(UpsertOutcome {
            created: false,
            version: state.version,
        })
    }

    async fn store_rating(&self, buyer_id: &BuyerId, rating: Rating) -> Result<(), StoreError> {
        let state = self.buyer(buyer_id)?;
        let mut state = state.lock();
        Arc::make_mut(&mut state.record).rating = rating;
        state.version += 1;
        Ok(())
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

    async fn cancel_order(
        &self,
        buyer_id: &BuyerId,
        order_id: &OrderId,
        now_secs: i64,
        tombstone_ttl_secs: i64,
    ) -> Result<CancelOutcome, StoreError> {
        self.with_buyer(buyer_id, now_secs, |state| {
            let tombstone_until = Some(now_secs.saturating_add(tombstone_ttl_secs));
            let previous = state.orders.insert(
                order_id.clone(),
                OrderEntry {
                    state: OrderState::Cancelled,
                    expires_at: None,
                },
            );
            let outcome = match previous {
                Some(OrderEntry {
                    state: OrderState::Approved(approval),
                    expires_at,
                }) => {
                    if let Some(at) = expires_at {
                        state.expiry.remove(&(at, order_id.clone()));
                    }
                    state.totals.open_orders -= approval.remaining;
                    CancelOutcome {
                        released: approval.remaining,
                        was_approved: true,
                    }
                }
                Some(OrderEntry {
                    state: OrderState::Cancelled,
                    expires_at,
                }) => {
                    // Already cancelled: keep the tombstone's original lifetime.
                    if let Some(entry) = state.orders.get_mut(order_id) {
                        entry.expires_at = expires_at;
                    }
                    return Ok(CancelOutcome {
                        released: 0,
                        was_approved: false,
                    });
                }
                None => CancelOutcome {
                    released: 0,
                    was_approved: false,
                },
            };
            // The cancelled id stays retired for a reservation's lifetime, so a late
            // retry of the check cannot approve it again.
            state.set_expiry(order_id, tombstone_until);
            Ok(outcome)
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
                let same = existing.invoice.order_id == invoice.order_id
                    && existing.invoice.amount == invoice.amount
                    && existing.invoice.issue_date == invoice.issue_date
                    && existing.invoice.due_date == invoice.due_date;
                if !same {
                    return Err(StoreError::InvoiceConflict(invoice.id));
                }
                return Ok(InvoiceOutcome {
                    consumed: 0,
                    created: false,
                    totals: state.totals,
                });
            }
            let consumed = match invoice
                .order_id
                .as_ref()
                .and_then(|id| state.orders.get(id))
            {
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
            if consumed > 0
                && let Some(order_id) = &invoice.order_id
                && let Some(OrderEntry {
                    state: OrderState::Approved(approval),
                    ..
                }) = state.orders.get_mut(order_id)
            {
                approval.remaining -= consumed;
                let fully_consumed = approval.remaining == 0;
                state.totals.open_orders -= consumed;
                if fully_consumed {
                    state.set_expiry(order_id, None);
                }
            }
            state
                .due_index
                .insert((invoice.due_date, invoice.id.clone()));
            let id = invoice.id.clone();
            state.invoices.insert(
                id,
                InvoiceEntry {
                    invoice,
                    payments: HashMap::new(),
                },
            );
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
            let entry = invoice_entry(&mut state.invoices, &payment.invoice_id)?;
            if let Some(payment_id) = &payment.payment_id
                && let Some(&amount) = entry.payments.get(payment_id)
            {
                if amount != payment.amount {
                    return Err(StoreError::PaymentConflict(payment_id.clone()));
                }
                return Ok(PaymentOutcome {
                    open_balance: entry.invoice.open,
                    created: false,
                    totals: state.totals,
                });
            }
            let invoice = &mut entry.invoice;
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
            if let Some(payment_id) = payment.payment_id {
                entry.payments.insert(payment_id, payment.amount);
            }
            Ok(PaymentOutcome {
                open_balance: entry.invoice.open,
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
            let entry = invoice_entry(&mut state.invoices, invoice_id)?;
            let invoice = &mut entry.invoice;
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
                .filter(|e| e.invoice.open > 0 || e.invoice.issue_date >= since)
                .map(|e| e.invoice.clone())
                .collect();
            Ok(LedgerView {
                totals: state.totals,
                invoices,
                stats: state.stats,
            })
        })
    }
}
