//! The credit policy file (TOML): tiers, limit sizing and adjustment, re-rating.
//! `policy/default.toml` is compiled in as the default; `--policy-file` replaces
//! it. Any unknown, missing or invalid key stops startup with a message naming it.

use crate::domain::exposure::DunningLadder;
use crate::domain::policy::{
    AdjustmentRule, Decision, LimitSizing, Policy, ShortTerms, TierPolicy,
};
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

pub const DEFAULT_POLICY: &str = include_str!("../policy/default.toml");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: String,
    limits: Limits,
    limit_adjustment: Adjustment,
    rerating: Rerating,
    currency_size_divisor: BTreeMap<String, String>,
    tiers: Tiers,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Limits {
    net_worth_percent: String,
    monthly_revenue_percent: String,
    discretionary_percent_of_insured: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Adjustment {
    late_after_days: i64,
    step_percent: i64,
    floor_percent: i64,
    restore_after_on_time_payments: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rerating {
    expired_max_order_percent_of_limit: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Tiers {
    core: Tier,
    standard: Tier,
    new: Tier,
    watch: Tier,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Tier {
    tolerance_percent: String,
    max_order_percent_of_limit: String,
    uninsured_exposure: String,
    insurance_expected: bool,
    reminder_days_before_due: i64,
    collection_days_overdue: i64,
    legal_days_overdue: i64,
    rerating_days: i64,
    max_scored_limit: String,
    /// Optional (a policy file from before counter-offers has neither): 0 and
    /// "100" mean no shorter terms.
    #[serde(default)]
    short_terms_days: i64,
    #[serde(default = "no_raise")]
    short_terms_limit_percent: String,
}

fn no_raise() -> String {
    "100".to_owned()
}

fn invalid(key: &str, why: impl std::fmt::Display) -> String {
    format!("{key} {why}")
}

/// A plain non-negative decimal ("10", "2.5"), at most `max`.
fn decimal(key: &str, text: &str, max: Option<Decimal>) -> Result<Decimal, String> {
    let shaped = {
        let (int, frac) = text.split_once('.').unwrap_or((text, "0"));
        !int.is_empty()
            && !frac.is_empty()
            && int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    };
    let value = shaped
        .then(|| Decimal::from_str(text).ok())
        .flatten()
        .ok_or_else(|| {
            invalid(
                key,
                format!("{text:?} is not a non-negative decimal number"),
            )
        })?;
    match max {
        Some(max) if value > max => Err(invalid(key, format!("is {value}, at most {max} allowed"))),
        _ => Ok(value),
    }
}

fn percent(key: &str, text: &str) -> Result<Decimal, String> {
    decimal(key, text, Some(Decimal::ONE_HUNDRED))
}

fn whole(key: &str, value: i64, min: i64, max: i64) -> Result<i64, String> {
    if !(min..=max).contains(&value) {
        return Err(invalid(
            key,
            format!("is {value}, must be between {min} and {max}"),
        ));
    }
    Ok(value)
}

fn tier(name: &str, raw: &Tier) -> Result<TierPolicy, String> {
    let key = |field: &str| format!("tiers.{name}.{field}");
    let max_order = match raw.max_order_percent_of_limit.as_str() {
        "none" => None,
        text => Some(percent(&key("max_order_percent_of_limit"), text)?),
    };
    let uninsured_outcome = match raw.uninsured_exposure.as_str() {
        "approve" => Decision::Approved,
        "hold" => Decision::Held,
        "refer" => Decision::Referred,
        other => {
            return Err(invalid(
                &key("uninsured_exposure"),
                format!("{other:?} must be \"approve\", \"hold\" or \"refer\""),
            ));
        }
    };
    let collection = whole(
        &key("collection_days_overdue"),
        raw.collection_days_overdue,
        1,
        3650,
    )?;
    let legal = whole(&key("legal_days_overdue"), raw.legal_days_overdue, 1, 3650)?;
    if legal < collection {
        return Err(invalid(
            &key("legal_days_overdue"),
            format!("({legal}) must not be below collection_days_overdue ({collection})"),
        ));
    }
    Ok(TierPolicy {
        tolerance_percent: percent(&key("tolerance_percent"), &raw.tolerance_percent)?,
        max_order_percent_of_limit: max_order,
        uninsured_outcome,
        insurance_expected: raw.insurance_expected,
        ladder: DunningLadder {
            reminder_days_before_due: whole(
                &key("reminder_days_before_due"),
                raw.reminder_days_before_due,
                0,
                365,
            )? as i32,
            collection_days_overdue: collection as i32,
            legal_days_overdue: legal as i32,
        },
        rerating_days: whole(&key("rerating_days"), raw.rerating_days, 1, 3650)? as i32,
        max_scored_limit: decimal(&key("max_scored_limit"), &raw.max_scored_limit, None)?,
        short_terms: short_terms(name, raw)?,
    })
}

/// The tier's short terms: days 1 to 365 with a ceiling of 100 % to 200 % of
/// the limit, or none (0 days).
fn short_terms(name: &str, raw: &Tier) -> Result<Option<ShortTerms>, String> {
    let key = |field: &str| format!("tiers.{name}.{field}");
    let days = whole(&key("short_terms_days"), raw.short_terms_days, 0, 365)?;
    let limit_percent = decimal(
        &key("short_terms_limit_percent"),
        &raw.short_terms_limit_percent,
        Some(Decimal::from(200)),
    )?;
    if limit_percent < Decimal::ONE_HUNDRED {
        return Err(invalid(
            &key("short_terms_limit_percent"),
            format!("is {limit_percent}, must be at least 100 (a share of the limit)"),
        ));
    }
    Ok((days > 0).then_some(ShortTerms {
        max_days: days as u32,
        limit_percent,
    }))
}

/// Parses and validates a policy file's text.
pub fn parse(text: &str) -> Result<Policy, String> {
    let file: File = toml::from_str(text).map_err(|e| e.to_string().trim().replace('\n', " "))?;
    if file.version.trim().is_empty() || file.version.len() > 64 {
        return Err(invalid("version", "must be 1 to 64 characters"));
    }
    let adjustment = AdjustmentRule {
        late_after_days: whole(
            "limit_adjustment.late_after_days",
            file.limit_adjustment.late_after_days,
            0,
            365,
        )? as i32,
        step_percent: whole(
            "limit_adjustment.step_percent",
            file.limit_adjustment.step_percent,
            0,
            100,
        )? as u32,
        floor_percent: whole(
            "limit_adjustment.floor_percent",
            file.limit_adjustment.floor_percent,
            0,
            100,
        )? as u32,
        restore_after_on_time_payments: whole(
            "limit_adjustment.restore_after_on_time_payments",
            file.limit_adjustment.restore_after_on_time_payments,
            1,
            1000,
        )? as u32,
    };
    let mut size_divisors = BTreeMap::new();
    for (currency, divisor) in &file.currency_size_divisor {
        let key = format!("currency_size_divisor.{currency}");
        if crate::domain::money::Currency::from_code(currency).is_none() {
            return Err(invalid(&key, "is not an ISO 4217 currency code"));
        }
        let value = decimal(&key, divisor, None)?;
        if value.is_zero() {
            return Err(invalid(&key, "must be above zero"));
        }
        size_divisors.insert(currency.clone(), value);
    }
    Ok(Policy {
        version: file.version,
        core: tier("core", &file.tiers.core)?,
        standard: tier("standard", &file.tiers.standard)?,
        new: tier("new", &file.tiers.new)?,
        watch: tier("watch", &file.tiers.watch)?,
        limits: LimitSizing {
            net_worth_percent: percent("limits.net_worth_percent", &file.limits.net_worth_percent)?,
            monthly_revenue_percent: percent(
                "limits.monthly_revenue_percent",
                &file.limits.monthly_revenue_percent,
            )?,
            discretionary_percent_of_insured: percent(
                "limits.discretionary_percent_of_insured",
                &file.limits.discretionary_percent_of_insured,
            )?,
        },
        adjustment,
        expired_max_order_percent: percent(
            "rerating.expired_max_order_percent_of_limit",
            &file.rerating.expired_max_order_percent_of_limit,
        )?,
        size_divisors,
    })
}

/// Reads and validates a policy file.
pub fn load(path: &Path) -> Result<Policy, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("policy file {}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("policy file {}: {e}", path.display()))
}

impl Default for Policy {
    /// The shipped policy, `policy/default.toml`.
    fn default() -> Policy {
        parse(DEFAULT_POLICY).expect("policy/default.toml is valid (tested)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_policy_parses() {
        let policy = parse(DEFAULT_POLICY).unwrap();
        assert_eq!(policy.version, "2026-11-default-1");
        assert_eq!(policy.watch.ladder.collection_days_overdue, 1);
        assert_eq!(
            policy.new.max_order_percent_of_limit,
            Some(Decimal::from(50))
        );
        assert_eq!(policy.core.uninsured_outcome, Decision::Approved);
        assert_eq!(
            policy.standard.short_terms,
            Some(ShortTerms {
                max_days: 15,
                limit_percent: Decimal::from(110)
            })
        );
        assert_eq!(policy.new.short_terms, None);
    }

    /// A policy file written before short terms existed still loads: no tier
    /// then allows shorter terms.
    #[test]
    fn short_terms_are_optional() {
        let old: String = DEFAULT_POLICY
            .lines()
            .filter(|line| !line.starts_with("short_terms_"))
            .collect::<Vec<_>>()
            .join("\n");
        let policy = parse(&old).unwrap();
        assert_eq!(policy.core.short_terms, None);
        assert_eq!(policy.standard.short_terms, None);
    }

    fn broken(from: &str, to: &str) -> String {
        assert!(DEFAULT_POLICY.contains(from), "{from}");
        parse(&DEFAULT_POLICY.replacen(from, to, 1)).unwrap_err()
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            (
                "tolerance_percent = \"10\"",
                "tolerance_percent = \"ten\"",
                "tiers.core.tolerance_percent",
            ),
            (
                "uninsured_exposure = \"hold\"",
                "uninsured_exposure = \"maybe\"",
                "tiers.standard.uninsured_exposure",
            ),
            (
                "legal_days_overdue = 60\nrerating_days = 365",
                "legal_days_overdue = 10\nrerating_days = 365",
                "tiers.core.legal_days_overdue",
            ),
            (
                "step_percent = 10",
                "step_percent = 200",
                "limit_adjustment.step_percent",
            ),
            (
                "short_terms_limit_percent = \"110\"",
                "short_terms_limit_percent = \"90\"",
                "tiers.standard.short_terms_limit_percent",
            ),
            (
                "short_terms_days = 15\nshort_terms_limit_percent = \"110\"",
                "short_terms_days = 400\nshort_terms_limit_percent = \"110\"",
                "tiers.standard.short_terms_days",
            ),
            (
                "JPY = \"160\"",
                "XYZ = \"160\"",
                "currency_size_divisor.XYZ",
            ),
            (
                "net_worth_percent = \"10\"",
                "net_worth_percent = \"-10\"",
                "limits.net_worth_percent",
            ),
            ("rerating_days = 30", "rerating_dayz = 30", "rerating_dayz"),
        ];
        for (from, to, key) in cases {
            let error = broken(from, to);
            assert!(error.contains(key), "{error:?} does not name {key}");
        }
        assert!(parse("version = \"x\"").unwrap_err().contains("limits"));
    }
}
