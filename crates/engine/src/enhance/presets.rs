//! What each preset does: its EQ, compressor, width and loudness target, how `adaptive`
//! decides them from the track's analysis, and how intensity scales them.
//!
//! The chain is always, in order (stages that would do nothing are left out):
//! EQ → loudness gain → compressor → width → trim + true-peak limiter.
//! The loudness gain moves the track towards the target by `intensity ×` the distance, so
//! the compressor's threshold sits at a known place relative to the program; the trim before
//! the limiter is calibrated on the track's excerpts so the output, after EQ, compression
//! and limiting, plays at the (intensity-scaled) target.
//!
//! | preset | EQ at intensity 1 | compressor (threshold vs. target, ratio, attack, max) | width | target |
//! |---|---|---|---|---|
//! | `gentle` | low shelf 150 Hz +1.5, high shelf 7 kHz +1 | +3 dB, 1.5:1, 15 ms, 6 dB, 10 dB knee | — | −16 LUFS |
//! | `warm` | low shelf 120 Hz +3, peak 2.8 kHz −2.5 (Q 0.9), high shelf 9 kHz −1 | +1 dB, 2:1, 12 ms, 8 dB | — | −14 LUFS |
//! | `bright` | peak 250 Hz −2 (Q 1), peak 3.5 kHz +2.5 (Q 1), high shelf 10 kHz +3 | +1 dB, 2:1, 10 ms, 8 dB | side +1.5 dB | −14 LUFS |
//! | `punchy` | low shelf 35 Hz −4, peak 70 Hz +2.5 (Q 1.2), peak 300 Hz −2.5, peak 4 kHz +1.5 | −1 dB, 3:1, 30 ms (transients pass), 10 dB, 5 ms detector | — | −13 LUFS |
//! | `adaptive` | ±4 dB at most: low shelf 100 Hz, peak 300 Hz, peak 3.5 kHz, high shelf 10 kHz, from the track's balance against [`NEUTRAL_DB`] | only for a crest factor > 12 dB or a loudness range > 6 LU: up to 2.5:1 | −1.5…+1 dB from L/R correlation | −14 LUFS |
//! | `original-matched` | — | — | — | its reference's |
//!
//! Every processing preset ends in the true-peak limiter at [`CEILING_DBTP`] (release
//! 60 dB/s, 2 ms look-ahead). Intensity multiplies EQ gains, the compressor's ratio above 1,
//! the width and the loudness change; the limiter fades in over intensities 0…[`FULL_SAFETY_AT`].

use super::analysis::{TrackAnalysis, TrackStats};
use super::dynamics::{Compressor, CompressorParams};
use super::eq::{Band, BandKind, Equalizer};
use super::limiter::{Limiter, LimiterParams};
use super::loudness::{calibrate_trim, Gain};
use super::width::Width;
use super::{Chain, Preset, Stage};

/// Highest true peak before encoding, dBTP. The 2 dB below the −1 dBTP the decoded Opus must
/// hold absorb the codec's overshoot: about +0.1 dB on unlimited music, +0.5 dB on typical
/// limited music, and up to +1.7 dB measured on a treble-boosted, hard-limited clipped master
/// (`tests/presets_loudness.rs` prints the readings).
pub const CEILING_DBTP: f64 = -3.0;
/// Limiter release, dB/s.
const LIMITER_RELEASE_DB_S: f64 = 60.0;
/// Intensity from which the limiter applies its full reduction; below, it fades in so that
/// intensity 0 is exactly bypass and the output changes continuously with intensity.
pub const FULL_SAFETY_AT: f64 = 0.25;
/// Most gain the loudness stage adds to a quiet track, dB: near-silent recordings are not
/// pulled up to the target (their noise would be).
pub const MAX_BOOST_DB: f64 = 20.0;
/// Most gain the loudness stage removes, dB.
pub const MAX_CUT_DB: f64 = 30.0;

/// A preset's intent at full intensity.
#[derive(Debug, Clone, PartialEq)]
pub struct Design {
    /// Loudness the output plays at, LUFS.
    pub target_lufs: f64,
    pub bands: Vec<Band>,
    /// Compressor with its threshold relative to the target loudness.
    pub compressor: Option<CompressorParams>,
    /// Side gain, dB.
    pub width_db: f64,
}

/// A preset's chain for one track at one intensity, fully decided.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainSpec {
    pub bands: Vec<Band>,
    pub gain_db: f64,
    pub compressor: Option<CompressorParams>,
    pub width_db: f64,
    pub limiter: LimiterParams,
    /// Loudness the output is calibrated to, LUFS (−∞ for silence).
    pub target_lufs: f64,
}

