//! `--health-listen`: a plaintext port that serves grpc.health.v1 only, for
//! probes that cannot speak TLS (Kubernetes' gRPC probes). It tells the same
//! health as the main port, through the shutdown delay too, and serves nothing
//! else.

use crate::helpers::process::Replica;
use crate::helpers::*;
use creditgate::grpc::pb;
use creditgate::grpc::pb::credit_decision_service_client::CreditDecisionServiceClient;
use creditgate::grpc::server::DECISION_SERVICE;
use std::time::Duration;
use tonic::Code;

const SERVING: i32 = 1;
const NOT_SERVING: i32 = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_port_serves_health_only_and_follows_the_shutdown() {
    let mut replica =
        Replica::start_async(&["--health-listen", "127.0.0.1:0", "--shutdown-delay", "3s"]).await;
    let health = connect(replica.logged_addr("health-only port listening")).await;
    assert_eq!(
        health_of(health.clone(), DECISION_SERVICE).await.ok(),
        Some(SERVING)
    );
    assert_eq!(health_of(health.clone(), "").await.ok(), Some(SERVING));
    let call = CreditDecisionServiceClient::new(health.clone())
        .check_credit_limit(pb::CheckCreditLimitRequest {
            buyer_id: "B-1".into(),
            order_id: "O-1".into(),
            amount: eur("1.00"),
            payment_terms_days: 0,
        })
        .await;
    assert_eq!(call.unwrap_err().code(), Code::Unimplemented);

    replica.signal("TERM");
    eventually(
        "the health port reports NOT_SERVING in the shutdown delay",
        || {
            let health = health.clone();
            async move { health_of(health, DECISION_SERVICE).await.ok() == Some(NOT_SERVING) }
        },
    )
    .await;
    // The main port still serves during the delay, and says the same.
    assert_eq!(decision_health(replica.addr).await, NOT_SERVING);
    let exit = tokio::task::spawn_blocking(move || replica.wait_exit())
        .await
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    tokio::time::sleep(Duration::from_millis(100)).await;
}
