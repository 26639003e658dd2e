//! The credit team's use cases: the orders waiting on them, releasing one over
//! its reasons, any decision by its id, and which waiting orders a ledger change
//! made approvable.

use super::decision::{CheckOutcome, Offer};
use super::{CreditService, ServiceError};
use crate::domain::decision_record::{AnalystRelease, DecisionRecord, StoreVerdict};
use crate::domain::exposure::LedgerSnapshot;
use crate::domain::ids::{BuyerId, OrderId};
use crate::domain::money::Money;
use crate::domain::policy;
use crate::store::{HeldCursor, HeldOrder, ReleaseOutcome, ReleaseRequest, Store, StoreError};

/// A parsed ReleaseOrder request.
#[derive(Clone, Debug)]
pub struct OrderRelease {
    pub buyer_id: BuyerId,
    pub order_id: OrderId,
    pub amount: Money,
    pub release: AnalystRelease,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleaseAnswer {
    pub outcome: CheckOutcome,
    /// False for a retried release: nothing more was reserved.
    pub created: bool,
}

/// One page of waiting orders, and where the next one starts.
pub struct HeldPage {
    pub orders: Vec<HeldOrder>,
    pub next: Option<HeldCursor>,
}

/// A waiting order the ledger now lets through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Releasable {
    pub order_id: OrderId,
    pub amount: Money,
    pub decision_id: String,
}

/// How many of a buyer's waiting orders a payment or dispute re-evaluates: the
/// newest ones; older ones stay listed for the credit team.
const RELEASABLE_SCAN: usize = 100;

/// The answer a record gives, as CheckCreditLimit gave it.
pub fn outcome_of(record: &DecisionRecord) -> CheckOutcome {
    let replayed = record.replay();
    let currency = record.inputs.amount.currency();
    CheckOutcome {
        decision: replayed.decision,
        reasons: replayed.reasons,
        credit_limit: Some(replayed.limit),
        exposure: Some(Money::from_minor(currency, replayed.exposure_after)),
        available: Some(Money::from_minor(
            currency,
            replayed
                .limit
                .minor()
                .saturating_sub(replayed.exposure_after),
        )),
        decision_id: record.inputs.decision_id.clone(),
        limit_source: Some(replayed.limit_source),
        policy_version: record.inputs.policy_version.clone(),
        counter_offer: replayed
            .counter_offer
            .map(|terms| Offer::made_at(terms, record.decided_at_ms, record.inputs.today)),
    }
}

impl<S: Store> CreditService<S> {
    pub async fn held_orders(
        &self,
        buyer_id: Option<&BuyerId>,
        after: Option<&HeldCursor>,
        page_size: usize,
    ) -> Result<HeldPage, ServiceError> {
        // One more than asked: whether a next page exists, without an empty last page.
        let mut orders = self
            .bounded(self.store.held_orders(buyer_id, after, page_size + 1))
            .await?;
        let next = (orders.len() > page_size).then(|| {
            orders.truncate(page_size);
            orders.last().map(HeldOrder::cursor)
        });
        Ok(HeldPage {
            orders,
            next: next.flatten(),
        })
    }

    pub async fn decision_record(&self, decision_id: &str) -> Result<DecisionRecord, ServiceError> {
        self.find_decision(decision_id).await?.ok_or_else(|| {
            let kept = if self.archive.is_some() {
                "is neither in the decision archive nor in the store's outbox: it is older than \
                 the archive's retention (--archive-retention)"
            } else {
                "is not in the store's decision history: it aged out (docs/operations.md, \
                 \"Decision history\"; an archive keeps decisions for years, docs/archive.md)"
            };
            ServiceError::NotFound(format!(
                "decision {decision_id} {kept}, or never existed (decisions made without the \
                 store, such as STORE_UNAVAILABLE or UNKNOWN_BUYER, keep none)"
            ))
        })
    }