fn comp(threshold_db: f64, ratio: f64, attack_ms: f64, max_reduction_db: f64) -> CompressorParams {
    CompressorParams {
        threshold_db,
        ratio,
        knee_db: 8.0,
        attack_ms,
        detector_ms: 15.0,
        release_fast_db_s: 40.0,
        release_slow_db_s: 12.0,
        sustain_ms: 250.0,
        max_reduction_db,
    }
}

/// The design of `preset` for a track measured as `stats` (only `adaptive` looks).
pub fn design(preset: Preset, stats: &TrackStats) -> Design {
    use BandKind::{HighShelf, LowShelf, Peak};
    match preset {
        Preset::Gentle => Design {
            target_lufs: -16.0,
            bands: vec![
                Band::new(LowShelf, 150.0, 0.707, 1.5),
                Band::new(HighShelf, 7_000.0, 0.707, 1.0),
            ],
            compressor: Some(CompressorParams {
                knee_db: 10.0,
                ..comp(3.0, 1.5, 15.0, 6.0)
            }),
            width_db: 0.0,
        },
        Preset::Warm => Design {
            target_lufs: -14.0,
            bands: vec![
                Band::new(LowShelf, 120.0, 0.707, 3.0),
                Band::new(Peak, 2_800.0, 0.9, -2.5),
                Band::new(HighShelf, 9_000.0, 0.707, -1.0),
            ],
            compressor: Some(comp(1.0, 2.0, 12.0, 8.0)),
            width_db: 0.0,
        },
        Preset::Bright => Design {
            target_lufs: -14.0,
            bands: vec![
                Band::new(Peak, 250.0, 1.0, -2.0),
                Band::new(Peak, 3_500.0, 1.0, 2.5),
                Band::new(HighShelf, 10_000.0, 0.707, 3.0),
            ],
            compressor: Some(comp(1.0, 2.0, 10.0, 8.0)),
            width_db: 1.5,
        },
        Preset::Punchy => Design {
            target_lufs: -13.0,
            bands: vec![
                Band::new(LowShelf, 35.0, 0.707, -4.0),
                Band::new(Peak, 70.0, 1.2, 2.5),
                Band::new(Peak, 300.0, 1.0, -2.5),
                Band::new(Peak, 4_000.0, 1.0, 1.5),
            ],
            compressor: Some(CompressorParams {
                knee_db: 6.0,
                detector_ms: 5.0,
                release_fast_db_s: 60.0,
                release_slow_db_s: 15.0,
                ..comp(-1.0, 3.0, 30.0, 10.0)
            }),
            width_db: 0.0,
        },
        Preset::Adaptive => adaptive(stats),
        Preset::Bypass | Preset::OriginalMatched => Design {
            target_lufs: f64::NAN,
            bands: Vec::new(),
            compressor: None,
            width_db: 0.0,
        },
    }
}

/// The neutral balance `adaptive` steers towards: energy per octave of each analysis region
/// relative to the mid region, dB (flat to 2 kHz like pink noise, then the gentle treble
/// roll-off of typical well-balanced masters).
pub const NEUTRAL_DB: [f64; 5] = [0.0, 0.0, 0.0, -2.0, -6.0];
/// Deviations smaller than this are left alone, dB.
const DEADBAND_DB: f64 = 1.5;
/// Share of the remaining deviation corrected (the track keeps its character).
const CORRECTION: f64 = 0.6;
/// Largest EQ correction, dB.
pub const MAX_CORRECTION_DB: f64 = 4.0;

/// `adaptive`: bounded corrections towards a neutral balance, compression only for wide
/// dynamics, width only for extreme images, −14 LUFS.
pub fn adaptive(s: &TrackStats) -> Design {
    let correction = |region: usize| {
        let dev = NEUTRAL_DB[region] - s.regions_db[region];
        let beyond = (dev.abs() - DEADBAND_DB).max(0.0) * dev.signum();
        (CORRECTION * beyond).clamp(-MAX_CORRECTION_DB, MAX_CORRECTION_DB)
    };
    let bands = vec![
        Band::new(BandKind::LowShelf, 100.0, 0.707, correction(0)),
        Band::new(BandKind::Peak, 300.0, 0.9, correction(1)),
        Band::new(BandKind::Peak, 3_500.0, 0.9, correction(3)),
        Band::new(BandKind::HighShelf, 10_000.0, 0.707, correction(4)),
    ];
    // Dynamics: a crest factor above ~12 dB or a loudness range above ~6 LU call for some
    // compression; dense masters get none.
    let need = ((s.crest_db - 12.0) / 10.0)
        .max((s.loudness_range_lu - 6.0) / 10.0)
        .clamp(0.0, 1.0);
    let compressor = (need > 0.0 && s.loudness_lufs.is_finite()).then(|| CompressorParams {
        knee_db: 10.0,
        detector_ms: 20.0,
        ..comp(2.0 - 2.0 * need, 1.0 + 1.5 * need, 15.0, 3.0 + 5.0 * need)
    });
    // Width: narrow a very wide (phasey) image, open up a narrow one; leave mono and
    // near-mono alone (widening those only raises noise).
    let c = s.correlation;
    let width_db = if !s.side_db.is_finite() || s.side_db < -30.0 {
        0.0
    } else if c < 0.5 {
        -1.5 * ((0.5 - c) / 0.3).min(1.0)
    } else if c > 0.8 {
        1.0 * ((c - 0.8) / 0.1).min(1.0)
    } else {
        0.0
    };
    Design {
        target_lufs: -14.0,
        bands,
        compressor,
        width_db,
    }
}

