//! A TCP proxy a test puts between Ara and a dependency (Postgres, Redis…) to cause the network
//! faults a real server cannot be asked for:
//!
//! - [`FaultProxy::cut`]: every socket stays open but nothing is forwarded, either way, on current
//!   or new connections — a hang, as behind a dead link or a firewall that drops packets: no reset,
//!   no error, only silence, so only a timeout notices.
//! - [`FaultProxy::restore`]: forwarding resumes where it stopped (bytes held back are delivered, in
//!   order; new connections reach the upstream).
//! - [`FaultProxy::reset`]: every current connection is closed at once; new ones are served.
//! - [`FaultProxy::set_latency`]: every chunk of bytes, either way, is held this long before it is
//!   forwarded (a slow link; order is kept).
//! - [`FaultProxy::set_loss`]: each chunk is, with this probability, held for a retransmission delay
//!   first. That is what packet loss looks like above TCP: nothing is lost or reordered (TCP
//!   retransmits), but a lost segment stalls its stream for a retransmission timeout (200 ms and up).
//!   Dropping bytes for real would only corrupt the protocol stream, which a real network never does.
//!
//! Point the app at [`FaultProxy::addr`] instead of the dependency (see [`FaultProxy::url_via`]).
//! Dropping the proxy stops it and closes its connections.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy)]
struct Control {
    forwarding: bool,
    /// Bumped by `reset`: connections of an older generation close.
    generation: u64,
    /// Held before every chunk is forwarded.
    latency: Duration,
    /// The probability that a chunk is held `stall` more (a lost segment being retransmitted).
    loss: f64,
    stall: Duration,
}

impl Control {
    /// How long the next chunk waits before it is forwarded.
    fn delay(&self) -> Duration {
        if self.loss > 0.0 && fastrand::f64() < self.loss {
            self.latency + self.stall
        } else {
            self.latency
        }
    }
}

pub struct FaultProxy {
    addr: SocketAddr,
    control: watch::Sender<Control>,
    accept: JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on a free port of 127.0.0.1 and forwards to `upstream` (`host:port`).
    pub async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("the proxy binds a port");
        let addr = listener.local_addr().expect("the proxy's address");
        let (control, _) = watch::channel(Control {
            forwarding: true,
            generation: 0,
            latency: Duration::ZERO,
            loss: 0.0,
            stall: Duration::ZERO,
        });
        let upstream = upstream.to_owned();
        let subscriber = control.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(serve(client, upstream.clone(), subscriber.subscribe()));
            }
        });
        Self { addr, control, accept }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `url` (`scheme://[user[:password]@]host[:port][/path][?query]`) with its host and port
    /// replaced by the proxy's.
    pub fn url_via(&self, url: &str) -> String {
        let scheme_end = url.find("://").map_or(0, |i| i + 3);
        let rest = &url[scheme_end..];
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        let userinfo = authority.rfind('@').map_or("", |i| &authority[..=i]);
        format!("{}{userinfo}{}{}", &url[..scheme_end], self.addr, &rest[authority_end..])
    }

    /// Stops forwarding; sockets stay open (a hang, not a reset).
    pub fn cut(&self) {
        self.control.send_modify(|c| c.forwarding = false);
    }

    /// Forwards again, including what was held back while cut.
    pub fn restore(&self) {
        self.control.send_modify(|c| c.forwarding = true);
    }

    /// Closes every current connection; later ones are served as the proxy is (cut or not).
    pub fn reset(&self) {
        self.control.send_modify(|c| c.generation += 1);
    }

    /// Holds every chunk `latency` before forwarding it, either way (zero: none).
    pub fn set_latency(&self, latency: Duration) {
        self.control.send_modify(|c| c.latency = latency);
    }

    /// Holds a chunk, with probability `loss`, `stall` longer (zero: no loss).
    pub fn set_loss(&self, loss: f64, stall: Duration) {
        self.control.send_modify(|c| {
            c.loss = loss.clamp(0.0, 1.0);
            c.stall = stall;
        });
    }

    /// No latency, no loss, forwarding: the link as it was (current connections are kept).
    pub fn heal(&self) {
        self.control.send_modify(|c| {
            c.forwarding = true;
            c.latency = Duration::ZERO;
            c.loss = 0.0;
        });
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // The connection tasks end when they see the control channel closed.
        self.accept.abort();
    }
}

async fn serve(client: TcpStream, upstream: String, mut control: watch::Receiver<Control>) {
    let generation = control.borrow().generation;
    // A cut link does not connect either: the client's first bytes wait with the rest.
    if !wait_forwarding(&mut control, generation).await {
        return;
    }
    let Ok(server) = TcpStream::connect(&upstream).await else { return };
    let _ = (client.set_nodelay(true), server.set_nodelay(true));
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::join!(
        pump(client_read, server_write, control.clone(), generation),
        pump(server_read, client_write, control, generation),
    );
}

