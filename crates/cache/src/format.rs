//! The on-disk entry format: a fixed header, the key, then the payload.
//!
//! ```text
//! offset  size  field (integers little-endian)
//!      0     8  magic  b"SNCFRAG\0"
//!      8     4  format version (u32, currently 1)
//!     12     4  key length K in bytes (u32)
//!     16     8  payload length N in bytes (u64)
//!     24     4  CRC-32 (IEEE) of the payload
//!     28     4  CRC-32 (IEEE) of bytes 0..28 followed by the key bytes
//!     32     K  key (UTF-8, exactly as given by the caller)
//!   32+K     N  payload
//! ```
//!
//! A file is valid only if its length is exactly `32 + K + N` and both
//! checksums match; anything else is corrupt.

use std::fmt;
use std::ops::Range;

/// Identifies a Sonance fragment cache entry.
pub(crate) const MAGIC: [u8; 8] = *b"SNCFRAG\0";
/// Bumped whenever the layout changes; older files are dropped on read.
pub(crate) const VERSION: u32 = 1;
/// Size of the fixed part of the header.
pub(crate) const HEADER_LEN: usize = 32;
/// Longest key accepted on disk (keys are expected to be short ids).
pub(crate) const MAX_KEY_LEN: usize = 64 * 1024;

/// Why a file could not be used as the entry for a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// Shorter than the fixed header (includes zero-length files).
    TooShort(usize),
    BadMagic,
    /// A different format version; not corruption, just unusable.
    Version(u32),
    BadHeaderChecksum,
    /// The file length disagrees with the lengths in the header (truncated or extended).
    LengthMismatch {
        expected: u64,
        actual: usize,
    },
    BadPayloadChecksum,
    /// A valid entry, but for another key whose hash collides with ours.
    OtherKey,
}

impl DecodeError {
    /// `true` for damage (counted in `disk_corrupt`), `false` for a valid but unusable file.
    pub(crate) fn is_corruption(self) -> bool {
        !matches!(self, DecodeError::Version(_) | DecodeError::OtherKey)
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::TooShort(n) => {
                write!(f, "file is only {n} bytes, shorter than the header")
            }
            DecodeError::BadMagic => f.write_str("not a Sonance cache entry (bad magic)"),
            DecodeError::Version(v) => write!(f, "unsupported format version {v}"),
            DecodeError::BadHeaderChecksum => f.write_str("header checksum mismatch"),
            DecodeError::LengthMismatch { expected, actual } => {
                write!(f, "file is {actual} bytes but its header says {expected}")
            }
            DecodeError::BadPayloadChecksum => f.write_str("payload checksum mismatch"),
            DecodeError::OtherKey => f.write_str("entry belongs to another key (hash collision)"),
        }
    }
}

/// Total file size of the entry for `key` with a payload of `payload_len` bytes.
pub(crate) fn encoded_len(key: &str, payload_len: usize) -> u64 {
    (HEADER_LEN + key.len()) as u64 + payload_len as u64
}

/// Header + key bytes; the payload is written right after them.
/// Returns `None` if the key is too long to be stored.
pub(crate) fn encode_header(key: &str, payload: &[u8]) -> Option<Vec<u8>> {
    if key.len() > MAX_KEY_LEN {
        return None;
    }
    let mut out = Vec::with_capacity(HEADER_LEN + key.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32(payload).to_le_bytes());
    let header_crc = Crc32::new().update(&out).update(key.as_bytes()).finish();
    out.extend_from_slice(&header_crc.to_le_bytes());
    out.extend_from_slice(key.as_bytes());
    Some(out)
}

