//! The loopback HTTP server behind `sonance serve`: tiny_http in front of [`StreamApi`].

use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::api::{Request, Response, StreamApi};

/// Request handlers running at once. Each may render a chunk (which itself uses every core),
/// so a few are enough to keep a prefetch, a seek and the page's own requests apart.
pub const WORKERS: usize = 4;

/// A running server.
pub struct Server {
    http: Arc<tiny_http::Server>,
    addr: SocketAddr,
    workers: Vec<JoinHandle<()>>,
}

impl Server {
    /// Bind `host:port` (port 0 picks a free one) and start answering with `api`.
    pub fn start(host: &str, port: u16, api: Arc<StreamApi>) -> io::Result<Self> {
        let http = tiny_http::Server::http((host, port))
            .map_err(|e| io::Error::new(io::ErrorKind::AddrNotAvailable, e.to_string()))?;
        let addr = http
            .server_addr()
            .to_ip()
            .ok_or_else(|| io::Error::other("the server has no IP address"))?;
        let http = Arc::new(http);
        let workers = (0..WORKERS)
            .map(|i| {
                let http = Arc::clone(&http);
                let api = Arc::clone(&api);
                std::thread::Builder::new()
                    .name(format!("http-{i}"))
                    .spawn(move || serve(&http, &api))
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Server {
            http,
            addr,
            workers,
        })
    }

    /// The address bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Block until the server stops.
    pub fn join(self) {
        for w in self.workers {
            let _ = w.join();
        }
    }

    /// Stop accepting and let the workers end.
    pub fn stop(&self) {
        self.http.unblock();
    }
}

fn serve(http: &tiny_http::Server, api: &StreamApi) {
    while let Ok(mut req) = http.recv() {
        let header = |name: &'static str| {
            req.headers()
                .iter()
                .find(|h| h.field.equiv(name))
                .map(|h| h.value.as_str().to_string())
        };
        let url = req.url().to_string();
        let (path, query) = url.split_once('?').unwrap_or((url.as_str(), ""));
        let request = Request {
            method: req.method().as_str().to_string(),
            path: path.to_string(),
            query: query.to_string(),
            host: header("Host"),
            origin: header("Origin"),
            body: Vec::new(),
        };
        let mut request = request;
        if matches!(request.method.as_str(), "POST" | "PUT" | "DELETE") {
            let mut body = Vec::new();
            let limit = crate::api::MAX_BODY as u64 + 1;
            if std::io::Read::read_to_end(&mut std::io::Read::take(req.as_reader(), limit), &mut body)
                .is_err()
                || body.len() > crate::api::MAX_BODY
            {
                respond_whole(req, &crate::api::Response::internal_error());
                continue;
            }
            request.body = body;
        }
        // A body can go out while it is made only in HTTP/1.1's chunked encoding.
        let can_stream =
            request.method == "GET" && req.http_version() >= &tiny_http::HTTPVersion(1, 1);
        let mut stream = Progressive {
            request: Some(req),
            can_stream,
            writer: None,
            failed: false,
        };
        // A panic must not take a worker down with it (four of them would silence the
        // server): answer 500 and keep serving.
        let resp = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            api.handle_progressive(&request, &mut |head, piece| stream.send(head, piece))
        }))
        .unwrap_or_else(|_| {
            log::error!("internal error while answering {} {}", request.method, url);
            crate::api::Response::internal_error()
        });
        log::debug!("{} {} -> {}", request.method, url, resp.status);
        if let Some(writer) = stream.writer.take() {
            // The body went out in pieces: end it, or cut the connection if the chunk failed
            // half-way (the client sees a broken response and retries).
            if resp.status == 200 && !stream.failed {
                let mut writer = writer;
                if let Err(e) = writer.write_all(b"0\r\n\r\n").and_then(|()| writer.flush()) {
                    log::debug!("client went away: {e}");
                }
            }
            continue;
        }
        if stream.failed {
            continue;
        }
        if let Some(req) = stream.request.take() {
            respond_whole(req, &resp);
        }
    }
}

/// A response whose body goes out as it is made (HTTP/1.1 chunked encoding), each piece
/// flushed at once.
struct Progressive {
    /// The request, until the first piece takes its writer.
    request: Option<tiny_http::Request>,
    /// GET over HTTP/1.1: chunked encoding is allowed.
    can_stream: bool,
    writer: Option<Box<dyn Write + Send>>,
    /// Writing failed (the client went away): the rest is not sent.
    failed: bool,
}

impl Progressive {
    fn send(&mut self, head: &Response, piece: &[u8]) {
        if self.failed || piece.is_empty() || !self.can_stream {
            return;
        }
        if self.writer.is_none() {
            let Some(req) = self.request.take() else {
                return;
            };
            let mut writer = req.into_writer();
            if let Err(e) = write_head(&mut writer, head) {
                log::debug!("client went away: {e}");
                self.failed = true;
                return;
            }
            self.writer = Some(writer);
        }
        if let Some(w) = self.writer.as_mut() {
            let sent = write!(w, "{:X}\r\n", piece.len())
                .and_then(|()| w.write_all(piece))
                .and_then(|()| w.write_all(b"\r\n"))
                .and_then(|()| w.flush());
            if let Err(e) = sent {
                log::debug!("client went away: {e}");
                self.failed = true;
                self.writer = None;
            }
        }
    }
}

fn write_head(w: &mut dyn Write, head: &Response) -> io::Result<()> {
    write!(w, "HTTP/1.1 {} {}\r\n", head.status, reason(head.status))?;
    write!(w, "Content-Type: {}\r\n", head.content_type)?;
    w.write_all(b"Transfer-Encoding: chunked\r\n")?;
    for (k, v) in &head.headers {
        // Header values come from this crate, but never let one break the framing.
        if !(k.contains(['\r', '\n']) || v.contains(['\r', '\n'])) {
            write!(w, "{k}: {v}\r\n")?;
        }
    }
    w.write_all(b"\r\n")
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        _ => "Response",
    }
}

fn respond_whole(req: tiny_http::Request, resp: &Response) {
    // A body that is all here goes out with its length (tiny_http would chunk large ones).
    let mut out = tiny_http::Response::from_data(resp.body.to_vec())
        .with_status_code(resp.status)
        .with_chunked_threshold(usize::MAX);
    let headers = std::iter::once(("Content-Type".to_string(), resp.content_type.clone()))
        .chain(resp.headers.iter().cloned());
    for (k, v) in headers {
        if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
            out.add_header(h);
        }
    }
    if let Err(e) = req.respond(out) {
        log::debug!("client went away: {e}");
    }
}
