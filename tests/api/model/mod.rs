//! Model-based test of the ledger: random sequences of every LedgerService and
//! CreditDecisionService call, run against the real server on the store
//! CREDITGATE_TEST_STORE names (embedded, Redis, Redis Cluster), each answer
//! compared with the reference model (reference.rs), and the ledger's
//! invariants checked after every step:
//! - reserved ⇔ APPROVED: a check moves open orders by its amount exactly when
//!   it is a new approval, and the server logged no invariant violation;
//! - total exposure = open orders + open invoice balances;
//! - no approval takes exposure past the limit in effect;
//! - one reservation per (buyer, order), and a retry with nothing changed gets
//!   the same outcome (the model's sticky orders; `Op::Retry`).
//!
//! CI runs a bounded number of cases; CREDITGATE_MODEL_CASES=N runs a soak.
//! A failure found here is kept as a regression test in regressions.rs.

mod reference;
mod regressions;

use crate::helpers::{TestApp, eur, test_settings};
use creditgate::clock::Clock;
use creditgate::domain::retention::Retention;
use creditgate::grpc::pb;
use creditgate::service::ServiceSettings;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reference::{CheckAnswer, DAY, Model, Outcome, Profile, Refusal, Tier};
use tonic::Code;

const BUYERS: [&str; 2] = ["B-0", "B-1"];
const LIMITS: [i64; 3] = [100_000, 500_000, 1_000_000];

/// An amount relative to something the model knows at run time (a limit, an
/// open balance): per mille of it, plus cents, so that sequences land on the
/// boundaries (exactly at the limit, one cent over, within the tolerance).
#[derive(Clone, Copy, Debug)]
pub struct Amount {
    per_mille: i64,
    cents: i64,
}

impl Amount {
    fn of(&self, base: i64) -> i64 {
        (base * self.per_mille / 1_000 + self.cents).max(1)
    }
}

fn amount() -> impl Strategy<Value = Amount> {
    let per_mille = prop_oneof![
        Just(10),
        Just(100),
        Just(101),
        Just(300),
        Just(500),
        Just(501),
        Just(900),
        Just(1_000),
        Just(1_040),
        Just(1_050),
        Just(1_100),
        1i64..1_200,
    ];
    (
        per_mille,
        prop_oneof![Just(0), Just(1), Just(-1), 0i64..100],
    )
        .prop_map(|(per_mille, cents)| Amount { per_mille, cents })
}

#[derive(Clone, Debug)]
pub struct ProfileSpec {
    tier: Tier,
    limit: usize,
    insured: Option<usize>,
    insolvent: bool,
    name: u8,
}

impl ProfileSpec {
    fn profile(&self) -> Profile {
        Profile {
            name: format!("Buyer {} GmbH", self.name),
            tier: self.tier,
            limit: LIMITS[self.limit],
            insured: self.insured.map(|i| LIMITS[i] / 2),
            insolvent: self.insolvent,
        }
    }
}

fn profile_spec() -> impl Strategy<Value = ProfileSpec> {
    let tier = prop_oneof![
        Just(Tier::Core),
        Just(Tier::Standard),
        Just(Tier::New),
        Just(Tier::Watch)
    ];
    (
        tier,
        0..LIMITS.len(),
        proptest::option::weighted(0.6, 0..LIMITS.len()),
        proptest::bool::weighted(0.05),
        0u8..2,
    )
        .prop_map(|(tier, limit, insured, insolvent, name)| ProfileSpec {
            tier,
            limit,
            insured,
            insolvent,
            name,
        })
}

/// Buyer fields an ERP sync may own (update_mask paths).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Name,
    CreditLimit,
    RiskTier,
    Insurance,
    ExternalRating,
}

impl Field {
    fn path(&self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::CreditLimit => "credit_limit",
            Field::RiskTier => "risk_tier",
            Field::Insurance => "insurance",
            Field::ExternalRating => "external_rating",
        }
    }
}

