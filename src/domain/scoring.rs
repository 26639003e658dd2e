//! The scorecard: profile + payment behaviour → score, grade, PD and a recommended
//! limit, with the factors that moved it. Documented in docs/scoring.md; every
//! factor is monotone (better inputs never cost points).

use super::buyer::{BuyerProfile, Grade, Rating};
use super::date::Date;
use super::exposure::PaymentBehaviour;
use super::money::Money;
use super::policy::Policy;
use super::reason::{Reason, ReasonCode};
use rust_decimal::Decimal;

pub const BASE_SCORE: i32 = 500;

/// One-year probability of default by grade (index 0 = grade 1), anchored on the
/// long-run corporate default rates of the matching rating categories.
const PD_BY_GRADE: [Decimal; 10] = [
    Decimal::from_parts(1, 0, 0, false, 4),    // 0.0001  ~AAA/AA
    Decimal::from_parts(3, 0, 0, false, 4),    // 0.0003  ~AA/A
    Decimal::from_parts(5, 0, 0, false, 4),    // 0.0005  ~A
    Decimal::from_parts(15, 0, 0, false, 4),   // 0.0015  ~BBB
    Decimal::from_parts(40, 0, 0, false, 4),   // 0.0040  ~BBB-/BB+
    Decimal::from_parts(80, 0, 0, false, 4),   // 0.0080  ~BB
    Decimal::from_parts(200, 0, 0, false, 4),  // 0.0200  ~B+
    Decimal::from_parts(450, 0, 0, false, 4),  // 0.0450  ~B
    Decimal::from_parts(1500, 0, 0, false, 4), // 0.1500  ~CCC
    Decimal::from_parts(3500, 0, 0, false, 4), // 0.3500  ~CC/C
];

/// Share of the size-based limit granted per grade, in percent (index 0 = grade 1).
const LIMIT_PERCENT_BY_GRADE: [u32; 10] = [100, 100, 90, 80, 70, 55, 40, 25, 10, 0];

/// Probability of default for a grade; insolvency is default itself.
pub fn probability_of_default(grade: Grade, insolvent: bool) -> Decimal {
    if insolvent {
        return Decimal::ONE;
    }
    PD_BY_GRADE[usize::from(grade.value() - 1)]
}

/// Grade from score: 900+ is grade 1, each 100 points lower one grade worse.
pub fn grade_for_score(score: u16) -> Grade {
    let grade = (10 - i64::from(score) / 100).clamp(1, 10);
    Grade::new(grade).unwrap_or(Grade::new(10).expect("10 is a grade"))
}

