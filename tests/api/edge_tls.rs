//! TLS and mutual TLS on the gRPC port, with certificates made in the test, and
//! the certificate rotated by SIGHUP.

use crate::helpers::process::Replica;
use crate::helpers::tls::{Identity, TestCa, tls_channel};
use crate::helpers::*;
use std::net::SocketAddr;
use std::path::Path;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// One health check over TLS: Ok(status) or the error that stopped it.
async fn health_over_tls(
    addr: SocketAddr,
    ca_pem: &str,
    client: Option<&Identity>,
) -> Result<i32, String> {
    let channel = tls_channel(addr, ca_pem, client)
        .await
        .map_err(|e| format!("connect: {e:?}"))?;
    health_of(channel, "")
        .await
        .map_err(|e| format!("call: {e:?}"))
}

fn tls_args(dir: &Path, client_ca: Option<&str>) -> Vec<String> {
    let mut args = vec![
        "--tls-cert".to_owned(),
        dir.join("cert.pem").display().to_string(),
        "--tls-key".to_owned(),
        dir.join("key.pem").display().to_string(),
    ];
    if let Some(ca) = client_ca {
        let path = dir.join("client-ca.pem");
        std::fs::write(&path, ca).unwrap();
        args.extend(["--tls-client-ca".to_owned(), path.display().to_string()]);
    }
    args
}

fn start(args: &[String]) -> Replica {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Replica::start(&args)
}

#[tokio::test]
async fn tls_serves_grpc_and_refuses_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("creditgate test CA");
    ca.server().write(dir.path());
    let replica = start(&tls_args(dir.path(), None));
    let serving = health_over_tls(replica.addr, &ca.pem(), None).await;
    assert_eq!(serving, Ok(ServingStatus::Serving as i32));
    // The creditgate services themselves over TLS.
    let channel = tls_channel(replica.addr, &ca.pem(), None).await.unwrap();
    let mut ledger =
        creditgate::grpc::pb::ledger_service_client::LedgerServiceClient::new(channel.clone());
    ledger
        .upsert_buyer(creditgate::grpc::pb::UpsertBuyerRequest {
            buyer: Some(buyer("B-1", "1000.00")),
            update_mask: None,
        })
        .await
        .unwrap();
    // A client that does not trust the CA refuses the server.
    let stranger = TestCa::new("another CA");
    assert!(
        health_over_tls(replica.addr, &stranger.pem(), None)
            .await
            .is_err()
    );
    // Plaintext HTTP/2 is not answered.
    let plain = tonic::transport::Endpoint::from_shared(format!("http://{}", replica.addr))
        .unwrap()
        .connect_timeout(std::time::Duration::from_secs(2))
        .timeout(std::time::Duration::from_secs(2))
        .connect_lazy();
    let refused = HealthClient::new(plain)
        .check(HealthCheckRequest::default())
        .await;
    assert!(refused.is_err(), "{refused:?}");
}

#[tokio::test]
async fn mutual_tls_accepts_clients_of_its_ca_and_refuses_others() {
    let dir = tempfile::tempdir().unwrap();
    let server_ca = TestCa::new("server CA");
    server_ca.server().write(dir.path());
    let client_ca = TestCa::new("client CA");
    let replica = start(&tls_args(dir.path(), Some(&client_ca.pem())));
    let erp = client_ca.client("erp-prod");
    assert_eq!(
        health_over_tls(replica.addr, &server_ca.pem(), Some(&erp)).await,
        Ok(ServingStatus::Serving as i32)
    );
    // No client certificate, or one of another CA: the handshake is refused.
    assert!(
        health_over_tls(replica.addr, &server_ca.pem(), None)
            .await
            .is_err()
    );
    let rogue = TestCa::new("rogue CA").client("erp-prod");
    assert!(
        health_over_tls(replica.addr, &server_ca.pem(), Some(&rogue))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn sighup_rotates_the_certificate_and_a_bad_file_keeps_the_one_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let old_ca = TestCa::new("old CA");
    old_ca.server().write(dir.path());
    let replica = start(&tls_args(dir.path(), None));
    assert!(
        health_over_tls(replica.addr, &old_ca.pem(), None)
            .await
            .is_ok()
    );
    let new_ca = TestCa::new("new CA");
    new_ca.server().write(dir.path());
    // Not before the signal: the files are read at start and on SIGHUP only.
    assert!(
        health_over_tls(replica.addr, &new_ca.pem(), None)
            .await
            .is_err()
    );
    replica.signal("HUP");
    eventually("the new certificate is served", || async {
        health_over_tls(replica.addr, &new_ca.pem(), None)
            .await
            .is_ok()
    })
    .await;
    assert!(
        health_over_tls(replica.addr, &old_ca.pem(), None)
            .await
            .is_err()
    );
    // A botched rotation (a key that is not PEM) keeps the certificate in use.
    std::fs::write(dir.path().join("key.pem"), "not a key").unwrap();
    replica.signal("HUP");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        health_over_tls(replica.addr, &new_ca.pem(), None).await,
        Ok(ServingStatus::Serving as i32)
    );
}
