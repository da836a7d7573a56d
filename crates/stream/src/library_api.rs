//! The library's routes, behind the same access checks as the stream routes:
//!
//! | route | answer |
//! |---|---|
//! | `GET /api/tracks?q=&sort=&limit=&offset=&album=&artist=&genre=&folder=` | `[track]`, total in `X-Total-Count` |
//! | `GET /api/albums?q=&artist=&genre=&limit=&offset=` | `[album]`, total in `X-Total-Count` |
//! | `GET /api/albums/{id}` | `{…album, tracks: [track]}` in disc/track order |
//! | `GET /api/artists`, `GET /api/genres` | `[{name, album_count?, track_count}]` |
//! | `GET /api/covers/{track id}?size=N` | a JPEG thumbnail (404 when the track has no cover) |
//! | `GET /api/library/folders` | `[folder]` |
//! | `POST /api/library/folders` `{"path": "…"}` | the folder added (scanned in the background); the desktop app's page only (403 from `sonance serve`) |
//! | `DELETE /api/library/folders/{id}` | 204 |
//! | `GET /api/library/scan` | `{running, done, total, files_per_s, phase, current_folder}` |
//! | `POST /api/library/scan` | 202: a scan of every folder starts |
//!
//! `GET /api/tracks` without `limit` lists every track (today's clients read the whole list).

use std::sync::Arc;

use serde::Serialize;
use sonance_library::{AlbumId, AlbumQuery, Sort, TrackId, TrackQuery, MAX_LIMIT};

use crate::api::{Request, Response, StreamApi};
use crate::message::{self as reply, is_read, RequestExt, ResponseExt};

/// The most tracks `GET /api/tracks` returns without `limit`.
const ALL_TRACKS_MAX: u64 = 200_000;

impl StreamApi {
    /// Answer a library route, or `None` when `segments` is not one.
    pub(crate) fn library_route(&self, req: &Request, segments: &[&str]) -> Option<Response> {
        let get = is_read(req);
        let resp = match (req.method().as_str(), segments) {
            (_, ["api", "tracks"]) if get => self.list_tracks(req),
            (_, ["api", "albums"]) if get => self.list_albums(req),
            (_, ["api", "albums", id]) if get => self.album(id),
            (_, ["api", "artists"]) if get => self.lib_json(|l| l.artists()),
            (_, ["api", "genres"]) if get => self.lib_json(|l| l.genres()),
            (_, ["api", "covers", id]) if get => self.cover(id, req),
            (_, ["api", "library", "folders"]) if get => self.lib_json(|l| {
                // Each folder with how many tracks the library found in it.
                let folders = l.folders()?;
                let mut out = Vec::with_capacity(folders.len());
                for f in folders {
                    let q = TrackQuery {
                        folder: Some(f.id),
                        limit: 1,
                        ..TrackQuery::default()
                    };
                    let count = l.tracks(&q)?.total;
                    let mut json = serde_json::to_value(&f).unwrap_or_default();
                    if let Some(obj) = json.as_object_mut() {
                        obj.insert("track_count".into(), count.into());
                    }
                    out.push(json);
                }
                Ok(out)
            }),
            ("POST", ["api", "library", "folders"]) => self.add_folder(req),
            ("DELETE", ["api", "library", "folders", id]) => self.remove_folder(id),
            (_, ["api", "library", "scan"]) if get => self.scan_status(),
            ("POST", ["api", "library", "scan"]) => {
                self.catalog.request_scan();
                reply::json(202, &serde_json::json!({"started": true}))
            }
            (_, ["api", "tracks" | "albums" | "artists" | "genres" | "covers", ..])
            | (_, ["api", "library", ..])
                if segments.len() <= 4 && !is_stream_route(segments) =>
            {
                reply::error(
                    405,
                    "bad_parameter",
                    format!("{} is not supported on this route", req.method()),
                )
            }
            _ => return None,
        };
        Some(resp)
    }

