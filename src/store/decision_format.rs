//! The stored forms of a decision record, in one place for every store that
//! keeps records outside the process: Redis (the text forms below) and the
//! PostgreSQL archive (all JSON, [`record_to_json`]).
//!
//! A record has two halves written by different hands: the service's inputs, a
//! versioned JSON document built here in Rust ([`inputs_to_json`]), and the
//! store's part — the ledger snapshot, the verdict and the decision time — which
//! the Redis scripts build in Lua inside the reservation's atomic step. That is
//! why the store's part is a plain text form a script can write with string
//! concatenation ([`snapshot_to_text`], [`verdict_to_text`]) and not JSON: Lua's
//! cjson prints numbers with 14 significant digits and would round money.
//!
//! Money is integer minor units, decimals (percentages, PD) are strings, dates
//! are day numbers (days since 1970-01-01, as the ledger keeps them): nothing
//! goes through a float. Free text (ids) is either last in its field or
//! length-prefixed (`<bytes>:<text>`), so no separator inside an id can shift
//! the fields after it.
//!
//! Measured size (`a_typical_record_size_is_measured`): 1,302 bytes packed for
//! an insured buyer with one rating reason and three due items; 1,406 bytes per
//! Redis stream entry for the test suite's buyer (docs/redis.md).

use super::redis::record::{
    ProfileV1, RatingV1, profile_from_v1, profile_v1, rating_from_v1, rating_v1,
};
use crate::domain::buyer::{BuyerRecord, LimitAdjustment};
use crate::domain::date::Date;
use crate::domain::decision_record::{
    AnalystRelease, DecisionInputs, DecisionRecord, StoreVerdict,
};
use crate::domain::exposure::{DueItem, DunningLadder, ExposureTotals, LedgerSnapshot};
use crate::domain::ids::{InvoiceId, OrderId};
use crate::domain::money::{Currency, Money};
use crate::domain::policy::{Decision, ShortTerms, TierPolicy};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use std::sync::Arc;

/// The version of the inputs document; a reader refuses any newer one.
pub const INPUTS_VERSION: u32 = 2;

/// Version 2 added the order's shorter terms (`terms`) and the tier's
/// `short_terms`. A record whose order named no terms replays the same without
/// them, so it is still written as version 1, which builds from before can read;
/// one that did is version 2, which they refuse (a record they would decode
/// without its terms would replay as another decision).
const WITHOUT_TERMS_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct InputsV1 {
    v: u32,
    id: String,
    profile: ProfileV1,
    rating: RatingV1,
    /// The limit adjustment: percent, on-time streak.
    adjustment: (u32, u32),
    order: String,
    amount: i64,
    currency: String,
    /// Shorter payment terms the caller named (absent: the agreed terms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    terms: Option<u32>,
    today: i32,
    policy: String,
    tier: TierV1,
    expired_max_order_percent: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    release: Option<ReleaseV1>,
}

#[derive(Serialize, Deserialize)]
struct TierV1 {
    tolerance_percent: String,
    max_order_percent: Option<String>,
    uninsured: String,
    insurance_expected: bool,
    reminder_days: i32,
    collection_days: i32,
    legal_days: i32,
    rerating_days: i32,
    max_scored_limit: String,
    /// The tier's short terms: days, ceiling percent (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    short_terms: Option<(u32, String)>,
}

#[derive(Serialize, Deserialize)]
struct ReleaseV1 {
    by: String,
    reason: String,
}

fn corrupt(what: &str) -> String {
    format!("stored decision record has an invalid {what}")
}

fn decimal(text: &str, what: &str) -> Result<Decimal, String> {
    Decimal::from_str(text).map_err(|_| corrupt(what))
}

fn decision_name(decision: Decision) -> &'static str {
    match decision {
        Decision::Approved => "approved",
        Decision::Held => "held",
        Decision::Referred => "referred",
    }
}

fn decision_of(name: &str) -> Result<Decision, String> {
    match name {
        "approved" => Ok(Decision::Approved),
        "held" => Ok(Decision::Held),
        "referred" => Ok(Decision::Referred),
        _ => Err(corrupt("tier outcome")),
    }
}

pub fn inputs_to_json(inputs: &DecisionInputs) -> String {
    serde_json::to_string(&inputs_v1(inputs)).expect("decision inputs serialise")
}

