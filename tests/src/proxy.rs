//! TCP proxies between the nodes of a test cluster, for fault injection on `127.0.0.1` without
//! root: partitions, one-way cuts, black holes and delays between chosen nodes.
//!
//! Every node `k` (ids `1..=n`) gets one inbound proxy listening on `127.0.0.1:<free port>`
//! that forwards every accepted connection to the node's real address; the proxy's address is
//! what goes into the `[cluster]` nodes list. The nodes open their connections to each other
//! from distinct loopback source addresses (node `k` from [`source_ip`]`(k)` =
//! `127.0.0.(10+k)`), so the proxy of node `j` knows from the peer address of an accepted
//! connection which node is calling, and applies the [`Link`] state of the directed link
//! `k -> j`. A connection from any other address (`127.0.0.1`: a test client) always passes.
//!
//! The link state is checked when a connection is accepted, for every chunk copied, and on every
//! change (existing connections are cut at once by [`Link::Refuse`]), so a change applies to the
//! connections already open, not only to new ones.
//!
//! The proxies run on a small tokio runtime owned by [`Proxies`]; dropping it stops the
//! listeners and closes every proxied connection.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// The highest node id that has a source address (`127.0.0.255`).
const MAX_NODE: usize = 245;
/// Bytes read at once from one side of a proxied connection.
const CHUNK: usize = 16 * 1024;
/// Chunks queued per direction of a connection (bounds the memory a delayed link holds).
const QUEUED_CHUNKS: usize = 64;

/// The loopback address node `node`'s outbound connections come from: `127.0.0.(10+node)`.
pub fn source_ip(node: usize) -> Ipv4Addr {
    assert!(
        (1..=MAX_NODE).contains(&node),
        "node id {node} outside 1..={MAX_NODE}"
    );
    Ipv4Addr::new(127, 0, 0, (10 + node) as u8)
}

/// The node whose source address this is (the inverse of [`source_ip`]); `None` for any other
/// address (`127.0.0.1`: a test client).
pub fn node_of(ip: impl Into<IpAddr>) -> Option<usize> {
    let ip = match ip.into() {
        IpAddr::V4(ip) => ip,
        IpAddr::V6(ip) => ip.to_ipv4_mapped()?,
    };
    match ip.octets() {
        [127, 0, 0, last] if usize::from(last) > 10 => Some(usize::from(last) - 10),
        _ => None,
    }
}

/// What the proxy of node `to` does with the connections node `from` opens to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Link {
    /// Forward everything (the default).
    #[default]
    Pass,
    /// Close new connections at once (the caller sees its connection closed, like a node that
    /// is down); existing connections on the link are cut.
    Refuse,
    /// Accept, read and discard everything in both directions, never forward and never close:
    /// the caller hangs until its own timeout. Existing connections switch to discarding. A
    /// connection that lost bytes this way is closed when the link leaves `Blackhole` (its byte
    /// stream is broken); an idle one carries on.
    Blackhole,
    /// Forward, every chunk held for this long (in each direction, in order).
    Delay(Duration),
}

/// The proxies of a cluster: one per node, see the module documentation.
pub struct Proxies {
    runtime: Option<tokio::runtime::Runtime>,
    addrs: Vec<SocketAddr>,
    shared: Arc<Shared>,
}

/// State shared by the proxy tasks and the [`Proxies`] handle.
struct Shared {
    /// Directed links `(from, to)` whose state is not [`Link::Pass`].
    links: watch::Sender<HashMap<(usize, usize), Link>>,
    /// Real address of node `k` at index `k - 1`.
    targets: Mutex<Vec<SocketAddr>>,
}

impl Shared {
    fn link(&self, from: Option<usize>, to: usize) -> Link {
        match from {
            Some(from) => self
                .links
                .borrow()
                .get(&(from, to))
                .copied()
                .unwrap_or_default(),
            None => Link::Pass,
        }
    }
}