#[derive(Clone, Debug)]
pub enum Op {
    Upsert {
        buyer: usize,
        spec: ProfileSpec,
        mask: Option<Vec<Field>>,
    },
    Check {
        buyer: usize,
        order: u8,
        amount: Amount,
    },
    /// The same call as the previous step again, as a client retrying.
    Retry,
    Invoice {
        buyer: usize,
        invoice: u8,
        order: Option<u8>,
        amount: Amount,
        issued_days_ago: i64,
    },
    Pay {
        buyer: usize,
        payment: u8,
        invoice: u8,
        share: Amount,
        paid_days_ago: i64,
    },
    Dispute {
        buyer: usize,
        invoice: u8,
        disputed: bool,
    },
    Cancel {
        buyer: usize,
        order: u8,
    },
    /// ReleaseOrder; `amount` None: the amount the order waits with (if any).
    Release {
        buyer: usize,
        order: u8,
        amount: Option<Amount>,
    },
    Score {
        buyer: usize,
    },
    Advance {
        days: i64,
    },
    /// Rows of one buyer's ledger writes in one call, as `creditgate import`
    /// sends them (the service in-process: no RPC carries them).
    Rows {
        buyer: usize,
        rows: Vec<Vec<Write>>,
    },
}

/// One write of an `Op::Rows` row: the same calls as the single ops.
#[derive(Clone, Debug)]
pub enum Write {
    Invoice {
        invoice: u8,
        order: Option<u8>,
        amount: Amount,
        issued_days_ago: i64,
    },
    Pay {
        payment: u8,
        invoice: u8,
        share: Amount,
        paid_days_ago: i64,
    },
    Dispute {
        invoice: u8,
        disputed: bool,
    },
}

fn write() -> impl Strategy<Value = Write> {
    prop_oneof![
        3 => (0u8..6, proptest::option::weighted(0.7, 0u8..6), amount(), 0i64..90)
            .prop_map(|(invoice, order, amount, issued_days_ago)| Write::Invoice {
                invoice, order, amount, issued_days_ago,
            }),
        2 => (0u8..8, 0u8..6, amount(), 0i64..3)
            .prop_map(|(payment, invoice, share, paid_days_ago)| Write::Pay {
                payment, invoice, share, paid_days_ago,
            }),
        1 => (0u8..6, any::<bool>())
            .prop_map(|(invoice, disputed)| Write::Dispute { invoice, disputed }),
    ]
}

