//! The replication stream: a follower's fetches to one leader over one connection of their own,
//! without HTTP around each (Kafka's replica fetchers keep one connection per leader broker the
//! same way).
//!
//! The follower opens it with `POST /internal/v1/replica/stream` and `Upgrade: mq-replica/2`;
//! the leader answers `101 Switching Protocols` and from then on both sides speak frames on that
//! connection: `size u32 BE | payload`. The follower sends a [`ReplicaFetch`] in postcard; the
//! leader answers it with the fetch answer of [`super::protocol`] (its partitions' head in
//! postcard, then their batches as the log holds them), after the same long poll as the HTTP
//! fetch. One fetch at a time, answered in order.
//!
//! Why: a follower's fetch round costs about 70 µs of CPU over HTTP (reqwest, hyper, axum's
//! routing and middleware, on both nodes), paid once per batch a leader appends, per follower.
//! The stream keeps the long poll and the batches, and drops the rest. Postcard instead of JSON
//! (the stream's first version, `mq-replica`) took the heads' encoding and parsing from 2.2 % of
//! a 3-node cluster's CPU under `acks=all` produce to 0.5 %.
//!
//! A leader that does not know the path (an older version) answers 404, one that does not know
//! this version of the protocol 400, and the follower goes on with HTTP fetches
//! ([`super::protocol::FETCH_PATH`]), which every version answers; so does any other refusal of
//! the upgrade (4xx) but a busy node's, and the follower tries a stream again a minute later. A
//! stream ends on any error, on the leader's shutdown, or after [`IDLE`] without a fetch; the
//! follower opens a new one on its next round.

use super::protocol::{Encoding, ReplicaFetch};
use crate::broker::Broker;
use crate::metrics::Metrics;
use crate::shutdown::ShutdownSignal;
use bytes::{Buf, Bytes, BytesMut};
use std::io::IoSlice;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub const STREAM_PATH: &str = "/internal/v1/replica/stream";
/// The protocol named in the `Upgrade` header. Its version moves with the frames' format: a node
/// that does not know it refuses the upgrade, and its followers fetch over HTTP.
pub const PROTOCOL: &str = "mq-replica/2";

/// A leader closes a stream whose follower sent no fetch for this long (a follower fetches at
/// least every half second).
pub const IDLE: Duration = Duration::from_secs(30);
/// How long a leader's answer may take to go out.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer a follower takes: far above any answer's batch budget plus one batch.
pub const MAX_ANSWER: usize = 1 << 30;
/// The least room a leader's read is given: fetches are small.
const FETCH_ROOM: usize = 64 * 1024;
/// The least room a follower's read is given: a busy leader's answer (a batch or a few, about
/// 120 KiB at 1,000 records of 100 B) lands in room already there. With less, the first read of
/// each answer filled the buffer, and the rest grew it, copying what the first had read.
const ANSWER_ROOM: usize = KEEP;
/// The most room a read adds at once.
const GROW: usize = 4 << 20;
/// A read buffer larger than this is let go of between frames.
const KEEP: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("the stream closed")]
    Closed,
    #[error("a frame of {size} bytes is over the {max}-byte limit")]
    FrameTooLarge { size: usize, max: usize },
    #[error("a fetch that does not decode: {0}")]
    BadFetch(String),
    #[error("no fetch for {0:?}")]
    Idle(Duration),
    #[error("an answer took more than {0:?} to send")]
    SlowWrite(Duration),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// One connection's frames: each written with one vectored write (its size, then its chunks:
