//! A decision as it is kept: everything it was computed from, so that it can be
//! explained (and replayed) months later without the policy file, the buyer
//! profile or the ledger of its day.
//!
//! The record holds inputs, not prose: the decision and its reasons are what
//! [`DecisionRecord::replay`] derives from them with the one admission rule
//! ([`super::policy::admission_under`]). A store writes the record in the same
//! atomic step as the reservation, when the reasons are not known yet; the store
//! adds only what it saw (the ledger snapshot) and did (reserved or not).

use super::buyer::{BuyerRecord, LimitSource};
use super::counter_offer::CounterOffer;
use super::date::Date;
use super::exposure::LedgerSnapshot;
use super::ids::{InvoiceId, OrderId};
use super::money::Money;
use super::policy::{self, Decision, Policy, TierPolicy};
use super::reason::{Reason, ReasonCode};
use rust_decimal::Decimal;
use std::sync::Arc;

/// Who released an order over its reasons, and why (CreditReviewService.ReleaseOrder).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AnalystRelease {
    pub released_by: String,
    pub reason: String,
}

/// What the service knows before it asks the store: the order, the buyer record
/// it read and the parts of the policy a decision applies.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DecisionInputs {
    pub decision_id: String,
    pub buyer: Arc<BuyerRecord>,
    pub order_id: OrderId,
    pub amount: Money,
    /// The order's payment terms in days when the caller named shorter ones
    /// (`None`: the buyer's agreed terms).
    pub payment_terms_days: Option<u32>,
    /// The business date the decision is made for.
    pub today: Date,
    pub policy_version: String,
    /// The rules of the buyer's tier, as the policy in force had them.
    pub tier: TierPolicy,
    pub expired_max_order_percent: Decimal,
    /// Set for an analyst's release.
    pub release: Option<AnalystRelease>,
}

/// What the store did with the order.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum StoreVerdict {
    /// The conditions held: the amount was reserved (a release: reserved regardless).
    Reserved,
    /// The conditions failed: nothing reserved.
    NotReserved,
    /// The order had been invoiced without an approval: nothing reserved.
    Invoiced { invoice_id: InvoiceId, amount: i64 },
}

/// A decision with its inputs, as a store keeps it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DecisionRecord {
    /// Shared with the request that carried them: keeping a record copies nothing.
    pub inputs: Arc<DecisionInputs>,
    /// On the store's clock (Redis TIME on Redis), milliseconds since the epoch.
    pub decided_at_ms: i64,
    /// The ledger as the store read it, before the decision.
    pub snapshot: LedgerSnapshot,
    pub verdict: StoreVerdict,
}

/// A decision derived from its record.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Replayed {
    pub decision: Decision,
    pub reasons: Vec<Reason>,
    pub limit: Money,
    pub limit_source: LimitSource,
    /// Exposure after the decision (with the order when it was reserved).
    pub exposure_after: i64,
    /// The counter-offer the refusal carried (none on an approval).
    pub counter_offer: Option<CounterOffer>,
}

impl DecisionInputs {
    /// The inputs of a decision on `amount` of `order_id` for `buyer` under
    /// `policy` on `today`: the tier rules and expired-rating cap are copied out of
    /// the policy, so the record needs no policy file to be replayed.
    pub fn new(
        policy: &Policy,
        decision_id: String,
        buyer: Arc<BuyerRecord>,
        order_id: OrderId,
        amount: Money,
        today: Date,
        release: Option<AnalystRelease>,
    ) -> DecisionInputs {
        DecisionInputs {
            decision_id,
            tier: policy.tier(buyer.profile.tier).clone(),
            buyer,
            order_id,
            amount,
            payment_terms_days: None,
            today,
            policy_version: policy.version.clone(),
            expired_max_order_percent: policy.expired_max_order_percent,
            release,
        }
    }

    /// The same inputs for an order on `terms` days.
    pub fn on_terms(self, payment_terms_days: Option<u32>) -> DecisionInputs {
        DecisionInputs {
            payment_terms_days,
            ..self
        }
    }

    /// The reason an analyst's release carries first.
    fn release_reason(release: &AnalystRelease) -> Reason {
        Reason::new(
            ReasonCode::ReleasedByAnalyst,
            format!(
                "released by {} despite the reasons below: {}",
                release.released_by, release.reason
            ),
        )
    }
}

impl DecisionRecord {
    /// The decision and reasons the service answered, derived again from the
    /// record: the admission rule under the record's own tier rules.
    pub fn replay(&self) -> Replayed {
        self.replay_under(&self.inputs.tier, self.inputs.expired_max_order_percent)
    }

