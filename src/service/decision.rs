//! CheckCreditLimit and ScoreBuyer.

use super::{CreditService, ServiceError};
use crate::domain::buyer::{LimitSource, Rating};
use crate::domain::counter_offer::CounterOffer;
use crate::domain::date::Date;
use crate::domain::decision_record::{AnalystRelease, DecisionInputs};
use crate::domain::exposure::{LedgerSnapshot, PaymentBehaviour};
use crate::domain::ids::{BuyerId, OrderId};
use crate::domain::money::Money;
use crate::domain::policy::{self, Decision};
use crate::domain::reason::{Reason, ReasonCode};
use crate::domain::scoring;
use crate::store::{ReserveOutcome, ReserveRequest, Store, StoreError, StoredBuyer};
use std::sync::Arc;

/// A parsed CheckCreditLimit request.
#[derive(Clone, Debug)]
pub struct OrderCheck {
    pub buyer_id: BuyerId,
    pub order_id: OrderId,
    pub amount: Money,
    /// Shorter terms than the buyer's agreed ones (`None`: the agreed terms).
    pub payment_terms_days: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckOutcome {
    pub decision: Decision,
    pub reasons: Vec<Reason>,
    /// Absent when the store could not tell (STORE_UNAVAILABLE, EXPOSURE_UNKNOWN).
    pub credit_limit: Option<Money>,
    pub exposure: Option<Money>,
    pub available: Option<Money>,
    pub decision_id: String,
    pub limit_source: Option<LimitSource>,
    pub policy_version: String,
    /// What would be approved now instead (HELD and REFERRED answers only).
    pub counter_offer: Option<Offer>,
}

/// A counter-offer as the caller gets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offer {
    pub terms: CounterOffer,
    /// Milliseconds since the epoch.
    pub valid_until_ms: i64,
}

impl Offer {
    /// The offer made at `now_ms` for business day `today`: valid for
    /// [`OFFER_VALIDITY_MS`], never past that day (the dunning ladder moves at
    /// midnight).
    pub fn made_at(terms: CounterOffer, now_ms: i64, today: Date) -> Offer {
        Offer {
            terms,
            valid_until_ms: (now_ms + OFFER_VALIDITY_MS)
                .min(i64::from(today.add_days(1).days()) * MILLIS_PER_DAY),
        }
    }
}

/// How long a counter-offer is a fair guide: exposure moves with every order,
/// invoice and payment, and accepting an offer checks again anyway, so a short
/// horizon only tells the checkout not to keep it around.
const OFFER_VALIDITY_MS: i64 = 15 * 60 * 1000;

const MILLIS_PER_DAY: i64 = 86_400_000;

/// A concurrent profile change makes a reservation retry; more than this many in a
/// row means the buyer is being rewritten continuously.
const MAX_STALE_RETRIES: usize = 8;

/// The id of a decision the store never saw (it could not be reached, or the
/// buyer is unknown): no record is kept of it.
fn new_decision_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

impl<S: Store> CreditService<S> {
    /// Decides on an order. When the store cannot answer within the caller's
    /// deadline ([`super::within_caller_deadline`]), the order is REFERRED, never
    /// approved blind.
    pub async fn check(&self, order: &OrderCheck) -> Result<CheckOutcome, ServiceError> {
        for _ in 0..MAX_STALE_RETRIES {
            match self.try_check(order).await {
                Ok(Some(outcome)) => return Ok(outcome),
                Ok(None) => continue,
                Err(Failure::Service(error)) => return Err(error),
                Err(Failure::Store(error)) => {
                    return store_failure(order, error, &self.policy.version);
                }
            }
        }
        Err(ServiceError::Unavailable(format!(
            "buyer {} kept changing during the check; retry",
            order.buyer_id
        )))
    }

