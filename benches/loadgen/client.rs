//! Connections, buyer seeding and the one call every worker repeats.

use crate::cli::Rpc;
use creditgate::grpc::pb;
use creditgate::grpc::pb::credit_decision_service_client::CreditDecisionServiceClient;
use creditgate::grpc::pb::ledger_service_client::LedgerServiceClient;
use std::collections::hash_map::RandomState;
use std::error::Error;
use std::hash::BuildHasher;
use std::time::{Duration, SystemTime};
use tokio::task::JoinSet;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, TimeoutExpired};

pub type DecisionClient = CreditDecisionServiceClient<Channel>;

/// What one call came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// gRPC status OK; the decision for CheckCreditLimit, None for ScoreBuyer.
    Ok(Option<pb::Decision>),
    /// A gRPC status code name, or a LOADGEN_* reason the call never completed.
    Failed(&'static str),
}

/// Error counted when a scheduled call is not sent because too many are in flight.
pub const OVERLOAD: &str = "LOADGEN_OVERLOAD";
/// Error counted when a worker task panicked (a loadgen bug, not a server answer).
pub const TASK_FAILED: &str = "LOADGEN_TASK_FAILED";

pub fn buyer_id(index: u32) -> String {
    format!("LG-B-{index}")
}

/// A short random tag that keeps this run's order ids apart from earlier runs'.
pub fn run_prefix() -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let random = RandomState::new().hash_one((nanos, std::process::id()));
    format!("{:08x}", random >> 32)
}

/// "transport error: ...: Connection refused" instead of just "transport error".
fn describe(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // hyper and tonic often repeat their cause's message in their own.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// `count` distinct HTTP/2 connections: one `Endpoint::connect` each.
pub async fn connect_all(
    target: &str,
    count: usize,
    timeout: Duration,
) -> Result<Vec<Channel>, String> {
    let endpoint = Endpoint::from_shared(target.to_owned())
        .map_err(|e| format!("--target {target:?}: {}", describe(&e)))?
        .tcp_nodelay(true)
        .connect_timeout(timeout);
    let mut channels = Vec::with_capacity(count);
    for n in 0..count {
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| format!("connection {n} to {target}: {}", describe(&e)))?;
        channels.push(channel);
    }
    Ok(channels)
}

