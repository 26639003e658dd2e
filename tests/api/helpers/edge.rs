//! A raw HTTP/2 client for the network-edge tests: what a hostile or broken
//! client does (unfinished messages, no deadline, a trickled preface), which the
//! generated gRPC clients never do.

use bytes::{BufMut, Bytes, BytesMut};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;

pub type SendRequest = h2::client::SendRequest<Bytes>;

/// An HTTP/2 connection; the returned task drives it and ends when it closes.
pub async fn h2_connect(addr: SocketAddr) -> (SendRequest, tokio::task::JoinHandle<()>) {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let (send, connection) = h2::client::handshake(tcp).await.expect("h2 handshake");
    let task = tokio::spawn(async move {
        let _ = connection.await;
    });
    (send, task)
}

/// A unary gRPC call's request head; `timeout` is the grpc-timeout header, if any.
pub fn grpc_head(addr: SocketAddr, path: &str, timeout: Option<&str>) -> http::Request<()> {
    let mut request = http::Request::builder()
        .method("POST")
        .uri(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    if let Some(timeout) = timeout {
        request = request.header("grpc-timeout", timeout);
    }
    request.body(()).unwrap()
}

/// The 5-byte gRPC message header announcing `len` bytes.
pub fn message_header(len: u32) -> Bytes {
    let mut bytes = BytesMut::with_capacity(5);
    bytes.put_u8(0);
    bytes.put_u32(len);
    bytes.freeze()
}

/// The grpc-status of a response: from its headers (a trailers-only answer) or
/// from its trailers; None when the server sent neither within `wait`.
pub async fn grpc_status(
    response: h2::client::ResponseFuture,
    wait: Duration,
) -> Option<(i32, String)> {
    tokio::time::timeout(wait, async move {
        let response = response.await.ok()?;
        let status = |headers: &http::HeaderMap| {
            let code = headers.get("grpc-status")?.to_str().ok()?.parse().ok()?;
            let message = headers
                .get("grpc-message")
                .and_then(|m| m.to_str().ok())
                .unwrap_or("")
                .to_owned();
            Some((code, message))
        };
        if let Some(found) = status(response.headers()) {
            return Some(found);
        }
        let mut body = response.into_body();
        while let Some(chunk) = body.data().await {
            let chunk = chunk.ok()?;
            let _ = body.flow_control().release_capacity(chunk.len());
        }
        status(&body.trailers().await.ok()??)
    })
    .await
    .ok()?
}

/// Waits (bounded) until the peer closes `tcp`: true when it did within `wait`.
pub async fn closed_by_peer(tcp: &mut TcpStream, wait: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 4096];
    let until = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(until, tcp.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// A new connection's fate: Some(true) a health check was answered on it,
/// Some(false) it was refused or closed, None it was accepted and never answered
/// (a hang).
pub async fn try_new_connection(addr: SocketAddr) -> Option<bool> {
    let Ok(tcp) = TcpStream::connect(addr).await else {
        return Some(false);
    };
    drop(tcp);
    let answered = tokio::time::timeout(Duration::from_secs(3), async {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .ok()?;
        super::health_of(channel, "").await.ok()
    })
    .await;
    match answered {
        Ok(Some(_)) => Some(true),
        Ok(None) => Some(false),
        Err(_) => None,
    }
}
