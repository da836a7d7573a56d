//! The loopback HTTP server behind `sonance serve` and the desktop app's loopback transport:
//! hyper (HTTP/1.1) on a small tokio runtime of its own, in front of [`StreamApi`].
//!
//! Any program on this computer can connect, so the server holds up against hostile clients
//! (issue 12):
//! - a request head is at most [`MAX_HEAD_BYTES`] and [`MAX_HEADERS`] headers, and must arrive
//!   within [`Limits::head_timeout`] — which is also how long an idle keep-alive connection
//!   is kept;
//! - only POST, PUT and DELETE carry a body, with its length, at most [`MAX_BODY`] bytes, read
//!   within 10 s; any other announced body gets 413 without being read and the connection is
//!   closed (nothing is allocated for what a `Content-Length` claims);
//! - a client that stops reading for [`Limits::write_timeout`] is dropped, so a connection that
//!   pipelines requests and never reads the answers costs one stalled socket, no more;
//! - at most [`Limits::max_connections`]: past that the oldest idle connection is closed to make
//!   room (as nginx reuses keep-alive connections when it runs short); when none is idle the
//!   new one waits up to a second for a place, then is turned away; an accept error (EMFILE…)
//!   is logged and the loop goes on after a short pause;
//! - handlers run on blocking threads, at most [`WORKERS`] of them rendering chunks at once; a
//!   chunk's pieces reach the client through a small bounded channel, and when the client goes
//!   away the render stops after the spans in progress.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::ops::ControlFlow;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONNECTION};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Version};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot, watch, Notify, Semaphore};

use crate::api::{Request, Response, StreamApi, MAX_BODY};
use crate::message::{self, ResponseExt};

/// Chunk requests answered at once. Each may render a chunk (which itself uses every core),
/// so a few are enough to keep a prefetch, a seek and the page's own requests apart.
pub const WORKERS: usize = 4;
/// Request line and headers, in bytes (hyper answers 431 past it and closes).
pub const MAX_HEAD_BYTES: usize = 16 << 10;
/// Headers in one request.
pub const MAX_HEADERS: usize = 64;

/// How long a new connection waits for a place when all are taken and none is idle.
const ROOM_WAIT: Duration = Duration::from_secs(1);
/// Pieces of a chunk made but not yet taken by the connection (each is one span's Clusters,
/// at most 7.5 s of audio).
const PIECES_IN_FLIGHT: usize = 2;
/// Blocking threads for handlers: [`WORKERS`] renders plus quick answers.
const BLOCKING_THREADS: usize = 32;
const RUNTIME_THREADS: usize = 2;
const LISTEN_BACKLOG: u32 = 1024;
/// After an accept error (out of file descriptors…), wait this long before the next accept.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// How long a stop waits for answers in progress.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// What one client may take of the server. [`Limits::default`] is what `sonance serve` and
/// the desktop app use; tests shorten the timeouts.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections open at once (see the module docs for what happens past it).
    pub max_connections: usize,
    /// Time to send a whole request head, and to start the next one on a kept-alive
    /// connection.
    pub head_timeout: Duration,
    /// A client that takes nothing of a pending answer for this long is dropped.
    pub write_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 256,
            head_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
        }
    }
}

/// A running server.
pub struct Server {
    /// `None` only while dropping.
    runtime: Option<tokio::runtime::Runtime>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    accept: Option<tokio::task::JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl Server {
    /// Bind `host:port` (port 0 picks a free one) and start answering with `api`.
    pub fn start(host: &str, port: u16, api: Arc<StreamApi>) -> io::Result<Self> {
        Self::start_with(host, port, api, Limits::default())
    }

    /// [`Server::start`] with other [`Limits`].
    pub fn start_with(
        host: &str,
        port: u16,
        api: Arc<StreamApi>,
        limits: Limits,
    ) -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(RUNTIME_THREADS)
            .max_blocking_threads(BLOCKING_THREADS)
            .thread_name("http")
            .enable_io()
            .enable_time()
            .build()?;
        let listener = {
            let _in_runtime = runtime.enter();
            bind(host, port)?
        };
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            api,
            limits,
            renders: Arc::new(Semaphore::new(WORKERS)),
            handlers: Arc::new(AtomicUsize::new(0)),
            live: AtomicUsize::new(0),
            freed: Notify::new(),
            connections: Mutex::new(BTreeMap::new()),
        });
        let (stop, stopped) = watch::channel(false);
        let accept = runtime.spawn(accept_loop(listener, Arc::clone(&shared), stopped));
        Ok(Server {
            runtime: Some(runtime),
            addr,
            stop,
            accept: Some(accept),
            shared,
        })
    }

    /// The address bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Block until the server stops (call from outside any async runtime).
    pub fn join(mut self) {
        if let (Some(runtime), Some(accept)) = (&self.runtime, self.accept.take()) {
            if let Err(e) = runtime.block_on(accept) {
                log::error!("the HTTP accept loop failed: {e}");
            }
        }
    }

    /// Stop accepting, close idle connections and let answers in progress finish (for up to
    /// a few seconds).
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Handlers running now (diagnostics; tests watch a cancelled render end).
    pub fn busy_handlers(&self) -> usize {
        self.shared.handlers.load(Ordering::SeqCst)
    }

    /// Connections open now.
    pub fn connections(&self) -> usize {
        self.shared.live.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.send_replace(true);
        // Safe inside another runtime (the desktop app's); renders still running end at their
        // next piece, when they find nobody listening.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Bind the first address `host` resolves to that accepts us.
fn bind(host: &str, port: u16) -> io::Result<TcpListener> {
    let mut last = None;
    for addr in (host, port).to_socket_addrs()? {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        // As std and tokio do: on Unix a restarted server may reuse the port at once (on
        // Windows the same option would let another program take it).
        #[cfg(unix)]
        socket.set_reuseaddr(true)?;
        match socket
            .bind(addr)
            .and_then(|()| socket.listen(LISTEN_BACKLOG))
        {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            format!("'{host}' names no address"),
        )
    }))
}

