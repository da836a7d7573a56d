//! Hostile input, case by case (issue 12): files that are empty, not audio, cut, damaged,
//! without audio, with absurd headers, at the edges of what is accepted. Every case is made
//! here (ffmpeg `-f lavfi` sources or bytes written by hand), opened, and chunk 0, the last
//! chunk and an `at=` delivery are rendered with the adaptive preset. Each must give valid
//! audio or an error naming the file and the reason; never a panic, never a hang (each case
//! runs on its own thread with a deadline). The absurd headers also run in a child process
//! that reports its peak memory (`VmHWM`).
//!
//! `HOSTILE_VERBOSE=1` prints the matrix (case → outcome).
// Tests fail loudly on any unexpected error: unwrap is the assertion.
#![allow(clippy::unwrap_used)]

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use sonance_engine::{Engine, Enhancement, ErrorKind, Preset};

/// What a case must do.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Open and render.
    Plays,
    /// Fail with an error (kind Undecodable) whose message contains this.
    Fails(&'static str),
    /// Either, as long as it is clean (damaged files: what decodes plays).
    Either,
}

/// What a case did.
#[derive(Debug)]
enum Outcome {
    Played { seconds: f64, chunks: u64 },
    Failed { kind: ErrorKind, message: String },
}

const DEADLINE: Duration = Duration::from_secs(20);

fn ffmpeg(args: &[&str], out: &Path) {
    let ok = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-y"])
        .args(args)
        .arg(out)
        .status()
        .expect("ffmpeg is installed");
    assert!(ok.success(), "ffmpeg {args:?} failed");
}

fn adaptive() -> Enhancement {
    Enhancement::new(Preset::Adaptive, 1.0).unwrap()
}

/// Open `path`, render chunk 0, the last chunk and chunk 0 delivered from its middle
/// (`at=`); check the fragments demux to Opus packets.
fn exercise(engine: &Engine, path: &Path) -> Result<Outcome, sonance_engine::Error> {
    let track = engine.open(path)?;
    let enh = adaptive();
    let init = engine.init_segment(&track);
    let last = track.plan().count() - 1;
    for n in [0, last] {
        let media = engine.render_chunk(&track, n, &enh)?;
        assert!(!demux(&init, &media).is_empty(), "chunk {n} has no packets");
    }
    let (a, b) = track.chunk_span_s(0)?;
    let media = engine.chunk_progressive(&track, 0, &enh, Some((a + b) / 2.0), &mut |_| {
        std::ops::ControlFlow::Continue(())
    })?;
    assert!(!demux(&init, &media).is_empty());
    Ok(Outcome::Played {
        seconds: track.duration_s(),
        chunks: track.plan().count(),
    })
}

/// Run one case on its own thread: no panic, done before the deadline.
fn run_case(name: &str, path: &Path) -> (Outcome, Duration) {
    let (tx, rx) = mpsc::channel();
    let path = path.to_path_buf();
    let label = name.to_string();
    std::thread::spawn(move || {
        let engine = engine(10.0, 2);
        let started = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| exercise(&engine, &path)));
        let _ = tx.send((result, started.elapsed()));
    });
    match rx.recv_timeout(DEADLINE) {
        Ok((Ok(Ok(outcome)), took)) => (outcome, took),
        Ok((Ok(Err(e)), took)) => (
            Outcome::Failed {
                kind: e.kind(),
                message: e.to_string(),
            },
            took,
        ),
        Ok((Err(_), _)) => panic!("{label} panicked"),
        Err(_) => panic!("{label} did not finish within {DEADLINE:?}"),
    }
}

