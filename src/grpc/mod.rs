//! Transport: protobuf ⇄ domain conversion, the two services, the server.

pub mod admission;
pub mod buyer_mask;
pub mod codec;
pub mod convert;
pub mod deadline;
pub mod decision;
mod decision_log;
pub mod field_mask;
pub mod ledger;
pub mod record_pb;
mod request_body;
pub mod request_log;
pub mod requests;
pub mod review;
pub mod server;
pub mod status;
pub mod transport;
pub mod web;
pub mod whatif;

/// Code generated from proto/creditgate/v1 by build.rs.
pub mod pb {
    #![allow(clippy::all, clippy::pedantic)]
    tonic::include_proto!("creditgate.v1");
    // The proto3 JSON mapping of every message (pbjson-build), for the Connect
    // JSON transport (src/grpc/web).
    include!(concat!(env!("OUT_DIR"), "/creditgate.v1.serde.rs"));

    /// Encoded descriptor set of the creditgate.v1 protos, served by reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/creditgate_descriptor.bin"));
}