/// A write with its amount resolved against the model before the call.
#[derive(Clone, Debug)]
enum Resolved {
    Invoice {
        id: String,
        order: Option<String>,
        cents: i64,
        issued_days_ago: i64,
    },
    Pay {
        pid: String,
        id: String,
        cents: i64,
        paid_days_ago: i64,
    },
    Dispute {
        id: String,
        disputed: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let buyer = 0..BUYERS.len();
    let fields = proptest::sample::subsequence(
        vec![
            Field::Name,
            Field::CreditLimit,
            Field::RiskTier,
            Field::Insurance,
            Field::ExternalRating,
        ],
        1..3,
    );
    prop_oneof![
        2 => (buyer.clone(), profile_spec(), proptest::option::weighted(0.5, fields))
            .prop_map(|(buyer, spec, mask)| Op::Upsert { buyer, spec, mask }),
        8 => (buyer.clone(), 0u8..4, amount())
            .prop_map(|(buyer, order, amount)| Op::Check { buyer, order, amount }),
        3 => Just(Op::Retry),
        4 => (buyer.clone(), 0u8..6, proptest::option::weighted(0.7, 0u8..6), amount(), 0i64..90)
            .prop_map(|(buyer, invoice, order, amount, issued_days_ago)| Op::Invoice {
                buyer, invoice, order, amount, issued_days_ago,
            }),
        3 => (buyer.clone(), 0u8..8, 0u8..6, amount(), 0i64..3)
            .prop_map(|(buyer, payment, invoice, share, paid_days_ago)| Op::Pay {
                buyer, payment, invoice, share, paid_days_ago,
            }),
        1 => (buyer.clone(), 0u8..6, any::<bool>())
            .prop_map(|(buyer, invoice, disputed)| Op::Dispute { buyer, invoice, disputed }),
        2 => (buyer.clone(), 0u8..6).prop_map(|(buyer, order)| Op::Cancel { buyer, order }),
        2 => (buyer.clone(), 0u8..4, proptest::option::weighted(0.2, amount()))
            .prop_map(|(buyer, order, amount)| Op::Release { buyer, order, amount }),
        1 => buyer.clone().prop_map(|buyer| Op::Score { buyer }),
        2 => prop_oneof![Just(1i64), Just(7), Just(16), Just(31), Just(61), Just(100)]
            .prop_map(|days| Op::Advance { days }),
        // Up to 40 rows: more than one store batch (64 writes) now and then.
        2 => (buyer, proptest::collection::vec(proptest::collection::vec(write(), 1..4), 1..40))
            .prop_map(|(buyer, rows)| Op::Rows { buyer, rows }),
    ]
}

/// A sequence starts with both buyers on file, most of the time.
pub fn ops() -> impl Strategy<Value = Vec<Op>> {
    (
        profile_spec(),
        profile_spec(),
        proptest::collection::vec(op(), 1..40),
    )
        .prop_map(|(a, b, rest)| {
            let mut ops = vec![
                Op::Upsert {
                    buyer: 0,
                    spec: a,
                    mask: None,
                },
                Op::Upsert {
                    buyer: 1,
                    spec: b,
                    mask: None,
                },
            ];
            ops.extend(rest);
            ops
        })
}

fn cents(text: &str) -> i64 {
    let (units, fraction) = text.split_once('.').unwrap_or((text, "00"));
    let sign = if units.starts_with('-') { -1 } else { 1 };
    let units: i64 = units.trim_start_matches('-').parse().expect("amount");
    let fraction: i64 = format!("{fraction:0<2}")[..2].parse().expect("fraction");
    sign * (units * 100 + fraction)
}

fn money_cents(money: &Option<pb::Money>) -> i64 {
    cents(&money.as_ref().expect("money present").amount)
}

fn text(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

fn refusal(status: &tonic::Status) -> Option<Refusal> {
    match status.code() {
        Code::NotFound => Some(Refusal::NotFound),
        Code::AlreadyExists => Some(Refusal::AlreadyExists),
        Code::FailedPrecondition => Some(Refusal::FailedPrecondition),
        Code::InvalidArgument => Some(Refusal::InvalidArgument),
        _ => None,
    }
}

fn outcome(response: &pb::CheckCreditLimitResponse) -> Outcome {
    match pb::Decision::try_from(response.decision) {
        Ok(pb::Decision::Approved) => Outcome::Approved,
        Ok(pb::Decision::Held) => Outcome::Held,
        _ => Outcome::Referred,
    }
}

fn tier_to_pb(tier: Tier) -> pb::RiskTier {
    match tier {
        Tier::Core => pb::RiskTier::Core,
        Tier::Standard => pb::RiskTier::Standard,
        Tier::New => pb::RiskTier::New,
        Tier::Watch => pb::RiskTier::Watch,
    }
}

fn buyer_to_pb(id: &str, p: &Profile) -> pb::Buyer {
    pb::Buyer {
        buyer_id: id.into(),
        name: p.name.clone(),
        country_code: "DE".into(),
        currency_code: "EUR".into(),
        risk_tier: tier_to_pb(p.tier) as i32,
        credit_limit: eur(&text(p.limit)),
        payment_terms_days: 30,
        financials: None,
        external_rating: p.insolvent.then_some(pb::ExternalRating {
            grade: 9,
            legal_disputes: 0,
            insolvency: true,
        }),
        insurance: p.insured.map(|cap| pb::Insurance {
            insured_limit: eur(&text(cap)),
            indemnity_percent: "90".into(),
        }),
        early_payment_discount: None,
    }
}

/// The model's profile after a masked write: named fields from `update`.
fn merged(stored: &Profile, update: &Profile, mask: &[Field]) -> Profile {
    let mut p = stored.clone();
    for field in mask {
        match field {
            Field::Name => p.name = update.name.clone(),
            Field::CreditLimit => p.limit = update.limit,
            Field::RiskTier => p.tier = update.tier,
            Field::Insurance => p.insured = update.insured,
            Field::ExternalRating => p.insolvent = update.insolvent,
        }
    }
    p
}

type Step = Result<(), TestCaseError>;

/// The server refused as the model did (same gRPC code class).
fn same_refusal(expected: Refusal, status: &tonic::Status) -> Step {
    prop_assert_eq!(Some(expected), refusal(status), "{:?}", status);
    Ok(())
}

fn mismatch(expected: impl std::fmt::Debug, got: impl std::fmt::Debug) -> Step {
    Err(TestCaseError::fail(format!(
        "model {expected:?}, server {got:?}"
    )))
}

/// Runs one sequence against a fresh server and the model side by side.
pub struct Runner {
    app: TestApp,
    model: Model,
    /// The last call, for `Op::Retry`, and the amount it resolved to.
    last: Option<Op>,
    last_cents: Option<i64>,
    /// The rows of the last `Op::Rows` as sent, for a retry.
    last_rows: Option<Vec<Vec<Resolved>>>,
    retrying: bool,
}

impl Runner {
    pub async fn start() -> Runner {
        // A short retention window, so that sequences see settled items forgotten.
        let settings = ServiceSettings {
            ledger_retention: Retention { days: 45 },
            ..test_settings()
        };
        let app = TestApp::spawn_with(settings.clone()).await;
        let model = Model {
            buyers: Default::default(),
            now: app.clock.now_secs(),
            reservations_follow_clock: crate::helpers::Backend::from_env()
                == crate::helpers::Backend::Memory,
            reservation_ttl: settings.reservation_ttl.as_secs() as i64,
            retention_days: i64::from(settings.ledger_retention.days),
        };
        Runner {
            app,
            model,
            last: None,
            last_cents: None,
            last_rows: None,
            retrying: false,
        }
    }

    pub async fn run(&mut self, ops: &[Op]) -> Step {
        for (i, op) in ops.iter().enumerate() {
            self.retrying = matches!(op, Op::Retry);
            let op = match op {
                Op::Retry => match self.last.clone() {
                    Some(last) => last,
                    None => continue,
                },
                other => other.clone(),
            };
            self.step(&op)
                .await
                .map_err(|e| TestCaseError::fail(format!("step {i} {op:?}: {e}")))?;
            if !matches!(op, Op::Advance { .. }) {
                self.last = Some(op);
            }
        }
        Ok(())
    }

    async fn step(&mut self, op: &Op) -> Step {
        match op {
            Op::Upsert { buyer, spec, mask } => {
                self.upsert(BUYERS[*buyer], spec, mask.as_deref()).await?
            }
            Op::Check {
                buyer,
                order,
                amount,
            } => self.check(BUYERS[*buyer], *order, *amount).await?,
            Op::Invoice {
                buyer,
                invoice,
                order,
                amount,
                issued_days_ago,
            } => {
                self.invoice(BUYERS[*buyer], *invoice, *order, *amount, *issued_days_ago)
                    .await?
            }
            Op::Pay {
                buyer,
                payment,
                invoice,
                share,
                paid_days_ago,
            } => {
                self.pay(BUYERS[*buyer], *payment, *invoice, *share, *paid_days_ago)
                    .await?
            }
            Op::Dispute {
                buyer,
                invoice,
                disputed,
            } => {
                let (b, id) = (BUYERS[*buyer], format!("INV-{invoice}"));
                let expected = self.model.dispute(b, &id, *disputed);
                let got = self.app.dispute(b, &id, *disputed).await;
                match (expected, got) {
                    (Ok((open, disputed)), Ok(r)) => {
                        prop_assert_eq!(money_cents(&r.invoice_open_balance), open, "open balance");
                        prop_assert_eq!(r.disputed, disputed, "disputed");
                    }
                    (Err(e), Err(status)) => same_refusal(e, &status)?,
                    (e, g) => {
                        return Err(TestCaseError::fail(format!("model {e:?}, server {g:?}")));
                    }
                }
            }
            Op::Cancel { buyer, order } => {
                let (b, id) = (BUYERS[*buyer], format!("ORD-{order}"));
                let expected = self.model.cancel(b, &id);
                let got = self.app.cancel(b, &id).await;
                match (expected, got) {
                    (Ok((released, was_approved, invoiced)), Ok(r)) => {
                        prop_assert_eq!(money_cents(&r.released), released, "released");
                        prop_assert_eq!(r.was_approved, was_approved, "was_approved");
                        prop_assert_eq!(r.invoiced, invoiced, "invoiced");
                    }
                    (Err(e), Err(status)) => same_refusal(e, &status)?,
                    (e, g) => {
                        return Err(TestCaseError::fail(format!("model {e:?}, server {g:?}")));
                    }
                }
            }
            Op::Release {
                buyer,
                order,
                amount,
            } => self.release(BUYERS[*buyer], *order, *amount).await?,
            Op::Score { buyer } => {
                let b = BUYERS[*buyer];
                let expected = self.model.score(b);
                let got = self.app.score(b).await;
                match (expected, got) {
                    (Ok(valid_until), Ok(r)) => {
                        let day = creditgate::domain::date::Date::from_days(valid_until as i32);
                        prop_assert_eq!(r.valid_until, day.to_string(), "valid_until");
                    }
                    (Err(e), Err(status)) => same_refusal(e, &status)?,
                    (e, g) => {
                        return Err(TestCaseError::fail(format!("model {e:?}, server {g:?}")));
                    }
                }
            }
            Op::Advance { days } => {
                self.app.clock.advance_secs(days * DAY);
                self.model.advance_days(*days);
                prop_assert_eq!(self.app.clock.now_secs(), self.model.now, "clock");
            }
            Op::Rows { buyer, rows } => self.rows(BUYERS[*buyer], rows).await?,
            Op::Retry => unreachable!("resolved by run()"),
        }
        self.invariants().await
    }

    /// After every step: the stores' totals are the model's, total = orders +
    /// invoices, and the server saw no broken invariant.
    async fn invariants(&mut self) -> Step {
        for b in BUYERS {
            let expected = self.model.totals(b);
            let got = self.app.try_exposure(b).await;
            match (expected, got) {
                (Some(t), Ok(e)) => {
                    prop_assert_eq!(
                        money_cents(&e.open_orders),
                        t.open_orders,
                        "{} open orders",
                        b
                    );
                    prop_assert_eq!(
                        money_cents(&e.open_invoices),
                        t.open_invoices,
                        "{} open invoices",
                        b
                    );
                    prop_assert_eq!(money_cents(&e.disputed), t.disputed, "{} disputed", b);
                    prop_assert_eq!(
                        money_cents(&e.total_exposure),
                        money_cents(&e.open_orders) + money_cents(&e.open_invoices),
                        "{} total = orders + invoices",
                        b
                    );
                    let limit = self.model.limit_of(b).expect("on file");
                    prop_assert_eq!(money_cents(&e.credit_limit), limit, "{} limit", b);
                    // The orders waiting for review, with the amounts they wait with.
                    let listed = self.app.held(b, 1000, "").await;
                    let listed = listed.map_err(|s| TestCaseError::fail(format!("{s:?}")))?;
                    let got: std::collections::BTreeMap<String, i64> = listed
                        .held_orders
                        .iter()
                        .map(|h| (h.order_id.clone(), money_cents(&h.amount)))
                        .collect();
                    prop_assert_eq!(&got, &self.model.buyers[b].held, "{} held orders", b);
                }
                (None, Err(status)) => prop_assert_eq!(status.code(), Code::NotFound, "{}", b),
                (e, g) => {
                    return Err(TestCaseError::fail(format!(
                        "{b}: model {e:?}, server {g:?}"
                    )));
                }
            }
        }
        prop_assert_eq!(
            self.app.invariants.violations(),
            0,
            "invariant violations logged by the server"
        );
        Ok(())
    }

    async fn upsert(&mut self, b: &str, spec: &ProfileSpec, mask: Option<&[Field]>) -> Step {
        let update = spec.profile();
        let request = pb::UpsertBuyerRequest {
            buyer: Some(buyer_to_pb(b, &update)),
            update_mask: mask.map(|fields| creditgate::grpc::field_mask::FieldMask {
                paths: fields.iter().map(|f| f.path().to_owned()).collect(),
            }),
        };
        let got = self.app.ledger.clone().upsert_buyer(request).await;
        let stored = self.model.buyers.get(b).map(|buyer| buyer.profile.clone());
        let expected = match (mask, stored) {
            (Some(_), None) => Err(Refusal::NotFound),
            (Some(fields), Some(stored)) => Ok(merged(&stored, &update, fields)),
            (None, _) => Ok(update),
        };
        match (expected, got) {
            (Ok(profile), Ok(r)) => {
                let r = r.into_inner();
                prop_assert_eq!(r, buyer_to_pb(b, &profile), "stored buyer");
                self.model.upsert(b, profile);
            }
            (Err(e), Err(status)) => same_refusal(e, &status)?,
            (e, g) => return mismatch(e, g),
        }
        Ok(())
    }

    async fn check(&mut self, b: &str, order: u8, amount: Amount) -> Step {
        let base = self.model.limit_of(b).unwrap_or(100_000);
        let cents = amount.of(base);
        let id = format!("ORD-{order}");
        let before = self.model.totals(b).map(|t| t.open_orders);
        let expected = self.model.check(b, &id, cents);
        let got = self.app.try_check(b, &id, eur(&text(cents))).await;
        match (expected, got) {
            (
                Ok(CheckAnswer {
                    decision,
                    codes,
                    exposure,
                    reserved,
                    invoice,
                }),
                Ok(r),
            ) => {
                let got_codes: Vec<&str> = r.reasons.iter().map(|r| r.code.as_str()).collect();
                prop_assert_eq!(outcome(&r), decision, "decision ({:?})", r.reasons);
                prop_assert_eq!(got_codes, codes, "reason codes");
                prop_assert_eq!(money_cents(&r.exposure), exposure, "exposure");
                if let Some(invoice) = invoice {
                    prop_assert!(r.reasons[0].message.contains(&invoice), "names {}", invoice);
                }
                // reserved ⇔ APPROVED, read off the store's own totals.
                let after = self.app.exposure(b).await;
                if let Some(before) = before {
                    let moved = money_cents(&after.open_orders) - before;
                    prop_assert_eq!(
                        moved,
                        if reserved { cents } else { 0 },
                        "reserved <=> a new approval"
                    );
                }
                if decision == Outcome::Approved && reserved {
                    prop_assert!(
                        money_cents(&after.total_exposure) <= money_cents(&after.credit_limit),
                        "approved past the limit"
                    );
                }
            }
            (Err(e), Err(status)) => same_refusal(e, &status)?,
            (e, g) => return mismatch(e, g),
        }
        Ok(())
    }

    async fn release(&mut self, b: &str, order: u8, amount: Option<Amount>) -> Step {
        let id = format!("ORD-{order}");
        let waiting = self
            .model
            .buyers
            .get(b)
            .and_then(|buyer| buyer.held.get(&id).copied());
        let base = self.model.limit_of(b).unwrap_or(100_000);
        // A retry repeats the call as it was sent, not as it would be resolved now.
        let cents = match (self.retrying, self.last_cents, amount) {
            (true, Some(cents), _) => cents,
            (_, _, Some(amount)) => amount.of(base),
            (_, _, None) => waiting.unwrap_or(100),
        };
        self.last_cents = Some(cents);
        let expected = self.model.release(b, &id, cents);
        let got = self
            .app
            .release(b, &id, &text(cents), "analyst", "model test")
            .await;
        match (expected, got) {
            (Ok((exposure, created)), Ok(r)) => {
                prop_assert_eq!(r.created, created, "created");
                let answer = r.decision.expect("the decision");
                prop_assert_eq!(outcome(&answer), Outcome::Approved, "released");
                prop_assert_eq!(
                    answer.reasons.first().map(|r| r.code.as_str()),
                    Some("RELEASED_BY_ANALYST"),
                    "first reason"
                );
                if created {
                    prop_assert_eq!(money_cents(&answer.exposure), exposure, "exposure");
                }
            }
            (Err(e), Err(status)) => same_refusal(e, &status)?,
            (e, g) => return mismatch(e, g),
        }
        Ok(())
    }

    async fn invoice(
        &mut self,
        b: &str,
        invoice: u8,
        order: Option<u8>,
        amount: Amount,
        issued_days_ago: i64,
    ) -> Step {
        let base = self.model.limit_of(b).unwrap_or(100_000) / 4;
        let cents = amount.of(base);
        let (id, order) = (format!("INV-{invoice}"), order.map(|o| format!("ORD-{o}")));
        let issue = self.model.today() - issued_days_ago;
        let due = issue + 30;
        let expected = self
            .model
            .invoice(b, &id, order.as_deref(), cents, issue, due);
        let got = self
            .app
            .invoice(
                b,
                &id,
                order.as_deref().unwrap_or(""),
                &text(cents),
                -(issued_days_ago as i32),
                30 - issued_days_ago as i32,
            )
            .await;
        match (expected, got) {
            (Ok((created, consumed, total)), Ok(r)) => {
                prop_assert_eq!(r.created, created, "created");
                prop_assert_eq!(money_cents(&r.reservation_consumed), consumed, "consumed");
                prop_assert_eq!(money_cents(&r.total_exposure), total, "total exposure");
            }
            (Err(e), Err(status)) => same_refusal(e, &status)?,
            (e, g) => return mismatch(e, g),
        }
        Ok(())
    }

    async fn pay(
        &mut self,
        b: &str,
        payment: u8,
        invoice: u8,
        share: Amount,
        paid_days_ago: i64,
    ) -> Step {
        let (pid, id) = (format!("PAY-{payment}"), format!("INV-{invoice}"));
        let open = self
            .model
            .buyers
            .get(b)
            .and_then(|buyer| buyer.invoice_open(&id))
            .filter(|open| *open > 0)
            .unwrap_or(100);
        // A retry repeats the call as it was sent, not as it would be resolved now.
        let cents = match (self.retrying, self.last_cents) {
            (true, Some(cents)) => cents,
            _ => share.of(open),
        };
        self.last_cents = Some(cents);
        let paid = self.model.today() - paid_days_ago;
        let expected = self.model.pay(b, &pid, &id, cents, paid);
        let request = pb::RecordPaymentRequest {
            buyer_id: b.into(),
            invoice_id: id.clone(),
            amount: eur(&text(cents)),
            paid_date: self.app.day(-(paid_days_ago as i32)),
            payment_id: pid.clone(),
        };
        let got = self
            .app
            .ledger
            .clone()
            .record_payment(request)
            .await
            .map(|r| r.into_inner());
        match (expected, got) {
            (Ok((open_after, created, total)), Ok(r)) => {
                prop_assert_eq!(
                    money_cents(&r.invoice_open_balance),
                    open_after,
                    "open balance"
                );
                prop_assert_eq!(r.created, created, "created");
                prop_assert_eq!(money_cents(&r.total_exposure), total, "total exposure");
            }
            (Err(e), Err(status)) => same_refusal(e, &status)?,
            (e, g) => return mismatch(e, g),
        }
        Ok(())
    }

    /// The writes with amounts from the model as it stands (a retry: as sent).
    fn resolve(&self, b: &str, rows: &[Vec<Write>]) -> Vec<Vec<Resolved>> {
        if self.retrying
            && let Some(rows) = &self.last_rows
        {
            return rows.clone();
        }
        let base = self.model.limit_of(b).unwrap_or(100_000) / 4;
        let open = |id: &str| {
            self.model
                .buyers
                .get(b)
                .and_then(|buyer| buyer.invoice_open(id))
                .filter(|open| *open > 0)
                .unwrap_or(100)
        };
        rows.iter()
            .map(|row| {
                row.iter()
                    .map(|write| match write {
                        Write::Invoice {
                            invoice,
                            order,
                            amount,
                            issued_days_ago,
                        } => Resolved::Invoice {
                            id: format!("INV-{invoice}"),
                            order: order.map(|o| format!("ORD-{o}")),
                            cents: amount.of(base),
                            issued_days_ago: *issued_days_ago,
                        },
                        Write::Pay {
                            payment,
                            invoice,
                            share,
                            paid_days_ago,
                        } => {
                            let id = format!("INV-{invoice}");
                            Resolved::Pay {
                                pid: format!("PAY-{payment}"),
                                cents: share.of(open(&id)),
                                id,
                                paid_days_ago: *paid_days_ago,
                            }
                        }
                        Write::Dispute { invoice, disputed } => Resolved::Dispute {
                            id: format!("INV-{invoice}"),
                            disputed: *disputed,
                        },
                    })
                    .collect()
            })
            .collect()
    }

    /// The service's request for a write, parsed as the API parses it.
    fn entry(&self, b: &str, write: &Resolved) -> creditgate::service::LedgerEntry {
        use creditgate::grpc::requests;
        use creditgate::service::LedgerEntry;
        match write {
            Resolved::Invoice {
                id,
                order,
                cents,
                issued_days_ago,
            } => LedgerEntry::Invoice(
                requests::record_invoice(&pb::RecordInvoiceRequest {
                    buyer_id: b.into(),
                    invoice_id: id.clone(),
                    order_id: order.clone().unwrap_or_default(),
                    amount: eur(&text(*cents)),
                    issue_date: self.app.day(-(*issued_days_ago as i32)),
                    due_date: self.app.day(30 - *issued_days_ago as i32),
                })
                .expect("a valid invoice"),
            ),
            Resolved::Pay {
                pid,
                id,
                cents,
                paid_days_ago,
            } => LedgerEntry::Payment(
                requests::record_payment(&pb::RecordPaymentRequest {
                    buyer_id: b.into(),
                    invoice_id: id.clone(),
                    amount: eur(&text(*cents)),
                    paid_date: self.app.day(-(*paid_days_ago as i32)),
                    payment_id: pid.clone(),
                })
                .expect("a valid payment"),
            ),
            Resolved::Dispute { id, disputed } => LedgerEntry::Dispute {
                buyer_id: creditgate::domain::ids::BuyerId::parse(b).expect("an id"),
                invoice_id: creditgate::domain::ids::InvoiceId::parse(id).expect("an id"),
                disputed: *disputed,
            },
        }
    }

    /// Op::Rows: the model applies each row's writes in order and stops a row
    /// at its first refusal; the store must answer every write the model
    /// applied as the model did, and refuse the same write for the same reason.
    async fn rows(&mut self, b: &str, rows: &[Vec<Write>]) -> Step {
        use creditgate::store::LedgerWritten;
        let resolved = self.resolve(b, rows);
        self.last_rows = Some(resolved.clone());
        let entries = resolved
            .iter()
            .map(|row| row.iter().map(|w| self.entry(b, w)).collect())
            .collect();
        let buyer_id = creditgate::domain::ids::BuyerId::parse(b).expect("an id");
        let got = (self.app.ledger_rows)(buyer_id, entries).await;
        if !self.model.buyers.contains_key(b) {
            let status = tonic::Status::from(got.expect_err("an unknown buyer is refused"));
            return same_refusal(Refusal::NotFound, &status);
        }
        let got = got.map_err(|e| TestCaseError::fail(format!("rows refused whole: {e:?}")))?;
        prop_assert_eq!(got.len(), resolved.len(), "one answer per row");
        for (r, (row, answer)) in resolved.iter().zip(got).enumerate() {
            let today = self.model.today();
            let mut refused = None;
            let mut applied = Vec::new();
            for (i, write) in row.iter().enumerate() {
                let expected = match write {
                    Resolved::Invoice {
                        id,
                        order,
                        cents,
                        issued_days_ago,
                    } => {
                        let issue = today - issued_days_ago;
                        self.model
                            .invoice(b, id, order.as_deref(), *cents, issue, issue + 30)
                            .map(|(created, consumed, total)| (created, consumed, total, 0))
                    }
                    Resolved::Pay {
                        pid,
                        id,
                        cents,
                        paid_days_ago,
                    } => self
                        .model
                        .pay(b, pid, id, *cents, today - paid_days_ago)
                        .map(|(open_after, created, total)| (created, 0, total, open_after)),
                    Resolved::Dispute { id, disputed } => self
                        .model
                        .dispute(b, id, *disputed)
                        .map(|(open, flag)| (flag, 0, 0, open)),
                };
                match expected {
                    Ok(expected) => applied.push(expected),
                    Err(refusal) => {
                        refused = Some((i, refusal));
                        break;
                    }
                }
            }
            match (refused, answer) {
                (None, Ok(written)) => {
                    prop_assert_eq!(written.len(), applied.len(), "row {} answers", r);
                    for (w, (created, consumed, total, open)) in written.iter().zip(applied) {
                        match w {
                            LedgerWritten::Invoice(o) => {
                                prop_assert_eq!(
                                    (o.created, o.consumed, o.totals.total()),
                                    (created, consumed, total),
                                    "row {} invoice",
                                    r
                                );
                            }
                            LedgerWritten::Payment(o) => {
                                prop_assert_eq!(
                                    (o.created, o.open_balance, o.totals.total()),
                                    (created, open, total),
                                    "row {} payment",
                                    r
                                );
                            }
                            LedgerWritten::Dispute(o) => {
                                prop_assert_eq!(
                                    (o.disputed, o.open_balance),
                                    (created, open),
                                    "row {} dispute",
                                    r
                                );
                            }
                        }
                    }
                }
                (Some((i, refusal)), Err((at, error))) => {
                    prop_assert_eq!(at, i, "row {} refused at", r);
                    same_refusal(refusal, &tonic::Status::from(error))?;
                }
                (expected, got) => {
                    return Err(TestCaseError::fail(format!(
                        "row {r}: model {expected:?} after {applied:?}, store {got:?}"
                    )));
                }
            }
        }
        Ok(())
    }
}

fn cases() -> u32 {
    std::env::var("CREDITGATE_MODEL_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(24)
}

#[test]
fn ledger_matches_the_reference_model() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        // Every shrink step starts a server (and on Redis, a namespace).
        max_shrink_iters: 256,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&ops(), |ops| {
        runtime.block_on(async {
            let mut runner = Runner::start().await;
            runner.run(&ops).await
        })
    });
    if let Err(error) = result {
        panic!("{error}");
    }
}