fn check(name: &str, path: &Path, expect: Expect, report: &mut Vec<String>) -> Outcome {
    let (outcome, took) = run_case(name, path);
    let line = match &outcome {
        Outcome::Played { seconds, chunks } => {
            format!("{name:<28} plays ({seconds:.2} s, {chunks} chunks) in {took:.2?}")
        }
        Outcome::Failed { kind, message } => {
            format!("{name:<28} {kind:?}: {message} ({took:.2?})")
        }
    };
    if std::env::var_os("HOSTILE_VERBOSE").is_some() {
        eprintln!("{line}");
    }
    report.push(line.clone());
    match (&outcome, expect) {
        (Outcome::Played { .. }, Expect::Plays | Expect::Either) => {}
        (Outcome::Failed { kind, message }, Expect::Fails(why)) => {
            assert_eq!(*kind, ErrorKind::Undecodable, "{line}");
            assert!(message.contains(why), "{line}: expected it to say '{why}'");
            assert!(
                message.contains(&*path.file_name().unwrap().to_string_lossy()),
                "{line}: the message should name the file"
            );
        }
        (Outcome::Failed { message, .. }, Expect::Either) => {
            assert!(
                message.contains(&*path.file_name().unwrap().to_string_lossy()),
                "{line}: the message should name the file"
            );
        }
        _ => panic!("{line}: expected {expect:?}"),
    }
    outcome
}

// ---- hand-made bytes ----

/// A 16-bit PCM WAV header with any fields, followed by `data`.
fn wav_bytes(
    format: u16,
    channels: u16,
    rate: u32,
    bits: u16,
    data_len: u32,
    data: &[u8],
) -> Vec<u8> {
    let block = channels.wrapping_mul(bits / 8);
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36u32.saturating_add(data_len)).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&format.to_le_bytes());
    b.extend_from_slice(&channels.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&rate.wrapping_mul(u32::from(block)).to_le_bytes());
    b.extend_from_slice(&block.to_le_bytes());
    b.extend_from_slice(&bits.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    b.extend_from_slice(data);
    b
}

/// A 60-byte 16-bit mono WAV at `rate` (the file from issue 12).
fn tiny_wav(rate: u32) -> Vec<u8> {
    wav_bytes(1, 1, rate, 16, 16, &[0x10; 16])
}

/// A CAF of 16-bit mono PCM whose data chunk claims 2^40 frames (holds 4 096).
fn caf_claiming_2_40_frames() -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(b"caff");
    b.extend_from_slice(&1u16.to_be_bytes());
    b.extend_from_slice(&0u16.to_be_bytes());
    b.extend_from_slice(b"desc");
    b.extend_from_slice(&32i64.to_be_bytes());
    b.extend_from_slice(&44_100f64.to_be_bytes());
    b.extend_from_slice(b"lpcm");
    b.extend_from_slice(&0u32.to_be_bytes()); // big-endian integer
    b.extend_from_slice(&2u32.to_be_bytes()); // bytes per packet
    b.extend_from_slice(&1u32.to_be_bytes()); // frames per packet
    b.extend_from_slice(&1u32.to_be_bytes()); // channels
    b.extend_from_slice(&16u32.to_be_bytes()); // bits
    b.extend_from_slice(b"data");
    b.extend_from_slice(&((1i64 << 41) + 4).to_be_bytes());
    b.extend_from_slice(&0u32.to_be_bytes()); // edit count
    b.extend((0..8192).map(|i| (i * 7 % 251) as u8));
    b
}

/// A float WAV full of NaN, infinities and absurd magnitudes between sine samples.
fn nan_wav(path: &Path) {
    let mut s = sine(2.0, 440.0, 0.5);
    for (i, v) in s.iter_mut().enumerate() {
        match i % 97 {
            0 => *v = f32::NAN,
            1 => *v = f32::INFINITY,
            2 => *v = f32::NEG_INFINITY,
            3 => *v = 1e30,
            _ => {}
        }
    }
    write_wav(path, 48_000, 2, &s);
}

/// A 10-minute mono 8 kHz FLAC whose STREAMINFO says total_samples = 0 (unknown).
fn flac_unknown_length(path: &Path) {
    flac_unknown_length_of(path, 600, "1");
}

