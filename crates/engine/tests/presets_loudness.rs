//! Loudness and true peak as played: each preset renders generated program material through
//! the whole engine (analysis, chunks, Opus, WebM), the chunks are decoded the way a browser
//! plays them, and the decoded audio is measured with the `ebur128` crate and, independently,
//! with `ffmpeg -af ebur128=peak=true`. Integrated loudness must land within ±0.5 LU of the
//! preset's target and the true peak at or below −1 dBTP.

// Tests fail loudly on any unexpected error: unwrap is the assertion.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use sonance_engine::{Enhancement, Preset};

const SECONDS: f64 = 30.0;

/// The presets and the loudness each plays at (`original-matched` matches `adaptive`).
const TARGETS: [(Preset, f64); 6] = [
    (Preset::Adaptive, -14.0),
    (Preset::Gentle, -16.0),
    (Preset::Warm, -14.0),
    (Preset::Bright, -14.0),
    (Preset::Punchy, -13.0),
    (Preset::OriginalMatched, -14.0),
];

fn check_material(name: &str, samples: &[f32]) {
    let dir = scratch(&format!("loud-{name}"));
    let path = dir.join(format!("{name}.wav"));
    write_wav(&path, 48_000, 2, samples);
    let (src_i, src_tp) = ebur128_measure(samples);
    eprintln!("{name}: source {src_i:.2} LUFS, {src_tp:+.2} dBTP");
    let engine = engine(10.0, 2);
    let track = engine.open(&path).unwrap();
    let ffmpeg = have_ffmpeg();
    let mut failures = Vec::new();
    for (preset, target) in TARGETS {
        let enh = Enhancement::new(preset, 1.0).unwrap();
        let (init, chunks) = render_all(&engine, &track, &enh);
        let decoded = play(&init, &chunks, Player::ChromiumLike);
        assert_eq!(
            decoded.len(),
            samples.len(),
            "{name} {preset}: decoded length"
        );
        let (i, tp) = ebur128_measure(&decoded);
        let mut line = format!(
            "{name:>12} {:<17} target {target:.0}: ebur128 {i:6.2} LUFS {tp:+.2} dBTP",
            preset.name()
        );
        let mut readings = vec![("ebur128", i, tp)];
        if ffmpeg {
            let wav = dir.join(format!("{}-decoded.wav", preset.name()));
            write_wav(&wav, 48_000, 2, &decoded);
            let (fi, ftp) = ffmpeg_ebur128(&wav);
            line += &format!(" | ffmpeg {fi:6.1} LUFS {ftp:+.1} dBTP");
            readings.push(("ffmpeg", fi, ftp));
        }
        eprintln!("{line}");
        for (meter, i, tp) in readings {
            // ffmpeg prints one decimal: allow for its rounding.
            let slack = if meter == "ffmpeg" { 0.05 } else { 0.0 };
            if (i - target).abs() > 0.5 + slack {
                failures.push(format!(
                    "{name} {preset}: {meter} reads {i:.2} LUFS, target {target}"
                ));
            }
            if tp > -1.0 + slack {
                failures.push(format!(
                    "{name} {preset}: {meter} reads a true peak of {tp:+.2} dBTP"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn pink_noise_plays_at_each_presets_loudness_under_minus_1_dbtp() {
    check_material("pink", &pink_noise(SECONDS, 11));
}

#[test]
fn drum_bass_pad_plays_at_each_presets_loudness_under_minus_1_dbtp() {
    check_material("drum-bass-pad", &onset_music(SECONDS, 0.5));
}

#[test]
fn quiet_dynamic_piece_plays_at_each_presets_loudness_under_minus_1_dbtp() {
    check_material("quiet-dynamic", &quiet_dynamic(SECONDS + 10.0));
}

#[test]
fn brickwalled_master_plays_at_each_presets_loudness_under_minus_1_dbtp() {
    check_material("brickwalled", &brickwalled(SECONDS));
}

/// Album mode: a quiet interlude between two loud songs of one album keeps its distance to
/// them (within 1 LU of the source's) as played; track mode brings each to the target.
#[test]
fn album_mode_keeps_an_albums_loudness_differences() {
    let dir = scratch("loud-album");
    let engine = engine(10.0, 2);
    let songs = [
        ("loud-a", pink_noise(12.0, 21), 1.0f32),
        ("quiet", quiet_dynamic(12.0), 1.0),
        ("loud-b", onset_music(12.0, 0.5), 1.0),
    ];
    let mut tracks = Vec::new();
    for (name, samples, gain) in &songs {
        let samples: Vec<f32> = samples.iter().map(|s| s * gain).collect();
        let path = dir.join(format!("{name}.wav"));
        write_wav(&path, 48_000, 2, &samples);
        let (src, _) = ebur128_measure(&samples);
        tracks.push((engine.open(&path).unwrap(), src));
    }
    let album = sonance_engine::album_loudness(
        &tracks
            .iter()
            .map(|(t, _)| {
                let a = engine.analysis(t).unwrap();
                (a.stats().loudness_lufs, t.duration_s())
            })
            .collect::<Vec<_>>(),
    );
    let played = |enh: &Enhancement, track| {
        let (init, chunks) = render_all(&engine, track, enh);
        ebur128_measure(&play(&init, &chunks, Player::ChromiumLike)).0
    };
    let track_mode = Enhancement::new(Preset::Adaptive, 1.0).unwrap();
    let album_mode = track_mode.with_album_loudness(album).unwrap();
    let mut out = Vec::new();
    for (track, src) in &tracks {
        let (t, a) = (played(&track_mode, track), played(&album_mode, track));
        eprintln!(
            "source {src:6.2} LUFS → track mode {t:6.2}, album mode {a:6.2} (album {album:.2})"
        );
        out.push((*src, t, a));
    }
    let (loud, quiet) = (out[0], out[1]);
    let (src_diff, album_diff) = (quiet.0 - loud.0, quiet.2 - loud.2);
    assert!(
        src_diff < -6.0,
        "the interlude is quiet in the source ({src_diff:.1} LU)"
    );
    assert!(
        (album_diff - src_diff).abs() <= 1.0,
        "album mode: the interlude sits {album_diff:.2} LU from the song, the source {src_diff:.2}"
    );
    assert!(
        (out[2].2 - out[2].0 - (loud.2 - loud.0)).abs() <= 1.0,
        "album mode: both songs move by the same gain"
    );
    for (src, t, _) in &out {
        assert!(
            (t + 14.0).abs() <= 0.5,
            "track mode: {src:.1} LUFS plays at {t:.2}, not −14"
        );
    }
}
