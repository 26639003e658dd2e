//! The ledger writes' arguments and answers, as `ledger_writes.lua` takes and
//! gives them: one encoding whether a write runs in its own script
//! (invoice.lua, payment.lua, dispute.lua) or with others of its buyer in
//! `ledger_rows.lua` (an import).

use super::reply::{at, int, status};
use super::{Durability, OrEmpty, RedisStore, common_error, totals_at};
use crate::domain::date::Date;
use crate::domain::exposure::Invoice;
use crate::domain::ids::{BuyerId, InvoiceId};
use crate::domain::retention::LedgerDay;
use crate::store::ledger_rows::{self, LedgerWrite, LedgerWritten, RowAnswers};
use crate::store::{DisputeOutcome, InvoiceOutcome, PaymentOutcome, PaymentRequest, StoreError};
use redis::{RedisWrite, ToRedisArgs, Value};

/// `record_invoice`'s arguments but the buyer id: invoice_id, order_id ('' =
/// none), amount, issue_day, due_day.
pub(super) fn invoice_args(invoice: &Invoice) -> impl ToRedisArgs + '_ {
    (
        invoice.id.as_str(),
        invoice.order_id.as_ref().map_or("", |o| o.as_str()),
        invoice.amount,
        invoice.issue_date.days(),
        invoice.due_date.days(),
    )
}

/// `record_payment`'s arguments: the payment, then the limit adjustment rule.
pub(super) fn payment_args(payment: &PaymentRequest) -> impl ToRedisArgs + '_ {
    let rule = payment.adjustment_rule;
    (
        payment.invoice_id.as_str(),
        payment.amount,
        payment.paid_date.days(),
        payment.payment_id.as_str(),
        OrEmpty(payment.discount_days.map(i64::from)),
        rule.late_after_days,
        rule.step_percent,
        rule.floor_percent,
        rule.restore_after_on_time_payments,
    )
}

/// `set_dispute`'s arguments.
pub(super) fn dispute_args(invoice_id: &InvoiceId, disputed: bool) -> impl ToRedisArgs + '_ {
    (invoice_id.as_str(), if disputed { "1" } else { "0" })
}

/// The head of a write's reply, or the error every script may answer with.
fn head<'a>(reply: &'a Value, buyer_id: &BuyerId) -> Result<(String, &'a [Value]), StoreError> {
    let (head, rest) = status(reply)?;
    match common_error(&head, buyer_id) {
        Some(error) => Err(error),
        None => Ok((head, rest)),
    }
}

pub(super) fn invoice_answer(
    reply: &Value,
    buyer_id: &BuyerId,
    invoice: &Invoice,
) -> Result<InvoiceOutcome, StoreError> {
    let (head, rest) = head(reply, buyer_id)?;
    match head.as_str() {
        "CONFLICT" => Err(StoreError::InvoiceConflict(invoice.id.clone())),
        "EXISTS" => Ok(InvoiceOutcome {
            consumed: 0,
            created: false,
            totals: totals_at(rest, 0)?,
        }),
        "CREATED" => Ok(InvoiceOutcome {
            consumed: int(at(rest, 3)?)?,
            created: true,
            totals: totals_at(rest, 0)?,
        }),
        _ => Err(super::reply::bad("invoice", reply)),
    }
}

pub(super) fn payment_answer(
    reply: &Value,
    buyer_id: &BuyerId,
    payment: &PaymentRequest,
) -> Result<PaymentOutcome, StoreError> {
    let (head, rest) = head(reply, buyer_id)?;
    let outcome = |created: bool| -> Result<PaymentOutcome, StoreError> {
        Ok(PaymentOutcome {
            open_balance: int(at(rest, 0)?)?,
            created,
            totals: totals_at(rest, 1)?,
        })
    };
    match head.as_str() {
        "UNKNOWN_INVOICE" => Err(StoreError::UnknownInvoice(payment.invoice_id.clone())),
        "PAYMENT_CONFLICT" => Err(StoreError::PaymentConflict(payment.payment_id.clone())),
        "PAID_BEFORE_ISSUE" => Err(StoreError::PaidBeforeIssue {
            invoice: payment.invoice_id.clone(),
            paid_date: payment.paid_date,
            issue_date: Date::from_days(int(at(rest, 0)?)? as i32),
        }),
        "OVERPAYMENT" => Err(StoreError::Overpayment {
            invoice: payment.invoice_id.clone(),
            open: int(at(rest, 0)?)?,
            attempted: payment.amount,
        }),
        "EXISTS" => outcome(false),
        "CREATED" => outcome(true),
        _ => Err(super::reply::bad("payment", reply)),
    }
}