pub fn inputs_from_json(json: &str) -> Result<DecisionInputs, String> {
    inputs_from_v1(serde_json::from_str(json).map_err(|e| corrupt(&format!("inputs ({e})")))?)
}

fn inputs_v1(inputs: &DecisionInputs) -> InputsV1 {
    let tier = &inputs.tier;
    InputsV1 {
        v: if inputs.payment_terms_days.is_some() {
            INPUTS_VERSION
        } else {
            WITHOUT_TERMS_VERSION
        },
        id: inputs.decision_id.clone(),
        profile: profile_v1(&inputs.buyer.profile),
        rating: rating_v1(&inputs.buyer.rating),
        adjustment: (
            inputs.buyer.adjustment.percent,
            inputs.buyer.adjustment.on_time_streak,
        ),
        order: inputs.order_id.as_str().to_owned(),
        amount: inputs.amount.minor(),
        currency: inputs.amount.currency().code().to_owned(),
        terms: inputs.payment_terms_days,
        today: inputs.today.days(),
        policy: inputs.policy_version.clone(),
        tier: TierV1 {
            tolerance_percent: tier.tolerance_percent.to_string(),
            max_order_percent: tier.max_order_percent_of_limit.map(|p| p.to_string()),
            uninsured: decision_name(tier.uninsured_outcome).to_owned(),
            insurance_expected: tier.insurance_expected,
            reminder_days: tier.ladder.reminder_days_before_due,
            collection_days: tier.ladder.collection_days_overdue,
            legal_days: tier.ladder.legal_days_overdue,
            rerating_days: tier.rerating_days,
            max_scored_limit: tier.max_scored_limit.to_string(),
            short_terms: tier
                .short_terms
                .map(|short| (short.max_days, short.limit_percent.to_string())),
        },
        expired_max_order_percent: inputs.expired_max_order_percent.to_string(),
        release: inputs.release.as_ref().map(|r| ReleaseV1 {
            by: r.released_by.clone(),
            reason: r.reason.clone(),
        }),
    }
}

fn inputs_from_v1(r: InputsV1) -> Result<DecisionInputs, String> {
    if !(WITHOUT_TERMS_VERSION..=INPUTS_VERSION).contains(&r.v) {
        return Err(format!(
            "stored decision record has format version {}, this build reads {INPUTS_VERSION}",
            r.v
        ));
    }
    let profile = profile_from_v1(r.profile)?;
    let rating = rating_from_v1(r.rating, profile.currency)?;
    let currency = Currency::from_code(&r.currency).ok_or_else(|| corrupt("currency"))?;
    let t = r.tier;
    Ok(DecisionInputs {
        decision_id: r.id,
        buyer: Arc::new(BuyerRecord {
            profile,
            rating,
            adjustment: LimitAdjustment {
                percent: r.adjustment.0,
                on_time_streak: r.adjustment.1,
            },
        }),
        order_id: OrderId::parse_stored(&r.order).map_err(|_| corrupt("order id"))?,
        amount: Money::from_minor(currency, r.amount),
        payment_terms_days: r.terms,
        today: Date::from_days(r.today),
        policy_version: r.policy,
        tier: TierPolicy {
            tolerance_percent: decimal(&t.tolerance_percent, "tolerance")?,
            max_order_percent_of_limit: match t.max_order_percent {
                Some(p) => Some(decimal(&p, "max order percent")?),
                None => None,
            },
            uninsured_outcome: decision_of(&t.uninsured)?,
            insurance_expected: t.insurance_expected,
            ladder: DunningLadder {
                reminder_days_before_due: t.reminder_days,
                collection_days_overdue: t.collection_days,
                legal_days_overdue: t.legal_days,
            },
            rerating_days: t.rerating_days,
            max_scored_limit: decimal(&t.max_scored_limit, "max scored limit")?,
            short_terms: match t.short_terms {
                Some((max_days, percent)) => Some(ShortTerms {
                    max_days,
                    limit_percent: decimal(&percent, "short terms percent")?,
                }),
                None => None,
            },
        },
        expired_max_order_percent: decimal(&r.expired_max_order_percent, "expired cap")?,
        release: r.release.map(|r| AnalystRelease {
            released_by: r.by,
            reason: r.reason,
        }),
    })
}

/// Reads a text form field by field: numbers end at '|', ids are
/// `<bytes>:<text>`.
struct Fields<'a> {
    rest: &'a str,
    what: &'static str,
}

