//! What the credit team or the buyer can do about each decision reason: the
//! "remedy" line of `creditgate explain`. One entry per decision reason code of
//! docs/policy.md (a unit test holds the two together), plus the analyst's release.

/// The remedy for a decision reason code; `None` for a code this build does not
/// know (a newer server), which the renderer points to docs/policy.md for.
pub fn remedy(code: &str) -> Option<&'static str> {
    Some(match code {
        "WITHIN_LIMIT" => "nothing to do: ship the order.",
        "ALREADY_APPROVED" => {
            "nothing to do: this order was approved before and is still reserved; ship it."
        }
        "RELEASED_BY_ANALYST" => {
            "nothing to do: a credit analyst approved this order despite the reasons after this one; ship it."
        }
        "DUE_SOON" => "send the payment reminder for the invoice named; nothing blocks this order.",
        "ALREADY_INVOICED" => {
            "the order was billed without an approval and already counts in exposure as its invoice: a credit analyst reviews it (ReleaseOrder); the ERP should check orders before invoicing them."
        }
        "UNKNOWN_BUYER" => {
            "add the buyer (LedgerService/UpsertBuyer or `creditgate import`), then check the same order again."
        }
        "INSOLVENCY" => {
            "only a credit analyst can release the order; if the insolvency flag is wrong, correct the buyer's external rating (UpsertBuyer)."
        }
        "OVERDUE_LEGAL" => {
            "the buyer pays the named invoices (or the credit team records a dispute if they are contested); until then a credit analyst decides, and the debt is for legal collection and the insurer."
        }
        "OVERDUE_COLLECTION" => {
            "the buyer pays the named invoices (or the credit team records a dispute if they are contested); the hold clears on a re-check of the same order."
        }
        "LIMIT_EXCEEDED" => {
            "the buyer pays open invoices to free headroom, the order is cut to the approvable amount, or the credit team raises the limit; an excess within the tier's tolerance clears by itself once payments arrive."
        }
        "NEW_BUYER_MAX_ORDER" => {
            "split the order under the new-buyer cap, or a credit analyst releases it; the cap lifts when the buyer leaves the new tier."
        }
        "UNINSURED_EXPOSURE" => {
            "ask the insurer for more cover (then update the insured limit), cut the order to the amount within cover, or a credit analyst accepts the uninsured risk."
        }
        "RATING_EXPIRED" => {
            "re-rate the buyer with ScoreBuyer (refresh its financials and external rating first if they are stale); small orders are approved meanwhile."
        }
        "LIMIT_REDUCED_LATE_PAYMENT" => {
            "on-time payments give the limit back step by step; a credit analyst may set a manual limit instead."
        }
        "STORE_UNAVAILABLE" => {
            "retry the same order shortly (a retry is safe); if it persists, operators check the exposure store (Redis), or the credit team decides."
        }
        "ARCHIVE_BACKLOG" => {
            "retry the same order shortly (a retry is safe); operators bring the decision archive (PostgreSQL) back: the backlog drains by itself (docs/operations.md, archive backlog)."
        }
        "EXPOSURE_UNKNOWN" => {
            "operators re-seed the ledger (`creditgate import`) and run `creditgate store-init` (the store-loss runbook), then check the order again."
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes of the "Reason codes" table of docs/policy.md.
    fn documented_codes() -> Vec<String> {
        let policy = include_str!("../../../docs/policy.md");
        let table = policy
            .split("## Reason codes")
            .nth(1)
            .expect("docs/policy.md has a 'Reason codes' section");
        let table = table.split("\n#").next().unwrap_or(table);
        table
            .lines()
            .filter_map(|line| line.strip_prefix("| `"))
            .filter_map(|rest| rest.split('`').next())
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn every_documented_decision_reason_has_a_remedy() {
        let codes = documented_codes();
        assert!(codes.len() >= 15, "found only {codes:?}");
        for code in codes
            .iter()
            .map(String::as_str)
            .chain(["RELEASED_BY_ANALYST"])
        {
            assert!(remedy(code).is_some(), "no remedy for {code}");
        }
    }

    /// A decision reason the service can give has a remedy, documented or not
    /// yet; the rest are the scorecard factors of docs/scoring.md, which explain
    /// scores, not decisions.
    #[test]
    fn every_reason_code_of_the_service_has_a_remedy_or_is_a_score_factor() {
        let scoring = include_str!("../../../docs/scoring.md");
        for code in crate::domain::reason::ReasonCode::ALL {
            let code = code.as_str();
            assert!(
                remedy(code).is_some() || scoring.contains(&format!("`{code}`")),
                "{code} has no remedy and is not a scorecard factor of docs/scoring.md"
            );
        }
        assert_eq!(remedy("NO_SUCH_CODE"), None);
    }
}
