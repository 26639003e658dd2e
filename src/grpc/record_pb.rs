//! A decision record as GetDecision answers it, and back: the snapshot an
//! auditor reads is the one the policy can be fed again (`record_from_pb`), so
//! nothing in it is prose that the replay could not use.

use super::convert::{self, buyer_to_pb, decision_to_pb, money_to_pb, reasons_to_pb};
use super::pb;
use crate::domain::buyer::{BuyerRecord, Grade, LimitAdjustment, Rating};
use crate::domain::date::Date;
use crate::domain::decision_record::{
    AnalystRelease, DecisionInputs, DecisionRecord, StoreVerdict,
};
use crate::domain::exposure::{DueItem, DunningLadder, ExposureTotals, LedgerSnapshot};
use crate::domain::ids::{InvoiceId, OrderId};
use crate::domain::money::{Currency, Money};
use crate::domain::policy::{Decision, ShortTerms, TierPolicy};
use crate::service::outcome_of;
use rust_decimal::Decimal;
use std::str::FromStr;
use std::sync::Arc;

/// RFC 3339 in UTC with milliseconds, e.g. 2026-12-02T21:34:35.123Z.
pub fn rfc3339_millis(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let of_day = secs.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}.{:03}Z",
        Date::from_unix_secs(secs),
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
        ms.rem_euclid(1000)
    )
}

/// An RFC 3339 timestamp (`2026-03-03T09:00:00Z`, with fractional seconds or
/// an offset) or a plain date (midnight UTC) as milliseconds since the epoch.
pub fn parse_rfc3339_millis(text: &str) -> Option<i64> {
    let date = Date::parse(text.get(..10)?).ok()?;
    let day_ms = i64::from(date.days()) * 86_400_000;
    let rest = &text[10..];
    if rest.is_empty() {
        return Some(day_ms);
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let field = |at: usize| -> Option<i64> {
        let digits = rest.get(at..at + 2)?;
        digits
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| digits.parse().ok())?
    };
    let (hours, minutes, seconds) = (field(0)?, field(3)?, field(6)?);
    if rest.get(2..3)? != ":"
        || rest.get(5..6)? != ":"
        || hours > 23
        || minutes > 59
        || seconds > 60
    {
        return None;
    }
    let mut rest = &rest[8..];
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let first3: String = fraction[..digits]
            .chars()
            .chain("000".chars())
            .take(3)
            .collect();
        millis = first3.parse::<i64>().ok()?;
        rest = &fraction[digits..];
    }
    let offset_ms = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.get(..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let (h, m) = (rest.get(1..3)?, rest.get(4..6)?);
            if rest.len() != 6 || rest.get(3..4)? != ":" {
                return None;
            }
            let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 3600 + m * 60) * 1000
        }
    };
    Some(day_ms + ((hours * 60 + minutes) * 60 + seconds) * 1000 + millis - offset_ms)
}

fn due_to_pb(item: &DueItem, today: Date) -> pb::DueInvoice {
    pb::DueInvoice {
        invoice_id: item.invoice_id.to_string(),
        due_date: item.due_date.to_string(),
        days_overdue: today.days_since(item.due_date).max(0),
    }
}

fn tier_rules_to_pb(inputs: &DecisionInputs) -> pb::TierRules {
    let tier = &inputs.tier;
    let ladder = tier.ladder;
    pb::TierRules {
        risk_tier: convert::tier_to_pb(inputs.buyer.profile.tier) as i32,
        tolerance_percent: tier.tolerance_percent.normalize().to_string(),
        max_order_percent_of_limit: tier
            .max_order_percent_of_limit
            .map_or_else(String::new, |p| p.normalize().to_string()),
        uninsured_outcome: decision_to_pb(tier.uninsured_outcome) as i32,
        insurance_expected: tier.insurance_expected,
        reminder_days_before_due: ladder.reminder_days_before_due,
        collection_days_overdue: ladder.collection_days_overdue,
        legal_days_overdue: ladder.legal_days_overdue,
        rerating_days: tier.rerating_days,
        max_scored_limit: tier.max_scored_limit.normalize().to_string(),
        expired_max_order_percent: inputs.expired_max_order_percent.normalize().to_string(),
        short_terms_days: tier.short_terms.map_or(0, |short| short.max_days as i32),
        short_terms_limit_percent: tier.short_terms.map_or_else(String::new, |short| {
            short.limit_percent.normalize().to_string()
        }),
    }
}

