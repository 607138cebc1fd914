//! The TCP listener, with `limits.max_connections`: past it a new connection gets one
//! `503 too_many_connections` JSON answer and is closed, instead of waiting unanswered in the
//! backlog. Each accepted connection holds a permit until it closes, and sets `TCP_NODELAY`.

use crate::metrics::Metrics;
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
    metrics: Arc<Metrics>,
}

impl LimitedListener {
    pub fn new(inner: TcpListener, max_connections: u32, metrics: Arc<Metrics>) -> Self {
        LimitedListener {
            inner,
            permits: Arc::new(Semaphore::new(max_connections as usize)),
            max: max_connections,
            metrics,
        }
    }
}

/// An accepted connection and its permit.
pub struct LimitedStream {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
    metrics: Arc<Metrics>,
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

impl AsyncRead for LimitedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
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
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
