//! Saving the [`PlayerState`] between runs: JSON, written atomically (a temporary file in the
//! same folder, flushed to disk, then renamed over the old one), so a crash mid-write leaves
//! the previous file intact.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::player::Player;
use crate::state::PlayerState;

/// Why the saved state could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PersistError {
    /// The file could not be read or written. Retrying may help (disk full, permissions).
    #[error("could not {action} the player state at {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The file is far larger than any saved state (100 000 tracks take a few MB): not read.
    /// Retrying will not help: start from a fresh state.
    #[error("the player state at {path} is {bytes} bytes, more than the {max} a saved state can take; it was not loaded")]
    TooLarge { path: PathBuf, bytes: u64, max: u64 },
    /// The file is not a saved player state (damaged, or from something else). Retrying will
    /// not help: start from a fresh state (the next save replaces the file).
    #[error("the player state at {path} is damaged and was not loaded: {source}")]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

impl PersistError {
    /// True when the file simply does not exist yet (the first run).
    pub fn is_not_found(&self) -> bool {
        matches!(self, PersistError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

/// The largest file [`load_state`] reads: a full queue of long paths is well under this.
pub const MAX_STATE_BYTES: u64 = 64 * 1024 * 1024;

/// Write `state` to `path` atomically.
pub fn save_state(path: &Path, state: &PlayerState) -> Result<(), PersistError> {
    let io_err = |action, source| PersistError::Io {
        action,
        path: path.to_owned(),
        source,
    };
    let json = serde_json::to_vec(state).map_err(|e| io_err("encode", io::Error::other(e)))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "player-state".to_owned());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let write = || -> io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(&json)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        // Make the rename itself durable where directories can be opened (not on Windows).
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io_err("write", e)
    })
}

/// Read a state saved by [`save_state`]. Never panics on a damaged file: it returns
/// [`PersistError::Corrupt`] and the caller starts fresh. The result is not validated yet;
/// [`Player::restore`](crate::Player::restore) does that.
pub fn load_state(path: &Path) -> Result<PlayerState, PersistError> {
    let io_err = |source| PersistError::Io {
        action: "read",
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    let bytes = file.metadata().map_err(io_err)?.len();
    if bytes > MAX_STATE_BYTES {
        return Err(PersistError::TooLarge {
            path: path.to_owned(),
            bytes,
            max: MAX_STATE_BYTES,
        });
    }
    let mut buf = Vec::new();
    // `take` guards against a file that grows while it is read.
    file.take(MAX_STATE_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(io_err)?;
    serde_json::from_slice(&buf).map_err(|source| PersistError::Corrupt {
        path: path.to_owned(),
        source,
    })
}

/// The player saved at `path`, or a fresh one when there is none or it cannot be read. The
/// error, if any, is returned for the log; a missing file (the first run) is not an error.
pub fn restore_or_fresh(path: &Path, seed: u64) -> (Player, Option<PersistError>) {
    match load_state(path) {
        Ok(state) => (Player::restore(state, seed), None),
        Err(e) if e.is_not_found() => (Player::new(seed), None),
        Err(e) => (Player::new(seed), Some(e)),
    }
}