/// What the accept loop, the connections and the handlers share.
struct Shared {
    api: Arc<StreamApi>,
    limits: Limits,
    /// One permit per chunk request being answered.
    renders: Arc<Semaphore>,
    /// Handlers running.
    handlers: Arc<AtomicUsize>,
    /// Connections open (including those being closed).
    live: AtomicUsize,
    /// Told when a connection ends.
    freed: Notify,
    /// Open connections that may be closed to make room, oldest first.
    connections: Mutex<BTreeMap<u64, Peer>>,
}

/// A connection as the others see it.
#[derive(Clone, Default)]
struct Peer {
    /// Requests being answered on it (0: idle, waiting for a request head).
    answering: Arc<AtomicUsize>,
    /// Told to close.
    close: Arc<Notify>,
}

impl Shared {
    /// A place for one more connection, or `None` to turn it away. When all are taken, the
    /// oldest idle connection is closed and its place awaited; when none is idle, a place
    /// that frees within [`ROOM_WAIT`]. New connections wait in the listen backlog meanwhile.
    async fn make_room(self: &Arc<Self>, id: u64) -> Option<Place> {
        let deadline = tokio::time::Instant::now() + ROOM_WAIT;
        loop {
            // Before looking, so a place freed in between is not missed.
            let freed = self.freed.notified();
            if self.live.load(Ordering::SeqCst) < self.limits.max_connections {
                return Some(self.admit(id));
            }
            self.close_oldest_idle();
            if tokio::time::timeout_at(deadline, freed).await.is_err() {
                return None;
            }
        }
    }

    fn admit(self: &Arc<Self>, id: u64) -> Place {
        self.live.fetch_add(1, Ordering::SeqCst);
        let peer = Peer::default();
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, peer.clone());
        Place {
            id,
            peer,
            shared: Arc::clone(self),
        }
    }

    fn close_oldest_idle(&self) {
        let mut connections = self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let idle = connections
            .iter()
            .find(|(_, p)| p.answering.load(Ordering::SeqCst) == 0)
            .map(|(&id, _)| id);
        if let Some(peer) = idle.and_then(|id| connections.remove(&id)) {
            peer.close.notify_one();
        }
    }
}

/// A connection's place among the open ones, given back when dropped.
struct Place {
    id: u64,
    peer: Peer,
    shared: Arc<Shared>,
}

impl Drop for Place {
    fn drop(&mut self) {
        self.shared
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
        self.shared.live.fetch_sub(1, Ordering::SeqCst);
        self.shared.freed.notify_one();
    }
}

/// Counts something while alive.
struct Counted(Arc<AtomicUsize>);

impl Counted {
    fn new(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Counted(Arc::clone(counter))
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, stopped: watch::Receiver<bool>) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(shared.limits.head_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS)
        // The header names on the wire as the API spells them (`X-Chunk-End`).
        .title_case_headers(true);
    let mut next_id = 0u64;
    let mut stop = stopped.clone();
    // Accept errors in a row (logged once per streak).
    let mut failing = 0u64;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stopping(&mut stop) => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                if failing == 0 {
                    log::warn!("cannot accept a connection ({e}); trying again");
                }
                failing += 1;
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        if failing > 0 {
            log::info!("accepting again after {failing} failed attempts");
            failing = 0;
        }
        next_id += 1;
        let Some(place) = shared.make_room(next_id).await else {
            log::debug!("turning {peer} away: all connections are busy");
            continue;
        };
        if let Err(e) = stream.set_nodelay(true) {
            log::debug!("{peer}: {e}");
        }
        tokio::spawn(serve_connection(
            http.clone(),
            stream,
            place,
            Arc::clone(&shared),
            stopped.clone(),
        ));
    }
    // Stopping: the connections close themselves; wait a little for answers in progress.
    let deadline = Instant::now() + STOP_GRACE;
    while shared.live.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Resolves when the server stops (or is gone).
