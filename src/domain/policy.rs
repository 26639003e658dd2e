//! The credit policy: (buyer, ledger snapshot, order) → decision with reasons.
//!
//! One admission rule ([`admission`]) yields both the [`ReserveConditions`] a
//! store checks atomically while it reserves and the decision's explanation
//! ([`Admission::evaluate`]), which reads the same conditions back: a decision
//! can never say APPROVED for an order the store refused, or the reverse.

use super::buyer::{BuyerRecord, LimitSource, RiskTier};
use super::date::Date;
use super::exposure::{DunningLadder, ExposureTotals, LedgerSnapshot};
use super::money::{Currency, Money};
use super::reason::{Reason, ReasonCode};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// Outcomes ordered by severity: the most severe reason wins.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Hash)]
pub enum Decision {
    Approved,
    Held,
    Referred,
}

/// The rules of one risk tier.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TierPolicy {
    /// An excess over the limit of at most this share of the limit is HELD (it
    /// clears when payments free headroom); a larger one is REFERRED.
    pub tolerance_percent: Decimal,
    /// Largest single order as a share of the limit in effect (new buyers).
    pub max_order_percent_of_limit: Option<Decimal>,
    /// Outcome when insurable exposure would exceed the insured limit.
    pub uninsured_outcome: Decision,
    /// Whether a buyer of this tier without any insured limit counts as wholly uninsured.
    pub insurance_expected: bool,
    pub ladder: DunningLadder,
    /// How long a rating stays valid before re-rating is due.
    pub rerating_days: i32,
    /// Cap on the scored (uninsured) part of the recommended limit, in size units.
    pub max_scored_limit: Decimal,
    /// Shorter payment terms this tier allows above the limit (`None`: none).
    pub short_terms: Option<ShortTerms>,
}

/// Orders on short terms may take exposure a little above the limit: their
/// invoices fall due well inside the buyer's agreed terms, so the excess is
/// outstanding for a fraction of the time the limit was sized for (a limit is
/// sized on revenue per 30 days of terms, docs/scoring.md).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ShortTerms {
    /// Orders on at most this many days' terms (and shorter than the buyer's
    /// agreed terms) count against the raised ceiling.
    pub max_days: u32,
    /// The raised ceiling, as a share of the limit in effect (at least 100).
    pub limit_percent: Decimal,
}

/// How the recommended limit is sized (docs/scoring.md).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LimitSizing {
    pub net_worth_percent: Decimal,
    pub monthly_revenue_percent: Decimal,
    pub discretionary_percent_of_insured: Decimal,
}

/// How payment behaviour moves a scored limit.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct AdjustmentRule {
    /// Days after the due date a payment may arrive and still count as on time.
    pub late_after_days: i32,
    pub step_percent: u32,
    pub floor_percent: u32,
    pub restore_after_on_time_payments: u32,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Policy {
    pub version: String,
    pub core: TierPolicy,
    pub standard: TierPolicy,
    pub new: TierPolicy,
    pub watch: TierPolicy,
    pub limits: LimitSizing,
    pub adjustment: AdjustmentRule,
    /// While a rating is expired, orders above this share of the limit are referred.
    pub expired_max_order_percent: Decimal,
    /// Major units of a currency per size unit (scorecard bands, tier caps); 1 if absent.
    pub size_divisors: BTreeMap<String, Decimal>,
}

impl Policy {
    pub fn tier(&self, tier: RiskTier) -> &TierPolicy {
        match tier {
            RiskTier::Core => &self.core,
            RiskTier::Standard => &self.standard,
            RiskTier::New => &self.new,
            RiskTier::Watch => &self.watch,
        }
    }

    /// Converts an amount in major units into size units.
    pub fn size_units(&self, money: Money) -> Decimal {
        let divisor = self
            .size_divisors
            .get(money.currency().code())
            .copied()
            .unwrap_or(Decimal::ONE);
        money.to_decimal() / divisor
    }

    /// Converts size units back into an amount of `currency` (major units).
    pub fn from_size_units(&self, currency: Currency, units: Decimal) -> Decimal {
        units
            * self
                .size_divisors
                .get(currency.code())
                .copied()
                .unwrap_or(Decimal::ONE)
    }
}