    /// The store first (the outbox: what is not shipped yet), then the
    /// archive. In this order a record being shipped is never missed: the
    /// shipper deletes an entry from the outbox only after the archive
    /// committed it, so a record absent from the store is already archived
    /// (the other order could miss one shipped between the two reads). A record
    /// never changes, so whichever has it answers; only when neither has it and
    /// one of them could not be asked is the answer unknown (UNAVAILABLE).
    pub async fn find_decision(
        &self,
        decision_id: &str,
    ) -> Result<Option<DecisionRecord>, ServiceError> {
        let stored = self.bounded(self.store.decision(decision_id)).await;
        let Some(archive) = &self.archive else {
            return Ok(stored?);
        };
        if let Ok(Some(record)) = stored {
            return Ok(Some(record));
        }
        match (archive.get(decision_id).await, stored) {
            (Ok(Some(record)), _) => Ok(Some(record)),
            (Ok(None), Ok(_)) => Ok(None),
            // The store could not be read (a store loss, Redis down) and the
            // archive has no such decision: it may be in the outbox.
            (Ok(None), Err(error)) => Err(error.into()),
            (Err(error), _) => Err(ServiceError::Unavailable(format!(
                "decision {decision_id} is not in the store's outbox and the archive cannot be \
                 read: {error}"
            ))),
        }
    }

    /// A buyer's archived decisions, newest first; the cursor of the next page
    /// when there is one.
    pub async fn archived_decisions(
        &self,
        buyer_id: &BuyerId,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        after: Option<(i64, String)>,
        page_size: usize,
    ) -> Result<(Vec<DecisionRecord>, Option<(i64, String)>), ServiceError> {
        let Some(archive) = &self.archive else {
            return Err(ServiceError::FailedPrecondition(
                "ListDecisions reads the decision archive, and this server has none \
                 (--archive-url, docs/archive.md); GetDecision finds recent decisions by id"
                    .to_owned(),
            ));
        };
        let mut records = archive
            .list(buyer_id.as_str(), from_ms, to_ms, after, page_size + 1)
            .await
            .map_err(|e| ServiceError::Unavailable(format!("decision archive: {e}")))?;
        let next = (records.len() > page_size).then(|| {
            records.truncate(page_size);
            records
                .last()
                .map(|r| (r.decided_at_ms, r.inputs.decision_id.clone()))
        });
        Ok((records, next.flatten()))
    }