async fn stopping(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}

async fn serve_connection(
    http: http1::Builder,
    stream: TcpStream,
    place: Place,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    let io = WriteTimeout::new(stream, shared.limits.write_timeout);
    let answering = Arc::clone(&place.peer.answering);
    let service = service_fn(move |req| {
        let busy = Counted::new(&answering);
        respond(Arc::clone(&shared), req, busy)
    });
    let conn = http.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let ended = tokio::select! {
        ended = conn.as_mut() => ended,
        () = place.peer.close.notified() => {
            // Closed to make room: idle, so nothing is lost (a request that just began ends
            // its answer first).
            if place.peer.answering.load(Ordering::SeqCst) == 0 {
                return;
            }
            conn.as_mut().graceful_shutdown();
            conn.await
        }
        () = stopping(&mut stopped) => {
            conn.as_mut().graceful_shutdown();
            tokio::time::timeout(STOP_GRACE, conn).await.unwrap_or(Ok(()))
        }
    };
    if let Err(e) = ended {
        log::debug!("connection ended: {e}");
    }
}

/// How long a request body may take to arrive.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Read `incoming` into `out`; false when it is larger than [`MAX_BODY`] or fails.
async fn read_body(incoming: &mut Incoming, out: &mut Vec<u8>) -> bool {
    let mut incoming = std::pin::Pin::new(incoming);
    loop {
        match std::future::poll_fn(|cx| incoming.as_mut().poll_frame(cx)).await {
            None => return true,
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if out.len() + data.len() > MAX_BODY {
                        return false;
                    }
                    out.extend_from_slice(&data);
                }
            }
            Some(Err(_)) => return false,
        }
    }
}

async fn respond(
    shared: Arc<Shared>,
    req: hyper::Request<Incoming>,
    busy: Counted,
) -> Result<hyper::Response<Out>, Infallible> {
    // Only POST, PUT and DELETE take a body, of at most MAX_BODY bytes, read within
    // BODY_TIMEOUT; any other is refused without reading it (nothing is allocated for what
    // `Content-Length` claims) and the connection closes after the answer.
    let mut req = req;
    let mut body = Vec::new();
    if !req.body().is_end_stream() {
        let takes_body = matches!(*req.method(), Method::POST | Method::PUT | Method::DELETE);
        let fits = req
            .body()
            .size_hint()
            .upper()
            .is_some_and(|n| n <= MAX_BODY as u64);
        let read = if takes_body && fits {
            tokio::time::timeout(BODY_TIMEOUT, read_body(req.body_mut(), &mut body))
                .await
                .unwrap_or(false)
        } else {
            false
        };
        if !read {
            let refusal = shared.api.finish(message::error(
                413,
                "bad_parameter",
                format!(
                    "only POST, PUT and DELETE carry a body here, of at most {} bytes, sent with its length",
                    MAX_BODY
                ),
            ));
            let mut resp = whole(refusal, busy);
            resp.headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
            return Ok(resp);
        }
    }
    // A body can go out while it is made only in HTTP/1.1's chunked encoding.
    let can_stream = req.method() == Method::GET && req.version() == Version::HTTP_11;
    let request = Request::from_parts(req.into_parts().0, body);
    // Only chunk requests render; the rest answer from memory at once.
    let permit = if request.uri().path().contains("/chunks/") {
        match Arc::clone(&shared.renders).acquire_owned().await {
            Ok(permit) => Some(permit),
            Err(_) => return Ok(whole(shared.api.finish(message::internal_error()), busy)),
        }
    } else {
        None
    };
    let (pieces_tx, pieces_rx) = mpsc::channel(PIECES_IN_FLIGHT);
    let (head_tx, head_rx) = oneshot::channel();
    let running = Counted::new(&shared.handlers);
    let api = Arc::clone(&shared.api);
    let handler = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let _running = running;
        answer(&api, &request, can_stream, head_tx, &pieces_tx)
    });
    match head_rx.await {
        // Pieces are on their way: the body follows them.
        Ok(head) => Ok(head.map(|_| Out::pieces(pieces_rx, busy))),
        // The handler ended without a piece: the whole answer.
        Err(_) => match handler.await {
            Ok(resp) => Ok(whole(resp, busy)),
            Err(e) => {
                log::error!("a request handler failed: {e}");
                Ok(whole(shared.api.finish(message::internal_error()), busy))
            }
        },
    }
}