impl Proxies {
    /// Starts one proxy per node; node `k` (1-based) forwards to `real_addrs[k - 1]`. Every link
    /// starts as [`Link::Pass`].
    pub fn start(real_addrs: &[SocketAddr]) -> Proxies {
        assert!(
            real_addrs.len() <= MAX_NODE,
            "at most {MAX_NODE} nodes can be proxied"
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("mq-proxy")
            .enable_all()
            .build()
            .expect("start the proxies' runtime");
        let shared = Arc::new(Shared {
            links: watch::Sender::new(HashMap::new()),
            targets: Mutex::new(real_addrs.to_vec()),
        });
        let mut addrs = Vec::with_capacity(real_addrs.len());
        for node in 1..=real_addrs.len() {
            let listener = runtime
                .block_on(TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
                .expect("bind a proxy on 127.0.0.1");
            addrs.push(listener.local_addr().expect("proxy address"));
            runtime.spawn(accept_loop(listener, node, Arc::clone(&shared)));
        }
        Proxies {
            runtime: Some(runtime),
            addrs,
            shared,
        }
    }

    /// Number of nodes (proxies).
    pub fn len(&self) -> usize {
        self.addrs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.addrs.is_empty()
    }

    /// The address the proxy of `node` listens on (for the `[cluster]` nodes list).
    pub fn addr(&self, node: usize) -> SocketAddr {
        self.addrs[self.index(node)]
    }

    /// The proxies' addresses, node 1 first.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// The real address `node`'s proxy forwards to.
    pub fn target(&self, node: usize) -> SocketAddr {
        self.shared.targets.lock().unwrap()[self.index(node)]
    }

    /// Makes `node`'s proxy forward new connections to `real` (a node restarted on another
    /// port); connections already open stay where they are.
    pub fn set_target(&self, node: usize, real: SocketAddr) {
        let index = self.index(node);
        self.shared.targets.lock().unwrap()[index] = real;
    }

    /// Sets the state of the directed link `from -> to`: the connections `from` opens to `to`.
    pub fn set_link(&self, from: usize, to: usize, link: Link) {
        self.index(from);
        self.index(to);
        self.shared.links.send_modify(|links| {
            set(links, from, to, link);
        });
    }

    /// The state of the directed link `from -> to`.
    pub fn link(&self, from: usize, to: usize) -> Link {
        self.index(from);
        self.index(to);
        self.shared.link(Some(from), to)
    }

    /// Every link back to [`Link::Pass`].
    pub fn heal_all(&self) {
        self.shared.links.send_modify(HashMap::clear);
    }

    /// Sets every link into and out of `node` (to and from every other node) to `link`, at once.
    pub fn isolate(&self, node: usize, link: Link) {
        self.index(node);
        let n = self.len();
        self.shared.links.send_modify(|links| {
            for other in (1..=n).filter(|&other| other != node) {
                set(links, node, other, link);
                set(links, other, node, link);
            }
        });
    }

    /// Black-holes the connections `from` opens to `to` only; `to -> from` is left as it is.
    pub fn cut_one_way(&self, from: usize, to: usize) {
        self.set_link(from, to, Link::Blackhole);
    }

    fn index(&self, node: usize) -> usize {
        assert!(
            (1..=self.len()).contains(&node),
            "node {node} outside 1..={}",
            self.len()
        );
        node - 1
    }
}

impl Drop for Proxies {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            // Shutting down drops every task: the listeners and both sockets of every connection.
            if tokio::runtime::Handle::try_current().is_ok() {
                runtime.shutdown_background();
            } else {
                runtime.shutdown_timeout(Duration::from_secs(2));
            }
        }
    }
}

fn set(links: &mut HashMap<(usize, usize), Link>, from: usize, to: usize, link: Link) {
    if link == Link::Pass {
        links.remove(&(from, to));
    } else {
        links.insert((from, to), link);
    }
}

