//! One accepted TCP connection: HTTP/1.1 (with upgrades) served by hyper, watched for the header-read
//! and idle timeouts, and dropped at once when its [`ConnectionAbort`] fires.
//!
//! hyper's own `header_read_timeout` is not used: it restarts as soon as a keep-alive connection goes
//! idle, so the wait for the next request would be cut at the header timeout and no idle timeout
//! longer than it could exist. Instead the connection's task follows three phases, read from counters
//! that the request service, the response body and the socket update (all polled by this same task):
//!
//! - *headers*: from accept, or from the first byte of a next request, the headers must be complete
//!   within `header_read` — a byte trickle does not move that deadline;
//! - *busy*: a request is in flight (its response body not yet finished) — no deadline; the body read
//!   is bounded by the API routes' own deadline, and SSE streams live as long as they like;
//! - *idle*: between requests on a keep-alive connection — closed after `idle`.
//!
//! A WebSocket upgrade ends this task (hyper hands the socket over), so none of this applies to it.
//!
//! With TLS, the handshake comes first and must finish within `header_read` too: a client that opens
//! a socket and says nothing holds it no longer over TLS than in clear text.

use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use axum::Router;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::per_ip::IpSlot;
use super::tls::{ClientCertificate, TlsAcceptor};
use crate::ports::DynTransportMetrics;

/// Drops the TCP connection that carried a request, at once: no response is finished and nothing
/// more is read or written. Every request served by Ara has one in its extensions
/// (`request.extensions().get::<ConnectionAbort>()`, or the `Extension` extractor).
///
/// For a response stream whose client stopped reading: its socket is full, so the body is never
/// polled again and cannot end itself. After a WebSocket upgrade the handle does nothing (the socket
/// belongs to the WebSocket task then).
#[derive(Debug, Clone, Default)]
pub struct ConnectionAbort(CancellationToken);

impl ConnectionAbort {
    pub fn abort(&self) {
        self.0.cancel();
    }

