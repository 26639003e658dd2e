//! Many ledger writes of one buyer in one store call, for an import: rows of
//! writes (an invoice, the payment of its paid part, its dispute flag), applied
//! in order, each as its own call would apply it, a row stopping at its first
//! refusal. A store that can do better than one call per write (Redis: one
//! script per batch, `ledger_rows.lua`) overrides [`Store::record_ledger_rows`];
//! the others apply them one by one here.

use super::{DisputeOutcome, InvoiceOutcome, PaymentOutcome, PaymentRequest, Store, StoreError};
use crate::domain::exposure::Invoice;
use crate::domain::ids::{BuyerId, InvoiceId};
use crate::domain::retention::LedgerDay;

/// One write of a row, as its own store call takes it.
#[derive(Clone, Debug)]
pub enum LedgerWrite {
    Invoice(Invoice),
    Payment(PaymentRequest),
    Dispute {
        invoice_id: InvoiceId,
        disputed: bool,
    },
}

/// What that call answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LedgerWritten {
    Invoice(InvoiceOutcome),
    Payment(PaymentOutcome),
    Dispute(DisputeOutcome),
}

/// A row's answers in order, up to and including its first refusal: the writes
/// after a refused one are not applied.
pub type RowAnswers = Vec<Result<LedgerWritten, StoreError>>;

/// The most writes one batch carries to the store: a batch is one atomic step on
/// Redis, and no step may hold other buyers' decisions up for long (each write
/// costs some 20-40 µs of Redis time).
pub const MAX_WRITES_PER_CALL: usize = 64;

/// The rows cut into consecutive batches of at most [`MAX_WRITES_PER_CALL`]
/// writes, never splitting a row.
pub fn batches(rows: &[Vec<LedgerWrite>]) -> Vec<&[Vec<LedgerWrite>]> {
    let mut out = Vec::new();
    let (mut start, mut writes) = (0, 0);
    for (i, row) in rows.iter().enumerate() {
        if i > start && writes + row.len() > MAX_WRITES_PER_CALL {
            out.push(&rows[start..i]);
            (start, writes) = (i, 0);
        }
        writes += row.len();
    }
    if start < rows.len() {
        out.push(&rows[start..]);
    }
    out
}

/// The rows applied one call per write.
pub async fn one_by_one<S: Store + ?Sized>(
    store: &S,
    buyer_id: &BuyerId,
    rows: &[Vec<LedgerWrite>],
    now_secs: i64,
    day: LedgerDay,
) -> Result<Vec<RowAnswers>, StoreError> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut answers = RowAnswers::with_capacity(row.len());
        for write in row {
            let answer = match write.clone() {
                LedgerWrite::Invoice(invoice) => store
                    .record_invoice(buyer_id, invoice, now_secs, day)
                    .await
                    .map(LedgerWritten::Invoice),
                LedgerWrite::Payment(payment) => store
                    .record_payment(buyer_id, payment, now_secs, day)
                    .await
                    .map(LedgerWritten::Payment),
                LedgerWrite::Dispute {
                    invoice_id,
                    disputed,
                } => store
                    .set_dispute(buyer_id, &invoice_id, disputed, now_secs, day)
                    .await
                    .map(LedgerWritten::Dispute),
            };
            let refused = answer.is_err();
            answers.push(answer);
            if refused {
                break;
            }
        }
        out.push(answers);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dispute() -> LedgerWrite {
        LedgerWrite::Dispute {
            invoice_id: InvoiceId::parse("INV-1").unwrap(),
            disputed: true,
        }
    }

    #[test]
    fn batches_keep_rows_whole_and_under_the_cap() {
        let rows: Vec<Vec<LedgerWrite>> = (0..100).map(|i| vec![dispute(); 1 + i % 3]).collect();
        let cut = batches(&rows);
        assert!(cut.len() > 1);
        let mut seen = 0;
        for batch in &cut {
            let writes: usize = batch.iter().map(Vec::len).sum();
            assert!(writes <= MAX_WRITES_PER_CALL, "{writes} writes");
            // Full: the next row would not have fitted.
            if seen + batch.len() < rows.len() {
                assert!(writes + rows[seen + batch.len()].len() > MAX_WRITES_PER_CALL);
            }
            seen += batch.len();
        }
        assert_eq!(seen, rows.len(), "every row once, in order");
        assert!(batches(&[]).is_empty());
    }
}