fn rating_to_pb(rating: &Rating) -> pb::RatingSnapshot {
    pb::RatingSnapshot {
        score: i32::from(rating.score),
        grade: i32::from(rating.grade.value()),
        probability_of_default: rating.probability_of_default.normalize().to_string(),
        recommended_limit: Some(money_to_pb(rating.recommended_limit)),
        scored_limit: Some(money_to_pb(rating.scored_limit)),
        insured_limit: Some(money_to_pb(rating.insured_limit)),
        discretionary_limit: Some(money_to_pb(rating.discretionary_limit)),
        rated_on: rating.rated_on.to_string(),
        valid_until: rating.valid_until.to_string(),
    }
}

pub fn record_to_pb(record: &DecisionRecord) -> pb::DecisionRecord {
    let inputs = &record.inputs;
    let outcome = outcome_of(record);
    let currency = inputs.amount.currency();
    let money = |minor: i64| Some(money_to_pb(Money::from_minor(currency, minor)));
    let snapshot = &record.snapshot;
    let totals = snapshot.totals;
    let (invoiced_by, invoiced_amount) = match &record.verdict {
        StoreVerdict::Invoiced { invoice_id, amount } => (invoice_id.to_string(), money(*amount)),
        _ => (String::new(), None),
    };
    pb::DecisionRecord {
        decision_id: inputs.decision_id.clone(),
        decided_at: rfc3339_millis(record.decided_at_ms),
        request: Some(pb::CheckCreditLimitRequest {
            buyer_id: inputs.buyer.profile.id.to_string(),
            order_id: inputs.order_id.to_string(),
            amount: Some(money_to_pb(inputs.amount)),
            payment_terms_days: inputs.payment_terms_days.map_or(0, |days| days as i32),
        }),
        decision: decision_to_pb(outcome.decision) as i32,
        reasons: reasons_to_pb(outcome.reasons),
        policy_version: inputs.policy_version.clone(),
        snapshot: Some(pb::DecisionSnapshot {
            as_of: inputs.today.to_string(),
            credit_limit: outcome.credit_limit.map(money_to_pb),
            limit_source: convert::limit_source_to_pb(outcome.limit_source),
            limit_adjustment_percent: inputs.buyer.adjustment.percent as i32,
            on_time_streak: inputs.buyer.adjustment.on_time_streak as i32,
            open_orders: money(totals.open_orders),
            open_invoices: money(totals.open_invoices),
            disputed: money(totals.disputed),
            exposure_before: money(totals.total()),
            exposure_after: outcome.exposure.map(money_to_pb),
            oldest_due: snapshot
                .oldest_due
                .iter()
                .map(|item| due_to_pb(item, inputs.today))
                .collect(),
            oldest_overdue_days: snapshot.max_days_overdue(inputs.today),
            next_due: snapshot
                .next_due
                .as_ref()
                .map(|item| due_to_pb(item, inputs.today)),
            rating: Some(rating_to_pb(&inputs.buyer.rating)),
            buyer: Some(buyer_to_pb(&inputs.buyer.profile)),
            tier_rules: Some(tier_rules_to_pb(inputs)),
            invoiced_by_invoice_id: invoiced_by,
            invoiced_amount,
        }),
        release: inputs.release.as_ref().map(|r| pb::AnalystRelease {
            released_by: r.released_by.clone(),
            reason: r.reason.clone(),
        }),
        counter_offer: outcome.counter_offer.map(convert::counter_offer_to_pb),
    }
}