/// Validates a whole entry file for `key` and returns where its payload lies.
pub(crate) fn decode(bytes: &[u8], key: &str) -> Result<Range<usize>, DecodeError> {
    let header = bytes
        .get(..HEADER_LEN)
        .ok_or(DecodeError::TooShort(bytes.len()))?;
    let u32_at = |at: usize| {
        u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    if header[..8] != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    let key_len = u32_at(12) as usize;
    let mut len_bytes = [0u8; 8];
    len_bytes.copy_from_slice(&header[16..24]);
    let payload_len = u64::from_le_bytes(len_bytes);
    let expected = (HEADER_LEN as u64)
        .saturating_add(key_len as u64)
        .saturating_add(payload_len);
    if key_len > MAX_KEY_LEN || expected != bytes.len() as u64 {
        // Truncated, extended, or a damaged length field.
        return Err(DecodeError::LengthMismatch {
            expected,
            actual: bytes.len(),
        });
    }
    let key_end = HEADER_LEN + key_len;
    let stored_key = &bytes[HEADER_LEN..key_end];
    let header_crc = Crc32::new()
        .update(&header[..28])
        .update(stored_key)
        .finish();
    if header_crc != u32_at(28) {
        return Err(DecodeError::BadHeaderChecksum);
    }
    // Checked after the header checksum, so a damaged version field counts as
    // corruption. (A future layout would likely fail the checks above: also
    // dropped, which is all an old reader can do with it.)
    let version = u32_at(8);
    if version != VERSION {
        return Err(DecodeError::Version(version));
    }
    if stored_key != key.as_bytes() {
        return Err(DecodeError::OtherKey);
    }
    let payload = key_end..bytes.len();
    if crc32(&bytes[payload.clone()]) != u32_at(24) {
        return Err(DecodeError::BadPayloadChecksum);
    }
    Ok(payload)
}

/// Stable 128-bit FNV-1a hash of the key, used to name entry files.
/// (std's hashers are not guaranteed stable across Rust releases.)
pub(crate) fn key_hash(key: &str) -> u128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    key.bytes()
        .fold(OFFSET, |h, b| (h ^ u128::from(b)).wrapping_mul(PRIME))
}

const CRC_TABLE: [u32; 256] = crc_table();

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

/// Incremental CRC-32 (IEEE 802.3, the zlib/PNG one).
#[derive(Clone, Copy)]
pub(crate) struct Crc32(u32);

impl Crc32 {
    pub(crate) fn new() -> Self {
        Crc32(!0)
    }

    pub(crate) fn update(mut self, data: &[u8]) -> Self {
        for &b in data {
            self.0 = CRC_TABLE[((self.0 ^ u32::from(b)) & 0xff) as usize] ^ (self.0 >> 8);
        }
        self
    }

    pub(crate) fn finish(self) -> u32 {
        !self.0
    }
}

pub(crate) fn crc32(data: &[u8]) -> u32 {
    Crc32::new().update(data).finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, payload: &[u8]) -> Vec<u8> {
        let mut bytes = encode_header(key, payload).unwrap();
        bytes.extend_from_slice(payload);
        bytes
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn key_hash_is_stable_fnv1a_128() {
        // Reference values of FNV-1a 128 (empty input = offset basis).
        assert_eq!(key_hash(""), 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d);
        assert_eq!(key_hash("a"), 0xd228_cb69_6f1a_8caf_7891_2b70_4e4a_8964);
        assert_ne!(key_hash("track-1#0"), key_hash("track-1#1"));
    }

    #[test]
    fn round_trip_and_length() {
        let bytes = entry("k", b"hello");
        assert_eq!(bytes.len() as u64, encoded_len("k", 5));
        let range = decode(&bytes, "k").unwrap();
        assert_eq!(&bytes[range], b"hello");
        let empty = entry("", b"");
        assert_eq!(decode(&empty, "").unwrap(), HEADER_LEN..HEADER_LEN);
    }

    #[test]
    fn other_version_with_valid_checksum_is_not_corruption() {
        let mut bytes = entry("k", b"payload");
        bytes[8..12].copy_from_slice(&(VERSION + 1).to_le_bytes());
        let crc = Crc32::new().update(&bytes[..28]).update(b"k").finish();
        bytes[28..32].copy_from_slice(&crc.to_le_bytes());
        let err = decode(&bytes, "k").unwrap_err();
        assert_eq!(err, DecodeError::Version(VERSION + 1));
        assert!(!err.is_corruption());
    }

    #[test]
    fn every_kind_of_damage_is_detected() {
        let good = entry("key", &[7u8; 100]);
        assert_eq!(decode(&[], "key"), Err(DecodeError::TooShort(0)));
        assert!(matches!(
            decode(&good[..good.len() - 1], "key"),
            Err(DecodeError::LengthMismatch { .. })
        ));
        let mut longer = good.clone();
        longer.push(0);
        assert!(matches!(
            decode(&longer, "key"),
            Err(DecodeError::LengthMismatch { .. })
        ));
        assert_eq!(decode(&good, "other"), Err(DecodeError::OtherKey));
        // Flip every single byte in turn: each flip must be caught.
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x01;
            let err = decode(&bad, "key").unwrap_err();
            assert!(err.is_corruption(), "byte {i}: {err}");
        }
    }
}
