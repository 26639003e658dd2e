//! Times every store operation for `creditgate_store_duration_seconds{op}`: a
//! decorator, so neither store knows about metrics. Without metrics it only
//! forwards (one branch per call).

use super::*;
use crate::metrics::{Metrics, StoreOp};
use std::sync::Arc;
use std::time::Instant;

pub struct Timed<S> {
    inner: S,
    metrics: Option<Arc<Metrics>>,
}

impl<S: Store> Timed<S> {
    pub fn new(inner: S, metrics: Option<Arc<Metrics>>) -> Timed<S> {
        Timed { inner, metrics }
    }

    /// Runs `operation`, timing it when metrics are on; a failed or abandoned
    /// operation is timed too (a timeout shows as the time it took to give up).
    async fn timed<T>(&self, op: StoreOp, operation: impl Future<Output = T>) -> T {
        let Some(metrics) = &self.metrics else {
            return operation.await;
        };
        let started = Instant::now();
        let _record = OnDrop(|| metrics.store_op(op, started.elapsed()));
        operation.await
    }
}

/// Records when dropped: also when the caller's deadline drops the operation.
struct OnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

impl<S: Store> Store for Timed<S> {
    const IN_PROCESS: bool = S::IN_PROCESS;

    async fn health(&self) -> StoreHealth {
        self.timed(StoreOp::Health, self.inner.health()).await
    }

    async fn load_buyer(&self, buyer_id: &BuyerId) -> Result<Option<StoredBuyer>, StoreError> {
        self.timed(StoreOp::LoadBuyer, self.inner.load_buyer(buyer_id))
            .await
    }

    async fn load_buyer_fresh(
        &self,
        buyer_id: &BuyerId,
    ) -> Result<Option<StoredBuyer>, StoreError> {
        self.timed(
            StoreOp::LoadBuyerFresh,
            self.inner.load_buyer_fresh(buyer_id),
        )
        .await
    }

    async fn upsert_buyer(
        &self,
        record: BuyerRecord,
        expected_profile_version: Option<u64>,
    ) -> Result<UpsertOutcome, StoreError> {
        let write = self.inner.upsert_buyer(record, expected_profile_version);
        self.timed(StoreOp::UpsertBuyer, write).await
    }

    async fn store_rating(
        &self,
        buyer_id: &BuyerId,
        rating: crate::domain::buyer::Rating,
        expected_profile_version: u64,
    ) -> Result<u64, StoreError> {
        let write = self
            .inner
            .store_rating(buyer_id, rating, expected_profile_version);
        self.timed(StoreOp::StoreRating, write).await
    }

    async fn check_and_reserve(
        &self,
        request: ReserveRequest,
        day: LedgerDay,
    ) -> Result<ReserveOutcome, StoreError> {
        let check = self.inner.check_and_reserve(request, day);
        self.timed(StoreOp::CheckAndReserve, check).await
    }

    async fn release_reservation(
        &self,
        buyer_id: &BuyerId,
        order_id: &OrderId,
        decision_id: &str,
    ) -> Result<i64, StoreError> {
        let release = self
            .inner
            .release_reservation(buyer_id, order_id, decision_id);
        self.timed(StoreOp::ReleaseReservation, release).await
    }

    async fn cancel_order(
        &self,
        buyer_id: &BuyerId,
        order_id: &OrderId,
        now_secs: i64,
        day: LedgerDay,
    ) -> Result<CancelOutcome, StoreError> {
        let cancel = self.inner.cancel_order(buyer_id, order_id, now_secs, day);
        self.timed(StoreOp::CancelOrder, cancel).await
    }

    async fn record_invoice(
        &self,
        buyer_id: &BuyerId,
        invoice: Invoice,
        now_secs: i64,
        day: LedgerDay,
    ) -> Result<InvoiceOutcome, StoreError> {
        let write = self.inner.record_invoice(buyer_id, invoice, now_secs, day);
        self.timed(StoreOp::RecordInvoice, write).await
    }

    async fn record_ledger_rows(
        &self,
        buyer_id: &BuyerId,
        rows: &[Vec<LedgerWrite>],
        now_secs: i64,
        day: LedgerDay,
    ) -> Result<Vec<RowAnswers>, StoreError> {
        let write = self.inner.record_ledger_rows(buyer_id, rows, now_secs, day);
        self.timed(StoreOp::RecordLedgerRows, write).await
    }

    async fn record_payment(
        &self,
        buyer_id: &BuyerId,
        payment: PaymentRequest,
        now_secs: i64,
        day: LedgerDay,
    ) -> Result<PaymentOutcome, StoreError> {
        let write = self.inner.record_payment(buyer_id, payment, now_secs, day);
        self.timed(StoreOp::RecordPayment, write).await
    }

    async fn set_dispute(
        &self,
        buyer_id: &BuyerId,
        invoice_id: &InvoiceId,
        disputed: bool,
        now_secs: i64,
        day: LedgerDay,
    ) -> Result<DisputeOutcome, StoreError> {
        let write = self
            .inner
            .set_dispute(buyer_id, invoice_id, disputed, now_secs, day);
        self.timed(StoreOp::SetDispute, write).await
    }

    async fn ledger(
        &self,
        buyer_id: &BuyerId,
        now_secs: i64,
        day: LedgerDay,
    ) -> Result<LedgerView, StoreError> {
        self.timed(StoreOp::Ledger, self.inner.ledger(buyer_id, now_secs, day))
            .await
    }

    fn new_decision_id(&self, buyer_id: &BuyerId) -> String {
        self.inner.new_decision_id(buyer_id)
    }

    async fn release_order(
        &self,
        request: ReleaseRequest,
        day: LedgerDay,
    ) -> Result<ReleaseOutcome, StoreError> {
        let write = self.inner.release_order(request, day);
        self.timed(StoreOp::ReleaseOrder, write).await
    }

    async fn decision(&self, decision_id: &str) -> Result<Option<DecisionRecord>, StoreError> {
        self.timed(StoreOp::Decision, self.inner.decision(decision_id))
            .await
    }

    async fn held_orders(
        &self,
        buyer_id: Option<&BuyerId>,
        after: Option<&HeldCursor>,
        limit: usize,
    ) -> Result<Vec<HeldOrder>, StoreError> {
        let read = self.inner.held_orders(buyer_id, after, limit);
        self.timed(StoreOp::HeldOrders, read).await
    }

    // An analyst's what-if: off the request path, timed as its RPC.
    async fn recent_decisions(
        &self,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        limit: usize,
    ) -> Result<Vec<DecisionRecord>, StoreError> {
        self.inner.recent_decisions(from_ms, to_ms, limit).await
    }

    // The shipper's calls: off the request path, timed by the shipper's own
    // batch metrics.
    async fn outbox_read(&self, max: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        self.inner.outbox_read(max).await
    }

    async fn outbox_ack(&self, entries: &[OutboxEntry]) -> Result<(), StoreError> {
        self.inner.outbox_ack(entries).await
    }

    async fn outbox_len(&self) -> Result<u64, StoreError> {
        self.inner.outbox_len().await
    }

    async fn outbox_housekeeping(&self) -> Result<u64, StoreError> {
        self.inner.outbox_housekeeping().await
    }
}
