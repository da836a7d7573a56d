//! Chunked rendering equals continuous rendering: chunk N, rendered on its own (in any
//! order, by spans in parallel), is the same samples as a continuous pass from the start.

// Tests fail loudly on any unexpected error: unwrap is the assertion.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use sonance_engine::enhance::{Chain, Stage};
use sonance_engine::pipeline;

/// A stage with long memory: a low-shelf-ish one-pole filter feeding an envelope follower
/// that rides the gain (a crude compressor). Its state settles within 2 s.
struct MemoryStage {
    lp: [f32; 2],
    env: f32,
}

impl Stage for MemoryStage {
    fn process(&mut self, frames: &mut [f32]) {
        for f in frames.chunks_exact_mut(2) {
            let mut peak = 0.0f32;
            for (s, lp) in f.iter_mut().zip(&mut self.lp) {
                *lp += 0.01 * (*s - *lp);
                *s += 0.5 * *lp;
                peak = peak.max(s.abs());
            }
            // Attack 1 ms, release 100 ms.
            let coef = if peak > self.env { 0.02 } else { 0.000_21 };
            self.env += coef * (peak - self.env);
            let gain = 1.0 / (1.0 + 2.0 * self.env);
            f[0] *= gain;
            f[1] *= gain;
        }
    }
}

fn memory_chain() -> Chain {
    Chain::new(
        vec![Box::new(MemoryStage {
            lp: [0.0; 2],
            env: 0.0,
        })],
        96_000,
    )
}

fn peak_db(a: &[f32], b: &[f32]) -> f64 {
    let peak = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    20.0 * f64::from(peak.max(1e-20)).log10()
}

fn check(
    rate: u32,
    chunk_seconds: f64,
    workers: usize,
    factory: &pipeline::ChainFactory<'_>,
    name: &str,
) {
    let dir = scratch(name);
    let path = dir.join("src.wav");
    // 23.3 s so the last chunk is partial; generated at 48 kHz, labelled `rate`.
    write_wav(&path, rate, 2, &pink_noise(23.3, 3));
    let engine = engine(chunk_seconds, workers);
    let track = engine.open(&path).unwrap();
    let mut continuous = Vec::new();
    pipeline::continuous_pcm(track.source(), factory(), &mut |s| {
        continuous.extend_from_slice(s);
        Ok(())
    })
    .unwrap();
    assert_eq!(continuous.len() as u64, track.plan().total_frames() * 2);
    // Chunks in reverse order: the order must not matter.
    let mut chunked = vec![0.0f32; continuous.len()];
    for n in (0..track.plan().count()).rev() {
        let (a, b) = track.plan().frames(n).unwrap();
        let pcm = pipeline::chunk_pcm(track.source(), n, factory, workers).unwrap();
        assert_eq!(pcm.len() as u64, (b - a) * 2, "chunk {n} length");
        chunked[a as usize * 2..b as usize * 2].copy_from_slice(&pcm);
        let d = peak_db(&pcm, &continuous[a as usize * 2..b as usize * 2]);
        assert!(
            d <= -90.0,
            "{name}: chunk {n} differs from the continuous render by {d:.1} dBFS peak"
        );
    }
    assert!(peak_db(&chunked, &continuous) <= -90.0);
    // The stage did something (the test can fail for the right reason).
    let plain = {
        let mut v = Vec::new();
        pipeline::continuous_pcm(track.source(), Chain::identity(), &mut |s| {
            v.extend_from_slice(s);
            Ok(())
        })
        .unwrap();
        v
    };
    if name.contains("memory") {
        assert!(
            peak_db(&plain, &continuous) > -40.0,
            "the memory stage changed nothing"
        );
    }
}

#[test]
fn bypass_chunks_equal_continuous_at_48k() {
    check(48_000, 5.0, 1, &Chain::identity, "bypass48");
}

#[test]
fn bypass_chunks_equal_continuous_when_resampling_and_split_in_spans() {
    check(44_100, 10.0, 2, &Chain::identity, "bypass441");
}

#[test]
fn stage_with_memory_chunks_equal_continuous() {
    check(44_100, 10.0, 2, &memory_chain, "memory441");
    check(48_000, 5.0, 1, &memory_chain, "memory48");
}

/// The same input and settings give the same fragment bytes whatever order chunks are asked
/// for in, and whichever engine instance renders them.
#[test]
fn fragments_are_deterministic_in_any_order() {
    let dir = scratch("order");
    let path = dir.join("src.wav");
    write_wav(&path, 44_100, 2, &pink_noise(16.0, 9));
    let enh = sonance_engine::Enhancement::bypass();
    let render = |order: &[u64]| {
        let engine = engine(5.0, 2);
        let track = engine.open(&path).unwrap();
        let mut out = vec![Vec::new(); 4];
        for &n in order {
            out[n as usize] = engine.render_chunk(&track, n, &enh).unwrap();
        }
        out
    };
    let forward = render(&[0, 1, 2, 3]);
    let shuffled = render(&[2, 0, 3, 1]);
    assert!(forward.iter().all(|f| !f.is_empty()));
    assert_eq!(forward, shuffled);
}
