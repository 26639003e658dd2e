//! CreditReviewService: the orders waiting on the credit team, releasing one over
//! its reasons, and releasable orders after a payment or a dispute. On every
//! store (CREDITGATE_TEST_STORE).

use crate::helpers::{TestApp, amount, buyer, codes, decision};
use creditgate::grpc::pb::{self, Decision};
use tonic::Code;

fn ids(page: &pb::ListHeldOrdersResponse) -> Vec<&str> {
    page.held_orders
        .iter()
        .map(|h| h.order_id.as_str())
        .collect()
}

/// A buyer with 1,000.00 of limit and 900.00 open: any order above 100.00 waits.
async fn nearly_full(app: &TestApp, id: &str) {
    app.upsert(buyer(id, "1000.00")).await;
    app.invoice(id, &format!("{id}-INV"), "", "900.00", 0, 30)
        .await
        .unwrap();
}

#[tokio::test]
async fn refused_orders_are_listed_newest_first_in_pages_and_leave_when_they_stop_waiting() {
    let app = TestApp::spawn().await;
    nearly_full(&app, "R-LIST").await;
    app.upsert(buyer("R-OTHER", "10.00")).await;
    for n in 1..=5 {
        let refused = app.check("R-LIST", &format!("SO-{n}"), "500.00").await;
        assert_ne!(decision(&refused), Decision::Approved);
        // Later decisions sort later: the embedded store times them by the
        // service's (test) clock, Redis by its own.
        app.clock.advance_secs(1);
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let approved = app.check("R-LIST", "SO-OK", "50.00").await;
    assert_eq!(decision(&approved), Decision::Approved);
    app.clock.advance_secs(1);
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    app.check("R-OTHER", "SO-X", "500.00").await;

    let first = app.held("R-LIST", 2, "").await.unwrap();
    assert_eq!(ids(&first), ["SO-5", "SO-4"]);
    assert!(!first.next_page_token.is_empty());
    let second = app.held("R-LIST", 2, &first.next_page_token).await.unwrap();
    assert_eq!(ids(&second), ["SO-3", "SO-2"]);
    let third = app
        .held("R-LIST", 2, &second.next_page_token)
        .await
        .unwrap();
    assert_eq!(ids(&third), ["SO-1"]);
    assert!(third.next_page_token.is_empty(), "the last page says so");

    let held = &first.held_orders[0];
    assert_eq!(held.buyer_id, "R-LIST");
    assert_eq!(amount(&held.amount), "500.00");
    assert_ne!(held.decision, Decision::Approved as i32);
    assert!(
        held.reasons.iter().any(|r| r.code == "LIMIT_EXCEEDED"),
        "{held:?}"
    );

    // Without a buyer: every buyer's waiting orders, the other buyer's newest.
    let all = app.held("", 1000, "").await.unwrap();
    assert_eq!(all.held_orders[0].buyer_id, "R-OTHER");
    assert_eq!(all.held_orders.len(), 6);

    // A token belongs to the list it was made for.
    let status = app
        .held("R-OTHER", 2, &first.next_page_token)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("page_token"), "{status:?}");
    let status = app.held("R-LIST", 1001, "").await.unwrap_err();
    assert!(status.message().starts_with("page_size"), "{status:?}");

    // Checked again and still refused: one entry, first time kept, latest decision.
    app.clock.advance_secs(1);
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    let again = app.check("R-LIST", "SO-1", "500.00").await;
    let listed = app.held("R-LIST", 10, "").await.unwrap();
    assert_eq!(ids(&listed), ["SO-1", "SO-5", "SO-4", "SO-3", "SO-2"]);
    let entry = &listed.held_orders[0];
    assert_eq!(entry.decision_id, again.decision_id);
    assert!(entry.first_decided_at < entry.last_decided_at, "{entry:?}");

    // Cancelled, invoiced, or approved after a payment: each leaves the list.
    app.cancel("R-LIST", "SO-2").await.unwrap();
    app.invoice("R-LIST", "INV-SO-3", "SO-3", "500.00", 0, 30)
        .await
        .unwrap();
    app.pay("R-LIST", "R-LIST-INV", "900.00", "PAY-1")
        .await
        .unwrap();
    app.cancel("R-LIST", "SO-OK").await.unwrap();
    let now = app.check("R-LIST", "SO-4", "500.00").await;
    assert_eq!(decision(&now), Decision::Approved, "{now:?}");
    let left = app.held("R-LIST", 10, "").await.unwrap();
    assert_eq!(ids(&left), ["SO-1", "SO-5"]);
}

#[tokio::test]
async fn a_payment_names_the_waiting_orders_it_made_approvable() {
    let app = TestApp::spawn().await;
    nearly_full(&app, "R-PAY").await;
    app.check("R-PAY", "SO-SMALL", "300.00").await;
    app.check("R-PAY", "SO-BIG", "950.00").await;

    let partial = app
        .pay("R-PAY", "R-PAY-INV", "100.00", "P-1")
        .await
        .unwrap();
    assert!(partial.releasable_orders.is_empty(), "{partial:?}");

    let paid = app
        .pay("R-PAY", "R-PAY-INV", "400.00", "P-2")
        .await
        .unwrap();
    let releasable: Vec<_> = paid
        .releasable_orders
        .iter()
        .map(|o| (o.order_id.as_str(), amount(&o.amount)))
        .collect();
    assert_eq!(releasable, [("SO-SMALL", "300.00")]);
    // A retried payment answers the same.
    let replay = app
        .pay("R-PAY", "R-PAY-INV", "400.00", "P-2")
        .await
        .unwrap();
    assert!(!replay.created);
    assert_eq!(replay.releasable_orders, paid.releasable_orders);
    // The order system re-checks it with the same order_id and ships.
    let shipped = app.check("R-PAY", "SO-SMALL", "300.00").await;
    assert_eq!(decision(&shipped), Decision::Approved);
}