    fn list_tracks(&self, req: &Request) -> Response {
        let mut q = TrackQuery {
            include_missing: true,
            ..TrackQuery::default()
        };
        let mut limit = None;
        for (k, v) in req.params() {
            match k.as_str() {
                "q" => q.q = Some(v).filter(|v| !v.trim().is_empty()),
                "sort" => match v.parse::<Sort>() {
                    Ok(s) => q.sort = s,
                    Err(e) => return bad(format!("cannot sort by '{}'", e.0)),
                },
                "limit" => match whole("limit", &v) {
                    Ok(n) => limit = Some(n.min(u64::from(MAX_LIMIT)) as u32),
                    Err(why) => return bad(why),
                },
                "offset" => match whole("offset", &v) {
                    Ok(n) => q.offset = n,
                    Err(why) => return bad(why),
                },
                "album" => match AlbumId::parse(&v) {
                    Some(id) => q.album_id = Some(id),
                    None => return bad(format!("'{v}' is not an album id")),
                },
                "artist" => q.artist = Some(v),
                "genre" => q.genre = Some(v),
                "folder" => match v.parse() {
                    Ok(id) => q.folder = Some(id),
                    Err(_) => return bad(format!("'{v}' is not a folder id")),
                },
                _ => {}
            }
        }
        let library = self.catalog.library();
        let Some(limit) = limit else {
            // Every track, page by page.
            let mut all = Vec::new();
            q.limit = MAX_LIMIT;
            let total = loop {
                match library.tracks(&q) {
                    Ok(page) => {
                        let n = page.items.len() as u64;
                        all.extend(page.items);
                        q.offset += n;
                        if n == 0 || q.offset >= page.total || q.offset >= ALL_TRACKS_MAX {
                            break page.total;
                        }
                    }
                    Err(e) => return library_error(&e),
                }
            };
            return with_total(reply::json(200, &all), total);
        };
        q.limit = limit;
        match library.tracks(&q) {
            Ok(page) => with_total(reply::json(200, &page.items), page.total),
            Err(e) => library_error(&e),
        }
    }

    fn list_albums(&self, req: &Request) -> Response {
        let mut q = AlbumQuery::default();
        for (k, v) in req.params() {
            match k.as_str() {
                "q" => q.q = Some(v).filter(|v| !v.trim().is_empty()),
                "artist" => q.artist = Some(v),
                "genre" => q.genre = Some(v),
                "limit" => match whole("limit", &v) {
                    Ok(n) => q.limit = n.min(u64::from(MAX_LIMIT)) as u32,
                    Err(why) => return bad(why),
                },
                "offset" => match whole("offset", &v) {
                    Ok(n) => q.offset = n,
                    Err(why) => return bad(why),
                },
                _ => {}
            }
        }
        match self.catalog.library().albums(&q) {
            Ok(page) => with_total(reply::json(200, &page.items), page.total),
            Err(e) => library_error(&e),
        }
    }

    fn album(&self, id: &str) -> Response {
        let Some(id) = AlbumId::parse(id) else {
            return reply::error(404, "not_found", "there is no such album");
        };
        match self.catalog.library().album(&id) {
            Ok(Some((album, tracks))) => {
                let mut json = serde_json::to_value(&album).unwrap_or_default();
                if let Some(obj) = json.as_object_mut() {
                    obj.insert(
                        "tracks".into(),
                        serde_json::to_value(&tracks).unwrap_or_default(),
                    );
                }
                reply::json(200, &json)
            }
            Ok(None) => reply::error(404, "not_found", "there is no such album"),
            Err(e) => library_error(&e),
        }
    }

