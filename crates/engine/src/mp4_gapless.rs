//! Gapless information of MP4/M4A files: the first edit of the audio track's edit list.
//!
//! Symphonia's MP4 reader parses `elst` but does not apply it, so AAC's encoder priming
//! (1024 or 2112 frames) would play as silence at the start and the track would run long.
//! This reads `moov/trak[soun]/edts/elst` and `mdhd`/`mvhd` timescales with bounded reads
//! (box sizes checked against the file, nesting fixed, at most a few thousand boxes).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Frames to drop at the start and frames that play, at the track's sample rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gapless {
    pub delay: u64,
    pub frames: u64,
}

const MAX_BOXES: usize = 4096;
/// `moov` larger than this is not read (it would be a hostile file).
const MAX_MOOV: u64 = 64 << 20;

/// Read the edit list of the first audio track, if `path` is an MP4 file that has one.
pub fn read(path: &Path, sample_rate: u32) -> Option<Gapless> {
    let mut f = File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    let mut head = [0u8; 8];
    f.read_exact(&mut head).ok()?;
    if &head[4..8] != b"ftyp" {
        return None;
    }
    // Walk top-level boxes to find moov (it may be after mdat).
    let mut pos = 0u64;
    for _ in 0..MAX_BOXES {
        if pos + 8 > len {
            return None;
        }
        f.seek(SeekFrom::Start(pos)).ok()?;
        let (size, kind, header) = box_header(&mut f, len - pos)?;
        if &kind == b"moov" {
            if size > MAX_MOOV {
                return None;
            }
            let mut moov = vec![0u8; (size - header) as usize];
            f.read_exact(&mut moov).ok()?;
            return parse_moov(&moov, sample_rate);
        }
        pos += size;
    }
    None
}

fn box_header(f: &mut File, remaining: u64) -> Option<(u64, [u8; 4], u64)> {
    let mut h = [0u8; 8];
    f.read_exact(&mut h).ok()?;
    let kind = [h[4], h[5], h[6], h[7]];
    let size32 = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    let (size, header) = match size32 {
        0 => (remaining, 8),
        1 => {
            let mut b = [0u8; 8];
            f.read_exact(&mut b).ok()?;
            (u64::from_be_bytes(b), 16)
        }
        n => (u64::from(n), 8),
    };
    (size >= header && size <= remaining).then_some((size, kind, header))
}

/// Child boxes of a box body: (kind, body).
fn children(mut data: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    std::iter::from_fn(move || {
        if data.len() < 8 {
            return None;
        }
        let size = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
        let kind = [data[4], data[5], data[6], data[7]];
        let size = if size == 0 { data.len() } else { size };
        if size < 8 || size > data.len() {
            return None;
        }
        let body = &data[8..size];
        data = &data[size..];
        Some((kind, body))
    })
    .take(MAX_BOXES)
}

fn child<'a>(data: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    children(data).find(|(k, _)| k == kind).map(|(_, b)| b)
}

fn be_u32(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from(u32::from_be_bytes(
        b.get(at..at + 4)?.try_into().ok()?,
    )))
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Timescale of an `mvhd` or `mdhd` body (same layout for the fields we need).
fn timescale(body: &[u8]) -> Option<u64> {
    let ts = if body.first()? == &1 {
        be_u32(body, 20)?
    } else {
        be_u32(body, 12)?
    };
    (ts > 0).then_some(ts)
}

fn parse_moov(moov: &[u8], rate: u32) -> Option<Gapless> {
    let movie_scale = timescale(child(moov, b"mvhd")?)?;
    let trak = children(moov)
        .filter(|(k, _)| k == b"trak")
        .map(|(_, b)| b)
        .find(|trak| {
            child(trak, b"mdia")
                .and_then(|m| child(m, b"hdlr"))
                .is_some_and(|h| h.get(8..12) == Some(b"soun"))
        })?;
    let media_scale = timescale(child(child(trak, b"mdia")?, b"mdhd")?)?;
    let elst = child(child(trak, b"edts")?, b"elst")?;
    let version = *elst.first()?;
    let count = be_u32(elst, 4)?;
    let entry = if version == 1 { 20 } else { 12 };
    let mut at = 8;
    for _ in 0..count.min(64) {
        let (duration, media_time) = if version == 1 {
            (be_u64(elst, at)?, be_u64(elst, at + 8)? as i64)
        } else {
            (
                be_u32(elst, at)?,
                i64::from(be_u32(elst, at + 4)? as u32 as i32),
            )
        };
        at += entry;
        if media_time < 0 {
            continue; // an empty edit (a pause before the track): not gapless information
        }
        let to_frames = |v: u64, scale: u64| -> u64 {
            (u128::from(v) * u128::from(rate) / u128::from(scale)) as u64
        };
        return Some(Gapless {
            delay: to_frames(media_time as u64, media_scale),
            frames: to_frames(duration, movie_scale),
        });
    }
    None
}
