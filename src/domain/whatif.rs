//! Policy what-if: recorded decisions replayed under a candidate policy, and
//! what would have changed (docs/policy.md, "What-if").
//!
//! Each record is replayed against its own recorded inputs and ledger snapshot
//! with the one admission rule ([`DecisionRecord::replay_under`]): a first-order
//! effect, later decisions are not re-chained. The report is a fold whose every
//! part is a sum or a bounded, totally ordered selection, so it does not depend
//! on the order records are read in (the archive pages by id, a store by slot)
//! and the same records always give the same report.

use super::decision_record::{DecisionRecord, StoreVerdict};
use super::money::{Currency, Money};
use super::policy::{Decision, Policy};
use super::reason::{Reason, ReasonCode};
use rust_decimal::{Decimal, RoundingStrategy};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

/// How many of the largest changed decisions a report lists.
pub const LARGEST_CHANGES: usize = 10;

/// An outcome before and after: `(recorded, candidate)`.
pub type Transition = (Decision, Decision);

/// One decision the candidate would have answered differently.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Change {
    pub decision_id: String,
    pub buyer_id: String,
    pub order_id: String,
    pub tier: &'static str,
    pub amount: Money,
    pub before: Decision,
    pub after: Decision,
    pub reasons_before: Vec<ReasonCode>,
    pub reasons_after: Vec<ReasonCode>,
    /// The reason code the transition is counted under (see [`deciding_code`]).
    pub code: ReasonCode,
    /// Exact, in major units; rounded only when shown.
    pub expected_loss: Decimal,
}

/// The exposure a change lets through or stops in one currency, with the
/// expected loss of that exposure (exact, in major units).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Flow {
    pub orders: u64,
    pub amount_minor: i64,
    pub expected_loss: Decimal,
}

#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct CurrencyEffect {
    /// Orders the candidate approves that were not approved.
    pub let_through: Flow,
    /// Approved orders the candidate would not approve.
    pub stopped: Flow,
}

/// What a candidate policy would have done to a set of recorded decisions.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct WhatIfReport {
    pub policy_version: String,
    /// Every record read (releases and invoiced orders included).
    pub decisions: u64,
    pub changed: u64,
    /// Analyst releases: kept as approved whatever the candidate says.
    pub released: u64,
    /// Orders invoiced before any approval: referred under any policy.
    pub invoiced: u64,
    /// Records per policy version they were decided under.
    pub policy_versions: BTreeMap<String, u64>,
    pub by_tier: BTreeMap<(&'static str, Transition), u64>,
    pub by_reason: BTreeMap<(&'static str, Transition), u64>,
    /// Keyed by ISO 4217 code: amounts of different currencies are never added.
    pub by_currency: BTreeMap<String, CurrencyEffect>,
    /// Largest amount first (in major units, then by decision id).
    pub largest: Vec<Change>,
}

/// Rank of a change among the largest: amount in major units descending, then
/// decision id; a total order, so ties never depend on reading order.
type Rank = (Reverse<Decimal>, String);

/// Folds records into a [`WhatIfReport`].
pub struct WhatIf<'a> {
    candidate: &'a Policy,
    report: WhatIfReport,
    largest: BTreeMap<Rank, Change>,
}