pub(super) fn dispute_answer(
    reply: &Value,
    buyer_id: &BuyerId,
    invoice_id: &InvoiceId,
) -> Result<DisputeOutcome, StoreError> {
    let (head, rest) = head(reply, buyer_id)?;
    match head.as_str() {
        "UNKNOWN_INVOICE" => Err(StoreError::UnknownInvoice(invoice_id.clone())),
        "DONE" => Ok(DisputeOutcome {
            open_balance: int(at(rest, 0)?)?,
            disputed: int(at(rest, 1)?)? == 1,
        }),
        _ => Err(super::reply::bad("dispute", reply)),
    }
}

/// `ledger_rows.lua`'s arguments after the common five: the buyer id, then each
/// row as 'R' and its writes, each as its kind letter and its own arguments.
struct RowsArgs<'a> {
    buyer_id: &'a BuyerId,
    rows: &'a [Vec<LedgerWrite>],
}

impl ToRedisArgs for RowsArgs<'_> {
    fn write_redis_args<W: ?Sized + RedisWrite>(&self, out: &mut W) {
        self.buyer_id.as_str().write_redis_args(out);
        for row in self.rows {
            "R".write_redis_args(out);
            for write in row {
                match write {
                    LedgerWrite::Invoice(invoice) => {
                        ("I", invoice_args(invoice)).write_redis_args(out)
                    }
                    LedgerWrite::Payment(payment) => {
                        ("P", payment_args(payment)).write_redis_args(out)
                    }
                    LedgerWrite::Dispute {
                        invoice_id,
                        disputed,
                    } => ("D", dispute_args(invoice_id, *disputed)).write_redis_args(out),
                }
            }
        }
    }
}

impl RedisStore {
    /// The rows in batches of at most [`ledger_rows::MAX_WRITES_PER_CALL`]
    /// writes, one `ledger_rows.lua` call each, one after the other (a buyer's
    /// rows stay in order).
    pub(super) async fn write_ledger_rows(
        &self,
        buyer_id: &BuyerId,
        rows: &[Vec<LedgerWrite>],
        day: LedgerDay,
    ) -> Result<Vec<RowAnswers>, StoreError> {
        let mut out = Vec::with_capacity(rows.len());
        for batch in ledger_rows::batches(rows) {
            let reply = self
                .write(
                    &self.scripts.ledger_rows,
                    buyer_id,
                    Some(day),
                    Durability::Replicated,
                    RowsArgs {
                        buyer_id,
                        rows: batch,
                    },
                )
                .await?;
            let (_, replies) = status(&reply)?;
            let mut replies = replies.iter();
            // One reply per write, in order; a refused write's row goes on with
            // 'SKIPPED' for each write after it.
            for row in batch {
                let mut answers = RowAnswers::with_capacity(row.len());
                let mut refused = false;
                for write in row {
                    let reply = replies
                        .next()
                        .ok_or_else(|| super::reply::bad("ledger rows (short)", &reply))?;
                    if refused {
                        // The script skipped the rest of a refused row.
                        if status(reply)?.0 != "SKIPPED" {
                            return Err(super::reply::bad("ledger rows (not skipped)", reply));
                        }
                        continue;
                    }
                    let answer = match write {
                        LedgerWrite::Invoice(invoice) => {
                            invoice_answer(reply, buyer_id, invoice).map(LedgerWritten::Invoice)
                        }
                        LedgerWrite::Payment(payment) => {
                            payment_answer(reply, buyer_id, payment).map(LedgerWritten::Payment)
                        }
                        LedgerWrite::Dispute { invoice_id, .. } => {
                            dispute_answer(reply, buyer_id, invoice_id).map(LedgerWritten::Dispute)
                        }
                    };
                    refused = answer.is_err();
                    answers.push(answer);
                }
                out.push(answers);
            }
        }
        Ok(out)
    }
}
