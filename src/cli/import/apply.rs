//! Applying the rows: buyers first, then invoices, then payments, whatever the
//! order of the files; within a buyer in row order; many buyers at once.

use super::columns::{Kind, invoice};
use super::formats::FileRows;
use super::progress::Progress;
use super::rows::{self, Row, RowError, Step};
use super::sink::{LedgerRequest, Refusal, Sink, Written, judge};
use super::summary::{Settled, Tally};
use crate::clock::{Clock, SystemClock};
use crate::domain::money::Money;
use crate::grpc::{pb, requests};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// The rows of every file, grouped by kind and buyer.
pub struct Plan {
    groups: [Vec<Vec<Row>>; 3],
    /// Rows refused while reading.
    rejected_on_read: Vec<RowError>,
    /// (buyer_id, invoice_id) → the amounts of its payments rows: the part of
    /// an invoice's paid part they explain is not derived again.
    explicit_paid: HashMap<(String, String), Vec<String>>,
    rows: u64,
}

/// Groups rows by buyer (column 0 of every kind), buyers in first-seen order,
/// each buyer's rows in file and line order.
fn by_buyer(rows: Vec<Row>) -> Vec<Vec<Row>> {
    let mut at: HashMap<String, usize> = HashMap::new();
    let mut groups: Vec<Vec<Row>> = Vec::new();
    for row in rows {
        let buyer = row.text(0);
        match at.get(&buyer) {
            Some(i) => groups[*i].push(row),
            None => {
                at.insert(buyer, groups.len());
                groups.push(vec![row]);
            }
        }
    }
    groups
}

impl Plan {
    pub fn new(files: Vec<FileRows>, tally: &Tally) -> Plan {
        let mut by_kind: [Vec<Row>; 3] = Default::default();
        let mut rejected_on_read = Vec::new();
        for file in files {
            tally.read(file.kind, (file.rows.len() + file.rejected.len()) as u64);
            by_kind[file.kind as usize].extend(file.rows);
            rejected_on_read.extend(file.rejected);
        }
        let mut explicit_paid: HashMap<(String, String), Vec<String>> = HashMap::new();
        for row in &by_kind[Kind::Payments as usize] {
            use super::columns::payment::{AMOUNT, BUYER_ID, INVOICE_ID};
            explicit_paid
                .entry((row.text(BUYER_ID), row.text(INVOICE_ID)))
                .or_default()
                .push(row.text(AMOUNT));
        }
        let rows = by_kind.iter().map(|rows| rows.len() as u64).sum();
        Plan {
            groups: by_kind.map(by_buyer),
            rejected_on_read,
            explicit_paid,
            rows,
        }
    }
}

/// Why a row was not applied.
enum Failure {
    Row(RowError),
    /// Stops the import (see [`Refusal::Fatal`]).
    Fatal(String),
}

impl From<RowError> for Failure {
    fn from(error: RowError) -> Failure {
        Failure::Row(error)
    }
}

/// A refusal of `step` for `row`, its message naming the column it came from.
fn refused(row: &Row, step: Step, status: tonic::Status) -> Failure {
    let status = match judge(status) {
        Refusal::Fatal(message) => return Failure::Fatal(message),
        Refusal::Row(status) => status,
    };
    let mut message = status.message();
    let column = match status.code() {
        // The API's INVALID_ARGUMENT starts with the field path: once it names
        // a column, the rest of the message is what is wrong with that cell.
        tonic::Code::InvalidArgument => {
            let (field, rest) = message.split_once(' ').unwrap_or((message, ""));
            let column = step.column(field);
            if column.is_some() && step != Step::PaidPart && !rest.is_empty() {
                message = rest;
            }
            column
        }
        code => step.column_for(code, message),
    };
    let context = match step {
        Step::PaidPart => format!(
            "the paid part (amount − open_amount, payment {}): ",
            rows::derived_payment_id(row.cell(invoice::INVOICE_ID).unwrap_or_default())
        ),
        Step::Dispute => "marking it disputed: ".to_owned(),
        _ => String::new(),
    };
    Failure::Row(row.error(column, format!("{context}{message}")))
}

struct Shared<S: Sink> {
    sink: Arc<S>,
    tally: Arc<Tally>,
    progress: Arc<Progress>,
    explicit_paid: HashMap<(String, String), Vec<String>>,
    /// buyer_id → its currency: from this run's applied buyers rows, else asked
    /// of the sink once (None: no such buyer).
    currencies: Mutex<HashMap<String, Option<String>>>,
    stop: AtomicBool,
    fatal: Mutex<Option<String>>,
}

