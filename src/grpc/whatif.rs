//! CreditReviewService.WhatIf: the request parsed into a candidate policy and
//! a period, and the report into its protobuf form (with its text and JSON,
//! rendered once, here, for the CLI and for grpcurl alike).

use super::convert::{decision_to_pb, money_to_pb};
use super::pb;
use super::requests::time_bound;
use crate::domain::money::{Currency, Money};
use crate::domain::policy::Policy;
use crate::domain::whatif::{Change, Flow, Transition, WhatIfReport, rounded};
use crate::service::ServiceError;
use crate::service::whatif::Period;
use crate::whatif_render::{Scope, render_json, render_text};
use std::collections::BTreeMap;

/// A what-if asked for: the candidate and the period, with the period's text
/// as given (the report repeats it).
pub struct WhatIfQuery {
    pub candidate: Policy,
    pub period: Period,
    pub since: Option<String>,
    pub until: Option<String>,
}

/// Parses a what-if's fields; errors name the field (and, for the policy, the
/// TOML key at fault).
pub fn what_if_query(
    policy_toml: &str,
    since: &str,
    until: &str,
) -> Result<WhatIfQuery, ServiceError> {
    let candidate = crate::policy_file::parse(policy_toml)
        .map_err(|e| ServiceError::invalid("policy_toml", format!("is not a valid policy: {e}")))?;
    let (since, until) = (since.trim(), until.trim());
    let from_ms = time_bound("since", since)?;
    let to_ms = time_bound("until", until)?;
    if let (Some(from), Some(to)) = (from_ms, to_ms)
        && from >= to
    {
        return Err(ServiceError::invalid("until", "must be after since"));
    }
    let given = |text: &str| (!text.is_empty()).then(|| text.to_owned());
    Ok(WhatIfQuery {
        candidate,
        period: Period { from_ms, to_ms },
        since: given(since),
        until: given(until),
    })
}

fn money(currency: &str, minor: i64) -> Option<pb::Money> {
    Currency::from_code(currency).map(|c| money_to_pb(Money::from_minor(c, minor)))
}

fn loss(currency: &str, flow: &Flow) -> Option<pb::Money> {
    Currency::from_code(currency).map(|c| money_to_pb(rounded(c, flow.expected_loss)))
}

fn transitions(map: &BTreeMap<(&'static str, Transition), u64>) -> Vec<pb::WhatIfTransition> {
    map.iter()
        .map(|((key, (before, after)), count)| pb::WhatIfTransition {
            key: (*key).to_owned(),
            before: decision_to_pb(*before) as i32,
            after: decision_to_pb(*after) as i32,
            count: *count,
        })
        .collect()
}

fn change_to_pb(change: &Change) -> pb::WhatIfChange {
    let codes = |codes: &[crate::domain::reason::ReasonCode]| {
        codes.iter().map(|code| code.as_str().to_owned()).collect()
    };
    pb::WhatIfChange {
        decision_id: change.decision_id.clone(),
        buyer_id: change.buyer_id.clone(),
        order_id: change.order_id.clone(),
        tier: change.tier.to_owned(),
        amount: Some(money_to_pb(change.amount)),
        before: decision_to_pb(change.before) as i32,
        after: decision_to_pb(change.after) as i32,
        reason_code: change.code.as_str().to_owned(),
        reasons_before: codes(&change.reasons_before),
        reasons_after: codes(&change.reasons_after),
        expected_loss: Some(money_to_pb(rounded(
            change.amount.currency(),
            change.expected_loss,
        ))),
    }
}

/// The report with its renderings.
pub fn report_to_pb(report: &WhatIfReport, scope: &Scope) -> pb::WhatIfReport {
    pb::WhatIfReport {
        policy_version: report.policy_version.clone(),
        source: scope.source.clone(),
        decisions: report.decisions,
        changed: report.changed,
        released: report.released,
        invoiced: report.invoiced,
        transitions_by_tier: transitions(&report.by_tier),
        transitions_by_reason_code: transitions(&report.by_reason),
        exposure: report
            .by_currency
            .iter()
            .map(|(currency, effect)| pb::WhatIfExposure {
                currency: currency.clone(),
                let_through_orders: effect.let_through.orders,
                let_through: money(currency, effect.let_through.amount_minor),
                let_through_expected_loss: loss(currency, &effect.let_through),
                stopped_orders: effect.stopped.orders,
                stopped: money(currency, effect.stopped.amount_minor),
                stopped_expected_loss: loss(currency, &effect.stopped),
            })
            .collect(),
        largest_changes: report.largest.iter().map(change_to_pb).collect(),
        text: render_text(report, scope),
        json: render_json(report, scope),
    }
}
