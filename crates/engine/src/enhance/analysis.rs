//! Track analysis: what `adaptive` listens to, and the excerpts every preset's loudness is
//! calibrated on.
//!
//! A track is not decoded whole: [`EXCERPTS`] short excerpts spread evenly over it are
//! rendered (decode after a seek, resample; the same 48 kHz stream the chunks are made of),
//! which keeps a never-seen track's analysis to a few tens of milliseconds. Short tracks are
//! taken whole. The choice of excerpts depends only on the track's length, so the analysis —
//! and every track-level decision made from it — is the same on every run, whatever chunk is
//! asked for first.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use realfft::RealFftPlanner;

use super::loudness::{self, Excerpt};
use super::{par_map, Chain};
use crate::decode::SourceInfo;
use crate::error::Result;
use crate::render;

/// Excerpts taken from a track longer than [`WHOLE_TRACK_S`]. Sixteen short excerpts
/// estimate the integrated loudness of music with slow, large swells far better than eight
/// long ones for about the same decoding cost (each seek decodes a fixed warm-up).
pub const EXCERPTS: usize = 16;
/// Length of each excerpt, seconds, of which [`CONTEXT_S`] feed the stages unmeasured.
pub const EXCERPT_S: f64 = 0.8;
pub const CONTEXT_S: f64 = 0.2;
/// Tracks up to this long are analysed whole.
pub const WHOLE_TRACK_S: f64 = 15.0;

/// Spectral regions compared by `adaptive`, Hz: low, low-mid, mid (the reference),
/// presence, air.
pub const REGIONS: [(f64, f64); 5] = [
    (40.0, 160.0),
    (160.0, 500.0),
    (500.0, 2_000.0),
    (2_000.0, 6_000.0),
    (8_000.0, 16_000.0),
];

/// What the analysis measured.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackStats {
    /// Gated integrated loudness of the excerpts, LUFS (−∞: silent).
    pub loudness_lufs: f64,
    /// Spread of momentary loudness (10th to 95th percentile of gated 400 ms blocks), LU:
    /// a loudness range measured on excerpts.
    pub loudness_range_lu: f64,
    /// Highest sample, dBFS.
    pub peak_dbfs: f64,
    /// Peak to loudness ratio (crest), dB.
    pub crest_db: f64,
    /// Correlation of left and right, −1…1 (1: mono).
    pub correlation: f64,
    /// Side energy relative to mid energy, dB (−∞: mono).
    pub side_db: f64,
    /// Energy per octave of each of [`REGIONS`], dB relative to the mid region's.
    pub regions_db: [f64; 5],
    /// Seconds of audio measured.
    pub seconds: f64,
}

impl TrackStats {
    fn silent() -> Self {
        TrackStats {
            loudness_lufs: f64::NEG_INFINITY,
            loudness_range_lu: 0.0,
            peak_dbfs: f64::NEG_INFINITY,
            crest_db: 0.0,
            correlation: 1.0,
            side_db: f64::NEG_INFINITY,
            regions_db: [0.0; 5],
            seconds: 0.0,
        }
    }
}

/// The loudness of an album from its tracks' `(integrated loudness LUFS, seconds)`: their
/// mean power weighted by length (silent tracks left out), as ReplayGain's and R128's album
/// gain measure the album as one program. −∞ when every track is silent.
pub fn album_loudness(tracks: &[(f64, f64)]) -> f64 {
    let (mut power, mut seconds) = (0.0, 0.0);
    for &(lufs, s) in tracks {
        if lufs.is_finite() && s.is_finite() && s > 0.0 {
            power += s * 10f64.powf(lufs / 10.0);
            seconds += s;
        }
    }
    if seconds > 0.0 && power > 0.0 {
        10.0 * (power / seconds).log10()
    } else {
        f64::NEG_INFINITY
    }
}

/// Most calibrations remembered per track (one per preset × intensity tried).
const MAX_TRIMS: usize = 64;

/// A track's analysis: its statistics, its excerpts, and the loudness calibrations made so
/// far for it (each computed once per preset and intensity).
///
/// An analysis can be kept outside the engine ([`TrackAnalysis::to_stored`], e.g. in the
/// library, made at scan time) and brought back ([`TrackAnalysis::from_stored`]) without
/// rendering anything: the statistics and the calibrations stored are the very numbers
/// measured, so what is rendered with them is byte for byte what a fresh analysis gives. The
/// excerpts are then rendered only if a calibration that was not stored is asked for.
pub struct TrackAnalysis {
    stats: TrackStats,
    excerpts: OnceLock<Vec<Excerpt>>,
    /// Where the excerpts come from when they were not rendered yet (a stored analysis).
    source: Option<(PathBuf, SourceInfo)>,
    trims: Mutex<HashMap<String, f64>>,
}

