//! A request body that stops at `--max-request-bytes`, and at a time.
//!
//! tonic reserves a buffer of the length a gRPC message header announces before
//! the message arrives, so a client announcing many 4 MiB messages it never
//! sends makes the server hold gigabytes. The announced length is checked here,
//! as soon as its five bytes arrive, and so is the running total. A body that
//! has not arrived by its read deadline ends in DEADLINE_EXCEEDED, so a caller
//! cannot hold a concurrency permit by sending its request slowly.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::time::Sleep;
use tonic::Status;

/// gRPC message framing: a compressed flag and a 4-byte big-endian length.
const HEADER: usize = 5;

pub struct LimitedBody<B> {
    inner: B,
    max: usize,
    seen: usize,
    header: [u8; HEADER],
    failed: bool,
    read_by: Option<Instant>,
    /// Armed only when the body is not all there at the first poll (the common
    /// unary request arrives with its headers and needs no timer).
    timer: Option<Pin<Box<Sleep>>>,
}

impl<B> LimitedBody<B> {
    pub fn new(inner: B, max: usize, read_by: Option<Instant>) -> LimitedBody<B> {
        LimitedBody {
            inner,
            max,
            seen: 0,
            header: [0; HEADER],
            failed: false,
            read_by,
            timer: None,
        }
    }

    /// Counts `data`; an error when the request is, or announces to be, too large.
    fn admit(&mut self, data: &[u8]) -> Result<(), Status> {
        let start = self.seen;
        self.seen = self.seen.saturating_add(data.len());
        if start < HEADER {
            let take = (HEADER - start).min(data.len());
            self.header[start..start + take].copy_from_slice(&data[..take]);
            if self.seen >= HEADER {
                let announced = u32::from_be_bytes([
                    self.header[1],
                    self.header[2],
                    self.header[3],
                    self.header[4],
                ]) as usize;
                if announced > self.max {
                    return Err(self.too_large(announced));
                }
            }
        }
        // Every creditgate call is unary: one message, one header.
        if self.seen > self.max + HEADER {
            return Err(self.too_large(self.seen - HEADER));
        }
        Ok(())
    }

    fn too_large(&self, bytes: usize) -> Status {
        Status::resource_exhausted(format!(
            "request message of {bytes} bytes is larger than the server's limit of {} bytes (--max-request-bytes)",
            self.max
        ))
    }
}

impl<B> LimitedBody<B> {
    /// The body is not all there yet: Pending, or an error once its read
    /// deadline has passed.
    fn poll_read_by(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let Some(read_by) = self.read_by else {
            return Poll::Pending;
        };
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(read_by.into())));
        match timer.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                self.failed = true;
                Poll::Ready(Some(Err(Status::deadline_exceeded(
                    "the request message did not arrive within the call's deadline",
                ))))
            }
        }
    }
}

impl<B> Body for LimitedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        if self.failed {
            return Poll::Ready(None);
        }
        let frame = match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            Poll::Ready(Some(Err(error))) => {
                return Poll::Ready(Some(Err(Status::from_error(error.into()))));
            }
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => return self.poll_read_by(cx),
        };
        if let Some(data) = frame.data_ref()
            && let Err(status) = self.admit(data)
        {
            self.failed = true;
            return Poll::Ready(Some(Err(status)));
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message_header(len: u32) -> Vec<u8> {
        let mut bytes = vec![0];
        bytes.extend(len.to_be_bytes());
        bytes
    }

    #[test]
    fn an_announced_length_over_the_limit_fails_before_its_bytes_arrive() {
        let mut body = LimitedBody::new((), 100, None);
        let header = message_header(101);
        assert!(body.admit(&header[..3]).is_ok());
        let error = body.admit(&header[3..]).unwrap_err();
        assert_eq!(error.code(), tonic::Code::ResourceExhausted);
        assert!(error.message().contains("--max-request-bytes"));
        assert!(error.message().contains("101 bytes"));
    }

    #[test]
    fn a_message_at_the_limit_passes_and_one_byte_more_fails() {
        let mut body = LimitedBody::new((), 100, None);
        assert!(body.admit(&message_header(100)).is_ok());
        assert!(body.admit(&[7; 100]).is_ok());
        assert!(body.admit(&[7]).is_err());
    }
}
