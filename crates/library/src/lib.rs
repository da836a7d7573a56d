//! The music library: folders, tracks, tags, covers and search, in one SQLite database.
//!
//! Blocking and thread-safe: share one [`Library`] as `Arc<Library>`. Writes go through one
//! connection; reads use a few read-only connections of their own, so a long scan (which
//! commits in batches) never makes a list or a search wait for it to finish.
//!
//! ```no_run
//! use std::sync::atomic::AtomicBool;
//! use sonance_library::{Library, TrackQuery};
//!
//! # fn main() -> Result<(), sonance_library::Error> {
//! let lib = Library::open(std::path::Path::new("/tmp/library.sqlite3"))?;
//! lib.add_folder(std::path::Path::new("/home/me/Music"))?;
//! let report = lib.scan(&AtomicBool::new(false), &|p| println!("{} of {}", p.done, p.total))?;
//! println!("{} new tracks", report.added);
//! let page = lib.tracks(&TrackQuery { q: Some("halo bey".into()), ..TrackQuery::default() })?;
//! # Ok(()) }
//! ```
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod cover;
mod error;
mod id;
mod model;
mod query;
mod scan;
mod schema;
mod tags;
mod watch;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

pub use error::{Error, Result};
pub use id::{AlbumId, TrackId};
pub use model::{
    AlbumRecord, ArtistRecord, Cover, Folder, FolderId, GenreRecord, Page, ScanPhase, ScanProgress,
    ScanReport, TrackRecord,
};
pub use query::{fts_query, AlbumQuery, Sort, SortKey, TrackQuery, UnknownSort, MAX_LIMIT};
pub use watch::Watcher;

use query::{order_by, searched, track_filter, track_from_row, BM25, TRACK_COLUMNS};

/// File extensions taken from folders (lowercase).
pub const AUDIO_EXTENSIONS: &[&str] = &[
    "mp3", "flac", "wav", "wave", "ogg", "oga", "opus", "m4a", "m4b", "mp4", "aac", "aif", "aiff",
    "aifc", "caf", "mka", "alac",
];

