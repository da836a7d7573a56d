//! Round trip through every common format: ffmpeg makes the source, the engine renders it,
//! and independent checkers read the result — matroska-demuxer parses init + each chunk on
//! its own, ffmpeg decodes each chunk without error, and the chunks decoded the way a browser
//! plays them (each kept only inside its window, by timestamps) add up to the source length.

// Tests fail loudly on any unexpected error: unwrap is the assertion.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::*;
use sonance_engine::{pipeline, Enhancement};

const CHUNK: f64 = 5.0;

fn ffmpeg(args: &[&str]) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg is installed (apt-get install ffmpeg; .ci/run does it)");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Seconds of the generated source (the ground truth: ffmpeg's own decoders disagree by the
/// encoder padding — its AAC decoder keeps the end padding an MP4 edit list removes).
const SOURCE_SECONDS: f64 = 12.34;

/// The original signal straight from the generator at 48 kHz stereo (no codec in between).
fn original(src: &str) -> Vec<f32> {
    let pcm = ffmpeg(&[
        "-f", "lavfi", "-i", src, "-ar", "48000", "-ac", "2", "-f", "f32le", "-",
    ]);
    pcm.chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Lag in frames (±`range`) that best aligns `a` with `b`, by mid-channel cross-correlation.
fn best_lag(a: &[f32], b: &[f32], from: usize, len: usize, range: i64) -> i64 {
    let mid = |x: &[f32], i: usize| f64::from(x[i * 2] + x[i * 2 + 1]);
    (-range..=range)
        .map(|lag| {
            let acc: f64 = (from..from + len)
                .map(|i| mid(a, i) * mid(b, (i as i64 + lag) as usize))
                .sum();
            (acc, lag)
        })
        .fold((f64::MIN, 0), |best, x| if x.0 > best.0 { x } else { best })
        .1
}

fn round_trip(name: &str, file: &str, encode: &[&str], expect_rate: u32, expect_channels: usize) {
    let lossy_noise = encode.contains(&"aac");
    let dir = scratch(name);
    let path = dir.join(file);
    let src = format!("anoisesrc=color=pink:amplitude=0.25:duration={SOURCE_SECONDS}:seed=5");
    let mut args = vec!["-f", "lavfi", "-i", src.as_str()];
    args.extend_from_slice(encode);
    let p = path.to_string_lossy().to_string();
    args.push(&p);
    ffmpeg(&args);

    let engine = engine(CHUNK, 2);
    let track = engine.open(&path).unwrap();
    assert_eq!(track.info().sample_rate, expect_rate, "{name}: rate");
    assert_eq!(track.info().channels, expect_channels, "{name}: channels");
    let (init, chunks) = render_all(&engine, &track, &Enhancement::bypass());
    assert_eq!(chunks.len(), 3);

    let mut decoded: Vec<f32> = Vec::new();
    for (n, (media, start, end)) in chunks.iter().enumerate() {
        // matroska-demuxer parses init + this chunk alone.
        let packets = demux(&init, media);
        assert!(!packets.is_empty());
        // ffmpeg decodes init + this chunk with no error, kept within its window.
        let f = dir.join(format!("c{n}.webm"));
        std::fs::write(&f, [init.as_slice(), media.as_slice()].concat()).unwrap();
        let fs = f.to_string_lossy().to_string();
        let trim = format!(
            "atrim=start={:.6}:end={:.6}",
            *start as f64 / 48_000.0,
            *end as f64 / 48_000.0
        );
        let pcm = ffmpeg(&["-copyts", "-i", &fs, "-af", &trim, "-f", "f32le", "-"]);
        assert_eq!(
            pcm.len() as u64,
            (end - start) * 8,
            "{name}: chunk {n} decodes to its window"
        );
        decoded.extend(
            pcm.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        );
    }
    // Length: the source duration at 48 kHz, exactly (we keep every window to the frame).
    let expect = (SOURCE_SECONDS * 48_000.0).round() as i64;
    let got = (decoded.len() / 2) as i64;
    assert!(
        (got - expect).abs() <= 1,
        "{name}: decoded {got} frames, source is {expect}"
    );
    // Time: no encoder delay or priming left — aligned with the original signal.
    let lag = best_lag(&decoded, &original(&src), 96_000, 9_600, 3_000);
    assert!(
        lag.abs() <= 1,
        "{name}: playback is shifted by {lag} frames against the original"
    );

    // The sound is the source's: coding error well below the signal.
    let mut reference = Vec::new();
    engine
        .continuous_pcm(&track, &Enhancement::bypass(), &mut |s| {
            reference.extend_from_slice(s);
            Ok(())
        })
        .unwrap();
    let (mut sig, mut err) = (0.0f64, 0.0f64);
    for (d, r) in decoded.iter().zip(&reference).skip(48_000) {
        sig += f64::from(*r) * f64::from(*r);
        err += f64::from(d - r) * f64::from(d - r);
    }
    let snr = 10.0 * (sig / err.max(1e-20)).log10();
    assert!(
        snr > 5.0,
        "{name}: decoded audio is not the source (SNR {snr:.1} dB)"
    );

    // Chunked PCM equals continuous PCM for this decoder too (seeks land exactly).
    for n in 0..track.plan().count() {
        let (a, b) = track.plan().frames(n).unwrap();
        let pcm = pipeline::chunk_pcm(
            track.source(),
            n,
            &sonance_engine::enhance::Chain::identity,
            2,
        )
        .unwrap();
        let peak = pcm
            .iter()
            .zip(&reference[a as usize * 2..b as usize * 2])
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        if lossy_noise {
            // AAC's perceptual noise substitution fills some bands from a random generator
            // whose state depends on where decoding started (the standard leaves the noise
            // unspecified). Those bands differ by an equally valid noise; all else is exact.
            let r = &reference[a as usize * 2..b as usize * 2];
            let (mut diff, mut sig) = (0.0f64, 0.0f64);
            for (x, y) in pcm.iter().zip(r) {
                diff += f64::from(x - y).powi(2);
                sig += f64::from(*y).powi(2);
            }
            let rel = 10.0 * (diff / sig).log10();
            assert!(
                rel < -35.0,
                "{name}: chunk {n} differs from continuous by {rel:.1} dB (more than PNS noise)"
            );
        } else {
            assert!(
                peak <= 3.2e-5,
                "{name}: chunk {n} differs from continuous by {peak} (> -90 dBFS)"
            );
        }
    }
}

#[test]
fn mp3_mono_44k() {
    round_trip(
        "mp3",
        "a.mp3",
        &[
            "-ar",
            "44100",
            "-ac",
            "1",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "128k",
        ],
        44_100,
        1,
    );
}

#[test]
fn flac_96k_24bit() {
    round_trip(
        "flac",
        "a.flac",
        &[
            "-ar",
            "96000",
            "-ac",
            "2",
            "-c:a",
            "flac",
            "-sample_fmt",
            "s32",
            "-bits_per_raw_sample",
            "24",
        ],
        96_000,
        2,
    );
}

#[test]
fn m4a_aac_with_moov_at_the_end() {
    round_trip(
        "m4a",
        "a.m4a",
        &["-ar", "44100", "-ac", "2", "-c:a", "aac", "-b:a", "192k"],
        44_100,
        2,
    );
    // The default mp4 muxer writes moov after mdat; make sure this file really is that case.
    let bytes = std::fs::read(scratch_path("m4a", "a.m4a")).unwrap_or_default();
    let pos = |tag: &[u8]| bytes.windows(4).position(|w| w == tag);
    assert!(pos(b"moov") > pos(b"mdat"), "moov should come after mdat");
}

fn scratch_path(name: &str, file: &str) -> std::path::PathBuf {
    std::env::temp_dir()
        .join(format!("sonance-test-{}-{name}", std::process::id()))
        .join(file)
}

#[test]
fn wav_5_1() {
    round_trip(
        "wav51",
        "a.wav",
        &["-ar", "48000", "-ac", "6", "-c:a", "pcm_s16le"],
        48_000,
        6,
    );
}

#[test]
fn wav_16bit_stereo() {
    round_trip(
        "wav",
        "b.wav",
        &["-ar", "44100", "-ac", "2", "-c:a", "pcm_s16le"],
        44_100,
        2,
    );
}

#[test]
fn ogg_vorbis() {
    round_trip(
        "ogg",
        "a.ogg",
        &["-ar", "44100", "-ac", "2", "-c:a", "libvorbis", "-q:a", "5"],
        44_100,
        2,
    );
}

#[test]
fn alac_in_m4a() {
    round_trip(
        "alac",
        "b.m4a",
        &["-ar", "44100", "-ac", "2", "-c:a", "alac"],
        44_100,
        2,
    );
}

#[test]
fn aiff() {
    round_trip(
        "aiff",
        "a.aiff",
        &["-ar", "22050", "-ac", "2", "-c:a", "pcm_s16be"],
        22_050,
        2,
    );
}
