//! protobuf ⇄ domain. Every parse failure is INVALID_ARGUMENT naming the field.

use super::pb;
use crate::domain::buyer::{
    BuyerProfile, EarlyPaymentDiscount, ExternalRating, Financials, Grade, Insurance, LimitSource,
    RiskTier,
};
use crate::domain::buyer_name::check_name;
use crate::domain::date::Date;
use crate::domain::ids::{BuyerId, IdError, InvoiceId, OrderId, PaymentId};
use crate::domain::money::{AmountError, Currency, Money};
use crate::domain::policy::Decision;
use crate::domain::reason::Reason;
use crate::service::ServiceError;
use rust_decimal::Decimal;
use std::str::FromStr;

type Result<T> = std::result::Result<T, ServiceError>;

const DEFAULT_PAYMENT_TERMS_DAYS: u32 = 30;
const DEFAULT_INDEMNITY_PERCENT: i64 = 90;

fn id<T>(field: &str, text: &str, parse: fn(&str) -> std::result::Result<T, IdError>) -> Result<T> {
    parse(text).map_err(|e| ServiceError::invalid(field, e))
}

pub fn buyer_id(field: &str, text: &str) -> Result<BuyerId> {
    id(field, text, BuyerId::parse)
}

pub fn order_id(field: &str, text: &str) -> Result<OrderId> {
    id(field, text, OrderId::parse)
}

pub fn invoice_id(field: &str, text: &str) -> Result<InvoiceId> {
    id(field, text, InvoiceId::parse)
}

/// An optional id: the empty string means "not given".
pub fn optional_order_id(field: &str, text: &str) -> Result<Option<OrderId>> {
    (!text.is_empty())
        .then(|| order_id(field, text))
        .transpose()
}

/// Required: (buyer, payment_id) is what makes a retried payment harmless.
pub fn payment_id(field: &str, text: &str) -> Result<PaymentId> {
    id(field, text, PaymentId::parse)
}

pub fn currency(field: &str, code: &str) -> Result<Currency> {
    if code.is_empty() {
        return Err(ServiceError::invalid(field, "is required"));
    }
    Currency::from_code(code).ok_or_else(|| {
        ServiceError::invalid(field, format!("{code:?} is not an ISO 4217 currency code"))
    })
}

#[derive(Clone, Copy)]
enum Sign {
    Positive,
    NonNegative,
    Any,
}

fn money_with(field: &str, money: Option<&pb::Money>, sign: Sign) -> Result<Money> {
    let money = money.ok_or_else(|| ServiceError::invalid(field, "is required"))?;
    let currency = currency(&format!("{field}.currency_code"), &money.currency_code)?;
    let parsed = match sign {
        Sign::Positive => Money::parse_positive(currency, &money.amount),
        Sign::NonNegative => Money::parse(currency, &money.amount),
        Sign::Any => Money::parse_signed(currency, &money.amount, true),
    };
    parsed.map_err(|e: AmountError| ServiceError::invalid(format!("{field}.amount"), e))
}

/// A strictly positive amount (orders, invoices, payments).
pub fn positive_money(field: &str, money: Option<&pb::Money>) -> Result<Money> {
    money_with(field, money, Sign::Positive)
}

pub fn date(field: &str, text: &str) -> Result<Date> {
    if text.is_empty() {
        return Err(ServiceError::invalid(field, "is required"));
    }
    Date::parse(text).map_err(|e| ServiceError::invalid(field, format!("{text:?} {e}")))
}

fn in_currency(field: &str, money: Money, currency: Currency) -> Result<Money> {
    if money.currency() != currency {
        return Err(ServiceError::invalid(
            format!("{field}.currency_code"),
            format!("is {} but the buyer trades in {currency}", money.currency()),
        ));
    }
    Ok(money)
}

fn tier(value: i32) -> Result<RiskTier> {
    match pb::RiskTier::try_from(value) {
        Ok(pb::RiskTier::Unspecified) | Ok(pb::RiskTier::Standard) => Ok(RiskTier::Standard),
        Ok(pb::RiskTier::Core) => Ok(RiskTier::Core),
        Ok(pb::RiskTier::New) => Ok(RiskTier::New),
        Ok(pb::RiskTier::Watch) => Ok(RiskTier::Watch),
        Err(_) => Err(ServiceError::invalid(
            "buyer.risk_tier",
            format!("{value} is not a RiskTier"),
        )),
    }
}

pub fn tier_to_pb(tier: RiskTier) -> pb::RiskTier {
    match tier {
        RiskTier::Core => pb::RiskTier::Core,
        RiskTier::Standard => pb::RiskTier::Standard,
        RiskTier::New => pb::RiskTier::New,
        RiskTier::Watch => pb::RiskTier::Watch,
    }
}

