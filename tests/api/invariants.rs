//! The runtime check of reserved ⇔ APPROVED: a store whose copy of the
//! admission rule is broken (here: an embedded store that ignores the
//! conditions it is handed, as a drifted Lua script would) must not turn into an
//! approval the policy refuses. The service releases the reservation, refers,
//! and counts the violation. And a check answered STORE_UNAVAILABLE leaves
//! nothing reserved even when the store applied it and only its reply was lost.

use crate::helpers::{TestApp, amount, buyer, codes, decision, eur, eventually, test_settings};
use creditgate::domain::buyer::BuyerRecord;
use creditgate::domain::buyer::Rating;
use creditgate::domain::date::Date;
use creditgate::domain::decision_record::DecisionRecord;
use creditgate::domain::exposure::Invoice;
use creditgate::domain::ids::{BuyerId, InvoiceId, OrderId};
use creditgate::domain::retention::LedgerDay;
use creditgate::grpc::pb::Decision;
use creditgate::store::memory::MemoryStore;
use creditgate::store::{
    CancelOutcome, DisputeOutcome, HeldCursor, HeldOrder, InvoiceOutcome, LedgerView,
    PaymentOutcome, PaymentRequest, ReleaseOutcome, ReleaseRequest, ReserveOutcome, ReserveRequest,
    Store, StoreError, StoreHealth, StoredBuyer, UpsertOutcome,
};

/// The embedded store with one fault injected; every other call is the real
/// store's.
struct Faulty(MemoryStore, Fault);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Its admission check is disabled: it reserves whatever it is asked to.
    AdmitsEverything,
    /// A check's reply is lost after it was applied (a Redis whose reply was
    /// held up past the caller's deadline).
    LosesCheckReplies,
}

impl Store for Faulty {
    const IN_PROCESS: bool = true;

    async fn health(&self) -> StoreHealth {
        self.0.health().await
    }

    async fn load_buyer(&self, id: &BuyerId) -> Result<Option<StoredBuyer>, StoreError> {
        self.0.load_buyer(id).await
    }

    async fn upsert_buyer(
        &self,
        record: BuyerRecord,
        expected: Option<u64>,
    ) -> Result<UpsertOutcome, StoreError> {
        self.0.upsert_buyer(record, expected).await
    }

    async fn store_rating(
        &self,
        id: &BuyerId,
        rating: Rating,
        expected: u64,
    ) -> Result<u64, StoreError> {
        self.0.store_rating(id, rating, expected).await
    }

    async fn check_and_reserve(
        &self,
        mut request: ReserveRequest,
        day: LedgerDay,
    ) -> Result<ReserveOutcome, StoreError> {
        if self.1 == Fault::AdmitsEverything {
            request.conditions.blocked = false;
            request.conditions.max_total_after = i64::MAX;
            request.conditions.max_insurable_after = None;
            request.conditions.earliest_due_allowed = Date::from_days(i32::MIN / 2);
        }
        let outcome = self.0.check_and_reserve(request, day).await;
        if self.1 == Fault::LosesCheckReplies {
            return Err(StoreError::Unavailable("reply lost".into()));
        }
        outcome
    }

    async fn release_reservation(
        &self,
        id: &BuyerId,
        order: &OrderId,
        decision_id: &str,
    ) -> Result<i64, StoreError> {
        self.0.release_reservation(id, order, decision_id).await
    }

    async fn cancel_order(
        &self,
        id: &BuyerId,
        order: &OrderId,
        now: i64,
        day: LedgerDay,
    ) -> Result<CancelOutcome, StoreError> {
        self.0.cancel_order(id, order, now, day).await
    }

    async fn record_invoice(
        &self,
        id: &BuyerId,
        invoice: Invoice,
        now: i64,
        day: LedgerDay,
    ) -> Result<InvoiceOutcome, StoreError> {
        self.0.record_invoice(id, invoice, now, day).await
    }

    async fn record_payment(
        &self,
        id: &BuyerId,
        payment: PaymentRequest,
        now: i64,
        day: LedgerDay,
    ) -> Result<PaymentOutcome, StoreError> {
        self.0.record_payment(id, payment, now, day).await
    }

    async fn set_dispute(
        &self,
        id: &BuyerId,
        invoice: &InvoiceId,
        disputed: bool,
        now: i64,
        day: LedgerDay,
    ) -> Result<DisputeOutcome, StoreError> {
        self.0.set_dispute(id, invoice, disputed, now, day).await
    }

    async fn ledger(
        &self,
        id: &BuyerId,
        now: i64,
        day: LedgerDay,
    ) -> Result<LedgerView, StoreError> {
        self.0.ledger(id, now, day).await
    }

    async fn release_order(
        &self,
        request: ReleaseRequest,
        day: LedgerDay,
    ) -> Result<ReleaseOutcome, StoreError> {
        self.0.release_order(request, day).await
    }

    async fn decision(&self, id: &str) -> Result<Option<DecisionRecord>, StoreError> {
        self.0.decision(id).await
    }

    async fn held_orders(
        &self,
        buyer_id: Option<&BuyerId>,
        after: Option<&HeldCursor>,
        limit: usize,
    ) -> Result<Vec<HeldOrder>, StoreError> {
        self.0.held_orders(buyer_id, after, limit).await
    }

    async fn recent_decisions(
        &self,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        limit: usize,
    ) -> Result<Vec<DecisionRecord>, StoreError> {
        self.0.recent_decisions(from_ms, to_ms, limit).await
    }
}

#[tokio::test]
async fn a_reservation_the_policy_refuses_is_released_and_referred() {
    let store = Faulty(MemoryStore::new(), Fault::AdmitsEverything);
    let app = TestApp::spawn_on(store, test_settings()).await;
    app.upsert(buyer("B-1", "1000.00")).await;

    let over = app.check("B-1", "O-1", "5000.00").await;
    assert_eq!(decision(&over), Decision::Referred);
    assert_eq!(codes(&over), ["STORE_UNAVAILABLE"]);
    assert_eq!(app.invariants.violations(), 1);
    // Released: nothing stays reserved, and the order is not sticky.
    assert_eq!(amount(&app.exposure("B-1").await.open_orders), "0.00");
    let again = app.try_check("B-1", "O-1", eur("5000.00")).await.unwrap();
    assert_eq!(decision(&again), Decision::Referred);
    assert_ne!(codes(&again), ["ALREADY_APPROVED"]);
    assert_eq!(app.invariants.violations(), 2);

    // What the policy approves is approved as usual and counts nothing.
    let within = app.check("B-1", "O-2", "400.00").await;
    assert_eq!(decision(&within), Decision::Approved);
    assert_eq!(app.invariants.violations(), 2);
    assert_eq!(amount(&app.exposure("B-1").await.open_orders), "400.00");
}

#[tokio::test]
async fn a_check_whose_reply_was_lost_leaves_nothing_reserved() {
    let store = Faulty(MemoryStore::new(), Fault::LosesCheckReplies);
    let app = TestApp::spawn_on(store, test_settings()).await;
    app.upsert(buyer("B-1", "1000.00")).await;

    let lost = app.check("B-1", "O-1", "400.00").await;
    assert_eq!(decision(&lost), Decision::Referred);
    assert_eq!(codes(&lost), ["STORE_UNAVAILABLE"]);
    // The store had reserved it; the service undoes that decision's reservation
    // before it answers (so that no retry can find it first).
    eventually("the lost check's reservation released", || async {
        amount(&app.exposure("B-1").await.open_orders) == "0.00"
    })
    .await;
    assert_eq!(app.invariants.violations(), 0);
}
