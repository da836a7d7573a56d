//! The loopback HTTP server behind `sonance serve`: tiny_http in front of [`StreamApi`].

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::api::{Request, StreamApi};

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
    while let Ok(req) = http.recv() {
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
        };
        // A panic must not take a worker down with it (four of them would silence the
        // server): answer 500 and keep serving.
        let resp = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| api.handle(&request)))
            .unwrap_or_else(|_| {
                log::error!("internal error while answering {} {}", request.method, url);
                crate::api::Response::internal_error()
            });
        log::debug!("{} {} -> {}", request.method, url, resp.status);
        let mut out =
            tiny_http::Response::from_data(resp.body.to_vec()).with_status_code(resp.status);
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
}
