//! Timeouts that keep slow and idle clients from holding connection permits
//! (`limits.max_connections`) forever: the *header* timeout (from a new connection, or from the
//! first byte of a keep-alive connection's next request, until its handler runs), the *idle*
//! timeout (a keep-alive connection with no request running and no bytes moving), and the body's
//! minimum rate (see [`BodyDeadline`]).
//!
//! The connection side lives in the stream ([`ConnectionDeadlines`], polled from
//! `LimitedStream`'s reads and writes). It knows whether a request is running through
//! [`ConnectionActivity`], which the [`track_request`] middleware marks while a handler runs, so a
//! long-poll fetch that moves no bytes for `limits.max_fetch_wait` is never cut. This is Go's
//! `ReadHeaderTimeout` / `IdleTimeout` split; hyper's own header timer runs from the moment a
//! connection is idle, so it cannot tell the two apart and is left off.

use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::Response;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// The connection timeouts of `[limits]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionTimeouts {
    /// `limits.header_read_timeout`.
    pub header_read: Duration,
    /// `limits.idle_timeout`.
    pub idle: Duration,
    /// `limits.body_read_timeout` and `limits.body_min_rate`, which a client must also keep when
    /// it reads its answers: once a write would wait, the client has this grace, then must take
    /// the answer at this average rate (Kestrel's `MinResponseDataRate`).
    pub answer_grace: Duration,
    pub answer_min_rate: u64,
}

/// Whether a request is being handled on a connection, shared by the connection's stream and the
/// requests it carries (through axum's `ConnectInfo`).
#[derive(Debug, Clone, Default)]
pub struct ConnectionActivity(Arc<Activity>);

#[derive(Debug, Default)]
struct Activity {
    /// Handlers running now (more than one only with pipelining).
    in_flight: AtomicU32,
    /// Handlers started so far: a change means the request being read has been dispatched.
    started: AtomicU64,
    /// The connection's task as it last waited on the socket: woken when a handler ends, so the
    /// deadline is worked out again (hyper would not poll the socket until bytes came, and the
    /// timer would still be set for the header deadline of the request that just ended).
    parked: parking_lot::Mutex<Option<Waker>>,
}

impl ConnectionActivity {
    /// Marks the connection busy for as long as the returned guard lives: while a handler runs,
    /// or, for a connection taken over by an upgrade (a replication stream), for the stream's
    /// life, so it is never idle between its frames.
    pub fn begin(&self) -> Busy {
        self.0.started.fetch_add(1, Ordering::AcqRel);
        self.0.in_flight.fetch_add(1, Ordering::AcqRel);
        Busy(Arc::clone(&self.0))
    }

    /// Remembers the task waiting on the connection's socket.
    fn park(&self, waker: &Waker) {
        let mut parked = self.0.parked.lock();
        if !parked.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *parked = Some(waker.clone());
        }
    }

    fn in_flight(&self) -> bool {
        self.0.in_flight.load(Ordering::Acquire) > 0
    }

    fn started(&self) -> u64 {
        self.0.started.load(Ordering::Acquire)
    }
}

/// A running handler (or an upgraded connection); dropping it (the handler answered or was
/// cancelled, the stream ended) ends the request.
pub struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        if let Some(waker) = self.0.parked.lock().as_ref() {
            waker.wake_by_ref();
        }
    }
}

