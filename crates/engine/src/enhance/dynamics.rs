//! Compressor: stereo-linked, RMS-style detector, soft knee, program-dependent release.
//!
//! The control path works on gain reduction in dB:
//!
//! 1. detector: a one-pole mean square of the louder channel (`detector_ms`), in dB;
//! 2. static curve: soft-knee reduction for that level ([`CompressorParams::static_reduction_db`]);
//! 3. release: two envelopes that fall at a constant rate in dB/s — a fast one fed by the
//!    instantaneous reduction, a slow one fed by its mean over the last `sustain_ms`. A short
//!    transient barely moves the mean, so it releases fast; sustained compression releases
//!    slowly (program-dependent release);
//! 4. attack: a one-pole that follows rises of the envelope with `attack_ms`, and falls with
//!    the envelope at once (the release is already shaped).
//!
//! Envelopes are integers (micro-dB) falling at a constant rate and clamped to
//! `max_reduction_db`, so their memory is finite: after [`Compressor::settle_frames`] of
//! context, the output no longer depends on the state the compressor started from — which is
//! what lets a chunk rendered on its own equal a continuous render.

use super::Stage;

/// Micro-dB per dB: the envelopes' integer unit.
const UNIT: f64 = 1e6;

/// How a compressor behaves, in the terms of its controls.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompressorParams {
    /// Detector level (dB RMS, a full-scale sine reads −3) at the centre of the knee.
    pub threshold_db: f64,
    /// Input dB above the threshold per output dB (1 = no compression).
    pub ratio: f64,
    /// Width of the soft knee, dB.
    pub knee_db: f64,
    /// Time constant of the rise of gain reduction, ms.
    pub attack_ms: f64,
    /// Time constant of the mean-square detector, ms.
    pub detector_ms: f64,
    /// Fast release rate, dB/s.
    pub release_fast_db_s: f64,
    /// Slow release rate for sustained compression, dB/s.
    pub release_slow_db_s: f64,
    /// Window over which reduction must persist to earn the slow release, ms (rounded to a
    /// power of two of frames).
    pub sustain_ms: f64,
    /// Most reduction the compressor applies, dB.
    pub max_reduction_db: f64,
}

impl CompressorParams {
    /// The design static curve: gain reduction (dB, ≥ 0) for a steady detector level.
    pub fn static_reduction_db(&self, level_db: f64) -> f64 {
        let slope = 1.0 - 1.0 / self.ratio.max(1.0);
        let over = level_db - self.threshold_db;
        let w = self.knee_db.max(0.0);
        let gr = if 2.0 * over <= -w {
            0.0
        } else if w > 0.0 && 2.0 * over < w {
            slope * (over + w / 2.0).powi(2) / (2.0 * w)
        } else {
            slope * over
        };
        gr.clamp(0.0, self.max_reduction_db)
    }

    /// Whether these settings can reduce gain at all.
    pub fn is_active(&self) -> bool {
        self.ratio > 1.0 && self.max_reduction_db > 0.0
    }
}

/// Frames handled per pass of the block-wise loops (scratch sized once).
pub(crate) const SUB: usize = 256;

/// The compressor stage.
pub struct Compressor {
    p: CompressorParams,
    curve: Curve,
    /// Detector smoothing coefficient and state (mean square).
    kd: f64,
    ms: f64,
    /// Mean square below which the static curve gives no reduction (skips the curve).
    quiet_ms: f32,
    fast: i64,
    slow: i64,
    fast_step: i64,
    slow_step: i64,
    /// Ring of recent instantaneous reductions (power-of-two length) and its exact sum.
    ring: Vec<i32>,
    ring_shift: u32,
    ring_pos: usize,
    ring_sum: i64,
    /// Attack smoother (dB of reduction) and its coefficient.
    ka: f64,
    smooth: f64,
    /// Per-frame scratch: detector level, then reduction, then gain.
    scratch: Vec<f32>,
}

fn one_pole(ms: f64) -> f64 {
    1.0 - (-1.0 / (ms.max(0.01) * 48.0)).exp()
}