/// A mono 8 kHz FLAC sine of `seconds` at `volume`, total_samples = 0 in its STREAMINFO.
fn flac_unknown_length_of(path: &Path, seconds: u32, volume: &str) {
    let source = format!("sine=f=330:r=8000:d={seconds}");
    let volume = format!("volume={volume}");
    ffmpeg(
        &[
            "-f", "lavfi", "-i", &source, "-af", &volume, "-ac", "1", "-c:a", "flac",
        ],
        path,
    );
    let mut b = std::fs::read(path).unwrap();
    assert_eq!(&b[..4], b"fLaC");
    assert_eq!(b[4] & 0x7f, 0, "STREAMINFO first");
    // STREAMINFO body at 8: … 20 bits rate, 3 channels, 5 bps, 36 bits total samples.
    b[21] &= 0xf0;
    b[22..26].fill(0);
    std::fs::write(path, b).unwrap();
}

/// A 2-second 8 kHz FLAC whose STREAMINFO claims 2^36 − 1 frames (99 days).
fn flac_claiming_2_36_frames(dir: &Path) -> Vec<u8> {
    let path = dir.join("short.flac");
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=f=330:r=8000:d=2",
            "-ac",
            "1",
            "-c:a",
            "flac",
        ],
        &path,
    );
    let mut b = std::fs::read(path).unwrap();
    b[21] |= 0x0f;
    b[22..26].fill(0xff);
    b
}

/// An MP3 (8 s) whose Xing/Info header claims 5.5 million MPEG frames (40 hours).
fn xing_claims_40_hours(mp3: &[u8]) -> Vec<u8> {
    let mut b = mp3.to_vec();
    let at = b
        .windows(4)
        .position(|w| w == b"Xing" || w == b"Info")
        .expect("ffmpeg writes a Xing/Info header");
    b[at + 7] |= 1; // the frame count is present
    b[at + 8..at + 12].copy_from_slice(&5_500_000u32.to_be_bytes());
    b
}

/// `bytes` cut where `moov` starts (an M4A whose index never arrived).
fn without_moov(bytes: &[u8]) -> Vec<u8> {
    let at = bytes.windows(4).rposition(|w| w == b"moov").unwrap();
    bytes[..at - 4].to_vec()
}

fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| (rng.next_f32() * 127.0 + 128.0) as u8)
        .collect()
}

/// A minimal ZIP (one stored file).
fn zip_bytes() -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(b"PK\x03\x04\x0a\x00\x00\x00\x00\x00");
    b.extend_from_slice(&[0; 16]);
    b.extend_from_slice(&5u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(b"a.txt");
    b.extend_from_slice(b"PK\x05\x06");
    b.extend_from_slice(&[0; 18]);
    b
}

struct Files {
    dir: PathBuf,
}

