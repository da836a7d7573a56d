//! The enhancement stages measured against their designs: every EQ band of every preset
//! with steady sines, every compressor's static curve, and the true-peak limiter on an
//! overdriven square wave.

// Tests fail loudly on any unexpected error: unwrap is the assertion.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use sonance_engine::enhance::analysis::TrackStats;
use sonance_engine::enhance::dynamics::{Compressor, CompressorParams};
use sonance_engine::enhance::eq::{Band, BandKind, Equalizer};
use sonance_engine::enhance::limiter::{Limiter, LimiterParams};
use sonance_engine::enhance::presets::{self, CEILING_DBTP};
use sonance_engine::enhance::{Stage, TrackAnalysis};
use sonance_engine::Preset;

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

/// Run `stage` over a steady sine and return the gain (dB) it applies once settled.
fn sine_gain_db(stage: &mut dyn Stage, hz: f64, amp: f32, settle_s: f64) -> f64 {
    // Measure over a whole number of periods (at least 0.25 s).
    let period = RATE / hz;
    let measure = ((0.25 * RATE / period).ceil() * period).round() as usize;
    let settle = (settle_s * RATE) as usize;
    let x = sine((settle + measure) as f64 / RATE, hz, amp);
    let mut y = x.clone();
    for block in y.chunks_mut(2 * 1000) {
        stage.process(block);
    }
    let lat = stage.latency();
    let out = &y[(settle + lat) * 2..];
    let inp = &x[settle * 2..x.len() - lat * 2];
    20.0 * (rms(out) / rms(inp)).log10()
}

/// Every band the presets use (adaptive at its largest corrections).
fn all_bands() -> Vec<(String, Band)> {
    let none = TrackAnalysis::none();
    let mut out = Vec::new();
    for p in [Preset::Gentle, Preset::Warm, Preset::Bright, Preset::Punchy] {
        for b in presets::design(p, none.stats()).bands {
            out.push((p.name().to_string(), b));
        }
    }
    // A dull, boomy track: adaptive cuts lows, lifts presence and air to the bounds.
    let stats = TrackStats {
        regions_db: [12.0, 6.0, 0.0, -14.0, -25.0],
        loudness_lufs: -20.0,
        ..none.stats().clone()
    };
    for b in presets::adaptive(&stats).bands {
        out.push(("adaptive".into(), b));
    }
    out
}

