//! A buyer's profile as the ERP describes it, and its stored rating.

use super::date::Date;
use super::ids::BuyerId;
use super::money::{Currency, Money};
use super::reason::Reason;
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

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BuyerProfile {
    pub id: BuyerId,
    pub name: String,
    pub country_code: String,
    pub currency: Currency,
    pub tier: RiskTier,
    /// A limit set by a credit analyst; overrides the scored limit.
    pub manual_limit: Option<Money>,
    pub payment_terms_days: u32,
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
    pub recommended_limit: Money,
    pub rated_on: Date,
    pub valid_until: Date,
    pub reasons: Vec<Reason>,
}

/// A profile with its current rating, as the store keeps it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BuyerRecord {
    pub profile: BuyerProfile,
    pub rating: Rating,
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
    /// Manual limit when set, else the recommended (scored) limit.
    pub fn limit_in_effect(&self) -> (Money, LimitSource) {
        match self.profile.manual_limit {
            Some(limit) => (limit, LimitSource::Manual),
            None => (self.rating.recommended_limit, LimitSource::Scored),
        }
    }
}
