//! JSON calls through the real curl binary (a process, not a Rust client), over
//! HTTP/1.1 or HTTP/2 without TLS (prior knowledge).

use serde_json::Value;
use std::net::SocketAddr;

#[derive(Clone, Copy, Debug)]
pub enum Http {
    One,
    Two,
}

pub const BOTH: [Http; 2] = [Http::One, Http::Two];

/// One answer: HTTP status, headers (lower-case names) and the body as JSON
/// (Null when empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub version: String,
    pub headers: Vec<(String, String)>,
    pub json: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The Connect error code of a failed call.
    pub fn code(&self) -> &str {
        self.json["code"].as_str().unwrap_or_default()
    }

    pub fn message(&self) -> &str {
        self.json["message"].as_str().unwrap_or_default()
    }
}

/// `curl -X <method> [-H …] [-d body] http://addr/path`.
pub async fn curl(
    addr: SocketAddr,
    http: Http,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Answer {
    let version = match http {
        Http::One => "--http1.1",
        Http::Two => "--http2-prior-knowledge",
    };
    let mut args: Vec<String> = vec![version.into(), "-X".into(), method.into()];
    for (name, value) in headers {
        args.push("-H".into());
        args.push(format!("{name}: {value}"));
    }
    if let Some(body) = body {
        args.push("--data-binary".into());
        args.push(body.into());
    }
    args.push(format!("http://{addr}{path}"));
    run(args).await
}

/// A Connect JSON POST over TLS, trusting `ca_file`: the protocol is the one
/// ALPN agrees on (`http/1.1` or `h2`).
pub async fn post_tls(
    addr: SocketAddr,
    http: Http,
    ca_file: &std::path::Path,
    path: &str,
    body: &str,
) -> Answer {
    let version = match http {
        Http::One => "--http1.1",
        Http::Two => "--http2",
    };
    let args = vec![
        version.into(),
        "--cacert".into(),
        ca_file.display().to_string(),
        "-H".into(),
        "content-type: application/json".into(),
        "--data-binary".into(),
        body.into(),
        format!("https://{addr}{path}"),
    ];
    run(args).await
}

/// Runs curl with `args` after the common ones, and parses what it printed.
async fn run(args: Vec<String>) -> Answer {
    let common = [
        "-sSv",
        "-i",
        "--max-time",
        "10",
        // No `Expect: 100-continue` round trip before larger bodies.
        "-H",
        "Expect:",
    ];
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .args(common)
            .args(&args)
            .output()
            .expect("curl is installed (scripts/test.sh installs it)")
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("UTF-8 answer");
    let (head, body) = text.split_once("\r\n\r\n").expect("headers and body");
    let mut lines = head.lines();
    let status_line = lines.next().unwrap();
    let mut words = status_line.split_whitespace();
    let version = words.next().unwrap().to_owned();
    let status = words.next().unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Answer {
        status,
        version,
        headers,
        json: serde_json::from_str(body).unwrap_or(Value::Null),
    }
}

/// A Connect JSON call: POST with `Content-Type: application/json`, and the
/// bearer token when given.
pub async fn call(
    addr: SocketAddr,
    http: Http,
    rpc: &str,
    token: Option<&str>,
    body: &Value,
) -> Answer {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(bearer) = &bearer {
        headers.push(("authorization", bearer));
    }
    let path = format!("/creditgate.v1.{rpc}");
    curl(addr, http, "POST", &path, &headers, Some(&body.to_string())).await
}
