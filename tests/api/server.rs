//! The server around the services: health, reflection, and the real binary's
//! startup and graceful shutdown.

use crate::helpers::process::Replica;
use crate::helpers::*;
use tokio_stream::StreamExt;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

#[tokio::test]
async fn health_reports_each_service_serving() {
    let app = TestApp::spawn().await;
    let mut health = HealthClient::new(connect(app.addr).await);
    for service in [
        "",
        "creditgate.v1.CreditDecisionService",
        "creditgate.v1.LedgerService",
    ] {
        let response = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            response.status,
            ServingStatus::Serving as i32,
            "{service:?}"
        );
    }
}

#[tokio::test]
async fn reflection_v1alpha_lists_services_and_serves_health_descriptors() {
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;

    let app = TestApp::spawn().await;
    let mut client = ServerReflectionClient::new(connect(app.addr).await);
    let requests = [
        MessageRequest::ListServices(String::new()),
        MessageRequest::FileContainingSymbol("grpc.health.v1.Health".into()),
        MessageRequest::FileContainingSymbol("creditgate.v1.LedgerService".into()),
    ]
    .map(|message| ServerReflectionRequest {
        host: String::new(),
        message_request: Some(message),
    });
    let mut responses = client
        .server_reflection_info(tokio_stream::iter(requests))
        .await
        .unwrap()
        .into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) =
        responses.next().await.unwrap().unwrap().message_response
    else {
        panic!("expected a service list");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "creditgate.v1.CreditDecisionService",
        "creditgate.v1.LedgerService",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
    for _ in 0..2 {
        let response = responses.next().await.unwrap().unwrap().message_response;
        assert!(
            matches!(response, Some(MessageResponse::FileDescriptorResponse(ref f)) if !f.file_descriptor_proto.is_empty()),
            "{response:?}"
        );
    }
}

#[test]
fn binary_warns_about_memory_only_state_and_stops_on_sigterm() {
    let mut replica = Replica::start(&[]);
    assert!(
        replica
            .startup_logs
            .iter()
            .any(|l| l.contains("in memory only")),
        "no memory-only warning in {:?}",
        replica.startup_logs
    );
    let exit = replica.terminate();
    assert!(exit.success(), "exit status {exit:?}");
}

#[test]
fn a_bad_policy_file_stops_startup_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.toml");
    let broken = creditgate::policy_file::DEFAULT_POLICY.replacen(
        "collection_days_overdue = 1\n",
        "collection_days_overdue = 0\n",
        1,
    );
    std::fs::write(&path, broken).unwrap();
    let (ok, output) = crate::helpers::process::run(&[
        "--listen",
        "127.0.0.1:0",
        "--policy-file",
        path.to_str().unwrap(),
    ]);
    assert!(!ok, "started with a bad policy file: {output}");
    assert!(
        output.contains("tiers.watch.collection_days_overdue"),
        "{output}"
    );
    let (ok, output) = crate::helpers::process::run(&[
        "--listen",
        "127.0.0.1:0",
        "--policy-file",
        "/nonexistent/policy.toml",
    ]);
    assert!(
        !ok && output.contains("/nonexistent/policy.toml"),
        "{output}"
    );
}

#[test]
fn a_custom_policy_file_sets_the_version_on_every_decision() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.toml");
    let custom = creditgate::policy_file::DEFAULT_POLICY.replacen(
        "version = \"2026-11-default-1\"",
        "version = \"acme-2027-01\"",
        1,
    );
    std::fs::write(&path, custom).unwrap();
    let replica = Replica::start(&["--policy-file", path.to_str().unwrap()]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let response = runtime.block_on(async {
        let channel = connect(replica.addr).await;
        creditgate::grpc::pb::credit_decision_service_client::CreditDecisionServiceClient::new(
            channel,
        )
        .check_credit_limit(creditgate::grpc::pb::CheckCreditLimitRequest {
            buyer_id: "B-1".into(),
            order_id: "O-1".into(),
            amount: eur("1.00"),
            payment_terms_days: 0,
        })
        .await
        .unwrap()
        .into_inner()
    });
    assert_eq!(response.policy_version, "acme-2027-01");
    assert!(
        replica
            .startup_logs
            .iter()
            .any(|l| l.contains("acme-2027-01"))
    );
}
