//! Rows of one buyer's ledger writes in one store call (`creditgate import`):
//! every write prepared by the same rules as its own RPC (ledger.rs), a row
//! refused whole when any of its writes fails those rules, and cut at the first
//! write the store refuses.

use super::ledger::{InvoiceDraft, PaymentDraft, payment_refused};
use super::{CreditService, ServiceError};
use crate::domain::ids::{BuyerId, InvoiceId};
use crate::store::{LedgerWrite, LedgerWritten, Store};

/// One write of a row, parsed as its RPC parses it.
#[derive(Clone, Debug)]
pub enum LedgerEntry {
    Invoice(InvoiceDraft),
    Payment(PaymentDraft),
    Dispute {
        buyer_id: BuyerId,
        invoice_id: InvoiceId,
        disputed: bool,
    },
}

/// A row's answers: one per write, or the index of the write that was refused
/// and why. Writes before a refused one are applied (each is idempotent);
/// none after it. A row refused by the service's own rules writes nothing.
pub type RowOutcome = Result<Vec<LedgerWritten>, (usize, ServiceError)>;

impl<S: Store> CreditService<S> {
    /// Applies `rows` of `buyer_id`'s writes in order, in as few store calls as
    /// the store allows. An error of the whole call (the buyer unknown, the
    /// store unreachable) may come after some rows were applied; retrying them
    /// all is harmless.
    pub async fn record_ledger_rows(
        &self,
        buyer_id: &BuyerId,
        rows: Vec<Vec<LedgerEntry>>,
    ) -> Result<Vec<RowOutcome>, ServiceError> {
        let today = self.clock.today();
        let profile = self.buyer_profile(buyer_id).await?;
        let mut refused: Vec<Option<(usize, ServiceError)>> = Vec::with_capacity(rows.len());
        let mut writes: Vec<Vec<LedgerWrite>> = Vec::with_capacity(rows.len());
        for row in rows {
            let prepared: Result<Vec<LedgerWrite>, (usize, ServiceError)> = row
                .into_iter()
                .enumerate()
                .map(|(i, entry)| {
                    self.prepare(buyer_id, entry, &profile, today)
                        .map_err(|e| (i, e))
                })
                .collect();
            match prepared {
                Ok(row) => {
                    writes.push(row);
                    refused.push(None);
                }
                Err(refusal) => {
                    writes.push(Vec::new());
                    refused.push(Some(refusal));
                }
            }
        }
        let answers = self
            .bounded(self.store.record_ledger_rows(
                buyer_id,
                &writes,
                self.clock.now_secs(),
                self.ledger_day(today),
            ))
            .await?;
        if answers.len() != writes.len() {
            return Err(ServiceError::Unavailable(format!(
                "the store answered {} of {} rows",
                answers.len(),
                writes.len()
            )));
        }
        Ok(refused
            .into_iter()
            .zip(answers)
            .map(|(refused, answers)| {
                if let Some(refusal) = refused {
                    return Err(refusal);
                }
                let mut done = Vec::with_capacity(answers.len());
                for (i, answer) in answers.into_iter().enumerate() {
                    match answer {
                        Ok(written) => done.push(written),
                        Err(error) => {
                            return Err((i, payment_refused(profile.currency, error)));
                        }
                    }
                }
                Ok(done)
            })
            .collect())
    }

    /// The write as its own RPC would send it to the store, or why that RPC
    /// would refuse it.
    fn prepare(
        &self,
        buyer_id: &BuyerId,
        entry: LedgerEntry,
        profile: &crate::domain::buyer::BuyerProfile,
        today: crate::domain::date::Date,
    ) -> Result<LedgerWrite, ServiceError> {
        let other_buyer = |of: &BuyerId| {
            (of != buyer_id).then(|| {
                ServiceError::invalid(
                    "buyer_id",
                    format!("{of} in a batch of buyer {buyer_id}'s writes"),
                )
            })
        };
        match entry {
            LedgerEntry::Invoice(draft) => {
                if let Some(error) = other_buyer(&draft.buyer_id) {
                    return Err(error);
                }
                self.invoice_dates(&draft, today)?;
                Ok(LedgerWrite::Invoice(
                    self.invoice_for(draft, profile, today)?,
                ))
            }
            LedgerEntry::Payment(draft) => {
                if let Some(error) = other_buyer(&draft.buyer_id) {
                    return Err(error);
                }
                self.payment_date(&draft, today)?;
                Ok(LedgerWrite::Payment(self.payment_for(draft, profile)?))
            }
            LedgerEntry::Dispute {
                buyer_id: of,
                invoice_id,
                disputed,
            } => match other_buyer(&of) {
                Some(error) => Err(error),
                None => Ok(LedgerWrite::Dispute {
                    invoice_id,
                    disputed,
                }),
            },
        }
    }
}