/// A decision with everything the caller is told about it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Evaluation {
    pub decision: Decision,
    pub reasons: Vec<Reason>,
    pub limit: Money,
    pub limit_source: LimitSource,
    /// Exposure after the decision, in minor units (includes the order if approved).
    pub exposure_after: i64,
}

/// What a store must verify, atomically with the reservation, for an approval.
///
/// Produced only by [`admission`], and read back by [`Admission::evaluate`] through
/// the same three checks the store makes: the decision and the reservation cannot
/// disagree, because both are answers to these conditions.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ReserveConditions {
    /// A reason that needs no ledger data already rules approval out (insolvency,
    /// new-buyer cap, expired rating, tier rules: every non-exposure refusal).
    pub blocked: bool,
    /// Exposure (orders + invoices) after the order must not exceed this.
    pub max_total_after: i64,
    /// Insurable exposure after the order must not exceed this, when insurance binds.
    pub max_insurable_after: Option<i64>,
    /// Every undisputed open invoice must be due on or after this date.
    pub earliest_due_allowed: Date,
}

impl ReserveConditions {
    /// The store's one question: may `amount` be reserved on this ledger?
    pub fn admit(&self, snapshot: &LedgerSnapshot, amount: i64) -> bool {
        !self.blocked
            && self.within_limit(&snapshot.totals, amount)
            && self.within_cover(&snapshot.totals, amount)
            && self.none_past_collection(snapshot)
    }

    pub fn within_limit(&self, totals: &ExposureTotals, amount: i64) -> bool {
        totals.total().saturating_add(amount) <= self.max_total_after
    }

    pub fn within_cover(&self, totals: &ExposureTotals, amount: i64) -> bool {
        self.max_insurable_after
            .is_none_or(|max| totals.insurable().saturating_add(amount) <= max)
    }

    pub fn none_past_collection(&self, snapshot: &LedgerSnapshot) -> bool {
        snapshot
            .oldest_due
            .first()
            .is_none_or(|item| item.due_date >= self.earliest_due_allowed)
    }
}

/// Limits derived from the profile and the order alone.
pub(super) struct Bounds {
    pub(super) limit: Money,
    limit_source: LimitSource,
    /// The most exposure the order may take: the limit, or the raised ceiling
    /// of an order on the tier's short terms.
    ceiling: Money,
    /// Set when the ceiling is raised: the order's terms in days.
    pub(super) short_terms: Option<u32>,
    pub(super) max_order: Option<Money>,
    /// The insured limit and the outcome of exceeding it (`None`: no cover rule).
    insured_cap: Option<(Money, Decision)>,
}

/// The tier's short terms, when they apply to an order on `terms` days: at
/// most the tier's short terms, and shorter than the buyer's agreed terms.
pub(super) fn short_terms_for(
    policy: &TierPolicy,
    record: &BuyerRecord,
    terms: Option<u32>,
) -> Option<(u32, ShortTerms)> {
    let (days, short) = (terms?, policy.short_terms?);
    (days <= short.max_days && days < record.profile.payment_terms_days).then_some((days, short))
}

impl Bounds {
    /// How a reason names a raised ceiling ("" on the agreed terms).
    fn raised_ceiling(&self) -> String {
        match self.short_terms {
            Some(days) => format!(" (raised to {} for an order on net {days})", self.ceiling),
            None => String::new(),
        }
    }
}

fn bounds(policy: &TierPolicy, record: &BuyerRecord, terms: Option<u32>) -> Bounds {
    let (limit, limit_source) = record.limit_in_effect();
    let short = short_terms_for(policy, record, terms);
    let ceiling = short.map_or(limit, |(_, short)| {
        Money::from_decimal_floor(
            limit.currency(),
            limit.to_decimal() * short.limit_percent / Decimal::ONE_HUNDRED,
        )
    });
    let short_terms = short.map(|(days, _)| days);
    let max_order = policy.max_order_percent_of_limit.map(|percent| {
        Money::from_decimal_floor(
            limit.currency(),
            limit.to_decimal() * percent / Decimal::ONE_HUNDRED,
        )
    });
    let insured_limit = match &record.profile.insurance {
        Some(insurance) => Some(insurance.insured_limit),
        None if policy.insurance_expected => Some(Money::zero(limit.currency())),
        None => None,
    };
    let insured_cap = insured_limit.map(|cap| (cap, policy.uninsured_outcome));
    Bounds {
        limit,
        limit_source,
        ceiling,
        short_terms,
        max_order,
        insured_cap,
    }
}

