//! The stream API as one function from [`Request`] to [`Response`], shared by the loopback
//! server (`sonance serve`, and the desktop app's own) and the desktop app's custom URI scheme.
//!
//! | route | answer |
//! |---|---|
//! | `GET /api/presets` | `[{name, description}]` |
//! | `GET /api/tracks` | `[{id, title, artist, album, duration_s}]` |
//! | `GET /api/tracks/{id}` | the same plus `chunk_seconds`, `chunk_count`, `mime` |
//! | `GET /api/tracks/{id}/init.webm?preset=P&intensity=X` | the init segment |
//! | `GET /api/tracks/{id}/chunks/{n}.webm?preset=P&intensity=X` | chunk `n`'s media segment (`&loudness=album`: levelled with its album, [`Catalog::album_loudness`]) |
//! | `GET /` and UI files | the web UI from an in-memory table |
//!
//! A chunk's body is its WebM Clusters, span by span (1 s, then 5 s spans). With `at=T` (seconds
//! into the track) the span playing at `T` comes first, then the rest of the chunk, then the
//! spans before `T`: a seek or a switch into the middle of a chunk waits only for its span.
//! `X-First-Span-End` says where the media of the first span sent ends (seconds).
//!
//! `preset` defaults to [`DEFAULT_PRESET`] and `intensity` to 1. `original-matched` plays the
//! original at the loudness of the preset named by `match` (default `adaptive`), so an A/B
//! compares tone and dynamics, not level.
//!
//! Errors are JSON `{"kind", "message"}` with 400 (bad parameter), 403 (not loopback, not the
//! app's page or token: [`Access`]),
//! 404 (no such track, chunk or route), 405, 422 (the file cannot be decoded), 500.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::Arc;

use serde::Serialize;
use sonance_engine::webm::MIME;
use sonance_engine::{Engine, Enhancement, ErrorKind, Preset};

use crate::catalog::{Catalog, Entry};
use sonance_library::TrackId;

/// The parts of an HTTP request the API looks at.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    /// Path without the query, still percent-encoded.
    pub path: String,
    /// Query string without `?`.
    pub query: String,
    /// `Host` header.
    pub host: Option<String>,
    /// `Origin` header.
    pub origin: Option<String>,
    /// The body (POST, PUT), at most [`MAX_BODY`] bytes: the transport refuses larger ones.
    pub body: Vec<u8>,
}

/// The largest request body the API takes (a folder path, a queue of ids).
pub const MAX_BODY: usize = 4 << 20;

impl Request {
    /// A GET for `target` (path with optional `?query`).
    pub fn get(target: &str) -> Self {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Request {
            method: "GET".into(),
            path: path.into(),
            query: query.into(),
            host: Some("127.0.0.1".into()),
            origin: None,
            body: Vec::new(),
        }
    }

    /// A request with `method` and a JSON body.
    pub fn with_json(method: &str, target: &str, body: &str) -> Self {
        Request {
            method: method.into(),
            body: body.as_bytes().to_vec(),
            ..Request::get(target)
        }
    }

    /// The query's `key=value` pairs, percent-decoded.
    pub fn params(&self) -> impl Iterator<Item = (String, String)> + '_ {
        form_urlencoded::parse(self.query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned()))
    }

    /// The value of query parameter `key`, percent-decoded.
    pub fn param(&self, key: &str) -> Option<String> {
        self.params().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The parts of an [`http::Request`] the API reads: the one translation the loopback
    /// server and the desktop app's custom scheme share. A target in absolute form names the
    /// host itself (RFC 9112 §3.2.2), else the `Host` header does.
    pub fn from_http<B>(request: &http::Request<B>) -> Self {
        let header = |name: http::header::HeaderName| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let uri = request.uri();
        Request {
            method: request.method().as_str().to_string(),
            path: uri.path().to_string(),
            query: uri.query().unwrap_or("").to_string(),
            host: uri
                .authority()
                .map(|a| a.as_str().to_string())
                .or_else(|| header(http::header::HOST)),
            origin: header(http::header::ORIGIN),
            // The transport fills it in (it reads at most MAX_BODY bytes).
            body: Vec::new(),
        }
    }
}

