//! Scanning: walk the folders, read new and changed files in parallel, write in batches.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, UNIX_EPOCH};

use rayon::prelude::*;
use rusqlite::{params, Connection, OptionalExtension};

use crate::cover::is_folder_image_name;
use crate::error::{Error, Result};
use crate::id::{AlbumId, TrackId};
use crate::model::{Folder, FolderId, ScanPhase, ScanProgress, ScanReport};
use crate::tags::{self, FileTags};
use crate::{is_audio_path, lock, now_s, Library};

/// Rows written per transaction.
const BATCH: usize = 500;
/// Files read in parallel between progress reports.
const READ_CHUNK: usize = 64;

/// A file found on disk.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub folder_id: Option<FolderId>,
    /// Canonical.
    pub path: PathBuf,
    pub size: i64,
    pub mtime: i64,
    pub folder_cover: bool,
}

/// What the database knows of a file.
#[derive(Debug, Clone)]
struct Known {
    size: i64,
    mtime: i64,
    missing: bool,
    folder_id: Option<FolderId>,
    folder_cover: bool,
}

/// One write of a batch.
pub(crate) enum Write {
    /// A file read now.
    Upsert(Found, Box<FileTags>),
    /// A known, unchanged file: un-missing it and refresh what the walk saw.
    Touch(Found),
    Missing(String),
}

pub(crate) fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn title_from_file_name(path: &Path) -> String {
    path.file_stem()
        .or_else(|| path.file_name())
        .map(|s| s.to_string_lossy().trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| path.to_string_lossy().into_owned())
}

/// Write `batch` in one transaction.
pub(crate) fn write_batch(conn: &mut Connection, batch: &[Write]) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let now = now_s();
    let tx = conn.transaction()?;
    {
        let mut upsert = tx.prepare_cached(
            "INSERT INTO tracks (id, path, folder_id, size, mtime, duration_s, sample_rate, channels,
                codec, title, artist, album, album_artist, track_no, disc_no, year, genre,
                embedded_cover, folder_cover, added_at, missing, playable, error, album_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                ?18, ?19, ?20, 0, ?21, ?22, ?23)
             ON CONFLICT(id) DO UPDATE SET path = excluded.path, folder_id = excluded.folder_id,
                size = excluded.size, mtime = excluded.mtime, duration_s = excluded.duration_s,
                sample_rate = excluded.sample_rate, channels = excluded.channels,
                codec = excluded.codec, title = excluded.title, artist = excluded.artist,
                album = excluded.album, album_artist = excluded.album_artist,
                track_no = excluded.track_no, disc_no = excluded.disc_no, year = excluded.year,
                genre = excluded.genre, embedded_cover = excluded.embedded_cover,
                folder_cover = excluded.folder_cover, missing = 0,
                playable = excluded.playable, error = excluded.error,
                album_id = excluded.album_id",
        )?;
        let mut touch = tx.prepare_cached(
            "UPDATE tracks SET missing = 0, folder_id = ?2, folder_cover = ?3 WHERE path = ?1",
        )?;
        let mut missing =
            tx.prepare_cached("UPDATE tracks SET missing = 1 WHERE path = ?1 AND missing = 0")?;
        for w in batch {
            match w {
                Write::Upsert(f, t) => {
                    let path = f.path.to_string_lossy();
                    let id = TrackId::for_canonical(&f.path);
                    let title = t
                        .title
                        .clone()
                        .unwrap_or_else(|| title_from_file_name(&f.path));
                    let album_id = AlbumId::for_album(
                        t.album_artist.as_deref().or(t.artist.as_deref()),
                        t.album.as_deref(),
                    );
                    upsert.execute(params![
                        id.as_str(),
                        path,
                        f.folder_id,
                        f.size,
                        f.mtime,
                        t.duration_s,
                        t.sample_rate,
                        t.channels,
                        t.codec,
                        title,
                        t.artist,
                        t.album,
                        t.album_artist,
                        t.track_no,
                        t.disc_no,
                        t.year,
                        t.genre,
                        t.embedded_cover,
                        f.folder_cover,
                        now,
                        t.error.is_none(),
                        t.error,
                        album_id.as_ref().map(AlbumId::as_str),
                    ])?;
                }
                Write::Touch(f) => {
                    touch.execute(params![
                        f.path.to_string_lossy(),
                        f.folder_id,
                        f.folder_cover
                    ])?;
                }
                Write::Missing(p) => {
                    missing.execute([p])?;
                }
            }
        }
    }
    tx.commit()?;
    Ok(())
}

