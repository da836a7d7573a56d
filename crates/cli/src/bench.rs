//! `sonance bench`: the pipeline's speed and memory on one file, as JSON.
//!
//! Figures: realtime factor of rendering every chunk uncached the way the player does (one
//! chunk at a time, all cores on it), first sound cold (open + the first Clusters of chunk 0,
//! what a player can start on), first-chunk latency cold (open + all of chunk 0, nothing
//! cached), cached-chunk latency (chunk 0 again, from memory), a seek into the middle of an
//! uncached chunk (until the Clusters of the span it lands in are out), and peak RSS.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;
use sonance_engine::{Engine, EngineConfig};

use crate::EnhanceArgs;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// The audio file.
    input: PathBuf,
    #[command(flatten)]
    enhance: EnhanceArgs,
    /// Chunk length in seconds.
    #[arg(long, default_value_t = 30.0)]
    chunk_seconds: f64,
    /// Render at most this many chunks, spread evenly over the track (default: all).
    #[arg(long)]
    chunks: Option<u64>,
    /// Threads per chunk (default: the machine's cores).
    #[arg(long)]
    workers: Option<usize>,
}

#[derive(Serialize)]
struct Report {
    input: String,
    duration_s: f64,
    chunks_rendered: u64,
    audio_seconds_rendered: f64,
    realtime_factor: f64,
    first_sound_ms: f64,
    first_chunk_ms: f64,
    cached_chunk_ms: f64,
    seek_sound_ms: f64,
    peak_rss_mb: f64,
    workers_per_chunk: usize,
}

pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let enh = args.enhance.enhancement()?;
    let mut config = EngineConfig {
        chunk_seconds: args.chunk_seconds,
        ..EngineConfig::default()
    };
    if let Some(w) = args.workers {
        config.workers_per_chunk = w.max(1);
    }
    let workers = config.workers_per_chunk;
    let engine = Engine::new(config)?;

    let t = Instant::now();
    let track = engine.open(&args.input)?;
    let mut first_sound = None;
    let _first = engine.chunk_progressive(&track, 0, &enh, None, &mut |_| {
        first_sound.get_or_insert_with(|| t.elapsed());
        ControlFlow::Continue(())
    })?;
    let first_chunk_ms = t.elapsed().as_secs_f64() * 1000.0;
    let first_sound_ms = first_sound.map_or(first_chunk_ms, |d| d.as_secs_f64() * 1000.0);

    let t = Instant::now();
    let _again = engine.chunk(&track, 0, &enh)?;
    let cached_chunk_ms = t.elapsed().as_secs_f64() * 1000.0;

    // A seek into the middle of an uncached chunk: until its span's Clusters are out.
    let count = track.plan().count();
    let n = count / 2;
    let (a, b) = track.chunk_span_s(n)?;
    let t = Instant::now();
    let mut seek_sound = None;
    engine.chunk_progressive(&track, n, &enh, Some((a + b) / 2.0), &mut |_| {
        seek_sound.get_or_insert_with(|| t.elapsed());
        ControlFlow::Continue(())
    })?;
    let seek_sound_ms = seek_sound.map_or(0.0, |d| d.as_secs_f64() * 1000.0);

    let want = args.chunks.unwrap_or(count).clamp(1, count);
    let picks: Vec<u64> = (0..want).map(|i| i * count / want).collect();
    let t = Instant::now();
    let mut seconds = 0.0;
    for &n in &picks {
        engine.render_chunk(&track, n, &enh)?;
        let (a, b) = track.chunk_span_s(n)?;
        seconds += b - a;
    }
    let wall = t.elapsed().as_secs_f64();
    let report = Report {
        input: args.input.display().to_string(),
        duration_s: track.duration_s(),
        chunks_rendered: want,
        audio_seconds_rendered: seconds,
        realtime_factor: seconds / wall.max(1e-9),
        first_sound_ms,
        first_chunk_ms,
        cached_chunk_ms,
        seek_sound_ms,
        peak_rss_mb: peak_rss_mb(),
        workers_per_chunk: workers,
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// Peak resident set size of this process (Linux: VmHWM), in MB; 0 where unknown.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}
