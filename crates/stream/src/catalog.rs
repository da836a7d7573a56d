//! What the API serves: the library's tracks ([`sonance_library::Library`], SQLite), each opened
//! by the engine when it is first played, plus the library's background work — the scan of its
//! folders and the watcher that keeps it current.
//!
//! A request names a track by its id; the id is looked up in the library's table and nothing
//! else, so no path from a request ever reaches the file system.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};

use lru::LruCache;
use sonance_engine::{Engine, Error, Track};
use sonance_library::{Folder, FolderId, Library, TrackId, TrackRecord, Watcher};

/// Opened tracks kept (an open probes the file: the playing track, the next, a few recent).
const OPENED_KEPT: usize = 64;
/// Albums longer than this are levelled track by track (each track's loudness costs an
/// analysis, ~60 ms, the first time the album plays in album mode).
const ALBUM_MODE_MAX_TRACKS: usize = 100;

/// Tracks the background analysis reads from the library at a time.
const ANALYSIS_BATCH: usize = 64;
/// Tracks that could not be analysed, remembered so one pass does not try them again; a
/// pass that meets more stops (they are tried again at the next pass).
const ANALYSIS_FAILURES_KEPT: usize = 4096;

/// What the library keeps of a track's analysis: what album mode needs, and the engine's
/// analysis itself (`Engine::prime_analysis`), so a track's first play needs none.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredLoudness {
    /// Integrated loudness, LUFS; `None` for silence.
    loudness_lufs: Option<f64>,
    seconds: f64,
    /// The engine's analysis (`sonance_engine::StoredAnalysis::text`); absent in what
    /// earlier versions stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    engine: Option<String>,
}

impl StoredLoudness {
    fn new(stored: sonance_engine::StoredAnalysis, seconds: f64) -> Self {
        StoredLoudness {
            loudness_lufs: stored
                .loudness_lufs
                .is_finite()
                .then_some(stored.loudness_lufs),
            seconds,
            engine: Some(stored.text),
        }
    }
}

/// One track: its record, and the engine's view of it (or why it cannot play).
#[derive(Clone)]
pub struct Entry {
    pub id: TrackId,
    pub record: TrackRecord,
    pub track: Result<Arc<Track>, Arc<Error>>,
}

impl Entry {
    pub fn path(&self) -> &Path {
        &self.record.path
    }
}

/// An opened track and the file state it was opened at.
struct Opened {
    size: u64,
    mtime: i64,
    track: Result<Arc<Track>, Arc<Error>>,
}

/// The background scanner: a thread that scans whenever asked, a thread that analyses
/// what the library has not analysed yet, and the folder watcher.
struct Background {
    wake: SyncSender<()>,
    analyse: SyncSender<()>,
    cancel: Arc<AtomicBool>,
    watcher: Option<Watcher>,
}