/// Read one found file into a write.
pub(crate) fn read_found(f: Found) -> Write {
    let t = tags::read(&f.path);
    Write::Upsert(f, Box::new(t))
}

impl Library {
    /// Scan every library folder: add new audio files, re-read changed ones (size or
    /// modification time differs), mark vanished ones missing. Files are read in parallel on
    /// low-priority threads and written every few hundred, so lists and searches see the
    /// tracks as they come. `cancel` is checked for every file; a cancelled scan keeps what it
    /// wrote and returns [`Error::Cancelled`]. One scan at a time: a second gives
    /// [`Error::ScanRunning`].
    pub fn scan(&self, cancel: &AtomicBool, progress: &dyn Fn(ScanProgress)) -> Result<ScanReport> {
        let _guard = match self.scan_lock.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return Err(Error::ScanRunning),
        };
        let folders = self.folders()?;
        let result = self.scan_folders(&folders, true, cancel, progress);
        self.set_status(None);
        result
    }

    /// Scan `folders` (`check_loose`: also check files added without a folder).
    pub(crate) fn scan_folders(
        &self,
        folders: &[Folder],
        check_loose: bool,
        cancel: &AtomicBool,
        progress: &dyn Fn(ScanProgress),
    ) -> Result<ScanReport> {
        let start = Instant::now();
        let mut report = ScanReport::default();
        let report_progress = |p: ScanProgress| {
            self.set_status(Some(p.clone()));
            progress(p);
        };
        let cancelled = || cancel.load(Ordering::Relaxed);

        let known = self.known_files()?;
        let removed = self.removed_paths()?;

        // 1. Walk.
        let mut found: Vec<Found> = Vec::new();
        let mut seen: HashSet<PathBuf> = HashSet::new();
        // Folders walked completely, and directories inside them that could not be read.
        let mut walked: Vec<FolderId> = Vec::new();
        let mut unreadable: Vec<PathBuf> = Vec::new();
        let mut gone_folders: Vec<FolderId> = Vec::new();
        for folder in folders {
            if cancelled() {
                return Err(Error::Cancelled);
            }
            report_progress(ScanProgress {
                done: found.len() as u64,
                total: 0,
                files_per_s: 0.0,
                current_folder: Some(folder.path.clone()),
                phase: ScanPhase::Walking,
            });
            if let Err(e) = std::fs::read_dir(&folder.path) {
                let gone = e.kind() == std::io::ErrorKind::NotFound;
                let reason = if gone {
                    "the folder does not exist (a disk not connected?)".to_string()
                } else {
                    format!("the folder cannot be read ({e})")
                };
                log::warn!("skipping {}: {reason}", folder.path.display());
                self.set_folder_error(folder.id, Some(&reason))?;
                report.errors.push((folder.path.clone(), reason));
                if gone {
                    // Its files are not there: missing (they come back with the folder). An
                    // unreadable folder's tracks are left as they were.
                    gone_folders.push(folder.id);
                }
                continue;
            }
            let before = found.len();
            walk(
                folder,
                &mut seen,
                &mut found,
                &mut unreadable,
                &mut report.errors,
                cancel,
            );
            if cancelled() {
                return Err(Error::Cancelled);
            }
            log::info!(
                "{}: {} audio files",
                folder.path.display(),
                found.len() - before
            );
            walked.push(folder.id);
        }

        // 2. Compare with what is known.
        let mut to_read: Vec<(Found, bool)> = Vec::new();
        let mut pending: Vec<Write> = Vec::new();
        for f in found {
            let key = f.path.to_string_lossy().into_owned();
            if removed.contains(&key) {
                continue;
            }
            match known.get(&key) {
                Some(k) if k.size == f.size && k.mtime == f.mtime => {
                    if k.missing {
                        report.updated += 1;
                        pending.push(Write::Touch(f));
                    } else {
                        report.unchanged += 1;
                        if k.folder_id != f.folder_id || k.folder_cover != f.folder_cover {
                            pending.push(Write::Touch(f));
                        }
                    }
                }
                Some(_) => to_read.push((f, false)),
                None => to_read.push((f, true)),
            }
        }

        // 3. Read in parallel, write in batches.
        let total = to_read.len() as u64;
        let read_start = Instant::now();
        let mut done = 0u64;
        for chunk in to_read.chunks(READ_CHUNK) {
            if cancelled() {
                break;
            }
            let current = chunk
                .first()
                .and_then(|(f, _)| f.path.parent().map(Path::to_path_buf));
            let rows: Vec<Option<(Write, bool)>> = self.pool.install(|| {
                chunk
                    .par_iter()
                    .map(|(f, is_new)| (!cancelled()).then(|| (read_found(f.clone()), *is_new)))
                    .collect()
            });
            for (w, is_new) in rows.into_iter().flatten() {
                done += 1;
                if is_new {
                    report.added += 1;
                } else {
                    report.updated += 1;
                }
                if let Write::Upsert(f, t) = &w {
                    if let Some(e) = &t.error {
                        report.errors.push((f.path.clone(), e.clone()));
                    }
                }
                pending.push(w);
            }
            if pending.len() >= BATCH {
                self.write(|c| write_batch(c, &pending))?;
                pending.clear();
            }
            let secs = read_start.elapsed().as_secs_f64();
            report_progress(ScanProgress {
                done,
                total,
                files_per_s: if secs > 0.0 { done as f64 / secs } else { 0.0 },
                current_folder: current,
                phase: ScanPhase::Reading,
            });
        }
        self.write(|c| write_batch(c, &pending))?;
        pending.clear();
        if cancelled() {
            return Err(Error::Cancelled);
        }

        // 4. Mark what vanished.
        report_progress(ScanProgress {
            done,
            total,
            files_per_s: 0.0,
            current_folder: None,
            phase: ScanPhase::Finishing,
        });
        for (path, k) in &known {
            if k.missing || seen.contains(Path::new(path)) {
                continue;
            }
            let gone = match k.folder_id {
                Some(fid) => {
                    gone_folders.contains(&fid)
                        || (walked.contains(&fid)
                            && !unreadable.iter().any(|d| Path::new(path).starts_with(d)))
                }
                None => check_loose && !Path::new(path).exists(),
            };
            if gone {
                report.missing += 1;
                pending.push(Write::Missing(path.clone()));
            }
        }
        for batch in pending.chunks(BATCH) {
            self.write(|c| write_batch(c, batch))?;
        }
        let now = now_s();
        self.write(|c| {
            let tx = c.transaction()?;
            for id in &walked {
                tx.execute(
                    "UPDATE folders SET scanned_at = ?2, error = NULL WHERE id = ?1",
                    params![id, now],
                )?;
            }
            tx.commit()?;
            Ok(())
        })?;
        report.elapsed = start.elapsed();
        report_progress(ScanProgress {
            done,
            total,
            files_per_s: 0.0,
            current_folder: None,
            phase: ScanPhase::Done,
        });
        log::info!(
            "scan: {} added, {} updated, {} unchanged, {} missing, {} errors in {:.1?}",
            report.added,
            report.updated,
            report.unchanged,
            report.missing,
            report.errors.len(),
            report.elapsed
        );
        Ok(report)
    }

    fn known_files(&self) -> Result<HashMap<String, Known>> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT path, size, mtime, missing, folder_id, folder_cover FROM tracks",
            )?;
            let rows = st.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    Known {
                        size: r.get(1)?,
                        mtime: r.get(2)?,
                        missing: r.get(3)?,
                        folder_id: r.get(4)?,
                        folder_cover: r.get(5)?,
                    },
                ))
            })?;
            rows.collect()
        })
    }

    fn removed_paths(&self) -> Result<HashSet<String>> {
        self.read(|c| {
            let mut st = c.prepare("SELECT path FROM removed")?;
            let rows = st.query_map([], |r| r.get(0))?;
            rows.collect()
        })
    }

    fn set_folder_error(&self, id: FolderId, error: Option<&str>) -> Result<()> {
        self.write(|c| {
            c.execute(
                "UPDATE folders SET error = ?2 WHERE id = ?1",
                params![id, error],
            )?;
            Ok(())
        })
    }

    /// The library folder holding `path` (the deepest one), if any.
    pub(crate) fn folder_of(&self, path: &Path) -> Result<Option<FolderId>> {
        Ok(self
            .folders()?
            .into_iter()
            .filter(|f| path.starts_with(&f.path))
            .max_by_key(|f| f.path.as_os_str().len())
            .map(|f| f.id))
    }

    /// Read one file now and store it (when `force`, or when it is new or changed). Used by
    /// `add_files` and the watcher. Returns its id, or `None` when it was skipped (removed by
    /// the user and not `force`d).
    pub(crate) fn refresh_file(&self, path: &Path, force: bool) -> Result<Option<TrackId>> {
        let canonical = path.canonicalize().map_err(|e| Error::io(path, e))?;
        let meta = std::fs::metadata(&canonical).map_err(|e| Error::io(path, e))?;
        let key = canonical.to_string_lossy().into_owned();
        let id = TrackId::for_canonical(&canonical);
        if force {
            self.write(|c| {
                c.execute("DELETE FROM removed WHERE path = ?1", [&key])?;
                Ok(())
            })?;
        } else {
            let removed: bool = self.read(|c| {
                c.query_row("SELECT 1 FROM removed WHERE path = ?1", [&key], |_| Ok(()))
                    .optional()
                    .map(|r| r.is_some())
            })?;
            if removed {
                return Ok(None);
            }
        }
        let found = Found {
            folder_id: self.folder_of(&canonical)?,
            size: i64::try_from(meta.len()).unwrap_or(i64::MAX),
            mtime: mtime_ns(&meta),
            folder_cover: canonical
                .parent()
                .is_some_and(|d| crate::cover::folder_image(d).is_some()),
            path: canonical,
        };
        let current: Option<(i64, i64, bool)> = self.read(|c| {
            c.query_row(
                "SELECT size, mtime, missing FROM tracks WHERE id = ?1",
                [id.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
        })?;
        let w = match current {
            Some((s, m, _)) if !force && s == found.size && m == found.mtime => Write::Touch(found),
            _ => read_found(found),
        };
        self.write(|c| write_batch(c, &[w]))?;
        Ok(Some(id))
    }

    /// Mark the track at `path`, or every track under the folder `path`, missing.
    pub(crate) fn mark_missing_under(&self, path: &Path) -> Result<usize> {
        let p = path.to_string_lossy().into_owned();
        let lo = format!("{}/", p.trim_end_matches('/'));
        let hi = format!("{}0", p.trim_end_matches('/'));
        self.write(|c| {
            Ok(c.execute(
                "UPDATE tracks SET missing = 1 WHERE missing = 0
                 AND (path = ?1 OR (path >= ?2 AND path < ?3))",
                params![p, lo, hi],
            )?)
        })
    }

    /// Add files and folders the user handed over. Files are read now (even one removed
    /// before); folders are added and scanned now. Returns the ids in the order given, a
    /// folder's tracks in path order.
    pub fn add_files(&self, paths: &[PathBuf]) -> Result<Vec<TrackId>> {
        let mut ids = Vec::new();
        for p in paths {
            if p.is_dir() {
                let fid = self.add_folder(p)?;
                let folder = self
                    .folders()?
                    .into_iter()
                    .find(|f| f.id == fid)
                    .ok_or_else(|| Error::NotFound {
                        what: "folder",
                        id: fid.to_string(),
                    })?;
                {
                    let _guard = lock(&self.scan_lock);
                    let r = self.scan_folders(
                        std::slice::from_ref(&folder),
                        false,
                        &AtomicBool::new(false),
                        &|_| {},
                    );
                    self.set_status(None);
                    r?;
                }
                let folder_ids: Vec<String> = self.read(|c| {
                    let mut st = c.prepare(
                        "SELECT id FROM tracks WHERE folder_id = ?1 AND missing = 0 ORDER BY path",
                    )?;
                    let rows = st.query_map([fid], |r| r.get(0))?;
                    rows.collect()
                })?;
                ids.extend(folder_ids.iter().filter_map(|s| TrackId::parse(s)));
            } else if let Some(id) = self.refresh_file(p, true)? {
                ids.push(id);
            }
        }
        Ok(ids)
    }
}

/// Walk one folder: audio files (canonical, each once), cover images, unreadable folders.
fn walk(
    folder: &Folder,
    seen: &mut HashSet<PathBuf>,
    found: &mut Vec<Found>,
    unreadable: &mut Vec<PathBuf>,
    errors: &mut Vec<(PathBuf, String)>,
    cancel: &AtomicBool,
) {
    let mut audio: Vec<(PathBuf, std::fs::Metadata)> = Vec::new();
    let mut cover_dirs: HashSet<PathBuf> = HashSet::new();
    for entry in walkdir::WalkDir::new(&folder.path)
        .follow_links(true)
        .max_depth(64)
        .sort_by_file_name()
    {
        if cancel.load(Ordering::Relaxed) {
            return;
        }
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e.path().map(Path::to_path_buf).unwrap_or_default();
                if let Some(ancestor) = e.loop_ancestor() {
                    log::warn!(
                        "skipping {}: a link back to {} (a loop)",
                        path.display(),
                        ancestor.display()
                    );
                } else {
                    let reason = match e.io_error() {
                        Some(io) if io.kind() == std::io::ErrorKind::PermissionDenied => {
                            "permission denied".to_string()
                        }
                        Some(io) => io.to_string(),
                        None => e.to_string(),
                    };
                    log::warn!("skipping {}: {reason}", path.display());
                    if e.depth() > 0 || path != folder.path {
                        unreadable.push(path.clone());
                    }
                    errors.push((path, format!("cannot be read: {reason}")));
                }
                continue;
            }
        };
        if entry.file_type().is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy();
        if is_folder_image_name(&name) {
            if let Some(parent) = entry.path().parent() {
                cover_dirs.insert(parent.to_path_buf());
            }
            continue;
        }
        if !is_audio_path(entry.path()) {
            continue;
        }
        match entry.metadata() {
            Ok(m) if m.is_file() => audio.push((entry.into_path(), m)),
            Ok(_) => {}
            Err(e) => errors.push((entry.path().to_path_buf(), format!("cannot be read: {e}"))),
        }
    }
    for (path, meta) in audio {
        let folder_cover = path.parent().is_some_and(|d| cover_dirs.contains(d));
        let canonical = match path.canonicalize() {
            Ok(c) => c,
            Err(e) => {
                errors.push((path, format!("cannot be read: {e}")));
                continue;
            }
        };
        if !seen.insert(canonical.clone()) {
            continue;
        }
        found.push(Found {
            folder_id: Some(folder.id),
            path: canonical,
            size: i64::try_from(meta.len()).unwrap_or(i64::MAX),
            mtime: mtime_ns(&meta),
            folder_cover,
        });
    }
}