impl<'a> Fields<'a> {
    fn new(text: &'a str, what: &'static str) -> Fields<'a> {
        Fields { rest: text, what }
    }

    fn bad(&self) -> String {
        corrupt(self.what)
    }

    fn done(&self) -> bool {
        self.rest.is_empty()
    }

    /// Skips the separator before the next field (none before the first).
    fn separator(&mut self) -> Result<(), String> {
        match self.rest.strip_prefix('|') {
            Some(rest) => {
                self.rest = rest;
                Ok(())
            }
            None => Err(self.bad()),
        }
    }

    fn int(&mut self) -> Result<i64, String> {
        let end = self.rest.find('|').unwrap_or(self.rest.len());
        let n = self.rest[..end].parse().map_err(|_| self.bad())?;
        self.rest = &self.rest[end..];
        Ok(n)
    }

    fn sized(&mut self) -> Result<&'a str, String> {
        let colon = self.rest.find(':').ok_or_else(|| self.bad())?;
        let len: usize = self.rest[..colon].parse().map_err(|_| self.bad())?;
        let start = colon + 1;
        let text = self
            .rest
            .get(start..start.checked_add(len).ok_or_else(|| self.bad())?)
            .ok_or_else(|| self.bad())?;
        self.rest = &self.rest[start + len..];
        Ok(text)
    }

    /// Everything left: a last field of free text.
    fn tail(&mut self) -> &'a str {
        std::mem::take(&mut self.rest)
    }
}

fn sized(text: &str) -> String {
    format!("{}:{text}", text.len())
}

fn due_item(fields: &mut Fields) -> Result<DueItem, String> {
    fields.separator()?;
    let day = fields.int()?;
    fields.separator()?;
    let id = fields.sized()?;
    Ok(DueItem {
        invoice_id: InvoiceId::parse_stored(id).map_err(|_| fields.bad())?,
        due_date: Date::from_days(i32::try_from(day).map_err(|_| fields.bad())?),
    })
}

/// `open_orders|open_invoices|disputed|n` then n oldest due items and, when
/// there is one, the next due, each `|<due day>|<bytes>:<invoice id>`: what
/// `snapshot_text` in prelude.lua writes.
pub fn snapshot_to_text(snapshot: &LedgerSnapshot) -> String {
    let t = &snapshot.totals;
    let mut text = format!(
        "{}|{}|{}|{}",
        t.open_orders,
        t.open_invoices,
        t.disputed,
        snapshot.oldest_due.len()
    );
    for item in snapshot.oldest_due.iter().chain(&snapshot.next_due) {
        text.push_str(&format!(
            "|{}|{}",
            item.due_date.days(),
            sized(item.invoice_id.as_str())
        ));
    }
    text
}

pub fn snapshot_from_text(text: &str) -> Result<LedgerSnapshot, String> {
    let mut f = Fields::new(text, "ledger snapshot");
    let open_orders = f.int()?;
    f.separator()?;
    let open_invoices = f.int()?;
    f.separator()?;
    let disputed = f.int()?;
    f.separator()?;
    let n = f.int()?;
    let oldest_due = (0..n)
        .map(|_| due_item(&mut f))
        .collect::<Result<Vec<_>, _>>()?;
    let next_due = if f.done() {
        None
    } else {
        Some(due_item(&mut f)?)
    };
    if !f.done() {
        return Err(f.bad());
    }
    Ok(LedgerSnapshot {
        totals: ExposureTotals {
            open_orders,
            open_invoices,
            disputed,
        },
        oldest_due,
        next_due,
    })
}

/// `R` reserved, `N` not reserved, `I|<amount>|<invoice id>` invoiced without
/// an approval (the id last: free text).
pub fn verdict_to_text(verdict: &StoreVerdict) -> String {
    match verdict {
        StoreVerdict::Reserved => "R".to_owned(),
        StoreVerdict::NotReserved => "N".to_owned(),
        StoreVerdict::Invoiced { invoice_id, amount } => format!("I|{amount}|{invoice_id}"),
    }
}

pub fn verdict_from_text(text: &str) -> Result<StoreVerdict, String> {
    match text {
        "R" => Ok(StoreVerdict::Reserved),
        "N" => Ok(StoreVerdict::NotReserved),
        _ => {
            let mut f = Fields::new(
                text.strip_prefix("I|").ok_or_else(|| corrupt("verdict"))?,
                "verdict",
            );
            let amount = f.int()?;
            f.separator()?;
            let invoice_id = InvoiceId::parse_stored(f.tail()).map_err(|_| f.bad())?;
            Ok(StoreVerdict::Invoiced { invoice_id, amount })
        }
    }
}