/// Gets a response's head and one piece of its body, as the body is made
/// ([`StreamApi::handle_progressive`]); returns [`ControlFlow::Break`] when nobody listens any
/// more (the client went away), which stops the render between spans.
pub type Progress<'a> = dyn FnMut(&Response, &[u8]) -> ControlFlow<()> + 'a;

/// Response body: shared bytes (fragments come straight from the cache).
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: Arc<[u8]>,
}

impl Response {
    pub(crate) fn bytes(status: u16, content_type: &str, body: Arc<[u8]>) -> Self {
        Response {
            status,
            content_type: content_type.into(),
            headers: vec![("Cache-Control".into(), "no-store".into())],
            body,
        }
    }

    pub(crate) fn json(status: u16, value: &impl Serialize) -> Self {
        let body = serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec());
        Self::bytes(status, "application/json", body.into())
    }

    /// A JSON error `{kind, message}` (the transport's own refusals use it too).
    pub(crate) fn error(status: u16, kind: &str, message: impl Into<String>) -> Self {
        #[derive(Serialize)]
        struct E<'a> {
            kind: &'a str,
            message: String,
        }
        Self::json(
            status,
            &E {
                kind,
                message: message.into(),
            },
        )
    }

    pub(crate) fn engine_error(e: &sonance_engine::Error) -> Self {
        let (status, kind) = match e.kind() {
            ErrorKind::NotFound => (404, "not_found"),
            ErrorKind::Undecodable => (422, "undecodable"),
            ErrorKind::BadParameter => (400, "bad_parameter"),
            _ => (500, "internal"),
        };
        Self::error(status, kind, e.to_string())
    }

    /// A 500 for a failure inside the server itself.
    pub fn internal_error() -> Self {
        Self::error(
            500,
            "internal",
            "Sonance hit an internal error; the player keeps working",
        )
    }

    /// This answer's status and headers as an [`http::Response`] carrying `body` (the body
    /// is the transport's: whole bytes, or pieces as they are made). A header that is not
    /// valid HTTP is left out (logged), so none can break the framing.
    pub fn to_http<B>(&self, body: B) -> http::Response<B> {
        use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
        let mut out = http::Response::new(body);
        *out.status_mut() = http::StatusCode::from_u16(self.status)
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        let headers = out.headers_mut();
        let all = std::iter::once(("content-type", self.content_type.as_str()))
            .chain(self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        for (k, v) in all {
            match (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                (Ok(k), Ok(v)) if k == CONTENT_TYPE => {
                    headers.insert(k, v);
                }
                (Ok(k), Ok(v)) => {
                    headers.append(k, v);
                }
                _ => log::warn!("leaving out the malformed header {k:?}"),
            }
        }
        out
    }

    /// The body as text (tests, logs).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Who may ask.
#[derive(Debug, Clone)]
pub enum Access {
    /// A loopback server: `Host` must name a loopback address; an `Origin`, if sent, must
    /// be a loopback http origin (stops DNS rebinding and other sites' pages).
    Loopback,
    /// A custom scheme inside the app: requests only come from the app's own webview; the
    /// given origin is echoed in `Access-Control-Allow-Origin`.
    App { origin: String },
    /// The desktop app's own loopback server: as [`Access::Loopback`] for `Host`; an `Origin`,
    /// if sent, must be the app's page (`origin`, echoed for CORS); and every path must start
    /// with `/{token}/`, a secret only the app's page knows (other programs and other users
    /// of this computer can reach a loopback port too). Only API routes are served.
    AppLoopback { origin: String, token: String },
    /// `sonance serve`: every path starts with `/{token}/` (the page and the API under it), a
    /// secret printed once in the address; `Host` must be loopback unless `any_host` (the
    /// server is bound to another address on purpose: then the token is the guard); an
    /// `Origin`, if sent, must be loopback or the server's own.
    Token { token: String, any_host: bool },
}

/// The handler.
pub struct StreamApi {
    engine: Arc<Engine>,
    pub(crate) catalog: Arc<Catalog>,
    pub(crate) player: Option<Arc<crate::player_api::PlayerHost>>,
    ui: HashMap<String, (String, Arc<[u8]>)>,
    pub(crate) access: Access,
}

impl StreamApi {
    /// A handler over the `catalog` (the library and the engine), guarded by `access`.
    pub fn new(catalog: Arc<Catalog>, access: Access) -> Self {
        StreamApi {
            engine: Arc::clone(catalog.engine()),
            catalog,
            player: None,
            ui: HashMap::new(),
            access,
        }
    }

    /// Serve these UI files (path like `/index.html` → bytes); `/` maps to `/index.html`.
    pub fn with_ui(mut self, files: impl IntoIterator<Item = (String, Vec<u8>)>) -> Self {
        for (path, bytes) in files {
            let ct = content_type(&path).to_string();
            self.ui.insert(path, (ct, bytes.into()));
        }
        self
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// Host the player core: its routes (`/api/player`, `/api/queue`, `/api/events`).
    pub fn with_player(mut self, player: Arc<crate::player_api::PlayerHost>) -> Self {
        self.player = Some(player);
        self
    }

    /// Answer one request. Never panics on any input; rendering happens on the calling
    /// thread (the server runs several).
    pub fn handle(&self, req: &Request) -> Response {
        // Whole answers: the endless event stream is refused (it would never end).
        let mut whole = |_: &Response, _: &[u8]| ControlFlow::Continue(());
        self.finish(self.route(req, &mut whole, false))
    }

    /// [`StreamApi::handle`] for transports that can send a body while it is made: when this
    /// request renders a chunk, `progress` gets the response head (status and headers, empty
    /// body) with each piece of the body as it is ready — whole WebM Clusters, the chunk's
    /// first second first. The returned response is the whole answer either way: if pieces
    /// went out and it is not a 200, the chunk failed half-way (or was cancelled by `progress`)
    /// and the transport should cut the connection rather than finish the body.
    pub fn handle_progressive(&self, req: &Request, progress: &mut Progress<'_>) -> Response {
        self.finish(self.route(req, progress, true))
    }

    /// The headers every answer carries.
    pub(crate) fn finish(&self, mut resp: Response) -> Response {
        if let Access::App { origin } | Access::AppLoopback { origin, .. } = &self.access {
            resp.headers
                .push(("Access-Control-Allow-Origin".into(), origin.clone()));
            // The page reads where a chunk and its first span end (cross-origin: say so).
            resp.headers.push((
                "Access-Control-Expose-Headers".into(),
                "X-Chunk-Start, X-Chunk-End, X-First-Span-End, X-Total-Count".into(),
            ));
        }
        resp.headers
            .push(("X-Content-Type-Options".into(), "nosniff".into()));
        resp
    }

    /// `streams`: the transport sends pieces as they come (else only whole answers).
    fn route(&self, req: &Request, progress: &mut Progress<'_>, streams: bool) -> Response {
        let path = match self.admit(req) {
            Ok(path) => path,
            Err(why) => return Response::error(403, "forbidden", why),
        };
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        if req.method == "OPTIONS" {
            // A CORS preflight: the app's page (another origin) sends JSON bodies.
            let mut r = Response::bytes(204, "text/plain", Arc::from([]));
            r.headers.push((
                "Access-Control-Allow-Methods".into(),
                "GET, HEAD, POST, PUT, DELETE".into(),
            ));
            r.headers
                .push(("Access-Control-Allow-Headers".into(), "Content-Type".into()));
            r.headers
                .push(("Access-Control-Max-Age".into(), "600".into()));
            return r;
        }
        if let Some(resp) = self.player_route(req, &segments, progress, streams) {
            return resp;
        }
        if let Some(resp) = self.library_route(req, &segments) {
            return resp;
        }
        if req.method != "GET" && req.method != "HEAD" {
            return Response::error(405, "bad_parameter", "only GET is supported here");
        }
        match segments.as_slice() {
            ["api", "presets"] => self.presets(),
            ["api", "tracks", id] => self.with_entry(id, |e| self.track_detail(e)),
            ["api", "tracks", id, "init.webm"] => self.with_playable(id, req, |_, track, _| {
                Response::bytes(200, MIME, self.engine.init_segment(track).into())
            }),
            ["api", "tracks", id, "chunks", file] => {
                self.with_playable(id, req, |_, track, enh| {
                    let Some(n) = file
                        .strip_suffix(".webm")
                        .and_then(|n| n.parse::<u64>().ok())
                    else {
                        return Response::error(
                            404,
                            "not_found",
                            format!("no chunk named '{file}'"),
                        );
                    };
                    if n >= track.plan().count() {
                        return Response::error(
                            404,
                            "not_found",
                            format!(
                                "chunk {n} does not exist (the track has {})",
                                track.plan().count()
                            ),
                        );
                    }
                    let mut head = Response::bytes(200, MIME, Arc::from([]));
                    if let Ok((a, b)) = track.chunk_span_s(n) {
                        head.headers.push(("X-Chunk-Start".into(), format!("{a}")));
                        head.headers.push(("X-Chunk-End".into(), format!("{b}")));
                    }
                    let at = match first_at(&req.query) {
                        Ok(at) => at,
                        Err(e) => return Response::engine_error(&e),
                    };
                    // Where the first piece's media ends: a switch can go in on it if it
                    // holds the switch point.
                    if let Ok((_, end)) = self.engine.first_span_s(track, n, enh, at) {
                        head.headers
                            .push(("X-First-Span-End".into(), format!("{end}")));
                    }
                    let sent_head = self.finish(head.clone());
                    let mut on_clusters = |bytes: &[u8]| progress(&sent_head, bytes);
                    match self
                        .engine
                        .chunk_progressive(track, n, enh, at, &mut on_clusters)
                    {
                        Ok(body) => Response {
                            body: body.into(),
                            ..head
                        },
                        Err(e) => Response::engine_error(&e),
                    }
                })
            }
            _ if segments.first() == Some(&"api") => {
                Response::error(404, "not_found", format!("no such API route: {path}"))
            }
            _ if matches!(self.access, Access::AppLoopback { .. }) => {
                Response::error(404, "not_found", format!("no such API route: {path}"))
            }
            _ => self.ui_file(path),
        }
    }

    /// Whether `req` may be answered, and the path to route (without the app's token).
    fn admit<'r>(&self, req: &'r Request) -> Result<&'r str, String> {
        let host = req.host.as_deref().unwrap_or("");
        let (page, token, any_host) = match &self.access {
            Access::App { .. } => return Ok(&req.path),
            Access::Loopback => (None, None, false),
            Access::Token { token, any_host } => (None, Some(token), *any_host),
            Access::AppLoopback { origin, token } => (Some(origin), Some(token), false),
        };
        if !any_host && !is_loopback_host(host) {
            return Err(format!(
                "requests must address this computer (Host '{host}' is not a loopback address)"
            ));
        }
        if let Some(origin) = &req.origin {
            let allowed = match page {
                Some(page) => origin == page,
                None => {
                    is_loopback_host(origin.strip_prefix("http://").unwrap_or(""))
                        || (any_host && origin.strip_prefix("http://") == Some(host))
                }
            };
            if !allowed {
                return Err(format!("requests from '{origin}' are not allowed"));
            }
        }
        let Some(token) = token else {
            return Ok(&req.path);
        };
        let rest = req.path.strip_prefix('/').unwrap_or("");
        let (given, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if path.is_empty() || !same_secret(given.as_bytes(), token.as_bytes()) {
            return Err(match self.access {
                Access::AppLoopback { .. } => "this address needs the app's access token".into(),
                _ => "this address needs the access token that `sonance serve` printed \
                      (http://HOST:PORT/TOKEN/)"
                    .into(),
            });
        }
        Ok(path)
    }

    /// `path` for a log: the access token, if it is there, left out.
    pub fn loggable_path<'p>(&self, path: &'p str) -> std::borrow::Cow<'p, str> {
        match &self.access {
            Access::Token { token, .. } | Access::AppLoopback { token, .. }
                if path.contains(token.as_str()) =>
            {
                path.replace(token.as_str(), "…").into()
            }
            _ => path.into(),
        }
    }

    fn presets(&self) -> Response {
        #[derive(Serialize)]
        struct P {
            name: &'static str,
            description: &'static str,
        }
        let list: Vec<P> = Preset::ALL
            .iter()
            .map(|p| P {
                name: p.name(),
                description: p.description(),
            })
            .collect();
        Response::json(200, &list)
    }

    fn track_detail(&self, e: &Entry) -> Response {
        match &e.track {
            Ok(t) => {
                let mut json = serde_json::to_value(&e.record).unwrap_or_default();
                if let Some(obj) = json.as_object_mut() {
                    // The engine's length is exact (the tags' may not be).
                    obj.insert("duration_s".into(), t.duration_s().into());
                    obj.insert("chunk_seconds".into(), t.plan().chunk_seconds().into());
                    obj.insert("chunk_count".into(), t.plan().count().into());
                    obj.insert("mime".into(), MIME.into());
                }
                Response::json(200, &json)
            }
            Err(err) => Response::engine_error(err),
        }
    }

    fn with_entry(&self, id: &str, f: impl FnOnce(&Entry) -> Response) -> Response {
        match TrackId::parse(id).and_then(|id| self.catalog.get(&id)) {
            Some(e) => f(&e),
            None => Response::error(404, "not_found", "there is no such track"),
        }
    }

    fn with_playable(
        &self,
        id: &str,
        req: &Request,
        f: impl FnOnce(&Entry, &sonance_engine::Track, &Enhancement) -> Response,
    ) -> Response {
        self.with_entry(id, |e| {
            let track = match &e.track {
                Ok(t) => t,
                Err(err) => return Response::engine_error(err),
            };
            let enh = enhancement(&req.query).and_then(|(enh, mode)| match mode {
                Loudness::Album => match self.catalog.album_loudness(e) {
                    Some(lufs) => enh.with_album_loudness(lufs),
                    None => Ok(enh),
                },
                Loudness::Track => Ok(enh),
            });
            match enh {
                Ok(enh) => f(e, track, &enh),
                Err(e) => Response::engine_error(&e),
            }
        })
    }

    fn ui_file(&self, path: &str) -> Response {
        let path = if path == "/" || path.is_empty() {
            "/index.html"
        } else {
            path
        };
        match self.ui.get(path) {
            Some((ct, body)) => {
                let mut r = Response::bytes(200, ct, body.clone());
                if path == "/index.html" {
                    r.headers
                        .push(("Content-Security-Policy".into(), CSP.into()));
                }
                r
            }
            None if self.ui.is_empty() => Response::error(
                404,
                "not_found",
                "the web UI is not built (run `npm --prefix ui run build`)",
            ),
            None => Response::error(404, "not_found", format!("no such page: {path}")),
        }
    }
}