/// Run the API on a blocking thread. Pieces of a chunk go out through `pieces`, after the
/// head through `head`; the returned answer is the whole one (used when no piece went out).
fn answer(
    api: &StreamApi,
    request: &Request,
    can_stream: bool,
    head: oneshot::Sender<Response>,
    pieces: &mpsc::Sender<io::Result<Bytes>>,
) -> Response {
    let mut head = Some(head);
    let mut streaming = false;
    let mut progress = |first: &Response, piece: &[u8]| {
        // Nobody waits for the answer any more (the connection is gone): stop.
        if head.as_ref().is_some_and(oneshot::Sender::is_closed) {
            return ControlFlow::Break(());
        }
        if !can_stream || piece.is_empty() {
            return ControlFlow::Continue(());
        }
        if let Some(head) = head.take() {
            if head.send(message::head_of(first)).is_err() {
                return ControlFlow::Break(()); // the client went away before the first piece
            }
            streaming = true;
        }
        // Blocks while the client is behind (the channel is small); fails once the
        // connection is gone, which stops the render.
        let sent = streaming
            && pieces
                .blocking_send(Ok(Bytes::copy_from_slice(piece)))
                .is_ok();
        if sent {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
        }
    };
    // A panic must not take the server down: answer 500 (or cut the body) and go on.
    let resp = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        api.handle_progressive(request, &mut progress)
    }))
    .unwrap_or_else(|_| {
        log::error!(
            "internal error while answering {} {}",
            request.method(),
            api.loggable_path(request.uri().path())
        );
        api.finish(message::internal_error())
    });
    log::debug!(
        "{} {} -> {}",
        request.method(),
        api.loggable_path(request.uri().path()),
        resp.status()
    );
    if streaming && resp.status() != 200 {
        // The chunk failed (or was cancelled) half-way: end the body with an error, so hyper
        // cuts the connection instead of finishing it and the client sees the failure at once.
        let _ = pieces.blocking_send(Err(io::Error::other(format!(
            "the chunk failed half-way: {}",
            resp.text()
        ))));
    }
    resp
}

fn whole(resp: Response, busy: Counted) -> hyper::Response<Out> {
    resp.map(|body| Out::whole(body, busy))
}

/// A response body: all here (sent with its length), or pieces as they are made (sent in
/// HTTP/1.1 chunked encoding, ended with an error if the chunk fails half-way).
struct Out {
    kind: OutKind,
    /// The connection is answering a request until the body is done.
    _busy: Counted,
}

enum OutKind {
    Whole(Option<Bytes>),
    Pieces(mpsc::Receiver<io::Result<Bytes>>),
}

impl Out {
    fn whole(body: Arc<[u8]>, busy: Counted) -> Self {
        let body = (!body.is_empty()).then(|| Bytes::from_owner(body));
        Out {
            kind: OutKind::Whole(body),
            _busy: busy,
        }
    }

    fn pieces(rx: mpsc::Receiver<io::Result<Bytes>>, busy: Counted) -> Self {
        Out {
            kind: OutKind::Pieces(rx),
            _busy: busy,
        }
    }
}

impl Body for Out {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match &mut self.get_mut().kind {
            OutKind::Whole(body) => Poll::Ready(body.take().map(|b| Ok(Frame::data(b)))),
            OutKind::Pieces(rx) => rx
                .poll_recv(cx)
                .map(|piece| piece.map(|p| p.map(Frame::data))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.kind, OutKind::Whole(None))
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            OutKind::Whole(body) => {
                SizeHint::with_exact(body.as_ref().map_or(0, |b| b.len() as u64))
            }
            OutKind::Pieces(_) => SizeHint::default(),
        }
    }
}

/// A TCP stream whose writes fail once the client has taken nothing for `limit`.
struct WriteTimeout {
    io: TcpStream,
    limit: Duration,
    /// Running since a write last found the socket full.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl WriteTimeout {
    fn new(io: TcpStream, limit: Duration) -> Self {
        WriteTimeout {
            io,
            limit,
            stalled: None,
        }
    }

    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        write: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if write.is_ready() {
            self.stalled = None;
            return write;
        }
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(self.limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for WriteTimeout {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteTimeout {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let write = Pin::new(&mut this.io).poll_write(cx, buf);
        this.watch(cx, write)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let write = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.watch(cx, write)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let flush = Pin::new(&mut this.io).poll_flush(cx);
        this.watch(cx, flush)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let shutdown = Pin::new(&mut this.io).poll_shutdown(cx);
        this.watch(cx, shutdown)
    }
}