impl Files {
    fn put(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
    fn lavfi(&self, name: &str, args: &[&str]) -> PathBuf {
        let p = self.dir.join(name);
        ffmpeg(args, &p);
        p
    }
}

/// The matrix.
#[test]
fn hostile_inputs_play_or_fail_clearly() {
    let f = Files {
        dir: scratch("hostile-matrix"),
    };
    let mut report = Vec::new();
    let mut case =
        |name: &str, path: PathBuf, expect: Expect| check(name, &path, expect, &mut report);

    // Not audio at all.
    case(
        "zero bytes .flac",
        f.put("empty.flac", &[]),
        Expect::Fails("empty"),
    );
    for ext in ["mp3", "flac", "m4a", "ogg", "wav", "opus"] {
        let name = format!("random.{ext}");
        case(
            &name,
            f.put(&name, &random_bytes(40_000, 7)),
            Expect::Fails(""),
        );
    }
    let png = f.lavfi(
        "img.png",
        &["-f", "lavfi", "-i", "color=c=red:s=16x16", "-frames:v", "1"],
    );
    let png = std::fs::read(png).unwrap();
    case(
        "PNG renamed .flac",
        f.put("png.flac", &png),
        Expect::Fails(""),
    );
    case(
        "PNG renamed .mp3",
        f.put("png.mp3", &png),
        Expect::Fails(""),
    );
    case(
        "ZIP renamed .flac",
        f.put("zip.flac", &zip_bytes()),
        Expect::Fails(""),
    );

    // Cut and damaged.
    let noise = "anoisesrc=d=8:c=pink:a=0.3";
    let flac = std::fs::read(f.lavfi(
        "n.flac",
        &["-f", "lavfi", "-i", noise, "-ac", "2", "-c:a", "flac"],
    ))
    .unwrap();
    let mp3 = std::fs::read(f.lavfi(
        "n.mp3",
        &["-f", "lavfi", "-i", noise, "-ac", "2", "-c:a", "libmp3lame"],
    ))
    .unwrap();
    let m4a = std::fs::read(f.lavfi(
        "n.m4a",
        &["-f", "lavfi", "-i", noise, "-ac", "2", "-c:a", "aac"],
    ))
    .unwrap();
    for (ext, bytes) in [("flac", &flac), ("mp3", &mp3), ("m4a", &m4a)] {
        case(
            &format!("{ext} cut in header"),
            f.put(&format!("cut-h.{ext}"), &bytes[..30]),
            Expect::Fails(""),
        );
        case(
            &format!("{ext} cut in 1st frame"),
            f.put(
                &format!("cut-f.{ext}"),
                &bytes[..bytes.len().min(8300).min(bytes.len() / 4)],
            ),
            Expect::Either,
        );
        case(
            &format!("{ext} cut mid-file"),
            f.put(&format!("cut-m.{ext}"), &bytes[..bytes.len() / 2]),
            Expect::Either,
        );
        let mut flipped = bytes.clone();
        let mid = flipped.len() / 2;
        for b in &mut flipped[mid..mid + 2000] {
            *b ^= 0x5a;
        }
        case(
            &format!("{ext} bytes flipped mid"),
            f.put(&format!("flip.{ext}"), &flipped),
            Expect::Either,
        );
    }
    let mp3_40h = f.put("xing-40h.mp3", &xing_claims_40_hours(&mp3));
    let outcome = case("mp3 Xing claims 40 h", mp3_40h, Expect::Plays);
    assert!(
        matches!(outcome, Outcome::Played { seconds, .. } if (seconds - 8.0).abs() < 0.1),
        "{outcome:?}"
    );
    case(
        "m4a moov at end",
        f.put("moov-end.m4a", &m4a),
        Expect::Plays,
    );
    case(
        "m4a moov missing",
        f.put("no-moov.m4a", &without_moov(&m4a)),
        Expect::Fails(""),
    );

    // Video.
    let video = [
        "-f",
        "lavfi",
        "-i",
        "testsrc=d=3:s=64x48:r=10",
        "-f",
        "lavfi",
        "-i",
        "sine=d=3",
    ];
    let mkv = f.lavfi(
        "av.mkv",
        &[&video[..], &["-c:v", "mpeg4", "-c:a", "flac"]].concat(),
    );
    case("mkv video + audio", mkv, Expect::Plays);
    let mp4 = f.lavfi(
        "av.mp4",
        &[&video[..], &["-c:v", "mpeg4", "-c:a", "aac"]].concat(),
    );
    case("mp4 video + audio", mp4, Expect::Plays);
    let mkv = f.lavfi("v.mkv", &[&video[..4], &["-c:v", "mpeg4"]].concat());
    case("mkv video only", mkv, Expect::Fails(""));
    let mp4 = f.lavfi("v.mp4", &[&video[..4], &["-c:v", "mpeg4"]].concat());
    case("mp4 video only", mp4, Expect::Fails(""));

    // Absurd headers.
    case(
        "wav 0 channels",
        f.put("ch0.wav", &wav_bytes(1, 0, 44_100, 16, 16, &[0; 16])),
        Expect::Fails("channel"),
    );
    case(
        "wav 1 Hz",
        f.put("1hz.wav", &tiny_wav(1)),
        Expect::Fails("sample rate of 1 Hz"),
    );
    case(
        "wav 7 Hz",
        f.put("7hz.wav", &tiny_wav(7)),
        Expect::Fails("sample rate of 7 Hz"),
    );
    case(
        "wav 10^9 Hz",
        f.put("1ghz.wav", &tiny_wav(1_000_000_000)),
        Expect::Fails("sample rate"),
    );
    case(
        "wav claims 2^32 frames",
        f.put(
            "huge.wav",
            &wav_bytes(1, 1, 8_000, 8, u32::MAX - 64, &[0x80; 4000]),
        ),
        Expect::Plays,
    );
    case(
        "caf claims 2^40 frames",
        f.put("huge.caf", &caf_claiming_2_40_frames()),
        Expect::Either,
    );
    case(
        "flac claims 2^36 frames",
        f.put("huge.flac", &flac_claiming_2_36_frames(&f.dir)),
        Expect::Plays,
    );
    let wav33 = f.dir.join("ch33.wav");
    write_wav(&wav33, 48_000, 33, &vec![0.1; 33 * 4800]);
    case("wav 33 channels", wav33, Expect::Fails("channel"));

    // Edges that must play.
    case(
        "flac 8 kHz",
        f.lavfi(
            "8k.flac",
            &["-f", "lavfi", "-i", "sine=f=440:r=8000:d=3", "-c:a", "flac"],
        ),
        Expect::Plays,
    );
    case(
        "wav 384 kHz",
        f.lavfi(
            "384k.wav",
            &[
                "-f",
                "lavfi",
                "-i",
                "sine=f=440:r=384000:d=2",
                "-c:a",
                "pcm_s16le",
            ],
        ),
        Expect::Plays,
    );
    case(
        "wav 768 kHz",
        f.lavfi(
            "768k.wav",
            &[
                "-f",
                "lavfi",
                "-i",
                "sine=f=440:r=768000:d=2",
                "-c:a",
                "pcm_s16le",
            ],
        ),
        Expect::Plays,
    );
    let odd = f.dir.join("odd.wav");
    write_wav(&odd, 767_999, 1, &sine(16.0, 440.0, 0.5)[..767_999]);
    case(
        "wav 767 999 Hz (coprime)",
        odd,
        Expect::Fails("too little in common"),
    );
    let odd = f.dir.join("odd44.wav");
    write_wav(&odd, 44_101, 1, &sine(2.0, 440.0, 0.5)[..88_202]);
    case("wav 44 101 Hz (coprime)", odd, Expect::Plays);
    case(
        "flac 5.1",
        f.lavfi(
            "51.flac",
            &[
                "-f",
                "lavfi",
                "-i",
                "sine=f=440:d=3",
                "-af",
                "pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0",
                "-c:a",
                "flac",
            ],
        ),
        Expect::Plays,
    );
    let wav16 = f.dir.join("ch16.wav");
    write_wav(&wav16, 48_000, 16, &vec![0.1; 16 * 48_000 * 2]);
    case("wav 16 channels", wav16, Expect::Plays);
    let short = f.dir.join("10ms.wav");
    write_wav(&short, 48_000, 2, &sine(0.01, 440.0, 0.5));
    case("wav 10 ms", short, Expect::Plays);
    let nan = f.dir.join("nan.wav");
    nan_wav(&nan);
    case("float wav NaN/Inf/1e30", nan.clone(), Expect::Plays);

    // The edge rates play correctly: a 440 Hz sine comes out at 440 Hz (bypass, 48 kHz).
    let engine = engine(10.0, 2);
    for (name, seconds) in [("8k.flac", 3.0), ("384k.wav", 2.0), ("768k.wav", 2.0)] {
        let track = engine.open(&f.dir.join(name)).unwrap();
        assert!((track.duration_s() - seconds).abs() < 0.01, "{name}");
        let pcm = engine.chunk_pcm(&track, 0, &Enhancement::bypass()).unwrap();
        let left: Vec<f32> = pcm.chunks_exact(2).map(|f| f[0]).collect();
        let second = &left[24_000..72_000];
        let crossings = second
            .windows(2)
            .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
            .count();
        let peak = second.iter().fold(0f32, |m, s| m.max(s.abs()));
        assert!(
            (878..=882).contains(&crossings),
            "{name}: {crossings} zero crossings"
        );
        assert!(peak > 0.1, "{name}: peak {peak}");
    }

    // NaN and infinities never reach the output.
    let track = engine.open(&nan).unwrap();
    let pcm = engine.chunk_pcm(&track, 0, &adaptive()).unwrap();
    assert!(pcm.iter().all(|s| s.is_finite() && s.abs() <= 1.0));
    assert!(pcm.iter().any(|s| s.abs() > 0.01), "the sine plays");

    // Unknown length: found once at open, then chunks render without decoding it all again.
    let flac0 = f.dir.join("len0.flac");
    flac_unknown_length(&flac0);
    let started = Instant::now();
    let track = engine.open(&flac0).unwrap();
    let opened = started.elapsed();
    assert!(
        (track.duration_s() - 600.0).abs() < 0.1,
        "{}",
        track.duration_s()
    );
    let outcome = check(
        "flac total_samples = 0, 10 min",
        &flac0,
        Expect::Plays,
        &mut report,
    );
    eprintln!("flac with unknown length: opened in {opened:.2?}");
    assert!(matches!(outcome, Outcome::Played { chunks: 60, .. }));
    // The same file with its length in the header: rendering costs the same, so no render
    // (span, analysis excerpt) measured the whole file again.
    let known = f.dir.join("len-known.flac");
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=f=330:r=8000:d=600",
            "-ac",
            "1",
            "-c:a",
            "flac",
        ],
        &known,
    );
    let (_, took_known) = run_case("known length", &known);
    let (_, took_unknown) = run_case("unknown length", &flac0);
    eprintln!(
        "10 min FLAC, open + 3 renders: length known {took_known:.2?}, unknown {took_unknown:.2?}"
    );
    assert!(
        took_unknown < took_known * 2 + Duration::from_millis(300),
        "unknown length {took_unknown:?}, known {took_known:?}"
    );

    eprintln!("{}", report.join("\n"));
}

