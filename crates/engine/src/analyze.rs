//! Loudness measurement (EBU R128 / BS.1770 via `ebur128`): integrated loudness, loudness
//! range and 4× oversampled true peak of 48 kHz stereo.

use ebur128::{EbuR128, Mode};

use crate::error::{Error, Result};

/// What a meter read over a whole stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Loudness {
    /// Integrated loudness, LUFS (−∞ for silence, reported as `f64::NEG_INFINITY`).
    pub integrated_lufs: f64,
    /// Loudness range, LU.
    pub range_lu: f64,
    /// Highest true peak of either channel, dBTP.
    pub true_peak_dbtp: f64,
}

/// A BS.1770 meter for interleaved stereo at `rate` Hz.
pub struct LoudnessMeter {
    inner: EbuR128,
}

impl LoudnessMeter {
    /// A meter for stereo at `rate` Hz.
    pub fn new(rate: u32) -> Result<Self> {
        let inner = EbuR128::new(2, rate, Mode::I | Mode::LRA | Mode::TRUE_PEAK)
            .map_err(|e| Error::InvalidParameter(format!("loudness meter: {e}")))?;
        Ok(LoudnessMeter { inner })
    }

    /// Feed interleaved stereo frames.
    pub fn add(&mut self, frames: &[f32]) -> Result<()> {
        self.inner
            .add_frames_f32(frames)
            .map_err(|e| Error::InvalidParameter(format!("loudness meter: {e}")))
    }

    /// The readings so far.
    pub fn finish(&self) -> Result<Loudness> {
        let err = |e: ebur128::Error| Error::InvalidParameter(format!("loudness meter: {e}"));
        let peak = (0..2)
            .map(|c| self.inner.true_peak(c))
            .collect::<std::result::Result<Vec<f64>, _>>()
            .map_err(err)?
            .into_iter()
            .fold(0.0f64, f64::max);
        Ok(Loudness {
            integrated_lufs: self.inner.loudness_global().map_err(err)?,
            range_lu: self.inner.loudness_range().map_err(err)?,
            true_peak_dbtp: 20.0 * peak.max(1e-12).log10(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1 kHz sine at −20 dBFS peak in both channels reads about −20 + 3.01 − 3 ≈ −20 LUFS
    /// (BS.1770: a full-scale 1 kHz sine in one channel is −3.01 LUFS).
    #[test]
    fn sine_reads_its_textbook_loudness() -> Result<()> {
        let mut m = LoudnessMeter::new(48_000)?;
        let amp = 0.1f32;
        let frames: Vec<f32> = (0..48_000 * 5)
            .flat_map(|i| {
                let s = amp * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 48_000.0).sin();
                [s, s]
            })
            .collect();
        m.add(&frames)?;
        let l = m.finish()?;
        assert!(
            (l.integrated_lufs - (-20.0 - 3.01 + 3.01)).abs() < 0.3,
            "{l:?}"
        );
        assert!((l.true_peak_dbtp - (-20.0)).abs() < 0.2, "{l:?}");
        Ok(())
    }
}
