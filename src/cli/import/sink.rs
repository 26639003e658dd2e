//! Where rows go: a running server (LedgerService) or Redis through an
//! in-process service. Both take the same protobuf requests and answer as the
//! API does (a `tonic::Status` on refusal), so a row is judged the same way.

use crate::grpc::pb;
use std::future::Future;
use tonic::{Code, Status};

/// Whether a write changed the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    Applied,
    /// Already recorded with the same content (the API's `created = false`).
    Unchanged,
}

pub trait Sink: Send + Sync + 'static {
    /// Where the rows go, for the summary.
    fn describe(&self) -> String;

    fn upsert_buyer(
        &self,
        request: pb::UpsertBuyerRequest,
    ) -> impl Future<Output = Result<Written, Status>> + Send;

    /// `created` of the answer.
    fn record_invoice(
        &self,
        request: pb::RecordInvoiceRequest,
    ) -> impl Future<Output = Result<bool, Status>> + Send;

    /// `created` of the answer.
    fn record_payment(
        &self,
        request: pb::RecordPaymentRequest,
    ) -> impl Future<Output = Result<bool, Status>> + Send;

    fn set_dispute(
        &self,
        request: pb::SetInvoiceDisputeRequest,
    ) -> impl Future<Output = Result<(), Status>> + Send;

    /// The currency the stored buyer trades in; None when there is no such buyer.
    fn currency(
        &self,
        buyer_id: &str,
    ) -> impl Future<Output = Result<Option<String>, Status>> + Send;
}

/// What a refusal means for the import.
pub enum Refusal {
    /// The row is wrong (or conflicts with the ledger): reject it, go on.
    Row(Status),
    /// Nothing else will get through either (unreachable, not authorised, a store
    /// without its marker and no seed mode): stop, and say why.
    Fatal(String),
}

pub fn judge(status: Status) -> Refusal {
    match status.code() {
        Code::InvalidArgument | Code::NotFound | Code::AlreadyExists | Code::OutOfRange => {
            Refusal::Row(status)
        }
        Code::FailedPrecondition if !status.message().contains("store not initialised") => {
            Refusal::Row(status)
        }
        Code::FailedPrecondition => Refusal::Fatal(format!(
            "{}; a re-seed writes through a --seed-mode server, or straight into Redis \
             (--redis-url / --redis-cluster)",
            status.message()
        )),
        code => Refusal::Fatal(format!("{code:?}: {}", status.message())),
    }
}