fn count(field: &str, value: i32, max: i32) -> Result<u32> {
    if !(0..=max).contains(&value) {
        return Err(ServiceError::invalid(
            field,
            format!("must be between 0 and {max}, got {value}"),
        ));
    }
    Ok(value as u32)
}

fn financials(value: &pb::Financials, currency: Currency) -> Result<Financials> {
    let optional = |field: &str, money: Option<&pb::Money>, sign: Sign| -> Result<Option<Money>> {
        money
            .map(|m| money_with(field, Some(m), sign).and_then(|m| in_currency(field, m, currency)))
            .transpose()
    };
    Ok(Financials {
        annual_revenue: optional(
            "buyer.financials.annual_revenue",
            value.annual_revenue.as_ref(),
            Sign::NonNegative,
        )?,
        net_worth: optional(
            "buyer.financials.net_worth",
            value.net_worth.as_ref(),
            Sign::Any,
        )?,
        years_in_business: count(
            "buyer.financials.years_in_business",
            value.years_in_business,
            1000,
        )?,
    })
}

fn external_rating(value: &pb::ExternalRating) -> Result<ExternalRating> {
    let grade = Grade::new(i64::from(value.grade)).ok_or_else(|| {
        ServiceError::invalid(
            "buyer.external_rating.grade",
            format!("must be between 1 and 10, got {}", value.grade),
        )
    })?;
    Ok(ExternalRating {
        grade,
        legal_disputes: count(
            "buyer.external_rating.legal_disputes",
            value.legal_disputes,
            10_000,
        )?,
        insolvency: value.insolvency,
    })
}

fn percent(field: &str, text: &str) -> Result<Decimal> {
    if text.is_empty() {
        return Ok(Decimal::from(DEFAULT_INDEMNITY_PERCENT));
    }
    let shape_ok = {
        let (int, frac) = text.split_once('.').unwrap_or((text, "0"));
        !int.is_empty()
            && !frac.is_empty()
            && int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    };
    let value = shape_ok
        .then(|| Decimal::from_str(text).ok())
        .flatten()
        .filter(|v| *v > Decimal::ZERO && *v <= Decimal::ONE_HUNDRED);
    value.ok_or_else(|| {
        ServiceError::invalid(
            field,
            format!("{text:?} is not a percentage above 0 and at most 100"),
        )
    })
}

fn insurance(value: &pb::Insurance, currency: Currency) -> Result<Insurance> {
    let field = "buyer.insurance.insured_limit";
    let limit = money_with(field, value.insured_limit.as_ref(), Sign::NonNegative)?;
    Ok(Insurance {
        insured_limit: in_currency(field, limit, currency)?,
        indemnity_percent: percent(
            "buyer.insurance.indemnity_percent",
            &value.indemnity_percent,
        )?,
    })
}

fn discount(value: &pb::EarlyPaymentDiscount, net_days: u32) -> Result<EarlyPaymentDiscount> {
    let percent_field = "buyer.early_payment_discount.percent";
    let percent = match value.percent.as_str() {
        "" => return Err(ServiceError::invalid(percent_field, "is required")),
        text => self::percent(percent_field, text)?,
    };
    if percent >= Decimal::ONE_HUNDRED {
        return Err(ServiceError::invalid(percent_field, "must be below 100"));
    }
    let days = count("buyer.early_payment_discount.days", value.days, 365)?;
    if days == 0 || days >= net_days {
        return Err(ServiceError::invalid(
            "buyer.early_payment_discount.days",
            format!("must be between 1 and the net terms ({net_days} days) exclusive, got {days}"),
        ));
    }
    Ok(EarlyPaymentDiscount { percent, days })
}

fn country(code: &str) -> Result<String> {
    if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ServiceError::invalid(
            "buyer.country_code",
            format!("{code:?} is not an ISO 3166-1 alpha-2 code (two capital letters)"),
        ));
    }
    Ok(code.to_owned())
}

