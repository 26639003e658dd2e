//! The scorecard: profile + payment behaviour → score, grade, PD and a recommended
//! limit, with the factors that moved it. Documented in docs/scoring.md.

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
    Decimal::from_parts(1500, 0, 0, false, 4), // 0.1500 ~CCC
    Decimal::from_parts(3500, 0, 0, false, 4), // 0.3500 ~CC/C
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

fn financial_factors(profile: &BuyerProfile, factors: &mut Vec<Factor>) {
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
    match (financials.net_worth, financials.annual_revenue) {
        (Some(net_worth), _) if net_worth.minor() < 0 => factors.push(factor(
            -150,
            ReasonCode::NegativeNetWorth,
            format!("negative net worth of {net_worth}"),
        )),
        (Some(net_worth), Some(revenue)) if revenue.minor() > 0 => {
            let ratio = net_worth.to_decimal() / revenue.to_decimal();
            let points = if ratio >= Decimal::new(50, 2) {
                80
            } else if ratio >= Decimal::new(25, 2) {
                50
            } else if ratio >= Decimal::new(10, 2) {
                20
            } else {
                -30
            };
            let percent = (ratio * Decimal::ONE_HUNDRED).round_dp(0);
            factors.push(factor(
                points,
                ReasonCode::EquityRatio,
                format!("net worth is {percent}% of annual revenue"),
            ));
        }
        _ => {}
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
            format!("{count} legal disputes"),
        ));
    }
}

fn behaviour_factors(behaviour: &PaymentBehaviour, factors: &mut Vec<Factor>) {
    let stats = behaviour.stats;
    if stats.payments == 0 {
        factors.push(factor(
            -30,
            ReasonCode::NoPaymentHistory,
            "no payments on record yet".into(),
        ));
    } else {
        let adbt = behaviour.stats.average_days_beyond_terms();
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
}

/// Size-based limit before the grade adjustment: the smaller of 10% of net worth
/// and 20% of a month's revenue per 30 days of payment terms.
fn size_limit(profile: &BuyerProfile) -> Option<Decimal> {
    let financials = profile.financials.as_ref()?;
    let by_equity = financials
        .net_worth
        .map(|nw| (nw.to_decimal() * Decimal::new(10, 2)).max(Decimal::ZERO));
    let terms = Decimal::from(profile.payment_terms_days.max(30));
    let by_revenue = financials.annual_revenue.map(|rev| {
        rev.to_decimal() / Decimal::from(12) * Decimal::new(20, 2) * terms / Decimal::from(30)
    });
    match (by_equity, by_revenue) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
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
    financial_factors(profile, &mut factors);
    external_factors(profile, &mut factors);
    behaviour_factors(behaviour, &mut factors);
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

    let currency = profile.currency;
    let percent = Decimal::from(LIMIT_PERCENT_BY_GRADE[usize::from(grade.value() - 1)]);
    let scored = size_limit(profile).unwrap_or_default() * percent / Decimal::ONE_HUNDRED;
    let insured = profile
        .insurance
        .as_ref()
        .map_or(Decimal::ZERO, |i| i.insured_limit.to_decimal());
    let recommended = if insolvent || grade.value() == 10 {
        Decimal::ZERO
    } else {
        scored.max(insured).trunc()
    };

    Rating {
        score,
        grade,
        probability_of_default: probability_of_default(grade, insolvent),
        recommended_limit: Money::from_decimal_floor(currency, recommended),
        rated_on: today,
        valid_until: today.add_days(policy.tier(profile.tier).rerating_days),
        reasons,
    }
}