/// Reads a GetDecision answer back into the record the policy replays: for a
/// what-if, or to check that the snapshot says all a decision used.
pub fn record_from_pb(record: &pb::DecisionRecord) -> Result<DecisionRecord, String> {
    let request = record.request.as_ref().ok_or("no request")?;
    let snapshot = record.snapshot.as_ref().ok_or("no snapshot")?;
    let profile = convert_profile(snapshot.buyer.clone())?;
    let currency = profile.currency;
    let minor = |money: &Option<pb::Money>, what: &str| -> Result<i64, String> {
        let money = money.as_ref().ok_or(format!("no {what}"))?;
        Money::parse_signed(currency, &money.amount, true)
            .map(|m| m.minor())
            .map_err(|e| format!("{what}: {e}"))
    };
    let today = date(&snapshot.as_of, "as_of")?;
    let rating = snapshot.rating.as_ref().ok_or("no rating")?;
    let rules = snapshot.tier_rules.as_ref().ok_or("no tier_rules")?;
    let due = |item: &pb::DueInvoice| -> Result<DueItem, String> {
        Ok(DueItem {
            invoice_id: InvoiceId::parse_stored(&item.invoice_id).map_err(|e| e.to_string())?,
            due_date: date(&item.due_date, "due_date")?,
        })
    };
    let verdict = if !snapshot.invoiced_by_invoice_id.is_empty() {
        StoreVerdict::Invoiced {
            invoice_id: InvoiceId::parse_stored(&snapshot.invoiced_by_invoice_id)
                .map_err(|e| e.to_string())?,
            amount: minor(&snapshot.invoiced_amount, "invoiced_amount")?,
        }
    } else if record.decision == pb::Decision::Approved as i32 {
        StoreVerdict::Reserved
    } else {
        StoreVerdict::NotReserved
    };
    let buyer = BuyerRecord {
        rating: Rating {
            score: u16::try_from(rating.score).map_err(|e| e.to_string())?,
            grade: Grade::new(i64::from(rating.grade)).ok_or("rating grade")?,
            probability_of_default: decimal(&rating.probability_of_default)?,
            recommended_limit: money_of(currency, &rating.recommended_limit)?,
            scored_limit: money_of(currency, &rating.scored_limit)?,
            insured_limit: money_of(currency, &rating.insured_limit)?,
            discretionary_limit: money_of(currency, &rating.discretionary_limit)?,
            rated_on: date(&rating.rated_on, "rated_on")?,
            valid_until: date(&rating.valid_until, "valid_until")?,
            reasons: Vec::new(),
        },
        adjustment: LimitAdjustment {
            percent: u32::try_from(snapshot.limit_adjustment_percent).map_err(|e| e.to_string())?,
            on_time_streak: u32::try_from(snapshot.on_time_streak).map_err(|e| e.to_string())?,
        },
        profile,
    };
    Ok(DecisionRecord {
        inputs: Arc::new(DecisionInputs {
            decision_id: record.decision_id.clone(),
            buyer: Arc::new(buyer),
            order_id: OrderId::parse_stored(&request.order_id).map_err(|e| e.to_string())?,
            amount: money_of(currency, &request.amount)?,
            payment_terms_days: u32::try_from(request.payment_terms_days)
                .map(|days| Some(days).filter(|days| *days > 0))
                .map_err(|e| e.to_string())?,
            today,
            policy_version: record.policy_version.clone(),
            tier: TierPolicy {
                tolerance_percent: decimal(&rules.tolerance_percent)?,
                max_order_percent_of_limit: match rules.max_order_percent_of_limit.as_str() {
                    "" => None,
                    text => Some(decimal(text)?),
                },
                uninsured_outcome: decision_from_pb(rules.uninsured_outcome)?,
                insurance_expected: rules.insurance_expected,
                ladder: DunningLadder {
                    reminder_days_before_due: rules.reminder_days_before_due,
                    collection_days_overdue: rules.collection_days_overdue,
                    legal_days_overdue: rules.legal_days_overdue,
                },
                rerating_days: rules.rerating_days,
                max_scored_limit: decimal(&rules.max_scored_limit)?,
                short_terms: match rules.short_terms_days {
                    0 => None,
                    days => Some(ShortTerms {
                        max_days: u32::try_from(days).map_err(|e| e.to_string())?,
                        limit_percent: decimal(&rules.short_terms_limit_percent)?,
                    }),
                },
            },
            expired_max_order_percent: decimal(&rules.expired_max_order_percent)?,
            release: record.release.as_ref().map(|r| AnalystRelease {
                released_by: r.released_by.clone(),
                reason: r.reason.clone(),
            }),
        }),
        decided_at_ms: 0,
        snapshot: LedgerSnapshot {
            totals: ExposureTotals {
                open_orders: minor(&snapshot.open_orders, "open_orders")?,
                open_invoices: minor(&snapshot.open_invoices, "open_invoices")?,
                disputed: minor(&snapshot.disputed, "disputed")?,
            },
            oldest_due: snapshot
                .oldest_due
                .iter()
                .map(due)
                .collect::<Result<_, _>>()?,
            next_due: snapshot.next_due.as_ref().map(due).transpose()?,
        },
        verdict,
    })
}

