//! Every RPC's request, parsed into what the service takes: all of the API's
//! validation of a request before it reaches the service, in one function per
//! RPC, so that handlers stay a few lines and a test can run every request type
//! through decoding and validation without a server (requests_tests.rs).

use super::buyer_mask;
use super::convert;
use super::pb;
use crate::domain::buyer::BuyerProfile;
use crate::domain::buyer_name::check_name;
use crate::domain::decision_record::AnalystRelease;
use crate::domain::ids::{BuyerId, InvoiceId, OrderId};
use crate::domain::text::classify;
use crate::service::{InvoiceDraft, OrderCheck, OrderRelease, PaymentDraft, ServiceError};
use crate::store::HeldCursor;

type Result<T> = std::result::Result<T, ServiceError>;

pub fn check_credit_limit(request: &pb::CheckCreditLimitRequest) -> Result<OrderCheck> {
    Ok(OrderCheck {
        buyer_id: convert::buyer_id("buyer_id", &request.buyer_id)?,
        order_id: convert::order_id("order_id", &request.order_id)?,
        amount: convert::positive_money("amount", request.amount.as_ref())?,
        payment_terms_days: match request.payment_terms_days {
            0 => None,
            days @ 1..=MAX_PAYMENT_TERMS_DAYS => Some(days as u32),
            days => {
                return Err(ServiceError::invalid(
                    "payment_terms_days",
                    format!(
                        "must be between 1 and {MAX_PAYMENT_TERMS_DAYS} (0: the agreed terms), got {days}"
                    ),
                ));
            }
        },
    })
}

/// The longest terms an order may name, as for a buyer's agreed terms.
const MAX_PAYMENT_TERMS_DAYS: i32 = 365;

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

/// A parsed ListHeldOrders request.
pub struct HeldQuery {
    pub buyer_id: Option<BuyerId>,
    pub after: Option<HeldCursor>,
    pub page_size: usize,
}

/// The page size when the caller leaves it at 0, and the most one page holds.
pub const DEFAULT_HELD_PAGE: usize = 50;
pub const MAX_HELD_PAGE: i32 = 1000;

/// A review list's page_size: 0 is the default.
fn page_size(asked: i32) -> Result<usize> {
    match asked {
        0 => Ok(DEFAULT_HELD_PAGE),
        size @ 1..=MAX_HELD_PAGE => Ok(size as usize),
        other => Err(ServiceError::invalid(
            "page_size",
            format!(
                "must be between 0 (the default, {DEFAULT_HELD_PAGE}) and {MAX_HELD_PAGE}, got {other}"
            ),
        )),
    }
}

pub fn list_held_orders(request: &pb::ListHeldOrdersRequest) -> Result<HeldQuery> {
    let buyer_id = match request.buyer_id.as_str() {
        "" => None,
        text => Some(convert::buyer_id("buyer_id", text)?),
    };
    let page_size = page_size(request.page_size)?;
    let after = match request.page_token.as_str() {
        "" => None,
        token => Some(held_cursor(token, buyer_id.as_ref())?),
    };
    Ok(HeldQuery {
        buyer_id,
        after,
        page_size,
    })
}

/// The opaque token of the page after `cursor` (AIP-158): it also names the
/// buyer filter it was made for, so a token cannot be replayed on another list.
pub fn held_page_token(filter: Option<&BuyerId>, cursor: &HeldCursor) -> String {
    let text = format!(
        "h1\n{}\n{}\n{}\n{}",
        cursor.last_at_ms,
        filter.map_or("", |id| id.as_str()),
        cursor.buyer_id,
        cursor.order_id
    );
    hex(&text)
}

fn held_cursor(token: &str, filter: Option<&BuyerId>) -> Result<HeldCursor> {
    let invalid = || {
        ServiceError::invalid(
            "page_token",
            "is not a next_page_token of ListHeldOrders; start again without one",
        )
    };
    let text = unhex(token).ok_or_else(invalid)?;
    let parts: Vec<&str> = text.split('\n').collect();
    let [version, ms, made_for, buyer, order] = parts[..] else {
        return Err(invalid());
    };
    if version != "h1" {
        return Err(invalid());
    }
    if made_for != filter.map_or("", |id| id.as_str()) {
        return Err(ServiceError::invalid(
            "page_token",
            "was made for another buyer_id; page with the buyer_id of the first call",
        ));
    }
    Ok(HeldCursor {
        last_at_ms: ms.parse().map_err(|_| invalid())?,
        buyer_id: BuyerId::parse_stored(buyer).map_err(|_| invalid())?,
        order_id: OrderId::parse_stored(order).map_err(|_| invalid())?,
    })
}

/// A parsed ListDecisions request.
#[derive(Debug)]
pub struct DecisionsQuery {
    pub buyer_id: BuyerId,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// (decided_at ms, decision id) of the last decision of the previous page.
    pub after: Option<(i64, String)>,
    pub page_size: usize,
}

