//! creditgate.v1.LedgerService: thin handlers over the service. Each runs under
//! the caller's deadline, so a write it gave up on is not applied afterwards.

use super::convert::{self, minor_to_pb, money_to_pb};
use super::deadline;
use super::pb;
use super::pb::ledger_service_server::LedgerService;
use super::request_log::{Kind, RequestMeta, logged_call};
use super::requests::{self, Upsert};
use crate::domain::exposure::DunningStage;
use crate::service::{CreditService, Releasable, ServiceError, within_caller_deadline};
use crate::store::Store;
use tonic::{Request, Response, Status};

pub struct LedgerApi<S: Store> {
    service: CreditService<S>,
}

impl<S: Store> LedgerApi<S> {
    pub fn new(service: CreditService<S>) -> Self {
        LedgerApi { service }
    }
}

fn stage_to_pb(stage: DunningStage) -> pb::DunningStage {
    match stage {
        DunningStage::NotDue => pb::DunningStage::NotDue,
        DunningStage::Reminder => pb::DunningStage::Reminder,
        DunningStage::Overdue => pb::DunningStage::Overdue,
        DunningStage::Collection => pb::DunningStage::Collection,
        DunningStage::Legal => pb::DunningStage::Legal,
        DunningStage::Disputed => pb::DunningStage::Disputed,
    }
}

#[tonic::async_trait]
impl<S: Store> LedgerService for LedgerApi<S> {
    async fn upsert_buyer(
        &self,
        request: Request<pb::UpsertBuyerRequest>,
    ) -> Result<Response<pb::Buyer>, Status> {
        let until = deadline::answer_by(&request);
        let meta = RequestMeta::of(&request);
        let (buyer_id, update, paths) = match requests::upsert_buyer(request.into_inner())? {
            Upsert::Replace(profile) => {
                let buyer_id = profile.id.clone();
                let write = within_caller_deadline(until, self.service.upsert_buyer(profile));
                let stored =
                    logged_call(meta, "UpsertBuyer", Kind::Write, &buyer_id, write).await?;
                return Ok(Response::new(convert::buyer_to_pb(&stored)));
            }
            Upsert::Patch {
                buyer_id,
                update,
                paths,
            } => (buyer_id, update, paths),
        };
        let write = self.service.upsert_buyer_with(&buyer_id, |existing| {
            let existing = existing.ok_or_else(|| {
                ServiceError::NotFound(format!(
                    "buyer {buyer_id} not found; create it with a full UpsertBuyer (no update_mask) first"
                ))
            })?;
            requests::merged_profile(existing, &update, &paths)
        });
        let write = within_caller_deadline(until, write);
        let stored = logged_call(meta, "UpsertBuyer", Kind::Write, &buyer_id, write).await?;
        Ok(Response::new(convert::buyer_to_pb(&stored)))
    }

    async fn cancel_order(
        &self,
        request: Request<pb::CancelOrderRequest>,
    ) -> Result<Response<pb::CancelOrderResponse>, Status> {
        let until = deadline::answer_by(&request);
        let (buyer_id, order_id) = requests::cancel_order(request.get_ref())?;
        let cancel = within_caller_deadline(until, self.service.cancel_order(&buyer_id, &order_id));
        let (released, outcome) = logged_call(
            RequestMeta::of(&request),
            "CancelOrder",
            Kind::Write,
            &buyer_id,
            cancel,
        )
        .await?;
        Ok(Response::new(pb::CancelOrderResponse {
            released: Some(convert::money_to_pb(released)),
            was_approved: outcome.was_approved,
            invoiced: outcome.invoiced,
        }))
    }

    async fn record_invoice(
        &self,
        request: Request<pb::RecordInvoiceRequest>,
    ) -> Result<Response<pb::RecordInvoiceResponse>, Status> {
        let until = deadline::answer_by(&request);
        let draft = requests::record_invoice(request.get_ref())?;
        let currency = draft.amount.currency();
        let buyer_id = draft.buyer_id.clone();
        let write = within_caller_deadline(until, self.service.record_invoice(draft));
        let meta = RequestMeta::of(&request);
        let outcome = logged_call(meta, "RecordInvoice", Kind::Write, &buyer_id, write).await?;
        Ok(Response::new(pb::RecordInvoiceResponse {
            reservation_consumed: minor_to_pb(currency, outcome.consumed),
            created: outcome.created,
            total_exposure: minor_to_pb(currency, outcome.totals.total()),
        }))
    }

    async fn record_payment(
        &self,
        request: Request<pb::RecordPaymentRequest>,
    ) -> Result<Response<pb::RecordPaymentResponse>, Status> {
        let until = deadline::answer_by(&request);
        let draft = requests::record_payment(request.get_ref())?;
        let currency = draft.amount.currency();
        let buyer_id = draft.buyer_id.clone();
        let write = within_caller_deadline(until, self.service.record_payment(draft));
        let meta = RequestMeta::of(&request);
        let outcome = logged_call(meta, "RecordPayment", Kind::Write, &buyer_id, write).await?;
        // Answered on a replay too, so a retried payment tells the same.
        let releasable = self.service.releasable_orders(&buyer_id);
        let releasable = within_caller_deadline(until, releasable).await;
        Ok(Response::new(pb::RecordPaymentResponse {
            invoice_open_balance: minor_to_pb(currency, outcome.open_balance),
            created: outcome.created,
            total_exposure: minor_to_pb(currency, outcome.totals.total()),
            releasable_orders: releasable_to_pb(releasable),
        }))
    }

