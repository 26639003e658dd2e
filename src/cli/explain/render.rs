//! A `DecisionRecord` as plain text for people: pure, so that every shape of
//! decision can be tested without a server. Never coloured: the text is as
//! readable in a pipe, a ticket or a log as on a terminal.

use super::remedy::remedy;
use crate::domain::date::Date;
use crate::grpc::pb;
use rust_decimal::Decimal;
use std::fmt::Write;
use std::str::FromStr;

/// Width of the label column of "The numbers it used".
const LABEL: usize = 22;

pub fn render(record: &pb::DecisionRecord) -> String {
    let mut out = String::new();
    header(&mut out, record);
    if let Some(release) = &record.release {
        let _ = writeln!(
            out,
            "\nReleased by {} because {}",
            or_unknown(&release.released_by),
            or_unknown(&release.reason)
        );
    }
    reasons(&mut out, record);
    if let Some(offer) = &record.counter_offer {
        counter_offer(&mut out, offer);
    }
    match &record.snapshot {
        Some(snapshot) => numbers(&mut out, record, snapshot),
        None => out.push_str("\nThe numbers it used: not recorded with this decision.\n"),
    }
    out
}

/// What the answer offered instead, each with how a checkout accepts it.
fn counter_offer(out: &mut String, offer: &pb::CounterOffer) {
    out.push_str("\nCounter-offer (valid until ");
    out.push_str(or_unknown(&offer.valid_until));
    out.push_str(")\n");
    let approvable = decimal(offer.approvable_amount.as_ref()).unwrap_or_default();
    if approvable > Decimal::ZERO {
        let _ = writeln!(
            out,
            "  ship {} now under a new order id (a split shipment)",
            money(offer.approvable_amount.as_ref())
        );
    }
    if offer.prepayment_required.is_some() {
        let _ = writeln!(
            out,
            "  or ship it all with {} paid in advance (check the same order for the rest)",
            money(offer.prepayment_required.as_ref())
        );
    }
    if offer.payment_terms_days > 0 {
        let _ = writeln!(
            out,
            "  or ship it all on net {} (check the same order with payment_terms_days {})",
            offer.payment_terms_days, offer.payment_terms_days
        );
    }
}

fn or_unknown(text: &str) -> &str {
    if text.is_empty() { "(not given)" } else { text }
}

fn decision_name(value: i32) -> &'static str {
    match pb::Decision::try_from(value) {
        Ok(pb::Decision::Approved) => "APPROVED",
        Ok(pb::Decision::Held) => "HELD",
        Ok(pb::Decision::Referred) => "REFERRED",
        _ => "UNSPECIFIED",
    }
}

fn decision_meaning(value: i32) -> &'static str {
    match pb::Decision::try_from(value) {
        Ok(pb::Decision::Approved) => "ship: the amount is reserved against the limit",
        Ok(pb::Decision::Held) => {
            "do not ship yet: clears by itself when the cause clears; check the same order again later"
        }
        Ok(pb::Decision::Referred) => "a credit analyst must decide; nothing is reserved",
        _ => "an outcome this version of creditgate does not know",
    }
}

fn header(out: &mut String, record: &pb::DecisionRecord) {
    let request = record.request.clone().unwrap_or_default();
    let buyer_name = record
        .snapshot
        .as_ref()
        .and_then(|s| s.buyer.as_ref())
        .map(|b| b.name.as_str())
        .filter(|name| !name.is_empty());
    let buyer = match buyer_name {
        Some(name) => format!("{} ({name})", request.buyer_id),
        None => request.buyer_id.clone(),
    };
    let _ = writeln!(
        out,
        "{}  order {}  buyer {}  {}",
        decision_name(record.decision),
        request.order_id,
        buyer,
        money(request.amount.as_ref())
    );
    let _ = writeln!(out, "  {}", decision_meaning(record.decision));
    let as_of = record
        .snapshot
        .as_ref()
        .map(|s| s.as_of.as_str())
        .filter(|d| !d.is_empty());
    let _ = writeln!(
        out,
        "  decided {}{}, policy {}, decision {}",
        or_unknown(&record.decided_at),
        as_of.map_or(String::new(), |d| format!(" (business date {d})")),
        or_unknown(&record.policy_version),
        record.decision_id
    );
}

fn reasons(out: &mut String, record: &pb::DecisionRecord) {
    out.push_str("\nReasons\n");
    if record.reasons.is_empty() {
        out.push_str("  (none recorded)\n");
    }
    for (n, reason) in record.reasons.iter().enumerate() {
        let _ = writeln!(out, "  {}. {}: {}", n + 1, reason.code, reason.message);
        let remedy = remedy(&reason.code)
            .unwrap_or("see docs/policy.md, 'Reason codes' (a code newer than this creditgate).");
        let _ = writeln!(out, "     remedy: {remedy}");
    }
}