pub struct Report {
    pub fatal: Option<String>,
    pub elapsed: std::time::Duration,
}

/// Applies the plan with at most `concurrency` buyers in flight.
pub async fn apply<S: Sink>(
    sink: Arc<S>,
    plan: Plan,
    tally: Arc<Tally>,
    concurrency: usize,
) -> Report {
    let started = Instant::now();
    let progress = Progress::start(plan.rows);
    for error in &plan.rejected_on_read {
        tally.settle(error.kind, Settled::Rejected);
        progress.rejected(&error.message);
    }
    let shared = Arc::new(Shared {
        sink,
        tally,
        progress: progress.clone(),
        explicit_paid: plan.explicit_paid,
        currencies: Mutex::new(HashMap::new()),
        stop: AtomicBool::new(false),
        fatal: Mutex::new(None),
    });
    let [buyers, invoices, payments] = plan.groups;
    for (kind, groups) in [
        (Kind::Buyers, buyers),
        (Kind::Invoices, invoices),
        (Kind::Payments, payments),
    ] {
        phase(&shared, kind, groups, concurrency.max(1)).await;
    }
    progress.finish();
    let fatal = shared.fatal.lock().take();
    Report {
        fatal,
        elapsed: started.elapsed(),
    }
}

async fn phase<S: Sink>(
    shared: &Arc<Shared<S>>,
    kind: Kind,
    groups: Vec<Vec<Row>>,
    concurrency: usize,
) {
    let slots = Arc::new(Semaphore::new(concurrency));
    let mut tasks = JoinSet::new();
    for group in groups {
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        let task_shared = shared.clone();
        tasks.spawn(async move {
            apply_group(&task_shared, kind, group).await;
            drop(slot);
        });
        // Finished tasks are reaped as we go, so the set stays small.
        while let Some(done) = tasks.try_join_next() {
            shared_panic(shared, done);
        }
    }
    while let Some(done) = tasks.join_next().await {
        shared_panic(shared, done);
    }
}

fn shared_panic<S: Sink>(shared: &Shared<S>, done: Result<(), tokio::task::JoinError>) {
    if let Err(error) = done {
        shared.stop.store(true, Ordering::Relaxed);
        shared
            .fatal
            .lock()
            .get_or_insert_with(|| format!("internal error while applying rows: {error}"));
    }
}

/// Rows of one buyer sent to the sink at once: one store call on Redis for up
/// to this many rows (cut further by the store), and how often the progress
/// moves for a buyer with many.
const ROWS_PER_CALL: usize = 64;

async fn apply_group<S: Sink>(shared: &Shared<S>, kind: Kind, group: Vec<Row>) {
    if kind == Kind::Buyers {
        for row in &group {
            if shared.stop.load(Ordering::Relaxed) {
                return;
            }
            let result = buyer_row(shared, row).await;
            if !settle(shared, kind, result) {
                return;
            }
        }
        return;
    }
    for chunk in group.chunks(ROWS_PER_CALL) {
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        // Each row's requests, validated before any is sent; a row refused
        // here is settled at once.
        let mut ready: Vec<(&Row, Vec<Step>)> = Vec::new();
        let mut requests: Vec<Vec<LedgerRequest>> = Vec::new();
        for row in chunk {
            let prepared = match kind {
                Kind::Invoices => invoice_row(shared, row).await,
                _ => payment_row(shared, row).await,
            };
            match prepared {
                Ok((row_requests, steps)) => {
                    ready.push((row, steps));
                    requests.push(row_requests);
                }
                Err(failure) => {
                    if !settle(shared, kind, Err(failure)) {
                        return;
                    }
                }
            }
        }
        if ready.is_empty() {
            continue;
        }
        let buyer_id = ready[0].0.text(0);
        match shared.sink.apply_rows(&buyer_id, requests).await {
            Ok(results) => {
                for ((row, steps), result) in ready.into_iter().zip(results) {
                    let result = match result {
                        // An invoices row counts as applied when its invoice or
                        // the payment of its paid part was new.
                        Ok(created) if created.contains(&true) => Ok(Written::Applied),
                        Ok(_) => Ok(Written::Unchanged),
                        Err((i, status)) => Err(refused(row, steps[i], status)),
                    };
                    if !settle(shared, kind, result) {
                        return;
                    }
                }
            }
            Err(status) => {
                for (row, steps) in ready {
                    if !settle(shared, kind, Err(refused(row, steps[0], status.clone()))) {
                        return;
                    }
                }
            }
        }
    }
}