/// one segment on the wire where the chunks fit, and the reader woken once), read straight from
/// the socket into one buffer, each frame then handed out without a copy.
struct Framed<S> {
    io: S,
    read: BytesMut,
    /// The least room a read is given.
    room: usize,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Framed<S> {
    fn new(io: S, room: usize) -> Self {
        Framed {
            io,
            read: BytesMut::new(),
            room,
        }
    }

    /// Reads one size-prefixed frame of at most `max()` bytes, the limit taken once its size is
    /// known (a leader's may change while it waits for the frame).
    async fn read(&mut self, max: impl FnOnce() -> usize) -> Result<Bytes, StreamError> {
        self.fill(4).await?;
        let size = u32::from_be_bytes(self.read[..4].try_into().expect("4 bytes")) as usize;
        let max = max();
        if size > max {
            return Err(StreamError::FrameTooLarge { size, max });
        }
        self.fill(4 + size).await?;
        self.read.advance(4);
        let frame = self.read.split_to(size).freeze();
        self.trim(size);
        Ok(frame)
    }

    /// Reads until the buffer holds `len` bytes. Room is added as bytes come, at most [`GROW`]
    /// at a time, so a frame's declared size alone never makes this side allocate it.
    async fn fill(&mut self, len: usize) -> Result<(), StreamError> {
        while self.read.len() < len {
            if self.read.capacity() == self.read.len() {
                let missing = len - self.read.len();
                self.read.reserve(missing.clamp(self.room, GROW));
            }
            if self.io.read_buf(&mut self.read).await? == 0 {
                return Err(StreamError::Closed);
            }
        }
        Ok(())
    }

    /// Lets go of the allocation a frame of `size` bytes was read into, once it is handed out,
    /// when that is large: a follower catching up takes 16 MiB answers, and the buffer would
    /// otherwise take that allocation back for the next frame and keep it for the stream's life.
    fn trim(&mut self, size: usize) {
        if size > KEEP && self.read.is_empty() {
            self.read = BytesMut::new();
        }
    }

    /// Writes one frame made of `chunks`, one after the other.
    async fn write(&mut self, chunks: &[Bytes]) -> Result<(), StreamError> {
        let size: usize = chunks.iter().map(Bytes::len).sum();
        let size = u32::try_from(size).map_err(|_| StreamError::FrameTooLarge {
            size,
            max: u32::MAX as usize,
        })?;
        let head = size.to_be_bytes();
        let mut slices: Vec<IoSlice<'_>> = std::iter::once(&head[..])
            .chain(chunks.iter().map(|chunk| &chunk[..]))
            .filter(|slice| !slice.is_empty())
            .map(IoSlice::new)
            .collect();
        let mut unwritten = &mut slices[..];
        while !unwritten.is_empty() {
            let written = self.io.write_vectored(unwritten).await?;
            if written == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::WriteZero).into());
            }
            IoSlice::advance_slices(&mut unwritten, written);
        }
        self.io.flush().await?;
        Ok(())
    }
}

/// The largest fetch a leader reads: `limits.max_request_bytes`, as for any request.
fn max_fetch(broker: &Broker) -> usize {
    usize::try_from(broker.config().limits.max_request_bytes.0).unwrap_or(usize::MAX)
}

/// The leader's side of one stream: answers fetches until the follower goes, is idle for
/// [`IDLE`], or this node shuts down.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    broker: Arc<Broker>,
    metrics: Arc<Metrics>,
    io: S,
    stop: ShutdownSignal,
) -> Result<(), StreamError> {
    let mut io = Framed::new(io, FETCH_ROOM);
    let stop = stop.wait();
    tokio::pin!(stop);
    loop {
        let frame = tokio::select! {
            // The limit in force now: a reload (SIGHUP) reaches open streams too.
            frame = tokio::time::timeout(IDLE, io.read(|| max_fetch(&broker))) => frame,
            _ = &mut stop => return Ok(()),
        };
        let fetch: ReplicaFetch = match frame {
            Err(_) => return Err(StreamError::Idle(IDLE)),
            Ok(Err(StreamError::Closed)) => return Ok(()),
            Ok(frame) => Encoding::Postcard
                .from_slice(&frame?)
                .map_err(StreamError::BadFetch)?,
        };
        let answer = tokio::select! {
            answer = super::leader::serve_fetch(&broker, fetch, Encoding::Postcard) => answer,
            _ = &mut stop => return Ok(()),
        };
        metrics.replica_fetch_answered(answer.iter().map(Bytes::len).sum());
        tokio::time::timeout(WRITE_TIMEOUT, io.write(&answer))
            .await
            .map_err(|_| StreamError::SlowWrite(WRITE_TIMEOUT))??;
    }
}

/// The follower's side of one stream to one leader.
pub struct LeaderStream {
    io: Framed<reqwest::Upgraded>,
}

/// What a leader said to the upgrade.
pub enum Opened {
    Stream(LeaderStream),
    /// It does not serve streams: fetch over HTTP.
    Refused,
}

