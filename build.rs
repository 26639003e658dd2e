//! Compiles proto/ without a system protoc: protox parses the files, tonic-prost-build
//! generates the code, and the encoded descriptor set is kept for server reflection.

use prost::Message;
use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "proto/creditgate/v1/types.proto",
    "proto/creditgate/v1/decision.proto",
    "proto/creditgate/v1/ledger.proto",
    "proto/creditgate/v1/review.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(PROTOS, ["proto"])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    // compile_fds ignores file_descriptor_set_path, so the set is written here.
    std::fs::write(
        out_dir.join("creditgate_descriptor.bin"),
        fds.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        // A request prost cannot decode is INVALID_ARGUMENT naming the field
        // (src/grpc/codec.rs), not tonic-prost's INTERNAL.
        .codec_path("crate::grpc::codec::ApiCodec")
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
