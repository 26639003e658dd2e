//! LedgerService use cases: buyers, invoices, payments, disputes, exposure.

use super::{CreditService, ServiceError};
use crate::domain::buyer::{BuyerProfile, BuyerRecord, LimitSource};
use crate::domain::date::Date;
use crate::domain::exposure::{
    Aging, DunningStage, ExposureTotals, Invoice, PaymentBehaviour, dso_days,
};
use crate::domain::ids::{BuyerId, InvoiceId, OrderId, PaymentId};
use crate::domain::money::{Currency, Money};
use crate::store::{
    CancelOutcome, DisputeOutcome, InvoiceOutcome, PaymentOutcome, PaymentRequest, Store,
    StoreError,
};
use rust_decimal::Decimal;

/// A compare-and-set write that keeps losing means the buyer is being rewritten
/// continuously; past this many tries the caller is told to retry.
pub(super) const MAX_WRITE_RETRIES: usize = 8;

/// A parsed RecordInvoice request.
#[derive(Clone, Debug)]
pub struct InvoiceDraft {
    pub buyer_id: BuyerId,
    pub invoice_id: InvoiceId,
    pub order_id: Option<OrderId>,
    pub amount: Money,
    pub issue_date: Date,
    /// None: issue date plus the buyer's net payment terms.
    pub due_date: Option<Date>,
}

/// A parsed RecordPayment request.
#[derive(Clone, Debug)]
pub struct PaymentDraft {
    pub buyer_id: BuyerId,
    pub invoice_id: InvoiceId,
    pub amount: Money,
    pub paid_date: Date,
    pub payment_id: PaymentId,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenInvoiceLine {
    pub invoice: Invoice,
    pub days_overdue: i32,
    pub stage: DunningStage,
}

/// GetBuyerExposure's answer, in the buyer's currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExposureReport {
    pub buyer_id: BuyerId,
    pub currency: Currency,
    pub credit_limit: Money,
    pub limit_source: LimitSource,
    pub totals: ExposureTotals,
    pub aging: Aging,
    pub dso_days: Decimal,
    pub oldest_overdue_days: i32,
    pub invoices: Vec<OpenInvoiceLine>,
    pub as_of: Date,
    pub limit_reasons: Vec<crate::domain::reason::Reason>,
    pub insurance: Option<InsuranceView>,
    pub average_days_beyond_terms: Decimal,
    pub best_possible_dso_days: Decimal,
    pub payment_terms_days: u32,
}

/// Exposure against the insured limit. Disputed invoices are never covered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InsuranceView {
    pub insured_limit: Money,
    /// The part of insurable exposure within the insured limit.
    pub insured_exposure: Money,
    /// Everything else: above the insured limit, and disputed invoices.
    pub uninsured_exposure: Money,
    /// Cover still free for new shipments.
    pub insured_headroom: Money,
    /// What the limit in effect leaves for shipments beyond the free cover.
    pub uninsured_headroom: Money,
}

impl InsuranceView {
    pub fn of(insured_limit: Money, credit_limit: Money, totals: &ExposureTotals) -> InsuranceView {
        let money = |minor: i64| Money::from_minor(insured_limit.currency(), minor);
        let covered = totals.insurable().clamp(0, insured_limit.minor());
        let insured_headroom = (insured_limit.minor() - totals.insurable()).max(0);
        let available = credit_limit.minor() - totals.total();
        InsuranceView {
            insured_limit,
            insured_exposure: money(covered),
            uninsured_exposure: money(totals.total() - covered),
            insured_headroom: money(insured_headroom),
            uninsured_headroom: money((available - insured_headroom).max(0)),
        }
    }
}

impl<S: Store> CreditService<S> {
    /// Creates or replaces a buyer and rates it; returns the stored profile.
    pub async fn upsert_buyer(&self, profile: BuyerProfile) -> Result<BuyerProfile, ServiceError> {
        let id = profile.id.clone();
        self.upsert_buyer_with(&id, |_| Ok(profile.clone())).await
    }

