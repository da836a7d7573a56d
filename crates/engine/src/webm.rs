//! A minimal WebM writer: an init segment and media segments of Opus packets.
//!
//! Only elements Chromium's strict WebM parser accepts are written (unknown IDs inside a
//! known-size master are rejected there). The Segment has unknown size so media segments can
//! follow the init segment in any order; Clusters have known sizes and hold at most
//! [`CLUSTER_PACKETS`] packets, far below the 32.767 s reach of a SimpleBlock's int16
//! relative timestamp. Timestamps are absolute track time in milliseconds
//! (TimestampScale = 1 ms; 20 ms packets keep them whole).

use crate::chunk::PACKETS_PER_SECOND;
use crate::error::{Error, Result};

/// MIME type of everything written here.
pub const MIME: &str = "audio/webm; codecs=\"opus\"";
/// Packets per Cluster (5 s).
pub const CLUSTER_PACKETS: usize = 250;
const MS_PER_PACKET: i64 = 1000 / PACKETS_PER_SECOND as i64;

mod id {
    pub const EBML: u32 = 0x1A45_DFA3;
    pub const EBML_VERSION: u32 = 0x4286;
    pub const EBML_READ_VERSION: u32 = 0x42F7;
    pub const EBML_MAX_ID_LENGTH: u32 = 0x42F2;
    pub const EBML_MAX_SIZE_LENGTH: u32 = 0x42F3;
    pub const DOC_TYPE: u32 = 0x4282;
    pub const DOC_TYPE_VERSION: u32 = 0x4287;
    pub const DOC_TYPE_READ_VERSION: u32 = 0x4285;
    pub const SEGMENT: u32 = 0x1853_8067;
    pub const INFO: u32 = 0x1549_A966;
    pub const TIMESTAMP_SCALE: u32 = 0x2A_D7B1;
    pub const DURATION: u32 = 0x4489;
    pub const MUXING_APP: u32 = 0x4D80;
    pub const WRITING_APP: u32 = 0x5741;
    pub const TRACKS: u32 = 0x1654_AE6B;
    pub const TRACK_ENTRY: u32 = 0xAE;
    pub const TRACK_NUMBER: u32 = 0xD7;
    pub const TRACK_UID: u32 = 0x73C5;
    pub const TRACK_TYPE: u32 = 0x83;
    pub const CODEC_ID: u32 = 0x86;
    pub const CODEC_PRIVATE: u32 = 0x63A2;
    pub const CODEC_DELAY: u32 = 0x56AA;
    pub const SEEK_PRE_ROLL: u32 = 0x56BB;
    pub const AUDIO: u32 = 0xE1;
    pub const SAMPLING_FREQUENCY: u32 = 0xB5;
    pub const CHANNELS: u32 = 0x9F;
    pub const CLUSTER: u32 = 0x1F43_B675;
    pub const TIMESTAMP: u32 = 0xE7;
    pub const SIMPLE_BLOCK: u32 = 0xA3;
}