/// The first field of a stored analysis: its layout's version.
const STORED_VERSION: &str = "a1";

impl TrackAnalysis {
    /// Nothing measured: what bypass needs.
    pub fn none() -> Self {
        TrackAnalysis {
            stats: TrackStats::silent(),
            excerpts: OnceLock::from(Vec::new()),
            source: None,
            trims: Mutex::new(HashMap::new()),
        }
    }

    /// Analyse excerpts already rendered at 48 kHz.
    pub fn from_excerpts(excerpts: Vec<Excerpt>) -> Self {
        TrackAnalysis {
            stats: measure(&excerpts),
            excerpts: OnceLock::from(excerpts),
            source: None,
            trims: Mutex::new(HashMap::new()),
        }
    }

    /// Analyse the file at `path`: render its excerpts (no enhancement) and measure them.
    pub fn from_file(path: &Path, info: &SourceInfo) -> Result<Self> {
        Ok(Self::from_excerpts(render_excerpts(path, info)?))
    }

    /// What [`TrackAnalysis::from_stored`] takes back: the statistics and every calibration
    /// made so far, as exact numbers (the bits of each `f64`), in one line of text.
    pub fn to_stored(&self) -> String {
        let s = &self.stats;
        let mut fields = vec![
            s.loudness_lufs,
            s.loudness_range_lu,
            s.peak_dbfs,
            s.crest_db,
            s.correlation,
            s.side_db,
        ];
        fields.extend(s.regions_db);
        fields.push(s.seconds);
        let stats: Vec<String> = fields
            .iter()
            .map(|x| format!("{:x}", x.to_bits()))
            .collect();
        let trims = self.trims.lock().unwrap_or_else(|e| e.into_inner());
        let mut trims: Vec<String> = trims
            .iter()
            .filter(|(k, _)| !k.contains([';', ',', '=']))
            .map(|(k, t)| format!("{k}={:x}", t.to_bits()))
            .collect();
        trims.sort();
        format!("{STORED_VERSION};{};{}", stats.join(","), trims.join(","))
    }

    /// An analysis stored by [`TrackAnalysis::to_stored`] for the file at `path` (whose
    /// excerpts are rendered if a calibration not stored is asked for). `None` when `stored`
    /// is not such a text (another version, damaged).
    pub fn from_stored(stored: &str, path: &Path, info: &SourceInfo) -> Option<Self> {
        let mut parts = stored.split(';');
        if parts.next()? != STORED_VERSION {
            return None;
        }
        let bits = |x: &str| u64::from_str_radix(x, 16).ok().map(f64::from_bits);
        let f: Vec<f64> = parts.next()?.split(',').map(bits).collect::<Option<_>>()?;
        let [loudness_lufs, loudness_range_lu, peak_dbfs, crest_db, correlation, side_db, r0, r1, r2, r3, r4, seconds] =
            f[..]
        else {
            return None;
        };
        let mut trims = HashMap::new();
        for t in parts.next()?.split(',').filter(|t| !t.is_empty()) {
            let (k, v) = t.split_once('=')?;
            trims.insert(k.to_string(), bits(v)?);
        }
        if parts.next().is_some() || trims.len() > MAX_TRIMS {
            return None;
        }
        Some(TrackAnalysis {
            stats: TrackStats {
                loudness_lufs,
                loudness_range_lu,
                peak_dbfs,
                crest_db,
                correlation,
                side_db,
                regions_db: [r0, r1, r2, r3, r4],
                seconds,
            },
            excerpts: OnceLock::new(),
            source: Some((path.to_path_buf(), info.clone())),
            trims: Mutex::new(trims),
        })
    }

    /// What was measured.
    pub fn stats(&self) -> &TrackStats {
        &self.stats
    }

    /// The excerpts measured (a stored analysis renders them now, the first time; a file
    /// that cannot be read any more gives none, and calibrations made on none are neutral).
    pub fn excerpts(&self) -> &[Excerpt] {
        self.excerpts.get_or_init(|| match &self.source {
            Some((path, info)) => render_excerpts(path, info).unwrap_or_else(|e| {
                log::warn!(
                    "{}: cannot render the analysis excerpts: {e}",
                    path.display()
                );
                Vec::new()
            }),
            None => Vec::new(),
        })
    }

    /// Whether the excerpts were rendered (a stored analysis renders them only when needed).
    pub fn has_excerpts(&self) -> bool {
        self.excerpts.get().is_some()
    }