/// Upserts LG-B-0 .. LG-B-<buyers-1>, one sequential stream of calls per connection.
pub async fn seed_buyers(
    channels: &[Channel],
    buyers: u32,
    open_invoices: u32,
    limit: &str,
    timeout: Duration,
) -> Result<(), String> {
    use creditgate::clock::{Clock, SystemClock};
    let today = SystemClock.today();
    let (issue_date, due_date) = (today.to_string(), today.add_days(60).to_string());
    let stride = u32::try_from(channels.len()).map_err(|e| e.to_string())?;
    let mut tasks = JoinSet::new();
    for (first, channel) in (0..stride).zip(channels) {
        let mut client = LedgerServiceClient::new(channel.clone());
        let limit = limit.to_owned();
        let (issue_date, due_date) = (issue_date.clone(), due_date.clone());
        tasks.spawn(async move {
            for index in (first..buyers).step_by(stride as usize) {
                let id = buyer_id(index);
                let buyer = pb::Buyer {
                    name: format!("{id} Loadgen GmbH"),
                    buyer_id: id.clone(),
                    country_code: "DE".into(),
                    currency_code: "EUR".into(),
                    risk_tier: pb::RiskTier::Standard as i32,
                    credit_limit: Some(pb::Money {
                        currency_code: "EUR".into(),
                        amount: limit.clone(),
                    }),
                    payment_terms_days: 30,
                    financials: None,
                    external_rating: None,
                    insurance: None,
                    early_payment_discount: None,
                };
                let mut request = Request::new(pb::UpsertBuyerRequest {
                    buyer: Some(buyer),
                    update_mask: None,
                });
                request.set_timeout(timeout);
                match tokio::time::timeout(timeout, client.upsert_buyer(request)).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(status)) => {
                        return Err(format!(
                            "UpsertBuyer {id}: {} {}",
                            code_name(status.code()),
                            status.message()
                        ));
                    }
                    Err(_) => {
                        return Err(format!("UpsertBuyer {id}: no answer within {timeout:?}"));
                    }
                }
                for n in 0..open_invoices {
                    let mut request = Request::new(pb::RecordInvoiceRequest {
                        buyer_id: id.clone(),
                        invoice_id: format!("LG-INV-{n}"),
                        order_id: String::new(),
                        amount: Some(pb::Money {
                            currency_code: "EUR".into(),
                            amount: "1.00".into(),
                        }),
                        issue_date: issue_date.clone(),
                        due_date: due_date.clone(),
                    });
                    request.set_timeout(timeout);
                    client
                        .record_invoice(request)
                        .await
                        .map_err(|status| format!("RecordInvoice {id}: {}", status.message()))?;
                }
            }
            Ok(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.map_err(|e| format!("seeding task: {e}"))??;
    }
    Ok(())
}

/// The call a run repeats, and everything needed to build each request.
pub struct Workload {
    pub rpc: Rpc,
    buyers: u32,
    amount: String,
    order_prefix: String,
    fixed_order_id: Option<String>,
    timeout: Duration,
}

impl Workload {
    pub fn new(
        rpc: Rpc,
        buyers: u32,
        amount: String,
        distinct_orders: bool,
        timeout: Duration,
    ) -> Self {
        let order_prefix = format!("LG-{}", run_prefix());
        let fixed_order_id = (!distinct_orders).then(|| format!("{order_prefix}-fixed"));
        Workload {
            rpc,
            buyers,
            amount,
            order_prefix,
            fixed_order_id,
            timeout,
        }
    }

    /// The per-call deadline.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Uniformly spread, deterministic buyer choice for (worker, seq): splitmix64.
    fn buyer_index(&self, worker: u64, seq: u64) -> u32 {
        let mut z = ((worker << 40) ^ seq).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // The remainder is below `buyers`, a u32.
        (z % u64::from(self.buyers)) as u32
    }

    /// One call: Ok only on gRPC status OK; a missing answer after the deadline
    /// counts as DEADLINE_EXCEEDED.
    pub async fn call(&self, client: &mut DecisionClient, worker: u64, seq: u64) -> Outcome {
        let buyer_id = buyer_id(self.buyer_index(worker, seq));
        let answer = async {
            match self.rpc {
                Rpc::Check => {
                    let order_id = match &self.fixed_order_id {
                        Some(fixed) => fixed.clone(),
                        None => format!("{}-{worker}-{seq}", self.order_prefix),
                    };
                    let mut request = Request::new(pb::CheckCreditLimitRequest {
                        buyer_id,
                        order_id,
                        amount: Some(pb::Money {
                            currency_code: "EUR".into(),
                            amount: self.amount.clone(),
                        }),
                        payment_terms_days: 0,
                    });
                    request.set_timeout(self.timeout);
                    let response = client.check_credit_limit(request).await?;
                    let decision = pb::Decision::try_from(response.get_ref().decision)
                        .unwrap_or(pb::Decision::Unspecified);
                    Ok(Some(decision))
                }
                Rpc::Score => {
                    let mut request = Request::new(pb::ScoreBuyerRequest { buyer_id });
                    request.set_timeout(self.timeout);
                    client.score_buyer(request).await.map(|_| None)
                }
            }
        };
        match tokio::time::timeout(self.timeout, answer).await {
            Ok(Ok(decision)) => Outcome::Ok(decision),
            Ok(Err(status)) if is_local_timeout(&status) => {
                Outcome::Failed(code_name(Code::DeadlineExceeded))
            }
            Ok(Err(status)) => Outcome::Failed(code_name(status.code())),
            Err(_) => Outcome::Failed(code_name(Code::DeadlineExceeded)),
        }
    }
}

/// tonic's channel enforces the grpc-timeout we send and reports its expiry as
/// CANCELLED "Timeout expired"; gRPC calls a passed client deadline DEADLINE_EXCEEDED,
/// and CANCELLED is kept for what the server cancels.
fn is_local_timeout(status: &tonic::Status) -> bool {
    status.code() == Code::Cancelled
        && (status.message() == TimeoutExpired(()).to_string()
            || status
                .source()
                .is_some_and(|source| source.is::<TimeoutExpired>()))
}

/// The canonical UPPER_SNAKE name of a gRPC status code.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}
