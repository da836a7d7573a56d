//! Stable ids: tracks by canonical path, albums by (album artist, album title).

use std::path::Path;

use serde::{Serialize, Serializer};

/// FNV-1a 64 of `bytes`.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn is_hex_id(s: &str) -> bool {
    s.len() == 16
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A track id: 16 lowercase hex digits, the FNV-1a 64 hash of the file's canonical path.
///
/// The same file keeps its id across runs, and a request can never name a path: ids are
/// looked up in the library and nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrackId(String);

impl TrackId {
    /// The id of `path` (its canonical form when it exists).
    pub fn for_path(path: &Path) -> Self {
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        Self::for_canonical(&canonical)
    }

    /// The id of a path already in canonical form (no file system access).
    pub(crate) fn for_canonical(canonical: &Path) -> Self {
        TrackId(format!(
            "{:016x}",
            fnv1a(canonical.to_string_lossy().as_bytes())
        ))
    }

    /// Parse an id from a request; anything but 16 lowercase hex digits is `None`.
    pub fn parse(s: &str) -> Option<Self> {
        is_hex_id(s).then(|| TrackId(s.to_string()))
    }

    /// The 16 hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TrackId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for TrackId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// An album id: 16 lowercase hex digits, a hash of (album artist or artist, album title)
/// compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AlbumId(String);

impl AlbumId {
    /// The id of the album `title` by `artist` (the album artist, else the track artist).
    /// `None` when the track names no album.
    pub fn for_album(artist: Option<&str>, title: Option<&str>) -> Option<Self> {
        let title = title.map(str::trim).filter(|t| !t.is_empty())?;
        let artist = artist.map(str::trim).unwrap_or("");
        let key = format!("{}\u{1f}{}", artist.to_lowercase(), title.to_lowercase());
        Some(AlbumId(format!("{:016x}", fnv1a(key.as_bytes()))))
    }

    /// Parse an id from a request; anything but 16 lowercase hex digits is `None`.
    pub fn parse(s: &str) -> Option<Self> {
        is_hex_id(s).then(|| AlbumId(s.to_string()))
    }

    /// The 16 hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AlbumId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for AlbumId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
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

    #[test]
    fn track_ids_match_the_stream_crates_fnv1a_of_the_path() {
        // The value the in-memory library of crates/stream gave this path: ids stay valid.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in b"/music/does-not-exist/a.flac" {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        let id = TrackId::for_path(Path::new("/music/does-not-exist/a.flac"));
        assert_eq!(id.as_str(), format!("{h:016x}"));
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn album_ids_ignore_case_and_need_a_title() {
        let a = AlbumId::for_album(Some("Beyoncé"), Some("I Am... Sasha Fierce"));
        let b = AlbumId::for_album(Some("BEYONCÉ"), Some("i am... sasha fierce"));
        assert_eq!(a, b);
        assert_ne!(
            a,
            AlbumId::for_album(Some("Other"), Some("I Am... Sasha Fierce"))
        );
        assert_eq!(AlbumId::for_album(Some("x"), None), None);
        assert_eq!(AlbumId::for_album(Some("x"), Some("  ")), None);
    }
}
