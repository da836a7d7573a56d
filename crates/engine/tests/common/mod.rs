//! Helpers shared by the engine's integration tests: test signals, a WAV writer, and a
//! decoder that plays fragments the way a browser's MSE does.
// Not every test binary uses every helper; helpers fail loudly (unwrap is the assertion).
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::excessive_precision,
    clippy::type_complexity
)]

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;

use matroska_demuxer::{Frame, MatroskaFile};
use sonance_engine::{Engine, EngineConfig, Track};

pub const RATE: f64 = 48_000.0;

/// A fresh folder under the target dir for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sonance-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Write interleaved f32 samples as a 32-bit float WAV.
pub fn write_wav(path: &Path, rate: u32, channels: u16, samples: &[f32]) {
    let data_len = (samples.len() * 4) as u32;
    let mut b = Vec::with_capacity(44 + data_len as usize);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data_len).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&3u16.to_le_bytes()); // IEEE float
    b.extend_from_slice(&channels.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * u32::from(channels) * 4).to_le_bytes());
    b.extend_from_slice(&(channels * 4).to_le_bytes());
    b.extend_from_slice(&32u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        b.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, b).unwrap();
}

/// A small deterministic PRNG (xorshift) so signals are the same on every run.
pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    pub fn next_f32(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

/// Stereo pink noise (Paul Kellet's filter), `seconds` long at 48 kHz, peak about 0.5.
pub fn pink_noise(seconds: f64, seed: u64) -> Vec<f32> {
    let n = (seconds * RATE) as usize;
    let mut out = Vec::with_capacity(n * 2);
    let mut rng = [Rng::new(seed), Rng::new(seed ^ 0x9E37_79B9)];
    let mut b = [[0.0f32; 7]; 2];
    for _ in 0..n {
        for c in 0..2 {
            let w = rng[c].next_f32();
            let s = &mut b[c];
            s[0] = 0.99886 * s[0] + w * 0.0555179;
            s[1] = 0.99332 * s[1] + w * 0.0750759;
            s[2] = 0.96900 * s[2] + w * 0.1538520;
            s[3] = 0.86650 * s[3] + w * 0.3104856;
            s[4] = 0.55000 * s[4] + w * 0.5329522;
            s[5] = -0.7616 * s[5] - w * 0.0168980;
            let p = s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + w * 0.5362;
            s[6] = w * 0.115926;
            out.push(p * 0.08);
        }
    }
    out
}

/// A stereo sine.
pub fn sine(seconds: f64, hz: f64, amp: f32) -> Vec<f32> {
    let n = (seconds * RATE) as usize;
    (0..n)
        .flat_map(|i| {
            let s = amp * (2.0 * std::f64::consts::PI * hz * i as f64 / RATE).sin() as f32;
            [s, s]
        })
        .collect()
}

/// Synthetic "music": a pad and a bass line with a kick + hat onset every `beat` seconds,
/// so an onset falls exactly on every multiple of `beat` (the worst case for a join).
pub fn onset_music(seconds: f64, beat: f64) -> Vec<f32> {
    let n = (seconds * RATE) as usize;
    let mut rng = Rng::new(7);
    let mut out = Vec::with_capacity(n * 2);
    let tau = 2.0 * std::f64::consts::PI;
    for i in 0..n {
        let t = i as f64 / RATE;
        let since = t % beat;
        let pad = 0.08
            * ((tau * 220.0 * t).sin()
                + 0.5 * (tau * 277.2 * t).sin()
                + 0.4 * (tau * 329.6 * t).sin());
        let bass = 0.12 * (tau * 55.0 * t).sin() * (-since * 3.0).exp();
        let kick_f = 50.0 + 100.0 * (-since * 30.0).exp();
        let kick = 0.5 * (tau * kick_f * since).sin() * (-since * 12.0).exp();
        let hat = 0.15 * f64::from(rng.next_f32()) * (-since * 60.0).exp();
        let l = (pad + bass + kick + hat) as f32;
        let r = (pad * 0.9 + bass + kick - hat * 0.5) as f32;
        out.push(l);
        out.push(r);
    }
    out
}

/// How the decoder treats packets before a chunk's append window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Player {
    /// Chromium: the last packet before the window is decoded as pre-roll, output discarded.
    ChromiumLike,
    /// WebKit: packets before the window are dropped unseen.
    WebKitLike,
}

/// Demux a fragment (init + media segment) with an independent parser: (timestamp ms, packet).
///
/// The track start's lead-in has negative times, which matroska-demuxer (like GStreamer's
/// matroskademux) saturates at 0: of a run of frames at 0, all but the last are that lead-in,
/// 20 ms apart before 0.
pub fn demux(init: &[u8], media: &[u8]) -> Vec<(i64, Vec<u8>)> {
    let mut bytes = init.to_vec();
    bytes.extend_from_slice(media);
    let mut mkv = MatroskaFile::open(Cursor::new(bytes)).expect("init + chunk parses");
    assert_eq!(mkv.tracks()[0].codec_id(), "A_OPUS");
    let mut frame = Frame::default();
    let mut out = Vec::new();
    while mkv.next_frame(&mut frame).expect("frame parses") {
        out.push((frame.timestamp as i64, frame.data.clone()));
    }
    let zeros = out.iter().take_while(|(ts, _)| *ts == 0).count() as i64;
    for (k, (ts, _)) in out.iter_mut().enumerate().take(zeros.max(1) as usize - 1) {
        *ts = (k as i64 - (zeros - 1)) * 20;
    }
    out
}