/// Copies `from` to `to` while forwarding; on end of input, half-closes `to`.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut control: watch::Receiver<Control>, generation: u64) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        if !wait_forwarding(&mut control, generation).await {
            return;
        }
        let read = tokio::select! {
            read = from.read(&mut buffer) => read,
            // Cut, reset or dropped while waiting for input: look again before reading.
            changed = control.changed() => match changed {
                Ok(()) => continue,
                Err(_) => return,
            },
        };
        let n = match read {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return;
            }
            Ok(n) => n,
        };
        // A slow or lossy link: the chunk waits before it goes on (a reset still closes at once).
        let delay = control.borrow().delay();
        if !delay.is_zero() && !hold(&mut control, generation, delay).await {
            return;
        }
        // Bytes read just before a cut are held until it is restored.
        if !wait_forwarding(&mut control, generation).await {
            return;
        }
        let closed = async {
            while control.changed().await.is_ok() {
                if control.borrow().generation != generation {
                    return;
                }
            }
        };
        tokio::select! {
            written = to.write_all(&buffer[..n]) => if written.is_err() { return },
            _ = closed => return,
        }
    }
}

/// Sleeps `delay`; false if the connection must close meanwhile (reset, or the proxy is gone).
async fn hold(control: &mut watch::Receiver<Control>, generation: u64, delay: Duration) -> bool {
    let sleep = tokio::time::sleep(delay);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            () = &mut sleep => return true,
            changed = control.changed() => {
                if changed.is_err() || control.borrow().generation != generation {
                    return false;
                }
            }
        }
    }
}

/// Waits until the proxy forwards; false once this connection must close (reset, or the proxy is
/// gone).
async fn wait_forwarding(control: &mut watch::Receiver<Control>, generation: u64) -> bool {
    loop {
        let now = *control.borrow_and_update();
        if now.generation != generation {
            return false;
        }
        if now.forwarding {
            return true;
        }
        if control.changed().await.is_err() {
            return false;
        }
    }
}

/// The proxy's own behaviour, against an echo server.
mod tests {
    use std::time::Duration;

    use super::*;

    /// An upstream that echoes whatever it reads.
    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut read, mut write) = socket.split();
                    let _ = tokio::io::copy(&mut read, &mut write).await;
                });
            }
        });
        addr
    }

    async fn read_some(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
        let mut buffer = [0u8; 64];
        match tokio::time::timeout(limit, stream.read(&mut buffer)).await {
            Ok(Ok(n)) => Some(buffer[..n].to_vec()),
            Ok(Err(_)) => Some(Vec::new()),
            Err(_) => None,
        }
    }

    #[tokio::test]
    async fn cut_holds_bytes_back_restore_delivers_them_and_reset_closes() {
        let proxy = FaultProxy::start(&echo_server().await.to_string()).await;
        let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
        client.write_all(b"one").await.unwrap();
        assert_eq!(read_some(&mut client, Duration::from_secs(5)).await.as_deref(), Some(&b"one"[..]));

        proxy.cut();
        client.write_all(b"two").await.unwrap();
        assert_eq!(read_some(&mut client, Duration::from_millis(300)).await, None, "silence, not a reset");
        let mut late = TcpStream::connect(proxy.addr()).await.expect("a cut proxy still accepts");
        late.write_all(b"late").await.unwrap();
        assert_eq!(read_some(&mut late, Duration::from_millis(300)).await, None);

        proxy.restore();
        assert_eq!(read_some(&mut client, Duration::from_secs(5)).await.as_deref(), Some(&b"two"[..]));
        assert_eq!(read_some(&mut late, Duration::from_secs(5)).await.as_deref(), Some(&b"late"[..]));

        proxy.reset();
        assert_eq!(read_some(&mut client, Duration::from_secs(5)).await.as_deref(), Some(&b""[..]), "closed");
        let mut fresh = TcpStream::connect(proxy.addr()).await.unwrap();
        fresh.write_all(b"three").await.unwrap();
        assert_eq!(read_some(&mut fresh, Duration::from_secs(5)).await.as_deref(), Some(&b"three"[..]));
    }

    /// Round trip of `bytes` through the proxy and the echo server.
    async fn round_trip(stream: &mut TcpStream, bytes: &[u8]) -> (Vec<u8>, Duration) {
        let started = std::time::Instant::now();
        stream.write_all(bytes).await.unwrap();
        let got = read_some(stream, Duration::from_secs(5)).await.expect("an echo within 5s");
        (got, started.elapsed())
    }

    #[tokio::test]
    async fn latency_and_loss_delay_bytes_without_losing_or_reordering_them() {
        let proxy = FaultProxy::start(&echo_server().await.to_string()).await;
        let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
        let (_, fast) = round_trip(&mut client, b"a").await;

        proxy.set_latency(Duration::from_millis(150));
        let (got, slow) = round_trip(&mut client, b"b").await;
        assert_eq!(got, b"b");
        // Held once each way.
        assert!(slow >= Duration::from_millis(300), "latency not applied: {slow:?} (unloaded {fast:?})");

        proxy.set_latency(Duration::ZERO);
        proxy.set_loss(1.0, Duration::from_millis(200));
        let (got, stalled) = round_trip(&mut client, b"c").await;
        assert_eq!(got, b"c");
        assert!(stalled >= Duration::from_millis(400), "loss not applied: {stalled:?}");

        proxy.heal();
        let mut sent = Vec::new();
        let mut echoed = Vec::new();
        proxy.set_loss(0.5, Duration::from_millis(20));
        for i in 0..20u8 {
            client.write_all(&[i]).await.unwrap();
            sent.push(i);
        }
        while echoed.len() < sent.len() {
            echoed.extend(read_some(&mut client, Duration::from_secs(5)).await.expect("the rest arrives"));
        }
        assert_eq!(echoed, sent, "a lossy link still delivers everything, in order");
    }
}
