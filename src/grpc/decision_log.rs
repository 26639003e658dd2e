//! The decision event: one info line per CheckCreditLimit outcome (target
//! `creditgate::decision`, message `decision`), so that any decision can be
//! found by its decision_id and read without the store. Its fields are a
//! contract with log searches (docs/operations.md, "Logs").

use super::request_log::RequestMeta;
use crate::domain::reason::Reason;
use crate::metrics::decision_label;
use crate::service::{CheckOutcome, OrderCheck};
use std::fmt;

/// Reason codes, comma-separated: one field that every log backend indexes.
struct Codes<'a>(&'a [Reason]);

impl fmt::Display for Codes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, reason) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(reason.code.as_str())?;
        }
        Ok(())
    }
}

pub fn log(meta: &RequestMeta, order: &OrderCheck, outcome: &CheckOutcome, latency_us: u64) {
    tracing::info!(
        target: "creditgate::decision",
        decision_id = %outcome.decision_id,
        buyer_id = %order.buyer_id,
        order_id = %order.order_id,
        amount = %order.amount.amount_text(),
        currency = order.amount.currency().code(),
        decision = decision_label(outcome.decision),
        reasons = %Codes(&outcome.reasons),
        credit_limit = outcome.credit_limit.map(|m| display(m.amount_text())),
        limit_source = outcome.limit_source.map(|s| s.name()),
        exposure = outcome.exposure.map(|m| display(m.amount_text())),
        payment_terms_days = order.payment_terms_days,
        offer_approvable = outcome
            .counter_offer
            .map(|o| display(o.terms.approvable.amount_text())),
        offer_terms_days = outcome.counter_offer.and_then(|o| o.terms.payment_terms_days),
        policy_version = %outcome.policy_version,
        latency_us,
        caller = meta.caller(),
        "decision"
    );
}