fn convert_profile(buyer: Option<pb::Buyer>) -> Result<crate::domain::buyer::BuyerProfile, String> {
    convert::buyer_profile(buyer).map_err(|e| e.to_string())
}

fn date(text: &str, what: &str) -> Result<Date, String> {
    Date::parse(text).map_err(|e| format!("{what}: {e}"))
}

fn decimal(text: &str) -> Result<Decimal, String> {
    Decimal::from_str(text).map_err(|e| format!("{text:?}: {e}"))
}

fn money_of(currency: Currency, money: &Option<pb::Money>) -> Result<Money, String> {
    let money = money.as_ref().ok_or("missing amount")?;
    Money::parse_signed(currency, &money.amount, true).map_err(|e| e.to_string())
}

fn decision_from_pb(value: i32) -> Result<Decision, String> {
    match pb::Decision::try_from(value) {
        Ok(pb::Decision::Approved) => Ok(Decision::Approved),
        Ok(pb::Decision::Held) => Ok(Decision::Held),
        Ok(pb::Decision::Referred) => Ok(Decision::Referred),
        _ => Err(format!("decision {value}")),
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_rfc3339_millis, rfc3339_millis};

    #[test]
    fn rfc3339_is_read_back_with_offsets_fractions_and_dates() {
        for ms in [0, 1_796_000_000_123, 86_399_999] {
            assert_eq!(parse_rfc3339_millis(&rfc3339_millis(ms)), Some(ms));
        }
        assert_eq!(
            parse_rfc3339_millis("2026-03-03T10:00:00+01:00"),
            parse_rfc3339_millis("2026-03-03T09:00:00Z")
        );
        assert_eq!(
            parse_rfc3339_millis("2026-03-03"),
            parse_rfc3339_millis("2026-03-03T00:00:00.000Z")
        );
        assert_eq!(parse_rfc3339_millis("1970-01-01T00:00:00.5Z"), Some(500));
        for bad in [
            "",
            "2026-03-03T",
            "2026-03-03T09:00Z",
            "2026-13-01",
            "2026-03-03T09:00:00",
            "2026-03-03T24:00:00Z",
            "2026-03-03T09:00:00+1:00",
            "x",
        ] {
            assert_eq!(parse_rfc3339_millis(bad), None, "{bad}");
        }
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_millis() {
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339_millis(1_764_711_275_123),
            "2025-12-02T21:34:35.123Z"
        );
    }
}