/// The admission rule for one order: the findings that need no ledger, and the
/// conditions a store checks against the ledger while it reserves. The one place
/// that decides what may be approved; [`Admission::evaluate`] explains it.
pub struct Admission<'a> {
    pub(super) tier: &'a TierPolicy,
    pub(super) expired_max_order_percent: Decimal,
    pub(super) record: &'a BuyerRecord,
    pub(super) amount: Money,
    pub(super) today: Date,
    pub(super) bounds: Bounds,
    /// Insolvency, rating expiry, new-buyer cap: findings the ledger cannot change.
    pub(super) profile_findings: Vec<(Decision, Reason)>,
    pub conditions: ReserveConditions,
}

/// While the rating is expired, the largest order approved without re-rating.
fn rating_expired_cap(
    expired_max_order_percent: Decimal,
    record: &BuyerRecord,
    limit: Money,
    today: Date,
) -> Option<Money> {
    (today > record.rating.valid_until).then(|| {
        Money::from_decimal_floor(
            limit.currency(),
            limit.to_decimal() * expired_max_order_percent / Decimal::ONE_HUNDRED,
        )
    })
}

fn profile_findings(
    expired_max_order_percent: Decimal,
    record: &BuyerRecord,
    bounds: &Bounds,
    amount: Money,
    today: Date,
) -> Vec<(Decision, Reason)> {
    let mut findings = Vec::new();
    if record.profile.is_insolvent() {
        findings.push((
            Decision::Referred,
            Reason::new(
                ReasonCode::Insolvency,
                "the buyer is reported insolvent; only a credit analyst can release this order \
                 (correct external_rating.insolvency if the report is wrong)",
            ),
        ));
    }
    if let Some(cap) = rating_expired_cap(expired_max_order_percent, record, bounds.limit, today) {
        let valid_until = record.rating.valid_until;
        let finding = if amount.minor() > cap.minor() {
            (
                Decision::Referred,
                format!(
                    "the buyer's rating expired on {valid_until}; orders above {cap} need a re-rating \
                     (CreditDecisionService/ScoreBuyer); approvable up to {cap} until then"
                ),
            )
        } else {
            (
                Decision::Approved,
                format!("the buyer's rating expired on {valid_until}: re-rate it with ScoreBuyer"),
            )
        };
        findings.push((finding.0, Reason::new(ReasonCode::RatingExpired, finding.1)));
    }
    if let Some(max_order) = bounds.max_order.filter(|max| amount.minor() > max.minor()) {
        findings.push((
            Decision::Referred,
            Reason::new(
                ReasonCode::NewBuyerMaxOrder,
                format!(
                    "a {} buyer may order at most {max_order} at once; approvable up to {max_order}",
                    record.profile.tier.name()
                ),
            ),
        ));
    }
    findings
}

/// The admission rule for `amount` to `record` on `today`, on the buyer's
/// agreed terms.
pub fn admission<'a>(
    policy: &'a Policy,
    record: &'a BuyerRecord,
    amount: Money,
    today: Date,
) -> Admission<'a> {
    admission_on_terms(policy, record, amount, None, today)
}

/// The admission rule for an order on `terms` days (`None`: the agreed terms).
pub fn admission_on_terms<'a>(
    policy: &'a Policy,
    record: &'a BuyerRecord,
    amount: Money,
    terms: Option<u32>,
    today: Date,
) -> Admission<'a> {
    admission_under(
        policy.tier(record.profile.tier),
        policy.expired_max_order_percent,
        record,
        amount,
        terms,
        today,
    )
}

/// The admission rule under the two parts of a policy a decision reads: the
/// buyer's tier rules and the expired-rating cap. A decision record keeps exactly
/// these, so that it can be replayed without the policy file of its day.
pub fn admission_under<'a>(
    tier: &'a TierPolicy,
    expired_max_order_percent: Decimal,
    record: &'a BuyerRecord,
    amount: Money,
    terms: Option<u32>,
    today: Date,
) -> Admission<'a> {
    let bounds = bounds(tier, record, terms);
    let profile_findings =
        profile_findings(expired_max_order_percent, record, &bounds, amount, today);
    let conditions = ReserveConditions {
        // Any refusal the ledger cannot lift blocks the reservation: derived from
        // the findings themselves, so a new rule cannot be left out.
        blocked: profile_findings
            .iter()
            .any(|(decision, _)| *decision != Decision::Approved),
        max_total_after: bounds.ceiling.minor(),
        max_insurable_after: bounds
            .insured_cap
            .filter(|(_, outcome)| *outcome != Decision::Approved)
            .map(|(cap, _)| cap.minor()),
        earliest_due_allowed: today.add_days(1 - tier.ladder.collection_days_overdue),
    };
    Admission {
        tier,
        expired_max_order_percent,
        record,
        amount,
        today,
        bounds,
        profile_findings,
        conditions,
    }
}

