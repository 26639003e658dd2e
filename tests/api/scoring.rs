//! ScoreBuyer end to end: the worked example of docs/scoring.md, and payment
//! behaviour from the ledger moving the score.

use crate::helpers::*;
use creditgate::grpc::pb;

#[tokio::test]
async fn worked_example_from_docs_scoring_md() {
    let app = TestApp::spawn().await;
    app.upsert(scored_buyer("ACME")).await;
    let score = app.score("ACME").await.unwrap();
    assert_eq!(score.score, 675);
    assert_eq!(score.grade, 4);
    assert_eq!(score.probability_of_default, "0.0015");
    assert_eq!(amount(&score.recommended_limit), "160000.00");
    assert_eq!(score.valid_until, app.day(180));
    let reasons: Vec<(&str, &str)> = score
        .reasons
        .iter()
        .map(|r| (r.code.as_str(), r.message.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            ("EXTERNAL_GRADE", "+ 80 points: external grade 3 of 10"),
            ("YEARS_IN_BUSINESS", "+ 60 points: 12 years in business"),
            ("NET_WORTH", "+ 40 points: net worth of 3000000.00 EUR"),
            (
                "NO_PAYMENT_HISTORY",
                "− 30 points: no payments on record yet"
            ),
            ("REVENUE", "+ 25 points: annual revenue of 12000000.00 EUR"),
        ]
    );
    assert_eq!(amount(&score.scored_limit), "160000.00");
    assert_eq!(amount(&score.insured_limit), "0.00");
    assert_eq!(score.policy_version, "2026-11-default-1");
}

#[tokio::test]
async fn late_payments_and_overdue_debt_lower_score_and_limit() {
    let app = TestApp::spawn().await;
    app.upsert(scored_buyer("PROMPT")).await;
    app.upsert(scored_buyer("LATE")).await;
    for (buyer_id, due) in [("PROMPT", 10), ("LATE", -40)] {
        app.invoice(buyer_id, "INV-1", "", "1000.00", due - 30, due)
            .await
            .unwrap();
        app.pay(buyer_id, "INV-1", "1000.00", "P-1").await.unwrap();
        app.invoice(buyer_id, "INV-2", "", "500.00", due - 30, due)
            .await
            .unwrap();
    }
    let prompt = app.score("PROMPT").await.unwrap();
    let late = app.score("LATE").await.unwrap();
    assert!(
        late.score < prompt.score,
        "{} vs {}",
        late.score,
        prompt.score
    );
    assert!(late.grade > prompt.grade);
    let limit = |s: &pb::ScoreBuyerResponse| {
        amount(&s.recommended_limit)
            .parse::<rust_decimal::Decimal>()
            .unwrap()
    };
    assert!(limit(&late) < limit(&prompt));
    let codes: Vec<&str> = late.reasons.iter().map(|r| r.code.as_str()).collect();
    assert!(
        codes.contains(&"PAYMENT_RECORD") && codes.contains(&"OVERDUE_BALANCE"),
        "{codes:?}"
    );
}

#[tokio::test]
async fn insolvent_buyer_gets_grade_10_and_no_limit() {
    let app = TestApp::spawn().await;
    let mut b = scored_buyer("GONE");
    b.external_rating = Some(pb::ExternalRating {
        grade: 9,
        legal_disputes: 2,
        insolvency: true,
    });
    app.upsert(b).await;
    let score = app.score("GONE").await.unwrap();
    assert_eq!((score.score, score.grade), (0, 10));
    assert_eq!(score.probability_of_default, "1");
    assert_eq!(amount(&score.recommended_limit), "0.00");
    assert_eq!(score.reasons[0].code, "INSOLVENCY");
}