pub fn buyer_profile(buyer: Option<pb::Buyer>) -> Result<BuyerProfile> {
    let buyer = buyer.ok_or_else(|| ServiceError::invalid("buyer", "is required"))?;
    let id = buyer_id("buyer.buyer_id", &buyer.buyer_id)?;
    check_name(&buyer.name).map_err(|e| ServiceError::invalid("buyer.name", e))?;
    let currency = currency("buyer.currency_code", &buyer.currency_code)?;
    let manual_limit = buyer
        .credit_limit
        .as_ref()
        .map(|limit| {
            money_with("buyer.credit_limit", Some(limit), Sign::NonNegative)
                .and_then(|m| in_currency("buyer.credit_limit", m, currency))
        })
        .transpose()?;
    let payment_terms_days = match buyer.payment_terms_days {
        0 => DEFAULT_PAYMENT_TERMS_DAYS,
        days => count("buyer.payment_terms_days", days, 365)?,
    };
    let early_payment_discount = buyer
        .early_payment_discount
        .as_ref()
        .map(|d| discount(d, payment_terms_days))
        .transpose()?;
    Ok(BuyerProfile {
        id,
        name: buyer.name,
        country_code: country(&buyer.country_code)?,
        currency,
        tier: tier(buyer.risk_tier)?,
        manual_limit,
        payment_terms_days,
        early_payment_discount,
        financials: buyer
            .financials
            .as_ref()
            .map(|f| financials(f, currency))
            .transpose()?,
        external_rating: buyer
            .external_rating
            .as_ref()
            .map(external_rating)
            .transpose()?,
        insurance: buyer
            .insurance
            .as_ref()
            .map(|i| insurance(i, currency))
            .transpose()?,
    })
}

pub fn money_to_pb(money: Money) -> pb::Money {
    pb::Money {
        currency_code: money.currency().code().to_owned(),
        amount: money.amount_string(),
    }
}

pub fn minor_to_pb(currency: Currency, minor: i64) -> Option<pb::Money> {
    Some(money_to_pb(Money::from_minor(currency, minor)))
}

pub fn buyer_to_pb(profile: &BuyerProfile) -> pb::Buyer {
    pb::Buyer {
        buyer_id: profile.id.to_string(),
        name: profile.name.clone(),
        country_code: profile.country_code.clone(),
        currency_code: profile.currency.code().to_owned(),
        risk_tier: tier_to_pb(profile.tier) as i32,
        credit_limit: profile.manual_limit.map(money_to_pb),
        payment_terms_days: profile.payment_terms_days as i32,
        financials: profile.financials.as_ref().map(|f| pb::Financials {
            annual_revenue: f.annual_revenue.map(money_to_pb),
            net_worth: f.net_worth.map(money_to_pb),
            years_in_business: f.years_in_business as i32,
        }),
        external_rating: profile
            .external_rating
            .as_ref()
            .map(|r| pb::ExternalRating {
                grade: i32::from(r.grade.value()),
                legal_disputes: r.legal_disputes as i32,
                insolvency: r.insolvency,
            }),
        insurance: profile.insurance.as_ref().map(|i| pb::Insurance {
            insured_limit: Some(money_to_pb(i.insured_limit)),
            indemnity_percent: i.indemnity_percent.normalize().to_string(),
        }),
        early_payment_discount: profile.early_payment_discount.as_ref().map(|d| {
            pb::EarlyPaymentDiscount {
                percent: d.percent.normalize().to_string(),
                days: d.days as i32,
            }
        }),
    }
}

pub fn decision_to_pb(decision: Decision) -> pb::Decision {
    match decision {
        Decision::Approved => pb::Decision::Approved,
        Decision::Held => pb::Decision::Held,
        Decision::Referred => pb::Decision::Referred,
    }
}

pub fn reasons_to_pb(reasons: Vec<Reason>) -> Vec<pb::Reason> {
    reasons
        .into_iter()
        .map(|r| pb::Reason {
            code: r.code.as_str().to_owned(),
            message: r.message,
        })
        .collect()
}

pub fn limit_source_to_pb(source: Option<LimitSource>) -> String {
    source.map_or_else(String::new, |s| s.name().to_owned())
}

pub fn counter_offer_to_pb(offer: crate::service::Offer) -> pb::CounterOffer {
    let terms = offer.terms;
    pb::CounterOffer {
        approvable_amount: Some(money_to_pb(terms.approvable)),
        prepayment_required: terms.prepayment.map(money_to_pb),
        payment_terms_days: terms.payment_terms_days.map_or(0, |days| days as i32),
        valid_until: super::record_pb::rfc3339_millis(offer.valid_until_ms),
    }
}

/// The answer to a check (or a release), as the API gives it.
pub fn check_response(outcome: crate::service::CheckOutcome) -> pb::CheckCreditLimitResponse {
    pb::CheckCreditLimitResponse {
        decision: decision_to_pb(outcome.decision) as i32,
        reasons: reasons_to_pb(outcome.reasons),
        credit_limit: outcome.credit_limit.map(money_to_pb),
        exposure: outcome.exposure.map(money_to_pb),
        available: outcome.available.map(money_to_pb),
        decision_id: outcome.decision_id,
        limit_source: limit_source_to_pb(outcome.limit_source),
        policy_version: outcome.policy_version,
        counter_offer: outcome.counter_offer.map(counter_offer_to_pb),
    }
}