/// Counts a row's outcome; false when the import must stop.
fn settle<S: Sink>(shared: &Shared<S>, kind: Kind, result: Result<Written, Failure>) -> bool {
    let settled = match result {
        Ok(Written::Applied) => Settled::Applied,
        Ok(Written::Unchanged) => Settled::Unchanged,
        Err(Failure::Row(error)) => {
            shared.progress.rejected(&error.message);
            Settled::Rejected
        }
        Err(Failure::Fatal(message)) => {
            shared.stop.store(true, Ordering::Relaxed);
            shared.fatal.lock().get_or_insert(message);
            return false;
        }
    };
    shared.tally.settle(kind, settled);
    shared.progress.row_done();
    true
}

async fn buyer_row<S: Sink>(shared: &Shared<S>, row: &Row) -> Result<Written, Failure> {
    let request = rows::upsert_buyer(row)?;
    let (buyer_id, currency) = request
        .buyer
        .as_ref()
        .map(|b| (b.buyer_id.clone(), b.currency_code.clone()))
        .unwrap_or_default();
    let written = shared
        .sink
        .upsert_buyer(request)
        .await
        .map_err(|status| refused(row, Step::Buyer, status))?;
    // Its invoices and payments are in this currency (rows carry none).
    shared.currencies.lock().insert(buyer_id, Some(currency));
    Ok(written)
}

/// The buyer's currency: invoices and payments rows carry none.
async fn currency<S: Sink>(shared: &Shared<S>, row: &Row, step: Step) -> Result<String, Failure> {
    let buyer_id = row.text(0);
    // An id no buyer can have is named as the API names it, not as "not found".
    crate::grpc::convert::buyer_id("buyer_id", &buyer_id)
        .map_err(|e| refused(row, step, e.into()))?;
    let known = shared.currencies.lock().get(&buyer_id).cloned();
    let currency = match known {
        Some(currency) => currency,
        None => {
            let asked = shared
                .sink
                .currency(&buyer_id)
                .await
                .map_err(|status| refused(row, step, status))?;
            shared
                .currencies
                .lock()
                .insert(buyer_id.clone(), asked.clone());
            asked
        }
    };
    currency.ok_or_else(|| {
        Failure::Row(row.error(
            Some(0),
            format!(
                "buyer {buyer_id:?} not found: neither applied from this import's buyers rows nor stored"
            ),
        ))
    })
}

/// The payment of the invoice's paid part that its payments rows (if any) do
/// not explain, paid on the issue date; None when nothing is left to derive.
fn paid_part<S: Sink>(
    shared: &Shared<S>,
    row: &Row,
    request: &pb::RecordInvoiceRequest,
    amount: Money,
) -> Result<Option<pb::RecordPaymentRequest>, Failure> {
    let Some(open_text) = row.cell(invoice::OPEN_AMOUNT) else {
        // No open_amount: the whole invoice is open.
        return Ok(None);
    };
    let currency = amount.currency();
    let open = Money::parse(currency, open_text)
        .map_err(|e| row.error(Some(invoice::OPEN_AMOUNT), format!("{open_text:?} {e}")))?;
    if open.minor() > amount.minor() {
        return Err(row
            .error(
                Some(invoice::OPEN_AMOUNT),
                format!("{open} is more than the amount {amount}"),
            )
            .into());
    }
    let explained: i64 = shared
        .explicit_paid
        .get(&(request.buyer_id.clone(), request.invoice_id.clone()))
        .map(|amounts| {
            amounts
                .iter()
                .filter_map(|a| Money::parse_positive(currency, a).ok())
                .map(|m| m.minor())
                .sum()
        })
        .unwrap_or(0);
    let paid = amount.minor() - open.minor();
    let derived = paid - explained;
    if derived < 0 {
        return Err(row
            .error(
                Some(invoice::OPEN_AMOUNT),
                format!(
                    "the payments rows of this invoice pay {}, more than amount − open_amount ({})",
                    Money::from_minor(currency, explained),
                    Money::from_minor(currency, paid)
                ),
            )
            .into());
    }
    if derived == 0 {
        return Ok(None);
    }
    Ok(Some(pb::RecordPaymentRequest {
        buyer_id: request.buyer_id.clone(),
        invoice_id: request.invoice_id.clone(),
        amount: Some(pb::Money {
            currency_code: currency.code().to_owned(),
            amount: Money::from_minor(currency, derived).amount_string(),
        }),
        paid_date: request.issue_date.clone(),
        payment_id: rows::derived_payment_id(&request.invoice_id),
    }))
}

