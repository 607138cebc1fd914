//! One Kafka client connection: size-prefixed request frames in, each answered in the order it
//! came (Kafka's rule), until the client closes, sends a frame that is not Kafka, or the node
//! shuts down. A malformed frame closes this connection with one log line and nothing else.

use super::dispatch::{answer, DispatchError};
use super::KafkaState;
use crate::shutdown::ShutdownSignal;
use bytes::{BufMut, Bytes, BytesMut};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;

/// How long a started frame may take to arrive whole.
const FRAME_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a connection may stay silent between requests (Kafka's `connections.max.idle.ms`).
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// How long an answer may take to be written: a client that stops reading loses its connection.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Room for a request's framing beyond `limits.max_request_bytes` of records.
const FRAME_OVERHEAD: usize = 1 << 20;

/// Why a connection ends.
#[derive(Debug, thiserror::Error)]
enum ConnectionEnd {
    #[error("the client closed the connection")]
    Closed,
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("frame of {size} bytes is larger than {max}")]
    FrameTooLarge { size: usize, max: usize },
    #[error("frame of {0} bytes is too short for a request header")]
    FrameTooShort(usize),
    #[error("silent for {0:?}")]
    Idle(Duration),
    #[error("the client did not read its answer within {0:?}")]
    SlowReader(Duration),
    #[error("a frame did not arrive whole within {0:?}")]
    SlowFrame(Duration),
    #[error(transparent)]
    Request(#[from] DispatchError),
}

pub(super) async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    state: Arc<KafkaState>,
    signal: ShutdownSignal,
) {
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.into_split();
    let mut reader = BufReader::with_capacity(64 * 1024, read);
    let mut writer = BufWriter::with_capacity(64 * 1024, write);
    let stop = signal.wait();
    tokio::pin!(stop);
    let end = loop {
        let max = state.app.broker.config().limits.max_request_bytes.0 as usize + FRAME_OVERHEAD;
        let frame = tokio::select! {
            frame = read_frame(&mut reader, max) => frame,
            _ = &mut stop => break ConnectionEnd::Closed,
        };
        let frame = match frame {
            Ok(frame) => frame,
            Err(end) => break end,
        };
        match answer(&state, frame).await {
            Ok(Some(response)) => {
                match tokio::time::timeout(WRITE_TIMEOUT, write_frame(&mut writer, &response)).await
                {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => break error.into(),
                    Err(_) => break ConnectionEnd::SlowReader(WRITE_TIMEOUT),
                }
            }
            Ok(None) => {}
            Err(error) => break error.into(),
        }
    };
    match end {
        ConnectionEnd::Closed => tracing::debug!(%peer, "kafka connection closed"),
        ConnectionEnd::Io(error) => tracing::debug!(%peer, %error, "kafka connection lost"),
        other => tracing::warn!(%peer, reason = %other, "kafka connection closed"),
    }
}

/// Reads one size-prefixed frame.
async fn read_frame(
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    max: usize,
) -> Result<Bytes, ConnectionEnd> {
    let size = match tokio::time::timeout(IDLE_TIMEOUT, reader.read_i32()).await {
        Err(_) => return Err(ConnectionEnd::Idle(IDLE_TIMEOUT)),
        Ok(Err(error)) if error.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(ConnectionEnd::Closed)
        }
        Ok(other) => other?,
    };
    let size = usize::try_from(size).map_err(|_| ConnectionEnd::FrameTooShort(0))?;
    if size > max {
        return Err(ConnectionEnd::FrameTooLarge { size, max });
    }
    if size < 8 {
        return Err(ConnectionEnd::FrameTooShort(size));
    }
    // Read into spare capacity: a zeroed buffer would be written twice.
    let mut frame = BytesMut::with_capacity(size);
    let read_whole = async {
        let mut room = (&mut frame).limit(size);
        while room.has_remaining_mut() {
            if reader.read_buf(&mut room).await? == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
            }
        }
        Ok(())
    };
    tokio::time::timeout(FRAME_READ_TIMEOUT, read_whole)
        .await
        .map_err(|_| ConnectionEnd::SlowFrame(FRAME_READ_TIMEOUT))??;
    Ok(frame.freeze())
}

async fn write_frame(
    writer: &mut BufWriter<tokio::net::tcp::OwnedWriteHalf>,
    response: &[Bytes],
) -> std::io::Result<()> {
    let size: usize = response.iter().map(Bytes::len).sum();
    let size = i32::try_from(size).map_err(|_| std::io::Error::other("response too large"))?;
    writer.write_all(&size.to_be_bytes()).await?;
    for chunk in response {
        writer.write_all(chunk).await?;
    }
    writer.flush().await
}
