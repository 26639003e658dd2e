//! One admission rule: the decision and the reservation come from the same
//! conditions, so a refused order is never reserved and its retry never comes
//! back approved. The sequence that used to break is an expired rating.

use crate::helpers::*;

/// A standard-tier buyer (re-rating every 180 days) with a manual limit of
/// 10000.00 EUR, whose rating expired yesterday.
async fn buyer_with_expired_rating(app: &TestApp) {
    app.upsert(buyer("B-1", "10000.00")).await;
    app.advance_days(181);
}

#[tokio::test]
async fn an_expired_rating_refers_a_large_order_reserves_nothing_and_its_retry_stays_referred() {
    let app = TestApp::spawn().await;
    buyer_with_expired_rating(&app).await;
    let first = app.check("B-1", "ORD-1", "5000.00").await;
    assert_eq!(decision(&first), Decision::Referred);
    assert_eq!(codes(&first), ["RATING_EXPIRED"]);
    // 10% of the limit in effect may still be approved without a re-rating.
    assert!(
        reason(&first, "RATING_EXPIRED").contains("approvable up to 1000.00 EUR"),
        "{}",
        reason(&first, "RATING_EXPIRED")
    );
    assert_eq!(amount(&first.exposure), "0.00");
    assert_eq!(amount(&app.exposure("B-1").await.open_orders), "0.00");
    // When the store reserved the referral (the old drift between the rule's
    // copies), the retry found the reservation and answered ALREADY_APPROVED.
    for _ in 0..2 {
        let retry = app.check("B-1", "ORD-1", "5000.00").await;
        assert_eq!(decision(&retry), Decision::Referred);
        assert_eq!(codes(&retry), ["RATING_EXPIRED"]);
        assert_ne!(retry.decision_id, first.decision_id);
    }
    let exposure = app.exposure("B-1").await;
    assert_eq!(amount(&exposure.open_orders), "0.00");
    assert_eq!(amount(&exposure.total_exposure), "0.00");
}

#[tokio::test]
async fn an_expired_rating_still_approves_up_to_its_cap_with_the_reason_attached() {
    let app = TestApp::spawn().await;
    buyer_with_expired_rating(&app).await;
    let approved = app.check("B-1", "ORD-1", "1000.00").await;
    assert_eq!(decision(&approved), Decision::Approved);
    assert_eq!(codes(&approved), ["WITHIN_LIMIT", "RATING_EXPIRED"]);
    assert!(
        reason(&approved, "RATING_EXPIRED").contains("ScoreBuyer"),
        "{}",
        reason(&approved, "RATING_EXPIRED")
    );
    assert_eq!(amount(&approved.exposure), "1000.00");
    assert_eq!(amount(&app.exposure("B-1").await.open_orders), "1000.00");
    // A cent over the cap is referred, and reserves nothing on top.
    let over = app.check("B-1", "ORD-2", "1000.01").await;
    assert_eq!(decision(&over), Decision::Referred);
    assert_eq!(amount(&app.exposure("B-1").await.open_orders), "1000.00");
    // The approval is sticky like any other.
    let replay = app.check("B-1", "ORD-1", "1000.00").await;
    assert_eq!(codes(&replay), ["ALREADY_APPROVED"]);
    assert_eq!(replay.decision_id, approved.decision_id);
}

#[tokio::test]
async fn a_re_rating_lifts_the_expiry_referral() {
    let app = TestApp::spawn().await;
    buyer_with_expired_rating(&app).await;
    assert_eq!(
        decision(&app.check("B-1", "ORD-1", "5000.00").await),
        Decision::Referred
    );
    let rating = app.score("B-1").await.unwrap();
    assert_eq!(rating.valid_until, app.day(180));
    // The referral kept no record: the same order is evaluated afresh.
    let approved = app.check("B-1", "ORD-1", "5000.00").await;
    assert_eq!(decision(&approved), Decision::Approved);
    assert_eq!(codes(&approved), ["WITHIN_LIMIT"]);
    assert_eq!(amount(&app.exposure("B-1").await.open_orders), "5000.00");
}

#[tokio::test]
async fn a_refusal_reports_the_exposure_as_it_stands() {
    let app = TestApp::spawn().await;
    buyer_with_expired_rating(&app).await;
    app.check("B-1", "ORD-1", "1000.00").await;
    app.invoice("B-1", "INV-1", "", "2500.00", 0, 30)
        .await
        .unwrap();
    // Exposure now: 1000.00 reserved + 2500.00 invoiced. A refused order adds
    // nothing to it, so the answer must not count the order either.
    let referred = app.check("B-1", "ORD-2", "5000.00").await;
    assert_eq!(decision(&referred), Decision::Referred);
    assert_eq!(amount(&referred.exposure), "3500.00");
    assert_eq!(amount(&referred.credit_limit), "10000.00");
    assert_eq!(amount(&referred.available), "6500.00");
    let too_big = app.check("B-1", "ORD-3", "9000.00").await;
    assert_eq!(decision(&too_big), Decision::Referred);
    let mut why = codes(&too_big);
    why.sort_unstable();
    assert_eq!(why, ["LIMIT_EXCEEDED", "RATING_EXPIRED"]);
    assert_eq!(amount(&too_big.exposure), "3500.00");
    assert_eq!(amount(&app.exposure("B-1").await.total_exposure), "3500.00");
}