    /// One attempt; `None` when the buyer changed under it and it must be retried.
    async fn try_check(&self, order: &OrderCheck) -> Result<Option<CheckOutcome>, Failure> {
        let today = self.clock.today();
        let loaded = self.bounded(self.store.load_buyer(&order.buyer_id)).await?;
        let Some(stored) = loaded else {
            return Ok(Some(unknown_buyer(order, &self.policy.version)));
        };
        let record = &stored.record;
        if record.profile.currency != order.amount.currency() {
            return Err(Failure::Service(ServiceError::invalid(
                "amount.currency_code",
                format!(
                    "is {} but buyer {} trades in {}",
                    order.amount.currency(),
                    order.buyer_id,
                    record.profile.currency
                ),
            )));
        }
        // The one admission rule: the store reserves by its conditions, and the
        // answer is read from the same conditions against the store's snapshot.
        let admission = policy::admission_on_terms(
            &self.policy,
            record,
            order.amount,
            order.payment_terms_days,
            today,
        );
        let request = ReserveRequest {
            buyer_id: order.buyer_id.clone(),
            order_id: order.order_id.clone(),
            amount: order.amount,
            conditions: admission.conditions.clone(),
            buyer_version: stored.version,
            inputs: self.decision_inputs(
                &stored,
                &order.order_id,
                order.amount,
                order.payment_terms_days,
                today,
                None,
            ),
            now_secs: self.clock.now_secs(),
            now_ms: self.clock.now_millis(),
            reservation_ttl_secs: self.ttl_secs(),
        };
        let decision_id = request.decision_id().to_owned();
        let currency = order.amount.currency();
        let (limit, limit_source) = admission.limit();
        let outcome = |decision, reasons, exposure: i64, decision_id| CheckOutcome {
            decision,
            reasons,
            credit_limit: Some(limit),
            exposure: Some(Money::from_minor(currency, exposure)),
            available: Some(Money::from_minor(
                currency,
                limit.minor().saturating_sub(exposure),
            )),
            decision_id,
            limit_source: Some(limit_source),
            policy_version: self.policy.version.clone(),
            counter_offer: None,
        };
        let reserved = self
            .bounded_leaving_release_time(
                self.store
                    .check_and_reserve(request, self.ledger_day(today)),
            )
            .await;
        let reserved = match reserved {
            Ok(reserved) => reserved,
            Err(error) => {
                // The script may have reserved just in time and only its reply be
                // late: the caller is told STORE_UNAVAILABLE, so nothing of this
                // decision may stay reserved. The release is settled before the
                // answer goes out, and within the caller's deadline: a retry of
                // the order, here or on another replica, that finds the
                // reservation is answered ALREADY_APPROVED, and a release landing
                // after it would take that approval's reservation away. A release
                // that cannot be made in time writes nothing later either (the
                // script refuses after its give-up time): the reservation then
                // stays, for a retry to find, or lapses with the TTL (fail closed).
                if matches!(error, StoreError::Unavailable(_)) {
                    self.undo(order, &decision_id, "its answer came too late")
                        .await;
                }
                return Err(error.into());
            }
        };
        let result = match reserved {
            ReserveOutcome::Reserved(snapshot) => {
                let evaluation = admission.evaluate(&snapshot);
                if evaluation.decision != Decision::Approved {
                    return self
                        .reserved_without_approval(order, &decision_id, evaluation)
                        .await
                        .map(Some);
                }
                outcome(
                    evaluation.decision,
                    evaluation.reasons,
                    evaluation.exposure_after,
                    decision_id,
                )
            }
            ReserveOutcome::NotReserved(snapshot) => {
                let counter_offer = self.counter_offer(order, &admission, &snapshot, today);
                let evaluation = admission.evaluate(&snapshot);
                if evaluation.decision == Decision::Approved {
                    self.invariant_broken(order, &decision_id, "the store refused an approval");
                    return Ok(Some(invariant_referral(
                        order,
                        decision_id,
                        &self.policy.version,
                    )));
                }
                CheckOutcome {
                    counter_offer,
                    ..outcome(
                        evaluation.decision,
                        evaluation.reasons,
                        snapshot.totals.total(),
                        decision_id,
                    )
                }
            }
            ReserveOutcome::Invoiced {
                invoice_id,
                amount,
                snapshot,
            } => {
                let reason = policy::already_invoiced(
                    order.order_id.as_str(),
                    invoice_id.as_str(),
                    Money::from_minor(currency, amount),
                );
                outcome(
                    Decision::Referred,
                    vec![reason],
                    snapshot.totals.total(),
                    decision_id,
                )
            }
            ReserveOutcome::Replay(approval, snapshot) => {
                let reason = Reason::new(
                    ReasonCode::AlreadyApproved,
                    format!(
                        "order {} was approved before for {}; nothing more reserved",
                        order.order_id,
                        Money::from_minor(currency, approval.amount)
                    ),
                );
                outcome(
                    Decision::Approved,
                    vec![reason],
                    snapshot.totals.total(),
                    approval.decision_id,
                )
            }
            ReserveOutcome::Conflict(approval) => {
                return Err(Failure::Service(ServiceError::AlreadyExists(format!(
                    "order {} was approved for {}; a different amount needs a new order_id",
                    order.order_id,
                    Money::from_minor(currency, approval.amount)
                ))));
            }
            ReserveOutcome::Cancelled => {
                return Err(Failure::Service(ServiceError::FailedPrecondition(format!(
                    "order {} was cancelled; check the order again under a new order_id",
                    order.order_id
                ))));
            }
            ReserveOutcome::StaleBuyer => return Ok(None),
            ReserveOutcome::UnknownBuyer => unknown_buyer(order, &self.policy.version),
        };
        Ok(Some(result))
    }

