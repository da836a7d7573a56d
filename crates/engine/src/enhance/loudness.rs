//! Loudness: a constant gain stage, a fast BS.1770 meter for excerpts, and the calibration
//! that finds the gain which brings a chain's *output* to its target loudness.
//!
//! Calibration runs on the track's analysis excerpts (see [`super::analysis`]): the stages
//! before the limiter run once; the limiter's gain path then runs over the excerpts' true-peak
//! trace for each trial gain (a secant search), and the output loudness is measured from the
//! K-weighted excerpts times the limiter's gain. So the target holds as played — after EQ,
//! compression and limiting — at the cost of a few milliseconds per choice.

use super::dynamics::{db_to_gain, fast_db_to_gain, fast_log2};
use super::eq::{Coefs, Equalizer};
use super::limiter::{GainEnvelope, Interpolator, LimiterParams, MAX_REDUCTION_DB, TAPS};
use super::{par_map, Chain, Stage};

/// Frames per 100 ms hop; a BS.1770 momentary block is four hops.
pub const HOP: usize = 4_800;

/// A constant gain.
pub struct Gain {
    gain: f32,
}

impl Gain {
    pub fn new(db: f64) -> Self {
        Gain {
            gain: db_to_gain(db) as f32,
        }
    }
}

impl Stage for Gain {
    fn process(&mut self, frames: &mut [f32]) {
        for s in frames {
            *s *= self.gain;
        }
    }
}

/// BS.1770 K-weighting at 48 kHz (the standard's own coefficients).
pub fn k_weighting() -> Equalizer {
    Equalizer::from_coefs(vec![
        Coefs {
            b0: 1.535_124_859_586_97,
            b1: -2.691_696_189_406_38,
            b2: 1.198_392_810_852_85,
            a1: -1.690_659_293_182_41,
            a2: 0.732_480_774_215_85,
        },
        Coefs {
            b0: 1.0,
            b1: -2.0,
            b2: 1.0,
            a1: -1.990_047_454_833_98,
            a2: 0.990_072_250_366_21,
        },
    ])
}

/// Σ over channels of the K-weighted sample squared, for each frame of `pcm` from `skip` on
/// (the filter runs from the start).
pub fn k_energies(pcm: &[f32], skip: usize) -> Vec<f64> {
    let mut k = k_weighting();
    let mut y = pcm.to_vec();
    k.process(&mut y);
    y[(skip * 2).min(y.len())..]
        .chunks_exact(2)
        .map(|f| f64::from(f[0] * f[0] + f[1] * f[1]))
        .collect()
}

/// Sum per 100 ms hop of per-frame energies (a trailing partial hop is dropped).
pub fn hop_sums(energies: &[f64]) -> Vec<f64> {
    energies
        .chunks_exact(HOP)
        .map(|h| h.iter().sum::<f64>())
        .collect()
}

fn lufs(mean_square: f64) -> f64 {
    if mean_square > 0.0 {
        -0.691 + 10.0 * mean_square.log10()
    } else {
        f64::NEG_INFINITY
    }
}

/// Mean square of every 400 ms block (four consecutive hops, 75 % overlap) of each segment;
/// blocks never straddle two segments.
pub fn blocks(segments: &[Vec<f64>]) -> Vec<f64> {
    segments
        .iter()
        .flat_map(|hops| {
            hops.windows(4)
                .map(|w| w.iter().sum::<f64>() / (4 * HOP) as f64)
        })
        .collect()
}

/// BS.1770 gated integrated loudness of blocks' mean squares, LUFS (−∞ when nothing passes
/// the −70 LUFS gate).
pub fn integrated(blocks: &[f64]) -> f64 {
    let abs_gate = 10f64.powf((-70.0 + 0.691) / 10.0);
    let loud: Vec<f64> = blocks.iter().copied().filter(|&b| b > abs_gate).collect();
    if loud.is_empty() {
        return f64::NEG_INFINITY;
    }
    let rel_gate = loud.iter().sum::<f64>() / loud.len() as f64 * 0.1;
    let (sum, n) = loud
        .iter()
        .filter(|&&b| b > rel_gate)
        .fold((0.0, 0usize), |(s, n), b| (s + b, n + 1));
    lufs(sum / n.max(1) as f64)
}

