//! Opus encoding of a span of packets, with the join recipe measured in `docs/JOINS.md`.
//!
//! Packet `k` of the track covers frames `[960·k, 960·(k+1))` of the 48 kHz stream. libopus
//! delays its output by a look-ahead of [`LOOKAHEAD`] frames, so the encoder is fed the stream
//! advanced by that amount and `pre_skip` stays 0: decoded packet `k` lines up with stream
//! frames of packet `k`, and every packet boundary is a possible chunk boundary.
//!
//! Every span begins with [`LEAD_PACKETS`] packets of lead-in (100 ms, more than a decoder's
//! 80 ms pre-roll); at the track start that lead-in is silence, so the track's first frames
//! are encoded like any others instead of being lost to the encoder's start-up. Around its
//! first played packet, prediction is disabled and the bitrate doubled for [`GUARD`] packets,
//! so whatever state the decoder arrives with (the previous chunk's or track's, or none after
//! a seek) the first packets decode clean.

use opus::{Application, Bitrate, Channels, Encoder};

use crate::chunk::PACKET_FRAMES;
use crate::error::{Error, Result};

/// libopus look-ahead at 48 kHz for `Application::Audio`, in frames.
pub const LOOKAHEAD: i64 = 312;
/// Lead-in packets before the first played packet of a span (100 ms).
pub const LEAD_PACKETS: i64 = 5;
/// Packets with prediction disabled and doubled bitrate, relative to the first played packet.
pub const GUARD: std::ops::Range<i64> = -1..2;
/// Packets at the end of a span that ends at a join (not the track end) with prediction
/// disabled and doubled bitrate, so the state a decoder carries across the join (CELT's
/// pitch post-filter above all) is the same whichever encoder made the next packet.
pub const TAIL_GUARD: i64 = 1;
/// Version of the packet layout (lead-in, guards) in every cache key: fragments written by
/// an older layout are not served. 2: the track start has a written lead-in of silence.
const LAYOUT: u32 = 2;
/// Largest Opus packet libopus writes for one 20 ms stereo frame.
const MAX_PACKET: usize = 4000;

/// Encoder settings; part of every cache key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EncoderSettings {
    /// Target bitrate in bits per second (6 000 … 510 000).
    pub bitrate: u32,
    /// libopus complexity 0 … 10.
    pub complexity: u8,
    /// Variable bitrate.
    pub vbr: bool,
}

impl Default for EncoderSettings {
    fn default() -> Self {
        EncoderSettings {
            bitrate: 160_000,
            complexity: 10,
            vbr: true,
        }
    }
}

impl EncoderSettings {
    /// Check the settings are within what libopus accepts.
    pub fn validate(&self) -> Result<()> {
        if !(6_000..=510_000).contains(&self.bitrate) {
            return Err(Error::InvalidParameter(format!(
                "bitrate must be between 6000 and 510000 b/s, not {}",
                self.bitrate
            )));
        }
        if self.complexity > 10 {
            return Err(Error::InvalidParameter(format!(
                "complexity must be between 0 and 10, not {}",
                self.complexity
            )));
        }
        Ok(())
    }

    /// A stable text for cache keys (with the packet layout's version).
    pub fn key(&self) -> String {
        format!(
            "opus{}c{}{}l{LAYOUT}",
            self.bitrate,
            self.complexity,
            if self.vbr { "v" } else { "c" }
        )
    }
}

/// How a span begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lead {
    /// At a chunk boundary or the track start: the lead-in packets are written (before the
    /// append window, so a player decodes or drops them as pre-roll; before the track start
    /// they are silence with negative timestamps).
    Written,
    /// Inside a chunk, after another span: the encoder warms up on the lead-in but its
    /// packets are not written.
    Hidden,
}

/// A run of packets `[first, end)` encoded by one encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub first: i64,
    pub end: i64,
    pub lead: Lead,
    /// Another span follows this one (it does not end the track).
    pub joins_next: bool,
}

/// One encoded packet and its index on the 20 ms grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedPacket {
    pub index: i64,
    pub data: Vec<u8>,
}