/// Opens a blocking TCP connection to `to` from the local address `source` (port chosen by the
/// system): a test acting as a node, see [`source_ip`]. Not for use inside an async context.
pub fn connect_from(source: Ipv4Addr, to: SocketAddr) -> io::Result<std::net::TcpStream> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let stream = runtime.block_on(async {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(source.into(), 0))?;
        tokio::time::timeout(Duration::from_secs(5), socket.connect(to))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))?
    })?;
    let stream = stream.into_std()?;
    stream.set_nonblocking(false)?;
    Ok(stream)
}

async fn accept_loop(listener: TcpListener, to: usize, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let from = node_of(peer.ip());
                tokio::spawn(serve(stream, from, to, Arc::clone(&shared)));
            }
            // Out of file descriptors and the like: try again shortly.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// One direction's end of a proxied connection, as seen by its writer.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    /// The end of the stream was forwarded.
    Done,
    /// The whole connection must be closed.
    Cut,
}

/// What the reader of one direction hands to its writer.
enum Piece {
    Data(Vec<u8>),
    Eof,
    Reset,
}

/// What one connection consults: the state of its link, and whether it has lost bytes.
struct Probe {
    shared: Arc<Shared>,
    from: Option<usize>,
    to: usize,
    lost: AtomicBool,
}

impl Probe {
    fn link(&self) -> Link {
        self.shared.link(self.from, self.to)
    }

    /// Whether the connection must be closed now that the link is `link`.
    fn must_cut(&self, link: Link) -> bool {
        match link {
            Link::Refuse => true,
            Link::Blackhole => false,
            Link::Pass | Link::Delay(_) => self.lost.load(Ordering::SeqCst),
        }
    }
}

