//! Join quality: chunks decoded the way browsers play them must not click at the joins.
//!
//! One decoder for the whole sequence, never reset between chunks; each chunk's packets kept
//! only inside its window; pre-roll either decoded and discarded (Chromium) or dropped unseen
//! (WebKit). The error against the source in ±20 ms around each join is compared with the
//! 99th percentile of the coding error elsewhere (see `common::join_score`).
//!
//! Chunks are 10 s, each made of spans of 1 s, 5 s and 4 s (`pipeline::spans`), so besides
//! the chunk joins at 10 and 20 s there are span joins inside each chunk (1, 6, 11, 16, … s):
//! every one is checked.

// Tests fail loudly on any unexpected error: unwrap is the assertion.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use sonance_engine::{pipeline, Enhancement};

const SECONDS: f64 = 30.0;
const CHUNK: f64 = 10.0;

struct Case {
    name: &'static str,
    samples: Vec<f32>,
    limit_db: f64,
    /// Broadband signals align unambiguously; check the decoded output lines up to the frame.
    check_alignment: bool,
}

/// The fade-in the player applies when playback starts or after a seek (ui/src/audio.ts).
const SEEK_FADE_MS: f64 = 40.0;

/// Raised-cosine fade-in over SEEK_FADE_MS, applied to interleaved stereo.
fn fade_in(x: &mut [f32]) {
    let n = (SEEK_FADE_MS * 48.0) as usize;
    for (i, frame) in x.chunks_exact_mut(2).take(n).enumerate() {
        let g = 0.5 - 0.5 * (std::f64::consts::PI * i as f64 / n as f64).cos();
        frame.iter_mut().for_each(|s| *s *= g as f32);
    }
}

fn reference(engine: &sonance_engine::Engine, track: &sonance_engine::Track) -> Vec<f32> {
    let mut out = Vec::new();
    engine
        .continuous_pcm(track, &Enhancement::bypass(), &mut |s| {
            out.extend_from_slice(s);
            Ok(())
        })
        .unwrap();
    out
}

/// Lag (in frames) that best aligns `a` to `b` within ±`range`, on the left channel.
fn best_lag(a: &[f32], b: &[f32], from: usize, len: usize, range: i64) -> i64 {
    let mut best = (f64::MIN, 0);
    for lag in -range..=range {
        let mut acc = 0.0f64;
        for i in from..from + len {
            let j = i as i64 + lag;
            acc -= (f64::from(a[i * 2]) - f64::from(b[j as usize * 2])).powi(2);
        }
        if acc > best.0 {
            best = (acc, lag);
        }
    }
    best.1
}

fn run(case: &Case) -> Vec<String> {
    let dir = scratch(case.name);
    let path = dir.join(format!("{}.wav", case.name));
    write_wav(&path, 48_000, 2, &case.samples);
    let engine = engine(CHUNK, 2);
    let track = engine.open(&path).unwrap();
    let reference = reference(&engine, &track);
    let (init, chunks) = render_all(&engine, &track, &Enhancement::bypass());
    // Every span start but the track's: the frames where one encoder hands over to the next.
    let joins: Vec<usize> = (0..track.plan().count())
        .flat_map(|n| pipeline::spans(track.plan(), n).unwrap())
        .map(|span| span.first as usize * 960)
        .filter(|&frame| frame > 0)
        .collect();
    assert!(joins.len() >= 8, "span joins: {joins:?}");
    let mut failures = Vec::new();
    for player in [Player::ChromiumLike, Player::WebKitLike] {
        let decoded = play(&init, &chunks, player);
        assert_eq!(
            decoded.len(),
            reference.len(),
            "{}: decoded length",
            case.name
        );
        if case.check_alignment {
            let lag = best_lag(&decoded, &reference, 100_000, 4800, 400);
            assert_eq!(
                lag, 0,
                "{}: decoded output is not aligned with the source",
                case.name
            );
        }
        let mut scores = Vec::new();
        for join in &joins {
            let s = join_score(&decoded, &reference, *join);
            let at = *join as f64 / 48_000.0;
            scores.push(format!("{at}s {s:.1}"));
            if s > case.limit_db {
                failures.push(format!(
                    "{} {player:?}: join at {at} s reads {s:+.1} dB (limit {:+.1})",
                    case.name, case.limit_db
                ));
            }
        }
        eprintln!(
            "{} {player:?}: joins (span and chunk): {} dB",
            case.name,
            scores.join(", ")
        );
        // Start of playback at each chunk start after a seek: a fresh decoder, and the
        // player's fade-in on what is heard and on what should be heard.
        for (n, chunk) in chunks.iter().enumerate().skip(1) {
            let mut decoded = play(&init, std::slice::from_ref(chunk), player);
            let start = chunk.1 as usize;
            let mut expected = reference[start * 2..].to_vec();
            fade_in(&mut decoded);
            fade_in(&mut expected);
            let s = seek_score(&decoded, &expected);
            eprintln!(
                "{} {player:?}: seek start of chunk {n}: {s:+.1} dB",
                case.name
            );
            if s > case.limit_db {
                failures.push(format!(
                    "{} {player:?}: seek start of chunk {n} reads {s:+.1} dB",
                    case.name
                ));
            }
        }
    }
    failures
}

