//! gRPC-Web calls through a real client: sonora's (PyPI), run by
//! tests/api/grpc_web/sonora_calls.py with the Python CREDITGATE_TEST_PYTHON
//! names (scripts/test.sh installs sonora in a virtualenv and sets it). The
//! messages are encoded and decoded here with the generated types.

use prost::Message;
use serde_json::{Value, json};
use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use tonic::Code;

/// One call: the RPC (`Service/Method` in creditgate.v1), its request, a token.
pub struct WebCall {
    pub rpc: &'static str,
    pub request: Vec<u8>,
    pub token: Option<&'static str>,
}

pub fn web_call(rpc: &'static str, request: &impl Message, token: Option<&'static str>) -> WebCall {
    WebCall {
        rpc,
        request: request.encode_to_vec(),
        token,
    }
}

/// The answer: the gRPC code, its message, and the response bytes when OK.
#[derive(Debug)]
pub struct WebAnswer {
    pub code: Code,
    pub message: String,
    pub response: Vec<u8>,
}

impl WebAnswer {
    pub fn decode<M: Message + Default>(&self) -> M {
        assert_eq!(self.code, Code::Ok, "{self:?}");
        M::decode(self.response.as_slice()).expect("a response message")
    }
}

/// Runs `calls` in order through one Python process.
pub async fn grpc_web(addr: SocketAddr, calls: Vec<WebCall>) -> Vec<WebAnswer> {
    let url = format!("http://{addr}");
    let input: Vec<Value> = calls
        .iter()
        .map(|c| {
            json!({
                "url": url,
                "path": format!("/creditgate.v1.{}", c.rpc),
                "request": hex(&c.request),
                "token": c.token,
            })
        })
        .collect();
    let input = serde_json::to_vec(&input).unwrap();
    let output = tokio::task::spawn_blocking(move || {
        let python = std::env::var("CREDITGATE_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/api/grpc_web/sonora_calls.py"
        );
        let mut child = Command::new(&python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{python}: {e}"));
        child.stdin.take().unwrap().write_all(&input).unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "the gRPC-Web client failed (it needs sonora: `pip install sonora`, which scripts/test.sh does into a virtualenv and names in CREDITGATE_TEST_PYTHON): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answers: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    answers
        .into_iter()
        .map(|a| WebAnswer {
            code: Code::from_i32(a["code"].as_i64().unwrap() as i32),
            message: a["message"].as_str().unwrap_or_default().to_owned(),
            response: unhex(a["response"].as_str().unwrap_or_default()),
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}