/// A record from its four stored parts (a Redis stream entry's fields).
pub fn record_from_parts(
    inputs_json: &str,
    snapshot: &str,
    verdict: &str,
    decided_at_ms: i64,
) -> Result<DecisionRecord, String> {
    Ok(DecisionRecord {
        inputs: Arc::new(inputs_from_json(inputs_json)?),
        decided_at_ms,
        snapshot: snapshot_from_text(snapshot)?,
        verdict: verdict_from_text(verdict)?,
    })
}

/// The whole record as one text: `<decided_at_ms>|<bytes>:<snapshot>|<bytes>:<verdict>|<inputs json>`
/// (`pack_record` in prelude.lua writes the same).
pub fn record_to_packed(record: &DecisionRecord) -> String {
    format!(
        "{}|{}|{}|{}",
        record.decided_at_ms,
        sized(&snapshot_to_text(&record.snapshot)),
        sized(&verdict_to_text(&record.verdict)),
        inputs_to_json(&record.inputs)
    )
}

pub fn record_from_packed(text: &str) -> Result<DecisionRecord, String> {
    let mut f = Fields::new(text, "packed record");
    let decided_at_ms = f.int()?;
    f.separator()?;
    let snapshot = f.sized()?;
    f.separator()?;
    let verdict = f.sized()?;
    f.separator()?;
    record_from_parts(f.tail(), snapshot, verdict, decided_at_ms)
}

/// The version of the archive's record document; a reader refuses any other.
pub const RECORD_VERSION: u32 = 1;

/// The archive's form of a record (the `record` jsonb column). Unlike the
/// Redis form it is all JSON, written here in Rust where numbers stay exact
/// integers, so that an auditor can read it with SQL's JSON operators; and it
/// carries the decision and reasons [`DecisionRecord::replay`] derives, so that
/// SQL can filter on them without this build. Readers take only the inputs and
/// the store's part: the decision and reasons are prose derived from those.
#[derive(Serialize)]
struct RecordV1<'a> {
    v: u32,
    decision_id: &'a str,
    decided_at_ms: i64,
    inputs: InputsV1,
    snapshot: SnapshotV1,
    verdict: VerdictV1,
    decision: &'static str,
    reasons: Vec<ReasonV1>,
}

/// What a reader takes from [`RecordV1`]; serde skips the rest.
#[derive(Deserialize)]
struct StoredRecordV1 {
    decided_at_ms: i64,
    inputs: InputsV1,
    snapshot: SnapshotV1,
    verdict: VerdictV1,
}

#[derive(Serialize, Deserialize)]
struct SnapshotV1 {
    open_orders: i64,
    open_invoices: i64,
    disputed: i64,
    oldest_due: Vec<DueV1>,
    next_due: Option<DueV1>,
}

#[derive(Serialize, Deserialize)]
struct DueV1 {
    invoice_id: String,
    /// Days since 1970-01-01, as the ledger keeps due dates.
    due_day: i32,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum VerdictV1 {
    Reserved,
    NotReserved,
    Invoiced { invoice_id: String, amount: i64 },
}

#[derive(Serialize)]
struct ReasonV1 {
    code: &'static str,
    message: String,
}

/// The decision as the API and the archive's `decision` column spell it.
pub fn decision_code(decision: Decision) -> &'static str {
    match decision {
        Decision::Approved => "APPROVED",
        Decision::Held => "HELD",
        Decision::Referred => "REFERRED",
    }
}

fn due_v1(item: &DueItem) -> DueV1 {
    DueV1 {
        invoice_id: item.invoice_id.as_str().to_owned(),
        due_day: item.due_date.days(),
    }
}

fn due_from_v1(item: DueV1) -> Result<DueItem, String> {
    Ok(DueItem {
        invoice_id: InvoiceId::parse_stored(&item.invoice_id)
            .map_err(|_| corrupt("due invoice id"))?,
        due_date: Date::from_days(item.due_day),
    })
}