impl Span {
    fn encoder_first(&self) -> i64 {
        self.first - LEAD_PACKETS
    }

    /// Frames `[start, end)` of the 48 kHz stream the encoder reads, so the ones to render for
    /// this span (frames before the track start render as silence).
    pub fn render_range(&self) -> (i64, i64) {
        let f = PACKET_FRAMES as i64;
        (
            self.encoder_first() * f + LOOKAHEAD,
            self.end * f + LOOKAHEAD,
        )
    }

    /// Encode the span from `pcm`, the frames of [`Span::render_range`] (interleaved stereo).
    pub fn encode(&self, settings: &EncoderSettings, pcm: &[f32]) -> Result<Vec<EncodedPacket>> {
        let (a, b) = self.render_range();
        if pcm.len() as i64 != (b - a) * 2 {
            return Err(Error::Encoder(format!(
                "expected {} samples, got {}",
                (b - a) * 2,
                pcm.len()
            )));
        }
        let mut enc = new_encoder(settings)?;
        let per_packet = PACKET_FRAMES as usize * 2;
        let mut out = Vec::with_capacity((self.end - self.encoder_first()).max(0) as usize);
        let mut buf = [0u8; MAX_PACKET];
        let mut guarded = false;
        for (i, frame) in pcm.chunks_exact(per_packet).enumerate() {
            let k = self.encoder_first() + i as i64;
            let guard = GUARD.contains(&(k - self.first))
                || (self.joins_next && k >= self.end - TAIL_GUARD);
            if guard != guarded {
                let rate = if guard {
                    (settings.bitrate * 2).min(510_000)
                } else {
                    settings.bitrate
                };
                enc.set_prediction_disabled(guard).map_err(opus_err)?;
                enc.set_bitrate(Bitrate::Bits(rate as i32))
                    .map_err(opus_err)?;
                guarded = guard;
            }
            let n = enc.encode_float(frame, &mut buf).map_err(opus_err)?;
            if k >= self.first || self.lead == Lead::Written {
                out.push(EncodedPacket {
                    index: k,
                    data: buf[..n].to_vec(),
                });
            }
        }
        Ok(out)
    }
}

fn new_encoder(settings: &EncoderSettings) -> Result<Encoder> {
    settings.validate()?;
    let mut enc = Encoder::new(48_000, Channels::Stereo, Application::Audio).map_err(opus_err)?;
    enc.set_complexity(i32::from(settings.complexity))
        .map_err(opus_err)?;
    enc.set_bitrate(Bitrate::Bits(settings.bitrate as i32))
        .map_err(opus_err)?;
    enc.set_vbr(settings.vbr).map_err(opus_err)?;
    enc.set_vbr_constraint(false).map_err(opus_err)?;
    Ok(enc)
}

fn opus_err(e: opus::Error) -> Error {
    Error::Encoder(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookahead_matches_libopus() -> Result<()> {
        let mut enc = new_encoder(&EncoderSettings::default())?;
        assert_eq!(i64::from(enc.get_lookahead().map_err(opus_err)?), LOOKAHEAD);
        Ok(())
    }

    #[test]
    fn written_lead_in_comes_out_and_hidden_does_not() -> Result<()> {
        let s = EncoderSettings::default();
        for (lead, expect_first) in [(Lead::Written, 5), (Lead::Hidden, 10)] {
            let span = Span {
                first: 10,
                end: 20,
                lead,
                joins_next: true,
            };
            let (a, b) = span.render_range();
            let pcm = vec![0.1f32; (b - a) as usize * 2];
            let packets = span.encode(&s, &pcm)?;
            assert_eq!(
                packets.first().map(|p| p.index),
                Some(expect_first),
                "{lead:?}"
            );
            assert_eq!(packets.last().map(|p| p.index), Some(19));
        }
        Ok(())
    }

    #[test]
    fn absurd_settings_are_refused() {
        let bad = EncoderSettings {
            bitrate: 5,
            ..Default::default()
        };
        assert!(bad.validate().is_err());
        let bad = EncoderSettings {
            complexity: 11,
            ..Default::default()
        };
        assert!(bad.validate().is_err());
    }
}
