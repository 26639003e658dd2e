//! Every RPC's request, parsed into what the service takes: all of the API's
//! validation of a request before it reaches the service, in one function per
//! RPC, so that handlers stay a few lines and a test can run every request type
//! through decoding and validation without a server (requests_tests.rs).

use super::buyer_mask;
use super::convert;
use super::pb;
use crate::domain::buyer::BuyerProfile;
use crate::domain::ids::{BuyerId, InvoiceId, OrderId};
use crate::service::{InvoiceDraft, OrderCheck, PaymentDraft, ServiceError};

type Result<T> = std::result::Result<T, ServiceError>;

pub fn check_credit_limit(request: &pb::CheckCreditLimitRequest) -> Result<OrderCheck> {
    Ok(OrderCheck {
        buyer_id: convert::buyer_id("buyer_id", &request.buyer_id)?,
        order_id: convert::order_id("order_id", &request.order_id)?,
        amount: convert::positive_money("amount", request.amount.as_ref())?,
        // Set by the handler from the request's extensions (authentication).
    })
}

pub fn score_buyer(request: &pb::ScoreBuyerRequest) -> Result<BuyerId> {
    convert::buyer_id("buyer_id", &request.buyer_id)
}

/// An UpsertBuyer, parsed as far as it can be without the stored buyer.
pub enum Upsert {
    /// No mask: the whole profile.
    Replace(BuyerProfile),
    /// A mask: `paths` of `update` change the stored buyer `buyer_id`; the
    /// merged buyer is validated by [`merged_profile`] once the stored one is read.
    Patch {
        buyer_id: BuyerId,
        update: pb::Buyer,
        paths: Vec<String>,
    },
}

pub fn upsert_buyer(request: pb::UpsertBuyerRequest) -> Result<Upsert> {
    let Some(paths) = buyer_mask::paths(request.update_mask.as_ref())? else {
        return convert::buyer_profile(request.buyer).map(Upsert::Replace);
    };
    let update = request
        .buyer
        .ok_or_else(|| ServiceError::invalid("buyer", "is required"))?;
    let buyer_id = convert::buyer_id("buyer.buyer_id", &update.buyer_id)?;
    Ok(Upsert::Patch {
        buyer_id,
        update,
        paths,
    })
}

/// The stored buyer with a patch applied, validated as a full write is.
pub fn merged_profile(
    stored: &BuyerProfile,
    update: &pb::Buyer,
    paths: &[String],
) -> Result<BuyerProfile> {
    let merged = buyer_mask::merge(convert::buyer_to_pb(stored), update, paths);
    convert::buyer_profile(Some(merged))
}

pub fn cancel_order(request: &pb::CancelOrderRequest) -> Result<(BuyerId, OrderId)> {
    Ok((
        convert::buyer_id("buyer_id", &request.buyer_id)?,
        convert::order_id("order_id", &request.order_id)?,
    ))
}

pub fn record_invoice(request: &pb::RecordInvoiceRequest) -> Result<InvoiceDraft> {
    let issue_date = convert::date("issue_date", &request.issue_date)?;
    let due_date = match request.due_date.as_str() {
        "" => None,
        text => Some(convert::date("due_date", text)?),
    };
    if let Some(due_date) = due_date.filter(|due| *due < issue_date) {
        return Err(ServiceError::invalid(
            "due_date",
            format!("{due_date} is before issue_date {issue_date}"),
        ));
    }
    Ok(InvoiceDraft {
        buyer_id: convert::buyer_id("buyer_id", &request.buyer_id)?,
        invoice_id: convert::invoice_id("invoice_id", &request.invoice_id)?,
        order_id: convert::optional_order_id("order_id", &request.order_id)?,
        amount: convert::positive_money("amount", request.amount.as_ref())?,
        issue_date,
        due_date,
    })
}

pub fn record_payment(request: &pb::RecordPaymentRequest) -> Result<PaymentDraft> {
    Ok(PaymentDraft {
        buyer_id: convert::buyer_id("buyer_id", &request.buyer_id)?,
        invoice_id: convert::invoice_id("invoice_id", &request.invoice_id)?,
        amount: convert::positive_money("amount", request.amount.as_ref())?,
        paid_date: convert::date("paid_date", &request.paid_date)?,
        payment_id: convert::payment_id("payment_id", &request.payment_id)?,
    })
}

pub fn set_invoice_dispute(
    request: &pb::SetInvoiceDisputeRequest,
) -> Result<(BuyerId, InvoiceId, bool)> {
    Ok((
        convert::buyer_id("buyer_id", &request.buyer_id)?,
        convert::invoice_id("invoice_id", &request.invoice_id)?,
        request.disputed,
    ))
}

pub fn get_buyer_exposure(request: &pb::GetBuyerExposureRequest) -> Result<BuyerId> {
    convert::buyer_id("buyer_id", &request.buyer_id)
}

#[cfg(test)]
#[path = "requests_tests.rs"]
mod tests;