    /// Writes the profile `build` makes from the stored one (None: no such buyer),
    /// compare-and-set against the version it was built from, retried when a
    /// concurrent write wins. A profile equal to the stored one changes nothing:
    /// no re-rating, no version bump, the rating's valid_until kept, so a nightly
    /// sync cannot keep an expired rating alive. The read is fresh (no cached
    /// copy): "nothing changed" is answered without a compare-and-set, so it
    /// must compare with what the store holds, not with what a replica
    /// remembers from before another replica's write.
    pub async fn upsert_buyer_with(
        &self,
        buyer_id: &BuyerId,
        build: impl Fn(Option<&BuyerProfile>) -> Result<BuyerProfile, ServiceError>,
    ) -> Result<BuyerProfile, ServiceError> {
        Ok(self.upsert_buyer_telling(buyer_id, build).await?.0)
    }

    /// [`Self::upsert_buyer`], telling whether the store changed: an import
    /// counts "unchanged" rows by the same read that decided it.
    pub async fn upsert_buyer_changed(&self, profile: BuyerProfile) -> Result<bool, ServiceError> {
        let id = profile.id.clone();
        let (_, changed) = self
            .upsert_buyer_telling(&id, |_| Ok(profile.clone()))
            .await?;
        Ok(changed)
    }