/// The chain `preset` (with `reference` for `original-matched`) plays at `intensity` on a
/// track analysed as `analysis`. Calibrates the limiter trim (once per key and track).
///
/// The loudness stage moves the track by `intensity ×` its distance to the target; in album
/// mode (`album_lufs`) by the album's distance instead, the same for every track of the
/// album, so a quiet interlude stays as much quieter than the songs around it as it was.
pub fn spec(
    preset: Preset,
    reference: Preset,
    intensity: f64,
    album_lufs: Option<f64>,
    key: &str,
    analysis: &TrackAnalysis,
) -> ChainSpec {
    let stats = analysis.stats();
    let matched = preset == Preset::OriginalMatched;
    let d = design(if matched { reference } else { preset }, stats);
    let i = intensity.clamp(0.0, 1.0);
    let level = album_lufs
        .filter(|l| l.is_finite())
        .unwrap_or(stats.loudness_lufs);
    let (gain_db, target) = if stats.loudness_lufs.is_finite() && d.target_lufs.is_finite() {
        let delta = (d.target_lufs - level).clamp(-MAX_CUT_DB, MAX_BOOST_DB);
        (i * delta, stats.loudness_lufs + i * delta)
    } else {
        (0.0, f64::NEG_INFINITY)
    };
    let mut spec = ChainSpec {
        bands: if matched {
            Vec::new()
        } else {
            d.bands.iter().map(|b| b.scaled(i)).collect()
        },
        gain_db,
        compressor: if matched || !target.is_finite() {
            None
        } else {
            d.compressor.map(|c| CompressorParams {
                threshold_db: target + c.threshold_db,
                ratio: 1.0 + (c.ratio - 1.0) * i,
                ..c
            })
        },
        width_db: if matched { 0.0 } else { d.width_db * i },
        limiter: LimiterParams {
            ceiling_db: CEILING_DBTP,
            release_db_s: LIMITER_RELEASE_DB_S,
            depth: (i / FULL_SAFETY_AT).min(1.0),
            input_gain_db: 0.0,
        },
        target_lufs: target,
    };
    if target.is_finite() {
        let pre = spec.clone();
        spec.limiter.input_gain_db = analysis.trim(key, || {
            calibrate_trim(
                analysis.excerpts(),
                &|| pre.pre_chain(),
                &pre.limiter,
                target,
            )
        });
    }
    spec
}

impl ChainSpec {
    fn stages(&self) -> (Vec<Box<dyn Stage>>, u64) {
        let mut stages: Vec<Box<dyn Stage>> = Vec::new();
        let mut settle = 0;
        let eq = Equalizer::new(&self.bands);
        if !eq.is_empty() {
            settle += eq.settle_frames();
            stages.push(Box::new(eq));
        }
        if self.gain_db != 0.0 {
            stages.push(Box::new(Gain::new(self.gain_db)));
        }
        if let Some(c) = self.compressor.filter(|c| c.is_active()) {
            let c = Compressor::new(c);
            settle += c.settle_frames();
            stages.push(Box::new(c));
        }
        if self.width_db != 0.0 {
            stages.push(Box::new(Width::new(self.width_db)));
        }
        (stages, settle)
    }

    /// The stages before the limiter (what the calibration runs on the excerpts).
    pub fn pre_chain(&self) -> Chain {
        let (stages, settle) = self.stages();
        Chain::new(stages, settle)
    }

    /// The whole chain.
    pub fn chain(&self) -> Chain {
        let (mut stages, mut settle) = self.stages();
        if self.limiter.depth > 0.0 {
            let l = Limiter::new(self.limiter);
            settle += l.settle_frames();
            stages.push(Box::new(l));
        }
        Chain::new(stages, settle)
    }
}
