//! The stored form of a buyer profile and rating: explicit serde structs, so the
//! domain stays free of storage concerns and the format is visible in one place.

use crate::domain::buyer::{
    BuyerProfile, EarlyPaymentDiscount, ExternalRating, Financials, Grade, Insurance, Rating,
    RiskTier,
};
use crate::domain::date::Date;
use crate::domain::ids::BuyerId;
use crate::domain::money::{Currency, Money};
use crate::domain::reason::{Reason, ReasonCode};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

#[derive(Serialize, Deserialize)]
pub struct ProfileV1 {
    id: String,
    name: String,
    country: String,
    currency: String,
    tier: String,
    manual_limit: Option<i64>,
    terms_days: u32,
    revenue: Option<i64>,
    net_worth: Option<i64>,
    years: Option<u32>,
    grade: Option<u8>,
    legal_disputes: u32,
    insolvency: bool,
    insured_limit: Option<i64>,
    indemnity_percent: Option<String>,
    discount_percent: Option<String>,
    discount_days: Option<u32>,
}

#[derive(Serialize, Deserialize)]
pub struct RatingV1 {
    score: u16,
    grade: u8,
    pd: String,
    recommended: i64,
    scored: i64,
    insured: i64,
    discretionary: i64,
    rated_on: i32,
    valid_until: i32,
    reasons: Vec<(String, String)>,
}

fn corrupt(what: &str) -> String {
    format!("stored buyer record has an invalid {what}")
}

pub fn profile_to_json(p: &BuyerProfile) -> String {
    serde_json::to_string(&profile_v1(p)).expect("profile serialises")
}

/// The profile's stored form, also nested in a decision record
/// (crate::store::decision_format).
pub(crate) fn profile_v1(p: &BuyerProfile) -> ProfileV1 {
    ProfileV1 {
        id: p.id.to_string(),
        name: p.name.clone(),
        country: p.country_code.clone(),
        currency: p.currency.code().to_owned(),
        tier: p.tier.name().to_owned(),
        manual_limit: p.manual_limit.map(|m| m.minor()),
        terms_days: p.payment_terms_days,
        revenue: p
            .financials
            .as_ref()
            .and_then(|f| f.annual_revenue.map(|m| m.minor())),
        net_worth: p
            .financials
            .as_ref()
            .and_then(|f| f.net_worth.map(|m| m.minor())),
        years: p.financials.as_ref().map(|f| f.years_in_business),
        grade: p.external_rating.as_ref().map(|r| r.grade.value()),
        legal_disputes: p.external_rating.as_ref().map_or(0, |r| r.legal_disputes),
        insolvency: p.external_rating.as_ref().is_some_and(|r| r.insolvency),
        insured_limit: p.insurance.as_ref().map(|i| i.insured_limit.minor()),
        indemnity_percent: p
            .insurance
            .as_ref()
            .map(|i| i.indemnity_percent.to_string()),
        discount_percent: p
            .early_payment_discount
            .as_ref()
            .map(|d| d.percent.to_string()),
        discount_days: p.early_payment_discount.as_ref().map(|d| d.days),
    }
}

pub fn profile_from_json(json: &str) -> Result<BuyerProfile, String> {
    let r: ProfileV1 =
        serde_json::from_str(json).map_err(|e| corrupt(&format!("profile ({e})")))?;
    profile_from_v1(r)
}

pub(crate) fn profile_from_v1(r: ProfileV1) -> Result<BuyerProfile, String> {
    let currency = Currency::from_code(&r.currency).ok_or_else(|| corrupt("currency"))?;
    let money = |minor: i64| Money::from_minor(currency, minor);
    let tier = match r.tier.as_str() {
        "core" => RiskTier::Core,
        "standard" => RiskTier::Standard,
        "new" => RiskTier::New,
        "watch" => RiskTier::Watch,
        _ => return Err(corrupt("tier")),
    };
    let external_rating = match r.grade {
        Some(grade) => Some(ExternalRating {
            grade: Grade::new(i64::from(grade)).ok_or_else(|| corrupt("grade"))?,
            legal_disputes: r.legal_disputes,
            insolvency: r.insolvency,
        }),
        None => None,
    };
    let insurance = match (r.insured_limit, r.indemnity_percent) {
        (Some(limit), Some(percent)) => Some(Insurance {
            insured_limit: money(limit),
            indemnity_percent: Decimal::from_str(&percent).map_err(|_| corrupt("indemnity"))?,
        }),
        _ => None,
    };
    let early_payment_discount = match (r.discount_percent, r.discount_days) {
        (Some(percent), Some(days)) => Some(EarlyPaymentDiscount {
            percent: Decimal::from_str(&percent).map_err(|_| corrupt("discount"))?,
            days,
        }),
        _ => None,
    };
    Ok(BuyerProfile {
        id: BuyerId::parse_stored(&r.id).map_err(|_| corrupt("id"))?,
        name: r.name,
        country_code: r.country,
        currency,
        tier,
        manual_limit: r.manual_limit.map(money),
        payment_terms_days: r.terms_days,
        early_payment_discount,
        financials: r.years.map(|years| Financials {
            annual_revenue: r.revenue.map(money),
            net_worth: r.net_worth.map(money),
            years_in_business: years,
        }),
        external_rating,
        insurance,
    })
}

pub fn rating_to_json(rating: &Rating) -> String {
    serde_json::to_string(&rating_v1(rating)).expect("rating serialises")
}

pub(crate) fn rating_v1(rating: &Rating) -> RatingV1 {
    RatingV1 {
        score: rating.score,
        grade: rating.grade.value(),
        pd: rating.probability_of_default.to_string(),
        recommended: rating.recommended_limit.minor(),
        scored: rating.scored_limit.minor(),
        insured: rating.insured_limit.minor(),
        discretionary: rating.discretionary_limit.minor(),
        rated_on: rating.rated_on.days(),
        valid_until: rating.valid_until.days(),
        reasons: rating
            .reasons
            .iter()
            .map(|r| (r.code.as_str().to_owned(), r.message.clone()))
            .collect(),
    }
}

pub fn rating_from_json(json: &str, currency: Currency) -> Result<Rating, String> {
    let r: RatingV1 = serde_json::from_str(json).map_err(|e| corrupt(&format!("rating ({e})")))?;
    rating_from_v1(r, currency)
}

pub(crate) fn rating_from_v1(r: RatingV1, currency: Currency) -> Result<Rating, String> {
    let reasons = r
        .reasons
        .into_iter()
        .map(|(code, message)| {
            ReasonCode::parse(&code)
                .map(|code| Reason { code, message })
                .ok_or_else(|| corrupt("reason code"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Rating {
        score: r.score,
        grade: Grade::new(i64::from(r.grade)).ok_or_else(|| corrupt("grade"))?,
        probability_of_default: Decimal::from_str(&r.pd).map_err(|_| corrupt("pd"))?,
        recommended_limit: Money::from_minor(currency, r.recommended),
        scored_limit: Money::from_minor(currency, r.scored),
        insured_limit: Money::from_minor(currency, r.insured),
        discretionary_limit: Money::from_minor(currency, r.discretionary),
        rated_on: Date::from_days(r.rated_on),
        valid_until: Date::from_days(r.valid_until),
        reasons,
    })
}
