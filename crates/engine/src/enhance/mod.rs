//! The enhancement stage: between resampling and encoding, 48 kHz interleaved stereo.
//!
//! A preset plus an intensity becomes a [`Chain`] of [`Stage`]s. Every stage processes
//! samples in order and keeps its state across calls, so how the stream is cut into blocks
//! never changes the result; [`crate::render`] starts each chain [`Chain::warmup_frames`]
//! early so a chunk equals the same samples of a continuous render.
//!
//! One module per stage: [`eq`] (shelves and peaking bands), [`dynamics`] (compressor),
//! [`width`], [`loudness`] (gain, meter, calibration) and [`limiter`] (true peak); [`analysis`]
//! measures a track once and [`presets`] turns a preset, an intensity and that analysis into
//! a chain. Adding a preset means a [`Preset`] variant and its design in [`presets::design`].
//!
//! Intensity scales the processing itself (EQ gains, compression ratio, width, loudness
//! change, the limiter's fade-in) — never a dry/wet mix — and intensity 0 is exactly bypass.

pub mod analysis;
pub mod dynamics;
pub mod eq;
pub mod limiter;
pub mod loudness;
pub mod presets;
pub mod width;

use std::fmt;
use std::str::FromStr;

pub use analysis::{album_loudness, TrackAnalysis};

use crate::error::{Error, Result};

/// One processing stage on interleaved stereo frames.
pub trait Stage: Send {
    /// Process `frames` (interleaved stereo) in place. Must give the same output however the
    /// stream is split into calls.
    fn process(&mut self, frames: &mut [f32]);
    /// Frames by which this stage delays its output (look-ahead). The chain compensates.
    fn latency(&self) -> usize {
        0
    }
}

/// The stages a preset runs, in order.
pub struct Chain {
    stages: Vec<Box<dyn Stage>>,
    warmup: u64,
}

impl Chain {
    /// The chain that changes nothing.
    pub fn identity() -> Self {
        Chain {
            stages: Vec::new(),
            warmup: 0,
        }
    }

    /// A chain of `stages` whose state settles (to below −90 dBFS of difference) within
    /// `warmup` frames of starting.
    pub fn new(stages: Vec<Box<dyn Stage>>, warmup: u64) -> Self {
        Chain { stages, warmup }
    }

    /// Frames of context a render must feed before the first frame it keeps.
    pub fn warmup_frames(&self) -> u64 {
        if self.stages.is_empty() {
            0
        } else {
            self.warmup
        }
    }

    /// Total look-ahead of the stages, in frames.
    pub fn latency(&self) -> usize {
        self.stages.iter().map(|s| s.latency()).sum()
    }

    /// Process a block in place.
    pub fn process(&mut self, frames: &mut [f32]) {
        for stage in &mut self.stages {
            stage.process(frames);
        }
    }
}

/// Map `f` over `items` on the machine's cores (at most one thread per item), results in
/// order. Track analysis runs before a track's first chunk, when the cores are otherwise idle.
pub(crate) fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len());
    if workers <= 1 {
        return items.iter().map(f).collect();
    }
    let per = items.len().div_ceil(workers);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(per)
            .map(|part| {
                let f = &f;
                scope.spawn(move || part.iter().map(f).collect::<Vec<R>>())
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// The named presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Preset {
    Adaptive,
    Gentle,
    Warm,
    Bright,
    Punchy,
    Bypass,
    OriginalMatched,
}

impl Preset {
    /// Every preset, in the order a menu shows them.
    pub const ALL: [Preset; 7] = [
        Preset::Adaptive,
        Preset::Gentle,
        Preset::Warm,
        Preset::Bright,
        Preset::Punchy,
        Preset::Bypass,
        Preset::OriginalMatched,
    ];

    /// The stable name used by the CLI, the stream API and the UI.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Adaptive => "adaptive",
            Preset::Gentle => "gentle",
            Preset::Warm => "warm",
            Preset::Bright => "bright",
            Preset::Punchy => "punchy",
            Preset::Bypass => "bypass",
            Preset::OriginalMatched => "original-matched",
        }
    }

    /// One line for a person.
    pub fn description(self) -> &'static str {
        match self {
            Preset::Adaptive => {
                "Listens to the track and corrects only what it needs, at a steady loudness"
            }
            Preset::Gentle => "A light touch: small tonal tilt, mild compression",
            Preset::Warm => "Fuller lows and softer upper mids",
            Preset::Bright => "More presence and air, less low-mid mud",
            Preset::Punchy => "Tighter low end and livelier transients",
            Preset::Bypass => "The original, untouched",
            Preset::OriginalMatched => {
                "The original at the loudness of the chosen preset, for a fair A/B"
            }
        }
    }

    /// Whether the preset processes the sound (and so needs the track's analysis).
    pub fn processes(self) -> bool {
        self != Preset::Bypass
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Preset {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Preset::ALL.iter().map(|p| p.name()).collect();
                Error::InvalidParameter(format!(
                    "unknown preset '{s}' (choose one of: {})",
                    names.join(", ")
                ))
            })
    }
}