impl LeaderStream {
    /// Asks `leader` (its stream URL) to turn a connection into a replication stream, within
    /// `timeout` in all.
    pub async fn open(
        http: &reqwest::Client,
        url: reqwest::Url,
        timeout: Duration,
    ) -> Result<Opened, String> {
        let asked = http
            .post(url)
            .header(reqwest::header::CONNECTION, "upgrade")
            .header(reqwest::header::UPGRADE, PROTOCOL)
            .send();
        // One deadline for the answer and the upgrade both: a round waits at most `timeout` here.
        let deadline = tokio::time::Instant::now() + timeout;
        let answer = tokio::time::timeout_at(deadline, asked)
            .await
            .map_err(|_| format!("no answer to the stream's upgrade in {timeout:?}"))?
            .map_err(|e| e.to_string())?;
        match answer.status() {
            reqwest::StatusCode::SWITCHING_PROTOCOLS => {
                let upgraded = tokio::time::timeout_at(deadline, answer.upgrade())
                    .await
                    .map_err(|_| format!("the stream's upgrade took more than {timeout:?}"))?
                    .map_err(|e| e.to_string())?;
                Ok(Opened::Stream(LeaderStream {
                    io: Framed::new(upgraded, ANSWER_ROOM),
                }))
            }
            // An older version (404), or anything between that does not pass upgrades on: fetch
            // over HTTP. A node that is busy or failing (5xx, 408, 429) is asked again.
            refused
                if refused.is_client_error()
                    && refused != reqwest::StatusCode::REQUEST_TIMEOUT
                    && refused != reqwest::StatusCode::TOO_MANY_REQUESTS =>
            {
                Ok(Opened::Refused)
            }
            other => Err(format!("the stream's upgrade was answered {other}")),
        }
    }