/// What the store must check for this order (the admission rule's conditions).
pub fn reserve_conditions(
    policy: &Policy,
    record: &BuyerRecord,
    amount: Money,
    today: Date,
) -> ReserveConditions {
    admission(policy, record, amount, today).conditions
}

impl Admission<'_> {
    /// The limit in effect and where it comes from.
    pub fn limit(&self) -> (Money, LimitSource) {
        (self.bounds.limit, self.bounds.limit_source)
    }

    /// The decision on this order against a ledger snapshot, with its reasons.
    /// APPROVED exactly when `self.conditions.admit(snapshot, amount)`: every
    /// ledger finding below is emitted by the condition check it explains.
    pub fn evaluate(mut self, snapshot: &LedgerSnapshot) -> Evaluation {
        let (record, today, amount) = (self.record, self.today, self.amount);
        let conditions = &self.conditions;
        let tier_policy = self.tier;
        let bounds = &self.bounds;
        let currency = bounds.limit.currency();
        let money = |minor: i64| Money::from_minor(currency, minor);
        let totals = snapshot.totals;
        let total_after = totals.total().saturating_add(amount.minor());
        let mut findings = std::mem::take(&mut self.profile_findings);

        let ladder = tier_policy.ladder;
        if !conditions.none_past_collection(snapshot) {
            findings.push(overdue_finding(snapshot, ladder, today));
        }

        if !conditions.within_limit(&totals, amount.minor()) {
            findings.push(self.limit_finding(&totals, total_after));
        }

        if let Some((cap, outcome)) = bounds.insured_cap {
            let insurable_after = totals.insurable().saturating_add(amount.minor());
            // A binding cap is the condition itself; a non-binding one (outcome
            // APPROVED) only informs, with the same arithmetic.
            let over = if outcome == Decision::Approved {
                insurable_after > cap.minor()
            } else {
                !conditions.within_cover(&totals, amount.minor())
            };
            if over {
                let headroom = (cap.minor() - totals.insurable()).max(0);
                let message = if record.profile.insurance.is_none() {
                    format!(
                        "no insured limit on file and a {} buyer needs cover; add insurance.insured_limit",
                        record.profile.tier.name()
                    )
                } else {
                    format!(
                        "insurable exposure would reach {}, above the insured limit of {cap}; \
                         approvable up to {} within cover, or raise the insured limit",
                        money(insurable_after),
                        money(headroom)
                    )
                };
                findings.push((outcome, Reason::new(ReasonCode::UninsuredExposure, message)));
            }
        }

        let decision = findings
            .iter()
            .map(|(decision, _)| *decision)
            .max()
            .unwrap_or(Decision::Approved);
        findings.sort_by_key(|finding| std::cmp::Reverse(finding.0));
        let mut reasons: Vec<Reason> = findings.into_iter().map(|(_, reason)| reason).collect();

        let exposure_after = if decision == Decision::Approved {
            reasons.insert(
                0,
                Reason::new(
                    ReasonCode::WithinLimit,
                    format!(
                        "exposure {} within the {} credit limit of {}{}",
                        money(total_after),
                        bounds.limit_source.name(),
                        bounds.limit,
                        bounds.raised_ceiling()
                    ),
                ),
            );
            if let Some(next) = &snapshot.next_due {
                let days = next.due_date.days_since(today);
                if (0..=ladder.reminder_days_before_due).contains(&days) {
                    reasons.push(Reason::new(
                        ReasonCode::DueSoon,
                        format!(
                            "invoice {} falls due on {} ({days} days)",
                            next.invoice_id, next.due_date
                        ),
                    ));
                }
            }
            total_after
        } else {
            totals.total()
        };

        reasons.extend(record.limit_reasons());
        Evaluation {
            decision,
            reasons,
            limit: bounds.limit,
            limit_source: bounds.limit_source,
            exposure_after,
        }
    }

    fn limit_finding(&self, totals: &ExposureTotals, total_after: i64) -> (Decision, Reason) {
        let bounds = &self.bounds;
        let tier_policy = self.tier;
        let currency = bounds.limit.currency();
        let money = |minor: i64| Money::from_minor(currency, minor);
        let excess = total_after - bounds.ceiling.minor();
        let headroom = (bounds.ceiling.minor() - totals.total()).max(0);
        let tolerance = Money::from_decimal_floor(
            currency,
            bounds.limit.to_decimal() * tier_policy.tolerance_percent / Decimal::ONE_HUNDRED,
        );
        let decision = if excess <= tolerance.minor() {
            Decision::Held
        } else {
            Decision::Referred
        };
        let remedy = if bounds.limit.minor() <= 0 {
            match bounds.limit_source {
                LimitSource::Manual => {
                    "the manual credit limit is zero: raise buyer.credit_limit".to_owned()
                }
                LimitSource::Scored => {
                    "the scored limit is zero: set buyer.credit_limit or add financials and re-score"
                        .to_owned()
                }
            }
        } else if headroom > 0 {
            format!("approvable up to {}", money(headroom))
        } else {
            format!("approvable once payments free {}", money(excess))
        };
        (
            decision,
            Reason::new(
                ReasonCode::LimitExceeded,
                format!(
                    "exposure would reach {} against a {} credit limit of {}{}, {} over; {remedy}",
                    money(total_after),
                    bounds.limit_source.name(),
                    bounds.limit,
                    bounds.raised_ceiling(),
                    money(excess)
                ),
            ),
        )
    }
}