/// The first 40 ms after a seek against the 99th percentile of 40 ms windows from 100 ms to
/// 1 s later.
fn seek_score(decoded: &[f32], reference: &[f32]) -> f64 {
    let err: Vec<f64> = decoded
        .iter()
        .zip(reference)
        .map(|(d, r)| f64::from(d - r))
        .collect();
    let rms = |a: usize, b: usize| {
        (err[a * 2..b * 2].iter().map(|e| e * e).sum::<f64>() / ((b - a) * 2) as f64).sqrt()
    };
    let first = rms(0, 1920);
    let mut windows: Vec<f64> = (0..)
        .map(|k| 4800 + k * 480)
        .take_while(|s| s + 1920 <= 48_000)
        .map(|s| rms(s, s + 1920))
        .collect();
    windows.sort_by(|a, b| a.total_cmp(b));
    let p99 = windows[(windows.len() * 99 / 100).min(windows.len() - 1)];
    20.0 * (first.max(1e-12) / p99.max(1e-12)).log10()
}

#[test]
fn pink_noise_joins_are_inaudible() {
    let failures = run(&Case {
        name: "pink",
        samples: pink_noise(SECONDS, 1),
        limit_db: 3.0,
        check_alignment: true,
    });
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn onset_on_every_join_is_inaudible() {
    let failures = run(&Case {
        name: "onsets",
        samples: onset_music(SECONDS, 1.0),
        limit_db: 5.0,
        check_alignment: false,
    });
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn sine_joins_are_inaudible() {
    let failures = run(&Case {
        name: "sine",
        samples: sine(SECONDS, 441.0, 0.5),
        limit_db: 3.0,
        check_alignment: false,
    });
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Tracks cut from one signal at frames that are not on the 20 ms grid, played gapless the
/// way the page chains them (ui/src/policy/timeline.ts): one decoder; track j's chunks go in at
/// its start T_j = the previous tracks' length, each kept inside its window; the track start's
/// lead-in is pre-roll like a chunk's. Returns the decoded signal and the source's rendering.
fn play_gapless(
    name: &str,
    samples: &[f32],
    cuts: &[usize],
    player: Player,
) -> (Vec<f32>, Vec<f32>) {
    let dir = scratch(name);
    let engine = engine(CHUNK, 2);
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(samples.len() / 2);
    let mut reference = Vec::new();
    let mut decoded = Vec::new();
    let mut dec = opus::Decoder::new(48_000, opus::Channels::Stereo).unwrap();
    for (j, w) in bounds.windows(2).enumerate() {
        let path = dir.join(format!("{name}-{j}.wav"));
        write_wav(&path, 48_000, 2, &samples[w[0] * 2..w[1] * 2]);
        let track = engine.open(&path).unwrap();
        reference.extend(self::reference(&engine, &track));
        let (init, chunks) = render_all(&engine, &track, &Enhancement::bypass());
        play_into(&mut dec, &init, &chunks, player, &mut decoded);
    }
    (decoded, reference)
}

/// Scores the track changes of `samples` cut in three; fails those of `checked` players over
/// `limit_db` (the others are printed).
fn gapless_case(name: &str, samples: Vec<f32>, limit_db: f64, checked: &[Player]) -> Vec<String> {
    // Cuts at 4.0123 s and 7.5037 s: off the packet grid, inside the first chunk of each.
    let cuts = [192_590, 360_178];
    let mut failures = Vec::new();
    for player in [Player::ChromiumLike, Player::WebKitLike] {
        let (decoded, reference) = play_gapless(name, &samples, &cuts, player);
        assert_eq!(decoded.len(), reference.len(), "{name}: decoded length");
        let scores: Vec<f64> = cuts
            .iter()
            .map(|&j| join_score(&decoded, &reference, j))
            .collect();
        eprintln!("{name} {player:?}: track changes {scores:.1?} dB");
        for (j, s) in cuts.iter().zip(&scores) {
            if *s > limit_db && checked.contains(&player) {
                failures.push(format!("{name} {player:?}: track change at frame {j} reads {s:+.1} dB (limit {limit_db:+.1})"));
            }
        }
    }
    failures
}

#[test]
fn gapless_track_changes_are_inaudible() {
    let both = [Player::ChromiumLike, Player::WebKitLike];
    let mut failures = gapless_case("gapless-pink", pink_noise(12.0, 7), 3.0, &both);
    // WebKit drops the pre-roll, so its decoder meets a track's first packet with the previous
    // track's state: a pure tone still clicks there (+20 dB, docs/JOINS.md, Track edges).
    failures.extend(gapless_case(
        "gapless-sine",
        sine(12.0, 441.0, 0.5),
        3.0,
        &[Player::ChromiumLike],
    ));
    assert!(failures.is_empty(), "{failures:#?}");
}

/// A seek or switch into a 5 s span not made yet gets the second it lands in first
/// (`pipeline::split_at`): the pieces, placed by their timestamps and played like a chunk,
/// join without a click and play what the span plays.
#[test]
fn a_span_split_for_a_seek_joins_inaudibly() {
    let samples = pink_noise(SECONDS, 11);
    let dir = scratch("split");
    let path = dir.join("split.wav");
    write_wav(&path, 48_000, 2, &samples);
    let engine = engine(CHUNK, 2);
    let track = engine.open(&path).unwrap();
    let reference = reference(&engine, &track);
    let enh = Enhancement::bypass();
    // Chunk 1 is 10–20 s: spans 10–11, 11–16 and 16–20 s. Ask for 13.37 s first.
    assert_eq!(
        engine.first_span_s(&track, 1, &enh, Some(13.37)).unwrap(),
        (13.2, 14.2)
    );
    let mut pieces = Vec::new();
    let media = engine
        .chunk_progressive(&track, 1, &enh, Some(13.37), &mut |c| {
            pieces.push(c.len());
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    let init = engine.init_segment(&track);
    let first = demux(&init, &media[..pieces[0]]);
    let span = (first[0].0, first.last().unwrap().0 + 20);
    assert_eq!(span, (13_200, 14_200), "the second from 13.2 s comes first");
    // Placed by their timestamps, the pieces play the chunk.
    let mut packets = demux(&init, &media);
    packets.sort_by_key(|(ts, _)| *ts);
    let mut dec = opus::Decoder::new(48_000, opus::Channels::Stereo).unwrap();
    let mut decoded = Vec::new();
    let window = (480_000, 960_000);
    play_packets(
        &mut dec,
        &packets,
        window,
        Player::ChromiumLike,
        &mut decoded,
    );
    assert_eq!(decoded.len(), 480_000 * 2);
    let expected = &reference[480_000 * 2..960_000 * 2];
    for join in [13.2, 14.2] {
        let s = join_score(&decoded, expected, ((join - 10.0) * 48_000.0) as usize);
        eprintln!("split span: the piece joining at {join} s reads {s:+.1} dB");
        assert!(s <= 3.0, "the piece joining at {join} s reads {s:+.1} dB");
    }
}