/// Found by fuzzing (`probe_decode`, 2026-12-07): a WAV `fmt ` chunk with 65 023 channels of
/// 16 bits overflows symphonia's `u16` block-align product (a panic where overflow checks
/// are on; the engine turns such panics into errors). Must fail cleanly.
#[test]
fn fuzz_wav_channel_count_overflows_block_align() {
    let f = Files {
        dir: scratch("hostile-fuzz-1"),
    };
    let path = f.put(
        "fuzz1.wav",
        &wav_bytes(1, 65_023, 22_050, 16, 64, &[0x5a; 64]),
    );
    let mut report = Vec::new();
    check(
        "wav 65 023 channels",
        &path,
        Expect::Fails("channel"),
        &mut report,
    );
}

/// The 1 Hz WAV of issue 12 fails at once.
#[test]
fn one_hertz_wav_fails_within_a_second() {
    let f = Files {
        dir: scratch("hostile-1hz"),
    };
    let path = f.put("1hz.wav", &tiny_wav(1));
    let engine = engine(30.0, 2);
    let started = Instant::now();
    let err = engine.open(&path).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(err.kind(), ErrorKind::Undecodable);
    let msg = err.to_string();
    assert!(
        msg.contains("1hz.wav") && msg.contains("sample rate of 1 Hz"),
        "{msg}"
    );
}