pub fn time_bound(field: &str, text: &str) -> Result<Option<i64>> {
    if text.is_empty() {
        return Ok(None);
    }
    super::record_pb::parse_rfc3339_millis(text)
        .map(Some)
        .ok_or_else(|| {
            ServiceError::invalid(
                field,
                format!(
                    "must be an RFC 3339 timestamp (2026-03-03T09:00:00Z) or a date (2026-03-03), got {text:?}"
                ),
            )
        })
}

pub fn list_decisions(request: &pb::ListDecisionsRequest) -> Result<DecisionsQuery> {
    let buyer_id = convert::buyer_id("buyer_id", &request.buyer_id)?;
    let from_ms = time_bound("from", &request.from)?;
    let to_ms = time_bound("to", &request.to)?;
    if let (Some(from), Some(to)) = (from_ms, to_ms)
        && from > to
    {
        return Err(ServiceError::invalid("to", "is before from"));
    }
    let page_size = page_size(request.page_size)?;
    let scope = decisions_scope(request);
    let after = match request.page_token.as_str() {
        "" => None,
        token => {
            let text = unhex(token).ok_or_else(invalid_decisions_token)?;
            let mut parts = text.splitn(4, '\n');
            match (parts.next(), parts.next(), parts.next(), parts.next()) {
                (Some("d1"), Some(made_for), Some(ms), Some(id)) => {
                    if made_for != scope {
                        return Err(ServiceError::invalid(
                            "page_token",
                            "was made for another buyer_id, from or to; page with those of the first call",
                        ));
                    }
                    let ms = ms.parse().map_err(|_| invalid_decisions_token())?;
                    // Only this service's decision ids (UUIDs) are keys.
                    uuid::Uuid::parse_str(id).map_err(|_| invalid_decisions_token())?;
                    Some((ms, id.to_owned()))
                }
                _ => return Err(invalid_decisions_token()),
            }
        }
    };
    Ok(DecisionsQuery {
        buyer_id,
        from_ms,
        to_ms,
        after,
        page_size,
    })
}

fn invalid_decisions_token() -> ServiceError {
    ServiceError::invalid(
        "page_token",
        "is not a next_page_token of ListDecisions; start again without one",
    )
}

/// What a ListDecisions token is bound to: the buyer and the period, hex of
/// each so that no separator inside them can shift the fields.
fn decisions_scope(request: &pb::ListDecisionsRequest) -> String {
    [&request.buyer_id, &request.from, &request.to]
        .iter()
        .map(|part| hex(part))
        .collect::<Vec<_>>()
        .join(".")
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(token: &str) -> Option<String> {
    let bytes = (0..token.len())
        .step_by(2)
        .map(|at| {
            token
                .get(at..at + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

/// The opaque token of the page after the decision decided at `ms` with `id`.
pub fn decisions_page_token(request: &pb::ListDecisionsRequest, ms: i64, id: &str) -> String {
    hex(&format!("d1\n{}\n{ms}\n{id}", decisions_scope(request)))
}

/// Free text an analyst writes: required, and held to the buyer-name rule (it
/// is shown in decision records and logs).
fn analyst_text(field: &str, text: &str) -> Result<String> {
    check_name(text).map_err(|e| ServiceError::invalid(field, e))?;
    // Required means something a reader can see: not only spaces, zero-width
    // or otherwise invisible characters.
    let visible = text
        .chars()
        .any(|c| !c.is_whitespace() && classify(c).is_none());
    if !visible {
        return Err(ServiceError::invalid(
            field,
            "is required (and must contain visible text)",
        ));
    }
    Ok(text.to_owned())
}

pub fn release_order(request: &pb::ReleaseOrderRequest) -> Result<OrderRelease> {
    Ok(OrderRelease {
        buyer_id: convert::buyer_id("buyer_id", &request.buyer_id)?,
        order_id: convert::order_id("order_id", &request.order_id)?,
        amount: convert::positive_money("amount", request.amount.as_ref())?,
        release: AnalystRelease {
            released_by: analyst_text("released_by", &request.released_by)?,
            reason: analyst_text("reason", &request.reason)?,
        },
    })
}

/// A decision id as CheckCreditLimit and ReleaseOrder answer it: a UUID.
pub fn get_decision(request: &pb::GetDecisionRequest) -> Result<String> {
    let id = request.decision_id.as_str();
    if id.is_empty() {
        return Err(ServiceError::invalid("decision_id", "is required"));
    }
    uuid::Uuid::try_parse(id)
        .map(|uuid| uuid.hyphenated().to_string())
        .map_err(|_| {
            ServiceError::invalid(
                "decision_id",
                "is not a decision id (a UUID such as 0193a1b2-…, as CheckCreditLimit answers it)",
            )
        })
}

#[cfg(test)]
#[path = "requests_tests.rs"]
mod tests;