/// Play chunks `chunks` (consecutive) through one new decoder, each kept only inside its
/// window `[start, end)` in frames, the way `player` handles pre-roll. Returns the decoded
/// frames from the first window's start, interleaved stereo.
pub fn play(init: &[u8], chunks: &[(Vec<u8>, u64, u64)], player: Player) -> Vec<f32> {
    let mut dec = opus::Decoder::new(48_000, opus::Channels::Stereo).unwrap();
    let mut out = Vec::new();
    play_into(&mut dec, init, chunks, player, &mut out);
    out
}

/// [`play`] through `dec` as it is (a track that follows another on one timeline continues
/// its decoder), appending to `out`.
pub fn play_into(
    dec: &mut opus::Decoder,
    init: &[u8],
    chunks: &[(Vec<u8>, u64, u64)],
    player: Player,
    out: &mut Vec<f32>,
) {
    for (media, start, end) in chunks {
        let window = (*start as i64, *end as i64);
        play_packets(dec, &demux(init, media), window, player, out);
    }
}

/// Decode `packets` (timestamp ms, packet) kept inside `window` (frames) through `dec`, the
/// way `player` handles the pre-roll before it, appending to `out`.
pub fn play_packets(
    dec: &mut opus::Decoder,
    packets: &[(i64, Vec<u8>)],
    (start, end): (i64, i64),
    player: Player,
    out: &mut Vec<f32>,
) {
    let mut buf = vec![0.0f32; 5760 * 2];
    if player == Player::ChromiumLike {
        if let Some((_, p)) = packets.iter().rfind(|(ts, _)| ts * 48 < start) {
            dec.decode_float(p, &mut buf, false).unwrap();
        }
    }
    for (ts, p) in packets
        .iter()
        .filter(|(ts, _)| ts * 48 >= start && ts * 48 < end)
    {
        let n = dec.decode_float(p, &mut buf, false).unwrap();
        let keep = (n as i64).min(end - ts * 48) as usize;
        out.extend_from_slice(&buf[..keep * 2]);
    }
}

/// Render every chunk of `track` and return (init, [(media, start_frame, end_frame)]).
pub fn render_all(
    engine: &Engine,
    track: &Track,
    enh: &sonance_engine::Enhancement,
) -> (Vec<u8>, Vec<(Vec<u8>, u64, u64)>) {
    let init = engine.init_segment(track);
    let chunks = (0..track.plan().count())
        .map(|n| {
            let (a, b) = track.plan().frames(n).unwrap();
            (engine.render_chunk(track, n, enh).unwrap(), a, b)
        })
        .collect();
    (init, chunks)
}

/// An engine with `chunk_seconds` chunks and `workers` threads per chunk, memory cache only.
pub fn engine(chunk_seconds: f64, workers: usize) -> Engine {
    Engine::new(EngineConfig {
        chunk_seconds,
        workers_per_chunk: workers,
        ..EngineConfig::default()
    })
    .unwrap()
}

fn rms(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|v| f64::from(*v) * f64::from(*v)).sum::<f64>() / x.len() as f64).sqrt()
}

/// Join score in dB: RMS of the coding error in ±20 ms around `join` (frames) over the 99th
/// percentile of the RMS of 40 ms windows of error elsewhere within ±1 s (excluding ±100 ms
/// around the join). A click reads +10 dB or more; ≤ 0 cannot be told from coding noise.
pub fn join_score(decoded: &[f32], reference: &[f32], join: usize) -> f64 {
    let err: Vec<f32> = decoded.iter().zip(reference).map(|(d, r)| d - r).collect();
    let frames = err.len() / 2;
    let w = 960; // 20 ms
    let at = |a: usize, b: usize| rms(&err[a.min(frames) * 2..b.min(frames) * 2]);
    let around = at(join.saturating_sub(w), join + w);
    let mut windows = Vec::new();
    let lo = join.saturating_sub(48_000);
    let hi = (join + 48_000).min(frames);
    let mut s = lo;
    while s + 2 * w <= hi {
        let far = s + 2 * w <= join.saturating_sub(4800) || s >= join + 4800;
        if far {
            windows.push(at(s, s + 2 * w));
        }
        s += w / 2;
    }
    windows.sort_by(|a, b| a.total_cmp(b));
    let p99 = windows[((windows.len() as f64 * 0.99) as usize).min(windows.len() - 1)];
    20.0 * (around.max(1e-12) / p99.max(1e-12)).log10()
}

