//! True-peak limiter: 4× oversampled peak detection, look-ahead, smooth gain.
//!
//! Detection interpolates three points between every pair of samples (a 4× polyphase
//! windowed-sinc, [`TAPS`] taps per phase), so peaks *between* samples — what a DAC, a
//! resampler or a lossy decoder will reconstruct — are held under the ceiling, not just the
//! samples. The gain path ([`GainEnvelope`]) works in integer micro-dB:
//!
//! 1. required reduction at each frame (≥ 0) — scaled by `depth` (how intensity fades the
//!    limiter in);
//! 2. release: falls at a constant rate (dB/s), clamped to [`MAX_REDUCTION_DB`];
//! 3. hold: the maximum over the last `LOOKAHEAD + 2·HOLD` frames;
//! 4. attack: the mean over the last `LOOKAHEAD` frames (a linear ramp into each peak).
//!
//! The audio is delayed by `LOOKAHEAD − 1 + HOLD` frames, which puts every peak inside the
//! plateau of full reduction, `HOLD` frames either side. Every state is finite-memory or
//! integer, so after [`Limiter::settle_frames`] the output does not depend on how the
//! limiter started.

use super::dynamics::{db_to_gain, fast_db_to_gain, fast_log2, fmax, fmin, to_units, SUB};
use super::Stage;

/// Taps per interpolation phase.
pub const TAPS: usize = 16;
/// Look-ahead (attack ramp), frames: 2 ms.
const LOOKAHEAD: usize = 96;
/// Frames of full reduction either side of a peak (covers the interpolator's support).
const HOLD: usize = TAPS / 2;
/// Most reduction the limiter applies, dB.
pub const MAX_REDUCTION_DB: f64 = 30.0;
/// Micro-dB per dB.
const UNIT: f64 = 1e6;

/// The 4× interpolator: three fractional phases (¼, ½, ¾), `TAPS` taps each, each phase
/// normalised to unity gain at DC.
#[derive(Debug, Clone)]
pub struct Interpolator {
    /// `lanes[i][p]`: the coefficient of phase `p` for `hist[i]` (oldest first); lane 3 is
    /// zero (four lanes vectorise).
    lanes: [[f32; 4]; TAPS],
    /// Largest Σ|h| of any phase: an interpolated value never exceeds this times the
    /// largest sample in its support.
    bound: f32,
}

impl Interpolator {
    pub fn new() -> Self {
        let mut phases = [[0.0f32; TAPS]; 3];
        let mut lanes = [[0.0f32; 4]; TAPS];
        let half = TAPS as f64 / 2.0;
        let beta = 7.0;
        let i0 = |x: f64| {
            // Modified Bessel function of the first kind, order 0 (series).
            let (mut sum, mut term, mut k) = (1.0, 1.0, 1.0);
            while term > 1e-12 * sum {
                term *= (x / (2.0 * k)).powi(2);
                sum += term;
                k += 1.0;
            }
            sum
        };
        let mut bound = 0.0f32;
        for (p, phase) in phases.iter_mut().enumerate() {
            let frac = (p + 1) as f64 / 4.0;
            // Tap j multiplies x[m − j]; the point sits at t = m − half + frac, so its
            // distance from tap j's sample is d = t − (m − j) = j − half + frac.
            let mut h = [0.0f64; TAPS];
            for (j, v) in h.iter_mut().enumerate() {
                let d = j as f64 - half + frac;
                let sinc = if d == 0.0 {
                    1.0
                } else {
                    (std::f64::consts::PI * d).sin() / (std::f64::consts::PI * d)
                };
                let r = (d / half).clamp(-1.0, 1.0);
                let w = i0(beta * (1.0 - r * r).sqrt()) / i0(beta);
                *v = sinc * w;
            }
            let sum: f64 = h.iter().sum();
            for (o, v) in phase.iter_mut().zip(h) {
                *o = (v / sum) as f32;
            }
            bound = bound.max(phase.iter().map(|v| v.abs()).sum());
            for (j, v) in phase.iter().enumerate() {
                // Tap j multiplies x[m − j] = hist[TAPS − 1 − j].
                lanes[TAPS - 1 - j][p] = *v;
            }
        }
        Interpolator { lanes, bound }
    }

