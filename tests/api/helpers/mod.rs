//! Test harness: spawns a real server per test with its own state and a clock the
//! test controls, and wraps the clients in terse helpers.

pub mod curl;
pub mod edge;
pub mod grpc_web;
pub mod load;
pub mod postgres;
pub mod process;
pub mod redis;
pub mod tls;

use creditgate::clock::{Clock, ManualClock, SystemClock};
use creditgate::domain::date::Date;
use creditgate::domain::ids::BuyerId;
use creditgate::domain::policy::Policy;
use creditgate::grpc::pb;
use creditgate::grpc::pb::credit_decision_service_client::CreditDecisionServiceClient;
use creditgate::grpc::pb::credit_review_service_client::CreditReviewServiceClient;
use creditgate::grpc::pb::ledger_service_client::LedgerServiceClient;
use creditgate::grpc::server::{self, ServerOptions};
use creditgate::service::{
    CreditService, InvariantMonitor, LedgerEntry, RowOutcome, ServiceError, ServiceSettings,
};
use creditgate::store::Store;
use creditgate::store::memory::MemoryStore;
use creditgate::store::redis::{RedisOptions, RedisSettings, RedisStore, RedisTarget};
use redis::{RedisCluster, RedisServer};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once, OnceLock};
use std::time::Duration;
use tokio::sync::oneshot;
use tonic::transport::Channel;

pub use pb::Decision;

/// Which store the contract suite runs on: CREDITGATE_TEST_STORE = memory (default),
/// redis (a real redis-server) or cluster (a real 3-master Redis Cluster).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Memory,
    Redis,
    Cluster,
}

impl Backend {
    pub fn from_env() -> Backend {
        match std::env::var("CREDITGATE_TEST_STORE").as_deref() {
            Ok("redis") => Backend::Redis,
            Ok("cluster") => Backend::Cluster,
            Ok("memory") | Err(_) => Backend::Memory,
            Ok(other) => panic!("CREDITGATE_TEST_STORE={other:?}: use memory, redis or cluster"),
        }
    }
}

/// One redis-server and one cluster per test binary, shared; each test app gets
/// its own key namespace in them, so tests never see each other's state.
pub fn shared_redis() -> String {
    static SERVER: OnceLock<Mutex<RedisServer>> = OnceLock::new();
    SERVER
        .get_or_init(|| Mutex::new(RedisServer::start()))
        .lock()
        .unwrap()
        .url()
}

pub fn shared_cluster() -> Vec<String> {
    static CLUSTER: OnceLock<RedisCluster> = OnceLock::new();
    CLUSTER.get_or_init(RedisCluster::start).seeds()
}

pub fn unique_namespace() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "t{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// Redis store options for tests: short timeouts so that outages show quickly.
pub fn redis_options(target: RedisTarget, namespace: &str) -> RedisOptions {
    RedisOptions {
        target,
        settings: RedisSettings {
            response_timeout: Duration::from_millis(500),
            connection_timeout: Duration::from_millis(500),
            cluster_retries: 2,
            ca_pem: None,
            ..RedisSettings::default()
        },
        namespace: namespace.to_owned(),
        profile_cache_ttl: Duration::from_secs(1),
        allow_uninitialised_writes: false,
    }
}

/// Opens a Redis store and writes its markers, as `creditgate store-init` does.
pub async fn initialised_redis(options: &RedisOptions) -> RedisStore {
    let store = RedisStore::open(options).expect("open redis store");
    store.init().await.expect("store-init");
    store
}

/// The server's own service, called in-process, for what no RPC carries: the
/// batched ledger rows `creditgate import` writes straight into a store.
pub type LedgerRows = Arc<
    dyn Fn(
            BuyerId,
            Vec<Vec<LedgerEntry>>,
        ) -> Pin<Box<dyn Future<Output = Result<Vec<RowOutcome>, ServiceError>> + Send>>
        + Send
        + Sync,
>;

pub struct TestApp {
    pub addr: SocketAddr,
    pub decisions: CreditDecisionServiceClient<Channel>,
    pub ledger: LedgerServiceClient<Channel>,
    pub review: CreditReviewServiceClient<Channel>,
    pub clock: Arc<ManualClock>,
    pub ledger_rows: LedgerRows,
    /// Runtime invariant violations the server logged (reserved without APPROVED).
    pub invariants: InvariantMonitor,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn init_logs() {
    static ONCE: Once = Once::new();
    // Logs only on demand, as they would drown the test output otherwise.
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let text = creditgate::config::LogFormat::Text;
            if let Ok(writer) = creditgate::telemetry::init(text, "debug") {
                // The test process has no end to flush at: keep the writer forever.
                std::mem::forget(writer);
            }
        }
    });
}

