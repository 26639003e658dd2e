//! creditgate-noop: the benchmarks' physical limit. It serves the same
//! `creditgate.v1.CreditDecisionService` methods with a constant answer, on the
//! same stack (server::serve_routes: admission, transport), settings and allocator as creditgate, so that the
//! ratio creditgate / no-op is the cost of the credit logic and its store.
//!
//!   creditgate-noop --listen 127.0.0.1:50061

use creditgate::grpc::pb;
use creditgate::grpc::pb::credit_decision_service_server::{
    CreditDecisionService, CreditDecisionServiceServer,
};
use creditgate::grpc::server;
use tonic::{Request, Response, Status};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn eur(amount: &str) -> Option<pb::Money> {
    Some(pb::Money {
        currency_code: "EUR".into(),
        amount: amount.into(),
    })
}

struct Noop;

#[tonic::async_trait]
impl CreditDecisionService for Noop {
    async fn check_credit_limit(
        &self,
        _request: Request<pb::CheckCreditLimitRequest>,
    ) -> Result<Response<pb::CheckCreditLimitResponse>, Status> {
        Ok(Response::new(pb::CheckCreditLimitResponse {
            decision: pb::Decision::Approved as i32,
            reasons: vec![pb::Reason {
                code: "WITHIN_LIMIT".into(),
                message: "exposure 1.00 EUR within the manual credit limit of 1000000000.00 EUR"
                    .into(),
            }],
            credit_limit: eur("1000000000.00"),
            exposure: eur("1.00"),
            available: eur("999999999.00"),
            decision_id: "01a22446-4351-730d-86c6-3dac6d0d20cd".into(),
            limit_source: "manual".into(),
            policy_version: "2026-11-default-1".into(),
            counter_offer: None,
        }))
    }

    async fn score_buyer(
        &self,
        request: Request<pb::ScoreBuyerRequest>,
    ) -> Result<Response<pb::ScoreBuyerResponse>, Status> {
        Ok(Response::new(pb::ScoreBuyerResponse {
            buyer_id: request.into_inner().buyer_id,
            score: 500,
            grade: 5,
            probability_of_default: "0.0040".into(),
            recommended_limit: eur("0.00"),
            reasons: vec![pb::Reason {
                code: "NO_FINANCIALS".into(),
                message: "− 60 points: no financial figures on file".into(),
            }],
            valid_until: "2027-05-27".into(),
            scored_limit: eur("0.00"),
            insured_limit: eur("0.00"),
            discretionary_limit: eur("0.00"),
            policy_version: "2026-11-default-1".into(),
        }))
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let listen = args
        .iter()
        .position(|a| a == "--listen")
        .and_then(|i| args.get(i + 1))
        .map_or("127.0.0.1:50061", String::as_str);
    let listener = tokio::net::TcpListener::bind(listen).await.expect("bind");
    println!(
        "creditgate-noop listening addr={}",
        listener.local_addr().expect("addr")
    );
    server::serve_routes(
        listener,
        tonic::service::Routes::new(CreditDecisionServiceServer::new(Noop)),
        tonic_health::server::health_reporter(),
        server::ServerOptions::default(),
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
    )
    .await
    .expect("serve");
}
