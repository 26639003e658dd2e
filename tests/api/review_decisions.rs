//! GetDecision: a decision's record, fed to the credit policy again, gives the
//! decision and the reasons the caller was told, over random books and orders,
//! on every store (CREDITGATE_TEST_STORE).

use crate::helpers::{
    Backend, TestApp, buyer, scored_buyer, test_settings, with_insurance, with_tier,
};
use creditgate::domain::policy::{self, Policy};
use creditgate::domain::reason::Reason;
use creditgate::grpc::pb::{self, Decision, RiskTier};
use creditgate::grpc::record_pb::record_from_pb;
use creditgate::store::memory::MemoryStore;
use tonic::Code;

/// xorshift64*: a fixed seed gives the same scenarios on every run and store.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn cents(n: u64) -> String {
    format!("{}.{:02}", n / 100, n % 100)
}

/// A random buyer and book, then one random order; returns its answer.
async fn random_decision(app: &TestApp, rng: &mut Rng, n: usize) -> pb::CheckCreditLimitResponse {
    let id = format!("PD-{n}");
    let tier = [
        RiskTier::Core,
        RiskTier::Standard,
        RiskTier::New,
        RiskTier::Watch,
    ][rng.below(4) as usize];
    let mut profile = if rng.chance(30) {
        scored_buyer(&id)
    } else {
        buyer(&id, &cents(100_000 + rng.below(10_000_000)))
    };
    if rng.chance(50) {
        profile = with_insurance(profile, &cents(rng.below(5_000_000)));
    }
    if rng.chance(5) {
        profile.external_rating = Some(pb::ExternalRating {
            grade: 8,
            legal_disputes: 1,
            insolvency: true,
        });
    }
    app.upsert(with_tier(profile, tier)).await;
    for k in 0..rng.below(4) {
        let due = rng.below(110) as i32 - 80;
        let invoice = format!("{id}-I{k}");
        app.invoice(
            &id,
            &invoice,
            "",
            &cents(1_000 + rng.below(3_000_000)),
            due - 30,
            due,
        )
        .await
        .unwrap();
        if rng.chance(20) {
            app.dispute(&id, &invoice, true).await.unwrap();
        }
    }
    if rng.chance(30) {
        // An order already reserving, so open orders show in the snapshot.
        app.check(&id, "SO-EARLIER", &cents(1_000 + rng.below(500_000)))
            .await;
    }
    let order = format!("SO-{n}");
    if rng.chance(10) {
        // Invoiced before any check: the check refers it (ALREADY_INVOICED).
        app.invoice(&id, &format!("{id}-BILL"), &order, "10.00", 0, 30)
            .await
            .unwrap();
    }
    app.check(&id, &order, &cents(1_000 + rng.below(8_000_000)))
        .await
}

#[tokio::test]
async fn a_decision_record_replays_to_the_same_decision_and_reasons() {
    let app = TestApp::spawn().await;
    let mut rng = Rng(0x5eed_cafe_f00d_0001);
    let mut seen = std::collections::BTreeSet::new();
    for n in 0..50 {
        let told = random_decision(&app, &mut rng, n).await;
        seen.insert(verify(&app, &told, n).await);
    }
    // A year on, every rating has expired: the same buyers decide under
    // RATING_EXPIRED, with the ledger aged by a year too.
    app.advance_days(400);
    for n in 0..20 {
        let amount = 1_000 + rng.below(400_000);
        let told = app
            .check(&format!("PD-{n}"), &format!("SO-LATE-{n}"), &cents(amount))
            .await;
        seen.insert(verify(&app, &told, 100 + n).await);
    }
    // The random books reached the rules that matter, not one path 70 times.
    for code in [
        "WITHIN_LIMIT",
        "LIMIT_EXCEEDED",
        "OVERDUE_LEGAL",
        "RATING_EXPIRED",
        "ALREADY_INVOICED",
    ] {
        assert!(
            seen.iter().any(|s| s.contains(code)),
            "{code} never came up: {seen:?}"
        );
    }
}

/// GetDecision of `told` against the answer, and its snapshot replayed against
/// the running policy; returns the reason codes, comma-joined.
async fn verify(app: &TestApp, told: &pb::CheckCreditLimitResponse, n: usize) -> String {
    let record = app.decision_record(&told.decision_id).await.unwrap();
    assert_eq!(record.decision_id, told.decision_id);
    assert_eq!(record.decision, told.decision, "case {n}");
    assert_eq!(record.reasons, told.reasons, "case {n}");
    assert_eq!(record.policy_version, told.policy_version);
    let snapshot = record.snapshot.clone().unwrap();
    assert_eq!(snapshot.credit_limit, told.credit_limit, "case {n}");
    assert_eq!(snapshot.exposure_after, told.exposure, "case {n}");
    assert_eq!(snapshot.limit_source, told.limit_source, "case {n}");
    assert_eq!(snapshot.as_of, app.today().to_string());

    // The snapshot read back into domain terms, through the policy again.
    let replayed = record_from_pb(&record).unwrap();
    let inputs = &replayed.inputs;
    let told_reasons: Vec<(String, String)> = told
        .reasons
        .iter()
        .map(|r| (r.code.clone(), r.message.clone()))
        .collect();
    let as_pairs = |reasons: &[Reason]| -> Vec<(String, String)> {
        reasons
            .iter()
            .map(|r| (r.code.as_str().to_owned(), r.message.clone()))
            .collect()
    };
    let by_record = replayed.replay();
    assert_eq!(as_pairs(&by_record.reasons), told_reasons, "case {n}");
    assert_eq!(decision_code(by_record.decision), told.decision, "case {n}");
    let told_codes: Vec<&str> = told.reasons.iter().map(|r| r.code.as_str()).collect();
    if told_codes != ["ALREADY_INVOICED"] {
        // The running policy, not the record's copy of its tier rules.
        let fresh = policy::evaluate(
            &Policy::default(),
            &inputs.buyer,
            &replayed.snapshot,
            inputs.amount,
            inputs.today,
        );
        assert_eq!(as_pairs(&fresh.reasons), told_reasons, "case {n}");
        assert_eq!(decision_code(fresh.decision), told.decision, "case {n}");
    }
    told_codes.join(",")
}

fn decision_code(decision: policy::Decision) -> i32 {
    match decision {
        policy::Decision::Approved => Decision::Approved as i32,
        policy::Decision::Held => Decision::Held as i32,
        policy::Decision::Referred => Decision::Referred as i32,
    }
}

#[tokio::test]
async fn decisions_without_a_record_and_malformed_ids_are_told_apart() {
    let app = TestApp::spawn().await;
    let unknown_buyer = app.check("NOBODY", "SO-1", "10.00").await;
    let status = app
        .decision_record(&unknown_buyer.decision_id)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let status = app.decision_record("not-a-uuid").await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("decision_id"), "{status:?}");
    let status = app.decision_record("").await.unwrap_err();
    assert!(status.message().starts_with("decision_id"), "{status:?}");
}

#[tokio::test]
async fn the_embedded_store_keeps_a_bounded_history() {
    if Backend::from_env() != Backend::Memory {
        return;
    }
    let app = TestApp::spawn_on(MemoryStore::with_history(3), test_settings()).await;
    app.upsert(buyer("HIST", "1000000.00")).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(
            app.check("HIST", &format!("SO-{n}"), "1.00")
                .await
                .decision_id,
        );
    }
    for (n, id) in ids.iter().enumerate() {
        let found = app.decision_record(id).await;
        assert_eq!(found.is_ok(), n >= 2, "decision {n}: {found:?}");
    }
}