    async fn set_invoice_dispute(
        &self,
        request: Request<pb::SetInvoiceDisputeRequest>,
    ) -> Result<Response<pb::SetInvoiceDisputeResponse>, Status> {
        let until = deadline::answer_by(&request);
        let (buyer_id, invoice_id, disputed) = requests::set_invoice_dispute(request.get_ref())?;
        let dispute = self.service.set_dispute(&buyer_id, &invoice_id, disputed);
        let dispute = within_caller_deadline(until, dispute);
        let meta = RequestMeta::of(&request);
        let (currency, outcome) =
            logged_call(meta, "SetInvoiceDispute", Kind::Write, &buyer_id, dispute).await?;
        let releasable = self.service.releasable_orders(&buyer_id);
        let releasable = within_caller_deadline(until, releasable).await;
        Ok(Response::new(pb::SetInvoiceDisputeResponse {
            invoice_open_balance: minor_to_pb(currency, outcome.open_balance),
            disputed: outcome.disputed,
            releasable_orders: releasable_to_pb(releasable),
        }))
    }

    async fn get_buyer_exposure(
        &self,
        request: Request<pb::GetBuyerExposureRequest>,
    ) -> Result<Response<pb::BuyerExposure>, Status> {
        let until = deadline::answer_by(&request);
        let buyer_id = requests::get_buyer_exposure(request.get_ref())?;
        let read = within_caller_deadline(until, self.service.exposure(&buyer_id));
        let meta = RequestMeta::of(&request);
        let report = logged_call(meta, "GetBuyerExposure", Kind::Read, &buyer_id, read).await?;
        let c = report.currency;
        let totals = report.totals;
        let invoices = report
            .invoices
            .into_iter()
            .map(|line| pb::OpenInvoice {
                invoice_id: line.invoice.id.to_string(),
                order_id: line
                    .invoice
                    .order_id
                    .map(|o| o.to_string())
                    .unwrap_or_default(),
                amount: minor_to_pb(c, line.invoice.amount),
                open_balance: minor_to_pb(c, line.invoice.open),
                issue_date: line.invoice.issue_date.to_string(),
                due_date: line.invoice.due_date.to_string(),
                days_overdue: line.days_overdue,
                disputed: line.invoice.disputed,
                dunning_stage: stage_to_pb(line.stage) as i32,
            })
            .collect();
        Ok(Response::new(pb::BuyerExposure {
            buyer_id: buyer_id.to_string(),
            credit_limit: Some(convert::money_to_pb(report.credit_limit)),
            open_orders: minor_to_pb(c, totals.open_orders),
            open_invoices: minor_to_pb(c, totals.open_invoices),
            disputed: minor_to_pb(c, totals.disputed),
            total_exposure: minor_to_pb(c, totals.total()),
            available: minor_to_pb(c, report.credit_limit.minor() - totals.total()),
            aging: Some(pb::Aging {
                not_due: minor_to_pb(c, report.aging.not_due),
                overdue_1_to_30: minor_to_pb(c, report.aging.overdue_1_to_30),
                overdue_31_to_60: minor_to_pb(c, report.aging.overdue_31_to_60),
                overdue_61_to_90: minor_to_pb(c, report.aging.overdue_61_to_90),
                overdue_over_90: minor_to_pb(c, report.aging.overdue_over_90),
            }),
            dso_days: report.dso_days.to_string(),
            oldest_overdue_days: report.oldest_overdue_days,
            invoices,
            limit_source: report.limit_source.name().to_owned(),
            as_of: report.as_of.to_string(),
            limit_reasons: convert::reasons_to_pb(report.limit_reasons),
            insured_limit: report
                .insurance
                .as_ref()
                .map(|i| convert::money_to_pb(i.insured_limit)),
            insured_exposure: report
                .insurance
                .as_ref()
                .map(|i| convert::money_to_pb(i.insured_exposure)),
            uninsured_exposure: report
                .insurance
                .as_ref()
                .map(|i| convert::money_to_pb(i.uninsured_exposure)),
            insured_headroom: report
                .insurance
                .as_ref()
                .map(|i| convert::money_to_pb(i.insured_headroom)),
            uninsured_headroom: report
                .insurance
                .as_ref()
                .map(|i| convert::money_to_pb(i.uninsured_headroom)),
            average_days_beyond_terms: report.average_days_beyond_terms.to_string(),
            best_possible_dso_days: report.best_possible_dso_days.to_string(),
            payment_terms_days: report.payment_terms_days as i32,
        }))
    }
}

fn releasable_to_pb(orders: Vec<Releasable>) -> Vec<pb::ReleasableOrder> {
    orders
        .into_iter()
        .map(|order| pb::ReleasableOrder {
            order_id: order.order_id.to_string(),
            amount: Some(money_to_pb(order.amount)),
            decision_id: order.decision_id,
        })
        .collect()
}
