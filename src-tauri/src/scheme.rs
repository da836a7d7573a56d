//! The `sonance` URI scheme: the stream API of `sonance serve`, inside the app — the page's
//! transport where the app's loopback server ([`crate::loopback`]) is not used.
//!
//! The page (origin `tauri://localhost`; `http://tauri.localhost` on Windows) fetches
//! `sonance://localhost/api/…` (`http://sonance.localhost/api/…` on Windows). Tauri calls the
//! handler on the UI thread; it only checks who asks and queues the request. [`WORKERS`] threads
//! answer with [`StreamApi::handle`], the same function the loopback server calls, so a chunk
//! render never blocks the window. Bodies are whole (the scheme cannot stream), which suits
//! MSE: the page appends whole chunks anyway.
//!
//! Access: only the page's own origin may read the answers (`Access-Control-Allow-Origin` is
//! that origin, set by [`Access::App`]); a request that names another origin is refused with
//! 403, and one from any web view but the main window too.

use std::borrow::Cow;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};

use sonance_stream::api::MAX_BODY;
use sonance_stream::{message, Access, Request, RequestExt, Response, ResponseExt, StreamApi};
use tauri::http;

/// The scheme name the UI's bridge uses (`ui/src/bridge.ts`).
pub const SCHEME: &str = "sonance";

/// Requests answered at once. Each may render a chunk (which itself uses every core); a few
/// keep a prefetch, a seek and the page's small requests apart.
pub const WORKERS: usize = 4;

/// Requests waiting for a worker before new ones are answered 503 (the page retries those).
const QUEUE: usize = 64;

/// The web view allowed to use the scheme.
pub const WINDOW: &str = "main";

/// The page's origin as the web view reports it.
pub fn page_origin() -> &'static str {
    if cfg!(any(windows, target_os = "android")) {
        "http://tauri.localhost"
    } else {
        "tauri://localhost"
    }
}

/// How the stream API should treat requests from the page.
pub fn access() -> Access {
    Access::App {
        origin: page_origin().to_string(),
    }
}

type Reply = Box<dyn FnOnce(Response) + Send>;

struct Job {
    request: Request,
    reply: Reply,
}

/// The worker pool behind the scheme. Created before the app; the API is set once the
/// library is ready (requests before that get 503).
pub struct Scheme {
    api: OnceLock<Arc<StreamApi>>,
    tx: SyncSender<Job>,
}

impl Scheme {
    /// Start the workers.
    pub fn start() -> std::io::Result<Arc<Self>> {
        let (tx, rx) = mpsc::sync_channel::<Job>(QUEUE);
        let scheme = Arc::new(Scheme {
            api: OnceLock::new(),
            tx,
        });
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..WORKERS {
            let rx = Arc::clone(&rx);
            let scheme = Arc::downgrade(&scheme);
            std::thread::Builder::new()
                .name(format!("scheme-{i}"))
                .spawn(move || work(&rx, &scheme))?;
        }
        Ok(scheme)
    }

    /// Serve `api` from now on.
    pub fn set_api(&self, api: Arc<StreamApi>) {
        if self.api.set(api).is_err() {
            log::warn!("the stream API was set twice; keeping the first");
        }
    }

    /// Handle one request from the web view labelled `webview`: refuse, or queue it and
    /// answer through `respond` from a worker. The request goes to the API as the web view
    /// handed it over (the `http` crate's, as the loopback server's).
    pub fn handle(
        &self,
        webview: &str,
        request: Request,
        respond: impl FnOnce(http::Response<Cow<'static, [u8]>>) + Send + 'static,
    ) {
        let respond = move |resp: Response| respond(resp.map(|body| Cow::Owned(body.to_vec())));
        if webview != WINDOW {
            return respond(refusal(
                403,
                "forbidden",
                "only the main window may use this scheme",
            ));
        }
        if let Some(origin) = request.origin() {
            if origin != page_origin() {
                let why = format!("requests from '{origin}' are not allowed");
                return respond(refusal(403, "forbidden", &why));
            }
        }
        if request.body().len() > MAX_BODY {
            let why = format!("a request body may hold at most {MAX_BODY} bytes");
            return respond(refusal(413, "bad_parameter", &why));
        }
        let job = Job {
            request,
            reply: Box::new(respond),
        };
        match self.tx.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(job)) | Err(TrySendError::Disconnected(job)) => {
                (job.reply)(busy());
            }
        }
    }
}

