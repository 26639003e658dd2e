//! Counter-offers: what a checkout can do right now with an order that was not
//! approved — ship part of it, ship all of it against a prepayment, or ship it
//! on shorter terms.
//!
//! Every offer is an answer of the one admission rule ([`super::policy`]): the
//! amount is read off the rule's own conditions and then put to the rule again
//! (the amount must be admitted, one minor unit more must not), and the terms are
//! offered only when the rule admits the whole order on them. An offer that fails
//! that check is not made ([`BrokenOffer`], which the service logs): never offer
//! what a check would refuse.

use super::exposure::LedgerSnapshot;
use super::money::Money;
use super::policy::{Admission, Decision, admission_under, short_terms_for};
use super::reason::ReasonCode;

/// What would make the order, or part of it, approvable now.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CounterOffer {
    /// The largest amount of the same order approvable now (zero when only
    /// shorter terms help).
    pub approvable: Money,
    /// Paid in advance, this part makes the whole order approvable: the order
    /// less `approvable` (`None` when nothing is approvable on credit).
    pub prepayment: Option<Money>,
    /// Shorter terms the buyer's tier allows on which the whole order is
    /// approvable.
    pub payment_terms_days: Option<u32>,
}

/// The offer read off the conditions disagrees with the rule: a broken copy.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct BrokenOffer {
    pub largest: i64,
}

impl Admission<'_> {
    /// The counter-offer for this order against `snapshot`, if one exists: none
    /// for an order the rule admits as it is, and none where a finding forbids
    /// shipping at all — insolvency, an expired rating above its cap (a re-rating
    /// comes first), invoices at collection or legal stage — whatever the amount.
    pub fn counter_offer(
        &self,
        snapshot: &LedgerSnapshot,
    ) -> Result<Option<CounterOffer>, BrokenOffer> {
        let amount = self.amount.minor();
        if self.conditions.admit(snapshot, amount) {
            return Ok(None);
        }
        // The new-buyer cap is the one ledger-free refusal a smaller amount lifts.
        let forbidden = self.profile_findings.iter().any(|(decision, reason)| {
            *decision != Decision::Approved && reason.code != ReasonCode::NewBuyerMaxOrder
        });
        if forbidden || !self.conditions.none_past_collection(snapshot) {
            return Ok(None);
        }
        let approvable = self.largest_admissible(snapshot)?;
        let payment_terms_days = self.shorter_terms_admitting(snapshot);
        if approvable == 0 && payment_terms_days.is_none() {
            return Ok(None);
        }
        let currency = self.amount.currency();
        Ok(Some(CounterOffer {
            approvable: Money::from_minor(currency, approvable),
            prepayment: (approvable > 0).then(|| Money::from_minor(currency, amount - approvable)),
            payment_terms_days,
        }))
    }

    /// The largest amount below the order's that the rule admits, read off the
    /// conditions (each is an upper bound on the amount) and checked against the
    /// rule itself.
    fn largest_admissible(&self, snapshot: &LedgerSnapshot) -> Result<i64, BrokenOffer> {
        let totals = &snapshot.totals;
        let conditions = &self.conditions;
        let mut largest = self.amount.minor() - 1;
        if let Some(max_order) = self.bounds.max_order {
            largest = largest.min(max_order.minor());
        }
        largest = largest.min(conditions.max_total_after.saturating_sub(totals.total()));
        if let Some(max) = conditions.max_insurable_after {
            largest = largest.min(max.saturating_sub(totals.insurable()));
        }
        let largest = largest.max(0);
        let terms = self.bounds.short_terms;
        if (largest > 0 && !self.admits(snapshot, largest, terms))
            || self.admits(snapshot, largest + 1, terms)
        {
            return Err(BrokenOffer { largest });
        }
        Ok(largest)
    }

    /// The tier's short terms (or, for a buyer whose agreed terms are already
    /// that short, a day less than those), when the order is not on short terms
    /// already and the rule admits the whole order on them.
    fn shorter_terms_admitting(&self, snapshot: &LedgerSnapshot) -> Option<u32> {
        let agreed = self.record.profile.payment_terms_days;
        let days = self
            .tier
            .short_terms?
            .max_days
            .min(agreed.saturating_sub(1));
        if days == 0
            || self.bounds.short_terms.is_some()
            || short_terms_for(self.tier, self.record, Some(days)).is_none()
        {
            return None;
        }
        self.admits(snapshot, self.amount.minor(), Some(days))
            .then_some(days)
    }

    /// The one rule's answer for `amount` minor units of this order on `terms`.
    fn admits(&self, snapshot: &LedgerSnapshot, amount: i64, terms: Option<u32>) -> bool {
        admission_under(
            self.tier,
            self.expired_max_order_percent,
            self.record,
            Money::from_minor(self.amount.currency(), amount),
            terms,
            self.today,
        )
        .conditions
        .admit(snapshot, amount)
    }
}

#[cfg(test)]
#[path = "counter_offer_tests.rs"]
mod tests;