fn plural(count: u32, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

struct Factor {
    points: i32,
    reason: Reason,
}

fn factor(points: i32, code: ReasonCode, what: String) -> Factor {
    let sign = if points >= 0 { "+" } else { "−" };
    Factor {
        points,
        reason: Reason::new(code, format!("{sign} {} points: {what}", points.abs())),
    }
}

/// Points by the first threshold `value` reaches, thresholds in descending order.
fn banded(value: Decimal, bands: &[(i64, i32)]) -> i32 {
    bands
        .iter()
        .find(|(at_least, _)| value >= Decimal::from(*at_least))
        .map_or(0, |(_, points)| *points)
}

fn financial_factors(policy: &Policy, profile: &BuyerProfile, factors: &mut Vec<Factor>) {
    let Some(financials) = &profile.financials else {
        factors.push(factor(
            -60,
            ReasonCode::NoFinancials,
            "no financial figures on file".into(),
        ));
        return;
    };
    let years = financials.years_in_business;
    let points = match years {
        0..=1 => -50,
        2..=4 => 0,
        5..=9 => 30,
        10..=19 => 60,
        _ => 80,
    };
    factors.push(factor(
        points,
        ReasonCode::YearsInBusiness,
        format!("{years} years in business"),
    ));
    if let Some(net_worth) = financials.net_worth {
        if net_worth.minor() < 0 {
            factors.push(factor(
                -150,
                ReasonCode::NegativeNetWorth,
                format!("negative net worth of {net_worth}"),
            ));
        } else {
            let size = policy.size_units(net_worth);
            let points = banded(size, &[(10_000_000, 60), (1_000_000, 40), (100_000, 20)]);
            factors.push(factor(
                points,
                ReasonCode::NetWorth,
                format!("net worth of {net_worth}"),
            ));
        }
    }
    if let Some(revenue) = financials.annual_revenue {
        let size = policy.size_units(revenue);
        let points = banded(
            size,
            &[(100_000_000, 40), (10_000_000, 25), (1_000_000, 10)],
        );
        factors.push(factor(
            points,
            ReasonCode::Revenue,
            format!("annual revenue of {revenue}"),
        ));
    }
}

fn external_factors(profile: &BuyerProfile, factors: &mut Vec<Factor>) {
    let Some(rating) = &profile.external_rating else {
        factors.push(factor(
            -40,
            ReasonCode::NoExternalRating,
            "no external rating on file".into(),
        ));
        return;
    };
    let grade = i32::from(rating.grade.value());
    factors.push(factor(
        (5 - grade) * 40,
        ReasonCode::ExternalGrade,
        format!("external grade {grade} of 10"),
    ));
    if rating.legal_disputes > 0 {
        let count = rating.legal_disputes;
        let points = -40 * count.min(4) as i32;
        factors.push(factor(
            points,
            ReasonCode::LegalDisputes,
            plural(count, "legal dispute"),
        ));
    }
}

fn payment_factors(
    profile: &BuyerProfile,
    behaviour: &PaymentBehaviour,
    factors: &mut Vec<Factor>,
) {
    let stats = behaviour.stats;
    if stats.payments == 0 {
        factors.push(factor(
            -30,
            ReasonCode::NoPaymentHistory,
            "no payments on record yet".into(),
        ));
        return;
    }
    let adbt = stats.average_days_beyond_terms();
    let points = if adbt <= Decimal::ZERO {
        60
    } else if adbt <= Decimal::from(5) {
        30
    } else if adbt <= Decimal::from(15) {
        0
    } else if adbt <= Decimal::from(30) {
        -60
    } else if adbt <= Decimal::from(60) {
        -120
    } else {
        -200
    };
    factors.push(factor(
        points,
        ReasonCode::PaymentRecord,
        format!(
            "{} late of {}, {adbt} days beyond terms on average",
            stats.late_payments,
            plural(stats.payments, "payment")
        ),
    ));
    if let Some(discount) = &profile.early_payment_discount
        && stats.early_payments * 2 >= stats.payments
    {
        factors.push(factor(
            20,
            ReasonCode::EarlyPayment,
            format!(
                "{} of {} within the {}% / {}-day discount period",
                stats.early_payments,
                plural(stats.payments, "payment"),
                discount.percent.normalize(),
                discount.days
            ),
        ));
    }
}

fn ledger_factors(profile: &BuyerProfile, behaviour: &PaymentBehaviour, factors: &mut Vec<Factor>) {
    if let Some(dso) = behaviour.dso_days {
        let terms = Decimal::from(profile.payment_terms_days);
        let points = if dso <= terms {
            20
        } else if dso <= terms + Decimal::from(15) {
            0
        } else if dso <= terms + Decimal::from(45) {
            -40
        } else {
            -80
        };
        factors.push(factor(
            points,
            ReasonCode::DsoVsTerms,
            format!(
                "DSO {dso} days against {} days net terms",
                profile.payment_terms_days
            ),
        ));
    }
    if behaviour.open_invoices > 0 && behaviour.overdue > 0 {
        let share = Decimal::from(behaviour.overdue) * Decimal::ONE_HUNDRED
            / Decimal::from(behaviour.open_invoices);
        let points = if share > Decimal::from(50) {
            -60
        } else if share > Decimal::from(20) {
            -30
        } else {
            0
        };
        factors.push(factor(
            points,
            ReasonCode::OverdueShare,
            format!("{}% of the open balance overdue", share.round_dp(0)),
        ));
    }
    let oldest = behaviour.oldest_overdue_days;
    if oldest > 0 {
        let points = match oldest {
            1..=14 => -20,
            15..=59 => -60,
            _ => -150,
        };
        factors.push(factor(
            points,
            ReasonCode::OverdueBalance,
            format!("oldest undisputed invoice {oldest} days overdue"),
        ));
    }
    if behaviour.disputed_invoices > 0 {
        let count = behaviour.disputed_invoices;
        factors.push(factor(
            -20 * count.min(3) as i32,
            ReasonCode::DisputedInvoices,
            plural(count, "disputed invoice"),
        ));
    }
    let days = behaviour.relationship_days;
    let points = match days {
        1_095.. => 40,
        365.. => 20,
        _ => 0,
    };
    if points > 0 {
        factors.push(factor(
            points,
            ReasonCode::RelationshipAge,
            format!("trading for {} years", days / 365),
        ));
    }
}

/// Size-based limit before the grade: the smaller of a share of net worth and a
/// share of a month's revenue per 30 days of terms (policy `[limits]`).
fn size_limit(policy: &Policy, profile: &BuyerProfile) -> Decimal {
    let Some(financials) = profile.financials.as_ref() else {
        return Decimal::ZERO;
    };
    let percent = |p: Decimal| p / Decimal::ONE_HUNDRED;
    let by_equity = financials
        .net_worth
        .map(|nw| (nw.to_decimal() * percent(policy.limits.net_worth_percent)).max(Decimal::ZERO));
    let terms = Decimal::from(profile.payment_terms_days.max(30));
    let by_revenue = financials.annual_revenue.map(|rev| {
        rev.to_decimal() / Decimal::from(12)
            * percent(policy.limits.monthly_revenue_percent)
            * terms
            / Decimal::from(30)
    });
    match (by_equity, by_revenue) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).unwrap_or_default(),
    }
}