    /// Largest absolute value among the three interpolated points between `hist[TAPS/2 − 1]`
    /// and `hist[TAPS/2]` (`hist` holds the last `TAPS` samples, oldest first).
    #[inline]
    pub fn peak(&self, hist: &[f32]) -> f32 {
        let mut acc = [0.0f32; 4];
        for (c, &x) in self.lanes.iter().zip(hist) {
            for k in 0..4 {
                acc[k] += c[k] * x;
            }
        }
        let m = |a: f32, b: f32| if a > b { a } else { b };
        m(m(acc[0].abs(), acc[1].abs()), acc[2].abs())
    }

    /// The bound described on the field.
    pub fn bound(&self) -> f32 {
        self.bound
    }
}

impl Default for Interpolator {
    fn default() -> Self {
        Self::new()
    }
}

/// Slots of the sliding-maximum deque (a power of two above the hold length).
const HOLD_SLOTS: usize = (LOOKAHEAD + 2 * HOLD + 1).next_power_of_two();

/// The limiter's gain path, usable on its own (the loudness calibration runs it over a
/// precomputed peak trace).
pub struct GainEnvelope {
    release_step: i64,
    release: i64,
    /// Monotonic deque of (frame, value) for the sliding maximum: a ring, `head..tail`.
    hold: [(u64, i64); HOLD_SLOTS],
    head: usize,
    tail: usize,
    hold_len: u64,
    ring: [i64; LOOKAHEAD],
    ring_pos: usize,
    sum: i64,
    frame: u64,
    /// Frames in a row with the release envelope at zero (once past the hold and the ramp,
    /// every state is zero).
    idle: u64,
}

impl GainEnvelope {
    pub fn new(release_db_s: f64) -> Self {
        GainEnvelope {
            release_step: ((release_db_s * UNIT / 48_000.0).round() as i64).max(1),
            release: 0,
            hold: [(0, 0); HOLD_SLOTS],
            head: 0,
            tail: 0,
            hold_len: (LOOKAHEAD + 2 * HOLD) as u64,
            ring: [0; LOOKAHEAD],
            ring_pos: 0,
            sum: 0,
            frame: 0,
            idle: u64::MAX,
        }
    }

    /// Feed the required reduction (dB ≥ 0) of the newest frame; returns the reduction (dB)
    /// to apply to the frame `delay()` frames ago.
    #[inline]
    pub fn push(&mut self, required_db: f64) -> f64 {
        let req = to_units(fmin(fmax(required_db, 0.0), MAX_REDUCTION_DB));
        if req == 0 && self.release == 0 && self.idle >= self.hold_len + LOOKAHEAD as u64 {
            // Release, hold and ramp all hold zeros: pushing another zero changes nothing
            // that can be seen (stale zero entries are dropped by the next push).
            self.frame += 1;
            return 0.0;
        }
        self.release = req.max(self.release - self.release_step).max(0);
        let v = self.release;
        self.idle = if v == 0 {
            self.idle.saturating_add(1)
        } else {
            0
        };
        const M: usize = HOLD_SLOTS - 1;
        while self.head != self.tail && self.hold[(self.tail.wrapping_sub(1)) & M].1 <= v {
            self.tail = self.tail.wrapping_sub(1);
        }
        self.hold[self.tail & M] = (self.frame, v);
        self.tail = self.tail.wrapping_add(1);
        while self.hold[self.head & M].0 + self.hold_len <= self.frame {
            self.head = self.head.wrapping_add(1);
        }
        let held = self.hold[self.head & M].1;
        self.sum += held - self.ring[self.ring_pos];
        self.ring[self.ring_pos] = held;
        self.ring_pos = if self.ring_pos + 1 == LOOKAHEAD {
            0
        } else {
            self.ring_pos + 1
        };
        self.frame += 1;
        if self.sum == 0 {
            0.0
        } else {
            self.sum as f64 * (1.0 / (LOOKAHEAD as f64 * UNIT))
        }
    }

    /// Whether every state is zero, so that frames needing no reduction may be skipped with
    /// [`GainEnvelope::skip`].
    pub fn is_idle(&self) -> bool {
        self.release == 0 && self.idle >= self.hold_len + LOOKAHEAD as u64
    }

    /// Account for `frames` frames needing no reduction while idle (each would return 0).
    pub fn skip(&mut self, frames: u64) {
        debug_assert!(self.is_idle());
        self.frame += frames;
    }

    /// Frames between a required reduction and the audio frame it belongs to.
    pub const fn delay() -> usize {
        LOOKAHEAD - 1 + HOLD
    }