/// Whether `path` has one of the [`AUDIO_EXTENSIONS`].
pub fn is_audio_path(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// A search matching more tracks than this lists them title matches first, unranked
/// (ranking reads every match: about 1 µs each).
pub const RANK_ALL_MAX: u64 = 2_000;

/// Read-only connections kept open for lists and searches.
const READERS: usize = 3;
/// Threads that read tags during a scan.
const SCAN_THREADS: usize = 4;

/// The music library. See the crate docs.
pub struct Library {
    db_path: PathBuf,
    thumbs_dir: PathBuf,
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    scan_lock: Mutex<()>,
    status: Mutex<Option<ScanProgress>>,
    pool: rayon::ThreadPool,
    thumb_writes: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Library {
    /// Open (or create) the library at `db_path`, creating its folder and bringing the schema
    /// up to date. A file that is not a library database gives [`Error::NotADatabase`].
    pub fn open(db_path: &Path) -> Result<Library> {
        let dir = match db_path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let mut writer = Connection::open(db_path).map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::CannotOpen => {
                Error::io(
                    db_path,
                    std::io::Error::other("the database file cannot be opened"),
                )
            }
            e => not_a_database(db_path, e.into()),
        })?;
        schema::configure(&writer)
            .map_err(Error::from)
            .and_then(|()| schema::migrate(&mut writer, db_path))
            .map_err(|e| not_a_database(db_path, e))?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let c = Connection::open_with_flags(
                db_path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            schema::configure(&c)?;
            readers.push(Mutex::new(c));
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(
                SCAN_THREADS.min(
                    std::thread::available_parallelism()
                        .map(|n| n.get())
                        .unwrap_or(2),
                ),
            )
            .thread_name(|i| format!("library-scan-{i}"))
            .start_handler(|_| lower_thread_priority())
            .build()
            .map_err(|e| Error::Io {
                path: db_path.to_path_buf(),
                source: std::io::Error::other(format!("cannot start the scan threads: {e}")),
            })?;
        Ok(Library {
            db_path: db_path.to_path_buf(),
            thumbs_dir: dir.join("thumbnails"),
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
            scan_lock: Mutex::new(()),
            status: Mutex::new(None),
            pool,
            thumb_writes: AtomicU64::new(0),
        })
    }

    /// Where the library lives by default: the platform's data folder for "sonance"
    /// (`~/.local/share/sonance/library.sqlite3` on Linux).
    pub fn default_db_path() -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "sonance")
            .map(|d| d.data_dir().join("library.sqlite3"))
    }

    /// The database file.
    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        let conn = lock(&self.readers[i]);
        Ok(f(&conn)?)
    }

    pub(crate) fn write<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut conn = lock(&self.writer);
        f(&mut conn)
    }

    // ---- folders ----

    /// Add a folder (its audio files are found by the next [`scan`](Self::scan)). Adding it
    /// again returns the same id.
    pub fn add_folder(&self, path: &Path) -> Result<FolderId> {
        let canonical = path.canonicalize().map_err(|e| Error::io(path, e))?;
        if !canonical.is_dir() {
            return Err(Error::NotAFolder(path.to_path_buf()));
        }
        let p = canonical.to_string_lossy().into_owned();
        self.write(|c| {
            c.execute(
                "INSERT OR IGNORE INTO folders (path, added_at) VALUES (?1, ?2)",
                params![p, now_s()],
            )?;
            Ok(c.query_row("SELECT id FROM folders WHERE path = ?1", [&p], |r| r.get(0))?)
        })
    }

    /// Remove a folder and its tracks from the library (the files are not touched).
    pub fn remove_folder(&self, id: FolderId) -> Result<()> {
        self.write(|c| {
            let tx = c.transaction()?;
            let n = tx.execute("DELETE FROM folders WHERE id = ?1", [id])?;
            if n == 0 {
                return Err(Error::NotFound {
                    what: "folder",
                    id: id.to_string(),
                });
            }
            tx.execute(
                "DELETE FROM analysis WHERE track_id NOT IN (SELECT id FROM tracks)",
                [],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    /// The library folders, in the order they were added.
    pub fn folders(&self) -> Result<Vec<Folder>> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, path, added_at, scanned_at, error FROM folders ORDER BY id",
            )?;
            let rows = st.query_map([], |r| {
                Ok(Folder {
                    id: r.get(0)?,
                    path: PathBuf::from(r.get::<_, String>(1)?),
                    added_at: r.get(2)?,
                    scanned_at: r.get(3)?,
                    error: r.get(4)?,
                })
            })?;
            rows.collect()
        })
    }

    // ---- tracks ----

    /// One track, missing or not.
    pub fn track(&self, id: &TrackId) -> Result<Option<TrackRecord>> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {TRACK_COLUMNS} FROM tracks t WHERE t.id = ?1"
            ))?
            .query_row([id.as_str()], track_from_row)
            .optional()
        })
    }

    /// A page of tracks: filtered, searched and sorted as `q` says.
    ///
    /// A search ranks its matches best first (a word in the title counts most, then artist
    /// and album artist, album, genre). Ranking reads every match, so when a search matches
    /// more than [`RANK_ALL_MAX`] tracks (a letter or two typed), tracks whose title holds
    /// every word come first and the rest after, each group in the order the tracks were added.
    pub fn tracks(&self, q: &TrackQuery) -> Result<Page<TrackRecord>> {
        let Some(f) = track_filter(q) else {
            return Ok(Page {
                items: Vec::new(),
                total: 0,
            });
        };
        let limit = q.limit.min(MAX_LIMIT);
        let offset = q.offset.min(i64::MAX as u64) as i64;
        if let (Some(m), false, SortKey::Default) = (&f.fts, f.narrowed, q.sort.key) {
            return self.search(m, q, limit, offset);
        }
        let order = order_by(q.sort, f.ranked);
        // Two steps: the sorter holds only row numbers (not every column of every match),
        // then the page's rows are fetched.
        let sql = format!(
            "SELECT t.num FROM {} {} ORDER BY {order} LIMIT {limit} OFFSET {offset}",
            f.from,
            f.where_sql(),
        );
        let count = format!("SELECT COUNT(*) FROM {} {}", f.from, f.where_sql());
        self.read(|c| {
            let params = rusqlite::params_from_iter(f.params.iter());
            let nums = c
                .prepare_cached(&sql)?
                .query_map(params, |r| r.get::<_, i64>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let items = rows_by_num(c, &nums)?;
            let total: i64 = c
                .prepare_cached(&count)?
                .query_row(rusqlite::params_from_iter(f.params.iter()), |r| r.get(0))?;
            Ok(Page {
                items,
                total: total.max(0) as u64,
            })
        })
    }

    /// A search with no other filter, best match first (see [`tracks`](Self::tracks)). The
    /// count and the broad order are read from the full-text index alone, without visiting
    /// the tracks table once per match.
    fn search(
        &self,
        m: &str,
        q: &TrackQuery,
        limit: u32,
        offset: i64,
    ) -> Result<Page<TrackRecord>> {
        let present = |e: String| {
            if q.include_missing {
                e
            } else {
                format!("({e}) NOT missing : \"1\"")
            }
        };
        let all = present(searched(m));
        self.read(|c| {
            let total: i64 = c
                .prepare_cached("SELECT COUNT(*) FROM tracks_fts WHERE tracks_fts MATCH ?1")?
                .query_row([&all], |r| r.get(0))?;
            let total = total.max(0) as u64;
            let nums = if total <= RANK_ALL_MAX {
                let dir = if q.sort.desc { "DESC" } else { "ASC" };
                c.prepare_cached(&format!(
                    "SELECT t.num FROM tracks_fts JOIN tracks t ON t.num = tracks_fts.rowid
                     WHERE tracks_fts MATCH ?1
                     ORDER BY {BM25} {dir}, t.path {dir}, t.id {dir} LIMIT ?2 OFFSET ?3"
                ))?
                .query_map(rusqlite::params![all, limit, offset], |r| {
                    r.get::<_, i64>(0)
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?
            } else {
                // Both halves come out of the index in row order; the compound stops as soon
                // as the page is full.
                let title = present(format!("{{title}} : ({m})"));
                let rest = present(format!("{} NOT {{title}} : ({m})", searched(m)));
                let (first, second) = if q.sort.desc {
                    (rest, title)
                } else {
                    (title, rest)
                };
                c.prepare_cached(
                    "SELECT rowid FROM tracks_fts WHERE tracks_fts MATCH ?1
                     UNION ALL
                     SELECT rowid FROM tracks_fts WHERE tracks_fts MATCH ?2
                     LIMIT ?3 OFFSET ?4",
                )?
                .query_map(rusqlite::params![first, second, limit, offset], |r| {
                    r.get::<_, i64>(0)
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?
            };
            Ok(Page {
                items: rows_by_num(c, &nums)?,
                total,
            })
        })
    }

    /// Remove a track from the library and remember it: no scan adds it back, only
    /// [`add_files`](Self::add_files) naming it.
    pub fn remove_track(&self, id: &TrackId) -> Result<()> {
        self.write(|c| {
            let tx = c.transaction()?;
            let path: Option<String> = tx
                .query_row(
                    "SELECT path FROM tracks WHERE id = ?1",
                    [id.as_str()],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(path) = path else {
                return Err(Error::NotFound {
                    what: "track",
                    id: id.to_string(),
                });
            };
            tx.execute(
                "INSERT OR REPLACE INTO removed (path, removed_at) VALUES (?1, ?2)",
                params![path, now_s()],
            )?;
            tx.execute("DELETE FROM tracks WHERE id = ?1", [id.as_str()])?;
            tx.execute("DELETE FROM analysis WHERE track_id = ?1", [id.as_str()])?;
            tx.commit()?;
            Ok(())
        })
    }

    /// Count a play: play count + 1, last played now.
    pub fn record_play(&self, id: &TrackId) -> Result<()> {
        let n = self.write(|c| {
            Ok(c.execute(
                "UPDATE tracks SET play_count = play_count + 1, last_played_at = ?2 WHERE id = ?1",
                params![id.as_str(), now_s()],
            )?)
        })?;
        if n == 0 {
            return Err(Error::NotFound {
                what: "track",
                id: id.to_string(),
            });
        }
        Ok(())
    }

    /// Store the engine's analysis of a track (opaque bytes). It is forgotten when the file
    /// changes.
    pub fn set_analysis(&self, id: &TrackId, data: &[u8]) -> Result<()> {
        let n = self.write(|c| {
            Ok(c.execute(
                "INSERT OR REPLACE INTO analysis (track_id, size, mtime, data)
                 SELECT id, size, mtime, ?2 FROM tracks WHERE id = ?1",
                params![id.as_str(), data],
            )?)
        })?;
        if n == 0 {
            return Err(Error::NotFound {
                what: "track",
                id: id.to_string(),
            });
        }
        Ok(())
    }

    /// The stored analysis, if the file has not changed since it was stored.
    pub fn analysis(&self, id: &TrackId) -> Result<Option<Vec<u8>>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT a.data FROM analysis a JOIN tracks t ON t.id = a.track_id
                 WHERE a.track_id = ?1 AND a.size = t.size AND a.mtime = t.mtime",
            )?
            .query_row([id.as_str()], |r| r.get(0))
            .optional()
        })
    }

    /// Tracks (not missing) with no analysis stored for their file as it is now, at most
    /// `limit`, in the order they were added: what a background analysis has left to do.
    pub fn tracks_without_analysis(&self, limit: usize) -> Result<Vec<TrackId>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|c| {
            c.prepare_cached(
                "SELECT t.id FROM tracks t LEFT JOIN analysis a
                   ON a.track_id = t.id AND a.size = t.size AND a.mtime = t.mtime
                 WHERE a.track_id IS NULL AND t.missing = 0 ORDER BY t.num LIMIT ?1",
            )?
            .query_map([limit], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<String>>>()
        })
        .map(|ids| ids.iter().filter_map(|s| TrackId::parse(s)).collect())
    }

    // ---- browse ----

    /// A page of albums, sorted by album artist then title (missing tracks not counted).
    pub fn albums(&self, q: &AlbumQuery) -> Result<Page<AlbumRecord>> {
        let mut clauses = vec![
            "t.album_id IS NOT NULL".to_string(),
            "t.missing = 0".to_string(),
        ];
        let mut params: Vec<rusqlite::types::Value> = Vec::new();
        let mut from = "tracks t".to_string();
        if let Some(text) = q.q.as_deref().filter(|s| !s.trim().is_empty()) {
            let Some(m) = fts_query(text) else {
                return Ok(Page {
                    items: Vec::new(),
                    total: 0,
                });
            };
            from = "tracks t JOIN tracks_fts ON tracks_fts.rowid = t.num".to_string();
            clauses.push("tracks_fts MATCH ?".to_string());
            params.push(rusqlite::types::Value::Text(format!(
                "{{album album_artist}} : ({m})"
            )));
        }
        if let Some(a) = &q.artist {
            clauses.push("COALESCE(t.album_artist, t.artist) = ? COLLATE NOCASE".to_string());
            params.push(rusqlite::types::Value::Text(a.clone()));
        }
        if let Some(g) = &q.genre {
            clauses.push("t.genre = ? COLLATE NOCASE".to_string());
            params.push(rusqlite::types::Value::Text(g.clone()));
        }
        let where_sql = clauses.join(" AND ");
        let limit = q.limit.min(MAX_LIMIT);
        let offset = q.offset.min(i64::MAX as u64);
        let sql = format!(
            "{ALBUM_SELECT} FROM {from} WHERE {where_sql} GROUP BY t.album_id
             ORDER BY MIN(COALESCE(t.album_artist, t.artist)) IS NULL,
                      MIN(COALESCE(t.album_artist, t.artist) COLLATE NOCASE),
                      MIN(t.album COLLATE NOCASE), t.album_id
             LIMIT {limit} OFFSET {offset}"
        );
        let count = format!("SELECT COUNT(DISTINCT t.album_id) FROM {from} WHERE {where_sql}");
        self.read(|c| {
            let items = c
                .prepare_cached(&sql)?
                .query_map(rusqlite::params_from_iter(params.iter()), album_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let total: i64 = c
                .prepare_cached(&count)?
                .query_row(rusqlite::params_from_iter(params.iter()), |r| r.get(0))?;
            Ok(Page {
                items: items.into_iter().flatten().collect(),
                total: total.max(0) as u64,
            })
        })
    }

    /// An album and its tracks in disc, track, path order.
    pub fn album(&self, id: &AlbumId) -> Result<Option<(AlbumRecord, Vec<TrackRecord>)>> {
        self.read(|c| {
            let album = c
                .prepare_cached(&format!(
                    "{ALBUM_SELECT} FROM tracks t WHERE t.album_id = ?1 AND t.missing = 0 GROUP BY t.album_id"
                ))?
                .query_row([id.as_str()], album_from_row)
                .optional()?
                .flatten();
            let Some(album) = album else {
                return Ok(None);
            };
            let tracks = c
                .prepare_cached(&format!(
                    "SELECT {TRACK_COLUMNS} FROM tracks t WHERE t.album_id = ?1 AND t.missing = 0
                     ORDER BY t.disc_no IS NULL, t.disc_no, t.track_no IS NULL, t.track_no, t.path, t.id"
                ))?
                .query_map([id.as_str()], track_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Some((album, tracks)))
        })
    }

    /// Every artist (album artist, else track artist), by name ignoring case.
    pub fn artists(&self) -> Result<Vec<ArtistRecord>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT MIN(COALESCE(album_artist, artist)), COUNT(DISTINCT album_id), COUNT(*)
                 FROM tracks WHERE missing = 0 AND COALESCE(album_artist, artist) IS NOT NULL
                 GROUP BY COALESCE(album_artist, artist) COLLATE NOCASE
                 ORDER BY COALESCE(album_artist, artist) COLLATE NOCASE",
            )?
            .query_map([], |r| {
                Ok(ArtistRecord {
                    name: r.get(0)?,
                    album_count: r.get(1)?,
                    track_count: r.get(2)?,
                })
            })?
            .collect()
        })
    }

    /// Every genre, by name ignoring case.
    pub fn genres(&self) -> Result<Vec<GenreRecord>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT MIN(genre), COUNT(*) FROM tracks WHERE missing = 0 AND genre IS NOT NULL
                 GROUP BY genre COLLATE NOCASE ORDER BY genre COLLATE NOCASE",
            )?
            .query_map([], |r| {
                Ok(GenreRecord {
                    name: r.get(0)?,
                    track_count: r.get(1)?,
                })
            })?
            .collect()
        })
    }

    /// The latest progress of a running scan; `None` when no scan runs.
    pub fn scan_status(&self) -> Option<ScanProgress> {
        lock(&self.status).clone()
    }

    pub(crate) fn set_status(&self, p: Option<ScanProgress>) {
        *lock(&self.status) = p;
    }
}