    /// The decision the record's inputs and snapshot get under other tier rules
    /// and expired-rating cap (a candidate policy's, for a what-if): the same
    /// rule as [`DecisionRecord::replay`], so replaying the rules in force
    /// reproduces the decision. A release stays a release, an invoiced order
    /// stays referred: neither was the rule's to decide.
    pub fn replay_under(&self, tier: &TierPolicy, expired_max_order_percent: Decimal) -> Replayed {
        let inputs = &self.inputs;
        let admission = policy::admission_under(
            tier,
            expired_max_order_percent,
            &inputs.buyer,
            inputs.amount,
            inputs.payment_terms_days,
            inputs.today,
        );
        let (limit, limit_source) = admission.limit();
        let total = self.snapshot.totals.total();
        if let StoreVerdict::Invoiced { invoice_id, amount } = &self.verdict {
            return Replayed {
                decision: Decision::Referred,
                reasons: vec![policy::already_invoiced(
                    inputs.order_id.as_str(),
                    invoice_id.as_str(),
                    Money::from_minor(inputs.amount.currency(), *amount),
                )],
                limit,
                limit_source,
                exposure_after: total,
                counter_offer: None,
            };
        }
        // A broken offer was not made live either (the service logged it then).
        let counter_offer = if self.waits_for_review() {
            admission.counter_offer(&self.snapshot).ok().flatten()
        } else {
            None
        };
        let evaluation = admission.evaluate(&self.snapshot);
        match &inputs.release {
            None => Replayed {
                decision: evaluation.decision,
                reasons: evaluation.reasons,
                limit,
                limit_source,
                exposure_after: evaluation.exposure_after,
                counter_offer,
            },
            Some(release) => {
                let mut reasons = vec![DecisionInputs::release_reason(release)];
                reasons.extend(evaluation.reasons);
                Replayed {
                    decision: Decision::Approved,
                    reasons,
                    limit,
                    limit_source,
                    exposure_after: total.saturating_add(inputs.amount.minor()),
                    counter_offer: None,
                }
            }
        }
    }

    /// Whether the record says the order was refused (HELD or REFERRED), the
    /// orders the credit team reviews.
    pub fn waits_for_review(&self) -> bool {
        self.verdict == StoreVerdict::NotReserved && self.inputs.release.is_none()
    }
}

/// A plain record for unit tests of what carries records around (outboxes,
/// queues) and does not look inside them.
#[cfg(test)]
pub fn example_record(decision_id: &str) -> DecisionRecord {
    use super::buyer::{BuyerProfile, Grade, LimitAdjustment, Rating, RiskTier};
    use super::exposure::ExposureTotals;
    use super::ids::BuyerId;
    use super::money::Currency;
    let eur = Currency::from_code("EUR").expect("EUR");
    let money = |minor| Money::from_minor(eur, minor);
    let today = Date::parse("2026-12-03").expect("a date");
    let policy = Policy::default();
    let profile = BuyerProfile {
        id: BuyerId::parse("ACME").expect("an id"),
        name: "Acme".into(),
        country_code: "DE".into(),
        currency: eur,
        tier: RiskTier::Standard,
        manual_limit: Some(money(1_000_000)),
        payment_terms_days: 30,
        early_payment_discount: None,
        financials: None,
        external_rating: None,
        insurance: None,
    };
    let rating = Rating {
        score: 600,
        grade: Grade::new(4).expect("a grade"),
        probability_of_default: Decimal::new(1, 2),
        recommended_limit: money(1_000_000),
        scored_limit: money(1_000_000),
        insured_limit: money(0),
        discretionary_limit: money(1_000_000),
        rated_on: today,
        valid_until: today.add_days(365),
        reasons: Vec::new(),
    };
    let buyer = Arc::new(BuyerRecord {
        profile,
        rating,
        adjustment: LimitAdjustment {
            percent: 100,
            on_time_streak: 0,
        },
    });
    DecisionRecord {
        inputs: Arc::new(DecisionInputs::new(
            &policy,
            decision_id.to_owned(),
            buyer,
            OrderId::parse("SO-1").expect("an order id"),
            money(10_000),
            today,
            None,
        )),
        decided_at_ms: 1_796_000_000_000,
        snapshot: LedgerSnapshot {
            totals: ExposureTotals::default(),
            oldest_due: Vec::new(),
            next_due: None,
        },
        verdict: StoreVerdict::Reserved,
    }
}