async fn serve(client: TcpStream, from: Option<usize>, to: usize, shared: Arc<Shared>) {
    let mut changes = shared.links.subscribe();
    let target = shared.targets.lock().unwrap()[to - 1];
    let probe = Probe {
        shared,
        from,
        to,
        lost: AtomicBool::new(false),
    };
    match probe.link() {
        Link::Refuse => return,
        Link::Blackhole => return swallow(client, &probe, &mut changes).await,
        Link::Pass | Link::Delay(_) => {}
    }
    let Ok(server) = TcpStream::connect(target).await else {
        return; // the node is down: the caller sees its connection closed
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let up = pump(client_read, server_write, &probe);
    let down = pump(server_read, client_write, &probe);
    tokio::pin!(up, down);
    let (mut up_done, mut down_done) = (false, false);
    while !(up_done && down_done) {
        tokio::select! {
            flow = &mut up, if !up_done => {
                if flow == Flow::Cut {
                    return;
                }
                up_done = true;
            }
            flow = &mut down, if !down_done => {
                if flow == Flow::Cut {
                    return;
                }
                down_done = true;
            }
            changed = changes.changed() => {
                if changed.is_err() || probe.must_cut(probe.link()) {
                    return;
                }
            }
        }
    }
}

/// A connection accepted while its link was a black hole: read and discard until the link
/// changes, then close.
async fn swallow(
    mut client: TcpStream,
    probe: &Probe,
    changes: &mut watch::Receiver<HashMap<(usize, usize), Link>>,
) {
    let mut buf = vec![0; CHUNK];
    let mut open = true;
    loop {
        tokio::select! {
            read = client.read(&mut buf), if open => {
                if !matches!(read, Ok(n) if n > 0) {
                    open = false;
                }
            }
            changed = changes.changed() => {
                if changed.is_err() || probe.link() != Link::Blackhole {
                    return;
                }
            }
        }
    }
}

/// Copies one direction, chunk by chunk, each held until it is due and checked against the link
/// state when it is written. Returns when the end of the stream was forwarded or the connection
/// must be cut.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, probe: &Probe) -> Flow {
    let (queue, mut queued) = mpsc::channel::<(Instant, Piece)>(QUEUED_CHUNKS);
    let reader = async {
        let mut buf = vec![0; CHUNK];
        loop {
            let piece = match from.read(&mut buf).await {
                Ok(0) => Piece::Eof,
                Ok(n) => Piece::Data(buf[..n].to_vec()),
                Err(_) => Piece::Reset,
            };
            let last = !matches!(piece, Piece::Data(_));
            let delay = match probe.link() {
                Link::Delay(delay) => delay,
                _ => Duration::ZERO,
            };
            if queue.send((Instant::now() + delay, piece)).await.is_err() || last {
                break;
            }
        }
        // Keep the queue open: the writer decides when this direction ends.
        std::future::pending::<()>().await;
    };
    let writer = async {
        while let Some((due, piece)) = queued.recv().await {
            tokio::time::sleep_until(due).await;
            let link = probe.link();
            if link == Link::Blackhole {
                probe.lost.store(true, Ordering::SeqCst);
                continue;
            }
            if probe.must_cut(link) {
                return Flow::Cut;
            }
            match piece {
                Piece::Data(bytes) => {
                    if to.write_all(&bytes).await.is_err() {
                        return Flow::Cut;
                    }
                }
                Piece::Eof => {
                    let _ = to.shutdown().await;
                    return Flow::Done;
                }
                Piece::Reset => return Flow::Cut,
            }
        }
        Flow::Cut
    };
    tokio::select! {
        flow = writer => flow,
        () = reader => Flow::Cut,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpStream as StdStream;
    use std::time::Instant;

    /// How long a read waits before the test calls the connection silent.
    const SILENCE: Duration = Duration::from_millis(300);
    /// How long a read waits for something that should come (bytes or a close).
    const PATIENCE: Duration = Duration::from_secs(2);

    /// An echo server on 127.0.0.1 (one thread per connection; they end with the test process).
    fn echo_server() -> SocketAddr {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                std::thread::spawn(move || {
                    let mut buf = [0; 4096];
                    while let Ok(n) = stream.read(&mut buf) {
                        if n == 0 || stream.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    /// Three proxies, all in front of one echo server.
    fn three() -> Proxies {
        let echo = echo_server();
        Proxies::start(&[echo, echo, echo])
    }

    fn connect(from: usize, proxies: &Proxies, to: usize) -> StdStream {
        let source = if from == 0 {
            Ipv4Addr::LOCALHOST
        } else {
            source_ip(from)
        };
        connect_from(source, proxies.addr(to)).expect("connect through the proxy")
    }

    /// What a read brings within [`SILENCE`].
    #[derive(Debug, PartialEq, Eq)]
    enum Heard {
        Bytes(Vec<u8>),
        Closed,
        Silence,
    }

    /// Reads until `want` bytes arrived, the connection closes, or it stays silent for `wait`.
    fn hear(stream: &mut StdStream, want: usize, wait: Duration) -> Heard {
        stream.set_read_timeout(Some(wait)).unwrap();
        let mut got = Vec::new();
        let mut buf = [0; 4096];
        while got.len() < want {
            match stream.read(&mut buf) {
                Ok(0) => return Heard::Closed,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Heard::Silence
                }
                Err(_) => return Heard::Closed,
            }
        }
        Heard::Bytes(got)
    }

    /// Writes `message` (a closed connection may refuse it) and reads what comes back within
    /// `wait`.
    fn echo(stream: &mut StdStream, message: &[u8], wait: Duration) -> Heard {
        if stream.write_all(message).is_err() {
            return Heard::Closed;
        }
        hear(stream, message.len(), wait)
    }

    /// Whether "ping" comes back.
    fn echoes(stream: &mut StdStream) -> bool {
        echo(stream, b"ping", PATIENCE) == Heard::Bytes(b"ping".to_vec())
    }

    /// Whether "ping" goes unanswered, the connection staying open, for [`SILENCE`].
    fn silent(stream: &mut StdStream) -> bool {
        echo(stream, b"ping", SILENCE) == Heard::Silence
    }

    /// Whether the connection is closed (within [`PATIENCE`]) when written to.
    fn refused(stream: &mut StdStream) -> bool {
        echo(stream, b"ping", PATIENCE) == Heard::Closed
    }

    /// Whether the connection gets closed (within [`PATIENCE`]) without a byte coming.
    fn closes(stream: &mut StdStream) -> bool {
        hear(stream, 1, PATIENCE) == Heard::Closed
    }

    /// Polls `probe` until it holds, or fails naming `what` after two seconds.
    fn within(what: &str, mut probe: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(2);
        while !probe() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn source_ips_map_back_to_nodes() {
        assert_eq!(source_ip(1), Ipv4Addr::new(127, 0, 0, 11));
        assert_eq!(source_ip(3), Ipv4Addr::new(127, 0, 0, 13));
        for node in [1, 2, 7, MAX_NODE] {
            assert_eq!(node_of(source_ip(node)), Some(node));
        }
        assert_eq!(node_of(Ipv4Addr::LOCALHOST), None);
        assert_eq!(node_of(Ipv4Addr::new(127, 0, 0, 10)), None);
        assert_eq!(node_of(Ipv4Addr::new(10, 0, 0, 11)), None);
        assert_eq!(node_of(source_ip(2).to_ipv6_mapped()), Some(2));
    }

    #[test]
    fn pass_forwards_both_ways_for_nodes_and_clients() {
        let proxies = three();
        for (from, to) in [(1, 2), (2, 1), (3, 2), (0, 3)] {
            let mut stream = connect(from, &proxies, to);
            assert!(echoes(&mut stream), "{from} -> {to} does not echo");
            assert!(echoes(&mut stream), "{from} -> {to} does not echo twice");
        }
    }

    #[test]
    fn a_half_close_is_forwarded() {
        let proxies = three();
        let mut stream = connect(1, &proxies, 2);
        stream.write_all(b"last words").unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        // The echo server sees the end of the stream and closes after echoing.
        assert_eq!(
            hear(&mut stream, 10, PATIENCE),
            Heard::Bytes(b"last words".to_vec())
        );
        assert!(closes(&mut stream));
    }

    #[test]
    fn refuse_closes_new_connections_and_cuts_existing_ones() {
        let proxies = three();
        let mut existing = connect(1, &proxies, 2);
        assert!(echoes(&mut existing));
        proxies.set_link(1, 2, Link::Refuse);
        assert_eq!(proxies.link(1, 2), Link::Refuse);
        // The existing connection is cut without sending anything.
        assert!(closes(&mut existing));
        let mut fresh = connect(1, &proxies, 2);
        assert!(refused(&mut fresh));
        // Other links and clients are not affected.
        assert!(echoes(&mut connect(2, &proxies, 1)));
        assert!(echoes(&mut connect(0, &proxies, 2)));
        proxies.heal_all();
        assert!(echoes(&mut connect(1, &proxies, 2)));
    }

    #[test]
    fn blackhole_swallows_without_closing_until_healed() {
        let proxies = three();
        let mut existing = connect(1, &proxies, 2);
        assert!(echoes(&mut existing));
        proxies.cut_one_way(1, 2);
        assert_eq!(proxies.link(1, 2), Link::Blackhole);
        assert_eq!(proxies.link(2, 1), Link::Pass);
        // An existing connection goes silent; so does a new one, which stays open.
        assert!(silent(&mut existing));
        let mut fresh = connect(1, &proxies, 2);
        assert!(silent(&mut fresh));
        assert!(silent(&mut fresh));
        // One way only: 2 -> 1 still passes.
        assert!(echoes(&mut connect(2, &proxies, 1)));
        proxies.heal_all();
        // The connections that lost bytes are closed; a new connection passes again.
        assert!(closes(&mut existing));
        assert!(closes(&mut fresh));
        assert!(echoes(&mut connect(1, &proxies, 2)));
    }

    #[test]
    fn an_idle_connection_survives_a_blackhole() {
        let proxies = three();
        let mut idle = connect(1, &proxies, 2);
        assert!(echoes(&mut idle));
        proxies.set_link(1, 2, Link::Blackhole);
        // Wait until the proxy applies the black hole to another connection on the link.
        let mut other = connect(1, &proxies, 2);
        assert!(silent(&mut other));
        proxies.set_link(1, 2, Link::Pass);
        assert!(echoes(&mut idle), "an idle connection lost nothing");
    }

    #[test]
    fn delay_holds_every_chunk_in_order() {
        let proxies = three();
        let mut stream = connect(1, &proxies, 2);
        let started = Instant::now();
        assert!(echoes(&mut stream));
        // Under the 400 ms a slowed link takes at least, with room for a loaded machine.
        assert!(started.elapsed() < Duration::from_millis(400));

        proxies.set_link(1, 2, Link::Delay(Duration::from_millis(200)));
        let started = Instant::now();
        assert!(echoes(&mut stream));
        let took = started.elapsed();
        // Held 200 ms on the way to the server and 200 ms on the way back.
        assert!(took >= Duration::from_millis(400), "echo took {took:?}");
        assert!(took < Duration::from_secs(5), "echo took {took:?}");

        // Chunks written apart arrive in order.
        stream.write_all(b"a").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        stream.write_all(b"b").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        stream.write_all(b"c").unwrap();
        assert_eq!(
            hear(&mut stream, 3, PATIENCE),
            Heard::Bytes(b"abc".to_vec())
        );

        // Other links are not delayed.
        let mut other = connect(3, &proxies, 2);
        let started = Instant::now();
        assert!(echoes(&mut other));
        // Under the 400 ms a slowed link takes at least, with room for a loaded machine.
        assert!(started.elapsed() < Duration::from_millis(400));
    }

    #[test]
    fn a_cut_link_leaves_the_other_links_alone() {
        let proxies = three();
        proxies.set_link(1, 2, Link::Blackhole);
        assert!(silent(&mut connect(1, &proxies, 2)));
        assert!(echoes(&mut connect(3, &proxies, 2)), "3 -> 2 was cut");
        assert!(echoes(&mut connect(2, &proxies, 1)), "2 -> 1 was cut");
        assert!(echoes(&mut connect(1, &proxies, 3)), "1 -> 3 was cut");
        assert!(echoes(&mut connect(0, &proxies, 2)), "a client was cut");
    }

    #[test]
    fn isolate_cuts_every_link_of_one_node() {
        let proxies = three();
        proxies.isolate(2, Link::Refuse);
        for (from, to) in [(1, 2), (3, 2), (2, 1), (2, 3)] {
            assert_eq!(proxies.link(from, to), Link::Refuse);
            assert!(
                refused(&mut connect(from, &proxies, to)),
                "{from} -> {to} still passes"
            );
        }
        assert!(echoes(&mut connect(1, &proxies, 3)));
        assert!(echoes(&mut connect(3, &proxies, 1)));
        assert!(echoes(&mut connect(0, &proxies, 2)), "a client was cut");
        proxies.heal_all();
        assert!(echoes(&mut connect(1, &proxies, 2)));
        assert!(echoes(&mut connect(2, &proxies, 3)));
    }

    #[test]
    fn set_target_redirects_new_connections() {
        let proxies = three();
        let mut before = connect(1, &proxies, 2);
        assert!(echoes(&mut before));
        // A listener that accepts and closes at once.
        let closer = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let closer_addr = closer.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in closer.incoming() {
                drop(stream);
            }
        });
        proxies.set_target(2, closer_addr);
        assert_eq!(proxies.target(2), closer_addr);
        assert!(refused(&mut connect(1, &proxies, 2)));
        assert!(echoes(&mut before), "an open connection moved");
    }

    #[test]
    fn dropping_the_proxies_closes_everything() {
        let proxies = three();
        let addr = proxies.addr(2);
        let mut stream = connect(1, &proxies, 2);
        assert!(echoes(&mut stream));
        let started = Instant::now();
        drop(proxies);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(closes(&mut stream));
        within("the listener to close", || {
            StdStream::connect_timeout(&addr, SILENCE).is_err()
        });
    }
}
