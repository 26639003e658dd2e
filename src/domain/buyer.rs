//! A buyer's profile as the ERP describes it, and its stored rating.

use super::date::Date;
use super::ids::BuyerId;
use super::money::{Currency, Money};
use super::policy::AdjustmentRule;
use super::reason::{Reason, ReasonCode};
use rust_decimal::Decimal;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum RiskTier {
    /// Long-standing, strategic buyers: tolerance over limit, uninsured excess allowed.
    Core,
    /// The default policy.
    Standard,
    /// No payment history yet: maximum order value, no tolerance, cover expected.
    New,
    /// Deteriorating buyers: no tolerance, holds at the first overdue day.
    Watch,
}

impl RiskTier {
    pub fn name(&self) -> &'static str {
        match self {
            RiskTier::Core => "core",
            RiskTier::Standard => "standard",
            RiskTier::New => "new",
            RiskTier::Watch => "watch",
        }
    }
}

/// External grade on the trade-credit-insurer scale: 1 exceptional … 10 failure.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Grade(u8);

impl Grade {
    pub fn new(value: i64) -> Option<Grade> {
        (1..=10).contains(&value).then_some(Grade(value as u8))
    }

    pub fn value(&self) -> u8 {
        self.0
    }
}

#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Financials {
    pub annual_revenue: Option<Money>,
    /// Book equity; negative for over-indebted companies.
    pub net_worth: Option<Money>,
    pub years_in_business: u32,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ExternalRating {
    pub grade: Grade,
    pub legal_disputes: u32,
    pub insolvency: bool,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Insurance {
    pub insured_limit: Money,
    /// Share of an insured loss paid out, 0–100.
    pub indemnity_percent: Decimal,
}

/// An early-payment discount, e.g. 2% within 10 days ("2/10 net 30").
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct EarlyPaymentDiscount {
    pub percent: Decimal,
    pub days: u32,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BuyerProfile {
    pub id: BuyerId,
    pub name: String,
    pub country_code: String,
    pub currency: Currency,
    pub tier: RiskTier,
    /// A limit set by a credit analyst; overrides the scored limit.
    pub manual_limit: Option<Money>,
    /// Net payment terms in days.
    pub payment_terms_days: u32,
    pub early_payment_discount: Option<EarlyPaymentDiscount>,
    pub financials: Option<Financials>,
    pub external_rating: Option<ExternalRating>,
    pub insurance: Option<Insurance>,
}

impl BuyerProfile {
    pub fn is_insolvent(&self) -> bool {
        self.external_rating.as_ref().is_some_and(|r| r.insolvency)
    }
}

/// The outcome of a scoring run, stored with the buyer so that a credit check
/// reads the recommended limit without re-scoring.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Rating {
    pub score: u16,
    pub grade: Grade,
    pub probability_of_default: Decimal,
    /// Insured limit + discretionary part for insured buyers, else the scored limit.
    pub recommended_limit: Money,
    /// Size × grade, capped by tier: what the seller would risk on its own.
    pub scored_limit: Money,
    /// The insured limit counted into the recommendation (zero without insurance).
    pub insured_limit: Money,
    /// The uninsured part granted on top of the insured limit.
    pub discretionary_limit: Money,
    pub rated_on: Date,
    pub valid_until: Date,
    pub reasons: Vec<Reason>,
}

/// How far payment behaviour has moved the scored limit: a share of the
/// recommended limit, lowered by late payments, restored by runs of on-time ones.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LimitAdjustment {
    pub percent: u32,
    pub on_time_streak: u32,
}

impl Default for LimitAdjustment {
    fn default() -> LimitAdjustment {
        LimitAdjustment {
            percent: 100,
            on_time_streak: 0,
        }
    }
}

impl LimitAdjustment {
    /// The adjustment after one more payment, `days_beyond_terms` after its due date.
    pub fn after_payment(self, rule: &AdjustmentRule, days_beyond_terms: i32) -> LimitAdjustment {
        if days_beyond_terms > rule.late_after_days {
            return LimitAdjustment {
                // Down one step, not below the floor, never up (a stricter policy
                // file does not raise a limit that is already lower).
                percent: self
                    .percent
                    .saturating_sub(rule.step_percent)
                    .max(rule.floor_percent)
                    .min(self.percent),
                on_time_streak: 0,
            };
        }
        let streak = self.on_time_streak + 1;
        if streak >= rule.restore_after_on_time_payments && self.percent < 100 {
            LimitAdjustment {
                percent: (self.percent + rule.step_percent).min(100),
                on_time_streak: 0,
            }
        } else {
            LimitAdjustment {
                percent: self.percent,
                on_time_streak: streak.min(rule.restore_after_on_time_payments),
            }
        }
    }
}

/// A profile with its current rating and limit adjustment, as the store keeps it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BuyerRecord {
    pub profile: BuyerProfile,
    pub rating: Rating,
    pub adjustment: LimitAdjustment,
}

/// Where the limit in effect came from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LimitSource {
    Manual,
    Scored,
}

impl LimitSource {
    pub fn name(&self) -> &'static str {
        match self {
            LimitSource::Manual => "manual",
            LimitSource::Scored => "scored",
        }
    }
}

impl BuyerRecord {
    /// Manual limit when set (never moved by behaviour), else the recommended
    /// limit scaled by the payment-behaviour adjustment, rounded down.
    pub fn limit_in_effect(&self) -> (Money, LimitSource) {
        match self.profile.manual_limit {
            Some(limit) => (limit, LimitSource::Manual),
            None => {
                let recommended = self.rating.recommended_limit;
                let scaled = recommended.to_decimal() * Decimal::from(self.adjustment.percent)
                    / Decimal::ONE_HUNDRED;
                (
                    Money::from_decimal_floor(recommended.currency(), scaled),
                    LimitSource::Scored,
                )
            }
        }
    }

    /// Why the limit in effect differs from the recommendation, if it does.
    pub fn limit_reasons(&self) -> Vec<Reason> {
        let (limit, source) = self.limit_in_effect();
        if source == LimitSource::Manual || self.adjustment.percent >= 100 {
            return Vec::new();
        }
        vec![Reason::new(
            ReasonCode::LimitReducedLatePayment,
            format!(
                "scored limit {} reduced to {limit} ({}%) after late payments; on-time payments restore it step by step",
                self.rating.recommended_limit, self.adjustment.percent
            ),
        )]
    }
}