/// The library as the API and the players see it.
pub struct Catalog {
    engine: Arc<Engine>,
    library: Arc<Library>,
    opened: Mutex<LruCache<TrackId, Opened>>,
    background: Mutex<Option<Background>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Catalog {
    pub fn new(engine: Arc<Engine>, library: Arc<Library>) -> Self {
        Catalog {
            engine,
            library,
            opened: Mutex::new(LruCache::new(
                NonZeroUsize::new(OPENED_KEPT).unwrap_or(NonZeroUsize::MIN),
            )),
            background: Mutex::new(None),
        }
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    pub fn library(&self) -> &Arc<Library> {
        &self.library
    }

    /// Add files (read at once) and folders (added to the library and scanned at once).
    /// Returns the ids of the tracks found, in order; what cannot be read is logged.
    pub fn add(&self, paths: &[PathBuf]) -> Vec<TrackId> {
        match self.library.add_files(paths) {
            Ok(ids) => {
                if let Some(bg) = lock(&self.background).as_mut() {
                    for p in paths.iter().filter(|p| p.is_dir()) {
                        watch(bg, p);
                    }
                    ask(&bg.analyse);
                }
                ids
            }
            Err(e) => {
                log::warn!("cannot add {paths:?} to the library: {e}");
                Vec::new()
            }
        }
    }

    /// Add a folder to the library, watch it and scan it in the background.
    pub fn add_folder(&self, path: &Path) -> sonance_library::Result<Folder> {
        let id = self.library.add_folder(path)?;
        if let Some(bg) = lock(&self.background).as_mut() {
            watch(bg, path);
        }
        self.request_scan();
        let folder = self.library.folders()?.into_iter().find(|f| f.id == id);
        folder.ok_or_else(|| sonance_library::Error::NotFound {
            what: "folder",
            id: id.to_string(),
        })
    }

    /// Forget a folder and its tracks.
    pub fn remove_folder(&self, id: FolderId) -> sonance_library::Result<()> {
        self.library.remove_folder(id)
    }

    /// The track `id`, opened by the engine (kept for the next request), or `None` when the
    /// library has no such track.
    pub fn get(&self, id: &TrackId) -> Option<Entry> {
        let record = match self.library.track(id) {
            Ok(Some(r)) => r,
            Ok(None) => return None,
            Err(e) => {
                log::warn!("cannot read track {} from the library: {e}", id.as_str());
                return None;
            }
        };
        let track = self.open(id, &record);
        Some(Entry {
            id: id.clone(),
            record,
            track,
        })
    }

    /// Album mode: the loudness of the album `entry` is on (`sonance_engine::album_loudness`
    /// of its tracks), or `None` when it is on no album of two or more tracks (then it is
    /// levelled on its own). Each track's loudness is measured once and kept in the library
    /// (forgotten when the file changes); a track that cannot be measured is left out.
    pub fn album_loudness(&self, entry: &Entry) -> Option<f64> {
        let album = entry.record.album_id.as_ref()?;
        let (_, tracks) = match self.library.album(album) {
            Ok(found) => found?,
            Err(e) => {
                log::warn!("cannot read album {album} from the library: {e}");
                return None;
            }
        };
        if !(2..=ALBUM_MODE_MAX_TRACKS).contains(&tracks.len()) {
            return None;
        }
        let levels: Vec<(f64, f64)> = tracks
            .iter()
            .filter_map(|r| self.loudness(r))
            .map(|l| (l.loudness_lufs.unwrap_or(f64::NEG_INFINITY), l.seconds))
            .collect();
        Some(sonance_engine::album_loudness(&levels))
    }

    /// A track's loudness: stored, or measured now and stored.
    fn loudness(&self, record: &TrackRecord) -> Option<StoredLoudness> {
        let stored = self.library.analysis(&record.id).ok().flatten();
        if let Some(l) = stored.and_then(|b| serde_json::from_slice(&b).ok()) {
            return Some(l);
        }
        let track = self.open(&record.id, record).ok()?;
        let l = match self.engine.stored_analysis(&track) {
            Ok(a) => StoredLoudness::new(a, track.duration_s()),
            Err(e) => {
                log::warn!("album mode leaves out {}: {e}", record.path.display());
                return None;
            }
        };
        if let Ok(bytes) = serde_json::to_vec(&l) {
            if let Err(e) = self.library.set_analysis(&record.id, &bytes) {
                log::warn!("cannot keep the loudness of {}: {e}", record.path.display());
            }
        }
        Some(l)
    }

    fn open(&self, id: &TrackId, record: &TrackRecord) -> Result<Arc<Track>, Arc<Error>> {
        if record.missing {
            return Err(Arc::new(Error::Io {
                path: record.path.clone(),
                err: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "the file is missing (moved or deleted since it was added)",
                ),
            }));
        }
        if let Some(o) = lock(&self.opened).get(id) {
            if o.size == record.size && o.mtime == record.mtime {
                return o.track.clone();
            }
        }
        // Opened outside the lock: it reads the file.
        let track = self
            .engine
            .open(&record.path)
            .map(Arc::new)
            .map_err(Arc::new);
        match &track {
            Err(e) => log::warn!("{e}"),
            // Analysed in the background (or for album mode) before: the first processed
            // span needs no analysis.
            Ok(t) => {
                let stored = self.library.analysis(id).ok().flatten();
                let stored = stored.and_then(|b| serde_json::from_slice::<StoredLoudness>(&b).ok());
                if let Some(text) = stored.and_then(|s| s.engine) {
                    self.engine.prime_analysis(t, &text);
                }
            }
        }
        lock(&self.opened).put(
            id.clone(),
            Opened {
                size: record.size,
                mtime: record.mtime,
                track: track.clone(),
            },
        );
        track
    }

    /// Start the background work: watch the library's folders and scan them now and whenever
    /// [`Catalog::request_scan`] asks. Idempotent.
    pub fn start_background(self: &Arc<Self>) -> std::io::Result<()> {
        let mut bg = lock(&self.background);
        if bg.is_some() {
            return Ok(());
        }
        let watcher = match self.library.watch() {
            Ok(w) => Some(w),
            Err(e) => {
                log::warn!("the library's folders are not watched: {e}");
                None
            }
        };
        // One pending request is enough: a scan covers every folder.
        let (wake, asked) = sync_channel::<()>(1);
        let (analyse, analysis_asked) = sync_channel::<()>(1);
        let cancel = Arc::new(AtomicBool::new(false));
        let library = Arc::clone(&self.library);
        let stop = Arc::clone(&cancel);
        let scanned = analyse.clone();
        std::thread::Builder::new()
            .name("library-scan".into())
            .spawn(move || {
                while asked.recv().is_ok() && !stop.load(Ordering::Relaxed) {
                    let result = library.scan(&stop, &|_| {});
                    ask(&scanned);
                    match result {
                        Ok(r) => log::info!(
                            "library scan: {} added, {} updated, {} unchanged, {} missing, {} unreadable in {:.1} s",
                            r.added,
                            r.updated,
                            r.unchanged,
                            r.missing,
                            r.errors.len(),
                            r.elapsed.as_secs_f64()
                        ),
                        Err(sonance_library::Error::Cancelled) => break,
                        Err(e) => log::warn!("library scan failed: {e}"),
                    }
                }
            })?;
        let (engine, library, stop) = (
            Arc::clone(&self.engine),
            Arc::clone(&self.library),
            Arc::clone(&cancel),
        );
        std::thread::Builder::new()
            .name("library-analysis".into())
            .spawn(move || {
                // Yields to playback and to everything else (its workers inherit it).
                sonance_engine::RenderPriority::Lowest.apply_to_current_thread();
                while analysis_asked.recv().is_ok() && !stop.load(Ordering::Relaxed) {
                    analyse_library(&engine, &library, &stop);
                }
            })?;
        ask(&analyse);
        *bg = Some(Background {
            wake,
            analyse,
            cancel,
            watcher,
        });
        drop(bg);
        self.request_scan();
        Ok(())
    }

    /// Ask for a scan of every folder (after one already asked for, it is a no-op).
    pub fn request_scan(&self) {
        if let Some(bg) = lock(&self.background).as_ref() {
            match bg.wake.try_send(()) {
                Ok(()) | Err(TrySendError::Full(())) => {}
                Err(TrySendError::Disconnected(())) => log::warn!("the library scanner stopped"),
            }
        }
    }
}

/// Ask a background thread for a pass (one pending request is enough).
fn ask(tx: &SyncSender<()>) {
    match tx.try_send(()) {
        Ok(()) | Err(TrySendError::Full(())) => {}
        Err(TrySendError::Disconnected(())) => log::warn!("a library background thread stopped"),
    }
}

/// Analyse every track the library holds no analysis for (its file as it is now) and store
/// it, until none is left or `stop`: a library track's first play then starts as fast with
/// `adaptive` as with `bypass`. The engine's own kept analyses are left alone.
fn analyse_library(engine: &Engine, library: &Library, stop: &AtomicBool) {
    let mut failed = std::collections::HashSet::new();
    let started = std::time::Instant::now();
    let mut done = 0usize;
    loop {
        let ids = match library.tracks_without_analysis(ANALYSIS_BATCH + failed.len()) {
            Ok(ids) => ids,
            Err(e) => {
                log::warn!("cannot list the tracks to analyse: {e}");
                return;
            }
        };
        let todo: Vec<TrackId> = ids.into_iter().filter(|id| !failed.contains(id)).collect();
        if todo.is_empty() {
            break;
        }
        for id in todo {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let Ok(Some(record)) = library.track(&id) else {
                failed.insert(id);
                continue;
            };
            let stored = engine
                .open(&record.path)
                .and_then(|t| Ok((engine.analyse_for_storage(&t)?, t.duration_s())));
            let bytes = stored.map_err(|e| e.to_string()).and_then(|(a, seconds)| {
                serde_json::to_vec(&StoredLoudness::new(a, seconds)).map_err(|e| e.to_string())
            });
            match bytes.map(|b| library.set_analysis(&id, &b).map_err(|e| e.to_string())) {
                Ok(Ok(())) => done += 1,
                Ok(Err(e)) | Err(e) => {
                    log::debug!("{} is not analysed: {e}", record.path.display());
                    failed.insert(id);
                }
            }
        }
        if failed.len() > ANALYSIS_FAILURES_KEPT {
            break;
        }
    }
    if done > 0 {
        log::info!(
            "library analysis: {done} tracks in {:.1} s ({} not analysable)",
            started.elapsed().as_secs_f64(),
            failed.len()
        );
    }
}

fn watch(bg: &mut Background, path: &Path) {
    if let Some(w) = bg.watcher.as_mut() {
        if let Err(e) = w.watch_folder(path) {
            log::warn!("cannot watch {}: {e}", path.display());
        }
    }
}

impl Drop for Catalog {
    fn drop(&mut self) {
        if let Some(bg) = lock(&self.background).take() {
            bg.cancel.store(true, Ordering::Relaxed);
        }
    }
}