    /// The calibrated trim for `key`, computed by `compute` the first time it is asked for.
    /// Concurrent callers wait for the first one, so it is computed once.
    pub(crate) fn trim(&self, key: &str, compute: impl FnOnce() -> f64) -> f64 {
        let mut trims = self.trims.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = trims.get(key) {
            return *t;
        }
        let t = compute();
        if trims.len() >= MAX_TRIMS {
            trims.clear();
        }
        trims.insert(key.to_string(), t);
        t
    }
}

/// The excerpts of the file at `path`, rendered (no enhancement) in parallel.
fn render_excerpts(path: &Path, info: &SourceInfo) -> Result<Vec<Excerpt>> {
    let ranges = excerpt_ranges(render::frames_at_48k(info));
    par_map(&ranges, |&(a, b, skip)| {
        let (pcm, _) = render::render_to_vec(path, info, (a, b), Chain::identity())?;
        Ok(Excerpt { pcm, skip })
    })
    .into_iter()
    .collect()
}

/// Frames `[a, b)` of each excerpt of a track of `total` frames, and its context frames.
pub fn excerpt_ranges(total: u64) -> Vec<(i64, i64, usize)> {
    let total = total as i64;
    if total as f64 <= WHOLE_TRACK_S * 48_000.0 {
        return vec![(0, total, 0)];
    }
    let len = (EXCERPT_S * 48_000.0) as i64;
    let skip = (CONTEXT_S * 48_000.0) as usize;
    (0..EXCERPTS as i64)
        .map(|k| {
            let centre = total * (2 * k + 1) / (2 * EXCERPTS as i64);
            let a = (centre - len / 2).clamp(0, total - len);
            (a, a + len, skip)
        })
        .collect()
}

fn db(x: f64) -> f64 {
    if x > 0.0 {
        10.0 * x.log10()
    } else {
        f64::NEG_INFINITY
    }
}

/// FFT length of the spectral measurement.
const FFT_LEN: usize = 4096;

/// What is measured of one excerpt (excerpts are measured in parallel, then combined).
struct Partial {
    /// Σl², Σr², Σlr and the sample peak.
    sums: [f64; 3],
    peak: f32,
    /// K-weighted energy per 100 ms hop.
    hops: Vec<f64>,
    /// Power spectrum of the mid signal summed over back-to-back Hann windows.
    power: Vec<f64>,
}

fn measure_one(x: &Excerpt) -> Partial {
    let pcm = &x.pcm[(x.skip * 2).min(x.pcm.len())..];
    let (mut sums, mut peak) = ([0.0f64; 3], 0.0f32);
    for f in pcm.chunks_exact(2) {
        let (l, r) = (f64::from(f[0]), f64::from(f[1]));
        sums[0] += l * l;
        sums[1] += r * r;
        sums[2] += l * r;
        peak = peak.max(f[0].abs()).max(f[1].abs());
    }
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(FFT_LEN);
    let mut input = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let mut scratch = fft.make_scratch_vec();
    let mut power = vec![0.0f64; FFT_LEN / 2 + 1];
    let step = 2.0 * std::f64::consts::PI / FFT_LEN as f64;
    let hann: Vec<f32> = (0..FFT_LEN)
        .map(|i| (0.5 - 0.5 * (step * i as f64).cos()) as f32)
        .collect();
    for window in pcm.chunks_exact(FFT_LEN * 2) {
        for ((o, f), w) in input.iter_mut().zip(window.chunks_exact(2)).zip(&hann) {
            *o = 0.5 * (f[0] + f[1]) * w;
        }
        if fft
            .process_with_scratch(&mut input, &mut spectrum, &mut scratch)
            .is_ok()
        {
            for (p, c) in power.iter_mut().zip(&spectrum) {
                *p += f64::from(c.norm_sqr());
            }
        }
    }
    Partial {
        sums,
        peak,
        hops: loudness::hop_sums(&loudness::k_energies(&x.pcm, x.skip)),
        power,
    }
}