/// Steps of intensity that are told apart (the cache key and the processing both use them).
const INTENSITY_STEPS: f32 = 1000.0;

/// A validated preset + intensity: what the user chose.
///
/// `original-matched` plays the original at the loudness (and with the true-peak safety) of
/// a *reference* preset at the same intensity: `adaptive` unless [`Enhancement::matched_to`]
/// names another. The preset name stays `original-matched`; the reference is part of
/// [`Enhancement::key`] (`original-matched:warm@1000`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Enhancement {
    preset: Preset,
    /// Intensity in thousandths (0…=1000).
    intensity_milli: u16,
    /// What `original-matched` matches (always `Adaptive` for other presets).
    reference: Preset,
    /// Album mode: the loudness of the album the track belongs to, in tenths of LUFS. The
    /// loudness stage then moves every track of the album by the same gain (the album's
    /// distance to the target), so the album keeps its own loudness differences.
    album_deci_lufs: Option<i16>,
}

impl Enhancement {
    /// Validate `intensity` (0…1).
    pub fn new(preset: Preset, intensity: f32) -> Result<Self> {
        if !intensity.is_finite() || !(0.0..=1.0).contains(&intensity) {
            return Err(Error::InvalidParameter(format!(
                "intensity must be between 0 and 1, not {intensity}"
            )));
        }
        Ok(Enhancement {
            preset,
            intensity_milli: (intensity * INTENSITY_STEPS).round() as u16,
            reference: Preset::Adaptive,
            album_deci_lufs: None,
        })
    }

    /// A choice as the UI names it: a preset name, or `original-matched:REFERENCE` for the
    /// original at the loudness of REFERENCE.
    pub fn from_choice(choice: &str, intensity: f32) -> Result<Self> {
        match choice.split_once(':') {
            Some((preset, reference)) => {
                Enhancement::new(preset.parse()?, intensity)?.matched_to(reference.parse()?)
            }
            None => Enhancement::new(choice.parse()?, intensity),
        }
    }

    /// For `original-matched`: match the loudness of `reference` (a processing preset)
    /// instead of `adaptive`. Other presets ignore it.
    pub fn matched_to(self, reference: Preset) -> Result<Self> {
        if matches!(reference, Preset::Bypass | Preset::OriginalMatched) {
            return Err(Error::InvalidParameter(format!(
                "'original-matched' matches the loudness of a preset that processes; \
                 '{reference}' does not"
            )));
        }
        if self.preset != Preset::OriginalMatched {
            return Ok(self);
        }
        Ok(Enhancement { reference, ..self })
    }

    /// No processing at all.
    pub fn bypass() -> Self {
        Enhancement {
            preset: Preset::Bypass,
            intensity_milli: 0,
            reference: Preset::Adaptive,
            album_deci_lufs: None,
        }
    }

    /// Album mode: level the track as part of an album whose loudness is `lufs` (see
    /// [`album_loudness`](analysis::album_loudness)) instead of on its own. A silent album
    /// (−∞) leaves the choice in track mode.
    pub fn with_album_loudness(self, lufs: f64) -> Result<Self> {
        if lufs == f64::NEG_INFINITY {
            return Ok(Enhancement {
                album_deci_lufs: None,
                ..self
            });
        }
        if !lufs.is_finite() || !(-100.0..=10.0).contains(&lufs) {
            return Err(Error::InvalidParameter(format!(
                "an album loudness must be between -100 and 10 LUFS, not {lufs}"
            )));
        }
        Ok(Enhancement {
            album_deci_lufs: Some((lufs * 10.0).round() as i16),
            ..self
        })
    }

    /// The album loudness in force (album mode), LUFS.
    pub fn album_loudness(&self) -> Option<f64> {
        self.album_deci_lufs.map(|d| f64::from(d) / 10.0)
    }

    /// The preset.
    pub fn preset(&self) -> Preset {
        self.preset
    }

    /// The preset whose loudness `original-matched` matches.
    pub fn reference(&self) -> Preset {
        self.reference
    }

    /// Whether rendering this choice needs the track's analysis (anything but bypass).
    pub fn needs_analysis(&self) -> bool {
        self.preset.processes() && self.intensity_milli > 0
    }

