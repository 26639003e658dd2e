//! A what-if report as text for people and as JSON for tooling. Both are pure
//! functions of the report and its scope, written from ordered maps only, so
//! the same inputs give the same bytes (the golden tests hold them).

use crate::domain::money::{Currency, Money};
use crate::domain::reason::ReasonCode;
use crate::domain::whatif::{Change, Flow, Transition, WhatIfReport, rounded};
use crate::store::decision_format::decision_code;
use serde_json::{Value, json};
use std::fmt::Write;

/// What a report covers: where its records came from and the period asked for.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Scope {
    /// "decision archive" or "store decision history".
    pub source: String,
    /// As given (a date or an RFC 3339 timestamp); None: from the first record.
    pub since: Option<String>,
    pub until: Option<String>,
}

fn arrow((before, after): Transition) -> String {
    format!("{} -> {}", decision_code(before), decision_code(after))
}

fn money_of(currency: &str, minor: i64) -> Money {
    // Keys come from Money values, so the code is always known.
    let currency = Currency::from_code(currency).expect("a report's currency code");
    Money::from_minor(currency, minor)
}

fn loss_of(currency: &str, flow: &Flow) -> Money {
    let currency = Currency::from_code(currency).expect("a report's currency code");
    rounded(currency, flow.expected_loss)
}

fn period(scope: &Scope, decisions: u64) -> String {
    match (&scope.since, &scope.until) {
        (None, None) => format!("{decisions} recorded decisions"),
        (Some(since), None) => format!("{decisions} decisions since {since}"),
        (None, Some(until)) => format!("{decisions} decisions before {until}"),
        (Some(since), Some(until)) => {
            format!("{decisions} decisions from {since} to before {until}")
        }
    }
}

/// The report for people.
pub fn render_text(report: &WhatIfReport, scope: &Scope) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "What-if: policy {} replayed on {} (from the {})",
        report.policy_version,
        period(scope, report.decisions),
        scope.source
    );
    let versions: Vec<String> = report
        .policy_versions
        .iter()
        .map(|(version, n)| format!("{version} ({n})"))
        .collect();
    if !versions.is_empty() {
        let _ = writeln!(out, "  decided under: {}", versions.join(", "));
    }
    let _ = writeln!(
        out,
        "  changed: {} of {}; kept: {} analyst releases, {} invoiced orders",
        report.changed, report.decisions, report.released, report.invoiced
    );
    out.push_str(
        "  (each decision replayed on its own recorded ledger snapshot; later decisions not re-chained)\n",
    );
    // Limits come from ratings: a candidate's sizing moves them only when buyers
    // are rated again, which a replay does not do. Said every time, so that a
    // report of no change is never read as "the sizing changes nothing".
    out.push_str(
        "  (limits as recorded: the candidate's [limits], [limit_adjustment], [currency_size_divisor], \
         max_scored_limit and rerating_days act at the next rating, not in this replay)\n",
    );
    if report.unchanged() {
        out.push_str("\nNo decision would change.\n");
        return out;
    }
    out.push_str("\nTransitions by tier\n");
    for ((tier, transition), n) in &report.by_tier {
        let _ = writeln!(out, "  {tier:<10} {:<24} {n:>6}", arrow(*transition));
    }
    out.push_str("\nTransitions by reason code\n");
    for ((code, transition), n) in &report.by_reason {
        let _ = writeln!(out, "  {code:<22} {:<24} {n:>6}", arrow(*transition));
    }
    out.push_str("\nExposure\n");
    for (currency, effect) in &report.by_currency {
        for (what, flow) in [
            ("let through", &effect.let_through),
            ("stopped", &effect.stopped),
        ] {
            let _ = writeln!(
                out,
                "  {currency} {what:<11} {:>20} in {:>5} orders, expected loss {:>16}",
                money_of(currency, flow.amount_minor).to_string(),
                flow.orders,
                loss_of(currency, flow).to_string()
            );
        }
    }
    out.push_str("\nLargest changed decisions\n");
    for (n, change) in report.largest.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {:>2}. {:<24} {:>20}  buyer {} order {} ({}), {}; expected loss {}; decision {}",
            n + 1,
            arrow((change.before, change.after)),
            change.amount.to_string(),
            change.buyer_id,
            change.order_id,
            change.tier,
            change.code,
            rounded(change.amount.currency(), change.expected_loss),
            change.decision_id
        );
    }
    out
}

fn transitions_json(map: &std::collections::BTreeMap<(&str, Transition), u64>, key: &str) -> Value {
    Value::Array(
        map.iter()
            .map(|((name, (before, after)), n)| {
                json!({
                    key: name,
                    "before": decision_code(*before),
                    "after": decision_code(*after),
                    "count": n,
                })
            })
            .collect(),
    )
}

