//! The tracks the user added, addressed by opaque ids.
//!
//! An id is 16 hex digits derived from the file's canonical path, so the same file keeps its
//! id across runs (a future SQLite library can store it) and a request can never name a path:
//! ids are looked up in this table and nothing else.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use sonance_engine::{Engine, Error, Track};

/// File extensions added from folders.
pub const AUDIO_EXTENSIONS: &[&str] = &[
    "mp3", "flac", "wav", "wave", "ogg", "oga", "m4a", "m4b", "mp4", "aac", "aif", "aiff", "aifc",
    "caf", "mka", "alac",
];
/// Most tracks a library holds, and deepest folder scanned.
pub const MAX_TRACKS: usize = 50_000;
const MAX_DEPTH: usize = 16;

/// A track id: 16 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrackId(String);

impl TrackId {
    /// The id of `path` (its canonical form when it exists).
    pub fn for_path(path: &Path) -> Self {
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in canonical.to_string_lossy().as_bytes() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        TrackId(format!("{h:016x}"))
    }

    /// Parse an id from a request; anything but 16 hex digits is `None`.
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 16
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| TrackId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One entry: a playable track, or a file that could not be opened and why.
#[derive(Clone)]
pub struct Entry {
    pub id: TrackId,
    pub path: PathBuf,
    pub track: Result<Arc<Track>, Arc<Error>>,
}

impl Entry {
    /// What a list shows as the title: the tag, or the file name.
    pub fn title(&self) -> String {
        self.track
            .as_ref()
            .ok()
            .and_then(|t| t.info().title.clone())
            .unwrap_or_else(|| {
                self.path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
    }
}

/// The tracks, in the order they were added.
#[derive(Default)]
pub struct Library {
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    order: Vec<TrackId>,
    entries: HashMap<TrackId, Entry>,
}

impl Library {
    /// Add files, or every audio file under folders (sorted, recursively). Files that cannot
    /// be decoded are added with their error so the UI can say why they do not play.
    /// Returns the ids added, in order.
    pub fn add(&self, engine: &Engine, paths: &[PathBuf]) -> Vec<TrackId> {
        let mut files = Vec::new();
        for p in paths {
            if p.is_dir() {
                scan(p, 0, &mut files);
            } else {
                files.push(p.clone());
            }
        }
        let mut added = Vec::new();
        for path in files {
            if self.len() >= MAX_TRACKS {
                log::warn!(
                    "library is full ({MAX_TRACKS} tracks); {} not added",
                    path.display()
                );
                break;
            }
            let id = TrackId::for_path(&path);
            let track = engine.open(&path).map(Arc::new).map_err(Arc::new);
            if let Err(e) = &track {
                log::warn!("{e}");
            }
            let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
            if !inner.entries.contains_key(&id) {
                inner.order.push(id.clone());
            }
            inner.entries.insert(
                id.clone(),
                Entry {
                    id: id.clone(),
                    path,
                    track,
                },
            );
            added.push(id);
        }
        added
    }

    /// The entry for `id`.
    pub fn get(&self, id: &TrackId) -> Option<Entry> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner.entries.get(id).cloned()
    }

    /// All entries in order.
    pub fn entries(&self) -> Vec<Entry> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner
            .order
            .iter()
            .filter_map(|id| inner.entries.get(id).cloned())
            .collect()
    }

    pub fn len(&self) -> usize {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .order
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn scan(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if depth > MAX_DEPTH || out.len() >= MAX_TRACKS {
        return;
    }
    let Ok(read) = std::fs::read_dir(dir) else {
        log::warn!("cannot read folder {}", dir.display());
        return;
    };
    let mut items: Vec<PathBuf> = read.filter_map(|e| e.ok().map(|e| e.path())).collect();
    items.sort();
    for p in items {
        if p.is_dir() {
            scan(&p, depth + 1, out);
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        {
            out.push(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_hex_and_parsing_refuses_everything_else() {
        let id = TrackId::for_path(Path::new("/music/a.flac"));
        assert_eq!(id.as_str().len(), 16);
        assert_eq!(TrackId::parse(id.as_str()), Some(id));
        for bad in [
            "",
            "..%2F..%2Fetc%2Fpasswd",
            "../../etc/passwd",
            "0123456789ABCDEF",
            "0123456789abcdeg",
            "0123456789abcdef0",
        ] {
            assert_eq!(TrackId::parse(bad), None, "{bad}");
        }
    }
}
