//! The records the library hands out.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::id::{AlbumId, TrackId};

/// A library folder's id.
pub type FolderId = i64;

/// A folder the user added; its audio files are scanned recursively.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Folder {
    pub id: FolderId,
    pub path: PathBuf,
    /// Unix seconds.
    pub added_at: i64,
    /// Unix seconds of the last completed scan.
    pub scanned_at: Option<i64>,
    /// Why the last scan could not read the folder.
    pub error: Option<String>,
}

/// One track, as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackRecord {
    pub id: TrackId,
    pub path: PathBuf,
    /// The library folder it was found in; `None` for a file added on its own.
    pub folder_id: Option<FolderId>,
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime: i64,
    pub duration_s: Option<f64>,
    pub sample_rate: Option<u32>,
    pub channels: Option<u32>,
    pub codec: Option<String>,
    /// The tag, else the file name without its extension.
    pub title: String,
    pub artist: Option<String>,
    pub album: Option<String>,
    pub album_artist: Option<String>,
    pub track_no: Option<u32>,
    pub disc_no: Option<u32>,
    pub year: Option<i32>,
    pub genre: Option<String>,
    /// An embedded picture or a cover image in the file's folder exists (see `Library::cover`).
    pub has_cover: bool,
    /// Unix seconds.
    pub added_at: i64,
    /// Unix seconds.
    pub last_played_at: Option<i64>,
    pub play_count: u32,
    /// The file was not found by the last scan (kept, so plays and ids survive a moved disk).
    pub missing: bool,
    /// Whether the file could be read as audio.
    pub playable: bool,
    /// Why the file cannot be played, in words for a person.
    pub error: Option<String>,
    pub album_id: Option<AlbumId>,
}

/// One page of a longer list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// How many items match in all pages.
    pub total: u64,
}

/// An album: the tracks sharing (album artist or artist, album title), ignoring case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlbumRecord {
    pub id: AlbumId,
    pub title: String,
    pub album_artist: Option<String>,
    pub year: Option<i32>,
    pub track_count: u32,
    pub duration_s: f64,
    /// A track whose cover stands for the album.
    pub cover_track_id: Option<TrackId>,
}

/// An artist (the album artist, else the track artist).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArtistRecord {
    pub name: String,
    pub album_count: u32,
    pub track_count: u32,
}

/// A genre and how many tracks have it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GenreRecord {
    pub name: String,
    pub track_count: u32,
}

/// Where a scan is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanPhase {
    /// Listing the folders' files.
    Walking,
    /// Reading the tags of new and changed files.
    Reading,
    /// Marking vanished files missing.
    Finishing,
    Done,
}

/// A running scan's progress.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanProgress {
    /// Files handled (while walking: files found).
    pub done: u64,
    /// Files to read (0 while walking).
    pub total: u64,
    pub files_per_s: f64,
    pub current_folder: Option<PathBuf>,
    pub phase: ScanPhase,
}

/// What a scan did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ScanReport {
    /// Files new to the library.
    pub added: u64,
    /// Known files that changed (or came back after being missing) and were read again.
    pub updated: u64,
    /// Known files whose size and modification time did not change (not reopened).
    pub unchanged: u64,
    /// Known files that were not found and are now marked missing.
    pub missing: u64,
    /// Files and folders that could not be read, and why.
    pub errors: Vec<(PathBuf, String)>,
    pub elapsed: Duration,
}

/// A cover picture, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Cover {
    pub mime: &'static str,
    pub bytes: Vec<u8>,
}