/// HELD at collection, REFERRED at legal action, naming the overdue invoices.
fn overdue_finding(
    snapshot: &LedgerSnapshot,
    ladder: DunningLadder,
    today: Date,
) -> (Decision, Reason) {
    let worst = snapshot.max_days_overdue(today);
    let legal = worst >= ladder.legal_days_overdue;
    let threshold = if legal {
        ladder.legal_days_overdue
    } else {
        ladder.collection_days_overdue
    };
    let ids: Vec<&str> = snapshot
        .oldest_due
        .iter()
        .filter(|item| today.days_since(item.due_date) >= threshold)
        .map(|item| item.invoice_id.as_str())
        .collect();
    let (decision, code, stage) = if legal {
        (Decision::Referred, ReasonCode::OverdueLegal, "legal action")
    } else {
        (Decision::Held, ReasonCode::OverdueCollection, "collection")
    };
    let list = ids.join(", ");
    let more =
        if ids.len() == snapshot.oldest_due.len() && ids.len() == super::exposure::DUNNING_SAMPLE {
            " (and possibly more)"
        } else {
            ""
        };
    (
        decision,
        Reason::new(
            code,
            format!(
                "invoice {} is {worst} days overdue ({stage} from {threshold} days); \
                 pay or dispute invoice {list}{more}",
                ids.first().copied().unwrap_or_default()
            ),
        ),
    )
}

/// Applies the policy to a buyer, its ledger snapshot and an order.
pub fn evaluate(
    policy: &Policy,
    record: &BuyerRecord,
    snapshot: &LedgerSnapshot,
    amount: Money,
    today: Date,
) -> Evaluation {
    admission(policy, record, amount, today).evaluate(snapshot)
}

/// The referral of an order the ERP invoiced before (or without) a check: it
/// already counts as a receivable, so a credit analyst decides on it.
pub fn already_invoiced(order_id: &str, invoice_id: &str, invoiced: Money) -> Reason {
    Reason::new(
        ReasonCode::AlreadyInvoiced,
        format!(
            "order {order_id} was invoiced without an approval, on invoice {invoice_id} for \
             {invoiced}; it already counts in exposure and nothing was reserved: a credit \
             analyst decides on it"
        ),
    )
}

/// The decision for a buyer the ledger has never seen.
pub fn unknown_buyer(buyer_id: &str) -> Reason {
    Reason::new(
        ReasonCode::UnknownBuyer,
        format!("buyer {buyer_id} is not on file; add it with LedgerService.UpsertBuyer first"),
    )
}

#[cfg(test)]
#[path = "policy_tests.rs"]
pub(super) mod tests;