/// An invoices row: RecordInvoice, then the payment of its paid part, then
/// SetInvoiceDispute when disputed, with the step each request stands for.
/// Every request is validated by the API's parsing before any is sent, so a row
/// the API would refuse in a later step writes nothing.
async fn invoice_row<S: Sink>(
    shared: &Shared<S>,
    row: &Row,
) -> Result<(Vec<LedgerRequest>, Vec<Step>), Failure> {
    let currency = currency(shared, row, Step::Invoice).await?;
    let request = rows::record_invoice(row, &currency);
    let draft =
        requests::record_invoice(&request).map_err(|e| refused(row, Step::Invoice, e.into()))?;
    let disputed = rows::invoice_disputed(row)?;
    let paid_part = paid_part(shared, row, &request, draft.amount)?;
    if let Some(payment) = &paid_part {
        let parsed = requests::record_payment(payment)
            .map_err(|e| refused(row, Step::PaidPart, e.into()))?;
        // A payment cannot lie after today (the API's rule, checked by the
        // service only after the invoice would have been written).
        if parsed.paid_date > SystemClock.today() {
            return Err(row
                .error(
                    Some(invoice::ISSUE_DATE),
                    format!(
                        "{} is after today, so no part of the invoice can be paid yet (open_amount is below amount)",
                        parsed.paid_date
                    ),
                )
                .into());
        }
    }
    let dispute = disputed.then(|| pb::SetInvoiceDisputeRequest {
        buyer_id: request.buyer_id.clone(),
        invoice_id: request.invoice_id.clone(),
        disputed: true,
    });
    let mut requests = vec![LedgerRequest::Invoice(request)];
    let mut steps = vec![Step::Invoice];
    if let Some(payment) = paid_part {
        requests.push(LedgerRequest::Payment(payment));
        steps.push(Step::PaidPart);
    }
    if let Some(dispute) = dispute {
        requests.push(LedgerRequest::Dispute(dispute));
        steps.push(Step::Dispute);
    }
    Ok((requests, steps))
}

async fn payment_row<S: Sink>(
    shared: &Shared<S>,
    row: &Row,
) -> Result<(Vec<LedgerRequest>, Vec<Step>), Failure> {
    let currency = currency(shared, row, Step::Payment).await?;
    let request = rows::record_payment(row, &currency);
    Ok((vec![LedgerRequest::Payment(request)], vec![Step::Payment]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::import::formats;
    use std::sync::atomic::AtomicUsize;
    use tonic::Status;

    /// A server that has gone away: every payment is refused UNAVAILABLE.
    #[derive(Default)]
    struct GoneServer {
        payments: AtomicUsize,
    }

    impl Sink for GoneServer {
        fn describe(&self) -> String {
            "a server that went away".into()
        }
        async fn upsert_buyer(&self, _: pb::UpsertBuyerRequest) -> Result<Written, Status> {
            unreachable!("no buyers rows")
        }
        async fn record_invoice(&self, _: pb::RecordInvoiceRequest) -> Result<bool, Status> {
            unreachable!("no invoices rows")
        }
        async fn record_payment(&self, _: pb::RecordPaymentRequest) -> Result<bool, Status> {
            self.payments.fetch_add(1, Ordering::SeqCst);
            Err(Status::unavailable("connection refused"))
        }
        async fn set_dispute(&self, _: pb::SetInvoiceDisputeRequest) -> Result<(), Status> {
            unreachable!("no disputes")
        }
        async fn currency(&self, _: &str) -> Result<Option<String>, Status> {
            Ok(Some("EUR".into()))
        }
    }

    /// A refusal that stops the import stops it at once, not after the rest of
    /// the batch of rows handed to the sink: no more calls to a server that is
    /// gone (each could wait its whole timeout), nothing written uncounted.
    #[tokio::test]
    async fn a_fatal_refusal_sends_no_further_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("payments.csv");
        let mut csv = String::from("buyer_id,invoice_id,payment_id,amount,paid_date\n");
        for i in 0..10 {
            csv.push_str(&format!(
                "B-1,INV-{i},PAY-{i},10.00,2026-01-0{}\n",
                1 + i % 9
            ));
        }
        std::fs::write(&path, csv).unwrap();
        let tally = Arc::new(Tally::default());
        let plan = Plan::new(vec![formats::read(&path).unwrap()], &tally);
        let sink = Arc::new(GoneServer::default());
        let report = apply(sink.clone(), plan, tally.clone(), 4).await;
        assert_eq!(
            sink.payments.load(Ordering::SeqCst),
            1,
            "calls after the refusal"
        );
        let fatal = report.fatal.expect("the import stops");
        assert!(fatal.contains("connection refused"), "{fatal}");
        assert_eq!(tally.not_attempted(), 10);
    }
}