    /// Sends one fetch and reads its answer (the body of [`super::protocol::decode_answer`]).
    pub async fn fetch(&mut self, fetch: &ReplicaFetch) -> Result<Bytes, StreamError> {
        let request = Bytes::from(Encoding::Postcard.to_vec(fetch));
        self.io.write(&[request]).await?;
        self.io.read(|| MAX_ANSWER).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_read_back_as_written_and_an_oversized_one_is_refused() {
        let (near, far) = tokio::io::duplex(1 << 20);
        let mut near = Framed::new(near, FETCH_ROOM);
        let mut far = Framed::new(far, FETCH_ROOM);
        let chunks = [
            Bytes::from_static(b"head"),
            Bytes::new(),
            Bytes::from(vec![7u8; 200_000]),
        ];
        let writing = async { near.write(&chunks).await.unwrap() };
        let (_, frame) = tokio::join!(writing, far.read(|| 1 << 20));
        let frame = frame.unwrap();
        assert_eq!(frame.len(), 200_004);
        assert_eq!(&frame[..4], b"head");
        assert!(frame[4..].iter().all(|&b| b == 7));

        // Two frames in one write come out one by one.
        near.write(&[Bytes::from_static(b"ab")]).await.unwrap();
        near.write(&[Bytes::from_static(b"cde")]).await.unwrap();
        assert_eq!(&far.read(|| 16).await.unwrap()[..], b"ab");
        assert_eq!(&far.read(|| 16).await.unwrap()[..], b"cde");

        // A large frame is read whole; the buffer it grew is let go of once it is handed out.
        let large = Bytes::from(vec![3u8; 3 << 20]);
        let writing = async { near.write(std::slice::from_ref(&large)).await.unwrap() };
        let (_, frame) = tokio::join!(writing, far.read(|| 8 << 20));
        assert_eq!(frame.unwrap(), large);
        near.write(&[Bytes::from_static(b"small")]).await.unwrap();
        assert_eq!(&far.read(|| 16).await.unwrap()[..], b"small");
        assert!(far.read.capacity() <= KEEP, "{}", far.read.capacity());

        near.write(&[Bytes::from_static(b"12345")]).await.unwrap();
        assert!(matches!(
            far.read(|| 4).await,
            Err(StreamError::FrameTooLarge { size: 5, max: 4 })
        ));

        // A frame cut short by the other side's end.
        let (near, far) = tokio::io::duplex(64);
        let mut far = Framed::new(far, FETCH_ROOM);
        let mut near = near;
        near.write_all(&[0, 0, 0, 9, 1, 2]).await.unwrap();
        drop(near);
        assert!(matches!(far.read(|| 16).await, Err(StreamError::Closed)));

        // A declared size alone does not make the reader allocate it.
        let (near, far) = tokio::io::duplex(64);
        let mut far = Framed::new(far, FETCH_ROOM);
        let mut near = near;
        near.write_all(&(64u32 << 20).to_be_bytes()).await.unwrap();
        near.write_all(b"only this").await.unwrap();
        drop(near);
        assert!(matches!(
            far.read(|| 1 << 30).await,
            Err(StreamError::Closed)
        ));
        assert!(far.read.capacity() <= GROW, "{}", far.read.capacity());
    }

    #[tokio::test]
    async fn a_reloaded_request_limit_reaches_an_open_stream() {
        let state = crate::http::testing::state();
        let broker = Arc::clone(&state.broker);
        let (near, far) = tokio::io::duplex(1 << 20);
        let (_running, stop) = crate::shutdown::Shutdown::new();
        let serving = tokio::spawn(serve(
            Arc::clone(&broker),
            Arc::clone(&state.metrics),
            far,
            stop,
        ));
        let mut follower = Framed::new(near, ANSWER_ROOM);
        let fetch = |topic: &str| ReplicaFetch {
            replica: 2,
            max_wait_ms: 0,
            max_bytes: 1 << 20,
            partitions: vec![super::super::protocol::FetchPartition {
                topic: topic.to_owned(),
                partition: 0,
                leader_epoch: 0,
                fetch_offset: 0,
                log_start: None,
            }],
        };
        // A fetch of about 2 KiB is answered under the default limit (64 MiB)…
        let long_name = "t".repeat(2000);
        let request = Bytes::from(Encoding::Postcard.to_vec(&fetch(&long_name)));
        follower
            .write(std::slice::from_ref(&request))
            .await
            .unwrap();
        let answer = follower.read(|| MAX_ANSWER).await.unwrap();
        let parts = super::super::protocol::decode_answer(Encoding::Postcard, &answer).unwrap();
        assert_eq!(
            parts[0].0.error,
            Some(super::super::protocol::ReplicaError::UnknownTopic)
        );
        // …and refused, on the same stream, once a reload lowered the limit to 1 KiB.
        let mut config = (*broker.config()).clone();
        config.limits.max_request_bytes = crate::config::ByteSize::kib(1);
        broker.set_config(Arc::new(config));
        follower
            .write(std::slice::from_ref(&request))
            .await
            .unwrap();
        let ended = tokio::time::timeout(Duration::from_secs(10), serving)
            .await
            .expect("the stream ends at once")
            .unwrap();
        assert!(
            matches!(ended, Err(StreamError::FrameTooLarge { max: 1024, .. })),
            "{ended:?}"
        );
    }

    #[tokio::test]
    async fn a_node_that_serves_no_stream_is_told_apart_from_a_failure() {
        // A node alone answers 404 to every internal path, as a node of an older version answers
        // this one: the follower then fetches over HTTP.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let router = crate::http::router(crate::http::testing::state());
        let server = tokio::spawn(async move { axum::serve(listener, router).await });
        let http = reqwest::Client::new();
        let url = |path: &str| reqwest::Url::parse(&format!("http://{address}{path}")).unwrap();
        let opened = LeaderStream::open(&http, url(STREAM_PATH), Duration::from_secs(5)).await;
        assert!(matches!(opened, Ok(Opened::Refused)));
        // So is another refusal (here: a method the path does not take, 405).
        let opened = LeaderStream::open(&http, url("/v1/topics/t"), Duration::from_secs(5)).await;
        assert!(matches!(opened, Ok(Opened::Refused)));
        server.abort();
        let _ = server.await;
        // A node that does not answer is a failure, asked again on the next round (a new client:
        // the old one's pooled connection may still be served).
        let fresh = reqwest::Client::new();
        let opened = LeaderStream::open(&fresh, url(STREAM_PATH), Duration::from_secs(5)).await;
        assert!(opened.is_err());
    }
}