    async fn upsert_buyer_telling(
        &self,
        buyer_id: &BuyerId,
        build: impl Fn(Option<&BuyerProfile>) -> Result<BuyerProfile, ServiceError>,
    ) -> Result<(BuyerProfile, bool), ServiceError> {
        for _ in 0..MAX_WRITE_RETRIES {
            // Fresh, not cached: "nothing changed" must be judged against what is
            // stored now, or a write racing another replica's could be dropped.
            let existing = self.bounded(self.store.load_buyer_fresh(buyer_id)).await?;
            let profile = build(existing.as_ref().map(|e| &e.record.profile))?;
            if let Some(existing) = &existing {
                if existing.record.profile == profile {
                    return Ok((profile, false));
                }
                if existing.record.profile.currency != profile.currency
                    && self.has_ledger(buyer_id).await?
                {
                    return Err(ServiceError::invalid(
                        "buyer.currency_code",
                        format!(
                            "cannot change from {} to {} while the buyer has ledger entries",
                            existing.record.profile.currency, profile.currency
                        ),
                    ));
                }
            }
            let rating = self.rate(&profile).await?;
            // The store keeps the buyer's existing limit adjustment: it is ledger history.
            let record = BuyerRecord {
                profile,
                rating,
                adjustment: Default::default(),
            };
            let expected = existing.map(|e| e.profile_version);
            match self
                .bounded(self.store.upsert_buyer(record.clone(), expected))
                .await
            {
                Ok(_) => {
                    tracing::info!(buyer_id = %record.profile.id, "buyer upserted");
                    return Ok((record.profile, true));
                }
                Err(StoreError::StaleBuyer(_)) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(ServiceError::Unavailable(format!(
            "buyer {buyer_id} kept changing during the update; retry"
        )))
    }

    async fn has_ledger(&self, buyer_id: &BuyerId) -> Result<bool, ServiceError> {
        let ledger = self
            .bounded(
                self.store
                    .ledger(buyer_id, self.clock.now_secs(), self.ledger_today()),
            )
            .await?;
        // Once invoiced, a buyer has ledger history in its currency (its payment
        // stats), even after its paid invoices left the retention window.
        Ok(ledger.totals.total() != 0 || ledger.stats.first_invoice.is_some())
    }

    pub(super) async fn buyer_profile(
        &self,
        buyer_id: &BuyerId,
    ) -> Result<BuyerProfile, ServiceError> {
        self.bounded(self.store.load_buyer(buyer_id))
            .await?
            .map(|stored| stored.record.profile.clone())
            .ok_or_else(|| ServiceError::NotFound(format!("buyer {buyer_id} not found")))
    }

    async fn buyer_currency(&self, buyer_id: &BuyerId) -> Result<Currency, ServiceError> {
        Ok(self.buyer_profile(buyer_id).await?.currency)
    }

    /// The buyer's profile, once `amount` is known to be in the buyer's currency.
    async fn require_currency(
        &self,
        buyer_id: &BuyerId,
        amount: Money,
        field: &str,
    ) -> Result<BuyerProfile, ServiceError> {
        let profile = self.buyer_profile(buyer_id).await?;
        same_currency(&profile, amount, field)?;
        Ok(profile)
    }

    pub async fn cancel_order(
        &self,
        buyer_id: &BuyerId,
        order_id: &OrderId,
    ) -> Result<(Money, CancelOutcome), ServiceError> {
        let currency = self.buyer_currency(buyer_id).await?;
        let outcome = self
            .bounded(self.store.cancel_order(
                buyer_id,
                order_id,
                self.clock.now_secs(),
                self.ledger_today(),
            ))
            .await?;
        Ok((Money::from_minor(currency, outcome.released), outcome))
    }

    pub async fn record_invoice(
        &self,
        draft: InvoiceDraft,
    ) -> Result<InvoiceOutcome, ServiceError> {
        // Dates are checked before the store is asked anything: a refused date
        // writes nothing and costs no round trip.
        let today = self.clock.today();
        self.invoice_dates(&draft, today)?;
        let profile = self
            .require_currency(&draft.buyer_id, draft.amount, "amount.currency_code")
            .await?;
        let invoice = self.invoice_for(draft.clone(), &profile, today)?;
        Ok(self
            .bounded(self.store.record_invoice(
                &draft.buyer_id,
                invoice,
                self.clock.now_secs(),
                self.ledger_day(today),
            ))
            .await?)
    }

    /// The dates the caller gave, within the ledger's date window.
    pub(super) fn invoice_dates(
        &self,
        draft: &InvoiceDraft,
        today: Date,
    ) -> Result<(), ServiceError> {
        let window = self.settings.ledger_date_window;
        window
            .check_around(draft.issue_date, today)
            .map_err(|e| ServiceError::invalid("issue_date", e))?;
        if let Some(due_date) = draft.due_date {
            window
                .check_around(due_date, today)
                .map_err(|e| ServiceError::invalid("due_date", e))?;
        }
        Ok(())
    }

    /// The invoice the store records for a draft whose dates passed
    /// [`Self::invoice_dates`]: in the buyer's currency, due on the date given
    /// or after the buyer's payment terms.
    pub(super) fn invoice_for(
        &self,
        draft: InvoiceDraft,
        profile: &BuyerProfile,
        today: Date,
    ) -> Result<Invoice, ServiceError> {
        same_currency(profile, draft.amount, "amount.currency_code")?;
        let due_date = match draft.due_date {
            Some(due_date) => due_date,
            None => {
                let terms = profile.payment_terms_days;
                let derived = draft.issue_date.add_days(terms as i32);
                // The caller gave only the issue date, so that is the field to fix.
                self.settings
                    .ledger_date_window
                    .check_around(derived, today)
                    .map_err(|e| {
                        ServiceError::invalid(
                            "issue_date",
                            format!(
                                "{} with the buyer's {terms}-day payment terms gives a due date out of range: {e}",
                                draft.issue_date
                            ),
                        )
                    })?;
                derived
            }
        };
        Ok(Invoice {
            id: draft.invoice_id,
            order_id: draft.order_id,
            amount: draft.amount.minor(),
            open: draft.amount.minor(),
            issue_date: draft.issue_date,
            due_date,
            disputed: false,
        })
    }

    pub async fn record_payment(
        &self,
        draft: PaymentDraft,
    ) -> Result<PaymentOutcome, ServiceError> {
        let today = self.clock.today();
        self.payment_date(&draft, today)?;
        let profile = self
            .require_currency(&draft.buyer_id, draft.amount, "amount.currency_code")
            .await?;
        let buyer_id = draft.buyer_id.clone();
        let request = self.payment_for(draft, &profile)?;
        self.bounded(self.store.record_payment(
            &buyer_id,
            request,
            self.clock.now_secs(),
            self.ledger_day(today),
        ))
        .await
        .map_err(|error| payment_refused(profile.currency, error))
    }

    /// A payment has happened: not after today, and not before the window.
    /// (Not before the invoice's issue date is the store's check: it needs the invoice.)
    pub(super) fn payment_date(
        &self,
        draft: &PaymentDraft,
        today: Date,
    ) -> Result<(), ServiceError> {
        self.settings
            .ledger_date_window
            .check_past(draft.paid_date, today)
            .map_err(|e| ServiceError::invalid("paid_date", e))
    }

    /// The payment the store records: in the buyer's currency, with the
    /// buyer's discount period and the policy's limit adjustment rule.
    pub(super) fn payment_for(
        &self,
        draft: PaymentDraft,
        profile: &BuyerProfile,
    ) -> Result<PaymentRequest, ServiceError> {
        same_currency(profile, draft.amount, "amount.currency_code")?;
        Ok(PaymentRequest {
            invoice_id: draft.invoice_id,
            amount: draft.amount.minor(),
            paid_date: draft.paid_date,
            payment_id: draft.payment_id,
            discount_days: profile.early_payment_discount.as_ref().map(|d| d.days),
            adjustment_rule: self.policy.adjustment,
        })
    }

    pub async fn set_dispute(
        &self,
        buyer_id: &BuyerId,
        invoice_id: &InvoiceId,
        disputed: bool,
    ) -> Result<(Currency, DisputeOutcome), ServiceError> {
        let currency = self.buyer_currency(buyer_id).await?;
        let outcome = self
            .bounded(self.store.set_dispute(
                buyer_id,
                invoice_id,
                disputed,
                self.clock.now_secs(),
                self.ledger_today(),
            ))
            .await?;
        Ok((currency, outcome))
    }

    pub async fn exposure(&self, buyer_id: &BuyerId) -> Result<ExposureReport, ServiceError> {
        let stored = self
            .bounded(self.store.load_buyer(buyer_id))
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("buyer {buyer_id} not found")))?;
        let today = self.clock.today();
        let ledger = self
            .bounded(
                self.store
                    .ledger(buyer_id, self.clock.now_secs(), self.ledger_day(today)),
            )
            .await?;
        let behaviour = PaymentBehaviour::from_ledger(
            &ledger.open_invoices,
            ledger.stats,
            ledger.sales_in_window,
            today,
        );
        let ladder = self.policy.tier(stored.record.profile.tier).ladder;
        let mut aging = Aging::default();
        let mut lines = Vec::new();
        for invoice in ledger.open_invoices {
            let days_overdue = invoice.days_overdue(today);
            aging.add(days_overdue, invoice.open);
            lines.push(OpenInvoiceLine {
                stage: ladder.stage(invoice.due_date, invoice.disputed, today),
                days_overdue,
                invoice,
            });
        }
        lines.sort_by(|a, b| {
            (a.invoice.due_date, &a.invoice.id).cmp(&(b.invoice.due_date, &b.invoice.id))
        });
        let (credit_limit, limit_source) = stored.record.limit_in_effect();
        let profile = &stored.record.profile;
        Ok(ExposureReport {
            limit_reasons: stored.record.limit_reasons(),
            insurance: profile
                .insurance
                .as_ref()
                .map(|i| InsuranceView::of(i.insured_limit, credit_limit, &ledger.totals)),
            average_days_beyond_terms: ledger.stats.average_days_beyond_terms(),
            best_possible_dso_days: dso_days(aging.not_due, behaviour.sales_in_window),
            payment_terms_days: profile.payment_terms_days,
            buyer_id: buyer_id.clone(),
            currency: stored.record.profile.currency,
            credit_limit,
            limit_source,
            totals: ledger.totals,
            aging,
            dso_days: behaviour.dso_days.unwrap_or_default(),
            oldest_overdue_days: behaviour.oldest_overdue_days,
            invoices: lines,
            as_of: today,
        })
    }
}

/// `amount` is in the buyer's currency, or `field` is named.
fn same_currency(profile: &BuyerProfile, amount: Money, field: &str) -> Result<(), ServiceError> {
    if amount.currency() != profile.currency {
        return Err(ServiceError::invalid(
            field,
            format!(
                "is {} but buyer {} trades in {}",
                amount.currency(),
                profile.id,
                profile.currency
            ),
        ));
    }
    Ok(())
}

/// A payment the store refused, as the caller is told: an overpayment names
/// both amounts in the buyer's currency.
pub(super) fn payment_refused(currency: Currency, error: StoreError) -> ServiceError {
    match error {
        StoreError::Overpayment {
            invoice,
            open,
            attempted,
        } => ServiceError::FailedPrecondition(format!(
            "payment of {} exceeds the open balance {} of invoice {invoice}",
            Money::from_minor(currency, attempted),
            Money::from_minor(currency, open)
        )),
        other => other.into(),
    }
}