    fn cover(&self, id: &str, req: &Request) -> Response {
        let Some(id) = TrackId::parse(id) else {
            return reply::error(404, "not_found", "there is no such track");
        };
        let size = match req.param("size") {
            None => 256,
            Some(v) => match v.parse::<u32>() {
                Ok(n) => n,
                Err(_) => return bad(format!("size must be a whole number of pixels, not '{v}'")),
            },
        };
        match self.catalog.library().cover(&id, size) {
            Ok(Some(cover)) => {
                let mut r = reply::bytes(200, cover.mime, Arc::from(cover.bytes));
                // Thumbnails change only with the file; let the page keep them a while.
                r.headers_mut().insert(
                    http::header::CACHE_CONTROL,
                    http::HeaderValue::from_static("private, max-age=3600"),
                );
                r
            }
            Ok(None) => reply::error(404, "not_found", "this track has no cover picture"),
            Err(e) => library_error(&e),
        }
    }

    fn add_folder(&self, req: &Request) -> Response {
        // A path from a request reaches the file system only from the app's own page (the
        // person at the computer); a browser page of `sonance serve` cannot name folders.
        if !matches!(
            self.access,
            crate::api::Access::App { .. } | crate::api::Access::AppLoopback { .. }
        ) {
            return reply::error(
                403,
                "forbidden",
                "folders are added with `sonance serve FOLDER` or `sonance scan FOLDER`",
            );
        }
        #[derive(serde::Deserialize)]
        struct Body {
            path: std::path::PathBuf,
        }
        let body: Body = match serde_json::from_slice(req.body()) {
            Ok(b) => b,
            Err(_) => return bad("the body must be JSON like {\"path\": \"/home/me/Music\"}"),
        };
        match self.catalog.add_folder(&body.path) {
            Ok(folder) => reply::json(201, &folder),
            Err(e) => library_error(&e),
        }
    }

    fn remove_folder(&self, id: &str) -> Response {
        let Ok(id) = id.parse() else {
            return reply::error(404, "not_found", "there is no such folder");
        };
        match self.catalog.remove_folder(id) {
            Ok(()) => reply::bytes(204, "application/json", Arc::from([])),
            Err(e) => library_error(&e),
        }
    }

    fn scan_status(&self) -> Response {
        #[derive(Serialize)]
        struct Status {
            running: bool,
            #[serde(flatten)]
            progress: Option<sonance_library::ScanProgress>,
        }
        let progress = self.catalog.library().scan_status();
        reply::json(
            200,
            &Status {
                running: progress.is_some(),
                progress,
            },
        )
    }

    fn lib_json<T: Serialize>(
        &self,
        f: impl FnOnce(&sonance_library::Library) -> sonance_library::Result<T>,
    ) -> Response {
        match f(self.catalog.library()) {
            Ok(v) => reply::json(200, &v),
            Err(e) => library_error(&e),
        }
    }
}

/// `/api/tracks/{id}/…` belongs to the stream routes.
fn is_stream_route(segments: &[&str]) -> bool {
    matches!(segments, ["api", "tracks", _, ..])
}

/// A paging parameter: a whole number, or what is wrong with it.
fn whole(name: &str, v: &str) -> Result<u64, String> {
    v.parse()
        .map_err(|_| format!("{name} must be a whole number, not '{v}'"))
}

fn bad(message: impl Into<String>) -> Response {
    reply::error(400, "bad_parameter", message)
}

fn with_total(mut r: Response, total: u64) -> Response {
    r.add_header("X-Total-Count", &total.to_string());
    r
}

fn library_error(e: &sonance_library::Error) -> Response {
    use sonance_library::Error as E;
    let (status, kind) = match e {
        E::NotFound { .. } => (404, "not_found"),
        E::NotAFolder(_) => (400, "bad_parameter"),
        E::ScanRunning => (409, "busy"),
        E::Cover(_) => (422, "undecodable"),
        E::Io { .. } => (404, "not_found"),
        _ => (500, "internal"),
    };
    if status == 500 {
        log::error!("library: {e}");
    }
    reply::error(status, kind, e.to_string())
}
