//! Benchmark of the enhancement presets (run in release):
//!
//! ```text
//! cargo run --release -p sonance-engine --example preset_bench [-- some.flac]
//! ```
//!
//! Prints, as JSON lines: DSP throughput per preset on one core (× realtime, chain only, on
//! generated 48 kHz music), the analysis and calibration time of a never-seen 5-minute
//! 44.1 kHz FLAC (generated with ffmpeg unless a file is given), and that file's first-chunk
//! latency with `adaptive` against `bypass`.
// A benchmark fails loudly on any unexpected error: unwrap is the report.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use sonance_engine::enhance::analysis::excerpt_ranges;
use sonance_engine::enhance::dynamics::{Compressor, CompressorParams};
use sonance_engine::enhance::eq::Equalizer;
use sonance_engine::enhance::limiter::{Limiter, LimiterParams};
use sonance_engine::enhance::loudness::Excerpt;
use sonance_engine::enhance::loudness::Gain;
use sonance_engine::enhance::presets;
use sonance_engine::enhance::width::Width;
use sonance_engine::enhance::{Stage, TrackAnalysis};
use sonance_engine::{Engine, EngineConfig, Enhancement, Preset};

const RATE: f64 = 48_000.0;

/// Drum + bass + pad with some noise: every stage has work to do.
fn music(seconds: f64) -> Vec<f32> {
    let n = (seconds * RATE) as usize;
    let tau = 2.0 * std::f64::consts::PI;
    let mut seed = 7u64;
    let mut out = Vec::with_capacity(n * 2);
    for i in 0..n {
        let t = i as f64 / RATE;
        let since = t % 0.5;
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let noise = (seed >> 40) as f64 / (1u64 << 24) as f64 - 0.5;
        let pad = 0.08 * ((tau * 220.0 * t).sin() + 0.5 * (tau * 329.6 * t).sin());
        let bass = 0.15 * (tau * 55.0 * t).sin() * (-since * 3.0).exp();
        let kick_f = 50.0 + 100.0 * (-since * 30.0).exp();
        let kick = 0.6 * (tau * kick_f * since).sin() * (-since * 12.0).exp();
        let hat = 0.2 * noise * (-since * 60.0).exp();
        out.push((pad + bass + kick + hat + 0.01 * noise) as f32);
        out.push((0.9 * pad + bass + kick - 0.5 * hat) as f32);
    }
    out
}

/// CPU time of this thread, seconds (immune to other processes sharing the cores).
fn thread_cpu_s() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or_else(
            || {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64())
            },
            |ns| ns * 1e-9,
        )
}

/// Least CPU time of `REPEAT` runs of `job` (the machine is shared: the minimum is the
/// cost of the work itself).
fn best_of<T>(mut job: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..REPEAT {
        let t = thread_cpu_s();
        let v = job();
        best = best.min(thread_cpu_s() - t);
        out = Some(v);
    }
    (best, out.unwrap())
}

const REPEAT: usize = 5;

/// Makes a fresh stage for each timed run.
type MakeStage<'a> = Box<dyn Fn() -> Box<dyn Stage> + 'a>;

/// Least wall time of `REPEAT` runs of `job` (for work spread over threads).
fn best_wall<T>(mut job: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..REPEAT {
        let t = Instant::now();
        let v = job();
        best = best.min(t.elapsed().as_secs_f64());
        out = Some(v);
    }
    (best, out.unwrap())
}

/// Passes over the material per timing: the thread CPU clock advances in scheduler ticks
/// (4 ms here), so each timing must last far longer than a tick.
const PASSES: usize = 10;

/// Seconds of CPU a fresh stage from `make` takes per pass over `pcm` (2048-frame blocks).
fn time_stage(make: &dyn Fn() -> Box<dyn Stage>, pcm: &[f32]) -> f64 {
    let mut work = pcm.to_vec();
    best_of(|| {
        for _ in 0..PASSES {
            let mut stage = make();
            work.copy_from_slice(pcm);
            for block in work.chunks_mut(2048 * 2) {
                stage.process(block);
            }
        }
    })
    .0 / PASSES as f64
}