impl<'a> WhatIf<'a> {
    pub fn new(candidate: &'a Policy) -> WhatIf<'a> {
        WhatIf {
            candidate,
            report: WhatIfReport {
                policy_version: candidate.version.clone(),
                decisions: 0,
                changed: 0,
                released: 0,
                invoiced: 0,
                policy_versions: BTreeMap::new(),
                by_tier: BTreeMap::new(),
                by_reason: BTreeMap::new(),
                by_currency: BTreeMap::new(),
                largest: Vec::new(),
            },
            largest: BTreeMap::new(),
        }
    }

    pub fn add(&mut self, record: &DecisionRecord) {
        let report = &mut self.report;
        report.decisions += 1;
        let inputs = &record.inputs;
        *report
            .policy_versions
            .entry(inputs.policy_version.clone())
            .or_default() += 1;
        if inputs.release.is_some() {
            report.released += 1;
            return;
        }
        if matches!(record.verdict, StoreVerdict::Invoiced { .. }) {
            report.invoiced += 1;
            return;
        }
        let tier = inputs.buyer.profile.tier;
        let recorded = record.replay();
        let candidate = record.replay_under(
            self.candidate.tier(tier),
            self.candidate.expired_max_order_percent,
        );
        let (before, after) = (recorded.decision, candidate.decision);
        if before == after {
            return;
        }
        report.changed += 1;
        let transition = (before, after);
        let code = deciding_code(&recorded.reasons, after, &candidate.reasons);
        *report.by_tier.entry((tier.name(), transition)).or_default() += 1;
        *report
            .by_reason
            .entry((code.as_str(), transition))
            .or_default() += 1;
        let loss = expected_loss(record);
        let currency = inputs.amount.currency();
        let effect = report
            .by_currency
            .entry(currency.code().to_owned())
            .or_default();
        let flow = if after == Decision::Approved {
            Some(&mut effect.let_through)
        } else if before == Decision::Approved {
            Some(&mut effect.stopped)
        } else {
            // Held ↔ referred: neither lets anything through nor stops it.
            None
        };
        if let Some(flow) = flow {
            flow.orders += 1;
            flow.amount_minor = flow.amount_minor.saturating_add(inputs.amount.minor());
            flow.expected_loss += loss;
        }
        let change = Change {
            decision_id: inputs.decision_id.clone(),
            buyer_id: inputs.buyer.profile.id.to_string(),
            order_id: inputs.order_id.to_string(),
            tier: tier.name(),
            amount: inputs.amount,
            before,
            after,
            reasons_before: codes(&recorded.reasons),
            reasons_after: codes(&candidate.reasons),
            code,
            expected_loss: loss,
        };
        self.largest.insert(
            (
                Reverse(inputs.amount.to_decimal()),
                inputs.decision_id.clone(),
            ),
            change,
        );
        if self.largest.len() > LARGEST_CHANGES {
            self.largest.pop_last();
        }
    }

    pub fn finish(mut self) -> WhatIfReport {
        self.report.largest = self.largest.into_values().collect();
        self.report
    }
}

/// The report of `records` under `candidate`.
pub fn what_if<'r>(
    candidate: &Policy,
    records: impl IntoIterator<Item = &'r DecisionRecord>,
) -> WhatIfReport {
    let mut fold = WhatIf::new(candidate);
    for record in records {
        fold.add(record);
    }
    fold.finish()
}

fn codes(reasons: &[Reason]) -> Vec<ReasonCode> {
    reasons.iter().map(|reason| reason.code).collect()
}

/// The reason a transition is counted under: the candidate's first (most
/// severe) reason when it does not approve, else the recorded decision's — the
/// reason that stopped the order, or that no longer does.
fn deciding_code(recorded: &[Reason], after: Decision, candidate: &[Reason]) -> ReasonCode {
    let reasons = if after == Decision::Approved {
        recorded
    } else {
        candidate
    };
    reasons
        .first()
        .map_or(ReasonCode::WithinLimit, |reason| reason.code)
}

/// Expected loss of the order's exposure, in major units, exact:
/// PD × (uninsured part + insured part × (1 − indemnity %)). The insured part is
/// the share of the order within the insured limit's headroom at the recorded
/// snapshot (insured limit − insurable exposure before the order, at least
/// zero, at most the order); without insurance the whole order is uninsured.
pub fn expected_loss(record: &DecisionRecord) -> Decimal {
    let inputs = &record.inputs;
    let buyer = &inputs.buyer;
    let amount = inputs.amount.minor();
    let (insured_minor, indemnity) = match &buyer.profile.insurance {
        Some(insurance) => {
            let headroom =
                (insurance.insured_limit.minor() - record.snapshot.totals.insurable()).max(0);
            (
                headroom.min(amount).max(0),
                insurance.indemnity_percent / Decimal::ONE_HUNDRED,
            )
        }
        None => (0, Decimal::ZERO),
    };
    let currency = inputs.amount.currency();
    let major = |minor: i64| Money::from_minor(currency, minor).to_decimal();
    let insured = major(insured_minor);
    let uninsured = major(amount - insured_minor);
    buyer.rating.probability_of_default * (uninsured + insured * (Decimal::ONE - indemnity))
}

/// An exact amount in major units, rounded to the currency's minor units half
/// away from zero: the one rounding a report applies.
pub fn rounded(currency: Currency, value: Decimal) -> Money {
    let exponent = currency.exponent();
    let value = value.round_dp_with_strategy(exponent, RoundingStrategy::MidpointAwayFromZero);
    Money::from_decimal_floor(currency, value)
}

impl WhatIfReport {
    /// Whether no decision changed (replaying the policy in force must give this).
    pub fn unchanged(&self) -> bool {
        self.changed == 0
    }

    /// The distinct transitions the report counted.
    pub fn transitions(&self) -> BTreeSet<Transition> {
        self.by_tier.keys().map(|(_, t)| *t).collect()
    }
}

#[cfg(test)]
#[path = "whatif_tests.rs"]
mod tests;
