//! Test audio made with ffmpeg (short sines), and small helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Run ffmpeg quietly; panics with its message when it fails.
pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg is installed");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A 1 s sine at `freq` Hz encoded with `codec` (ffmpeg encoder args) and tagged `meta`.
pub fn tone(out: &Path, codec: &[&str], meta: &[(&str, &str)], freq: u32) {
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    let src = format!("sine=frequency={freq}:duration=1:sample_rate=44100");
    let mut args: Vec<String> = vec!["-f".into(), "lavfi".into(), "-i".into(), src];
    args.extend(codec.iter().map(|s| s.to_string()));
    for (k, v) in meta {
        args.push("-metadata".into());
        args.push(format!("{k}={v}"));
    }
    args.push(out.to_string_lossy().into_owned());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    ffmpeg(&refs);
}

pub const MP3: &[&str] = &["-c:a", "libmp3lame", "-b:a", "64k"];
pub const FLAC: &[&str] = &["-c:a", "flac"];
pub const VORBIS: &[&str] = &["-c:a", "libvorbis"];
pub const OPUS: &[&str] = &["-c:a", "libopus", "-b:a", "48k"];
pub const AAC: &[&str] = &["-c:a", "aac", "-b:a", "64k"];
pub const ALAC: &[&str] = &["-c:a", "alac"];
pub const WAV: &[&str] = &["-c:a", "pcm_s16le"];

/// Tags of one album track.
pub fn tags<'a>(
    title: &'a str,
    artist: &'a str,
    album: &'a str,
    track: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("title", title),
        ("artist", artist),
        ("album", album),
        ("track", track),
    ]
}

/// A JPEG or PNG image of `w`×`h` pixels; `noisy` makes it incompressible (large).
pub fn image_file(path: &Path, w: u32, h: u32, noisy: bool) {
    let mut seed: u32 = 0x1234_5678;
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        if noisy {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let b = seed.to_be_bytes();
            image::Rgb([b[0], b[1], b[2]])
        } else {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        }
    });
    img.save(path).unwrap();
}

/// Pseudo-random bytes.
pub fn noise(len: usize) -> Vec<u8> {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

/// Whether permissions are enforced for this process (not when running as root).
pub fn permissions_enforced(dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let probe = dir.join("perm-probe");
    std::fs::create_dir_all(&probe).unwrap();
    std::fs::set_permissions(&probe, std::fs::Permissions::from_mode(0o000)).unwrap();
    let enforced = std::fs::read_dir(&probe).is_err();
    std::fs::set_permissions(&probe, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::remove_dir(&probe).unwrap();
    enforced
}

pub fn canon(p: &Path) -> PathBuf {
    p.canonicalize().unwrap()
}
