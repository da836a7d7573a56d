//! The chunk grid: where chunk *n* starts and ends on the 48 kHz timeline, in Opus packets.
//!
//! Every chunk boundary sits on the 20 ms packet grid, so each fragment starts and ends on a
//! packet boundary and its timestamps are whole milliseconds.

use crate::error::{Error, Result};

/// Frames in one Opus packet (20 ms at 48 kHz).
pub const PACKET_FRAMES: u64 = 960;
/// Packets per second.
pub const PACKETS_PER_SECOND: u64 = 50;
/// Shortest and longest chunk accepted, in seconds.
pub const CHUNK_SECONDS_RANGE: (f64, f64) = (1.0, 600.0);

/// How a track of `total_frames` (48 kHz) is cut into chunks of `chunk_packets` packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkPlan {
    total_frames: u64,
    chunk_packets: u64,
}

impl ChunkPlan {
    /// A plan with chunks of `chunk_seconds` (a multiple of 20 ms within 1…600 s).
    pub fn new(total_frames: u64, chunk_seconds: f64) -> Result<Self> {
        let packets = chunk_packets(chunk_seconds)?;
        if total_frames == 0 {
            return Err(Error::InvalidParameter("the track is empty".into()));
        }
        Ok(ChunkPlan {
            total_frames,
            chunk_packets: packets,
        })
    }

    /// Frames of the whole track at 48 kHz.
    pub fn total_frames(&self) -> u64 {
        self.total_frames
    }

    /// Packets per (full) chunk.
    pub fn chunk_packets(&self) -> u64 {
        self.chunk_packets
    }

    /// Chunk length in seconds.
    pub fn chunk_seconds(&self) -> f64 {
        self.chunk_packets as f64 / PACKETS_PER_SECOND as f64
    }

    /// Number of chunks.
    pub fn count(&self) -> u64 {
        self.total_frames
            .div_ceil(self.chunk_packets * PACKET_FRAMES)
    }

    /// Frames `[start, end)` that chunk `n` plays (the last one ends at the track end).
    pub fn frames(&self, n: u64) -> Result<(u64, u64)> {
        if n >= self.count() {
            return Err(Error::InvalidParameter(format!(
                "chunk {n} does not exist (the track has {} chunks)",
                self.count()
            )));
        }
        let start = n * self.chunk_packets * PACKET_FRAMES;
        let end = (start + self.chunk_packets * PACKET_FRAMES).min(self.total_frames);
        Ok((start, end))
    }

    /// Packets `[first, end)` that cover chunk `n` (the last may reach past the track end).
    pub fn packets(&self, n: u64) -> Result<(u64, u64)> {
        let (start, end) = self.frames(n)?;
        Ok((start / PACKET_FRAMES, end.div_ceil(PACKET_FRAMES)))
    }

    /// The chunk under time `seconds` (clamped to the last chunk).
    pub fn chunk_at(&self, seconds: f64) -> u64 {
        let frame = (seconds.max(0.0) * 48_000.0) as u64;
        (frame / (self.chunk_packets * PACKET_FRAMES)).min(self.count() - 1)
    }
}

/// Validate a chunk length and convert it to packets.
pub fn chunk_packets(chunk_seconds: f64) -> Result<u64> {
    let (lo, hi) = CHUNK_SECONDS_RANGE;
    if !chunk_seconds.is_finite() || !(lo..=hi).contains(&chunk_seconds) {
        return Err(Error::InvalidParameter(format!(
            "chunk length must be between {lo} and {hi} seconds, not {chunk_seconds}"
        )));
    }
    let packets = (chunk_seconds * PACKETS_PER_SECOND as f64).round();
    if (packets / PACKETS_PER_SECOND as f64 - chunk_seconds).abs() > 1e-9 {
        return Err(Error::InvalidParameter(format!(
            "chunk length must be a multiple of 20 ms, not {chunk_seconds} s"
        )));
    }
    Ok(packets as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_covers_track_exactly() -> Result<()> {
        let plan = ChunkPlan::new(48_000 * 65 + 17, 30.0)?;
        assert_eq!(plan.count(), 3);
        assert_eq!(plan.frames(0)?, (0, 1_440_000));
        assert_eq!(plan.frames(2)?, (2_880_000, 48_000 * 65 + 17));
        assert_eq!(
            plan.packets(2)?,
            (3000, (48_000 * 65 + 17u64).div_ceil(960))
        );
        assert!(plan.frames(3).is_err());
        assert_eq!(plan.chunk_at(59.99), 1);
        assert_eq!(plan.chunk_at(1e9), 2);
        Ok(())
    }

    #[test]
    fn absurd_chunk_lengths_are_refused() {
        for s in [0.0, -5.0, f64::NAN, f64::INFINITY, 0.5, 30.01, 601.0] {
            assert!(chunk_packets(s).is_err(), "{s} accepted");
        }
        assert_eq!(chunk_packets(5.0).ok(), Some(250));
        assert_eq!(chunk_packets(2.52).ok(), Some(126));
    }
}