impl Compressor {
    /// A compressor at 48 kHz.
    pub fn new(p: CompressorParams) -> Self {
        let sustain = ((p.sustain_ms * 48.0).round() as usize)
            .max(1)
            .next_power_of_two();
        let knee_start = p.threshold_db - p.knee_db.max(0.0) / 2.0;
        Compressor {
            curve: Curve::new(&p),
            kd: one_pole(p.detector_ms),
            ms: 0.0,
            quiet_ms: 10f64.powf(knee_start / 10.0) as f32,
            fast: 0,
            slow: 0,
            fast_step: ((p.release_fast_db_s * UNIT / 48_000.0).round() as i64).max(1),
            slow_step: ((p.release_slow_db_s * UNIT / 48_000.0).round() as i64).max(1),
            ring: vec![0; sustain],
            ring_shift: sustain.trailing_zeros(),
            ring_pos: 0,
            ring_sum: 0,
            ka: one_pole(p.attack_ms),
            smooth: 0.0,
            scratch: vec![0.0; SUB],
            p,
        }
    }

    /// Frames of context after which the output no longer depends on the starting state.
    pub fn settle_frames(&self) -> u64 {
        let max = (self.p.max_reduction_db * UNIT) as i64;
        let release = (max / self.slow_step).max(max / self.fast_step) as u64;
        // The detector and the attack smoother decay exponentially: 14 time constants leave
        // 1e-6 of a starting difference (of at most `max_reduction_db`), −120 dB at the output.
        let tau = |k: f64| (-1.0 / (1.0 - k).ln()) * 14.0;
        release + self.ring.len() as u64 + (tau(self.kd) + tau(self.ka)).ceil() as u64
    }

    /// One pass over at most [`SUB`] frames.
    fn process_sub(&mut self, frames: &mut [f32]) {
        let n = frames.len() / 2;
        let level = &mut self.scratch[..n];
        // 1. Detector (sequential, cheap).
        // ms ← (1 − k)·ms + k·x², two frames per step so that the loop-carried path is one
        // multiply-add per two frames: ms₂ = (1 − k)²·ms₀ + (1 − k)·k·x₁ + k·x₂.
        let (kd, keep, mut ms) = (self.kd, 1.0 - self.kd, self.ms);
        let keep2 = keep * keep;
        let power = |f: &[f32]| f64::from((f[0] * f[0]).max(f[1] * f[1]));
        let mut pairs = level.chunks_exact_mut(2).zip(frames.chunks_exact(4));
        for (v, f) in &mut pairs {
            let (p1, p2) = (kd * power(&f[..2]), kd * power(&f[2..]));
            let first = keep * ms + p1;
            ms = keep2 * ms + (keep * p1 + p2);
            v[0] = first as f32;
            v[1] = ms as f32;
        }
        if n % 2 == 1 {
            ms = keep * ms + kd * power(&frames[2 * n - 2..]);
            level[n - 1] = ms as f32;
        }
        self.ms = if ms < 1e-30 { 0.0 } else { ms };
        // 2. Level in dB (vectorises); below the knee the curve gives 0.
        let quiet = self.quiet_ms;
        for v in level.iter_mut() {
            *v = if *v > quiet {
                fast_log2(*v) * (10.0 * std::f32::consts::LOG10_2)
            } else {
                f32::NEG_INFINITY
            };
        }
        // 3. Static curve, release envelopes, attack (sequential).
        let max = (self.p.max_reduction_db * UNIT) as i64;
        let mask = self.ring.len() - 1;
        let (mut fast, mut slow, mut smooth) = (self.fast, self.slow, self.smooth);
        let (ka, keep) = (self.ka, 1.0 - self.ka);
        let (mut sum, mut pos) = (self.ring_sum, self.ring_pos);
        for v in level.iter_mut() {
            // A level of −∞ (below the knee) reads 0.
            let gr = to_units(self.curve.reduction_db(f64::from(*v))).min(max);
            sum += gr - i64::from(self.ring[pos]);
            self.ring[pos] = gr as i32;
            pos = (pos + 1) & mask;
            fast = gr.max(fast - self.fast_step);
            slow = (sum >> self.ring_shift).max(slow - self.slow_step).max(0);
            let env = fast.max(slow) as f64 * (1.0 / UNIT);
            // Rises follow with the attack time; falls follow the (shaped) envelope at once:
            // below `env` the one-pole step is the rise, above it the envelope wins.
            smooth = fmin(keep * smooth + ka * env, env);
            *v = smooth as f32;
        }
        (self.fast, self.slow, self.smooth) = (fast, slow, smooth);
        (self.ring_sum, self.ring_pos) = (sum, pos);
        // 4. Gains (vectorises; no reduction gives exactly 1) and apply.
        for (v, f) in level.iter().zip(frames.chunks_exact_mut(2)) {
            let g = fast_db_to_gain(-*v);
            f[0] *= g;
            f[1] *= g;
        }
    }
}