/// Measure the excerpts.
pub fn measure(excerpts: &[Excerpt]) -> TrackStats {
    let parts = par_map(excerpts, measure_one);
    let mut s = TrackStats::silent();
    s.seconds = excerpts
        .iter()
        .map(|x| (x.pcm.len() / 2).saturating_sub(x.skip))
        .sum::<usize>() as f64
        / 48_000.0;
    let sum = |k: usize| parts.iter().map(|p| p.sums[k]).sum::<f64>();
    let (ll, rr, lr) = (sum(0), sum(1), sum(2));
    let peak = parts.iter().map(|p| p.peak).fold(0.0f32, f32::max);
    if ll + rr == 0.0 {
        return s;
    }
    s.peak_dbfs = db(f64::from(peak) * f64::from(peak));
    s.correlation = if ll > 0.0 && rr > 0.0 {
        (lr / (ll * rr).sqrt()).clamp(-1.0, 1.0)
    } else {
        0.0
    };
    // mid = (l + r)/2, side = (l − r)/2.
    let mid = (ll + rr + 2.0 * lr) / 4.0;
    let side = ((ll + rr - 2.0 * lr) / 4.0).max(0.0);
    s.side_db = if side <= 1e-12 * mid {
        f64::NEG_INFINITY
    } else {
        db(side / mid.max(1e-300))
    };

    // Loudness and its spread, from K-weighted 400 ms blocks.
    let segments: Vec<Vec<f64>> = parts.iter().map(|p| p.hops.clone()).collect();
    let blocks = loudness::blocks(&segments);
    s.loudness_lufs = loudness::integrated(&blocks);
    if s.loudness_lufs.is_finite() {
        s.crest_db = s.peak_dbfs - s.loudness_lufs;
        let mut m: Vec<f64> = loudness::momentary(&blocks)
            .into_iter()
            .filter(|&l| l > -70.0 && l > s.loudness_lufs - 20.0)
            .collect();
        m.sort_by(|a, b| a.total_cmp(b));
        if m.len() >= 2 {
            let at = |q: f64| m[((m.len() - 1) as f64 * q).round() as usize];
            s.loudness_range_lu = at(0.95) - at(0.10);
        }
    }
    let mut power = vec![0.0f64; FFT_LEN / 2 + 1];
    for p in &parts {
        for (a, b) in power.iter_mut().zip(&p.power) {
            *a += b;
        }
    }
    s.regions_db = regions(&power);
    s
}

/// Energy per octave of each region, relative to the mid region, from a power spectrum.
fn regions(power: &[f64]) -> [f64; 5] {
    let bin_hz = 48_000.0 / FFT_LEN as f64;
    let per_octave = |(lo, hi): (f64, f64)| {
        let a = (lo / bin_hz).round() as usize;
        let b = ((hi / bin_hz).round() as usize).min(FFT_LEN / 2);
        let e: f64 = power[a..b].iter().sum();
        e / (hi / lo).log2()
    };
    let reference = per_octave(REGIONS[2]);
    if reference <= 0.0 {
        return [0.0; 5];
    }
    let mut out = [0.0; 5];
    for (o, r) in out.iter_mut().zip(REGIONS) {
        *o = db(per_octave(r) / reference).max(-60.0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_tracks_are_whole_and_long_ones_spread_evenly() {
        assert_eq!(excerpt_ranges(48_000 * 10), vec![(0, 480_000, 0)]);
        let r = excerpt_ranges(48_000 * 300);
        assert_eq!(r.len(), EXCERPTS);
        assert!(r.windows(2).all(|w| w[0].1 <= w[1].0));
        assert!(r.iter().all(|&(a, b, _)| a >= 0 && b <= 48_000 * 300));
    }

    #[test]
    fn a_stored_analysis_comes_back_exact_and_damaged_ones_do_not() {
        let pcm: Vec<f32> = (0..96_000)
            .map(|i| ((i as f32) * 0.013).sin() * if i % 2 == 0 { 0.3 } else { 0.2 })
            .collect();
        let a = TrackAnalysis::from_excerpts(vec![Excerpt { pcm, skip: 100 }]);
        assert_eq!(a.trim("adaptive@1000", || -3.25), -3.25);
        let stored = a.to_stored();
        let info = SourceInfo {
            sample_rate: 48_000,
            channels: 2,
            codec: "flac".into(),
            frames: 48_000,
            title: None,
            artist: None,
            album: None,
        };
        let b = TrackAnalysis::from_stored(&stored, Path::new("/nonexistent"), &info);
        let b = b.expect("stored analysis parses");
        assert_eq!(b.stats(), a.stats());
        assert!(!b.has_excerpts());
        // The stored calibration is used as it is; nothing is computed.
        assert_eq!(b.trim("adaptive@1000", || unreachable!()), -3.25);
        assert_eq!(b.to_stored(), stored);
        for bad in [
            "",
            "a0;1;",
            &stored[..stored.len() / 2],
            &stored.replace(';', ";;"),
            &format!("{stored},x=zz"),
            &format!("{stored};"),
        ] {
            assert!(
                TrackAnalysis::from_stored(bad, Path::new("x"), &info).is_none(),
                "{bad}"
            );
        }
    }

    #[test]
    fn silence_measures_as_silent() {
        let a = TrackAnalysis::from_excerpts(vec![Excerpt {
            pcm: vec![0.0; 96_000],
            skip: 0,
        }]);
        assert_eq!(a.stats().loudness_lufs, f64::NEG_INFINITY);
        assert_eq!(a.stats().regions_db, [0.0; 5]);
    }
}
