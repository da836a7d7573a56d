//! `sonance render` and `sonance analyze`.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;
use sonance_engine::analyze::LoudnessMeter;
use sonance_engine::webm::MIME;
use sonance_engine::{Engine, EngineConfig, Enhancement};

use crate::EnhanceArgs;

#[derive(clap::Args)]
pub struct RenderArgs {
    /// The audio file.
    input: PathBuf,
    /// Folder for init.webm, chunk-NNNNN.webm and manifest.json (created if missing).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    enhance: EnhanceArgs,
    /// Chunk length in seconds (a multiple of 0.02).
    #[arg(long, default_value_t = 30.0)]
    chunk_seconds: f64,
    /// Also write chunked.f32 and continuous.f32 (48 kHz stereo f32le) for checks.
    #[arg(long)]
    pcm: bool,
}

#[derive(Serialize)]
struct Manifest {
    duration_s: f64,
    sample_rate: u32,
    channels: u32,
    chunk_seconds: f64,
    mime: &'static str,
    preset: String,
    intensity: f32,
    chunks: Vec<ChunkEntry>,
}

#[derive(Serialize)]
struct ChunkEntry {
    index: u64,
    start_s: f64,
    end_s: f64,
    bytes: usize,
    millis: f64,
}

pub fn run(args: &RenderArgs) -> anyhow::Result<()> {
    let enh = args.enhance.enhancement()?;
    let engine = Engine::new(EngineConfig {
        chunk_seconds: args.chunk_seconds,
        ..EngineConfig::default()
    })?;
    let track = engine.open(&args.input)?;
    fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    write(&args.out.join("init.webm"), &engine.init_segment(&track))?;
    let mut chunks = Vec::new();
    for n in 0..track.plan().count() {
        let t = Instant::now();
        let bytes = engine.render_chunk(&track, n, &enh)?;
        let millis = t.elapsed().as_secs_f64() * 1000.0;
        write(&args.out.join(format!("chunk-{n:05}.webm")), &bytes)?;
        let (start_s, end_s) = track.chunk_span_s(n)?;
        chunks.push(ChunkEntry {
            index: n,
            start_s,
            end_s,
            bytes: bytes.len(),
            millis,
        });
    }
    if args.pcm {
        write_pcm(&engine, &track, &enh, &args.out)?;
    }
    let manifest = Manifest {
        duration_s: track.duration_s(),
        sample_rate: 48_000,
        channels: 2,
        chunk_seconds: track.plan().chunk_seconds(),
        mime: MIME,
        preset: enh.preset().name().to_string(),
        intensity: enh.intensity(),
        chunks,
    };
    write(
        &args.out.join("manifest.json"),
        serde_json::to_string_pretty(&manifest)?.as_bytes(),
    )
}

fn write_pcm(
    engine: &Engine,
    track: &sonance_engine::Track,
    enh: &Enhancement,
    out: &Path,
) -> anyhow::Result<()> {
    let mut chunked = pcm_writer(&out.join("chunked.f32"))?;
    for n in 0..track.plan().count() {
        write_f32(&mut chunked, &engine.chunk_pcm(track, n, enh)?)?;
    }
    chunked.flush()?;
    let mut continuous = pcm_writer(&out.join("continuous.f32"))?;
    engine.continuous_pcm(track, enh, &mut |s| {
        write_f32(&mut continuous, s)
            .map_err(|e| sonance_engine::Error::InvalidParameter(e.to_string()))
    })?;
    continuous.flush()?;
    Ok(())
}

fn pcm_writer(path: &Path) -> anyhow::Result<BufWriter<File>> {
    let f = File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(BufWriter::with_capacity(1 << 20, f))
}

fn write_f32(w: &mut impl Write, samples: &[f32]) -> std::io::Result<()> {
    for s in samples {
        w.write_all(&s.to_le_bytes())?;
    }
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

#[derive(Serialize)]
struct Analysis {
    duration_s: f64,
    sample_rate: u32,
    channels: usize,
    codec: String,
    title: Option<String>,
    artist: Option<String>,
    album: Option<String>,
    integrated_lufs: Option<f64>,
    true_peak_dbtp: f64,
    loudness_range_lu: f64,
}

/// Loudness is measured on the 48 kHz stereo stream the engine plays (before enhancement).
pub fn analyze(input: &Path) -> anyhow::Result<()> {
    let engine = Engine::new(EngineConfig::default())?;
    let track = engine.open(input)?;
    let mut meter = LoudnessMeter::new(48_000)?;
    engine.continuous_pcm(&track, &Enhancement::bypass(), &mut |s| meter.add(s))?;
    let l = meter.finish()?;
    let info = track.info();
    let a = Analysis {
        duration_s: info.duration_s(),
        sample_rate: info.sample_rate,
        channels: info.channels,
        codec: info.codec.clone(),
        title: info.title.clone(),
        artist: info.artist.clone(),
        album: info.album.clone(),
        integrated_lufs: l.integrated_lufs.is_finite().then_some(l.integrated_lufs),
        true_peak_dbtp: (l.true_peak_dbtp * 100.0).round() / 100.0,
        loudness_range_lu: l.range_lu,
    };
    println!("{}", serde_json::to_string_pretty(&a)?);
    Ok(())
}