    /// What a decision record keeps of the service's side: the order, the buyer
    /// record read, and the tier rules and expired-rating cap the policy applies.
    pub(super) fn decision_inputs(
        &self,
        stored: &StoredBuyer,
        order_id: &OrderId,
        amount: Money,
        payment_terms_days: Option<u32>,
        today: Date,
        release: Option<AnalystRelease>,
    ) -> Arc<DecisionInputs> {
        Arc::new(
            DecisionInputs::new(
                &self.policy,
                self.store.new_decision_id(&stored.record.profile.id),
                stored.record.clone(),
                order_id.clone(),
                amount,
                today,
                release,
            )
            .on_terms(payment_terms_days),
        )
    }

    /// The counter-offer on a refused order ([`Offer::made_at`] now). An offer
    /// the rule disagrees with is not made, loudly.
    fn counter_offer(
        &self,
        order: &OrderCheck,
        admission: &policy::Admission<'_>,
        snapshot: &LedgerSnapshot,
        today: Date,
    ) -> Option<Offer> {
        match admission.counter_offer(snapshot) {
            Ok(offer) => offer.map(|terms| Offer::made_at(terms, self.clock.now_millis(), today)),
            Err(broken) => {
                self.invariants.record();
                tracing::error!(buyer_id = %order.buyer_id, order_id = %order.order_id, largest = broken.largest, "invariant broken: the counter-offer's amount disagrees with the admission rule; no offer made");
                None
            }
        }
    }

    /// The store reserved an order the rule does not approve: a broken copy of the
    /// admission rule. Undo the reservation and refer, loudly.
    async fn reserved_without_approval(
        &self,
        order: &OrderCheck,
        decision_id: &str,
        evaluation: policy::Evaluation,
    ) -> Result<CheckOutcome, Failure> {
        self.invariant_broken(
            order,
            decision_id,
            &format!("the store reserved a {:?} order", evaluation.decision),
        );
        self.undo(order, decision_id, "the policy does not approve it")
            .await;
        Ok(invariant_referral(
            order,
            decision_id.to_owned(),
            &self.policy.version,
        ))
    }

    /// Releases whatever `decision_id` reserved (nothing, usually), before the
    /// answer and within the caller's deadline (the check left time for it): a
    /// release landing later could take away the reservation of a retry that was
    /// answered ALREADY_APPROVED meanwhile. One that cannot be made in time writes
    /// nothing later (the script refuses after its give-up time), so the
    /// reservation stays: fail closed.
    async fn undo(&self, order: &OrderCheck, decision_id: &str, why: &str) {
        let release = self
            .store
            .release_reservation(&order.buyer_id, &order.order_id, decision_id);
        undone(order, decision_id, why, self.bounded(release).await);
    }

    fn invariant_broken(&self, order: &OrderCheck, decision_id: &str, what: &str) {
        self.invariants.record();
        tracing::error!(buyer_id = %order.buyer_id, order_id = %order.order_id, decision_id, "ledger invariant broken (reserved <=> APPROVED): {what}; answered REFERRED");
    }

