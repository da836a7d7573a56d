//! The library's errors.

use std::path::PathBuf;

/// What went wrong, in words a person understands. Each variant says whether retrying helps.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database file exists but is not a Sonance library (or is damaged). Retrying does
    /// not help; move the file away and a new library is made.
    #[error(
        "{path} is not a music library database (it is damaged or another kind of file): {reason}"
    )]
    NotADatabase { path: PathBuf, reason: String },
    /// The database was written by a newer Sonance. Update the app.
    #[error("the music library {path} was made by a newer version of Sonance (schema {found}, this version knows up to {known})")]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    /// Any other database failure (disk full, locked for too long…). Retrying may help.
    #[error("the music library database failed: {0}")]
    Db(#[from] rusqlite::Error),
    /// A file or folder could not be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The folder does not exist or is not a folder.
    #[error("{0} is not a folder")]
    NotAFolder(PathBuf),
    /// No track, folder or album has this id.
    #[error("no {what} has the id {id}")]
    NotFound { what: &'static str, id: String },
    /// Another scan is running; wait for it (see `scan_status`).
    #[error("a scan of the library is already running")]
    ScanRunning,
    /// The scan was cancelled; what it read so far is kept.
    #[error("the scan was cancelled")]
    Cancelled,
    /// A cover image is too large or cannot be decoded. Retrying does not help.
    #[error("the cover image cannot be used: {0}")]
    Cover(String),
    /// The file watcher could not start (for example too many watched folders).
    #[error("cannot watch the library folders for changes: {0}")]
    Watch(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
