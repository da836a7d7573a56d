//! Caps that protect memory and time against hostile or broken input.
//!
//! Everything a file says about itself (sample rate, channel count, length) drives work and
//! allocations further down: the resampler's FFT size follows the rate, the chunk grid follows
//! the length. A value outside what real audio uses is refused with [`Error::Limit`] naming
//! the file and the reason; a length the file cannot plausibly hold is not trusted at all and
//! measured instead ([`crate::decode::SourceReader::open`]).

use std::path::Path;

use crate::error::{Error, Result};
use crate::resample::OUTPUT_RATE;

/// Lowest source sample rate accepted, Hz (telephone audio; below it the resampler to
/// 48 kHz would be enormous: 1 Hz asks for a 56-million-point FFT).
pub const MIN_SAMPLE_RATE: u32 = 8_000;
/// Highest source sample rate accepted, Hz (DXD ×2).
pub const MAX_SAMPLE_RATE: u32 = 768_000;
/// Longest resampler block accepted, in source frames. The block is `rate / gcd(rate, 48 000)`
/// frames at least: 147 for 44.1 kHz, 1 for 96 kHz, but a rate coprime with 48 000 makes it a
/// whole second (767 999 Hz: a 1.5-million-point FFT, 117 MB and seconds per render, on every
/// core). Every rate in real use stays far below this.
pub const MAX_RESAMPLER_BLOCK: u32 = 48_000;
/// Most channels accepted (everything is downmixed to stereo).
pub const MAX_CHANNELS: usize = 32;
/// Longest track accepted, in seconds (two days).
pub const MAX_DURATION_S: u64 = 48 * 3600;
/// Consecutive undecodable packets after which a file counts as damaged.
pub const MAX_CONSECUTIVE_ERRORS: u32 = 64;
/// Consecutive packets that yield no audio (other tracks, empty packets, packets dropped as
/// overlap) after which the reader counts as stuck. Generous: a video track interleaved
/// with a silent-ended audio track may run a long way; a reader that loops never ends.
pub const MAX_PACKETS_WITHOUT_AUDIO: u32 = 1 << 20;
/// Most frames one byte of a compressed file can plausibly stand for. FLAC's constant
/// subframes reach about 6 000 frames per byte on digital silence; nothing real comes close
/// to this, and it keeps a 60-byte file from claiming days.
pub const MAX_FRAMES_PER_BYTE: u64 = 8192;
/// Largest sample magnitude passed on from a float source (+18 dBFS). Float files may go
/// over full scale a little; beyond this they are broken, and NaN or infinity would poison
/// every filter after them.
pub const MAX_SAMPLE_MAGNITUDE: f32 = 8.0;

/// The source rate must be one the engine can resample at a bounded cost.
pub fn check_rate(path: &Path, rate: u32) -> Result<()> {
    let limit = |reason: String| {
        Err(Error::Limit {
            path: path.to_path_buf(),
            reason,
        })
    };
    if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&rate) {
        return limit(format!(
            "its sample rate of {rate} Hz is outside {MIN_SAMPLE_RATE}…{MAX_SAMPLE_RATE} Hz"
        ));
    }
    let block = rate / gcd(rate, OUTPUT_RATE);
    if block > MAX_RESAMPLER_BLOCK {
        return limit(format!(
            "its sample rate of {rate} Hz has too little in common with {OUTPUT_RATE} Hz \
             (resampling it would take blocks of {block} frames)"
        ));
    }
    Ok(())
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The channel count must be 1…[`MAX_CHANNELS`].
pub fn check_channels(path: &Path, channels: usize) -> Result<()> {
    if (1..=MAX_CHANNELS).contains(&channels) {
        Ok(())
    } else {
        Err(Error::Limit {
            path: path.to_path_buf(),
            reason: format!("it has {channels} channels (1…{MAX_CHANNELS} are accepted)"),
        })
    }
}

/// The track must not last longer than [`MAX_DURATION_S`].
pub fn check_duration(path: &Path, frames: u64, rate: u32) -> Result<()> {
    let seconds = frames / u64::from(rate.max(1));
    if seconds > MAX_DURATION_S {
        return Err(Error::Limit {
            path: path.to_path_buf(),
            reason: format!(
                "it lasts {} hours (at most {} are accepted)",
                seconds / 3600,
                MAX_DURATION_S / 3600
            ),
        });
    }
    Ok(())
}

/// Most frames one byte of MPEG audio can stand for: its lowest bitrates (8 kbit/s at 8 kHz,
/// 32 kbit/s at 48 kHz) give 8 to 12; a Xing header claiming far more is wrong.
pub const MAX_MPEG_FRAMES_PER_BYTE: u64 = 64;

