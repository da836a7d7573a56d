//! Equaliser: RBJ-cookbook shelves and peaking bands as biquads, coefficients and state in
//! f64 (transposed direct form II), stereo.
//!
//! Each band is described by what a person would set (kind, frequency, Q, gain); its design
//! magnitude response is available analytically ([`Band::magnitude_db`]) so tests compare the
//! measured response against it.

use super::Stage;

/// The shape of one band.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BandKind {
    /// Boost or cut below `freq_hz`.
    LowShelf,
    /// Boost or cut above `freq_hz`.
    HighShelf,
    /// Boost or cut around `freq_hz` with bandwidth set by `q`.
    Peak,
}

/// One EQ band as a person sets it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    pub kind: BandKind,
    /// Corner (shelves) or centre (peak) frequency, Hz.
    pub freq_hz: f64,
    /// Quality factor (shelves: 0.707 is the steepest without overshoot).
    pub q: f64,
    /// Gain at the shelf plateau or the peak centre, dB.
    pub gain_db: f64,
}

/// Normalised biquad coefficients (`a0 == 1`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coefs {
    pub b0: f64,
    pub b1: f64,
    pub b2: f64,
    pub a1: f64,
    pub a2: f64,
}

impl Band {
    /// A band of `kind` at `freq_hz` with quality `q` and `gain_db`.
    pub fn new(kind: BandKind, freq_hz: f64, q: f64, gain_db: f64) -> Self {
        Band {
            kind,
            freq_hz,
            q,
            gain_db,
        }
    }

    /// The same band with its gain multiplied by `k` (how intensity scales an EQ).
    pub fn scaled(self, k: f64) -> Self {
        Band {
            gain_db: self.gain_db * k,
            ..self
        }
    }

    /// RBJ cookbook coefficients at `rate` Hz.
    pub fn coefs(&self, rate: f64) -> Coefs {
        let w0 = 2.0 * std::f64::consts::PI * (self.freq_hz / rate).clamp(1e-6, 0.499);
        let (sin, cos) = w0.sin_cos();
        let a = 10f64.powf(self.gain_db / 40.0);
        let alpha = sin / (2.0 * self.q.max(0.05));
        let (b0, b1, b2, a0, a1, a2) = match self.kind {
            BandKind::Peak => (
                1.0 + alpha * a,
                -2.0 * cos,
                1.0 - alpha * a,
                1.0 + alpha / a,
                -2.0 * cos,
                1.0 - alpha / a,
            ),
            BandKind::LowShelf => {
                let s = 2.0 * a.sqrt() * alpha;
                (
                    a * ((a + 1.0) - (a - 1.0) * cos + s),
                    2.0 * a * ((a - 1.0) - (a + 1.0) * cos),
                    a * ((a + 1.0) - (a - 1.0) * cos - s),
                    (a + 1.0) + (a - 1.0) * cos + s,
                    -2.0 * ((a - 1.0) + (a + 1.0) * cos),
                    (a + 1.0) + (a - 1.0) * cos - s,
                )
            }
            BandKind::HighShelf => {
                let s = 2.0 * a.sqrt() * alpha;
                (
                    a * ((a + 1.0) + (a - 1.0) * cos + s),
                    -2.0 * a * ((a - 1.0) + (a + 1.0) * cos),
                    a * ((a + 1.0) + (a - 1.0) * cos - s),
                    (a + 1.0) - (a - 1.0) * cos + s,
                    2.0 * ((a - 1.0) - (a + 1.0) * cos),
                    (a + 1.0) - (a - 1.0) * cos - s,
                )
            }
        };
        Coefs {
            b0: b0 / a0,
            b1: b1 / a0,
            b2: b2 / a0,
            a1: a1 / a0,
            a2: a2 / a0,
        }
    }

    /// The design magnitude response at `freq_hz`, dB, at sample rate `rate`.
    pub fn magnitude_db(&self, freq_hz: f64, rate: f64) -> f64 {
        self.coefs(rate).magnitude_db(freq_hz, rate)
    }
}

impl Coefs {
    /// |H(e^jω)| in dB at `freq_hz`.
    pub fn magnitude_db(&self, freq_hz: f64, rate: f64) -> f64 {
        let w = 2.0 * std::f64::consts::PI * freq_hz / rate;
        // H(z) with z^-1 = e^{-jω}: numerator and denominator as complex numbers.
        let (c1, s1) = (w.cos(), -w.sin());
        let (c2, s2) = ((2.0 * w).cos(), -(2.0 * w).sin());
        let num = (
            self.b0 + self.b1 * c1 + self.b2 * c2,
            self.b1 * s1 + self.b2 * s2,
        );
        let den = (
            1.0 + self.a1 * c1 + self.a2 * c2,
            self.a1 * s1 + self.a2 * s2,
        );
        let n2 = num.0 * num.0 + num.1 * num.1;
        let d2 = den.0 * den.0 + den.1 * den.1;
        10.0 * (n2 / d2).log10()
    }

