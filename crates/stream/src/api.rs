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
use sonance_engine::{Engine, Enhancement, Preset};

use crate::catalog::{Catalog, Entry};
use crate::message::{self as reply, is_read, RequestExt, ResponseExt};
pub use crate::message::{Request, Response, MAX_BODY};
use sonance_library::TrackId;

/// Gets a response's head and one piece of its body, as the body is made
/// ([`StreamApi::handle_progressive`]); returns [`ControlFlow::Break`] when nobody listens any
/// more (the client went away), which stops the render between spans.
pub type Progress<'a> = dyn FnMut(&Response, &[u8]) -> ControlFlow<()> + 'a;

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
            resp.add_header("Access-Control-Allow-Origin", origin);
            // The page reads where a chunk and its first span end (cross-origin: say so).
            resp.add_header(
                "Access-Control-Expose-Headers",
                "X-Chunk-Start, X-Chunk-End, X-First-Span-End, X-Total-Count",
            );
        }
        resp.add_header("X-Content-Type-Options", "nosniff");
        resp
    }

    /// `streams`: the transport sends pieces as they come (else only whole answers).
    fn route(&self, req: &Request, progress: &mut Progress<'_>, streams: bool) -> Response {
        let path = match self.admit(req) {
            Ok(path) => path,
            Err(why) => return reply::error(403, "forbidden", why),
        };
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        if req.method() == http::Method::OPTIONS {
            // A CORS preflight: the app's page (another origin) sends JSON bodies.
            let mut r = reply::bytes(204, "text/plain", Arc::from([]));
            r.add_header(
                "Access-Control-Allow-Methods",
                "GET, HEAD, POST, PUT, DELETE",
            );
            r.add_header("Access-Control-Allow-Headers", "Content-Type");
            r.add_header("Access-Control-Max-Age", "600");
            return r;
        }
        if let Some(resp) = self.player_route(req, &segments, progress, streams) {
            return resp;
        }
        if let Some(resp) = self.library_route(req, &segments) {
            return resp;
        }
        if !is_read(req) {
            return reply::error(405, "bad_parameter", "only GET is supported here");
        }
        match segments.as_slice() {
            ["api", "presets"] => self.presets(),
            ["api", "tracks", id] => self.with_entry(id, |e| self.track_detail(e)),
            ["api", "tracks", id, "init.webm"] => self.with_playable(id, req, |_, track, _| {
                reply::bytes(200, MIME, self.engine.init_segment(track).into())
            }),
            ["api", "tracks", id, "chunks", file] => {
                self.with_playable(id, req, |_, track, enh| {
                    let Some(n) = file
                        .strip_suffix(".webm")
                        .and_then(|n| n.parse::<u64>().ok())
                    else {
                        return reply::error(404, "not_found", format!("no chunk named '{file}'"));
                    };
                    if n >= track.plan().count() {
                        return reply::error(
                            404,
                            "not_found",
                            format!(
                                "chunk {n} does not exist (the track has {})",
                                track.plan().count()
                            ),
                        );
                    }
                    let mut head = reply::bytes(200, MIME, Arc::from([]));
                    if let Ok((a, b)) = track.chunk_span_s(n) {
                        head.add_header("X-Chunk-Start", &a.to_string());
                        head.add_header("X-Chunk-End", &b.to_string());
                    }
                    let at = match first_at(req.query_str()) {
                        Ok(at) => at,
                        Err(e) => return reply::engine_error(&e),
                    };
                    // Where the first piece's media ends: a switch can go in on it if it
                    // holds the switch point.
                    if let Ok((_, end)) = self.engine.first_span_s(track, n, enh, at) {
                        head.add_header("X-First-Span-End", &end.to_string());
                    }
                    let sent_head = self.finish(reply::head_of(&head));
                    let mut on_clusters = |bytes: &[u8]| progress(&sent_head, bytes);
                    match self
                        .engine
                        .chunk_progressive(track, n, enh, at, &mut on_clusters)
                    {
                        Ok(body) => head.map(|_| body.into()),
                        Err(e) => reply::engine_error(&e),
                    }
                })
            }
            _ if segments.first() == Some(&"api") => {
                reply::error(404, "not_found", format!("no such API route: {path}"))
            }
            _ if matches!(self.access, Access::AppLoopback { .. }) => {
                reply::error(404, "not_found", format!("no such API route: {path}"))
            }
            _ => self.ui_file(path),
        }
    }

    /// Whether `req` may be answered, and the path to route (without the app's token).
    fn admit<'r>(&self, req: &'r Request) -> Result<&'r str, String> {
        let host = req.host().unwrap_or("");
        let path = req.uri().path();
        let (page, token, any_host) = match &self.access {
            Access::App { .. } => return Ok(path),
            Access::Loopback => (None, None, false),
            Access::Token { token, any_host } => (None, Some(token), *any_host),
            Access::AppLoopback { origin, token } => (Some(origin), Some(token), false),
        };
        if !any_host && !is_loopback_host(host) {
            return Err(format!(
                "requests must address this computer (Host '{host}' is not a loopback address)"
            ));
        }
        if let Some(origin) = req.origin() {
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
            return Ok(path);
        };
        let rest = path.strip_prefix('/').unwrap_or("");
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
        reply::json(200, &list)
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
                reply::json(200, &json)
            }
            Err(err) => reply::engine_error(err),
        }
    }

    fn with_entry(&self, id: &str, f: impl FnOnce(&Entry) -> Response) -> Response {
        match TrackId::parse(id).and_then(|id| self.catalog.get(&id)) {
            Some(e) => f(&e),
            None => reply::error(404, "not_found", "there is no such track"),
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
                Err(err) => return reply::engine_error(err),
            };
            let enh = enhancement(req.query_str()).and_then(|(enh, mode)| match mode {
                Loudness::Album => match self.catalog.album_loudness(e) {
                    Some(lufs) => enh.with_album_loudness(lufs),
                    None => Ok(enh),
                },
                Loudness::Track => Ok(enh),
            });
            match enh {
                Ok(enh) => f(e, track, &enh),
                Err(e) => reply::engine_error(&e),
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
                let mut r = reply::bytes(200, ct, body.clone());
                if path == "/index.html" {
                    r.add_header("Content-Security-Policy", CSP);
                }
                r
            }
            None if self.ui.is_empty() => reply::error(
                404,
                "not_found",
                "the web UI is not built (run `npm --prefix ui run build`)",
            ),
            None => reply::error(404, "not_found", format!("no such page: {path}")),
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