/// Middleware: marks the connection busy while the handler runs. Requests that did not come
/// through `LimitedListener` (in-process tests) carry no activity and pass untouched.
///
/// An error answer to a request with a body says `Connection: close`: the handler may have
/// refused it before reading the body (a declared size over the limit, a wrong content type, an
/// unknown topic), and then the server drops the connection after answering. Without the header a
/// client pools the connection and sends its next request into that close (a broken pipe).
pub async fn track_request(request: Request, next: Next) -> Response {
    let activity = request
        .extensions()
        .get::<ConnectInfo<ConnectionActivity>>()
        .map(|info| info.0.clone());
    let has_body = has_body(request.headers());
    let _busy = activity.as_ref().map(ConnectionActivity::begin);
    let mut response = next.run(request).await;
    let status = response.status();
    if has_body && (status.is_client_error() || status.is_server_error()) {
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    response
}

/// Whether a request carries a body: a non-zero `Content-Length`, or chunked.
fn has_body(headers: &axum::http::HeaderMap) -> bool {
    super::extract::declared_length(headers).is_some_and(|n| n > 0)
        || headers.contains_key(axum::http::header::TRANSFER_ENCODING)
}

/// The deadline a connection's reads and writes must beat while no handler runs.
#[derive(Debug)]
pub struct ConnectionDeadlines {
    timeouts: ConnectionTimeouts,
    activity: ConnectionActivity,
    /// When bytes last moved either way, and when an answer's bytes last went out.
    last_progress: Instant,
    /// None until an answer's first byte.
    last_write: Option<Instant>,
    /// A request head being read: the value of `started` when its first byte came, and when.
    reading_head: Option<(u64, Instant)>,
    timer: Pin<Box<Sleep>>,
    timer_at: Instant,
    /// Since when the socket has been full (the client not reading), and the bytes it took since.
    write_blocked: Option<(BodyDeadline, usize)>,
}

impl ConnectionDeadlines {
    /// A new connection is reading its first request head from now on.
    pub fn new(timeouts: ConnectionTimeouts) -> Self {
        let now = Instant::now();
        let first_deadline = now + timeouts.header_read;
        ConnectionDeadlines {
            timeouts,
            activity: ConnectionActivity::default(),
            last_progress: now,
            last_write: None,
            reading_head: Some((0, now)),
            timer: Box::pin(tokio::time::sleep_until(first_deadline)),
            timer_at: first_deadline,
            write_blocked: None,
        }
    }

    pub fn activity(&self) -> ConnectionActivity {
        self.activity.clone()
    }

    /// Bytes moved: `read` tells which way. Bytes read while no handler runs belong to the next
    /// request's head, whose header timeout starts with the first of them.
    pub fn progressed(&mut self, read: bool) {
        let now = Instant::now();
        self.last_progress = now;
        if !read {
            self.last_write = Some(now);
        }
        if read && !self.activity.in_flight() {
            let started = self.activity.started();
            if !matches!(self.reading_head, Some((seen, _)) if seen == started) {
                self.reading_head = Some((started, now));
            }
        }
    }

    /// A write took `written` of `offered` bytes: all of them means the socket had room (the
    /// client keeps up), fewer that it is still full.
    pub fn wrote(&mut self, written: usize, offered: usize) {
        if written > 0 {
            self.progressed(false);
        }
        match &mut self.write_blocked {
            Some(_) if written >= offered => self.write_blocked = None,
            Some((_, taken)) => *taken += written,
            None => {}
        }
    }

    /// A write would wait: the socket is full.
    pub fn write_would_block(&mut self) {
        let timeouts = self.timeouts;
        self.write_blocked.get_or_insert_with(|| {
            let pace = BodyDeadline::start(timeouts.answer_grace, timeouts.answer_min_rate);
            (pace, 0)
        });
    }

    /// The deadline in force and which limit sets it: the connection's (below), or, while the
    /// socket is full, the answer's minimum rate, whichever comes first.
    fn deadline(&mut self) -> Option<(Instant, &'static str)> {
        let connection = self.connection_deadline();
        let answer = self.write_blocked.map(|(pace, taken)| {
            (
                pace.after(taken),
                "limits.body_min_rate (the client reads its answer too slowly)",
            )
        });
        match (connection, answer) {
            (Some(c), Some(a)) => Some(if a.0 < c.0 { a } else { c }),
            (c, a) => c.or(a),
        }
    }

    /// The header or idle deadline; none while a handler runs (the body's rate and the handler's
    /// own waits bound it).
    fn connection_deadline(&mut self) -> Option<(Instant, &'static str)> {
        if self.activity.in_flight() {
            return None;
        }
        let started = self.activity.started();
        match self.reading_head {
            // A pipelined head that came while an answer was still going out runs from that
            // answer's last byte: a slow reader of a large answer is not cut by its next head.
            Some((seen, since)) if seen == started => {
                let from = self.last_write.map_or(since, |written| written.max(since));
                Some((
                    from + self.timeouts.header_read,
                    "limits.header_read_timeout",
                ))
            }
            _ => {
                self.reading_head = None;
                Some((
                    self.last_progress + self.timeouts.idle,
                    "limits.idle_timeout",
                ))
            }
        }
    }

    /// Called when a read or write would wait: an error once the deadline has passed (which closes
    /// the connection), else arms the timer so the connection's task wakes at the deadline.
    pub fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        self.activity.park(cx.waker());
        let Some((deadline, which)) = self.deadline() else {
            return Poll::Pending;
        };
        if deadline != self.timer_at {
            self.timer.as_mut().reset(deadline);
            self.timer_at = deadline;
        }
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                tracing::debug!(timeout = which, "closing a slow or idle connection");
                Poll::Ready(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{which} passed"),
                ))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The minimum rate of a request body (`limits.body_read_timeout` of grace, then at least
/// `limits.body_min_rate` bytes per second on average), as Kestrel's `MinRequestBodyDataRate`:
/// having received `n` bytes, the next must come by `start + grace + n / rate`. The same pace
/// holds a client reading its answer once its socket is full ([`ConnectionDeadlines`]).
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadline {
    start: Instant,
    grace: Duration,
    bytes_per_second: u64,
}

impl BodyDeadline {
    pub fn start(grace: Duration, bytes_per_second: u64) -> Self {
        BodyDeadline {
            start: Instant::now(),
            grace,
            bytes_per_second: bytes_per_second.max(1),
        }
    }

    /// When more bytes must have come, having received `received`.
    pub fn after(&self, received: usize) -> Instant {
        let earned = Duration::from_secs_f64(received as f64 / self.bytes_per_second as f64);
        self.start + self.grace + earned
    }

    /// Awaits `next` (the next body frame) against the deadline; `None` when it passed.
    pub async fn within<F: Future>(&self, received: usize, next: F) -> Option<F::Output> {
        tokio::time::timeout_at(self.after(received), next)
            .await
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_earns_time_by_its_bytes() {
        let deadline = BodyDeadline::start(Duration::from_secs(2), 1000);
        assert_eq!(deadline.after(0), deadline.start + Duration::from_secs(2));
        assert_eq!(
            deadline.after(3000),
            deadline.start + Duration::from_secs(5)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn header_then_idle_then_header_deadlines() {
        let timeouts = ConnectionTimeouts {
            header_read: Duration::from_secs(1),
            idle: Duration::from_secs(10),
            answer_grace: Duration::from_secs(100),
            answer_min_rate: 1,
        };
        let mut deadlines = ConnectionDeadlines::new(timeouts);
        let opened = Instant::now();
        // A new connection: the header timeout, from the accept.
        assert_eq!(
            deadlines.deadline().unwrap().0,
            opened + timeouts.header_read
        );
        deadlines.progressed(true);
        let activity = deadlines.activity();
        {
            let _busy = activity.begin();
            assert!(
                deadlines.deadline().is_none(),
                "no deadline while a handler runs"
            );
        }
        tokio::time::advance(Duration::from_secs(3)).await;
        deadlines.progressed(false); // the answer is written
        let answered = Instant::now();
        assert_eq!(
            deadlines.deadline().unwrap(),
            (answered + timeouts.idle, "limits.idle_timeout")
        );
        tokio::time::advance(Duration::from_secs(4)).await;
        deadlines.progressed(true); // the next request's first byte
        assert_eq!(
            deadlines.deadline().unwrap(),
            (
                Instant::now() + timeouts.header_read,
                "limits.header_read_timeout"
            )
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_stops_reading_its_answer_runs_out_of_grace() {
        let timeouts = ConnectionTimeouts {
            header_read: Duration::from_secs(100),
            idle: Duration::from_secs(100),
            answer_grace: Duration::from_secs(2),
            answer_min_rate: 1000,
        };
        let mut deadlines = ConnectionDeadlines::new(timeouts);
        deadlines.progressed(true);
        let blocked_at = Instant::now();
        deadlines.write_would_block();
        assert_eq!(
            deadlines.deadline().unwrap().0,
            blocked_at + Duration::from_secs(2)
        );
        // It takes 3000 bytes: three more seconds earned.
        deadlines.wrote(3000, 65536);
        assert_eq!(
            deadlines.deadline().unwrap().0,
            blocked_at + Duration::from_secs(5)
        );
        // The socket has room again: no answer deadline.
        deadlines.wrote(100, 100);
        assert!(deadlines.write_blocked.is_none());
    }
}
