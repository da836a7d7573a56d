//! Engine errors. Each variant says whether retrying or skipping helps.

use std::path::PathBuf;

/// Everything that can go wrong between a file on disk and a finished fragment.
///
/// The `Display` text is a sentence a person understands; callers at a boundary
/// (CLI, HTTP, Tauri) show it as is and branch on [`Error::kind`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be opened or read (missing, vanished, no permission).
    /// Retrying may help if the file comes back.
    #[error("cannot read {path}: {err}")]
    Io { path: PathBuf, err: std::io::Error },
    /// The file is not audio we can decode (empty, not a media file, no audio track,
    /// unsupported codec). Retrying does not help; skip the track.
    #[error("{path} is not an audio file Sonance can play: {reason}")]
    Unsupported { path: PathBuf, reason: String },
    /// The file started decoding but is damaged beyond what we can play.
    /// Retrying does not help; skip the track.
    #[error("{path} is damaged: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    /// A parameter from the caller is out of range (chunk index, intensity, chunk length…).
    /// Fix the request.
    #[error("{0}")]
    InvalidParameter(String),
    /// The input exceeds a limit that protects memory and time (absurd sample rate,
    /// channel count or duration). Skip the track.
    #[error("{path} exceeds a safety limit: {reason}")]
    Limit { path: PathBuf, reason: String },
    /// The Opus encoder failed. This is a bug or an invalid encoder setting.
    #[error("Opus encoder failed: {0}")]
    Encoder(String),
    /// The caller asked to stop (its listener went away): the work ended early on purpose.
    /// Nobody waits for the result; retry only if someone asks again.
    #[error("the work was cancelled: nobody is waiting for it")]
    Cancelled,
}

/// A coarse class of [`Error`] for callers that branch (HTTP status, UI message style).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file is missing or unreadable.
    NotFound,
    /// The file cannot be decoded (unsupported, corrupt, over a limit).
    Undecodable,
    /// The request was wrong.
    BadParameter,
    /// Something inside the engine failed.
    Internal,
}

impl Error {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Io { .. } => ErrorKind::NotFound,
            Error::Unsupported { .. } | Error::Corrupt { .. } | Error::Limit { .. } => {
                ErrorKind::Undecodable
            }
            Error::InvalidParameter(_) => ErrorKind::BadParameter,
            Error::Encoder(_) | Error::Cancelled => ErrorKind::Internal,
        }
    }

    pub(crate) fn io(path: &std::path::Path, err: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            err,
        }
    }

    pub(crate) fn unsupported(path: &std::path::Path, reason: impl Into<String>) -> Self {
        Error::Unsupported {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
}

/// Result with the engine's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