    pub fn is_aborted(&self) -> bool {
        self.0.is_cancelled()
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub header_read: Duration,
    pub idle: Duration,
}

/// What the connection's parts tell its watch.
#[derive(Default)]
struct Activity {
    /// Requests whose headers were read, ever.
    started: AtomicU64,
    /// Requests whose response body has not been dropped yet.
    in_flight: AtomicUsize,
    /// Bytes arrived since the watch last looked.
    read: AtomicBool,
}

/// One request in flight; dropped with its response body.
struct Busy(Arc<Activity>);

impl Busy {
    fn start(activity: &Arc<Activity>) -> Self {
        activity.started.fetch_add(1, Relaxed);
        activity.in_flight.fetch_add(1, Relaxed);
        Self(activity.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

/// The response body, holding its request's [`Busy`].
pub struct TrackedBody {
    inner: Body,
    _busy: Busy,
}

impl HttpBody for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The socket, noting when bytes arrive and holding the address's connection slot for as long as the
/// socket lives (past a WebSocket upgrade too).
struct TrackedIo<S> {
    stream: S,
    activity: Arc<Activity>,
    _slot: Option<IpSlot>,
}

impl<S: AsyncRead + Unpin> AsyncRead for TrackedIo<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.read.store(true, Relaxed);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for TrackedIo<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
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

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Headers,
    Busy,
    Idle,
}

/// The deadline of the phase the connection is in.
struct Watch {
    timeouts: Timeouts,
    phase: Phase,
    seen_started: u64,
    deadline: Option<Instant>,
}

impl Watch {
    fn new(timeouts: Timeouts) -> Self {
        let deadline = Some(Instant::now() + timeouts.header_read);
        Self { timeouts, phase: Phase::Headers, seen_started: 0, deadline }
    }

    /// Moves to the phase `activity` shows and returns its deadline.
    fn update(&mut self, activity: &Activity) -> Option<Instant> {
        let started = activity.started.load(Relaxed);
        if activity.in_flight.load(Relaxed) > 0 {
            self.phase = Phase::Busy;
            self.seen_started = started;
            self.deadline = None;
        } else if self.phase == Phase::Busy || started != self.seen_started {
            // A request finished (possibly within one poll): the connection is idle from now.
            self.phase = Phase::Idle;
            self.seen_started = started;
            activity.read.store(false, Relaxed);
            self.deadline = Some(Instant::now() + self.timeouts.idle);
        } else if self.phase == Phase::Idle && activity.read.swap(false, Relaxed) {
            self.phase = Phase::Headers;
            let headers_due = Instant::now() + self.timeouts.header_read;
            self.deadline = self.deadline.map(|idle_due| idle_due.min(headers_due));
        }
        self.deadline
    }

    fn timeout_label(&self) -> &'static str {
        match self.phase {
            Phase::Idle => "idle",
            Phase::Headers | Phase::Busy => "header_read",
        }
    }
}

/// What every connection task needs.
pub struct ConnectionContext {
    pub router: Router,
    pub builder: http1::Builder,
    pub timeouts: Timeouts,
    /// Cancelled at shutdown: each connection finishes its request in flight, then closes.
    pub draining: CancellationToken,
    pub metrics: DynTransportMetrics,
    /// `None`: the listener speaks clear text.
    pub tls: Option<Arc<TlsAcceptor>>,
}

enum End {
    Served(hyper::Result<()>),
    TimedOut(&'static str),
    Aborted,
}

/// Serves `stream` until the client leaves, a timeout or an abort ends it, or shutdown drains it.
pub async fn run(stream: TcpStream, peer: SocketAddr, slot: Option<IpSlot>, cx: Arc<ConnectionContext>) {
    let Some(tls) = &cx.tls else {
        return serve(stream, peer, slot, None, cx).await;
    };
    let handshake = tls.acceptor().accept(stream);
    let stream = tokio::select! {
        accepted = handshake => match accepted {
            Ok(stream) => stream,
            Err(e) => {
                cx.metrics.connection_refused("tls_handshake");
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                return;
            }
        },
        _ = tokio::time::sleep(cx.timeouts.header_read) => {
            cx.metrics.connection_timed_out("tls_handshake");
            tracing::debug!(%peer, "closing a connection whose TLS handshake did not finish in time");
            return;
        }
        _ = cx.draining.cancelled() => return,
    };
    let certificate = stream.get_ref().1.peer_certificates().is_some().then_some(ClientCertificate);
    serve(stream, peer, slot, certificate, cx).await
}

async fn serve<S>(
    stream: S,
    peer: SocketAddr,
    slot: Option<IpSlot>,
    certificate: Option<ClientCertificate>,
    cx: Arc<ConnectionContext>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity::default());
    let abort = ConnectionAbort::default();
    let io = TrackedIo { stream, activity: activity.clone(), _slot: slot };
    let service = {
        let (router, activity, abort) = (cx.router.clone(), activity.clone(), abort.clone());
        hyper::service::service_fn(move |request| handle(request, router.clone(), peer, certificate, &abort, &activity))
    };
    let mut conn = pin!(cx.builder.serve_connection(TokioIo::new(io), service).with_upgrades());
    let mut aborted = pin!(abort.0.cancelled());
    let mut draining = pin!(cx.draining.cancelled());
    let mut watch = Watch::new(cx.timeouts);
    let mut timer = pin!(tokio::time::sleep(cx.timeouts.header_read));
    let mut drained = false;
    let end = poll_fn(|task| {
        if aborted.as_mut().poll(task).is_ready() {
            return Poll::Ready(End::Aborted);
        }
        if !drained && draining.as_mut().poll(task).is_ready() {
            drained = true;
            conn.as_mut().graceful_shutdown();
        }
        if let Poll::Ready(served) = conn.as_mut().poll(task) {
            return Poll::Ready(End::Served(served));
        }
        // Everything that moves the phase happened inside the poll above, on this task.
        if let Some(deadline) = watch.update(&activity) {
            if timer.deadline() != deadline {
                timer.as_mut().reset(deadline);
            }
            if timer.as_mut().poll(task).is_ready() {
                return Poll::Ready(End::TimedOut(watch.timeout_label()));
            }
        }
        Poll::Pending
    })
    .await;
    match end {
        End::Served(Ok(())) => {}
        End::Served(Err(e)) => tracing::debug!(%peer, error = %e, "HTTP connection ended with an error"),
        End::TimedOut(timeout) => {
            cx.metrics.connection_timed_out(timeout);
            tracing::debug!(%peer, timeout, "closing an HTTP connection past its timeout");
        }
        End::Aborted => tracing::debug!(%peer, "HTTP connection aborted by its handler"),
    }
}

fn handle(
    mut request: Request<Incoming>,
    router: Router,
    peer: SocketAddr,
    certificate: Option<ClientCertificate>,
    abort: &ConnectionAbort,
    activity: &Arc<Activity>,
) -> impl Future<Output = Result<Response<TrackedBody>, Infallible>> + Send + 'static {
    request.extensions_mut().insert(ConnectInfo(peer));
    if let Some(certificate) = certificate {
        request.extensions_mut().insert(certificate);
    }
    request.extensions_mut().insert(abort.clone());
    let busy = Busy::start(activity);
    let response = router.oneshot(request.map(Body::new));
    async move {
        let response = response.await.unwrap_or_else(|never| match never {});
        Ok(response.map(|inner| TrackedBody { inner, _busy: busy }))
    }
}