/// The archive's JSON document of a record (shape in docs/archive.md).
pub fn record_to_json(record: &DecisionRecord) -> serde_json::Value {
    let replayed = record.replay();
    let totals = &record.snapshot.totals;
    let document = RecordV1 {
        v: RECORD_VERSION,
        decision_id: &record.inputs.decision_id,
        decided_at_ms: record.decided_at_ms,
        inputs: inputs_v1(&record.inputs),
        snapshot: SnapshotV1 {
            open_orders: totals.open_orders,
            open_invoices: totals.open_invoices,
            disputed: totals.disputed,
            oldest_due: record.snapshot.oldest_due.iter().map(due_v1).collect(),
            next_due: record.snapshot.next_due.as_ref().map(due_v1),
        },
        verdict: match &record.verdict {
            StoreVerdict::Reserved => VerdictV1::Reserved,
            StoreVerdict::NotReserved => VerdictV1::NotReserved,
            StoreVerdict::Invoiced { invoice_id, amount } => VerdictV1::Invoiced {
                invoice_id: invoice_id.as_str().to_owned(),
                amount: *amount,
            },
        },
        decision: decision_code(replayed.decision),
        reasons: replayed
            .reasons
            .into_iter()
            .map(|r| ReasonV1 {
                code: r.code.as_str(),
                message: r.message,
            })
            .collect(),
    };
    serde_json::to_value(&document).expect("decision record serialises")
}

