//! Where rows go: a running server (LedgerService) or Redis through an
//! in-process service. Both take the same protobuf requests and answer as the
//! API does (a `tonic::Status` on refusal), so a row is judged the same way.

use crate::grpc::pb;
use std::future::Future;
use tonic::{Code, Status};

/// One request of an import row, in the order the row applies them.
#[derive(Clone, Debug)]
pub enum LedgerRequest {
    Invoice(pb::RecordInvoiceRequest),
    Payment(pb::RecordPaymentRequest),
    Dispute(pb::SetInvoiceDisputeRequest),
}

/// A row's result: for each request whether it created something (setting a
/// dispute flag never counts), or the index of the request refused and why —
/// the requests before it were applied, none after it.
pub type RowResult = Result<Vec<bool>, (usize, Status)>;

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

    /// Rows of one buyer's requests, in order, each row stopping at its first
    /// refusal; after a refusal that will stop the import the answers end (the
    /// rows after it are not sent). An error of the whole call may come after
    /// some rows were applied (they are idempotent: a re-run settles them).
    /// One call per request unless the sink can do better.
    fn apply_rows(
        &self,
        buyer_id: &str,
        rows: Vec<Vec<LedgerRequest>>,
    ) -> impl Future<Output = Result<Vec<RowResult>, Status>> + Send {
        let _ = buyer_id;
        one_by_one(self, rows)
    }

    /// The currency the stored buyer trades in; None when there is no such buyer.
    fn currency(
        &self,
        buyer_id: &str,
    ) -> impl Future<Output = Result<Option<String>, Status>> + Send;
}

async fn one_by_one<S: Sink + ?Sized>(
    sink: &S,
    rows: Vec<Vec<LedgerRequest>>,
) -> Result<Vec<RowResult>, Status> {
    let mut results = Vec::with_capacity(rows.len());
    for row in rows {
        let mut created = Vec::with_capacity(row.len());
        let mut refused = None;
        for (i, request) in row.into_iter().enumerate() {
            let answer = match request {
                LedgerRequest::Invoice(request) => sink.record_invoice(request).await,
                LedgerRequest::Payment(request) => sink.record_payment(request).await,
                LedgerRequest::Dispute(request) => sink.set_dispute(request).await.map(|()| false),
            };
            match answer {
                Ok(flag) => created.push(flag),
                Err(status) => {
                    refused = Some((i, status));
                    break;
                }
            }
        }
        // Nothing else will get through either: the rows after it are not
        // sent (the caller counts them as not attempted).
        let fatal = refused.as_ref().is_some_and(|(_, status)| is_fatal(status));
        results.push(match refused {
            Some(refusal) => Err(refusal),
            None => Ok(created),
        });
        if fatal {
            break;
        }
    }
    Ok(results)
}

/// What a refusal means for the import.
pub enum Refusal {
    /// The row is wrong (or conflicts with the ledger): reject it, go on.
    Row(Status),
    /// Nothing else will get through either (unreachable, not authorised, a store
    /// without its marker and no seed mode): stop, and say why.
    Fatal(String),
}

/// Whether nothing else will get through either (see [`Refusal::Fatal`]).
fn is_fatal(status: &Status) -> bool {
    match status.code() {
        Code::InvalidArgument | Code::NotFound | Code::AlreadyExists | Code::OutOfRange => false,
        Code::FailedPrecondition => status.message().contains("store not initialised"),
        _ => true,
    }
}

pub fn judge(status: Status) -> Refusal {
    if !is_fatal(&status) {
        return Refusal::Row(status);
    }
    match status.code() {
        Code::FailedPrecondition => Refusal::Fatal(format!(
            "{}; a re-seed writes through a --seed-mode server, or straight into Redis \
             (--redis-url / --redis-cluster)",
            status.message()
        )),
        code => Refusal::Fatal(format!("{code:?}: {}", status.message())),
    }
}