    /// An analyst approves a waiting order over its reasons. Idempotent: a retry
    /// finds the approval its first attempt made and answers it again.
    pub async fn release(&self, request: &OrderRelease) -> Result<ReleaseAnswer, ServiceError> {
        for _ in 0..super::ledger::MAX_WRITE_RETRIES {
            let stored = self
                .bounded(self.store.load_buyer_fresh(&request.buyer_id))
                .await?
                .ok_or_else(|| {
                    ServiceError::NotFound(format!("buyer {} not found", request.buyer_id))
                })?;
            let currency = stored.record.profile.currency;
            if request.amount.currency() != currency {
                return Err(ServiceError::invalid(
                    "amount.currency_code",
                    format!(
                        "is {} but buyer {} trades in {currency}",
                        request.amount.currency(),
                        request.buyer_id
                    ),
                ));
            }
            let today = self.clock.today();
            let inputs = self.decision_inputs(
                &stored,
                &request.order_id,
                request.amount,
                None,
                today,
                Some(request.release.clone()),
            );
            let release = ReleaseRequest {
                buyer_id: request.buyer_id.clone(),
                order_id: request.order_id.clone(),
                amount: request.amount,
                buyer_version: stored.version,
                inputs: inputs.clone(),
                now_secs: self.clock.now_secs(),
                now_ms: self.clock.now_millis(),
                reservation_ttl_secs: self.ttl_secs(),
            };
            let released = self
                .bounded(self.store.release_order(release, self.ledger_day(today)))
                .await?;
            let order = &request.order_id;
            let refused = |why: String| Err(ServiceError::FailedPrecondition(why));
            return match released {
                ReleaseOutcome::Released(snapshot) => {
                    let record = DecisionRecord {
                        inputs,
                        decided_at_ms: self.clock.now_millis(),
                        snapshot,
                        verdict: StoreVerdict::Reserved,
                    };
                    tracing::warn!(target: "creditgate::decision", buyer_id = %request.buyer_id, order_id = %order, decision_id = %record.inputs.decision_id, released_by = %request.release.released_by, reason = %request.release.reason, "order released by an analyst over its reasons");
                    Ok(ReleaseAnswer {
                        outcome: outcome_of(&record),
                        created: true,
                    })
                }
                ReleaseOutcome::Approved(approval) => {
                    let earlier = self.find_decision(&approval.decision_id).await?;
                    match earlier {
                        Some(record)
                            if record.inputs.release.is_some()
                                && approval.amount == request.amount.minor() =>
                        {
                            Ok(ReleaseAnswer {
                                outcome: outcome_of(&record),
                                created: false,
                            })
                        }
                        // A release whose record has aged out is told apart from
                        // a check's approval no more: the answer names the
                        // approval, so a caller retrying its own release can see
                        // that it took effect.
                        _ => refused(format!(
                            "order {order} is already approved (decision {}) for {}: nothing to \
                             release; if that decision is your release, it took effect",
                            approval.decision_id,
                            Money::from_minor(currency, approval.amount)
                        )),
                    }
                }
                ReleaseOutcome::NotHeld => refused(format!(
                    "order {order} of buyer {} is not waiting for review: it was never checked, \
                     or it was approved, cancelled or invoiced since, or its decision aged out; \
                     check it with CheckCreditLimit first",
                    request.buyer_id
                )),
                ReleaseOutcome::AmountDiffers(held) => refused(format!(
                    "order {order} was checked for {}: release that amount, or check the new \
                     amount under a new order_id",
                    Money::from_minor(currency, held)
                )),
                ReleaseOutcome::Cancelled => refused(format!("order {order} was cancelled")),
                ReleaseOutcome::Invoiced => refused(format!(
                    "order {order} was invoiced: it is a receivable already, nothing to release"
                )),
                ReleaseOutcome::StaleBuyer => continue,
                ReleaseOutcome::UnknownBuyer => Err(ServiceError::NotFound(format!(
                    "buyer {} not found",
                    request.buyer_id
                ))),
            };
        }
        Err(ServiceError::Unavailable(format!(
            "buyer {} kept changing during the release; retry",
            request.buyer_id
        )))
    }

    /// The buyer's waiting orders that a check would approve now, each on its own
    /// (approving one uses headroom the next may need). Called after a ledger
    /// write has succeeded: a failure here is logged and answers none, since the
    /// write itself must not be reported as failed (the orders stay listed).
    pub async fn releasable_orders(&self, buyer_id: &BuyerId) -> Vec<Releasable> {
        match self.try_releasable(buyer_id).await {
            Ok(releasable) => releasable,
            Err(error) => {
                tracing::warn!(%buyer_id, %error, "could not re-evaluate the buyer's held orders after a ledger change; they stay listed in ListHeldOrders");
                Vec::new()
            }
        }
    }

    async fn try_releasable(&self, buyer_id: &BuyerId) -> Result<Vec<Releasable>, StoreError> {
        let held = self
            .bounded(
                self.store
                    .held_orders(Some(buyer_id), None, RELEASABLE_SCAN),
            )
            .await?;
        if held.is_empty() {
            return Ok(Vec::new());
        }
        let Some(stored) = self.bounded(self.store.load_buyer(buyer_id)).await? else {
            return Ok(Vec::new());
        };
        let today = self.clock.today();
        let ledger = self
            .bounded(
                self.store
                    .ledger(buyer_id, self.clock.now_secs(), self.ledger_day(today)),
            )
            .await?;
        let snapshot =
            LedgerSnapshot::of_open_invoices(ledger.totals, &ledger.open_invoices, today);
        Ok(held
            .iter()
            .filter(|held| {
                // On the terms the order was checked on: a re-check names them too.
                let inputs = &held.record.inputs;
                let (amount, terms) = (inputs.amount, inputs.payment_terms_days);
                policy::admission_on_terms(&self.policy, &stored.record, amount, terms, today)
                    .conditions
                    .admit(&snapshot, amount.minor())
            })
            .map(|held| Releasable {
                order_id: held.record.inputs.order_id.clone(),
                amount: held.record.inputs.amount,
                decision_id: held.record.inputs.decision_id.clone(),
            })
            .collect())
    }
}