pub fn record_from_json(value: &serde_json::Value) -> Result<DecisionRecord, String> {
    // The version first: a later format may have moved any other field, and
    // "version 2" says more than the first field it moved.
    match value.get("v").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(RECORD_VERSION) => {}
        Some(v) => {
            return Err(format!(
                "archived decision record has format version {v}, this build reads {RECORD_VERSION}"
            ));
        }
        None => return Err(corrupt("archived record (no format version \"v\")")),
    }
    let r = StoredRecordV1::deserialize(value)
        .map_err(|e| corrupt(&format!("archived record ({e})")))?;
    let s = r.snapshot;
    Ok(DecisionRecord {
        inputs: Arc::new(inputs_from_v1(r.inputs)?),
        decided_at_ms: r.decided_at_ms,
        snapshot: LedgerSnapshot {
            totals: ExposureTotals {
                open_orders: s.open_orders,
                open_invoices: s.open_invoices,
                disputed: s.disputed,
            },
            oldest_due: s
                .oldest_due
                .into_iter()
                .map(due_from_v1)
                .collect::<Result<_, _>>()?,
            next_due: s.next_due.map(due_from_v1).transpose()?,
        },
        verdict: match r.verdict {
            VerdictV1::Reserved => StoreVerdict::Reserved,
            VerdictV1::NotReserved => StoreVerdict::NotReserved,
            VerdictV1::Invoiced { invoice_id, amount } => StoreVerdict::Invoiced {
                invoice_id: InvoiceId::parse_stored(&invoice_id)
                    .map_err(|_| corrupt("verdict invoice id"))?,
                amount,
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::buyer::{
        BuyerProfile, EarlyPaymentDiscount, ExternalRating, Financials, Grade, Insurance, Rating,
        RiskTier,
    };
    use crate::domain::ids::BuyerId;
    use crate::domain::reason::{Reason, ReasonCode};
    use proptest::prelude::*;

    fn eur() -> Currency {
        Currency::from_code("EUR").unwrap()
    }

    #[derive(Debug)]
    struct Spec {
        ids: (String, String),
        amount: i64,
        limits: (Option<i64>, i64, Option<i64>),
        percent: (i64, u32),
        day: i32,
        text: String,
        optional: (bool, bool, bool),
        due: Vec<(String, i32)>,
        next: Option<(String, i32)>,
        totals: (i64, i64, i64),
        verdict: u8,
        at: i64,
    }

    fn record(s: &Spec) -> DecisionRecord {
        let money = |m| Money::from_minor(eur(), m);
        let day = Date::from_days(s.day);
        let pct = Decimal::new(s.percent.0, s.percent.1);
        let profile = BuyerProfile {
            id: BuyerId::parse_stored(&s.ids.0).unwrap(),
            name: s.text.clone(),
            country_code: "DE".into(),
            currency: eur(),
            tier: RiskTier::New,
            manual_limit: s.limits.0.map(money),
            payment_terms_days: 30,
            early_payment_discount: s.optional.0.then_some(EarlyPaymentDiscount {
                percent: pct,
                days: 10,
            }),
            financials: s.optional.1.then(|| Financials {
                annual_revenue: Some(money(s.limits.1)),
                net_worth: s.limits.2.map(money),
                years_in_business: 7,
            }),
            external_rating: s.optional.2.then(|| ExternalRating {
                grade: Grade::new(3).unwrap(),
                legal_disputes: 1,
                insolvency: false,
            }),
            insurance: s.optional.2.then(|| Insurance {
                insured_limit: money(s.limits.1),
                indemnity_percent: pct,
            }),
        };
        let rating = Rating {
            score: 612,
            grade: Grade::new(4).unwrap(),
            probability_of_default: Decimal::new(123, 5),
            recommended_limit: money(s.limits.1),
            scored_limit: money(s.limits.1 / 2),
            insured_limit: money(s.limits.1 / 3),
            discretionary_limit: money(s.limits.1 / 4),
            rated_on: day,
            valid_until: day.add_days(365),
            reasons: vec![Reason::new(ReasonCode::ReleasedByAnalyst, s.text.clone())],
        };
        let item = |(id, day): &(String, i32)| DueItem {
            invoice_id: InvoiceId::parse_stored(id).unwrap(),
            due_date: Date::from_days(*day),
        };
        DecisionRecord {
            inputs: Arc::new(DecisionInputs {
                decision_id: s.ids.1.clone(),
                buyer: Arc::new(BuyerRecord {
                    profile,
                    rating,
                    adjustment: LimitAdjustment {
                        percent: s.percent.1 * 10,
                        on_time_streak: s.percent.1,
                    },
                }),
                order_id: OrderId::parse_stored(&s.ids.1).unwrap(),
                amount: money(s.amount),
                payment_terms_days: s.optional.1.then_some(14),
                today: day,
                policy_version: s.text.clone(),
                tier: TierPolicy {
                    tolerance_percent: pct,
                    max_order_percent_of_limit: s.optional.0.then_some(pct),
                    uninsured_outcome: Decision::Held,
                    insurance_expected: s.optional.1,
                    ladder: DunningLadder {
                        reminder_days_before_due: 5,
                        collection_days_overdue: 30,
                        legal_days_overdue: 90,
                    },
                    rerating_days: 365,
                    max_scored_limit: pct,
                    short_terms: s.optional.2.then_some(ShortTerms {
                        max_days: 15,
                        limit_percent: pct,
                    }),
                },
                expired_max_order_percent: pct,
                release: s.optional.2.then(|| AnalystRelease {
                    released_by: s.ids.0.clone(),
                    reason: s.text.clone(),
                }),
            }),
            decided_at_ms: s.at,
            snapshot: LedgerSnapshot {
                totals: ExposureTotals {
                    open_orders: s.totals.0,
                    open_invoices: s.totals.1,
                    disputed: s.totals.2,
                },
                oldest_due: s.due.iter().map(item).collect(),
                next_due: s.next.as_ref().map(item),
            },
            verdict: match s.verdict {
                0 => StoreVerdict::Reserved,
                1 => StoreVerdict::NotReserved,
                _ => StoreVerdict::Invoiced {
                    invoice_id: InvoiceId::parse_stored(&s.ids.0).unwrap(),
                    amount: s.amount,
                },
            },
        }
    }

    fn typical() -> Spec {
        Spec {
            ids: (
                "BUYER-000123".into(),
                "0193b3c4-5d6e-7f80-9a1b-2c3d4e5f3fff".into(),
            ),
            amount: 1_250_000,
            limits: (None, 50_000_000, Some(120_000_000)),
            percent: (25, 1),
            day: 20_400,
            text: "insured buyer, payment behaviour good: limit raised".into(),
            optional: (true, true, true),
            due: vec![
                ("INV-2024-0001".into(), 20_390),
                ("INV-2024-0002".into(), 20_395),
            ],
            next: Some(("INV-2024-0003".into(), 20_410)),
            totals: (3_000_000, 9_000_000, 0),
            verdict: 1,
            at: 1_762_000_000_123,
        }
    }

    /// The size docs/redis.md quotes for a record (the stream entry's fields add
    /// the decision id and the time again, a few dozen bytes).
    #[test]
    fn a_typical_record_size_is_measured() {
        let record = record(&typical());
        let packed = record_to_packed(&record);
        println!("bytes per decision record (packed): {}", packed.len());
        assert!(packed.len() < 2_000, "{}", packed.len());
        assert_eq!(record_from_packed(&packed).unwrap(), record);
    }

    /// Only a record whose order named terms needs the new reader: the others
    /// stay readable by builds from before terms existed.
    #[test]
    fn records_name_the_version_their_content_needs() {
        let mut plain = record(&typical());
        let inputs = Arc::make_mut(&mut plain.inputs);
        inputs.payment_terms_days = None;
        let json = inputs_to_json(inputs);
        assert!(json.starts_with("{\"v\":1,"), "{json}");
        inputs.payment_terms_days = Some(15);
        let json = inputs_to_json(inputs);
        assert!(json.starts_with("{\"v\":2,"), "{json}");
        assert_eq!(
            inputs_from_json(&json).unwrap().payment_terms_days,
            Some(15)
        );
    }

    #[test]
    fn a_snapshot_with_separators_in_invoice_ids_reads_back() {
        let snapshot = LedgerSnapshot {
            totals: ExposureTotals {
                open_orders: 9_007_199_254_740_991,
                open_invoices: 0,
                disputed: 0,
            },
            oldest_due: vec![DueItem {
                invoice_id: InvoiceId::parse_stored("a|1:b|").unwrap(),
                due_date: Date::from_days(-3),
            }],
            next_due: None,
        };
        let text = snapshot_to_text(&snapshot);
        assert_eq!(text, "9007199254740991|0|0|1|-3|6:a|1:b|");
        assert_eq!(snapshot_from_text(&text).unwrap(), snapshot);
    }

    #[test]
    fn corrupt_text_is_an_error_not_a_panic() {
        for text in ["", "1|2", "1|2|3|1|5|99:x", "1|2|3|0|x", "1|2|3|0|5|1:ab"] {
            assert!(snapshot_from_text(text).is_err(), "{text:?}");
        }
        for text in ["", "X", "I|", "I|x|inv", "I|5|"] {
            assert!(verdict_from_text(text).is_err(), "{text:?}");
        }
        assert!(inputs_from_json("{}").is_err());
        assert!(record_from_packed("12|3:abc").is_err());
        let other_version =
            inputs_to_json(&record(&typical()).inputs).replace("\"v\":2", "\"v\":9");
        assert!(
            inputs_from_json(&other_version)
                .unwrap_err()
                .contains("version 9")
        );
    }

    #[test]
    fn archived_records_round_trip_for_every_verdict_with_and_without_a_release() {
        for verdict in 0..3 {
            for release in [false, true] {
                let mut spec = typical();
                spec.verdict = verdict;
                spec.optional.2 = release;
                // Beyond 2^53: a float anywhere on the way would round it.
                spec.totals.1 = i64::MAX - 1;
                let record = record(&spec);
                let json = record_to_json(&record);
                let case = format!("verdict {verdict}, release {release}");
                assert_eq!(record_from_json(&json).unwrap(), record, "{case}");
                // And through text, as it comes back from a jsonb column.
                let text = serde_json::to_string(&json).unwrap();
                let reread: serde_json::Value = serde_json::from_str(&text).unwrap();
                assert_eq!(record_from_json(&reread).unwrap(), record, "{case}");

                // The shape an auditor's SQL reads.
                let replayed = record.replay();
                assert_eq!(json["v"], 1);
                assert_eq!(json["decision_id"], record.inputs.decision_id.as_str());
                assert_eq!(json["decided_at_ms"], record.decided_at_ms);
                let inputs: serde_json::Value =
                    serde_json::from_str(&inputs_to_json(&record.inputs)).unwrap();
                assert_eq!(json["inputs"], inputs, "{case}");
                assert_eq!(json["snapshot"]["open_invoices"], i64::MAX - 1);
                assert_eq!(
                    json["snapshot"]["oldest_due"][1]["invoice_id"],
                    "INV-2024-0002"
                );
                assert_eq!(json["snapshot"]["oldest_due"][1]["due_day"], 20_395);
                assert_eq!(json["snapshot"]["next_due"]["due_day"], 20_410);
                let kind = ["reserved", "not_reserved", "invoiced"][verdict as usize];
                assert_eq!(json["verdict"]["kind"], kind, "{case}");
                if verdict == 2 {
                    assert_eq!(json["verdict"]["amount"], spec.amount);
                    assert_eq!(json["verdict"]["invoice_id"], "BUYER-000123");
                } else {
                    assert_eq!(json["verdict"].as_object().unwrap().len(), 1, "{case}");
                }
                assert_eq!(json["decision"], decision_code(replayed.decision), "{case}");
                let reasons: Vec<(String, String)> = replayed
                    .reasons
                    .iter()
                    .map(|r| (r.code.as_str().to_owned(), r.message.clone()))
                    .collect();
                let archived: Vec<(String, String)> = json["reasons"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| {
                        let text = |k: &str| r[k].as_str().unwrap().to_owned();
                        (text("code"), text("message"))
                    })
                    .collect();
                assert_eq!(archived, reasons, "{case}");
                if release && verdict != 2 {
                    assert_eq!(json["decision"], "APPROVED");
                    assert_eq!(json["reasons"][0]["code"], "RELEASED_BY_ANALYST");
                }
                if verdict == 2 {
                    assert_eq!(json["decision"], "REFERRED");
                }
            }
        }
    }

    #[test]
    fn archived_records_of_another_version_or_missing_a_field_are_refused() {
        let json = record_to_json(&record(&typical()));
        let mut other = json.clone();
        other["v"] = 2.into();
        let error = record_from_json(&other).unwrap_err();
        assert!(error.contains("version 2"), "{error}");
        let mut unversioned = json.clone();
        unversioned.as_object_mut().unwrap().remove("v");
        let error = record_from_json(&unversioned).unwrap_err();
        assert!(error.contains("format version"), "{error}");
        for field in ["decided_at_ms", "inputs", "snapshot", "verdict"] {
            let mut missing = json.clone();
            missing.as_object_mut().unwrap().remove(field);
            let error = record_from_json(&missing).unwrap_err();
            assert!(
                error.contains(&format!("missing field `{field}`")),
                "{error}"
            );
        }
        let mut missing = json.clone();
        missing["snapshot"]
            .as_object_mut()
            .unwrap()
            .remove("disputed");
        let error = record_from_json(&missing).unwrap_err();
        assert!(error.contains("missing field `disputed`"), "{error}");
        // The inputs keep their own version.
        let mut inner = json.clone();
        inner["inputs"]["v"] = 7.into();
        let error = record_from_json(&inner).unwrap_err();
        assert!(error.contains("version 7"), "{error}");
        // Money as a float is refused, never rounded.
        let mut float = json;
        float["snapshot"]["open_orders"] = serde_json::json!(1.5);
        assert!(record_from_json(&float).is_err());
        assert!(record_from_json(&serde_json::json!([1])).is_err());
    }

    fn id() -> impl Strategy<Value = String> {
        "[ -~]{1,20}|[a-zé|:{}]{1,8}"
    }

    fn spec() -> impl Strategy<Value = Spec> {
        let money = 0i64..=9_007_199_254_740_991;
        (
            (id(), id()),
            money.clone(),
            (
                proptest::option::of(money.clone()),
                money.clone(),
                proptest::option::of(money.clone()),
            ),
            (-1_000_000i64..1_000_000, 0u32..8),
            (-50_000i32..100_000, ".{0,40}"),
            (any::<bool>(), any::<bool>(), any::<bool>()),
            (
                proptest::collection::vec((id(), -50_000i32..100_000), 0..4),
                proptest::option::of((id(), -50_000i32..100_000)),
            ),
            ((money.clone(), money.clone(), money), 0u8..3, any::<i64>()),
        )
            .prop_map(
                |(
                    ids,
                    amount,
                    limits,
                    percent,
                    (day, text),
                    optional,
                    (due, next),
                    (totals, verdict, at),
                )| Spec {
                    ids,
                    amount,
                    limits,
                    percent,
                    day,
                    text,
                    optional,
                    due,
                    next,
                    totals,
                    verdict,
                    at,
                },
            )
    }

    proptest! {
        #[test]
        fn every_record_survives_a_round_trip(s in spec()) {
            let record = record(&s);
            prop_assert_eq!(record_from_packed(&record_to_packed(&record)).unwrap(), record.clone());
            let parts = record_from_parts(
                &inputs_to_json(&record.inputs),
                &snapshot_to_text(&record.snapshot),
                &verdict_to_text(&record.verdict),
                record.decided_at_ms,
            );
            prop_assert_eq!(parts.unwrap(), record.clone());
            prop_assert_eq!(record_from_json(&record_to_json(&record)).unwrap(), record);
        }
    }
}
