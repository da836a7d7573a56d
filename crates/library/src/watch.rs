//! Watching the library folders: a changed file updates its own row, no full rescan.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use notify::RecursiveMode;
use notify_debouncer_full::{new_debouncer, DebounceEventResult, Debouncer, RecommendedCache};

use crate::error::{Error, Result};
use crate::{is_audio_path, Library};

/// Events wait this long for their burst to end.
const DEBOUNCE: Duration = Duration::from_millis(300);
/// Batches of events queued for the worker; the debouncer waits when it is full.
const QUEUE: usize = 64;

/// Keeps the library in step with its folders while it lives. Dropping it stops watching.
pub struct Watcher {
    debouncer: Option<Debouncer<notify::RecommendedWatcher, RecommendedCache>>,
    worker: Option<JoinHandle<()>>,
}

impl Watcher {
    /// Watch one more folder (one added with `add_folder` after this watcher started).
    pub fn watch_folder(&mut self, path: &Path) -> Result<()> {
        let d = self
            .debouncer
            .as_mut()
            .ok_or_else(|| Error::Watch("the watcher has stopped".to_string()))?;
        let canonical = path.canonicalize().map_err(|e| Error::io(path, e))?;
        d.watch(&canonical, RecursiveMode::Recursive)
            .map_err(|e| Error::Watch(format!("{}: {e}", path.display())))
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        // Stopping the debouncer drops its sender; the worker then ends.
        if let Some(d) = self.debouncer.take() {
            d.stop();
        }
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

impl Library {
    /// Start watching every library folder (the ones present now). A file added, changed,
    /// deleted or renamed updates its row within about a second.
    pub fn watch(self: &Arc<Self>) -> Result<Watcher> {
        let (tx, rx) = sync_channel::<DebounceEventResult>(QUEUE);
        let mut debouncer = new_debouncer(DEBOUNCE, None, move |r: DebounceEventResult| {
            // Blocks when the worker is behind: the queue stays bounded.
            let _ = tx.send(r);
        })
        .map_err(|e| Error::Watch(e.to_string()))?;
        for f in self.folders()? {
            if let Err(e) = debouncer.watch(&f.path, RecursiveMode::Recursive) {
                log::warn!("cannot watch {}: {e}", f.path.display());
            }
        }
        let lib = Arc::clone(self);
        let worker = std::thread::Builder::new()
            .name("library-watch".to_string())
            .spawn(move || run(&lib, &rx))
            .map_err(|e| Error::Watch(e.to_string()))?;
        Ok(Watcher {
            debouncer: Some(debouncer),
            worker: Some(worker),
        })
    }

    /// Bring the rows for `path` (a file or a folder, existing or gone) up to date.
    pub(crate) fn sync_path(&self, path: &Path) -> Result<()> {
        if path.is_dir() {
            for entry in walkdir::WalkDir::new(path)
                .follow_links(true)
                .max_depth(64)
                .into_iter()
                .flatten()
            {
                if entry.file_type().is_file() && is_audio_path(entry.path()) {
                    self.refresh_file(entry.path(), false)?;
                }
            }
        } else if path.is_file() {
            if is_audio_path(path) {
                self.refresh_file(path, false)?;
            } else if path
                .file_name()
                .is_some_and(|n| crate::cover::is_folder_image_name(&n.to_string_lossy()))
            {
                if let Some(dir) = path.parent() {
                    self.sync_path(dir)?;
                }
            }
        } else {
            // Gone: the file itself, or a folder with everything under it.
            let n = self.mark_missing_under(path)?;
            if n > 0 {
                log::info!("{}: {n} tracks missing", path.display());
            }
        }
        Ok(())
    }
}

fn run(lib: &Library, rx: &Receiver<DebounceEventResult>) {
    while let Ok(result) = rx.recv() {
        let events = match result {
            Ok(events) => events,
            Err(errors) => {
                for e in errors {
                    log::warn!("watching the library: {e}");
                }
                continue;
            }
        };
        let mut paths: Vec<PathBuf> = events
            .iter()
            .filter(|e| !e.kind.is_access())
            .flat_map(|e| e.paths.iter().cloned())
            .collect();
        paths.sort();
        paths.dedup();
        for p in paths {
            if let Err(e) = lib.sync_path(&p) {
                log::warn!("{}: {e}", p.display());
            }
        }
    }
}