    /// Frames after which the filter's memory has decayed below `1e-9` of its size (the
    /// poles' radius decides it).
    pub fn settle_frames(&self) -> u64 {
        // Poles of z² + a1·z + a2.
        let disc = self.a1 * self.a1 - 4.0 * self.a2;
        let radius = if disc < 0.0 {
            self.a2.abs().sqrt()
        } else {
            let r = disc.sqrt();
            ((-self.a1 + r).abs() / 2.0).max((-self.a1 - r).abs() / 2.0)
        };
        if radius <= 0.0 {
            return 2;
        }
        if radius >= 1.0 {
            return u64::MAX / 4;
        }
        // A double pole decays as n·rⁿ: a few extra time constants cover the n.
        let tau = -1.0 / radius.ln();
        (tau * (9.0 * std::f64::consts::LN_10 + 4.0)).ceil() as u64 + 2
    }
}

/// State below this is flushed to zero at block ends: keeps silence exactly silent and the
/// CPU out of subnormal arithmetic. Far below anything audible or measurable (−500 dBFS).
const FLUSH: f64 = 1e-25;

/// A cascade of biquads on interleaved stereo.
pub struct Equalizer {
    sections: Vec<Coefs>,
    /// Per section: the two TDF-II state variables, each for [left, right].
    state: Vec<[[f64; 2]; 2]>,
}

impl Equalizer {
    /// An equaliser running `bands` in order at 48 kHz.
    pub fn new(bands: &[Band]) -> Self {
        let sections: Vec<Coefs> = bands
            .iter()
            .filter(|b| b.gain_db != 0.0)
            .map(|b| b.coefs(48_000.0))
            .collect();
        Self::from_coefs(sections)
    }

    /// An equaliser running biquads with these coefficients, in order.
    pub fn from_coefs(sections: Vec<Coefs>) -> Self {
        let state = vec![[[0.0; 2]; 2]; sections.len()];
        Equalizer { sections, state }
    }

    /// Whether the equaliser changes nothing (no band with gain).
    pub fn is_empty(&self) -> bool {
        self.sections.is_empty()
    }

    /// Frames of context after which the output no longer depends on the starting state.
    pub fn settle_frames(&self) -> u64 {
        self.sections.iter().map(|c| c.settle_frames()).sum::<u64>()
    }
}

/// Run `N` sections over `frames`, state in registers: the sections' recursions overlap in
/// the CPU, and each sample is converted to f64 and back once.
fn run<const N: usize>(c: &[Coefs], state: &mut [[[f64; 2]; 2]], frames: &mut [f32]) {
    let (Ok(c), Ok(st)) = (
        <&[Coefs; N]>::try_from(c),
        <&mut [[[f64; 2]; 2]; N]>::try_from(state),
    ) else {
        return;
    };
    let mut s = *st;
    for f in frames.chunks_exact_mut(2) {
        let mut x = [f64::from(f[0]), f64::from(f[1])];
        for k in 0..N {
            let [s1, s2] = &mut s[k];
            let y = [c[k].b0 * x[0] + s1[0], c[k].b0 * x[1] + s1[1]];
            *s1 = [
                c[k].b1 * x[0] - c[k].a1 * y[0] + s2[0],
                c[k].b1 * x[1] - c[k].a1 * y[1] + s2[1],
            ];
            *s2 = [
                c[k].b2 * x[0] - c[k].a2 * y[0],
                c[k].b2 * x[1] - c[k].a2 * y[1],
            ];
            x = y;
        }
        f[0] = x[0] as f32;
        f[1] = x[1] as f32;
    }
    for v in s.iter_mut().flatten().flatten() {
        if v.abs() < FLUSH {
            *v = 0.0;
        }
    }
    *st = s;
}

impl Stage for Equalizer {
    fn process(&mut self, frames: &mut [f32]) {
        for (c, st) in self.sections.chunks(4).zip(self.state.chunks_mut(4)) {
            match c.len() {
                1 => run::<1>(c, st, frames),
                2 => run::<2>(c, st, frames),
                3 => run::<3>(c, st, frames),
                _ => run::<4>(c, st, frames),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shelves_and_peaks_reach_their_gain_where_the_design_says() {
        let rate = 48_000.0;
        let low = Band::new(BandKind::LowShelf, 100.0, 0.707, 4.0);
        assert!((low.magnitude_db(10.0, rate) - 4.0).abs() < 0.1);
        assert!(low.magnitude_db(5_000.0, rate).abs() < 0.05);
        let high = Band::new(BandKind::HighShelf, 8_000.0, 0.707, -3.0);
        assert!((high.magnitude_db(20_000.0, rate) + 3.0).abs() < 0.2);
        assert!(high.magnitude_db(200.0, rate).abs() < 0.05);
        let peak = Band::new(BandKind::Peak, 1_000.0, 1.0, 2.5);
        assert!((peak.magnitude_db(1_000.0, rate) - 2.5).abs() < 1e-9);
        assert!(peak.magnitude_db(20.0, rate).abs() < 0.05);
    }

    #[test]
    fn zero_gain_bands_are_dropped_and_silence_stays_silent() {
        let mut eq = Equalizer::new(&[
            Band::new(BandKind::Peak, 1_000.0, 1.0, 0.0),
            Band::new(BandKind::LowShelf, 80.0, 0.7, 3.0),
        ]);
        assert_eq!(eq.sections.len(), 1);
        let mut x = vec![0.0f32; 4096];
        eq.process(&mut x);
        assert!(x.iter().all(|s| *s == 0.0));
    }
}