/// The page may load only its own files and talk only to this server.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// The preset a request without `preset=` gets.
pub const DEFAULT_PRESET: Preset = Preset::Adaptive;

/// How a track's loudness is levelled (`loudness=` in a chunk's query).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Loudness {
    /// On its own (the default).
    Track,
    /// With the album it is on: the same gain for every track of the album.
    Album,
}

/// `preset`, `intensity`, (for `original-matched`) `match` and `loudness` from a query string.
fn enhancement(query: &str) -> sonance_engine::Result<(Enhancement, Loudness)> {
    let mut preset = DEFAULT_PRESET;
    let mut intensity = 1.0f32;
    let mut reference = None;
    let mut loudness = Loudness::Track;
    for (k, v) in query_pairs(query) {
        match k.as_ref() {
            "preset" => preset = v.parse()?,
            "match" => reference = Some(v.parse::<Preset>()?),
            "loudness" => {
                loudness = match v.as_ref() {
                    "track" => Loudness::Track,
                    "album" => Loudness::Album,
                    _ => {
                        return Err(sonance_engine::Error::InvalidParameter(format!(
                            "loudness must be 'track' or 'album', not '{v}'"
                        )))
                    }
                }
            }
            "intensity" => {
                intensity = v.parse().map_err(|_| {
                    sonance_engine::Error::InvalidParameter(format!(
                        "intensity must be a number between 0 and 1, not '{v}'"
                    ))
                })?
            }
            _ => {}
        }
    }
    let enh = Enhancement::new(preset, intensity)?;
    let enh = match reference {
        Some(r) => enh.matched_to(r)?,
        None => enh,
    };
    Ok((enh, loudness))
}

