//! UpsertBuyer as an ERP sync uses it: a write that changes nothing changes
//! nothing, update_mask changes only the fields it names, and ratings follow
//! the profile they were computed from even under concurrent writes.

use crate::helpers::*;
use creditgate::grpc::pb;
use tonic::Code;

/// The scored buyer of docs/scoring.md with its net worth set to `net_worth`
/// (a different net worth sizes a different limit).
fn scored_with_net_worth(id: &str, net_worth: &str) -> pb::Buyer {
    let mut b = scored_buyer(id);
    if let Some(financials) = b.financials.as_mut() {
        financials.net_worth = eur(net_worth);
    }
    b
}

/// The limit the policy gives `profile` on a buyer with no ledger, read from a
/// fresh buyer of the same profile under another id.
async fn limit_for(app: &TestApp, reference_id: &str, mut profile: pb::Buyer) -> String {
    profile.buyer_id = reference_id.into();
    app.upsert(profile).await;
    let exposure = app.exposure(reference_id).await;
    assert_eq!(exposure.limit_source, "scored");
    amount(&exposure.credit_limit).to_owned()
}

#[tokio::test]
async fn an_identical_upsert_keeps_an_expired_rating_expired_and_a_real_change_re_rates() {
    let app = TestApp::spawn().await;
    let analyst = buyer("B-1", "10000.00");
    app.upsert(analyst.clone()).await;
    let first_valid_until = app.day(180);
    app.advance_days(181);
    // The nightly sync sends the same buyer again. Were that a re-rating, the
    // sync alone would keep the rating fresh for ever.
    let resent = app.upsert(analyst.clone()).await;
    assert_eq!(resent, analyst);
    let masked = app
        .upsert_masked(analyst.clone(), &["name", "credit_limit"])
        .await
        .unwrap();
    assert_eq!(masked, analyst);
    let referred = app.check("B-1", "ORD-1", "5000.00").await;
    assert_eq!(decision(&referred), Decision::Referred);
    assert_eq!(codes(&referred), ["RATING_EXPIRED"]);
    // The stored rating's valid_until is still the first one.
    let message = reason(&referred, "RATING_EXPIRED");
    assert!(message.contains(&first_valid_until), "{message}");
    // A real change is a new profile: it is rated today.
    let renamed = pb::Buyer {
        name: "B-1 AG".into(),
        ..analyst
    };
    app.upsert(renamed).await;
    let approved = app.check("B-1", "ORD-1", "5000.00").await;
    assert_eq!(decision(&approved), Decision::Approved);
    assert_eq!(codes(&approved), ["WITHIN_LIMIT"]);
}

#[tokio::test]
async fn an_erp_sync_with_a_mask_keeps_the_analysts_limit_and_tier() {
    let app = TestApp::spawn().await;
    let analyst = pb::Buyer {
        credit_limit: eur("50000.00"),
        risk_tier: pb::RiskTier::Core as i32,
        ..scored_buyer("B-1")
    };
    app.upsert(analyst.clone()).await;
    // The ERP owns name and financials; it knows nothing of limits or tiers.
    let erp = pb::Buyer {
        buyer_id: "B-1".into(),
        name: "B-1 Holding GmbH".into(),
        financials: scored_with_net_worth("B-1", "1000000.00").financials,
        ..Default::default()
    };
    let synced = app
        .upsert_masked(erp.clone(), &["name", "financials"])
        .await
        .unwrap();
    assert_eq!(synced.name, "B-1 Holding GmbH");
    assert_eq!(synced.financials, erp.financials);
    assert_eq!(amount(&synced.credit_limit), "50000.00");
    assert_eq!(synced.risk_tier, pb::RiskTier::Core as i32);
    assert_eq!(synced.country_code, "DE");
    assert_eq!(synced.currency_code, "EUR");
    let exposure = app.exposure("B-1").await;
    assert_eq!(amount(&exposure.credit_limit), "50000.00");
    assert_eq!(exposure.limit_source, "manual");
    // Naming credit_limit while leaving it out clears it on purpose: the limit is
    // then the rating of the profile the sync wrote (new financials, core tier).
    let expected = limit_for(
        &app,
        "REF",
        pb::Buyer {
            credit_limit: None,
            ..synced.clone()
        },
    )
    .await;
    let cleared = app.upsert_masked(erp, &["credit_limit"]).await.unwrap();
    assert_eq!(cleared.credit_limit, None);
    assert_eq!(cleared.name, "B-1 Holding GmbH");
    let exposure = app.exposure("B-1").await;
    assert_eq!(exposure.limit_source, "scored");
    assert_eq!(amount(&exposure.credit_limit), expected);
}