/// The tracks with these row numbers, in this order.
fn rows_by_num(c: &Connection, nums: &[i64]) -> rusqlite::Result<Vec<TrackRecord>> {
    if nums.is_empty() {
        return Ok(Vec::new());
    }
    // Integers read from the database: safe to inline.
    let list = nums
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let mut st = c.prepare(&format!(
        "SELECT {TRACK_COLUMNS}, t.num FROM tracks t WHERE t.num IN ({list})"
    ))?;
    let mut by_num: std::collections::HashMap<i64, TrackRecord> = st
        .query_map([], |r| Ok((r.get::<_, i64>(26)?, track_from_row(r)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(nums.iter().filter_map(|n| by_num.remove(n)).collect())
}

/// A damaged or foreign file shows as "not a database" or "corrupt" on its first read.
fn not_a_database(path: &Path, e: Error) -> Error {
    match e {
        Error::Db(rusqlite::Error::SqliteFailure(f, msg))
            if matches!(
                f.code,
                rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt
            ) =>
        {
            Error::NotADatabase {
                path: path.to_path_buf(),
                reason: msg.unwrap_or_else(|| f.to_string()),
            }
        }
        e => e,
    }
}

const ALBUM_SELECT: &str =
    "SELECT t.album_id, MIN(t.album), MIN(COALESCE(t.album_artist, t.artist)),
    MAX(t.year), COUNT(*), COALESCE(SUM(t.duration_s), 0),
    (SELECT c.id FROM tracks c WHERE c.album_id = t.album_id AND c.missing = 0
        AND (c.embedded_cover = 1 OR c.folder_cover = 1)
        ORDER BY c.embedded_cover DESC, c.disc_no, c.track_no, c.path LIMIT 1)";

fn album_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Option<AlbumRecord>> {
    let id: String = r.get(0)?;
    let cover: Option<String> = r.get(6)?;
    Ok(AlbumId::parse(&id).map(|id| AlbumRecord {
        id,
        title: r
            .get::<_, Option<String>>(1)
            .ok()
            .flatten()
            .unwrap_or_default(),
        album_artist: r.get(2).ok().flatten(),
        year: r.get(3).ok().flatten(),
        track_count: r.get(4).unwrap_or(0),
        duration_s: r.get(5).unwrap_or(0.0),
        cover_track_id: cover.as_deref().and_then(TrackId::parse),
    }))
}

/// Scan threads yield to playback: lowest normal priority where the platform allows.
fn lower_thread_priority() {
    if let Err(e) =
        thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min)
    {
        log::debug!("cannot lower the scan thread's priority: {e:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_send_sync<T: Send + Sync>() {}

    #[test]
    fn library_is_send_and_sync() {
        is_send_sync::<Library>();
    }

    #[test]
    fn a_page_of_the_songs_order_walks_an_index_instead_of_sorting_every_track() {
        let tmp = tempfile::tempdir().unwrap();
        let lib = Library::open(&tmp.path().join("lib.sqlite3")).unwrap();
        for filter in ["", "WHERE t.missing = 0"] {
            let sql = format!(
                "EXPLAIN QUERY PLAN SELECT t.num FROM tracks t {filter} ORDER BY {} LIMIT 200 OFFSET 400",
                order_by(Sort::default(), false)
            );
            let plan: Vec<String> = lib
                .read(|c| {
                    c.prepare(&sql)?
                        .query_map([], |r| r.get::<_, String>(3))?
                        .collect()
                })
                .unwrap();
            let plan = plan.join("; ");
            assert!(plan.contains("tracks_default_order"), "{plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        }
    }

    #[test]
    fn audio_extensions_include_opus_and_ignore_case() {
        assert!(is_audio_path(Path::new("/a/b.OPUS")));
        assert!(is_audio_path(Path::new("/a/b.flac")));
        assert!(!is_audio_path(Path::new("/a/cover.jpg")));
    }
}
