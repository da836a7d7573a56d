//! Every preset at every intensity renders chunk by chunk (in any order, split in spans)
//! exactly as it renders continuously; intensity 0 is bypass bit for bit; and the loudness
//! and spectral change grow steadily with intensity.

// Tests fail loudly on any unexpected error: unwrap is the assertion.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use sonance_engine::enhance::analysis::TrackAnalysis;
use sonance_engine::enhance::loudness::Excerpt;
use sonance_engine::enhance::Chain;
use sonance_engine::{pipeline, Engine, Enhancement, Preset, Track};

/// Music with work for every stage: drum+bass+pad with noise, a quiet stretch and a loud
/// one (the compressor and the limiter act right across the joins at 5, 10 and 15 s).
fn program(seconds: f64) -> Vec<f32> {
    let music = onset_music(seconds, 0.5);
    let noise = pink_noise(seconds, 21);
    music
        .iter()
        .zip(&noise)
        .enumerate()
        .map(|(i, (m, n))| {
            let t = (i / 2) as f64 / RATE;
            // Quiet from 3 to 8 s, loud from 9 to 16 s.
            let level = if (3.0..8.0).contains(&t) {
                0.2
            } else if (9.0..16.0).contains(&t) {
                1.6
            } else {
                0.7
            };
            (level * f64::from(m + 0.3 * n)) as f32
        })
        .collect()
}

fn continuous(engine: &Engine, track: &Track, enh: &Enhancement) -> Vec<f32> {
    let mut out = Vec::new();
    engine
        .continuous_pcm(track, enh, &mut |s| {
            out.extend_from_slice(s);
            Ok(())
        })
        .unwrap();
    out
}

fn open(name: &str, rate: u32, samples: &[f32]) -> (Engine, Track) {
    let dir = scratch(name);
    let path = dir.join(format!("{name}.wav"));
    write_wav(&path, rate, 2, samples);
    // 10 s chunks of spans of 1, 5 and 4 s, rendered on two threads.
    let engine = engine(10.0, 2);
    let track = engine.open(&path).unwrap();
    (engine, track)
}

