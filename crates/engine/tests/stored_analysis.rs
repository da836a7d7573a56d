//! A track's analysis made ahead of time (the library, at scan time) and given back to an
//! engine that never saw the track: the first chunk needs no analysis, and every byte is the
//! one a fresh analysis gives — for the stored choice and for one whose calibration was not
//! stored (its excerpts are rendered then).

// Tests fail loudly on any unexpected error: unwrap is the assertion.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use sonance_engine::{Enhancement, Preset};

#[test]
fn a_stored_analysis_renders_the_same_bytes_without_analysing() {
    let dir = scratch("stored-analysis");
    let path = dir.join("t.wav");
    // 40 s: long enough for excerpts (not analysed whole), a quiet and a loud part.
    let music = onset_music(40.0, 0.5);
    let noise = pink_noise(40.0, 5);
    let pcm: Vec<f32> = music
        .iter()
        .zip(&noise)
        .enumerate()
        .map(|(i, (m, n))| {
            let level = if i < 2 * 48_000 * 15 { 0.25 } else { 0.9 };
            level * (m + 0.3 * n)
        })
        .collect();
    write_wav(&path, 48_000, 2, &pcm);

    let adaptive = Enhancement::new(Preset::Adaptive, 1.0).unwrap();
    let warm = Enhancement::new(Preset::Warm, 0.5).unwrap();

    // What a fresh engine renders, analysing on its own.
    let fresh = engine(10.0, 2);
    let track = fresh.open(&path).unwrap();
    let want: Vec<Vec<u8>> = [0, 2]
        .iter()
        .map(|&n| fresh.chunk(&track, n, &adaptive).unwrap().to_vec())
        .collect();
    let want_warm = fresh.chunk(&track, 1, &warm).unwrap().to_vec();

    // The library's way: analysed by another engine, kept as text.
    let stored = engine(10.0, 2).analyse_for_storage(&track).unwrap().text;

    let primed = engine(10.0, 2);
    let track = primed.open(&path).unwrap();
    assert!(primed.prime_analysis(&track, &stored));
    // Already known: a second priming changes nothing.
    assert!(!primed.prime_analysis(&track, &stored));
    let analysis = primed.analysis(&track).unwrap();
    assert!(!analysis.has_excerpts(), "nothing is rendered to prime");
    for (&n, want) in [0u64, 2].iter().zip(&want) {
        let got = primed.chunk(&track, n, &adaptive).unwrap();
        assert!(
            got[..] == want[..],
            "chunk {n} differs from a fresh analysis's"
        );
    }
    assert!(
        !analysis.has_excerpts(),
        "the stored choice renders without the excerpts"
    );
    // A choice whose calibration was not stored renders the excerpts then, and agrees too.
    let got = primed.chunk(&track, 1, &warm).unwrap();
    assert!(got[..] == want_warm[..], "warm differs");
    assert!(analysis.has_excerpts());

    // Damaged or foreign text is refused; the engine analyses on its own.
    let other = engine(10.0, 2);
    let track = other.open(&path).unwrap();
    assert!(!other.prime_analysis(&track, "not an analysis"));
    assert!(other.chunk(&track, 0, &adaptive).unwrap()[..] == want[0][..]);
    let _ = std::fs::remove_dir_all(&dir);
}
