//! Rendering a range of the track's 48 kHz enhanced timeline: decode → resample → enhance.
//!
//! `render(a, b)` yields exactly the samples a continuous render from frame 0 yields at
//! `[a, b)`: the source is sought to the resampler block one before the first block needed
//! (the resampler's state is one block deep, see [`crate::resample`]), and the enhancement
//! chain is started its warm-up length before `a`. Frames outside `[0, track end)` are
//! silence, so encoders may ask for look-ahead past the end or pre-roll before the start.

use std::path::Path;

use crate::decode::{SourceInfo, SourceReader};
use crate::enhance::Chain;
use crate::error::Result;
use crate::resample::{Resampler, OUTPUT_RATE};

/// Length of a source at 48 kHz, in frames.
pub fn frames_at_48k(info: &SourceInfo) -> u64 {
    let num = u128::from(info.frames) * u128::from(OUTPUT_RATE) + u128::from(info.sample_rate / 2);
    (num / u128::from(info.sample_rate.max(1))) as u64
}

/// Receives rendered interleaved stereo frames in order.
pub type Sink<'a> = dyn FnMut(&[f32]) -> Result<()> + 'a;

/// What a render noticed about its input.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RenderReport {
    /// The file ended early or had damaged packets (rendered as silence).
    pub damaged: bool,
}

/// Render frames `[a, b)` of the enhanced 48 kHz stream of `path` into `sink`.
pub fn render(
    path: &Path,
    info: &SourceInfo,
    range: (i64, i64),
    mut chain: Chain,
    sink: &mut Sink<'_>,
) -> Result<RenderReport> {
    let (a, b) = range;
    let total = frames_at_48k(info) as i64;
    let mut report = RenderReport::default();
    if b <= a {
        return Ok(report);
    }
    emit_silence(sink, (b.min(0) - a).max(0) as u64)?;
    let (a0, b0) = (a.clamp(0, total), b.clamp(0, total));
    if a0 < b0 {
        report = render_inside(path, info, total, (a0, b0), &mut chain, sink)?;
    }
    emit_silence(sink, (b - a.max(total)).max(0) as u64)?;
    Ok(report)
}

fn render_inside(
    path: &Path,
    info: &SourceInfo,
    total: i64,
    (a0, b0): (i64, i64),
    chain: &mut Chain,
    sink: &mut Sink<'_>,
) -> Result<RenderReport> {
    let mut reader = SourceReader::reopen(path, info)?;
    let mut rs = Resampler::new(info.sample_rate)?;
    let (bin, bout, delay) = (rs.block_in(), rs.block_out() as i64, rs.delay() as i64);
    let latency = chain.latency() as i64;
    // Position where the chain starts, and the first resampler block that makes it exact.
    let chain_start = (a0 - chain.warmup_frames() as i64).max(0);
    let first_block = ((chain_start + delay) / bout - 1).max(0);
    reader.seek(first_block as u64 * bin as u64)?;

    let mut input = vec![0.0f32; bin * 2];
    let mut src_pos = first_block as u64 * bin as u64;
    let mut ended_early = false;
    let mut work: Vec<f32> = Vec::with_capacity(bout as usize * 2);
    // Stream position of the next resampler output frame, and of the next chain output.
    let mut pos = first_block * bout - delay;
    let mut out_pos = chain_start - latency;
    let feed_end = b0 + latency;
    while pos < feed_end {
        let got = reader.read(&mut input)?;
        input[got * 2..].fill(0.0);
        if got < bin && src_pos + (got as u64) < info.frames {
            ended_early = true; // the file is shorter than its header says (truncated)
        }
        src_pos += bin as u64;
        let block = rs.process(&input)?;
        work.clear();
        for (i, frame) in block.chunks_exact(2).enumerate() {
            let p = pos + i as i64;
            if p < chain_start || p >= feed_end {
                continue;
            }
            if p >= total {
                work.extend_from_slice(&[0.0, 0.0]);
            } else {
                work.extend_from_slice(frame);
            }
        }
        pos += bout;
        if work.is_empty() {
            continue;
        }
        chain.process(&mut work);
        let n = (work.len() / 2) as i64;
        let keep_from = (a0 - out_pos).clamp(0, n);
        let keep_to = (b0 - out_pos).clamp(0, n);
        if keep_from < keep_to {
            sink(&work[keep_from as usize * 2..keep_to as usize * 2])?;
        }
        out_pos += n;
    }
    Ok(RenderReport {
        damaged: reader.damaged || ended_early,
    })
}

fn emit_silence(sink: &mut Sink<'_>, frames: u64) -> Result<()> {
    const ZEROS: [f32; 4096] = [0.0; 4096];
    let mut left = frames * 2;
    while left > 0 {
        let n = left.min(ZEROS.len() as u64) as usize;
        sink(&ZEROS[..n])?;
        left -= n as u64;
    }
    Ok(())
}

/// Render `[a, b)` into a vector (convenience for chunk-sized ranges).
pub fn render_to_vec(
    path: &Path,
    info: &SourceInfo,
    range: (i64, i64),
    chain: Chain,
) -> Result<(Vec<f32>, RenderReport)> {
    let mut out = Vec::with_capacity((range.1 - range.0).max(0) as usize * 2);
    let report = render(path, info, range, chain, &mut |s| {
        out.extend_from_slice(s);
        Ok(())
    })?;
    Ok((out, report))
}