#[test]
fn every_preset_and_intensity_renders_chunks_equal_to_a_continuous_pass() {
    // Labelled 44.1 kHz so the resampler runs too; 16.3 s so the last chunk is partial and
    // the analysis takes excerpts.
    let (engine, track) = open("continuity", 44_100, &program(16.3));
    let plain = continuous(&engine, &track, &Enhancement::bypass());
    let mut failures = Vec::new();
    for preset in Preset::ALL {
        for intensity in [0.0, 0.5, 1.0] {
            let enh = Enhancement::new(preset, intensity).unwrap();
            let whole = continuous(&engine, &track, &enh);
            assert_eq!(whole.len(), plain.len());
            if intensity > 0.0 && preset != Preset::Bypass {
                assert!(
                    peak_diff_db(&whole, &plain) > -40.0,
                    "{}: the preset changed nothing",
                    enh.key()
                );
            }
            let mut worst = f64::NEG_INFINITY;
            // Reverse order: what was rendered before must not matter.
            for n in (0..track.plan().count()).rev() {
                let (a, b) = track.plan().frames(n).unwrap();
                let pcm = engine.chunk_pcm(&track, n, &enh).unwrap();
                let d = peak_diff_db(&pcm, &whole[a as usize * 2..b as usize * 2]);
                worst = worst.max(d);
            }
            eprintln!("{}: chunked vs continuous {worst:.1} dBFS peak", enh.key());
            if worst > -90.0 {
                failures.push(format!("{}: chunks differ by {worst:.1} dBFS", enh.key()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn intensity_zero_and_bypass_null_against_the_resampled_source() {
    let (engine, track) = open("null", 44_100, &program(12.0));
    let mut source = Vec::new();
    pipeline::continuous_pcm(track.source(), Chain::identity(), &mut |s| {
        source.extend_from_slice(s);
        Ok(())
    })
    .unwrap();
    let mut choices: Vec<Enhancement> = Preset::ALL
        .iter()
        .map(|p| Enhancement::new(*p, 0.0).unwrap())
        .collect();
    choices.push(Enhancement::new(Preset::Bypass, 1.0).unwrap());
    for enh in choices {
        let out = continuous(&engine, &track, &enh);
        let d = peak_diff_db(&out, &source);
        assert!(d <= -120.0, "{}: {d:.1} dBFS from the source", enh.key());
    }
}

/// Loudness (LUFS) and spectral balance (regions relative to the mid region, dB).
fn measure(pcm: &[f32]) -> (f64, [f64; 5]) {
    let (l, _) = ebur128_measure(pcm);
    let a = TrackAnalysis::from_excerpts(vec![Excerpt {
        pcm: pcm.to_vec(),
        skip: 0,
    }]);
    (l, a.stats().regions_db)
}

/// One rendering of a sweep: intensity, target LUFS, measured LUFS, spectral regions.
type Row = (f32, f64, f64, [f64; 5]);

/// Render `samples` through every processing preset at intensities 0, ¼, ½, ¾, 1.
fn sweep(name: &str, samples: &[f32]) -> Vec<(Preset, Vec<Row>)> {
    let (engine, track) = open(name, 48_000, samples);
    let analysis = engine.analysis(&track).unwrap();
    Preset::ALL
        .iter()
        .filter(|p| p.processes())
        .map(|&preset| {
            let rows = (0..=4)
                .map(|step| {
                    let intensity = step as f32 / 4.0;
                    let enh = Enhancement::new(preset, intensity).unwrap();
                    let (l, bands) = measure(&continuous(&engine, &track, &enh));
                    (intensity, enh.spec(&analysis).target_lufs, l, bands)
                })
                .collect();
            (preset, rows)
        })
        .collect()
}

#[test]
fn loudness_change_grows_with_intensity_and_meets_each_intensitys_target() {
    // A quiet mix (about −27 LUFS): every preset has a long way to its target.
    let quiet: Vec<f32> = program(14.0).iter().map(|s| s * 0.25).collect();
    let (l0, _) = ebur128_measure(&quiet);
    let mut failures = Vec::new();
    for (preset, rows) in sweep("monotonic-loudness", &quiet) {
        let mut last = 0.0f64;
        let mut line = format!("{:<17}", preset.name());
        for (i, target, l, _) in rows {
            line += &format!(" i={i:.2}: {l:6.2} LUFS |");
            if i > 0.0 && (l - target).abs() > 0.5 {
                failures.push(format!("{preset}@{i}: {l:.2} LUFS, aimed at {target:.2}"));
            }
            let change = (l - l0).abs();
            if change + 0.05 < last {
                failures.push(format!(
                    "{preset}@{i}: loudness change fell to {change:.2} LU"
                ));
            }
            last = change;
        }
        eprintln!("{line}");
        if last < 5.0 {
            failures.push(format!("{preset}: loudness moved only {last:.2} LU"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn spectral_change_grows_with_intensity() {
    // Pink noise is the usual probe of a processor's tone: steady, every band present, and
    // here at a level where the dynamics stages barely act (−20 LUFS).
    let pink: Vec<f32> = pink_noise(14.0, 31).iter().map(|s| s * 0.57).collect();
    let mut failures = Vec::new();
    for (preset, rows) in sweep("monotonic-tone", &pink) {
        let bands0 = rows[0].3;
        let mut last = 0.0f64;
        let mut line = format!("{:<17}", preset.name());
        for (i, _, _, bands) in rows {
            // RMS over the four regions of the change of each relative to the mid region.
            let tone = (bands
                .iter()
                .zip(&bands0)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>()
                / 4.0)
                .sqrt();
            line += &format!(" i={i:.2}: {tone:4.2} dB |");
            if preset == Preset::OriginalMatched {
                // No tone control at all: only the safety limiter could colour it.
                if tone > 0.2 {
                    failures.push(format!("{preset}@{i}: tone moved {tone:.2} dB"));
                }
                continue;
            }
            if tone + 0.02 < last {
                failures.push(format!(
                    "{preset}@{i}: spectral change fell to {tone:.2} dB"
                ));
            }
            last = tone;
        }
        eprintln!("{line}");
        if preset != Preset::OriginalMatched && last < 0.3 {
            failures.push(format!("{preset}: spectral change only {last:.2} dB"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