impl Stage for Compressor {
    fn process(&mut self, frames: &mut [f32]) {
        for sub in frames.chunks_mut(2 * SUB) {
            self.process_sub(sub);
        }
    }
}

/// The static curve with its constants worked out once per block.
struct Curve {
    threshold: f64,
    slope: f64,
    half_knee: f64,
    knee_scale: f64,
    max: f64,
}

impl Curve {
    fn new(p: &CompressorParams) -> Self {
        let w = p.knee_db.max(0.0);
        let slope = 1.0 - 1.0 / p.ratio.max(1.0);
        Curve {
            threshold: p.threshold_db,
            slope,
            half_knee: w / 2.0,
            knee_scale: if w > 0.0 { slope / (2.0 * w) } else { 0.0 },
            max: p.max_reduction_db,
        }
    }

    /// Same as [`CompressorParams::static_reduction_db`], without branches (the level
    /// hovers around the knee, where branches mispredict): the knee's quadratic on the part
    /// of the overshoot inside the knee, plus the slope beyond it.
    #[inline]
    fn reduction_db(&self, level_db: f64) -> f64 {
        let over = level_db - self.threshold;
        let inside = fmin(fmax(over + self.half_knee, 0.0), 2.0 * self.half_knee);
        let beyond = fmax(over - self.half_knee, 0.0);
        fmin(
            self.knee_scale * inside * inside + self.slope * beyond,
            self.max,
        )
    }
}

/// `db` in micro-dB, rounded to the nearest unit, for 0 ≤ `db` < 2⁴⁵ µdB: the 1.5·2⁵² trick
/// (a saturating `as` cast costs several instructions per frame in the control loops).
#[inline]
pub(crate) fn to_units(db: f64) -> i64 {
    const MAGIC: f64 = 6_755_399_441_055_744.0;
    (db * UNIT + MAGIC).to_bits() as i64 - MAGIC.to_bits() as i64
}

/// The larger of two values in one instruction (`f64::max` also handles NaN, which the
/// control paths never carry).
#[inline]
pub(crate) fn fmax(a: f64, b: f64) -> f64 {
    if a > b {
        a
    } else {
        b
    }
}

/// The smaller of two values in one instruction (see [`fmax`]).
#[inline]
pub(crate) fn fmin(a: f64, b: f64) -> f64 {
    if a < b {
        a
    } else {
        b
    }
}

/// 10^(db/20).
pub fn db_to_gain(db: f64) -> f64 {
    (db * (std::f64::consts::LN_10 / 20.0)).exp()
}

/// log2(x) for finite x > 0 (subnormals read as the smallest normal), to about 1e-7:
/// the mantissa is brought into [√½, √2) and ln(m) = 2·atanh((m − 1)/(m + 1)) is summed to
/// the 7th power. Plain arithmetic, so the same on every machine; several times faster than
/// a library call in the per-frame control paths.
#[inline]
pub fn fast_log2(x: f32) -> f32 {
    let bits = x.max(f32::MIN_POSITIVE).to_bits();
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    // Branch-free (so loops over arrays vectorise): halve m above √2.
    let big = m > std::f32::consts::SQRT_2;
    let e = ((bits >> 23) & 0xff) as i32 - 127 + i32::from(big);
    let m = if big { m * 0.5 } else { m };
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let ln = 2.0 * s * (1.0 + s2 * (1.0 / 3.0 + s2 * (0.2 + s2 * (1.0 / 7.0))));
    e as f32 + ln * std::f32::consts::LOG2_E
}