/// The Segment's "unknown size" marker.
const UNKNOWN_SIZE: [u8; 8] = [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
/// Decoder pre-roll a player should use after a seek (80 ms, the Matroska Opus mapping).
const SEEK_PRE_ROLL_NS: u64 = 80_000_000;

/// The 19-byte OpusHead for 48 kHz stereo with `pre_skip = 0` (see [`crate::encode`]).
pub fn opus_head() -> [u8; 19] {
    let mut h = [0u8; 19];
    h[..8].copy_from_slice(b"OpusHead");
    h[8] = 1; // version
    h[9] = 2; // channels
              // pre_skip (10..12) = 0; input rate:
    h[12..16].copy_from_slice(&48_000u32.to_le_bytes());
    // output gain (16..18) = 0, mapping family (18) = 0.
    h
}

/// The init segment: EBML header, Segment start, Info and Tracks.
pub fn init_segment(duration_ms: f64) -> Vec<u8> {
    let mut out = Vec::with_capacity(200);
    let mut ebml = Vec::new();
    uint(&mut ebml, id::EBML_VERSION, 1);
    uint(&mut ebml, id::EBML_READ_VERSION, 1);
    uint(&mut ebml, id::EBML_MAX_ID_LENGTH, 4);
    uint(&mut ebml, id::EBML_MAX_SIZE_LENGTH, 8);
    bytes(&mut ebml, id::DOC_TYPE, b"webm");
    uint(&mut ebml, id::DOC_TYPE_VERSION, 4);
    uint(&mut ebml, id::DOC_TYPE_READ_VERSION, 2);
    bytes(&mut out, id::EBML, &ebml);

    write_id(&mut out, id::SEGMENT);
    out.extend_from_slice(&UNKNOWN_SIZE);

    let mut info = Vec::new();
    uint(&mut info, id::TIMESTAMP_SCALE, 1_000_000);
    float64(&mut info, id::DURATION, duration_ms);
    let app = concat!("sonance ", env!("CARGO_PKG_VERSION"));
    bytes(&mut info, id::MUXING_APP, app.as_bytes());
    bytes(&mut info, id::WRITING_APP, app.as_bytes());
    bytes(&mut out, id::INFO, &info);

    let mut audio = Vec::new();
    float32(&mut audio, id::SAMPLING_FREQUENCY, 48_000.0);
    uint(&mut audio, id::CHANNELS, 2);
    let mut entry = Vec::new();
    uint(&mut entry, id::TRACK_NUMBER, 1);
    uint(&mut entry, id::TRACK_UID, 1);
    uint(&mut entry, id::TRACK_TYPE, 2);
    bytes(&mut entry, id::CODEC_ID, b"A_OPUS");
    bytes(&mut entry, id::CODEC_PRIVATE, &opus_head());
    uint(&mut entry, id::CODEC_DELAY, 0);
    uint(&mut entry, id::SEEK_PRE_ROLL, SEEK_PRE_ROLL_NS);
    bytes(&mut entry, id::AUDIO, &audio);
    let mut tracks = Vec::new();
    bytes(&mut tracks, id::TRACK_ENTRY, &entry);
    bytes(&mut out, id::TRACKS, &tracks);
    out
}

/// A media segment: Clusters of SimpleBlocks for `packets`, given as
/// `(index on the 20 ms grid, Opus packet)` in increasing index order.
pub fn media_segment<'a>(packets: impl IntoIterator<Item = (i64, &'a [u8])>) -> Result<Vec<u8>> {
    let packets: Vec<(i64, &[u8])> = packets.into_iter().collect();
    let size: usize = packets.iter().map(|(_, d)| d.len() + 8).sum();
    let mut out = Vec::with_capacity(size + 64);
    let mut cluster = Vec::with_capacity(CLUSTER_PACKETS * 512);
    for group in packets.chunks(CLUSTER_PACKETS) {
        // The lead-in before the track start has negative times: relative to a cluster at 0.
        let base = group[0].0.max(0);
        cluster.clear();
        uint(&mut cluster, id::TIMESTAMP, (base * MS_PER_PACKET) as u64);
        let mut prev = group[0].0 - 1;
        for &(index, data) in group {
            if index <= prev {
                return Err(Error::Encoder("packets out of order".into()));
            }
            prev = index;
            let rel = i16::try_from((index - base) * MS_PER_PACKET)
                .map_err(|_| Error::Encoder("cluster too long".into()))?;
            write_id(&mut cluster, id::SIMPLE_BLOCK);
            write_size(&mut cluster, data.len() as u64 + 4);
            cluster.push(0x81); // track number 1 as a 1-byte vint
            cluster.extend_from_slice(&rel.to_be_bytes());
            cluster.push(0x80); // keyframe
            cluster.extend_from_slice(data);
        }
        bytes(&mut out, id::CLUSTER, &cluster);
    }
    Ok(out)
}

fn write_id(out: &mut Vec<u8>, id: u32) {
    let b = id.to_be_bytes();
    let skip = b.iter().take_while(|&&x| x == 0).count();
    out.extend_from_slice(&b[skip..]);
}