fn main() {
    let seconds = 30.0;
    let pcm = music(seconds);
    let loud: Vec<f32> = pcm.iter().map(|s| s * 2.0).collect();
    let none = TrackAnalysis::none();
    let punchy = presets::design(Preset::Punchy, none.stats());
    let warm = presets::design(Preset::Warm, none.stats());
    let stages: Vec<(&str, MakeStage, &[f32])> = vec![
        (
            "eq(4 bands)",
            Box::new(|| Box::new(Equalizer::new(&punchy.bands))),
            &pcm,
        ),
        (
            "compressor",
            Box::new(|| {
                Box::new(Compressor::new(CompressorParams {
                    threshold_db: -20.0,
                    ..warm.compressor.unwrap()
                }))
            }),
            &pcm,
        ),
        (
            "limiter(loud)",
            Box::new(|| {
                Box::new(Limiter::new(LimiterParams {
                    ceiling_db: -1.5,
                    release_db_s: 60.0,
                    depth: 1.0,
                    input_gain_db: 0.0,
                }))
            }),
            &loud,
        ),
        ("width", Box::new(|| Box::new(Width::new(1.5))), &pcm),
        ("gain", Box::new(|| Box::new(Gain::new(-3.0))), &pcm),
    ];
    // `SONANCE_BENCH_STAGE=compressor` runs one stage once over the material (for a
    // profiler or an instruction counter) and stops.
    if let Ok(only) = std::env::var("SONANCE_BENCH_STAGE") {
        for (name, make, input) in &stages {
            if name.starts_with(only.as_str()) {
                let mut stage = make();
                let mut work = input.to_vec();
                for block in work.chunks_mut(2048 * 2) {
                    stage.process(block);
                }
            }
        }
        return;
    }
    for (name, make, input) in stages {
        let cpu = time_stage(make.as_ref(), input);
        println!(
            "{{\"stage\":\"{name}\",\"x_realtime_per_core\":{:.0}}}",
            seconds / cpu
        );
    }
    let excerpts: Vec<Excerpt> = excerpt_ranges((pcm.len() / 2) as u64)
        .into_iter()
        .map(|(a, b, skip)| Excerpt {
            pcm: pcm[a as usize * 2..b as usize * 2].to_vec(),
            skip,
        })
        .collect();
    let analysis = TrackAnalysis::from_excerpts(excerpts);
    for preset in Preset::ALL {
        let enh = Enhancement::new(preset, 1.0).unwrap();
        // A fresh analysis each time so the calibration is not remembered.
        let (setup, _) =
            best_wall(|| enh.chain(&TrackAnalysis::from_excerpts(analysis.excerpts().to_vec())));
        let chain = enh.chain(&analysis);
        let warmup = chain.warmup_frames();
        let mut work = pcm.clone();
        let (dsp, _) = best_of(|| {
            for _ in 0..PASSES {
                let mut chain = enh.chain(&analysis);
                work.copy_from_slice(&pcm);
                for block in work.chunks_mut(2048 * 2) {
                    chain.process(block);
                }
            }
        });
        let dsp = dsp / PASSES as f64;
        println!(
            "{{\"preset\":\"{preset}\",\"dsp_x_realtime_per_core\":{:.0},\"chain_setup_wall_ms\":{:.2},\"warmup_s\":{:.2}}}",
            seconds / dsp,
            setup * 1e3,
            warmup as f64 / RATE
        );
    }

    let path = match std::env::args().nth(1) {
        Some(p) => PathBuf::from(p),
        None => {
            let p = std::env::temp_dir().join("sonance-preset-bench.flac");
            if !p.exists() {
                let status = Command::new("ffmpeg")
                    .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
                    .arg("anoisesrc=color=pink:duration=300:sample_rate=44100:amplitude=0.25,aformat=channel_layouts=stereo")
                    .args(["-f", "lavfi", "-i", "sine=frequency=55:duration=300:sample_rate=44100"])
                    .args(["-filter_complex", "[0][1]amix=inputs=2", "-ar", "44100", "-c:a", "flac"])
                    .arg(&p)
                    .status()
                    .unwrap();
                assert!(status.success());
            }
            p
        }
    };
    // Analysis alone, on a never-seen track (the engine's path: excerpts rendered after seeks).
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let track = engine.open(&path).unwrap();
    let (analysis_s, a) =
        best_wall(|| TrackAnalysis::from_file(track.path(), track.info()).unwrap());
    let adaptive = Enhancement::new(Preset::Adaptive, 1.0).unwrap();
    let (measure_s, _) = best_wall(|| TrackAnalysis::from_excerpts(a.excerpts().to_vec()));
    let (both_s, _) =
        best_wall(|| adaptive.chain(&TrackAnalysis::from_excerpts(a.excerpts().to_vec())));
    println!(
        "{{\"file\":\"{}\",\"seconds\":{:.0},\"analysis_wall_ms\":{:.1},\"of_which_measure_ms\":{:.1},\"adaptive_calibration_wall_ms\":{:.1},\"loudness_lufs\":{:.2}}}",
        path.display(),
        track.duration_s(),
        analysis_s * 1e3,
        measure_s * 1e3,
        (both_s - measure_s) * 1e3,
        a.stats().loudness_lufs
    );
    // First chunk on fresh engines (nothing cached, nothing analysed).
    for enh in [Enhancement::bypass(), adaptive] {
        let engine = Engine::new(EngineConfig::default()).unwrap();
        let track = engine.open(&path).unwrap();
        let t = Instant::now();
        let bytes = engine.chunk(&track, 0, &enh).unwrap();
        println!(
            "{{\"first_chunk\":\"{}\",\"ms\":{:.1},\"bytes\":{}}}",
            enh.key(),
            t.elapsed().as_secs_f64() * 1e3,
            bytes.len()
        );
    }
}
