//! The TCP listener, with `limits.max_connections`: past it a new connection gets one
//! `503 too_many_connections` JSON answer and is closed, instead of waiting unanswered in the
//! backlog. Each accepted connection holds a permit until it closes, and sets `TCP_NODELAY`.
//! Its reads and writes keep the header and idle deadlines of [`super::timeouts`], so a slow or
//! silent client gives its permit back.

use super::timeouts::{ConnectionActivity, ConnectionDeadlines, ConnectionTimeouts};
use crate::metrics::Metrics;
use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use mq_wire::{ErrorBody, ErrorCode};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub struct LimitedListener {
    inner: TcpListener,
    permits: Arc<Semaphore>,
    max: u32,
    timeouts: ConnectionTimeouts,
    metrics: Arc<Metrics>,
}

impl LimitedListener {
    pub fn new(
        inner: TcpListener,
        max_connections: u32,
        timeouts: ConnectionTimeouts,
        metrics: Arc<Metrics>,
    ) -> Self {
        LimitedListener {
            inner,
            permits: Arc::new(Semaphore::new(max_connections as usize)),
            max: max_connections,
            timeouts,
            metrics,
        }
    }
}

/// An accepted connection, its permit, and its deadlines.
pub struct LimitedStream {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
    deadlines: ConnectionDeadlines,
    metrics: Arc<Metrics>,
}

/// Each request learns its connection's activity, which [`super::timeouts::track_request`] marks.
impl Connected<IncomingStream<'_, LimitedListener>> for ConnectionActivity {
    fn connect_info(stream: IncomingStream<'_, LimitedListener>) -> Self {
        stream.io().deadlines.activity()
    }
}

impl Drop for LimitedStream {
    fn drop(&mut self) {
        self.metrics.connections().dec();
    }
}

impl axum::serve::Listener for LimitedListener {
    type Io = LimitedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (stream, addr) = match self.inner.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            match Arc::clone(&self.permits).try_acquire_owned() {
                Ok(permit) => {
                    self.metrics.connections().inc();
                    let stream = LimitedStream {
                        stream,
                        _permit: permit,
                        deadlines: ConnectionDeadlines::new(self.timeouts),
                        metrics: Arc::clone(&self.metrics),
                    };
                    return (stream, addr);
                }
                Err(_) => {
                    tracing::warn!(%addr, max = self.max, "connection refused: limits.max_connections reached");
                    tokio::spawn(refuse(stream, self.max));
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

async fn refuse(mut stream: TcpStream, max: u32) {
    let body = serde_json::to_string(&ErrorBody::new(
        ErrorCode::TooManyConnections,
        format!("this node has {max} open connections (limits.max_connections); retry later"),
    ))
    .unwrap_or_default();
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

impl LimitedStream {
    /// A write that moved bytes is progress; one that would wait (a client that does not read its
    /// answer) starts the answer's minimum rate, and counts against the idle deadline.
    fn after_write(
        &mut self,
        cx: &mut Context<'_>,
        written: Poll<io::Result<usize>>,
        offered: usize,
    ) -> Poll<io::Result<usize>> {
        match written {
            Poll::Pending => {
                self.deadlines.write_would_block();
                self.deadlines.poll_expired(cx).map(Err)
            }
            Poll::Ready(Ok(n)) => {
                self.deadlines.wrote(n, offered);
                Poll::Ready(Ok(n))
            }
            ready => ready,
        }
    }
}

impl AsyncRead for LimitedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Pending => self.deadlines.poll_expired(cx).map(Err),
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    self.deadlines.progressed(true);
                }
                Poll::Ready(Ok(()))
            }
            ready => ready,
        }
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.after_write(cx, written, buf.len())
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        let offered = bufs.iter().map(|b| b.len()).sum();
        self.after_write(cx, written, offered)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