#[tokio::test]
async fn without_a_mask_or_with_star_an_omitted_credit_limit_clears_it() {
    let app = TestApp::spawn().await;
    let analyst = pb::Buyer {
        credit_limit: eur("50000.00"),
        ..scored_buyer("B-1")
    };
    // Documented full replace: what the request leaves out is gone.
    app.upsert(analyst.clone()).await;
    let replaced = app.upsert(scored_buyer("B-1")).await;
    assert_eq!(replaced.credit_limit, None);
    let exposure = app.exposure("B-1").await;
    assert_eq!(exposure.limit_source, "scored");
    assert_eq!(amount(&exposure.credit_limit), "160000.00");
    app.upsert(analyst).await;
    assert_eq!(app.exposure("B-1").await.limit_source, "manual");
    let star = app
        .upsert_masked(scored_buyer("B-1"), &["*"])
        .await
        .unwrap();
    assert_eq!(star.credit_limit, None);
    assert_eq!(app.exposure("B-1").await.limit_source, "scored");
}

#[tokio::test]
async fn a_bad_mask_is_refused_naming_update_mask_and_a_mask_needs_the_buyer() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "10000.00")).await;
    let renamed = pb::Buyer {
        name: "Renamed".into(),
        credit_limit: None,
        ..buyer("B-1", "0")
    };
    for paths in [
        &["buyer_id"][..],
        &["name", "nmae"],
        &["name", "*"],
        &["financials.net_worth"],
    ] {
        let status = app.upsert_masked(renamed.clone(), paths).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{paths:?}");
        assert!(
            status.message().starts_with("update_mask"),
            "{paths:?}: {}",
            status.message()
        );
    }
    // Nothing of the refused writes landed.
    let exposure = app.exposure("B-1").await;
    assert_eq!(amount(&exposure.credit_limit), "10000.00");
    // A partial write has nothing to merge into for an unknown buyer.
    let status = app
        .upsert_masked(buyer("B-2", "10.00"), &["name"])
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert!(status.message().contains("B-2"), "{}", status.message());
    assert_eq!(
        app.try_exposure("B-2").await.unwrap_err().code(),
        Code::NotFound
    );
}

/// Rounds of one UpsertBuyer (new financials) landing amid scorers that call
/// ScoreBuyer in a loop until it is done. Every call must succeed too: a
/// rating write must not make a concurrent upsert or scoring start over (with
/// a compare-and-set on the whole buyer version they gave up, UNAVAILABLE).
/// On the embedded store a scoring's read and write are one uninterrupted
/// step, so the race bites on Redis, where they are separate round trips.
const ROUNDS: usize = 30;
const SCORERS: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scoring_racing_profile_updates_ends_with_the_rating_of_the_final_profile() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let app = TestApp::spawn().await;
    let net_worths = ["1000000.00", "3000000.00"];
    let mut expected = Vec::new();
    for (k, net_worth) in net_worths.iter().enumerate() {
        let profile = scored_with_net_worth("B-1", net_worth);
        expected.push(limit_for(&app, &format!("REF-{k}"), profile).await);
    }
    assert_ne!(expected[0], expected[1], "the profiles must rate apart");
    app.upsert(scored_with_net_worth("B-1", net_worths[1]))
        .await;
    for round in 0..ROUNDS {
        let k = round % 2;
        let upserted = Arc::new(AtomicBool::new(false));
        let scoring = Arc::new(tokio::sync::Notify::new());
        let scorers: Vec<_> = (0..SCORERS)
            .map(|_| {
                let decisions = app.decisions.clone();
                let (upserted, scoring) = (upserted.clone(), scoring.clone());
                tokio::spawn(async move {
                    // The scoring in flight when the upsert returns is the one
                    // that may have read the old profile: it is the last.
                    while !upserted.load(Ordering::SeqCst) {
                        decisions
                            .clone()
                            .score_buyer(pb::ScoreBuyerRequest {
                                buyer_id: "B-1".into(),
                            })
                            .await
                            .expect("score during upsert");
                        scoring.notify_one();
                    }
                })
            })
            .collect();
        // The upsert goes in once the scorers are under way.
        scoring.notified().await;
        app.upsert(scored_with_net_worth("B-1", net_worths[k]))
            .await;
        upserted.store(true, Ordering::SeqCst);
        for scorer in scorers {
            scorer.await.unwrap();
        }
        // A scorer that read the old profile either lost its compare-and-set and
        // re-scored the new one, or wrote before the upsert. The stored rating,
        // read back without re-scoring as the scored limit, must be the final
        // profile's; an unconditional rating write would leave the old limit.
        let exposure = app.exposure("B-1").await;
        assert_eq!(
            amount(&exposure.credit_limit),
            expected[k],
            "round {round}: the stored rating is not the final profile's"
        );
    }
}