/// 10^(db/20) for db ≤ 0 (gain reductions), to about 1e-7 relative; 0 below −760 dB.
/// Plain arithmetic like [`fast_log2`].
#[inline]
pub fn fast_db_to_gain(db: f32) -> f32 {
    // 10^(db/20) = 2^x.
    let x = db * (std::f32::consts::LOG2_10 / 20.0);
    // Clamp to [−126, 0] (NaN reads 0 dB: no reduction).
    let x = if x > -126.0 { x } else { -126.0 };
    let x = if x < 0.0 { x } else { 0.0 };
    // Nearest integer by the 1.5·2²³ trick (no library call, no saturating cast, so loops
    // over arrays vectorise): adding it rounds x to an integer held in the low mantissa bits.
    const MAGIC: f32 = 12_582_912.0;
    let t = x + MAGIC;
    let n = t.to_bits() as i32 - MAGIC.to_bits() as i32;
    let y = (x - (t - MAGIC)) * std::f32::consts::LN_2;
    let p = 1.0
        + y * (1.0
            + y * (0.5
                + y * (1.0 / 6.0 + y * (1.0 / 24.0 + y * (1.0 / 120.0 + y * (1.0 / 720.0))))));
    p * f32::from_bits(((n + 127) as u32) << 23)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> CompressorParams {
        CompressorParams {
            threshold_db: -20.0,
            ratio: 4.0,
            knee_db: 6.0,
            attack_ms: 5.0,
            detector_ms: 10.0,
            release_fast_db_s: 60.0,
            release_slow_db_s: 10.0,
            sustain_ms: 200.0,
            max_reduction_db: 20.0,
        }
    }

    #[test]
    fn static_curve_is_continuous_with_the_textbook_slopes() {
        let p = params();
        assert_eq!(p.static_reduction_db(-40.0), 0.0);
        assert_eq!(p.static_reduction_db(-23.0), 0.0);
        // Above the knee: (level − threshold)·(1 − 1/ratio).
        assert!((p.static_reduction_db(-10.0) - 7.5).abs() < 1e-12);
        // Continuous at both knee edges.
        for edge in [-23.0, -17.0] {
            let a = p.static_reduction_db(edge - 1e-9);
            let b = p.static_reduction_db(edge + 1e-9);
            assert!((a - b).abs() < 1e-6);
        }
    }

    #[test]
    fn fast_math_is_accurate() {
        for i in 1..2000 {
            let x = 10f32.powf(-12.0 + i as f32 * 0.0071);
            // Within a few single-precision steps of the exact value.
            let exact = f64::from(x).log2();
            let tolerance = 3e-7 * exact.abs().max(4.0);
            assert!((f64::from(fast_log2(x)) - exact).abs() < tolerance, "{x}");
        }
        // Gain reductions as deep as 100 dB (single precision limits the exponent beyond).
        for i in 0..2000 {
            let db = -(i as f32) * 0.05;
            let exact = 10f64.powf(f64::from(db) / 20.0);
            let fast = f64::from(fast_db_to_gain(db));
            assert!((fast / exact - 1.0).abs() < 1e-6, "{db}");
        }
    }

    #[test]
    fn a_short_burst_releases_faster_than_a_long_one() {
        // Reduction still applied 150 ms after the burst ends.
        let residual = |burst_s: f64| {
            let mut c = Compressor::new(params());
            let loud = (burst_s * 48_000.0) as usize;
            let mut x: Vec<f32> = (0..loud + 7_200)
                .flat_map(|i| {
                    let a = if i < loud { 0.5 } else { 0.01 };
                    let s = a * (i as f32 * 0.13).sin();
                    [s, s]
                })
                .collect();
            c.process(&mut x);
            c.smooth
        };
        let short = residual(0.02);
        let long = residual(1.0);
        assert!(long > short + 2.0, "short {short:.2} dB, long {long:.2} dB");
    }
}
