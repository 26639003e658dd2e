//! What each creditgate request leaves in the log: one span (target
//! `creditgate::request`: rpc, buyer_id, latency_us) that every event of the
//! request carries, and one closing event — the decision (target
//! `creditgate::decision`, see `decision_log`) or the ledger write (target
//! `creditgate::ledger`). Either target can be silenced with the log filter,
//! e.g. `CREDITGATE_LOG=info,creditgate::decision=off` (docs/operations.md, "Logs").

use super::deadline::Received;
use crate::auth::Caller;
use crate::domain::ids::BuyerId;
use crate::metrics::grpc_codes::CODE_NAMES;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;
use tonic::Status;
use tracing::Instrument;

/// What a handler keeps of the request before it consumes it.
pub struct RequestMeta {
    received: Instant,
    caller: Option<Arc<str>>,
}

impl RequestMeta {
    pub fn of<T>(request: &tonic::Request<T>) -> RequestMeta {
        let extensions = request.extensions();
        RequestMeta {
            // Set by admission when the call arrived; now for in-process callers.
            received: extensions
                .get::<Received>()
                .map_or_else(Instant::now, |r| r.0),
            caller: extensions.get::<Caller>().map(|c| c.name.clone()),
        }
    }

    /// The caller's token name, `-` without authentication.
    pub fn caller(&self) -> &str {
        self.caller.as_deref().unwrap_or("-")
    }

    pub fn span(&self, rpc: &'static str, buyer_id: &BuyerId) -> tracing::Span {
        tracing::info_span!(
            target: "creditgate::request",
            "request",
            rpc,
            buyer_id = %buyer_id,
            latency_us = tracing::field::Empty,
        )
    }

    /// Microseconds since the call arrived, recorded on the span.
    pub fn finish(&self, span: &tracing::Span) -> u64 {
        let latency_us = u64::try_from(self.received.elapsed().as_micros()).unwrap_or(u64::MAX);
        span.record("latency_us", latency_us);
        latency_us
    }
}

/// Armed while a call's store work runs: dropped armed (the client reset the
/// stream, or a deadline dropped the handler), it logs that the call was
/// abandoned with its outcome unknown — a write or a reservation may have
/// happened — so the audit trail never silently misses a call.
pub struct Abandoned<'a> {
    pub rpc: &'static str,
    pub buyer_id: &'a BuyerId,
    /// Set for a check: the decision log's target, with the order.
    pub order_id: Option<&'a crate::domain::ids::OrderId>,
    pub meta: &'a RequestMeta,
    pub span: &'a tracing::Span,
    pub armed: bool,
}

impl Abandoned<'_> {
    /// The call ended with an answer: nothing to log here.
    pub fn answered(mut self) {
        self.armed = false;
    }
}

impl Drop for Abandoned<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (rpc, buyer_id, caller) = (self.rpc, self.buyer_id, self.meta.caller());
        let latency_us = self.meta.finish(self.span);
        let _entered = self.span.enter();
        match self.order_id {
            Some(order_id) => tracing::warn!(
                target: "creditgate::decision",
                buyer_id = %buyer_id,
                order_id = %order_id,
                caller,
                latency_us,
                "check abandoned before its answer: a reservation may or may not have been made; a retry of the order answers it"
            ),
            None => tracing::warn!(
                target: "creditgate::ledger",
                rpc,
                buyer_id = %buyer_id,
                caller,
                code = "CANCELLED",
                latency_us,
                "ledger write abandoned before its answer: it may or may not have been applied; a retry is harmless"
            ),
        }
    }
}

/// Whether a ledger RPC changes the ledger (and so gets a `ledger write` event).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Write,
    Read,
}

/// Runs a ledger call inside its request span; a write ends with one info
/// event carrying its outcome's gRPC code, so the audit trail has every write
/// and who made it.
pub async fn logged_call<T, E: Into<Status>>(
    meta: RequestMeta,
    rpc: &'static str,
    kind: Kind,
    buyer_id: &BuyerId,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, Status> {
    let span = meta.span(rpc, buyer_id);
    let abandoned = Abandoned {
        rpc,
        buyer_id,
        order_id: None,
        meta: &meta,
        span: &span,
        armed: kind == Kind::Write,
    };
    let result = call.instrument(span.clone()).await.map_err(Into::into);
    abandoned.answered();
    let latency_us = meta.finish(&span);
    if kind == Kind::Write {
        let code = match &result {
            Ok(_) => CODE_NAMES[0],
            Err(status) => CODE_NAMES
                .get(status.code() as usize)
                .copied()
                .unwrap_or("UNKNOWN"),
        };
        span.in_scope(|| {
            tracing::info!(
                target: "creditgate::ledger",
                rpc,
                buyer_id = %buyer_id,
                caller = meta.caller(),
                code,
                latency_us,
                "ledger write"
            );
        });
    }
    result
}