pub fn test_settings() -> ServiceSettings {
    ServiceSettings {
        store_timeout: Duration::from_millis(500),
        ..ServiceSettings::default()
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(test_settings()).await
    }

    /// A server on the backend CREDITGATE_TEST_STORE names, with fresh state.
    pub async fn spawn_with(settings: ServiceSettings) -> TestApp {
        match Backend::from_env() {
            Backend::Memory => TestApp::spawn_on(MemoryStore::new(), settings).await,
            Backend::Redis => {
                let options = redis_options(RedisTarget::Url(shared_redis()), &unique_namespace());
                TestApp::spawn_on(initialised_redis(&options).await, settings).await
            }
            Backend::Cluster => {
                let options =
                    redis_options(RedisTarget::Cluster(shared_cluster()), &unique_namespace());
                TestApp::spawn_on(initialised_redis(&options).await, settings).await
            }
        }
    }

    pub async fn spawn_on<S: Store>(store: S, settings: ServiceSettings) -> TestApp {
        let options = ServerOptions {
            health_interval: Duration::from_millis(100),
            ..ServerOptions::default()
        };
        TestApp::spawn_serving(store, settings, options).await
    }

    /// A server on the embedded store with the given network-edge options.
    pub async fn spawn_edge(options: ServerOptions) -> TestApp {
        TestApp::spawn_serving(MemoryStore::new(), test_settings(), options).await
    }

    /// A server whose decisions go to the archive at `archive_url` through its
    /// own shipper (as `creditgate --archive-url` runs them), on a store set up
    /// with an outbox (MemoryStore::with_outbox, or RedisSettings::outbox).
    pub async fn spawn_archived<S: Store>(store: S, archive_url: &str) -> TestApp {
        let options = ServerOptions {
            health_interval: Duration::from_millis(100),
            ..ServerOptions::default()
        };
        let archive = Arc::new(
            creditgate::archive::pool::Archive::new(archive_url, 400).expect("archive url"),
        );
        TestApp::spawn_inner(store, test_settings(), options, Some(archive)).await
    }

    async fn spawn_serving<S: Store>(
        store: S,
        settings: ServiceSettings,
        options: ServerOptions,
    ) -> TestApp {
        TestApp::spawn_inner(store, settings, options, None).await
    }

    async fn spawn_inner<S: Store>(
        store: S,
        settings: ServiceSettings,
        options: ServerOptions,
        archive: Option<Arc<creditgate::archive::pool::Archive>>,
    ) -> TestApp {
        init_logs();
        let clock = Arc::new(ManualClock::starting_at(SystemClock.now_secs()));
        let mut service = CreditService::new(
            Arc::new(store),
            Arc::new(Policy::default()),
            clock.clone(),
            settings,
        );
        if let Some(archive) = archive {
            service = service.with_archive(archive.clone());
            let (stop, stopped) = tokio::sync::watch::channel(false);
            // Never stopped: the shipper lives as long as the test's runtime.
            std::mem::forget(stop);
            tokio::spawn(
                creditgate::archive::shipper::Shipper {
                    store: service.store().clone(),
                    archive,
                    clock: service.clock(),
                    stop: stopped,
                    metrics: None,
                }
                .run(),
            );
        }
        let invariants = service.invariants();
        let in_process = service.clone();
        let ledger_rows: LedgerRows = Arc::new(move |buyer_id, rows| {
            let service = in_process.clone();
            Box::pin(async move { service.record_ledger_rows(&buyer_id, rows).await })
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            server::serve(listener, service, options, async {
                let _ = rx.await;
            })
            .await
            .expect("server failed");
        });
        let channel = connect(addr).await;
        TestApp {
            addr,
            decisions: CreditDecisionServiceClient::new(channel.clone()),
            ledger: LedgerServiceClient::new(channel.clone()),
            review: CreditReviewServiceClient::new(channel),
            clock,
            ledger_rows,
            invariants,
            shutdown: Some(tx),
        }
    }

    pub fn today(&self) -> Date {
        self.clock.today()
    }

    /// An ISO date `offset` days from the server's today.
    pub fn day(&self, offset: i32) -> String {
        self.today().add_days(offset).to_string()
    }

    pub async fn upsert(&self, buyer: pb::Buyer) -> pb::Buyer {
        self.try_upsert(buyer).await.expect("upsert buyer")
    }

    pub async fn try_upsert(&self, buyer: pb::Buyer) -> Result<pb::Buyer, tonic::Status> {
        self.ledger
            .clone()
            .upsert_buyer(pb::UpsertBuyerRequest {
                buyer: Some(buyer),
                update_mask: None,
            })
            .await
            .map(|r| r.into_inner())
    }

    /// UpsertBuyer with an update_mask naming `paths` (AIP-134 partial write).
    pub async fn upsert_masked(
        &self,
        buyer: pb::Buyer,
        paths: &[&str],
    ) -> Result<pb::Buyer, tonic::Status> {
        self.ledger
            .clone()
            .upsert_buyer(pb::UpsertBuyerRequest {
                buyer: Some(buyer),
                update_mask: Some(creditgate::grpc::field_mask::FieldMask {
                    paths: paths.iter().map(|p| (*p).to_owned()).collect(),
                }),
            })
            .await
            .map(|r| r.into_inner())
    }

    /// Moves the server's clock `days` days ahead.
    pub fn advance_days(&self, days: i64) {
        self.clock.advance_secs(days * 86_400);
    }

    pub async fn check(
        &self,
        buyer: &str,
        order: &str,
        amount: &str,
    ) -> pb::CheckCreditLimitResponse {
        self.try_check(buyer, order, eur(amount))
            .await
            .expect("check credit limit")
    }

    pub async fn try_check(
        &self,
        buyer: &str,
        order: &str,
        amount: Option<pb::Money>,
    ) -> Result<pb::CheckCreditLimitResponse, tonic::Status> {
        self.decisions
            .clone()
            .check_credit_limit(pb::CheckCreditLimitRequest {
                buyer_id: buyer.into(),
                order_id: order.into(),
                amount,
                payment_terms_days: 0,
            })
            .await
            .map(|r| r.into_inner())
    }

    /// Records an invoice issued `issue` days and due `due` days from today.
    pub async fn invoice(
        &self,
        buyer: &str,
        invoice: &str,
        order: &str,
        amount: &str,
        issue: i32,
        due: i32,
    ) -> Result<pb::RecordInvoiceResponse, tonic::Status> {
        self.ledger
            .clone()
            .record_invoice(pb::RecordInvoiceRequest {
                buyer_id: buyer.into(),
                invoice_id: invoice.into(),
                order_id: order.into(),
                amount: eur(amount),
                issue_date: self.day(issue),
                due_date: self.day(due),
            })
            .await
            .map(|r| r.into_inner())
    }

    /// Records a payment made today.
    pub async fn pay(
        &self,
        buyer: &str,
        invoice: &str,
        amount: &str,
        payment_id: &str,
    ) -> Result<pb::RecordPaymentResponse, tonic::Status> {
        self.pay_on(buyer, invoice, amount, payment_id, 0).await
    }

    /// Records a payment made `paid` days from today.
    pub async fn pay_on(
        &self,
        buyer: &str,
        invoice: &str,
        amount: &str,
        payment_id: &str,
        paid: i32,
    ) -> Result<pb::RecordPaymentResponse, tonic::Status> {
        self.ledger
            .clone()
            .record_payment(pb::RecordPaymentRequest {
                buyer_id: buyer.into(),
                invoice_id: invoice.into(),
                amount: eur(amount),
                paid_date: self.day(paid),
                payment_id: payment_id.into(),
            })
            .await
            .map(|r| r.into_inner())
    }

    pub async fn dispute(
        &self,
        buyer: &str,
        invoice: &str,
        disputed: bool,
    ) -> Result<pb::SetInvoiceDisputeResponse, tonic::Status> {
        self.ledger
            .clone()
            .set_invoice_dispute(pb::SetInvoiceDisputeRequest {
                buyer_id: buyer.into(),
                invoice_id: invoice.into(),
                disputed,
            })
            .await
            .map(|r| r.into_inner())
    }

    pub async fn cancel(
        &self,
        buyer: &str,
        order: &str,
    ) -> Result<pb::CancelOrderResponse, tonic::Status> {
        self.ledger
            .clone()
            .cancel_order(pb::CancelOrderRequest {
                buyer_id: buyer.into(),
                order_id: order.into(),
            })
            .await
            .map(|r| r.into_inner())
    }

    pub async fn exposure(&self, buyer: &str) -> pb::BuyerExposure {
        self.try_exposure(buyer).await.expect("get buyer exposure")
    }

    pub async fn try_exposure(&self, buyer: &str) -> Result<pb::BuyerExposure, tonic::Status> {
        self.ledger
            .clone()
            .get_buyer_exposure(pb::GetBuyerExposureRequest {
                buyer_id: buyer.into(),
            })
            .await
            .map(|r| r.into_inner())
    }

    pub async fn held(
        &self,
        buyer: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<pb::ListHeldOrdersResponse, tonic::Status> {
        self.review
            .clone()
            .list_held_orders(pb::ListHeldOrdersRequest {
                buyer_id: buyer.into(),
                page_size,
                page_token: page_token.into(),
            })
            .await
            .map(|r| r.into_inner())
    }

    pub async fn release(
        &self,
        buyer: &str,
        order: &str,
        amount: &str,
        by: &str,
        reason: &str,
    ) -> Result<pb::ReleaseOrderResponse, tonic::Status> {
        self.review
            .clone()
            .release_order(pb::ReleaseOrderRequest {
                buyer_id: buyer.into(),
                order_id: order.into(),
                amount: eur(amount),
                released_by: by.into(),
                reason: reason.into(),
            })
            .await
            .map(|r| r.into_inner())
    }

    pub async fn list_decisions(
        &self,
        buyer: &str,
        from: &str,
        to: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<pb::ListDecisionsResponse, tonic::Status> {
        self.review
            .clone()
            .list_decisions(pb::ListDecisionsRequest {
                buyer_id: buyer.into(),
                from: from.into(),
                to: to.into(),
                page_size,
                page_token: page_token.into(),
            })
            .await
            .map(|r| r.into_inner())
    }

    pub async fn decision_record(&self, id: &str) -> Result<pb::DecisionRecord, tonic::Status> {
        self.review
            .clone()
            .get_decision(pb::GetDecisionRequest {
                decision_id: id.into(),
            })
            .await
            .map(|r| r.into_inner())
    }

    pub async fn score(&self, buyer: &str) -> Result<pb::ScoreBuyerResponse, tonic::Status> {
        self.decisions
            .clone()
            .score_buyer(pb::ScoreBuyerRequest {
                buyer_id: buyer.into(),
            })
            .await
            .map(|r| r.into_inner())
    }
}

pub async fn connect(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .expect("connect to the test server")
}

pub fn money(currency: &str, amount: &str) -> Option<pb::Money> {
    Some(pb::Money {
        currency_code: currency.into(),
        amount: amount.into(),
    })
}

pub fn eur(amount: &str) -> Option<pb::Money> {
    money("EUR", amount)
}

/// A standard-tier EUR buyer with a manual limit.
pub fn buyer(id: &str, limit: &str) -> pb::Buyer {
    pb::Buyer {
        buyer_id: id.into(),
        name: format!("{id} GmbH"),
        country_code: "DE".into(),
        currency_code: "EUR".into(),
        risk_tier: pb::RiskTier::Standard as i32,
        credit_limit: eur(limit),
        payment_terms_days: 30,
        financials: None,
        external_rating: None,
        insurance: None,
        early_payment_discount: None,
    }
}

/// The worked example of docs/scoring.md: no manual limit, 160 000.00 EUR scored.
pub fn scored_buyer(id: &str) -> pb::Buyer {
    let mut b = buyer(id, "0");
    b.credit_limit = None;
    b.financials = Some(pb::Financials {
        annual_revenue: eur("12000000.00"),
        net_worth: eur("3000000.00"),
        years_in_business: 12,
    });
    b.external_rating = Some(pb::ExternalRating {
        grade: 3,
        legal_disputes: 0,
        insolvency: false,
    });
    b
}

pub fn with_tier(mut buyer: pb::Buyer, tier: pb::RiskTier) -> pb::Buyer {
    buyer.risk_tier = tier as i32;
    buyer
}

pub fn with_insurance(mut buyer: pb::Buyer, insured: &str) -> pb::Buyer {
    buyer.insurance = Some(pb::Insurance {
        insured_limit: eur(insured),
        indemnity_percent: "90".into(),
    });
    buyer
}

pub fn codes(response: &pb::CheckCreditLimitResponse) -> Vec<&str> {
    response.reasons.iter().map(|r| r.code.as_str()).collect()
}

pub fn decision(response: &pb::CheckCreditLimitResponse) -> Decision {
    Decision::try_from(response.decision).expect("known decision")
}

pub fn amount(money: &Option<pb::Money>) -> &str {
    money.as_ref().map_or("<none>", |m| m.amount.as_str())
}

/// Polls (bounded) until `done` holds; the bound is a safety net for a loaded
/// machine, not a speed claim.
pub async fn eventually<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !done().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The decision service's health status (what readiness probes ask).
pub async fn decision_health(addr: SocketAddr) -> i32 {
    health_of(connect(addr).await, server::DECISION_SERVICE)
        .await
        .expect("health check")
}

/// One health check of `service` ("" for the server as a whole) on `channel`.
pub async fn health_of(channel: Channel, service: &str) -> Result<i32, tonic::Status> {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .map(|r| r.into_inner().status)
}

/// The message of the reason `code` in a decision; panics when it is absent.
pub fn reason<'a>(response: &'a pb::CheckCreditLimitResponse, code: &str) -> &'a str {
    response
        .reasons
        .iter()
        .find(|r| r.code == code)
        .map(|r| r.message.as_str())
        .unwrap_or_else(|| panic!("no {code} among {:?}", codes(response)))
}
