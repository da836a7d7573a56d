//! Resampling to 48 kHz with rubato's synchronous FFT resampler.
//!
//! The resampler works on fixed blocks (`block_in` source frames → `block_out` output frames)
//! and its only state is the overlap of the previous block. So block *k* of a resampler that
//! started at block *k − 1* with empty state is bit-identical to block *k* of one that ran
//! from the start: that is what lets a chunk be rendered on its own and still equal the same
//! samples of a continuous render. [`crate::render`] aligns every render to this block grid.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler as _};

use crate::error::{Error, Result};

/// Output rate of the whole engine.
pub const OUTPUT_RATE: u32 = 48_000;
/// Requested FFT block on the input side, in frames (rounded up to rubato's minimum block).
/// 1176 = 8·147 makes 44.1 kHz FFTs of 2⁴·3·7² and 2⁸·5 points: measured 20 % faster than
/// 2048 (whose 4116-point FFT has 7³); a 20 kHz tone still passes within 1 dB (tested).
const BLOCK_HINT: usize = 1176;

/// Stereo resampler from a source rate to [`OUTPUT_RATE`], block by block.
pub struct Resampler {
    inner: Option<Fft<f32>>,
    block_in: usize,
    block_out: usize,
    delay: usize,
    out: Vec<f32>,
}

impl Resampler {
    /// A resampler from `rate_in` Hz. At 48 kHz it passes blocks through untouched.
    pub fn new(rate_in: u32) -> Result<Self> {
        if rate_in == OUTPUT_RATE {
            return Ok(Resampler {
                inner: None,
                block_in: BLOCK_HINT,
                block_out: BLOCK_HINT,
                delay: 0,
                out: vec![0.0; BLOCK_HINT * 2],
            });
        }
        let fft = Fft::<f32>::new(
            rate_in as usize,
            OUTPUT_RATE as usize,
            BLOCK_HINT,
            2,
            FixedSync::Both,
        )
        .map_err(|e| Error::InvalidParameter(format!("cannot resample from {rate_in} Hz: {e}")))?;
        let block_in = fft.input_frames_next();
        let block_out = fft.output_frames_next();
        let delay = fft.output_delay();
        Ok(Resampler {
            inner: Some(fft),
            block_in,
            block_out,
            delay,
            out: vec![0.0; block_out * 2],
        })
    }

    /// Source frames per block.
    pub fn block_in(&self) -> usize {
        self.block_in
    }

    /// Output frames per block.
    pub fn block_out(&self) -> usize {
        self.block_out
    }

    /// Raw output frames that come before output frame 0 (the filter's delay).
    pub fn delay(&self) -> usize {
        self.delay
    }

    /// Resample one block of `block_in()` interleaved stereo frames; returns `block_out()` frames.
    pub fn process(&mut self, input: &[f32]) -> Result<&[f32]> {
        debug_assert_eq!(input.len(), self.block_in * 2);
        let Some(fft) = self.inner.as_mut() else {
            self.out.copy_from_slice(input);
            return Ok(&self.out);
        };
        let adapter_in = InterleavedSlice::new(input, 2, self.block_in)
            .map_err(|e| Error::InvalidParameter(format!("resampler input: {e}")))?;
        let mut adapter_out = InterleavedSlice::new_mut(&mut self.out, 2, self.block_out)
            .map_err(|e| Error::InvalidParameter(format!("resampler output: {e}")))?;
        fft.process_into_buffer(&adapter_in, &mut adapter_out, None)
            .map_err(|e| Error::InvalidParameter(format!("resampler: {e}")))?;
        Ok(&self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1 kHz sine at 44.1 kHz comes out as a 1 kHz sine at 48 kHz, at the same level.
    #[test]
    fn sine_keeps_frequency_and_level() -> Result<()> {
        let mut rs = Resampler::new(44_100)?;
        let (bi, bo) = (rs.block_in(), rs.block_out());
        assert_eq!(bi * 48_000, bo * 44_100);
        let mut out = Vec::new();
        for b in 0..40 {
            let block: Vec<f32> = (0..bi)
                .flat_map(|i| {
                    let t = (b * bi + i) as f64 / 44_100.0;
                    let s = (0.5 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()) as f32;
                    [s, s]
                })
                .collect();
            out.extend_from_slice(rs.process(&block)?);
        }
        let d = rs.delay();
        let expect = |j: usize| {
            let t = (j as f64) / 48_000.0;
            0.5 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()
        };
        let mut worst: f64 = 0.0;
        for j in 10_000..30_000 {
            worst = worst.max((f64::from(out[(j + d) * 2]) - expect(j)).abs());
        }
        assert!(worst < 1e-3, "worst error {worst}");
        Ok(())
    }

    /// The anti-alias filter keeps the audible band: a 20 kHz tone at 44.1 kHz passes.
    #[test]
    fn passband_reaches_20_khz() -> Result<()> {
        let mut rs = Resampler::new(44_100)?;
        let bi = rs.block_in();
        let mut out = Vec::new();
        for b in 0..80 {
            let block: Vec<f32> = (0..bi)
                .flat_map(|i| {
                    let t = (b * bi + i) as f64 / 44_100.0;
                    let s = (0.5 * (2.0 * std::f64::consts::PI * 20_000.0 * t).sin()) as f32;
                    [s, s]
                })
                .collect();
            out.extend_from_slice(rs.process(&block)?);
        }
        let tail = &out[out.len() / 2..];
        let rms =
            (tail.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / tail.len() as f64).sqrt();
        let db = 20.0 * (rms / (0.5 / 2f64.sqrt())).log10();
        assert!(db > -1.0, "20 kHz comes out at {db:.2} dB");
        Ok(())
    }
}