fn flow_json(currency: &str, flow: &Flow) -> Value {
    json!({
        "orders": flow.orders,
        "amount": money_of(currency, flow.amount_minor).amount_string(),
        "expected_loss": loss_of(currency, flow).amount_string(),
    })
}

fn change_json(change: &Change) -> Value {
    let codes = |codes: &[ReasonCode]| -> Vec<&'static str> {
        codes.iter().map(|code| code.as_str()).collect()
    };
    json!({
        "decision_id": change.decision_id,
        "buyer_id": change.buyer_id,
        "order_id": change.order_id,
        "tier": change.tier,
        "amount": change.amount.amount_string(),
        "currency": change.amount.currency().code(),
        "before": decision_code(change.before),
        "after": decision_code(change.after),
        "reason_code": change.code.as_str(),
        "reasons_before": codes(&change.reasons_before),
        "reasons_after": codes(&change.reasons_after),
        "expected_loss": rounded(change.amount.currency(), change.expected_loss).amount_string(),
    })
}

/// The report for tooling: the same figures, amounts as decimal strings in the
/// currency's minor-unit digits, keys in a fixed order.
pub fn render_json(report: &WhatIfReport, scope: &Scope) -> String {
    let exposure: Vec<Value> = report
        .by_currency
        .iter()
        .map(|(currency, effect)| {
            json!({
                "currency": currency,
                "let_through": flow_json(currency, &effect.let_through),
                "stopped": flow_json(currency, &effect.stopped),
            })
        })
        .collect();
    let value = json!({
        "policy_version": report.policy_version,
        "source": scope.source,
        "since": scope.since,
        "until": scope.until,
        "decisions": report.decisions,
        "changed": report.changed,
        "released": report.released,
        "invoiced": report.invoiced,
        "decided_under": report.policy_versions,
        "transitions_by_tier": transitions_json(&report.by_tier, "tier"),
        "transitions_by_reason_code": transitions_json(&report.by_reason, "reason_code"),
        "exposure": exposure,
        "largest_changes": report.largest.iter().map(change_json).collect::<Vec<_>>(),
    });
    let mut text = serde_json::to_string_pretty(&value).expect("a JSON value always serialises");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::decision_record::example_record;
    use crate::domain::policy::Policy;
    use crate::domain::whatif::what_if;
    use rust_decimal::Decimal;
    use std::sync::Arc;

    fn scope() -> Scope {
        Scope {
            source: "store decision history".into(),
            since: Some("2026-11-01".into()),
            until: None,
        }
    }

    /// Two orders of 150.00 and 80.00 EUR stopped by a 1% cap on a 10,000.00 limit.
    fn report() -> WhatIfReport {
        let records: Vec<_> = [("b", 15_000), ("a", 8_000), ("c", 5_000)]
            .into_iter()
            .map(|(id, minor)| {
                let mut record = example_record(id);
                let inputs = Arc::make_mut(&mut record.inputs);
                inputs.amount = Money::from_minor(inputs.amount.currency(), minor);
                record
            })
            .collect();
        let mut candidate = Policy {
            version: "capped".into(),
            ..Policy::default()
        };
        candidate.standard.max_order_percent_of_limit = Some(Decimal::new(6, 1));
        what_if(&candidate, &records)
    }

    #[test]
    fn the_text_names_the_period_the_source_and_every_figure() {
        let text = render_text(&report(), &scope());
        assert!(
            text.starts_with(
                "What-if: policy capped replayed on 3 decisions since 2026-11-01 (from the store decision history)\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("\n  standard   APPROVED -> REFERRED          2\n"),
            "{text}"
        );
        assert!(text.contains("NEW_BUYER_MAX_ORDER"), "{text}");
        // PD 1% of 230.00 uninsured.
        assert!(
            text.contains("  EUR stopped               230.00 EUR in     2 orders, expected loss         2.30 EUR\n"),
            "{text}"
        );
        // Largest first.
        let b = text.find("decision b").unwrap();
        let a = text.find("decision a").unwrap();
        assert!(b < a, "{text}");
        assert_eq!(text, render_text(&report(), &scope()));
    }

    #[test]
    fn the_json_has_stable_keys_and_decimal_strings() {
        let json = render_json(&report(), &scope());
        assert_eq!(json, render_json(&report(), &scope()));
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["exposure"][0]["stopped"]["amount"], "230.00");
        assert_eq!(value["exposure"][0]["stopped"]["expected_loss"], "2.30");
        assert_eq!(value["largest_changes"][0]["decision_id"], "b");
        assert_eq!(value["transitions_by_tier"][0]["tier"], "standard");
        assert_eq!(value["until"], serde_json::Value::Null);
    }
}