#[tokio::test]
async fn a_dispute_that_clears_the_dunning_hold_names_the_order() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("R-DISP", "10000.00")).await;
    app.invoice("R-DISP", "OLD", "", "100.00", -50, -20)
        .await
        .unwrap();
    let held = app.check("R-DISP", "SO-1", "200.00").await;
    assert_eq!(codes(&held), ["OVERDUE_COLLECTION"], "{held:?}");
    let disputed = app.dispute("R-DISP", "OLD", true).await.unwrap();
    let names: Vec<_> = disputed
        .releasable_orders
        .iter()
        .map(|o| o.order_id.as_str())
        .collect();
    assert_eq!(names, ["SO-1"]);
    assert_eq!(disputed.releasable_orders[0].decision_id, held.decision_id);
}

#[tokio::test]
async fn an_analyst_releases_a_waiting_order_once_and_only_that_order() {
    let app = TestApp::spawn().await;
    nearly_full(&app, "R-REL").await;
    let refused = app.check("R-REL", "SO-1", "500.00").await;
    assert_ne!(decision(&refused), Decision::Approved);

    let released = app
        .release(
            "R-REL",
            "SO-1",
            "500.00",
            "j.doe",
            "long-standing customer, CFO approved",
        )
        .await
        .unwrap();
    assert!(released.created);
    let answer = released.decision.clone().unwrap();
    assert_eq!(decision(&answer), Decision::Approved);
    assert_eq!(codes(&answer)[0], "RELEASED_BY_ANALYST");
    assert!(answer.reasons[0].message.contains("j.doe"), "{answer:?}");
    assert!(
        codes(&answer).contains(&"LIMIT_EXCEEDED"),
        "what it overrides is named"
    );
    assert_eq!(amount(&answer.exposure), "1400.00");
    assert_ne!(answer.decision_id, refused.decision_id);
    assert_eq!(
        amount(&app.exposure("R-REL").await.total_exposure),
        "1400.00"
    );
    assert!(ids(&app.held("R-REL", 10, "").await.unwrap()).is_empty());

    // Retried: the same answer, nothing more reserved.
    let retried = app
        .release(
            "R-REL",
            "SO-1",
            "500.00",
            "j.doe",
            "long-standing customer, CFO approved",
        )
        .await
        .unwrap();
    assert!(!retried.created);
    assert_eq!(retried.decision.unwrap().decision_id, answer.decision_id);
    assert_eq!(
        amount(&app.exposure("R-REL").await.total_exposure),
        "1400.00"
    );
    // The order system's own re-check replays the approval.
    let replay = app.check("R-REL", "SO-1", "500.00").await;
    assert_eq!(codes(&replay), ["ALREADY_APPROVED"]);
    assert_eq!(replay.decision_id, answer.decision_id);

    // The override covered that order only: the next one is refused.
    let next = app.check("R-REL", "SO-2", "10.00").await;
    assert_ne!(decision(&next), Decision::Approved);

    // The record says who and why.
    let record = app.decision_record(&answer.decision_id).await.unwrap();
    let release = record.release.unwrap();
    assert_eq!(release.released_by, "j.doe");
    assert_eq!(release.reason, "long-standing customer, CFO approved");
    assert_eq!(record.decision, Decision::Approved as i32);
}

#[tokio::test]
async fn a_release_is_refused_for_what_is_not_waiting() {
    let app = TestApp::spawn().await;
    nearly_full(&app, "R-NO").await;
    app.check("R-NO", "SO-OK", "50.00").await;
    app.check("R-NO", "SO-WAIT", "500.00").await;
    let cases = [
        ("SO-NEVER", "500.00", "never checked"),
        ("SO-OK", "50.00", "already approved"),
        ("SO-WAIT", "400.00", "checked for 500.00"),
    ];
    for (order, amount, why) in cases {
        let status = app
            .release("R-NO", order, amount, "j.doe", "ok")
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::FailedPrecondition, "{why}: {status:?}");
    }
    let missing = app
        .release("R-NO", "SO-WAIT", "500.00", "", "ok")
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::InvalidArgument);
    assert!(missing.message().starts_with("released_by"), "{missing:?}");
    let missing = app
        .release("R-NO", "SO-WAIT", "500.00", "j.doe", " ")
        .await
        .unwrap_err();
    assert!(missing.message().starts_with("reason"), "{missing:?}");
    let unknown = app
        .release("NOBODY", "SO-1", "1.00", "j.doe", "ok")
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    // None of the refusals reserved anything.
    assert_eq!(amount_of(&app, "R-NO").await, "950.00");
}

async fn amount_of(app: &TestApp, buyer: &str) -> String {
    amount(&app.exposure(buyer).await.total_exposure).to_owned()
}