    /// The intensity, quantised to thousandths.
    pub fn intensity(&self) -> f32 {
        f32::from(self.intensity_milli) / INTENSITY_STEPS
    }

    /// A stable text that identifies this choice in cache keys.
    pub fn key(&self) -> String {
        let choice = match self.preset {
            Preset::OriginalMatched => format!(
                "{}:{}@{}",
                self.preset.name(),
                self.reference.name(),
                self.intensity_milli
            ),
            _ => format!("{}@{}", self.preset.name(), self.intensity_milli),
        };
        match self.album_deci_lufs {
            Some(d) if self.needs_analysis() => format!("{choice}/album{d}"),
            _ => choice,
        }
    }

    /// What the chain for this choice does on a track analysed as `analysis`: stages and
    /// their parameters (the loudness trim calibrated once per track and choice).
    pub fn spec(&self, analysis: &TrackAnalysis) -> presets::ChainSpec {
        presets::spec(
            self.preset,
            self.reference,
            f64::from(self.intensity()),
            self.album_loudness(),
            &self.key(),
            analysis,
        )
    }

    /// A fresh chain for this choice on a track analysed as `analysis` (bypass and
    /// intensity 0 need none: pass [`TrackAnalysis::none`]).
    pub fn chain(&self, analysis: &TrackAnalysis) -> Chain {
        if !self.needs_analysis() {
            return Chain::identity();
        }
        self.spec(analysis).chain()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_explain_themselves() {
        for p in Preset::ALL {
            assert_eq!(p.name().parse::<Preset>().ok(), Some(p));
        }
        let err = "loud".parse::<Preset>().err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("adaptive") && e.contains("loud")));
    }

    #[test]
    fn intensity_is_validated_and_quantised() {
        assert!(Enhancement::new(Preset::Bypass, 1.5).is_err());
        assert!(Enhancement::new(Preset::Bypass, f32::NAN).is_err());
        let e = Enhancement::new(Preset::Bypass, 0.12345);
        assert_eq!(e.ok().map(|e| e.key()), Some("bypass@123".to_string()));
    }

    #[test]
    fn album_mode_is_in_the_key_of_what_it_changes() -> Result<()> {
        let a = Enhancement::new(Preset::Adaptive, 1.0)?.with_album_loudness(-17.35)?;
        assert_eq!(a.key(), "adaptive@1000/album-174");
        assert_eq!(a.album_loudness(), Some(-17.4));
        // Nothing to level: bypass and a silent album stay as they are.
        let b = Enhancement::bypass().with_album_loudness(-17.35)?;
        assert_eq!(b.key(), Enhancement::bypass().key());
        let silent = Enhancement::new(Preset::Warm, 0.5)?.with_album_loudness(f64::NEG_INFINITY)?;
        assert_eq!(silent.key(), "warm@500");
        assert!(Enhancement::bypass().with_album_loudness(f64::NAN).is_err());
        assert!(Enhancement::bypass().with_album_loudness(1e9).is_err());
        Ok(())
    }

    #[test]
    fn album_loudness_is_the_length_weighted_mean_power() {
        let l = album_loudness(&[(-14.0, 10.0), (-24.0, 10.0), (f64::NEG_INFINITY, 99.0)]);
        assert!((l - -16.596).abs() < 0.01, "{l}");
        assert!((album_loudness(&[(-20.0, 1.0), (-20.0, 300.0)]) - -20.0).abs() < 1e-9);
        assert_eq!(album_loudness(&[]), f64::NEG_INFINITY);
        assert_eq!(album_loudness(&[(-20.0, 0.0)]), f64::NEG_INFINITY);
    }

    #[test]
    fn original_matched_names_its_reference_in_the_key() -> Result<()> {
        let m = Enhancement::new(Preset::OriginalMatched, 1.0)?;
        assert_eq!(m.reference(), Preset::Adaptive);
        assert_eq!(m.key(), "original-matched:adaptive@1000");
        assert_eq!(
            m.matched_to(Preset::Warm)?.key(),
            "original-matched:warm@1000"
        );
        assert!(m.matched_to(Preset::Bypass).is_err());
        let w = Enhancement::new(Preset::Warm, 0.5)?.matched_to(Preset::Bright)?;
        assert_eq!(w.key(), "warm@500");
        let c = Enhancement::from_choice("original-matched:punchy", 1.0)?;
        assert_eq!(c.key(), "original-matched:punchy@1000");
        assert_eq!(Enhancement::from_choice("warm", 0.5)?.key(), "warm@500");
        assert!(Enhancement::from_choice("original-matched:bypass", 1.0).is_err());
        assert!(Enhancement::from_choice("loud", 1.0).is_err());
        Ok(())
    }
}