/// The most frames a file of `file_len` bytes in `codec` (symphonia's short name) can hold:
/// one per byte for PCM (8-bit mono), [`MAX_MPEG_FRAMES_PER_BYTE`] for MPEG audio,
/// [`MAX_FRAMES_PER_BYTE`] for other compressed codecs.
pub fn plausible_frames(file_len: u64, codec: &str) -> u64 {
    let per_byte = if codec.starts_with("pcm") {
        1
    } else if matches!(codec, "mp1" | "mp2" | "mp3") {
        MAX_MPEG_FRAMES_PER_BYTE
    } else {
        MAX_FRAMES_PER_BYTE
    };
    file_len.saturating_mul(per_byte)
}

/// Whether a length declared by the container can be trusted: present, non-zero, within
/// what the file can hold and within [`MAX_DURATION_S`].
pub fn trust_declared(declared: Option<u64>, file_len: u64, codec: &str, rate: u32) -> Option<u64> {
    declared.filter(|&n| {
        n > 0
            && n <= plausible_frames(file_len, codec)
            && n / u64::from(rate.max(1)) <= MAX_DURATION_S
    })
}

/// Replace NaN and infinities by silence and clamp absurd magnitudes, in place. Returns
/// whether anything was changed. The check is one branch-free compare per sample (NaN fails
/// it), so clean audio pays a single vectorised pass.
pub fn sanitize(samples: &mut [f32]) -> bool {
    let clean = samples
        .iter()
        .fold(true, |ok, s| ok & (s.abs() <= MAX_SAMPLE_MAGNITUDE));
    if clean {
        return false;
    }
    for s in samples.iter_mut() {
        *s = if s.is_finite() {
            s.clamp(-MAX_SAMPLE_MAGNITUDE, MAX_SAMPLE_MAGNITUDE)
        } else {
            0.0
        };
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_replaces_nan_and_inf_and_clamps() {
        let mut s = [
            0.5,
            f32::NAN,
            f32::INFINITY,
            -f32::INFINITY,
            1e30,
            -1e30,
            -0.25,
        ];
        assert!(sanitize(&mut s));
        assert_eq!(s, [0.5, 0.0, 0.0, 0.0, 8.0, -8.0, -0.25]);
        let mut clean = [0.0, 1.5, -8.0];
        assert!(!sanitize(&mut clean));
    }

    #[test]
    fn declared_lengths_beyond_the_file_are_not_trusted() {
        // A 60-byte WAV cannot hold 2^32 frames; a 10 MB FLAC can hold 10 minutes.
        assert_eq!(trust_declared(Some(1 << 32), 60, "pcm_u8", 8000), None);
        assert_eq!(trust_declared(Some(0), 60, "pcm_s16le", 8000), None);
        assert_eq!(trust_declared(None, 60, "pcm_s16le", 8000), None);
        let ten_minutes = Some(26_460_000);
        assert_eq!(
            trust_declared(ten_minutes, 10 << 20, "flac", 44_100),
            ten_minutes
        );
        // A 10 MB MP3 holds 10 minutes, not 40 hours; a FLAC of digital silence could.
        assert_eq!(
            trust_declared(ten_minutes, 10 << 20, "mp3", 44_100),
            ten_minutes
        );
        let forty_hours = Some(40 * 3600 * 44_100);
        assert_eq!(trust_declared(forty_hours, 10 << 20, "mp3", 44_100), None);
        assert_eq!(
            trust_declared(forty_hours, 10 << 20, "flac", 44_100),
            forty_hours
        );
        // Plausible for the bytes but longer than two days: measured instead.
        assert_eq!(
            trust_declared(Some(1 << 36), 100 << 20, "flac", 44_100),
            None
        );
    }

    #[test]
    fn rates_and_channels() {
        let p = Path::new("x.wav");
        assert!(check_rate(p, 8_000).is_ok());
        assert!(check_rate(p, 768_000).is_ok());
        for ok in [
            11_025, 22_050, 37_800, 44_100, 44_101, 47_250, 88_200, 47_999, 352_800,
        ] {
            assert!(check_rate(p, ok).is_ok(), "{ok}");
        }
        for bad in [48_001, 95_999, 767_999] {
            let e = check_rate(p, bad).unwrap_err().to_string();
            assert!(
                e.contains(&format!("{bad} Hz has too little in common")),
                "{e}"
            );
        }
        for bad in [0, 1, 7, 7_999, 768_001, 1_000_000_000] {
            let e = check_rate(p, bad).unwrap_err().to_string();
            assert!(e.contains("sample rate") && e.contains("x.wav"), "{e}");
        }
        assert!(check_channels(p, 0).is_err());
        assert!(check_channels(p, 33).is_err());
        assert!(check_channels(p, 16).is_ok());
    }
}