    /// Scores the buyer from its profile and ledger and stores the new rating,
    /// only over the profile version it scored (compare-and-set, retried): a
    /// rating from an older profile never overwrites one from a newer, and
    /// concurrent scorings of the same profile do not make each other retry.
    pub async fn score(&self, buyer_id: &BuyerId) -> Result<Rating, ServiceError> {
        for _ in 0..super::ledger::MAX_WRITE_RETRIES {
            let stored = self
                .bounded(self.store.load_buyer(buyer_id))
                .await?
                .ok_or_else(|| ServiceError::NotFound(format!("buyer {buyer_id} not found")))?;
            let rating = self.rate(&stored.record.profile).await?;
            let store = self
                .store
                .store_rating(buyer_id, rating.clone(), stored.profile_version);
            match self.bounded(store).await {
                Ok(_) => return Ok(rating),
                Err(StoreError::StaleBuyer(_)) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(ServiceError::Unavailable(format!(
            "buyer {buyer_id} kept changing during scoring; retry"
        )))
    }

    /// Scores a profile against whatever ledger the buyer has (none when new).
    pub(super) async fn rate(
        &self,
        profile: &crate::domain::buyer::BuyerProfile,
    ) -> Result<Rating, ServiceError> {
        let today = self.clock.today();
        let ledger = self
            .store
            .ledger(&profile.id, self.clock.now_secs(), self.ledger_day(today));
        // Bounded like every store call: scoring must not hang on a paused store.
        let behaviour = match self.bounded(ledger).await {
            Ok(ledger) => PaymentBehaviour::from_ledger(
                &ledger.open_invoices,
                ledger.stats,
                ledger.sales_in_window,
                today,
            ),
            Err(crate::store::StoreError::UnknownBuyer(_)) => PaymentBehaviour::default(),
            Err(other) => return Err(other.into()),
        };
        Ok(scoring::score(&self.policy, profile, &behaviour, today))
    }
}

/// Logs the outcome of releasing what `decision_id` reserved.
fn undone(order: &OrderCheck, decision_id: &str, why: &str, released: Result<i64, StoreError>) {
    match released {
        Ok(0) => {}
        Ok(released) => {
            tracing::warn!(buyer_id = %order.buyer_id, order_id = %order.order_id, decision_id, released, "released a reservation: {why}");
        }
        Err(error) => {
            tracing::error!(buyer_id = %order.buyer_id, order_id = %order.order_id, decision_id, %error, "could not release a reservation ({why}): it lapses with the reservation TTL, or CancelOrder releases it");
        }
    }
}

/// Why a check attempt stopped: a caller error, or a store that could not answer.
enum Failure {
    Service(ServiceError),
    Store(StoreError),
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Failure {
        Failure::Store(error)
    }
}

fn referred(reason: Reason, policy_version: &str) -> CheckOutcome {
    CheckOutcome {
        decision: Decision::Referred,
        reasons: vec![reason],
        credit_limit: None,
        exposure: None,
        available: None,
        decision_id: new_decision_id(),
        limit_source: None,
        policy_version: policy_version.to_owned(),
        counter_offer: None,
    }
}

/// The answer when the store and the rule disagree: never an approval.
fn invariant_referral(
    order: &OrderCheck,
    decision_id: String,
    policy_version: &str,
) -> CheckOutcome {
    CheckOutcome {
        decision_id,
        ..referred(
            Reason::new(
                ReasonCode::StoreUnavailable,
                format!(
                    "the exposure store and the credit policy disagreed on order {}; nothing \
                     is reserved: retry, or refer to credit",
                    order.order_id
                ),
            ),
            policy_version,
        )
    }
}

fn unknown_buyer(order: &OrderCheck, policy_version: &str) -> CheckOutcome {
    let zero = Some(Money::zero(order.amount.currency()));
    CheckOutcome {
        credit_limit: zero,
        exposure: zero,
        available: zero,
        ..referred(
            policy::unknown_buyer(order.buyer_id.as_str()),
            policy_version,
        )
    }
}

/// A store that cannot say what the exposure is never leads to an approval.
fn store_failure(
    order: &OrderCheck,
    error: StoreError,
    policy_version: &str,
) -> Result<CheckOutcome, ServiceError> {
    let reason = match &error {
        StoreError::Unavailable(detail) => Reason::new(
            ReasonCode::StoreUnavailable,
            format!(
                "the exposure store did not answer ({detail}); no approval without knowing the \
                 exposure: retry shortly or refer to credit"
            ),
        ),
        StoreError::Uninitialised => Reason::new(
            ReasonCode::ExposureUnknown,
            "the exposure store has no store marker (emptied or never initialised); orders are \
             referred until the ledger is re-seeded and `creditgate store-init` is run",
        ),
        StoreError::ArchiveBacklog => Reason::new(
            ReasonCode::ArchiveBacklog,
            "the decision archive has not taken decision records for a while and the outbox is \
             full; no decision is made without its record: retry shortly or refer to credit",
        ),
        StoreError::UnknownBuyer(_) => return Ok(unknown_buyer(order, policy_version)),
        _ => return Err(error.into()),
    };
    tracing::warn!(buyer_id = %order.buyer_id, order_id = %order.order_id, code = %reason.code, "check referred: store state unknown");
    Ok(referred(reason, policy_version))
}
