//! Prometheus metrics (`--metrics-listen`). The metric names are a contract with
//! dashboards and alerts (docs/operations.md, "Metrics"): change none lightly.
//!
//! Every series is registered once, at start or on its first use, and the hot
//! path only touches the handle it holds: an atomic add, or an append to a
//! histogram's lock-free buffer. Without `--metrics-listen` no `Metrics` exists
//! and nothing is recorded.

pub mod exporter;
pub mod grpc_codes;
pub mod observe;
mod rpcs;

use crate::domain::policy::Decision;
use crate::domain::reason::ReasonCode;
use metrics::{Counter, Gauge, Histogram, Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use rpcs::Rpcs;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub use observe::Observe;
pub use rpcs::RpcId;

pub const REQUESTS_TOTAL: &str = "creditgate_requests_total";
pub const REQUEST_DURATION: &str = "creditgate_request_duration_seconds";
pub const DECISIONS_TOTAL: &str = "creditgate_decisions_total";
pub const DECISION_REASONS_TOTAL: &str = "creditgate_decision_reasons_total";
pub const STORE_DURATION: &str = "creditgate_store_duration_seconds";
pub const STORE_UP: &str = "creditgate_store_up";
pub const IN_FLIGHT: &str = "creditgate_in_flight_requests";
pub const BUILD_INFO: &str = "creditgate_build_info";
pub const ARCHIVE_OUTBOX: &str = "creditgate_archive_outbox_records";
pub const ARCHIVE_SHIPPED: &str = "creditgate_archive_shipped_total";
pub const ARCHIVE_UP: &str = "creditgate_archive_up";
pub const ARCHIVE_REJECTED: &str = "creditgate_archive_rejected_total";

/// Upper bounds of the latency buckets, in seconds: fine below a millisecond,
/// where a healthy decision lies (50 µs to 1 ms), then coarse up to the default
/// deadline and a little beyond.
pub const LATENCY_BUCKETS: [f64; 18] = [
    0.00005, 0.0001, 0.00015, 0.0002, 0.0003, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The store operations timed by [`crate::store::timed::Timed`], as the `op` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreOp {
    Health,
    LoadBuyer,
    LoadBuyerFresh,
    UpsertBuyer,
    StoreRating,
    CheckAndReserve,
    ReleaseReservation,
    CancelOrder,
    RecordInvoice,
    RecordPayment,
    RecordLedgerRows,
    SetDispute,
    Ledger,
    ReleaseOrder,
    Decision,
    HeldOrders,
}

impl StoreOp {
    pub const ALL: [StoreOp; 16] = [
        StoreOp::Health,
        StoreOp::LoadBuyer,
        StoreOp::LoadBuyerFresh,
        StoreOp::UpsertBuyer,
        StoreOp::StoreRating,
        StoreOp::CheckAndReserve,
        StoreOp::ReleaseReservation,
        StoreOp::CancelOrder,
        StoreOp::RecordInvoice,
        StoreOp::RecordPayment,
        StoreOp::RecordLedgerRows,
        StoreOp::SetDispute,
        StoreOp::Ledger,
        StoreOp::ReleaseOrder,
        StoreOp::Decision,
        StoreOp::HeldOrders,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StoreOp::Health => "health",
            StoreOp::LoadBuyer => "load_buyer",
            StoreOp::LoadBuyerFresh => "load_buyer_fresh",
            StoreOp::UpsertBuyer => "upsert_buyer",
            StoreOp::StoreRating => "store_rating",
            StoreOp::CheckAndReserve => "check_and_reserve",
            StoreOp::ReleaseReservation => "release_reservation",
            StoreOp::CancelOrder => "cancel_order",
            StoreOp::RecordInvoice => "record_invoice",
            StoreOp::RecordPayment => "record_payment",
            StoreOp::RecordLedgerRows => "record_ledger_rows",
            StoreOp::SetDispute => "set_dispute",
            StoreOp::Ledger => "ledger",
            StoreOp::ReleaseOrder => "release_order",
            StoreOp::Decision => "decision",
            StoreOp::HeldOrders => "held_orders",
        }
    }
}

/// Every series creditgate exports, and the recorder that renders them.
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
    rpcs: Rpcs,
    decisions: [Counter; 3],
    /// Indexed by `ReasonCode as usize`; registered on first use, so that the
    /// scoring factors (never a decision's reason) do not export empty series.
    reasons: Vec<OnceLock<Counter>>,
    store_ops: Vec<Histogram>,
    store_up: Gauge,
    in_flight: Gauge,
    /// Registered by the shipper: a server without an archive exports none.
    archive: OnceLock<ArchiveMetrics>,
}

/// The decision archive's shipper (docs/operations.md, "Archive backlog").
pub struct ArchiveMetrics {
    /// Records waiting in the outbox (Redis: all slots, as of the last sweep).
    pub outbox: Gauge,
    pub shipped: Counter,
    /// Records PostgreSQL refused for their content, set aside.
    pub rejected: Counter,
    /// 1 while batches commit, 0 while the archive refuses them.
    pub up: Gauge,
}

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