/// Is `ffmpeg` on PATH?
/// Whether ffmpeg (the independent checker) is here. In CI it must be: a missing checker
/// fails the run instead of quietly skipping the checks.
pub fn have_ffmpeg() -> bool {
    let found = Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found || std::env::var_os("CI").is_none(),
        "ffmpeg is needed in CI (scripts/setup.sh installs it)"
    );
    found
}

// ---- Helpers for the preset tests (tests/presets*.rs) ----

/// A quiet, classical-like dynamic piece: bowed-string-like chords (harmonic partials with
/// vibrato) swelling in 8 s phrases from pianissimo to forte, with a few accents; about
/// −30 LUFS with a wide loudness range.
pub fn quiet_dynamic(seconds: f64) -> Vec<f32> {
    let n = (seconds * RATE) as usize;
    let tau = 2.0 * std::f64::consts::PI;
    let chords = [
        [196.0, 246.9, 293.7],
        [220.0, 261.6, 329.6],
        [174.6, 220.0, 261.6],
    ];
    let mut out = Vec::with_capacity(n * 2);
    let mut phase = [[0.0f64; 3]; 2];
    for i in 0..n {
        let t = i as f64 / RATE;
        let phrase = (t / 8.0) as usize;
        let within = t % 8.0;
        // pp → f → pp swell, louder every other phrase; an accent at 3 s into odd phrases.
        let swell = (std::f64::consts::PI * within / 8.0).sin().powi(2);
        let top = if phrase.is_multiple_of(2) { 0.25 } else { 0.08 };
        let accent = if !phrase.is_multiple_of(2) && within > 3.0 {
            0.15 * (-(within - 3.0) * 6.0).exp()
        } else {
            0.0
        };
        let amp = 0.004 + top * swell + accent;
        let chord = chords[phrase % chords.len()];
        let mut lr = [0.0f64; 2];
        for (c, out_c) in lr.iter_mut().enumerate() {
            for (k, f) in chord.iter().enumerate() {
                let vib = 1.0 + 0.004 * (tau * (5.0 + k as f64 * 0.3) * t + c as f64).sin();
                phase[c][k] += tau * f * vib / RATE;
                let p = phase[c][k];
                // A few decaying harmonics: a soft, string-like tone.
                let tone = p.sin()
                    + 0.5 * (2.0 * p).sin()
                    + 0.25 * (3.0 * p).sin()
                    + 0.12 * (4.0 * p).sin();
                *out_c += tone / 3.0;
            }
        }
        out.push((0.3 * amp * lr[0]) as f32);
        out.push((0.3 * amp * (0.9 * lr[1] + 0.1 * lr[0])) as f32);
    }
    out
}

/// A loud, brickwalled master: the drum+bass+pad mix driven 14 dB into a soft clipper and
/// hard-limited at −0.1 dBFS (true peaks above 0 dBTP, loudness around −7 LUFS).
pub fn brickwalled(seconds: f64) -> Vec<f32> {
    onset_music(seconds, 0.5)
        .into_iter()
        .map(|s| (1.5 * (s * 5.0).tanh()).clamp(-0.989, 0.989))
        .collect()
}

/// A 0 dBFS square wave (naive, not band-limited) at `hz`.
pub fn square(seconds: f64, hz: f64) -> Vec<f32> {
    let n = (seconds * RATE) as usize;
    (0..n)
        .flat_map(|i| {
            let s = if (i as f64 * hz / RATE) % 1.0 < 0.5 {
                1.0f32
            } else {
                -1.0
            };
            [s, s]
        })
        .collect()
}

/// Integrated loudness (LUFS) and true peak (dBTP) of 48 kHz stereo, with the `ebur128`
/// crate.
pub fn ebur128_measure(pcm: &[f32]) -> (f64, f64) {
    use ebur128::{EbuR128, Mode};
    let mut m = EbuR128::new(2, 48_000, Mode::I | Mode::TRUE_PEAK).unwrap();
    m.add_frames_f32(pcm).unwrap();
    let tp = (0..2)
        .map(|c| m.true_peak(c).unwrap())
        .fold(0.0f64, f64::max);
    (m.loudness_global().unwrap(), 20.0 * tp.max(1e-12).log10())
}

/// Integrated loudness (LUFS) and true peak (dBTP) of a file, measured by
/// `ffmpeg -af ebur128=peak=true` (an independent implementation).
pub fn ffmpeg_ebur128(path: &Path) -> (f64, f64) {
    let out = Command::new("ffmpeg")
        .args(["-nostats", "-hide_banner", "-i"])
        .arg(path)
        .args(["-af", "ebur128=peak=true", "-f", "null", "-"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    let value = |label: &str| -> f64 {
        text.lines()
            .filter_map(|l| l.trim().strip_prefix(label))
            .filter_map(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
            .next_back()
            .unwrap_or_else(|| panic!("no '{label}' in ffmpeg output:\n{text}"))
    };
    (value("I:"), value("Peak:"))
}

/// Peak absolute difference of two sample runs, dBFS.
pub fn peak_diff_db(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    let peak = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    20.0 * f64::from(peak.max(1e-30)).log10()
}