fn write_size(out: &mut Vec<u8>, size: u64) {
    // Shortest vint whose value is not all ones (all ones means "unknown").
    let len = (1..=8u32)
        .find(|&n| size < (1u64 << (7 * n)) - 1)
        .unwrap_or(8);
    let marked = size | (1u64 << (7 * len));
    out.extend_from_slice(&marked.to_be_bytes()[8 - len as usize..]);
}

fn bytes(out: &mut Vec<u8>, id: u32, payload: &[u8]) {
    write_id(out, id);
    write_size(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

fn uint(out: &mut Vec<u8>, id: u32, v: u64) {
    let b = v.to_be_bytes();
    let skip = b.iter().take_while(|&&x| x == 0).count().min(7);
    bytes(out, id, &b[skip..]);
}

fn float32(out: &mut Vec<u8>, id: u32, v: f32) {
    bytes(out, id, &v.to_be_bytes());
}

fn float64(out: &mut Vec<u8>, id: u32, v: f64) {
    bytes(out, id, &v.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_the_shortest_vint() {
        let mut v = Vec::new();
        write_size(&mut v, 0);
        write_size(&mut v, 126);
        write_size(&mut v, 127); // all ones in one byte means unknown: needs two
        write_size(&mut v, 300);
        assert_eq!(v, vec![0x80, 0xFE, 0x40, 0x7F, 0x41, 0x2C]);
    }

    #[test]
    fn init_segment_bytes() {
        let init = init_segment(1000.0);
        // EBML header, DocType webm.
        assert_eq!(&init[..4], &[0x1A, 0x45, 0xDF, 0xA3]);
        assert!(init
            .windows(6)
            .any(|w| w == [0x42, 0x82, 0x84, b'w', b'e', b'b']));
        // Segment of unknown size.
        let seg = init.windows(4).position(|w| w == [0x18, 0x53, 0x80, 0x67]);
        let seg = seg.unwrap_or(usize::MAX);
        assert_eq!(&init[seg + 4..seg + 12], &UNKNOWN_SIZE);
        // OpusHead with pre-skip 0, and SamplingFrequency as a 4-byte float.
        assert!(init.windows(19).any(|w| w == opus_head()));
        assert!(init
            .windows(6)
            .any(|w| w == [0xB5, 0x84, 0x47, 0x3B, 0x80, 0x00]));
    }

    #[test]
    fn media_segment_clusters_and_block_timestamps() -> Result<()> {
        let data = [1u8, 2, 3];
        let seg = media_segment((1500..1760).map(|i| (i, &data[..])))?;
        // Two clusters (250 + 10 packets) at 30 000 ms and 35 000 ms.
        let clusters: Vec<usize> = seg
            .windows(4)
            .enumerate()
            .filter(|(_, w)| *w == [0x1F, 0x43, 0xB6, 0x75])
            .map(|(i, _)| i)
            .collect();
        assert_eq!(clusters.len(), 2);
        // Cluster Timestamp 30000 = 0x7530.
        assert!(seg.windows(4).any(|w| w == [0xE7, 0x82, 0x75, 0x30]));
        assert!(seg.windows(4).any(|w| w == [0xE7, 0x82, 0x88, 0xB8]));
        // Last block of the first cluster: relative 249·20 = 4980 ms = 0x1374.
        assert!(seg.windows(5).any(|w| w == [0x81, 0x13, 0x74, 0x80, 1]));
        // The lead-in before the track start: a cluster at 0, blocks at −100 ms … −20 ms.
        let seg = media_segment((-5..3).map(|i| (i, &data[..])))?;
        assert!(seg.windows(3).any(|w| w == [0xE7, 0x81, 0x00]));
        let neg100 = (-100i16).to_be_bytes();
        assert!(seg
            .windows(5)
            .any(|w| w == [0x81, neg100[0], neg100[1], 0x80, 1]));
        // Too far before the cluster for a block's 16-bit time.
        assert!(media_segment([(-2000, &data[..])]).is_err());
        assert!(media_segment([(5, &data[..]), (5, &data[..])]).is_err());
        Ok(())
    }
}
