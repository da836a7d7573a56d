//! What the stream crate's test binaries share: test audio and an API over a library of their
//! own.
#![allow(clippy::unwrap_used, dead_code)]

use std::path::Path;
use std::sync::Arc;

use sonance_engine::{Engine, EngineConfig};
use sonance_stream::{Catalog, Library};

/// A 16-bit stereo WAV of noise, `seconds` long at 44.1 kHz.
pub fn write_noise_wav(path: &Path, seconds: f64) {
    let frames = (seconds * 44_100.0) as u32;
    let mut seed = 0x2545_f491_u32;
    let mut data = Vec::with_capacity(frames as usize * 4);
    for _ in 0..frames * 2 {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        data.extend_from_slice(&((seed >> 18) as i16 - 8192).to_le_bytes());
    }
    let mut wav = Vec::new();
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&44_100u32.to_le_bytes());
    wav.extend_from_slice(&(44_100u32 * 4).to_le_bytes());
    wav.extend_from_slice(&4u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(data.len() as u32).to_le_bytes());
    wav.extend_from_slice(&data);
    std::fs::write(path, wav).unwrap();
}

/// An engine cutting `chunk_seconds` chunks over a library kept in `dir`.
pub fn catalog(dir: &Path, chunk_seconds: f64) -> Arc<Catalog> {
    let engine = Arc::new(
        Engine::new(EngineConfig {
            chunk_seconds,
            ..EngineConfig::default()
        })
        .unwrap(),
    );
    let library = Arc::new(Library::open(&dir.join("library.sqlite3")).unwrap());
    Arc::new(Catalog::new(engine, library))
}
