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

/// What the library keeps of a track's analysis: what album mode needs.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredLoudness {
    /// Integrated loudness, LUFS; `None` for silence.
    loudness_lufs: Option<f64>,
    seconds: f64,
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

/// The background scanner: a thread that scans whenever asked, and the folder watcher.
struct Background {
    wake: SyncSender<()>,
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
        let analysis = match self.engine.analysis(&track) {
            Ok(a) => a,
            Err(e) => {
                log::warn!("album mode leaves out {}: {e}", record.path.display());
                return None;
            }
        };
        let lufs = analysis.stats().loudness_lufs;
        let l = StoredLoudness {
            loudness_lufs: lufs.is_finite().then_some(lufs),
            seconds: track.duration_s(),
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
        if let Err(e) = &track {
            log::warn!("{e}");
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
        let cancel = Arc::new(AtomicBool::new(false));
        let library = Arc::clone(&self.library);
        let stop = Arc::clone(&cancel);
        std::thread::Builder::new()
            .name("library-scan".into())
            .spawn(move || {
                while asked.recv().is_ok() && !stop.load(Ordering::Relaxed) {
                    match library.scan(&stop, &|_| {}) {
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
        *bg = Some(Background {
            wake,
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