/// Momentary loudness of every block, LUFS.
pub fn momentary(blocks: &[f64]) -> Vec<f64> {
    blocks.iter().map(|&b| lufs(b)).collect()
}

/// An excerpt of a track for measuring: 48 kHz interleaved stereo, of which the first
/// `skip` frames are context (fed through stages, not measured).
#[derive(Debug, Clone)]
pub struct Excerpt {
    pub pcm: Vec<f32>,
    pub skip: usize,
}

/// What the calibration keeps of one excerpt after the stages before the limiter.
struct Prepared {
    /// The excerpt after those stages.
    pcm: Vec<f32>,
    /// K-weighted energy per measured frame, and its sum per hop.
    energy: Vec<f64>,
    hops: Vec<f64>,
    /// True peak per frame, dB (−∞ below `floor_db`, where it was not worked out).
    peak_db: Vec<f32>,
    floor_db: f64,
    skip: usize,
}

/// Integrated loudness (LUFS) of excerpts as they are.
pub fn excerpts_loudness(excerpts: &[Excerpt]) -> f64 {
    let segments: Vec<Vec<f64>> = excerpts
        .iter()
        .map(|x| hop_sums(&k_energies(&x.pcm, x.skip)))
        .collect();
    integrated(&blocks(&segments))
}

/// Reduction the limiter keeps in hand when the calibration drives it (against peaks the
/// excerpts did not hear), dB.
const HEADROOM_DB: f64 = 6.0;
/// Highest trim above the first guess the search may try, dB.
const MAX_EXTRA_TRIM_DB: f64 = 12.0;
/// The true-peak trace is worked out for trims up to this far above the trim being tried,
/// and again (further) only if the search goes beyond.
const TRACE_MARGIN_DB: f64 = 4.0;

/// The gain (dB) to put before a limiter `lim` so that `pre` (the stages before it, made
/// fresh for each excerpt) followed by the limiter plays `excerpts` at `target` LUFS.
/// Returns 0 when the excerpts are silent.
pub fn calibrate_trim(
    excerpts: &[Excerpt],
    pre: &(dyn Fn() -> Chain + Sync),
    lim: &LimiterParams,
    target: f64,
) -> f64 {
    let mut prepared: Vec<Prepared> = par_map(excerpts, |x| {
        let mut pcm = x.pcm.clone();
        pre().process(&mut pcm);
        let skip = x.skip.min(pcm.len() / 2);
        let energy = k_energies(&pcm, skip);
        Prepared {
            hops: hop_sums(&energy),
            energy,
            pcm,
            peak_db: Vec::new(),
            floor_db: f64::INFINITY,
            skip,
        }
    });
    let plain = integrated(&blocks(
        &prepared.iter().map(|p| p.hops.clone()).collect::<Vec<_>>(),
    ));
    if !plain.is_finite() || !target.is_finite() {
        return 0.0;
    }
    // The search stays where the limiter can hold the ceiling with room to spare: a target
    // out of reach (a lone click, DC with a whisper of signal) must not drive it past its
    // range.
    let peak = prepared
        .iter()
        .flat_map(|p| p.pcm.iter())
        .fold(0.0f32, |m, s| m.max(s.abs()));
    let reach = lim.ceiling_db + MAX_REDUCTION_DB - HEADROOM_DB - 20.0 * f64::from(peak).log10();
    let hi = (target - plain + MAX_EXTRA_TRIM_DB).min(reach);
    let lo = (target - plain - 1.0).min(hi);
    let first = (target - plain).clamp(lo, hi);
    let interp = Interpolator::new();
    let mut measure = |t: f64| {
        // A frame can need reduction at trim t only if its peak exceeds ceiling − t.
        let floor = lim.ceiling_db - t;
        if prepared.iter().any(|p| floor < p.floor_db) {
            let floor = floor - TRACE_MARGIN_DB;
            let traces = par_map(&prepared, |p| peak_trace(&p.pcm, &interp, floor));
            for (p, trace) in prepared.iter_mut().zip(traces) {
                p.peak_db = trace;
                p.floor_db = floor;
            }
        }
        let segments = par_map(&prepared, |p| limited_hops(p, lim, t));
        integrated(&blocks(&segments)) - target
    };
    let mut a = (first, measure(first));
    if a.1.abs() <= 0.02 || (first >= hi && a.1 < 0.0) {
        return first;
    }
    // The limiter only ever lowers loudness, so the answer is at or above `first`.
    let mut b = {
        let t = (first - a.1).clamp(lo, hi);
        (t, measure(t))
    };
    for _ in 0..6 {
        if b.1.abs() <= 0.02 || (b.1 - a.1).abs() < 1e-9 {
            break;
        }
        let t = (b.0 - b.1 * (b.0 - a.0) / (b.1 - a.1)).clamp(lo, hi);
        a = b;
        b = (t, measure(t));
    }
    if b.1.abs() < a.1.abs() {
        b.0
    } else {
        a.0
    }
}

