//! Notices when a client has sent its whole HTTP/2 preface: the 24-byte magic
//! and the SETTINGS frame that must follow it. h2 waits for these forever; a
//! client that trickles them (slowloris) would hold its connection open.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const MAGIC: usize = 24;
const FRAME_HEADER: usize = 9;

/// The stream, unchanged, plus a flag set once the preface has been read.
pub struct PrefaceWatch<IO> {
    io: IO,
    /// The first magic + frame-header bytes, to learn the SETTINGS length.
    head: [u8; MAGIC + FRAME_HEADER],
    read: usize,
    done: Arc<AtomicBool>,
}

impl<IO> PrefaceWatch<IO> {
    pub fn new(io: IO) -> (PrefaceWatch<IO>, Arc<AtomicBool>) {
        let done = Arc::new(AtomicBool::new(false));
        let watch = PrefaceWatch {
            io,
            head: [0; MAGIC + FRAME_HEADER],
            read: 0,
            done: done.clone(),
        };
        (watch, done)
    }

    fn saw(&mut self, bytes: &[u8]) {
        let start = self.read;
        self.read = self.read.saturating_add(bytes.len());
        if start < self.head.len() {
            let take = (self.head.len() - start).min(bytes.len());
            self.head[start..start + take].copy_from_slice(&bytes[..take]);
        }
        if self.read >= self.head.len() {
            let length = usize::from(self.head[MAGIC]) << 16
                | usize::from(self.head[MAGIC + 1]) << 8
                | usize::from(self.head[MAGIC + 2]);
            if self.read >= self.head.len() + length {
                self.done.store(true, Ordering::Release);
            }
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for PrefaceWatch<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if !self.done.load(Ordering::Relaxed) {
            let fresh = buf.filled()[before..].to_vec();
            self.saw(&fresh);
        }
        polled
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for PrefaceWatch<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preface(settings_len: usize) -> Vec<u8> {
        let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        bytes.extend([0, 0, settings_len as u8, 4, 0, 0, 0, 0, 0]);
        bytes.extend(std::iter::repeat_n(0u8, settings_len));
        bytes
    }

    #[test]
    fn done_only_after_the_settings_payload_in_any_split() {
        let bytes = preface(12);
        for cut in 0..bytes.len() {
            let (mut watch, done) = PrefaceWatch::new(());
            watch.saw(&bytes[..cut]);
            assert!(!done.load(Ordering::Relaxed), "done after {cut} bytes");
            watch.saw(&bytes[cut..]);
            assert!(done.load(Ordering::Relaxed), "not done when split at {cut}");
        }
        let (mut watch, done) = PrefaceWatch::new(());
        for byte in &bytes[..bytes.len() - 1] {
            watch.saw(std::slice::from_ref(byte));
        }
        assert!(!done.load(Ordering::Relaxed));
        watch.saw(&bytes[bytes.len() - 1..]);
        assert!(done.load(Ordering::Relaxed));
    }
}