/// The query's `key=value` pairs, percent-decoded (`preset=original%2Dmatched` is
/// `original-matched`).
fn query_pairs(query: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    form_urlencoded::parse(query.as_bytes())
}

/// `at` from a chunk's query string: the moment (seconds into the track) a seek or a preset
/// switch waits for, whose span comes first.
fn first_at(query: &str) -> sonance_engine::Result<Option<f64>> {
    let Some((_, v)) = query_pairs(query).find(|(k, _)| k == "at") else {
        return Ok(None);
    };
    match v.parse::<f64>() {
        Ok(at) if at.is_finite() && at >= 0.0 => Ok(Some(at)),
        _ => Err(sonance_engine::Error::InvalidParameter(format!(
            "at must be a time in seconds from the start of the track, not '{v}'"
        ))),
    }
}

/// A fresh access token: 128 random bits as 32 hex digits ([`Access::Token`],
/// [`Access::AppLoopback`]).
pub fn new_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| std::io::Error::other(format!("no random numbers for a token: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Compare secrets in time that depends on their lengths only.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `127.0.0.1`, `localhost`, `[::1]`, with or without a port.
pub fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                host
            }
        })
    };
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for ok in [
            "127.0.0.1",
            "127.0.0.1:8080",
            "localhost:3000",
            "[::1]:80",
            "[::1]",
            "127.5.5.5",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:80",
            "192.168.1.2",
            "",
            "localhost.evil.com",
            "127.0.0.1.nip.io",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }

    #[test]
    fn http_requests_and_responses_translate() {
        let req = http::Request::get("/api/tracks?preset=warm")
            .header("Host", "127.0.0.1:8411")
            .header("Origin", "http://localhost:3000")
            .body(())
            .unwrap();
        let r = Request::from_http(&req);
        assert_eq!((r.method.as_str(), r.path.as_str()), ("GET", "/api/tracks"));
        assert_eq!(r.query, "preset=warm");
        assert_eq!(r.host.as_deref(), Some("127.0.0.1:8411"));
        assert_eq!(r.origin.as_deref(), Some("http://localhost:3000"));
        // A target in absolute form names the host, whatever `Host` says.
        let req = http::Request::get("http://evil.example/api/tracks")
            .header("Host", "127.0.0.1")
            .body(())
            .unwrap();
        assert_eq!(
            Request::from_http(&req).host.as_deref(),
            Some("evil.example")
        );

        let mut resp = Response::error(404, "not_found", "no");
        resp.headers
            .push(("X-Evil".into(), "a\r\nSet-Cookie: x".into()));
        resp.headers.push(("X-Chunk-End".into(), "10".into()));
        let out = resp.to_http(());
        assert_eq!(out.status(), 404);
        assert_eq!(out.headers()["content-type"], "application/json");
        assert_eq!(out.headers()["x-chunk-end"], "10");
        assert!(out.headers().get("x-evil").is_none());
        assert_eq!(Response::error(1000, "x", "y").to_http(()).status(), 500);
    }

    #[test]
    fn query_parameters_are_validated() {
        assert!(enhancement("preset=bypass&intensity=0.5").is_ok());
        assert!(enhancement("preset=nope").is_err());
        assert!(enhancement("intensity=abc").is_err());
        assert!(enhancement("intensity=7").is_err());
        let key = |q: &str| enhancement(q).map(|(e, _)| e.key()).ok();
        assert_eq!(key("").as_deref(), Some("adaptive@1000"));
        assert_eq!(
            key("preset=original-matched&match=warm&intensity=0.5").as_deref(),
            Some("original-matched:warm@500")
        );
        assert_eq!(
            key("preset=warm&match=bright").as_deref(),
            Some("warm@1000")
        );
        assert!(enhancement("preset=original-matched&match=bypass").is_err());
        assert!(enhancement("preset=original-matched&match=loud").is_err());
        // Percent-encoded names and values mean what they decode to; validation still holds.
        assert_eq!(
            key("preset=original%2Dmatched&%6Datch=warm").as_deref(),
            Some("original-matched:warm@1000")
        );
        assert!(enhancement("preset=warm%00").is_err());
        assert_eq!(first_at("at=1%2E5").ok(), Some(Some(1.5)));
        assert_eq!(first_at("preset=warm").ok(), Some(None));
        assert_eq!(first_at("preset=warm&at=12.5").ok(), Some(Some(12.5)));
        for bad in ["at=-1", "at=NaN", "at=inf", "at=x", "at="] {
            assert!(first_at(bad).is_err(), "{bad}");
        }
    }
}