/// "12,345.67 EUR"; "unknown" when absent (a decision made without the store
/// has no exposure, which is not zero).
fn money(value: Option<&pb::Money>) -> String {
    match value {
        Some(m) => format!("{} {}", group(&m.amount), m.currency_code),
        None => "unknown".to_owned(),
    }
}

/// Thousands separators on a decimal string; anything not in the API's decimal
/// shape is shown as sent.
fn group(amount: &str) -> String {
    let (sign, digits) = match amount.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", amount),
    };
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return amount.to_owned();
    }
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

fn decimal(value: Option<&pb::Money>) -> Option<Decimal> {
    value.and_then(|m| Decimal::from_str(&m.amount).ok())
}

/// `a - b` in the currency of `a`, when both are known.
fn minus(a: Option<&pb::Money>, b: Option<&pb::Money>) -> Option<pb::Money> {
    let (a_money, b_value) = (a?, decimal(b).unwrap_or(Decimal::ZERO));
    let value = decimal(Some(a_money))? - b_value;
    Some(pb::Money {
        currency_code: a_money.currency_code.clone(),
        amount: value.to_string(),
    })
}

fn row(out: &mut String, label: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "  {label:<LABEL$} {value}");
}

fn numbers(out: &mut String, record: &pb::DecisionRecord, s: &pb::DecisionSnapshot) {
    out.push_str("\nThe numbers it used\n");
    let mut notes = Vec::new();
    if !s.limit_source.is_empty() {
        notes.push(s.limit_source.clone());
    }
    if s.limit_source == "scored" && (1..100).contains(&s.limit_adjustment_percent) {
        notes.push(format!(
            "{}% of the recommendation after late payments; on-time streak {}",
            s.limit_adjustment_percent, s.on_time_streak
        ));
    }
    let mut limit = money(s.credit_limit.as_ref());
    if !notes.is_empty() {
        let _ = write!(limit, " ({})", notes.join(", "));
    }
    row(out, "credit limit", limit);
    row(out, "exposure before", money(s.exposure_before.as_ref()));
    row(
        out,
        "",
        format!(
            "open orders {}, open invoices {} (of which disputed {})",
            money(s.open_orders.as_ref()),
            money(s.open_invoices.as_ref()),
            money(s.disputed.as_ref())
        ),
    );
    let with_order = if record.decision == pb::Decision::Approved as i32 {
        " (with this order)"
    } else {
        " (nothing reserved)"
    };
    row(
        out,
        "exposure after",
        format!("{}{with_order}", money(s.exposure_after.as_ref())),
    );
    if s.credit_limit.is_some() && s.exposure_after.is_some() {
        let available = minus(s.credit_limit.as_ref(), s.exposure_after.as_ref());
        row(out, "available after", money(available.as_ref()));
    }
    insurance(out, record, s);
    aging(out, s);
    rating(out, s);
    tier_rules(out, s);
    if !s.invoiced_by_invoice_id.is_empty() {
        row(
            out,
            "already invoiced",
            format!(
                "by invoice {} for {}",
                s.invoiced_by_invoice_id,
                money(s.invoiced_amount.as_ref())
            ),
        );
    }
}

/// Cover is shown when it could have mattered: the buyer has insurance, its
/// tier expects it, or a reason names it.
fn insurance(out: &mut String, record: &pb::DecisionRecord, s: &pb::DecisionSnapshot) {
    let insured = s
        .buyer
        .as_ref()
        .and_then(|b| b.insurance.as_ref())
        .and_then(|i| i.insured_limit.as_ref());
    let expected = s.tier_rules.as_ref().is_some_and(|t| t.insurance_expected);
    let named = record
        .reasons
        .iter()
        .any(|r| r.code == "UNINSURED_EXPOSURE");
    if insured.is_none() && !expected && !named {
        return;
    }
    let limit = match insured {
        Some(limit) => money(Some(limit)),
        None if expected => "none on file (this tier counts it as zero)".to_owned(),
        None => "none on file".to_owned(),
    };
    row(out, "insured limit", limit);
    let before = minus(s.exposure_before.as_ref(), s.disputed.as_ref());
    let after = minus(s.exposure_after.as_ref(), s.disputed.as_ref());
    row(
        out,
        "insurable exposure",
        format!(
            "{} before, {} after (disputed invoices are not covered)",
            money(before.as_ref()),
            money(after.as_ref())
        ),
    );
}