fn work(rx: &Mutex<Receiver<Job>>, scheme: &std::sync::Weak<Scheme>) {
    loop {
        let job = {
            let guard = rx.lock().unwrap_or_else(|e| e.into_inner());
            guard.recv()
        };
        let Ok(job) = job else { return };
        let api = scheme.upgrade().and_then(|s| s.api.get().cloned());
        let started = std::time::Instant::now();
        let resp = match api {
            Some(api) => api.handle(&job.request),
            None => busy(),
        };
        log::debug!(
            "{} {} -> {} ({} bytes, {} ms)",
            job.request.method(),
            job.request.uri(),
            resp.status(),
            resp.body().len(),
            started.elapsed().as_millis()
        );
        (job.reply)(resp);
    }
}

/// A refusal before the API sees the request, readable by the page.
fn refusal(status: u16, kind: &str, message: &str) -> Response {
    let mut resp = message::error(status, kind, message);
    resp.add_header("Access-Control-Allow-Origin", page_origin());
    resp
}

fn busy() -> Response {
    refusal(503, "busy", "the player is busy; try again")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(uri: &str, origin: Option<&str>) -> http::Request<Vec<u8>> {
        let mut b = http::Request::builder().method("GET").uri(uri);
        if let Some(o) = origin {
            b = b.header("Origin", o);
        }
        b.body(Vec::new()).unwrap()
    }

    fn run(
        scheme: &Scheme,
        webview: &str,
        req: http::Request<Vec<u8>>,
    ) -> http::Response<Cow<'static, [u8]>> {
        let (tx, rx) = mpsc::channel();
        scheme.handle(webview, req, move |r| {
            let _ = tx.send(r);
        });
        rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap()
    }

    #[test]
    fn answers_through_the_stream_api_with_the_page_origin_only() {
        let scheme = Scheme::start().unwrap();
        // Before the API is set: 503, which the page retries.
        let r = run(
            &scheme,
            WINDOW,
            get("sonance://localhost/api/presets", None),
        );
        assert_eq!(r.status(), 503);

        let engine =
            Arc::new(sonance_engine::Engine::new(sonance_engine::EngineConfig::default()).unwrap());
        let dir = std::env::temp_dir().join(format!("sonance-scheme-test-{}", std::process::id()));
        let library =
            Arc::new(sonance_stream::Library::open(&dir.join("library.sqlite3")).unwrap());
        let catalog = Arc::new(sonance_stream::Catalog::new(engine, library));
        scheme.set_api(Arc::new(StreamApi::new(catalog, access())));

        let r = run(
            &scheme,
            WINDOW,
            get("sonance://localhost/api/presets", Some(page_origin())),
        );
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["Access-Control-Allow-Origin"], page_origin());
        assert_eq!(r.headers()["Content-Type"], "application/json");
        let list: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
        assert!(list
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "bypass"));

        let r = run(
            &scheme,
            WINDOW,
            get("sonance://localhost/api/tracks/0000000000000000", None),
        );
        assert_eq!(r.status(), 404);

        let r = run(
            &scheme,
            WINDOW,
            get(
                "sonance://localhost/api/presets",
                Some("https://evil.example"),
            ),
        );
        assert_eq!(r.status(), 403);
        let r = run(
            &scheme,
            "other",
            get("sonance://localhost/api/presets", None),
        );
        assert_eq!(r.status(), 403);
        // A body the API would not take is refused before it queues.
        let big = http::Request::builder()
            .method("PUT")
            .uri("sonance://localhost/api/queue")
            .body(vec![b' '; MAX_BODY + 1])
            .unwrap();
        let r = run(&scheme, WINDOW, big);
        assert_eq!(r.status(), 413);
        assert_eq!(r.headers()["Access-Control-Allow-Origin"], page_origin());
    }
}