/// True peak per frame in dB, as the limiter detects it; frames whose neighbourhood stays
/// below `floor_db` are −∞.
fn peak_trace(y: &[f32], interp: &Interpolator, floor_db: f64) -> Vec<f32> {
    let floor = db_to_gain(floor_db) as f32;
    let hot = floor / interp.bound();
    let frames = y.len() / 2;
    let mut peak_db = vec![f32::NEG_INFINITY; frames];
    let (l, r): (Vec<f32>, Vec<f32>) = y.chunks_exact(2).map(|f| (f[0], f[1])).unzip();
    let mut hot_left = 0;
    for m in 0..frames {
        let mut tp = l[m].abs().max(r[m].abs());
        if tp > hot {
            hot_left = TAPS;
        }
        if hot_left > 0 {
            hot_left -= 1;
            if m + 1 >= TAPS {
                let s = m + 1 - TAPS;
                tp = tp.max(interp.peak(&l[s..=m])).max(interp.peak(&r[s..=m]));
            }
        }
        if tp > floor {
            peak_db[m] = fast_log2(tp) * (20.0 * std::f32::consts::LOG10_2);
        }
    }
    peak_db
}

/// Hop sums of an excerpt's K-weighted energy after a limiter `lim` with trim `t` dB: the
/// limiter's gain path runs over the true-peak trace, and only the frames it reduces change
/// their hop's sum.
fn limited_hops(p: &Prepared, lim: &LimiterParams, t: f64) -> Vec<f64> {
    let trim_power = db_to_gain(2.0 * t);
    let depth = lim.depth.clamp(0.0, 1.0);
    let offset = (t - lim.ceiling_db) as f32;
    let mut env = GainEnvelope::new(lim.release_db_s);
    let delay = GainEnvelope::delay();
    let mut hops = p.hops.clone();
    let end = p.peak_db.len() + delay;
    let mut n = 0;
    while n < end {
        if env.is_idle() {
            // Jump to the next frame that needs reduction (or the end).
            let next = p.peak_db[n.min(p.peak_db.len())..]
                .iter()
                .position(|&db| db + offset > 0.0)
                .map_or(end, |k| n + k);
            env.skip((next - n) as u64);
            n = next;
            if n >= end {
                break;
            }
        }
        let req = match p.peak_db.get(n) {
            Some(&db) if db + offset > 0.0 => depth * f64::from(db + offset),
            _ => 0.0,
        };
        let gr = env.push(req);
        // The reduction coming out now belongs to frame n − delay.
        if let (true, Some(q)) = (gr > 0.0, n.checked_sub(delay + p.skip)) {
            if let (Some(e), Some(h)) = (p.energy.get(q), hops.get_mut(q / HOP)) {
                let g = fast_db_to_gain(-gr as f32);
                *h -= e * f64::from(1.0 - g * g);
            }
        }
        n += 1;
    }
    hops.iter().map(|h| h.max(0.0) * trim_power).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::LoudnessMeter;

    #[test]
    fn meter_agrees_with_ebur128_on_noise() {
        let mut rng = 1u64;
        let pcm: Vec<f32> = (0..48_000 * 12)
            .map(|i| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let w = (rng >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                // Louder in the second half so gating matters little but blocks differ.
                w * if i > 48_000 * 6 { 0.6 } else { 0.2 }
            })
            .collect();
        let ours = excerpts_loudness(&[Excerpt {
            pcm: pcm.clone(),
            skip: 0,
        }]);
        let mut m = LoudnessMeter::new(48_000).unwrap();
        m.add(&pcm).unwrap();
        let theirs = m.finish().unwrap().integrated_lufs;
        assert!(
            (ours - theirs).abs() < 0.02,
            "ours {ours}, ebur128 {theirs}"
        );
    }
}