fn aging(out: &mut String, s: &pb::DecisionSnapshot) {
    if s.oldest_overdue_days > 0 {
        row(
            out,
            "oldest overdue",
            format!("{} days", s.oldest_overdue_days),
        );
    }
    for (n, due) in s.oldest_due.iter().enumerate() {
        let state = if due.days_overdue > 0 {
            format!("{} days overdue", due.days_overdue)
        } else {
            "not yet due".to_owned()
        };
        let label = if n == 0 { "oldest open invoices" } else { "" };
        row(
            out,
            label,
            format!("{}  due {}  {state}", due.invoice_id, due.due_date),
        );
    }
    if let Some(next) = &s.next_due {
        let days = match (Date::parse(&next.due_date), Date::parse(&s.as_of)) {
            (Ok(due), Ok(as_of)) => match due.days_since(as_of) {
                0 => " (due that day)".to_owned(),
                1 => " (in 1 day)".to_owned(),
                d if d > 0 => format!(" (in {d} days)"),
                _ => String::new(),
            },
            _ => String::new(),
        };
        row(
            out,
            "next due",
            format!("{}  due {}{days}", next.invoice_id, next.due_date),
        );
    }
}

fn rating(out: &mut String, s: &pb::DecisionSnapshot) {
    let Some(r) = &s.rating else {
        row(out, "rating", "none");
        return;
    };
    let pd = Decimal::from_str(&r.probability_of_default)
        .map(|pd| {
            format!(
                " ({}%)",
                (pd * Decimal::ONE_HUNDRED).round_dp(2).normalize()
            )
        })
        .unwrap_or_default();
    row(
        out,
        "rating",
        format!(
            "grade {}, score {}, PD {}{pd}",
            r.grade, r.score, r.probability_of_default
        ),
    );
    // Expired when the business date is past valid_until (docs/policy.md,
    // RATING_EXPIRED); ISO dates compare as text.
    let validity = if r.valid_until.is_empty() || s.as_of.is_empty() {
        String::new()
    } else if s.as_of.as_str() > r.valid_until.as_str() {
        format!(": EXPIRED on {} (re-rate with ScoreBuyer)", s.as_of)
    } else {
        format!(": valid on {}", s.as_of)
    };
    row(
        out,
        "",
        format!(
            "rated {}, valid until {}{validity}",
            or_unknown(&r.rated_on),
            or_unknown(&r.valid_until)
        ),
    );
    row(
        out,
        "",
        format!(
            "recommended {} = insured {} + discretionary {}",
            money(r.recommended_limit.as_ref()),
            money(r.insured_limit.as_ref()),
            money(r.discretionary_limit.as_ref())
        ),
    );
}

fn tier_rules(out: &mut String, s: &pb::DecisionSnapshot) {
    let Some(t) = &s.tier_rules else {
        return;
    };
    let tier = pb::RiskTier::try_from(t.risk_tier)
        .map(|tier| {
            tier.as_str_name()
                .trim_start_matches("RISK_TIER_")
                .to_lowercase()
        })
        .unwrap_or_else(|_| "unknown".to_owned());
    row(
        out,
        "tier rules",
        format!(
            "{tier}: tolerance {}% over the limit; {}",
            t.tolerance_percent,
            if t.max_order_percent_of_limit.is_empty() {
                "no single-order cap".to_owned()
            } else {
                format!(
                    "largest order {}% of the limit",
                    t.max_order_percent_of_limit
                )
            }
        ),
    );
    row(
        out,
        "",
        format!(
            "above the insured limit: {}{}",
            match pb::Decision::try_from(t.uninsured_outcome) {
                // Core: approved, with UNINSURED_EXPOSURE as information.
                Ok(pb::Decision::Approved) => "approved, reported",
                _ => decision_name(t.uninsured_outcome),
            },
            if t.insurance_expected {
                "; cover expected"
            } else {
                ""
            }
        ),
    );
    row(
        out,
        "",
        format!(
            "ladder: reminder {} days before due, collection (HELD) from {} and legal (REFERRED) from {} days overdue",
            t.reminder_days_before_due, t.collection_days_overdue, t.legal_days_overdue
        ),
    );
    row(
        out,
        "",
        format!(
            "re-rating every {} days; while expired, orders above {}% of the limit are referred",
            t.rerating_days, t.expired_max_order_percent
        ),
    );
    if t.short_terms_days > 0 {
        row(
            out,
            "",
            format!(
                "orders on net {} or shorter may reach {}% of the limit",
                t.short_terms_days, t.short_terms_limit_percent
            ),
        );
    }
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
