//! Untrusted media never panics and never runs away: valid files of each format, damaged in
//! many deterministic ways (bytes flipped, runs zeroed, truncated, garbage spliced in), are
//! opened and rendered. Each must give audio or a clear error, without a panic, within a
//! bounded time.
// Tests fail loudly on any unexpected error: unwrap is the assertion.
#![allow(clippy::unwrap_used)]

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use sonance_engine::Enhancement;

const VARIANTS: u64 = 60;

fn make(dir: &std::path::Path, file: &str, codec: &[&str]) -> Vec<u8> {
    let path = dir.join(file);
    let ok = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-nostdin",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "anoisesrc=d=3:c=pink:a=0.3",
            "-ac",
            "2",
        ])
        .args(codec)
        .arg(&path)
        .status()
        .expect("ffmpeg is installed");
    assert!(ok.success());
    std::fs::read(path).unwrap()
}

fn damage(bytes: &[u8], seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    for _ in 0..8 {
        rng.next_f32(); // a small seed starts xorshift near zero: let it mix first
    }
    let mut pick = |n: usize| ((rng.next_f32() + 1.0) * 0.5 * n as f32) as usize % n.max(1);
    let mut b = bytes.to_vec();
    match seed % 5 {
        0 => {
            for _ in 0..1 + pick(40) {
                let i = pick(b.len());
                b[i] ^= 1 << pick(8);
            }
        }
        1 => {
            let at = pick(b.len());
            let len = pick(4096).min(b.len() - at);
            b[at..at + len].fill(0);
        }
        2 => b.truncate(pick(b.len())),
        3 => {
            let at = pick(b.len());
            let junk: Vec<u8> = (0..pick(2048)).map(|_| pick(256) as u8).collect();
            b.splice(at..at, junk);
        }
        _ => {
            // Damage the header region, where lengths and counts live.
            for _ in 0..1 + pick(8) {
                let i = pick(b.len().min(512));
                b[i] = pick(256) as u8;
            }
        }
    }
    b
}

#[test]
fn damaged_files_never_panic_or_hang() {
    let dir = scratch("hostile");
    let originals = [
        ("a.mp3", make(&dir, "a.mp3", &["-c:a", "libmp3lame"])),
        ("a.flac", make(&dir, "a.flac", &["-c:a", "flac"])),
        ("a.m4a", make(&dir, "a.m4a", &["-c:a", "aac"])),
        ("a.ogg", make(&dir, "a.ogg", &["-c:a", "libvorbis"])),
        ("a.wav", make(&dir, "a.wav", &["-c:a", "pcm_s16le"])),
    ];
    let engine = engine(1.0, 2);
    let (mut played, mut refused) = (0, 0);
    for (name, bytes) in &originals {
        for seed in 0..VARIANTS {
            let path = dir.join(format!("x-{seed}-{name}"));
            std::fs::write(&path, damage(bytes, seed)).unwrap();
            let started = Instant::now();
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                let track = engine.open(&path)?;
                for n in 0..track.plan().count().min(4) {
                    engine.render_chunk(&track, n, &Enhancement::bypass())?;
                }
                Ok::<_, sonance_engine::Error>(())
            }));
            let took = started.elapsed();
            match outcome {
                Err(_) => panic!("{name} variant {seed} panicked"),
                Ok(Ok(())) => played += 1,
                Ok(Err(e)) => {
                    refused += 1;
                    if std::env::var_os("HOSTILE_VERBOSE").is_some() {
                        eprintln!("{name} variant {seed} (kind {}): {e}", seed % 5);
                    }
                    assert!(!e.to_string().is_empty());
                }
            }
            assert!(
                took < Duration::from_secs(20),
                "{name} variant {seed} took {took:?}"
            );
            let _ = std::fs::remove_file(&path);
        }
    }
    eprintln!(
        "damaged files: {played} played (the decodable part), {refused} refused with an error"
    );
    assert!(
        played > 0 && refused > 0,
        "the damage should produce both outcomes"
    );
}