// ---- peak memory, in a child process per case ----

const CHILD_CASE: &str = "SONANCE_HOSTILE_CASE";
const CHILD_FILE: &str = "SONANCE_HOSTILE_FILE";
/// Set: the child renders only the middle chunk.
const CHILD_MIDDLE: &str = "SONANCE_HOSTILE_MIDDLE";

/// Open `path` and render its middle chunk (adaptive).
fn middle_chunk(engine: &Engine, path: &Path) -> Result<Outcome, sonance_engine::Error> {
    let track = engine.open(path)?;
    let n = track.plan().count() / 2;
    let media = engine.render_chunk(&track, n, &adaptive())?;
    assert!(!demux(&engine.init_segment(&track), &media).is_empty());
    Ok(Outcome::Played {
        seconds: track.duration_s(),
        chunks: track.plan().count(),
    })
}

fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Not a test on its own: the child end of [`absurd_headers_stay_small`].
#[test]
fn memory_child() {
    let (Some(_), Some(file)) = (std::env::var_os(CHILD_CASE), std::env::var_os(CHILD_FILE)) else {
        return;
    };
    let engine = engine(30.0, 2);
    let outcome = if std::env::var_os(CHILD_MIDDLE).is_some() {
        middle_chunk(&engine, Path::new(&file))
    } else {
        exercise(&engine, Path::new(&file))
    };
    println!(
        "CHILD outcome={} VmHWM_kB={}",
        match outcome {
            Ok(_) => "plays".to_string(),
            Err(e) => e.to_string().replace('\n', " "),
        },
        peak_rss_kb()
    );
}

