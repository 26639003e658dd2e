//! The `rpc` label: one per creditgate method, read from the compiled proto
//! descriptors so that a new RPC is counted without touching this file. Any
//! other path is counted as `other`: a caller cannot mint label values.

use super::grpc_codes::CODE_NAMES;
use super::{REQUEST_DURATION, REQUESTS_TOTAL};
use metrics::{Counter, Histogram, Key, Label, Metadata, Recorder};
use metrics_exporter_prometheus::PrometheusRecorder;
use prost::Message;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// Index of an RPC in [`Rpcs`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RpcId(usize);

pub(super) struct RpcSeries {
    name: String,
    pub(super) duration: Histogram,
    /// One counter per gRPC code, registered on first use.
    codes: [OnceLock<Counter>; 17],
}

pub(super) struct Rpcs {
    by_path: HashMap<String, RpcId>,
    series: Vec<RpcSeries>,
    recorder: Arc<PrometheusRecorder>,
    metadata: &'static Metadata<'static>,
}

/// `/package.Service/Method` of every method of the creditgate services.
fn creditgate_paths() -> Vec<(String, String)> {
    let set = prost_types::FileDescriptorSet::decode(crate::grpc::pb::FILE_DESCRIPTOR_SET)
        .expect("the compiled descriptor set decodes");
    let mut paths = Vec::new();
    for file in &set.file {
        for service in &file.service {
            for method in &service.method {
                let (package, service, method) = (file.package(), service.name(), method.name());
                paths.push((format!("/{package}.{service}/{method}"), method.to_owned()));
            }
        }
    }
    paths
}

impl Rpcs {
    pub(super) fn new(
        recorder: &Arc<PrometheusRecorder>,
        metadata: &'static Metadata<'static>,
    ) -> Rpcs {
        let mut rpcs = Rpcs {
            by_path: HashMap::new(),
            series: Vec::new(),
            recorder: recorder.clone(),
            metadata,
        };
        for (path, method) in creditgate_paths() {
            let id = rpcs.add(method);
            rpcs.by_path.insert(path, id);
        }
        rpcs.add("other".to_owned());
        rpcs
    }

    fn add(&mut self, name: String) -> RpcId {
        let duration = self.recorder.register_histogram(
            &Key::from_parts(REQUEST_DURATION, vec![Label::new("rpc", name.clone())]),
            self.metadata,
        );
        self.series.push(RpcSeries {
            name,
            duration,
            codes: Default::default(),
        });
        RpcId(self.series.len() - 1)
    }

    /// The RPC of a creditgate path, `other` for an unknown one.
    pub(super) fn of_path(&self, path: &str) -> RpcId {
        self.by_path
            .get(path)
            .copied()
            .unwrap_or(RpcId(self.series.len() - 1))
    }

    pub(super) fn series(&self, id: RpcId) -> &RpcSeries {
        &self.series[id.0]
    }

    /// The request counter of an RPC and a gRPC code (0..=16; others count as UNKNOWN).
    pub(super) fn requests(&self, id: RpcId, code: usize) -> &Counter {
        let code = if code < CODE_NAMES.len() { code } else { 2 };
        let series = &self.series[id.0];
        series.codes[code].get_or_init(|| {
            self.recorder.register_counter(
                &Key::from_parts(
                    REQUESTS_TOTAL,
                    vec![
                        Label::new("rpc", series.name.clone()),
                        Label::new("code", CODE_NAMES[code]),
                    ],
                ),
                self.metadata,
            )
        })
    }
}