    /// Frames after which the envelope no longer depends on its starting state.
    pub fn settle_frames(&self) -> u64 {
        (MAX_REDUCTION_DB * UNIT) as u64 / self.release_step as u64
            + self.hold_len
            + LOOKAHEAD as u64
    }
}

/// How the limiter is set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LimiterParams {
    /// Highest true peak let through, dBTP.
    pub ceiling_db: f64,
    /// Release rate, dB/s.
    pub release_db_s: f64,
    /// Share of the required reduction applied, 0…1 (intensity fades the limiter in).
    pub depth: f64,
    /// Gain applied to the input before limiting, dB (the calibrated loudness trim).
    pub input_gain_db: f64,
}

/// The limiter stage.
pub struct Limiter {
    p: LimiterParams,
    interp: Interpolator,
    env: GainEnvelope,
    input_gain: f32,
    ceiling: f32,
    /// Sample magnitude above which a frame's neighbourhood needs interpolating.
    hot_level: f32,
    /// Frames left during which interpolation is needed.
    hot: usize,
    /// Per channel: the last `delay()` input frames, then room for one pass of [`SUB`]
    /// frames. The delayed output and the interpolator's history are both read from here.
    chan: [Vec<f32>; 2],
    /// Per-frame reduction (dB), then gain, of one pass.
    gr: Vec<f32>,
}

impl Limiter {
    pub fn new(p: LimiterParams) -> Self {
        let interp = Interpolator::new();
        let ceiling = db_to_gain(p.ceiling_db) as f32;
        let hot_level = ceiling / interp.bound() * 0.999;
        let len = GainEnvelope::delay() + SUB;
        Limiter {
            input_gain: db_to_gain(p.input_gain_db) as f32,
            ceiling,
            hot_level,
            hot: 0,
            interp,
            env: GainEnvelope::new(p.release_db_s),
            chan: [vec![0.0; len], vec![0.0; len]],
            gr: vec![0.0; SUB],
            p,
        }
    }

    /// Frames after which the output no longer depends on the starting state.
    pub fn settle_frames(&self) -> u64 {
        self.env.settle_frames() + TAPS as u64 + GainEnvelope::delay() as u64
    }

    /// One pass over at most [`SUB`] frames.
    fn process_sub(&mut self, frames: &mut [f32]) {
        const D: usize = GainEnvelope::delay();
        let n = frames.len() / 2;
        let [l, r] = &mut self.chan;
        for (i, f) in frames.chunks_exact(2).enumerate() {
            l[D + i] = f[0] * self.input_gain;
            r[D + i] = f[1] * self.input_gain;
        }
        // Detection and the gain path (sequential). Each frame's peak is the larger of its
        // samples and the three points interpolated TAPS/2 frames back (the hold covers the
        // offset); interpolation runs only while a sample in reach is loud enough to matter.
        let depth = self.p.depth.clamp(0.0, 1.0);
        let inv_ceiling = 1.0 / self.ceiling;
        for (i, g) in self.gr[..n].iter_mut().enumerate() {
            let j = D + i;
            let mut tp = l[j].abs().max(r[j].abs());
            if tp > self.hot_level {
                self.hot = TAPS;
            }
            if self.hot > 0 {
                self.hot -= 1;
                let from = j + 1 - TAPS;
                tp = tp
                    .max(self.interp.peak(&l[from..=j]))
                    .max(self.interp.peak(&r[from..=j]));
            }
            let required = if tp > self.ceiling {
                depth * f64::from(fast_log2(tp * inv_ceiling)) * (20.0 * std::f64::consts::LOG10_2)
            } else {
                0.0
            };
            *g = self.env.push(required) as f32;
        }
        // Gains (vectorises; no reduction gives exactly 1) on the frames `D` back.
        for (i, (g, f)) in self.gr[..n]
            .iter()
            .zip(frames.chunks_exact_mut(2))
            .enumerate()
        {
            let g = fast_db_to_gain(-*g);
            f[0] = l[i] * g;
            f[1] = r[i] * g;
        }
        l.copy_within(n..n + D, 0);
        r.copy_within(n..n + D, 0);
    }
}

impl Stage for Limiter {
    fn process(&mut self, frames: &mut [f32]) {
        for sub in frames.chunks_mut(2 * SUB) {
            self.process_sub(sub);
        }
    }

    fn latency(&self) -> usize {
        GainEnvelope::delay()
    }
}