fn child_peak(case: &str, file: &Path) -> (String, u64) {
    child_peak_with(case, file, false)
}

fn child_peak_with(case: &str, file: &Path, middle: bool) -> (String, u64) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    if middle {
        cmd.env(CHILD_MIDDLE, "1");
    }
    let out = cmd
        .args(["memory_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_CASE, case)
        .env(CHILD_FILE, file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("CHILD ").map(|(_, rest)| rest))
        .unwrap_or_else(|| {
            panic!(
                "{case}: the child said nothing: {stdout} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let (outcome, kb) = line.rsplit_once(" VmHWM_kB=").unwrap();
    (
        outcome.trim_start_matches("outcome=").to_string(),
        kb.parse().unwrap(),
    )
}

/// Absurd headers do not drive allocations: peak memory stays under 200 MB.
#[test]
fn absurd_headers_stay_small() {
    let f = Files {
        dir: scratch("hostile-memory"),
    };
    let cases = [
        ("wav 1 Hz", f.put("1hz.wav", &tiny_wav(1))),
        ("wav 7 Hz", f.put("7hz.wav", &tiny_wav(7))),
        (
            "wav claims 2^32 frames",
            f.put(
                "huge.wav",
                &wav_bytes(1, 1, 8_000, 8, u32::MAX - 64, &[0x80; 4000]),
            ),
        ),
        (
            "caf claims 2^40 frames",
            f.put("huge.caf", &caf_claiming_2_40_frames()),
        ),
        (
            "flac claims 2^36 frames",
            f.put("huge.flac", &flac_claiming_2_36_frames(&f.dir)),
        ),
        ("wav 767 999 Hz (coprime)", {
            let p = f.dir.join("odd.wav");
            write_wav(&p, 767_999, 1, &vec![0.1; 767_999]);
            p
        }),
        ("wav 47 999 Hz (coprime)", {
            let p = f.dir.join("odd48.wav");
            write_wav(&p, 47_999, 1, &vec![0.1; 47_999 * 3]);
            p
        }),
        ("wav 768 kHz", {
            let p = f.dir.join("768k.wav");
            write_wav(&p, 768_000, 2, &vec![0.1; 2 * 768_000]);
            p
        }),
    ];
    for (case, file) in &cases {
        let started = Instant::now();
        let (outcome, kb) = child_peak(case, file);
        eprintln!(
            "{case:<24} peak {:.1} MB in {:.2?}: {outcome}",
            kb as f64 / 1024.0,
            started.elapsed()
        );
        assert!(kb < 200 * 1024, "{case}: peak memory {kb} kB");
    }
}

/// A 3-hour file (mono 8 kHz, near silence, FLAC with its length unknown): opening finds the
/// length with one packet scan, and the middle chunk renders in the memory a 3-minute file
/// takes.
#[test]
fn three_hour_file_has_flat_memory() {
    let f = Files {
        dir: scratch("hostile-3h"),
    };
    let make = |name: &str, seconds: u32| {
        let p = f.dir.join(name);
        flac_unknown_length_of(&p, seconds, "0.002");
        p
    };
    let short = make("3min.flac", 180);
    let long = make("3h.flac", 3 * 3600);
    let started = Instant::now();
    let (outcome, kb_long) = child_peak_with("3 h", &long, true);
    let took = started.elapsed();
    let (_, kb_short) = child_peak_with("3 min", &short, true);
    eprintln!(
        "3 h FLAC, length unknown: middle chunk in {took:.2?}, peak {:.1} MB (3 min: {:.1} MB): {outcome}",
        kb_long as f64 / 1024.0,
        kb_short as f64 / 1024.0
    );
    assert_eq!(outcome, "plays");
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert!(
        kb_long < kb_short + 32 * 1024 && kb_long < 200 * 1024,
        "3 h: {kb_long} kB, 3 min: {kb_short} kB"
    );
}