#[test]
fn every_eq_band_matches_its_design_at_ten_frequencies() {
    let mut failures = Vec::new();
    for (preset, band) in all_bands() {
        assert!(
            band.gain_db != 0.0,
            "{preset}: a band with no gain: {band:?}"
        );
        // Ten frequencies, log-spaced over two decades around the band, within 20 Hz–20 kHz.
        let lo = (band.freq_hz / 10.0).max(20.0);
        let hi = (band.freq_hz * 10.0).min(20_000.0);
        for k in 0..10 {
            let f = lo * (hi / lo).powf(k as f64 / 9.0);
            let design = band.magnitude_db(f, RATE);
            let mut eq = Equalizer::new(&[band]);
            let measured = sine_gain_db(&mut eq, f, 0.25, 0.3);
            if (measured - design).abs() > 0.5 {
                failures.push(format!(
                    "{preset} {band:?} at {f:.0} Hz: measured {measured:+.2} dB, design {design:+.2} dB"
                ));
            }
        }
        // The design itself does what the band says: full gain at a peak's centre, and
        // within 0.5 dB of it on a shelf's plateau (a decade past the corner).
        let at = match band.kind {
            BandKind::Peak => band.freq_hz,
            BandKind::LowShelf => band.freq_hz / 10.0,
            BandKind::HighShelf => (band.freq_hz * 10.0).min(23_000.0),
        };
        let d = band.magnitude_db(at, RATE);
        if (d - band.gain_db).abs() > 0.5 {
            failures.push(format!(
                "{preset} {band:?}: design reads {d:+.2} dB at {at:.0} Hz"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_compressor_follows_its_static_curve() {
    let none = TrackAnalysis::none();
    let loud = TrackStats {
        crest_db: 25.0,
        loudness_range_lu: 20.0,
        loudness_lufs: -30.0,
        ..none.stats().clone()
    };
    let mut designs: Vec<(String, CompressorParams)> =
        [Preset::Gentle, Preset::Warm, Preset::Bright, Preset::Punchy]
            .iter()
            .map(|p| {
                let c = presets::design(*p, none.stats()).compressor.unwrap();
                (p.name().to_string(), c)
            })
            .collect();
    designs.push((
        "adaptive".into(),
        presets::adaptive(&loud).compressor.unwrap(),
    ));
    let mut failures = Vec::new();
    for (name, design) in designs {
        // The threshold relative to the target becomes absolute at a −20 dB program.
        let c = CompressorParams {
            threshold_db: -20.0 + design.threshold_db,
            ..design
        };
        let mut reduced = 0.0f64;
        for step in 0..=12 {
            let level = c.threshold_db - 15.0 + 2.5 * f64::from(step);
            // Sine RMS = level → peak amplitude √2 × 10^(level/20).
            let amp = (2f64.sqrt() * 10f64.powf(level / 20.0)) as f32;
            let mut comp = Compressor::new(c);
            let measured = sine_gain_db(&mut comp, 1_000.0, amp, 1.5);
            let design = -c.static_reduction_db(level);
            reduced = reduced.max(-design);
            if (measured - design).abs() > 0.5 {
                failures.push(format!(
                    "{name} at {level:.1} dB RMS: gain {measured:+.2} dB, static curve {design:+.2} dB"
                ));
            }
        }
        assert!(reduced > 2.0, "{name}: the test never reached compression");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A band-limited square wave (odd harmonics to 20 kHz, with its Gibbs overshoot).
fn bandlimited_square(seconds: f64, hz: f64) -> Vec<f32> {
    let n = (seconds * RATE) as usize;
    let tau = 2.0 * std::f64::consts::PI;
    (0..n)
        .flat_map(|i| {
            let t = i as f64 / RATE;
            let mut s = 0.0;
            let mut k = 1.0;
            while k * hz < 20_000.0 {
                s += (tau * k * hz * t).sin() / k;
                k += 2.0;
            }
            let v = (s * 4.0 / std::f64::consts::PI) as f32;
            [v, v * 0.8]
        })
        .collect()
}

#[test]
fn limiter_holds_the_true_peak_ceiling_on_a_square_driven_12_db_over() {
    for (name, hz) in [
        ("220 Hz", 220.0),
        ("1.7 kHz", 1_700.0),
        ("5.1 kHz", 5_100.0),
    ] {
        let mut x = bandlimited_square(3.0, hz);
        // Scale so the input's own true peak is 0 dBTP, then drive it 12 dB over.
        let (_, tp_in) = ebur128_measure(&x);
        let drive = 10f32.powf((12.0 - tp_in as f32) / 20.0);
        x.iter_mut().for_each(|s| *s *= drive);
        let (_, tp_driven) = ebur128_measure(&x);
        assert!(
            (tp_driven - 12.0).abs() < 0.1,
            "{name}: input reads {tp_driven:.2} dBTP"
        );
        let mut lim = Limiter::new(LimiterParams {
            ceiling_db: CEILING_DBTP,
            release_db_s: 60.0,
            depth: 1.0,
            input_gain_db: 0.0,
        });
        for block in x.chunks_mut(2 * 777) {
            lim.process(block);
        }
        let (_, tp) = ebur128_measure(&x);
        let peak = x.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        let peak_db = 20.0 * f64::from(peak).log10();
        eprintln!("{name}: true peak {tp:+.3} dBTP, sample peak {peak_db:+.3} dBFS");
        assert!(
            tp <= CEILING_DBTP + 0.05,
            "{name}: true peak {tp:+.3} dBTP over the {CEILING_DBTP} dBTP ceiling"
        );
        // And it limits, not mutes: the output reaches close to the ceiling.
        assert!(
            peak_db > CEILING_DBTP - 1.5,
            "{name}: sample peak {peak_db:+.2} dBFS"
        );
        assert!(x.iter().all(|s| s.is_finite()));
    }
}

#[test]
fn limiter_leaves_quiet_audio_bit_exact_apart_from_its_delay() {
    let x = pink_noise(2.0, 5);
    let mut y = x.clone();
    let mut lim = Limiter::new(LimiterParams {
        ceiling_db: CEILING_DBTP,
        release_db_s: 60.0,
        depth: 1.0,
        input_gain_db: 0.0,
    });
    lim.process(&mut y);
    let d = lim.latency() * 2;
    assert!(y[..d].iter().all(|s| *s == 0.0));
    assert_eq!(&y[d..], &x[..x.len() - d]);
}

#[test]
fn every_chain_gives_the_same_output_however_the_stream_is_split() {
    // A loud program so every stage works (compressor, limiter) and crosses the splits.
    let x: Vec<f32> = onset_music(6.0, 0.5)
        .iter()
        .zip(pink_noise(6.0, 9))
        .map(|(m, n)| 1.5 * (m + 0.3 * n))
        .collect();
    let analysis = TrackAnalysis::from_excerpts(vec![sonance_engine::enhance::loudness::Excerpt {
        pcm: x.clone(),
        skip: 0,
    }]);
    for preset in Preset::ALL {
        let enh = sonance_engine::Enhancement::new(preset, 1.0).unwrap();
        let mut whole = x.clone();
        enh.chain(&analysis).process(&mut whole);
        // Irregular block sizes, from single frames to long runs.
        let mut split = x.clone();
        let mut chain = enh.chain(&analysis);
        let (mut at, mut k) = (0usize, 1usize);
        while at < split.len() {
            let n = ((k * 7919) % 3001 + 1).min((split.len() - at) / 2) * 2;
            chain.process(&mut split[at..at + n]);
            at += n;
            k += 1;
        }
        let d = peak_diff_db(&whole, &split);
        assert!(
            d <= -200.0,
            "{preset}: split processing differs by {d:.1} dBFS"
        );
    }
}

#[test]
fn limiter_catches_isolated_bursts_with_its_look_ahead() {
    // 4 ms bursts of the square, 12 dB over, every 150 ms: the limiter releases fully between
    // them, so every onset must be caught by the look-ahead.
    let square = bandlimited_square(3.0, 1_700.0);
    let (_, tp_in) = ebur128_measure(&square);
    let drive = 10f32.powf((12.0 - tp_in as f32) / 20.0);
    let mut x: Vec<f32> = square
        .chunks_exact(2)
        .enumerate()
        .flat_map(|(i, f)| {
            let g = if i % 7_200 < 192 { drive } else { 0.0 };
            [f[0] * g, f[1] * g]
        })
        .collect();
    let mut lim = Limiter::new(LimiterParams {
        ceiling_db: CEILING_DBTP,
        release_db_s: 60.0,
        depth: 1.0,
        input_gain_db: 0.0,
    });
    lim.process(&mut x);
    let (_, tp) = ebur128_measure(&x);
    eprintln!("bursts: true peak {tp:+.3} dBTP");
    assert!(tp <= CEILING_DBTP + 0.05, "bursts: true peak {tp:+.3} dBTP");
}