impl Metrics {
    /// A recorder of its own (not the process-global one), so that several
    /// servers in one process (the tests) keep separate counts.
    pub fn new(version: &str, policy_version: &str) -> Metrics {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Suffix("_duration_seconds".into()),
                &LATENCY_BUCKETS,
            )
            .expect("the latency buckets are not empty")
            .build_recorder();
        let recorder = Arc::new(recorder);
        let handle = recorder.handle();
        let counter = |name: &'static str, labels: Vec<Label>| {
            recorder.register_counter(&Key::from_parts(name, labels), &METADATA)
        };
        let decisions = [Decision::Approved, Decision::Held, Decision::Referred].map(|d| {
            counter(
                DECISIONS_TOTAL,
                vec![Label::new("decision", decision_label(d))],
            )
        });
        let store_ops = StoreOp::ALL
            .iter()
            .map(|op| {
                recorder.register_histogram(
                    &Key::from_parts(STORE_DURATION, vec![Label::new("op", op.as_str())]),
                    &METADATA,
                )
            })
            .collect();
        let gauge = |name: &'static str, labels: Vec<Label>| {
            recorder.register_gauge(&Key::from_parts(name, labels), &METADATA)
        };
        gauge(
            BUILD_INFO,
            vec![
                Label::new("version", version.to_owned()),
                Label::new("policy_version", policy_version.to_owned()),
            ],
        )
        .set(1.0);
        let store_up = gauge(STORE_UP, vec![]);
        let in_flight = gauge(IN_FLIGHT, vec![]);
        let rpcs = Rpcs::new(&recorder, &METADATA);
        Metrics {
            rpcs,
            decisions,
            reasons: (0..ReasonCode::ALL.len())
                .map(|_| OnceLock::new())
                .collect(),
            store_ops,
            store_up,
            in_flight,
            archive: OnceLock::new(),
            handle,
            recorder,
        }
    }

    /// The text exposition of every series.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Drains the histograms' buffers into their buckets: run every few seconds
    /// so that memory stays bounded between scrapes.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// One decision and each of its reasons.
    pub fn decision(&self, decision: Decision, reasons: impl IntoIterator<Item = ReasonCode>) {
        self.decisions[decision_index(decision)].increment(1);
        for code in reasons {
            self.reasons[code as usize]
                .get_or_init(|| {
                    self.recorder.register_counter(
                        &Key::from_parts(
                            DECISION_REASONS_TOTAL,
                            vec![Label::new("reason", code.as_str())],
                        ),
                        &METADATA,
                    )
                })
                .increment(1);
        }
    }

    pub fn store_op(&self, op: StoreOp, took: Duration) {
        self.store_ops[op as usize].record(took.as_secs_f64());
    }

    pub fn archive(&self) -> &ArchiveMetrics {
        self.archive.get_or_init(|| {
            let key = |name: &'static str| Key::from_parts(name, Vec::<Label>::new());
            let up = self.recorder.register_gauge(&key(ARCHIVE_UP), &METADATA);
            up.set(1.0);
            ArchiveMetrics {
                outbox: self
                    .recorder
                    .register_gauge(&key(ARCHIVE_OUTBOX), &METADATA),
                shipped: self
                    .recorder
                    .register_counter(&key(ARCHIVE_SHIPPED), &METADATA),
                rejected: self
                    .recorder
                    .register_counter(&key(ARCHIVE_REJECTED), &METADATA),
                up,
            }
        })
    }

    pub fn store_up(&self, up: bool) {
        self.store_up.set(if up { 1.0 } else { 0.0 });
    }
}

fn decision_index(decision: Decision) -> usize {
    match decision {
        Decision::Approved => 0,
        Decision::Held => 1,
        Decision::Referred => 2,
    }
}

/// The `decision` label (and the decision log's field): lower case.
pub fn decision_label(decision: Decision) -> &'static str {
    match decision {
        Decision::Approved => "approved",
        Decision::Held => "held",
        Decision::Referred => "referred",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_ops_are_indexed_by_their_discriminant() {
        for (i, op) in StoreOp::ALL.iter().enumerate() {
            assert_eq!(*op as usize, i, "{op:?}");
        }
    }

    #[test]
    fn decisions_and_reasons_are_counted_per_label() {
        let metrics = Metrics::new("0.0.0", "test-policy");
        metrics.decision(
            Decision::Held,
            [ReasonCode::LimitExceeded, ReasonCode::DueSoon],
        );
        metrics.decision(Decision::Held, [ReasonCode::LimitExceeded]);
        metrics.decision(Decision::Approved, [ReasonCode::WithinLimit]);
        let text = metrics.render();
        for line in [
            "creditgate_decisions_total{decision=\"held\"} 2",
            "creditgate_decisions_total{decision=\"approved\"} 1",
            "creditgate_decisions_total{decision=\"referred\"} 0",
            "creditgate_decision_reasons_total{reason=\"LIMIT_EXCEEDED\"} 2",
            "creditgate_decision_reasons_total{reason=\"DUE_SOON\"} 1",
            "creditgate_build_info{version=\"0.0.0\",policy_version=\"test-policy\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from\n{text}"
            );
        }
        assert!(
            !text.contains("NET_WORTH"),
            "unused reasons export no series"
        );
    }
}
