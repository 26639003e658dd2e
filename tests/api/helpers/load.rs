//! Clients under load that behave like order-entry systems: a check that got no
//! decision (transport error, UNAVAILABLE, deadline exceeded, or a REFERRED
//! `STORE_UNAVAILABLE`, whose message says "retry shortly") is retried with the
//! same order_id, possibly on another replica, a bounded number of times. Every
//! attempt is kept with its send and reply times, so that tests can build their
//! model from what the clients were actually told, and when.

use super::{codes, decision, eur};
use creditgate::grpc::pb;
use creditgate::grpc::pb::credit_decision_service_client::CreditDecisionServiceClient;
use pb::Decision;
use std::time::{Duration, Instant};
use tonic::Code;
use tonic::transport::Channel;

/// One call and what came back.
#[derive(Debug)]
pub struct Attempt {
    /// Index of the channel (replica) the call went to.
    pub replica: usize,
    pub sent: Instant,
    pub done: Instant,
    pub answer: Result<pb::CheckCreditLimitResponse, tonic::Status>,
}

impl Attempt {
    /// No decision at all: the call failed in transport or in time.
    pub fn no_answer(&self) -> bool {
        match &self.answer {
            Ok(_) => false,
            Err(status) => {
                assert!(
                    matches!(
                        status.code(),
                        Code::Unavailable
                            | Code::Unknown
                            | Code::DeadlineExceeded
                            | Code::Cancelled
                    ),
                    "a check failed for another reason than the store or the transport: {status:?}"
                );
                true
            }
        }
    }

    /// REFERRED because the store could not tell the exposure.
    pub fn store_unavailable(&self) -> bool {
        self.answer
            .as_ref()
            .is_ok_and(|r| decision(r) == Decision::Referred && codes(r) == ["STORE_UNAVAILABLE"])
    }

    /// What a client retries.
    pub fn retryable(&self) -> bool {
        self.no_answer() || self.store_unavailable()
    }

    /// The decision, when it is one the client acts on.
    pub fn decided(&self) -> Option<&pb::CheckCreditLimitResponse> {
        match &self.answer {
            Ok(response) if !self.store_unavailable() => Some(response),
            _ => None,
        }
    }

    /// APPROVED (a fresh approval or an `ALREADY_APPROVED` replay).
    pub fn approved(&self) -> Option<&pb::CheckCreditLimitResponse> {
        self.answer
            .as_ref()
            .ok()
            .filter(|r| decision(r) == Decision::Approved)
    }
}

/// How a client retries.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    /// Calls per order at most, the first included.
    pub attempts: usize,
    /// Wait between two calls of one order.
    pub pause: Duration,
    /// The gRPC deadline of each call.
    pub timeout: Duration,
}

/// One CheckCreditLimit on `channel` under `timeout`.
pub async fn check_once(
    channel: &Channel,
    replica: usize,
    buyer: &str,
    order: &str,
    amount: &str,
    timeout: Duration,
) -> Attempt {
    let mut request = tonic::Request::new(pb::CheckCreditLimitRequest {
        buyer_id: buyer.into(),
        order_id: order.into(),
        amount: eur(amount),
        payment_terms_days: 0,
    });
    request.set_timeout(timeout);
    let sent = Instant::now();
    let answer = CreditDecisionServiceClient::new(channel.clone())
        .check_credit_limit(request)
        .await
        .map(|r| r.into_inner());
    Attempt {
        replica,
        sent,
        done: Instant::now(),
        answer,
    }
}

/// Checks one order until it is decided or `retry.attempts` calls were made: the
/// first call on `channels[first]`, every retry on the next channel
/// (`channels[(first + 1) % len]`: with two replicas, the other one).
pub async fn check_retrying(
    channels: &[Channel],
    first: usize,
    buyer: &str,
    order: &str,
    amount: &str,
    retry: Retry,
) -> Vec<Attempt> {
    let mut attempts = Vec::new();
    for n in 0..retry.attempts {
        let replica = if n == 0 {
            first
        } else {
            (first + 1) % channels.len()
        };
        if n > 0 {
            tokio::time::sleep(retry.pause).await;
        }
        let attempt = check_once(
            &channels[replica],
            replica,
            buyer,
            order,
            amount,
            retry.timeout,
        )
        .await;
        let again = attempt.retryable();
        attempts.push(attempt);
        if !again {
            break;
        }
    }
    attempts
}

/// The decision id of every approval among `attempts`, in order.
pub fn approval_ids(attempts: &[Attempt]) -> Vec<&str> {
    attempts
        .iter()
        .filter_map(Attempt::approved)
        .map(|r| r.decision_id.as_str())
        .collect()
}