/// The recommended limit and its parts: scored (capped), insured, discretionary.
struct Recommendation {
    scored: Decimal,
    insured: Decimal,
    discretionary: Decimal,
}

fn recommend(policy: &Policy, profile: &BuyerProfile, grade: Grade) -> Recommendation {
    if profile.is_insolvent() || grade.value() == 10 {
        return Recommendation {
            scored: Decimal::ZERO,
            insured: Decimal::ZERO,
            discretionary: Decimal::ZERO,
        };
    }
    let tier = policy.tier(profile.tier);
    let share = Decimal::from(LIMIT_PERCENT_BY_GRADE[usize::from(grade.value() - 1)])
        / Decimal::ONE_HUNDRED;
    let cap = policy.from_size_units(profile.currency, tier.max_scored_limit);
    let scored = (size_limit(policy, profile) * share).min(cap).trunc();
    match &profile.insurance {
        Some(insurance) => {
            let insured = insurance.insured_limit.to_decimal();
            let discretionary = (insured * policy.limits.discretionary_percent_of_insured
                / Decimal::ONE_HUNDRED)
                .min(scored)
                .trunc();
            Recommendation {
                scored,
                insured,
                discretionary,
            }
        }
        None => Recommendation {
            scored,
            insured: Decimal::ZERO,
            discretionary: scored,
        },
    }
}

/// Scores a buyer as of `today`.
pub fn score(
    policy: &Policy,
    profile: &BuyerProfile,
    behaviour: &PaymentBehaviour,
    today: Date,
) -> Rating {
    let mut factors = Vec::new();
    financial_factors(policy, profile, &mut factors);
    external_factors(profile, &mut factors);
    payment_factors(profile, behaviour, &mut factors);
    ledger_factors(profile, behaviour, &mut factors);
    let insolvent = profile.is_insolvent();
    let raw: i32 = BASE_SCORE + factors.iter().map(|f| f.points).sum::<i32>();
    let score = if insolvent {
        0
    } else {
        raw.clamp(0, 1000) as u16
    };
    let grade = if insolvent {
        Grade::new(10).expect("10 is a grade")
    } else {
        grade_for_score(score)
    };
    factors.retain(|f| f.points != 0);
    factors.sort_by_key(|f| std::cmp::Reverse(f.points.abs()));
    let mut reasons: Vec<Reason> = factors.into_iter().map(|f| f.reason).collect();
    if insolvent {
        reasons.insert(
            0,
            Reason::new(
                ReasonCode::Insolvency,
                "insolvency reported: grade 10, no credit",
            ),
        );
    }
    let parts = recommend(policy, profile, grade);
    let money = |value: Decimal| Money::from_decimal_floor(profile.currency, value);
    Rating {
        score,
        grade,
        probability_of_default: probability_of_default(grade, insolvent),
        recommended_limit: money(parts.insured + parts.discretionary),
        scored_limit: money(parts.scored),
        insured_limit: money(parts.insured),
        discretionary_limit: money(parts.discretionary),
        rated_on: today,
        valid_until: today.add_days(policy.tier(profile.tier).rerating_days),
        reasons,
    }
}

#[cfg(test)]
#[path = "scoring_tests.rs"]
mod tests;
