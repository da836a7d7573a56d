//! The audio callback's side of the native output: blocks of PCM from a lock-free SPSC ring
//! into the device buffer. No allocation, no lock, no syscall: atomics and the ring only
//! (STYLE 4).
//!
//! Every [`Block`] carries the *epoch* it was rendered for and the track frame it starts at.
//! A seek or a preset switch bumps the epoch in [`Shared`]; the sink then drops older blocks
//! — at once for a seek, or once playback reaches the switch frame for a preset switch, so
//! the old rendering plays on until the new one takes over at the same place. The position
//! it publishes is the frame it actually played.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

/// Frames per block (10 ms at 48 kHz).
pub const BLOCK_FRAMES: usize = 480;
/// Engine sample rate.
pub const RATE: u32 = 48_000;

/// Stereo PCM for `frames` device frames starting at track frame `start` (48 kHz frames),
/// rendered for `epoch`.
#[derive(Clone, Copy)]
pub struct Block {
    pub epoch: u32,
    pub start: u64,
    pub frames: u32,
    /// The last block of the track.
    pub last: bool,
    pub data: [f32; BLOCK_FRAMES * 2],
}

impl Block {
    pub const EMPTY: Block = Block {
        epoch: 0,
        start: 0,
        frames: 0,
        last: false,
        data: [0.0; BLOCK_FRAMES * 2],
    };
}

/// State shared between the controller, the feeder and the callback (atomics only).
#[derive(Default)]
pub struct Shared {
    /// Whether the user wants sound (the sink fades in/out around it).
    pub playing: AtomicBool,
    /// Volume 0…1 as f32 bits.
    pub volume_bits: AtomicU32,
    /// The epoch blocks must carry to be played.
    pub epoch: AtomicU32,
    /// Older blocks play on until this frame (a preset switch); 0: drop them at once (a seek).
    pub switch_at: AtomicU64,
    /// The frame last played.
    pub position: AtomicU64,
    /// The epoch of the block last played.
    pub played_epoch: AtomicU32,
    /// The last block of the track was played out.
    pub ended: AtomicBool,
    /// Callbacks that found no block to play while playing.
    pub underruns: AtomicU64,
}

impl Shared {
    pub fn new() -> Self {
        let s = Shared::default();
        s.volume_bits.store(1.0f32.to_bits(), Ordering::Relaxed);
        s
    }

    pub fn volume(&self) -> f32 {
        f32::from_bits(self.volume_bits.load(Ordering::Relaxed))
    }

    pub fn set_volume(&self, v: f32) {
        self.volume_bits
            .store(v.clamp(0.0, 1.0).to_bits(), Ordering::Relaxed);
    }
}

/// Gain change per output frame: a 0→1 ramp takes ~5 ms at 48 kHz (no clicks on pause,
/// play, seek).
const RAMP_PER_FRAME: f32 = 1.0 / 240.0;

/// The consumer half: owned by the audio callback.
pub struct Sink {
    rx: rtrb::Consumer<Block>,
    cur: Block,
    read: usize,
    gain: f32,
    epoch: u32,
    /// Track frames (48 kHz) per device frame.
    ratio: f64,
    /// A frame of the current epoch was played: running dry now is an underrun (before, it
    /// is the wait for the first render after a load or seek).
    primed: bool,
}

impl Sink {
    /// A sink for a device running at `device_rate` frames per second.
    pub fn new(rx: rtrb::Consumer<Block>, device_rate: u32) -> Self {
        Sink {
            rx,
            cur: Block::EMPTY,
            read: 0,
            gain: 0.0,
            epoch: 0,
            ratio: f64::from(RATE) / f64::from(device_rate.max(1)),
            primed: false,
        }
    }

    /// The next stereo frame to play, or `None` (nothing buffered).
    fn next_frame(&mut self, shared: &Shared) -> Option<(f32, f32)> {
        let want = shared.epoch.load(Ordering::Acquire);
        loop {
            if self.read < self.cur.frames as usize {
                let stale = self.cur.epoch != want;
                let frame = self.cur.start + (self.read as f64 * self.ratio) as u64;
                let switch_at = shared.switch_at.load(Ordering::Acquire);
                let keep_old = stale && switch_at > 0 && frame < switch_at;
                if !stale || keep_old {
                    let i = self.read * 2;
                    self.read += 1;
                    self.primed = self.cur.epoch == want;
                    if self.epoch != self.cur.epoch {
                        self.epoch = self.cur.epoch;
                        if switch_at == 0 {
                            // After a seek the new material ramps in from silence; after a
                            // preset switch it continues at the same level.
                            self.gain = 0.0;
                        }
                    }
                    let played = self.cur.start + (self.read as f64 * self.ratio).round() as u64;
                    shared.position.store(played, Ordering::Relaxed);
                    shared.played_epoch.store(self.cur.epoch, Ordering::Relaxed);
                    if self.cur.last && self.read == self.cur.frames as usize {
                        shared.ended.store(true, Ordering::Release);
                    }
                    return Some((self.cur.data[i], self.cur.data[i + 1]));
                }
                // A stale block (past the switch point): drop the rest of it.
                self.read = self.cur.frames as usize;
            }
            match self.rx.pop() {
                Ok(b) => {
                    self.cur = b;
                    self.read = 0;
                }
                Err(_) => return None,
            }
        }
    }

    /// Fill `out` (interleaved, `channels` per frame) with the next frames. The engine renders
    /// stereo at 48 kHz; other layouts get the left/right pair in the first two channels (mono:
    /// their mean) and silence elsewhere. Rate conversion is the feeder's job.
    pub fn fill(&mut self, out: &mut [f32], channels: usize, shared: &Shared) {
        let channels = channels.max(1);
        let playing = shared.playing.load(Ordering::Relaxed);
        let volume = shared.volume();
        let target = if playing { 1.0 } else { 0.0 };
        let mut starved = false;
        for frame in out.chunks_mut(channels) {
            if !playing && self.gain <= 0.0 {
                frame.fill(0.0);
                continue;
            }
            let (l, r) = match self.next_frame(shared) {
                Some(lr) => lr,
                None => {
                    starved |= playing
                        && self.primed
                        && self.epoch == shared.epoch.load(Ordering::Relaxed);
                    self.gain = 0.0;
                    frame.fill(0.0);
                    continue;
                }
            };
            if self.gain < target {
                self.gain = (self.gain + RAMP_PER_FRAME).min(target);
            } else if self.gain > target {
                self.gain = (self.gain - RAMP_PER_FRAME).max(target);
            }
            let g = self.gain * volume;
            match frame {
                [m] => *m = 0.5 * (l + r) * g,
                [a, b, rest @ ..] => {
                    *a = l * g;
                    *b = r * g;
                    rest.fill(0.0);
                }
                [] => {}
            }
        }
        if starved && !shared.ended.load(Ordering::Relaxed) {
            shared.underruns.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(epoch: u32, start: u64, value: f32) -> Block {
        let mut b = Block::EMPTY;
        b.epoch = epoch;
        b.start = start;
        b.frames = BLOCK_FRAMES as u32;
        b.data = [value; BLOCK_FRAMES * 2];
        b
    }

    fn setup() -> (rtrb::Producer<Block>, Sink, Shared) {
        let (tx, rx) = rtrb::RingBuffer::new(16);
        let shared = Shared::new();
        (tx, Sink::new(rx, RATE), shared)
    }

    #[test]
    fn plays_in_order_ramps_in_and_reports_position() {
        let (mut tx, mut sink, shared) = setup();
        shared.playing.store(true, Ordering::Relaxed);
        tx.push(block(0, 0, 0.5)).unwrap();
        tx.push(block(0, 480, 0.5)).unwrap();
        let mut out = vec![0.0f32; 600 * 2];
        sink.fill(&mut out, 2, &shared);
        assert_eq!(shared.position.load(Ordering::Relaxed), 600);
        assert!(out[0] > 0.0 && out[0] < 0.01, "ramps in from silence");
        assert!(
            (out[out.len() - 1] - 0.5).abs() < 1e-6,
            "full level after the ramp"
        );
        assert_eq!(shared.underruns.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn paused_consumes_nothing_and_is_silent() {
        let (mut tx, mut sink, shared) = setup();
        tx.push(block(0, 0, 0.5)).unwrap();
        let mut out = vec![1.0f32; 256 * 2];
        sink.fill(&mut out, 2, &shared);
        assert!(out.iter().all(|&x| x == 0.0));
        assert_eq!(shared.position.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_seek_drops_old_blocks_at_once() {
        let (mut tx, mut sink, shared) = setup();
        shared.playing.store(true, Ordering::Relaxed);
        tx.push(block(0, 0, 0.1)).unwrap();
        tx.push(block(0, 480, 0.1)).unwrap();
        let mut out = vec![0.0f32; 100 * 2];
        sink.fill(&mut out, 2, &shared);
        // Seek to frame 48 000: new epoch, switch_at 0.
        shared.switch_at.store(0, Ordering::Relaxed);
        shared.epoch.store(1, Ordering::Release);
        tx.push(block(1, 48_000, 0.9)).unwrap();
        sink.fill(&mut out, 2, &shared);
        assert_eq!(shared.position.load(Ordering::Relaxed), 48_100);
        assert_eq!(shared.played_epoch.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_switch_plays_the_old_rendering_up_to_the_switch_frame() {
        let (mut tx, mut sink, shared) = setup();
        shared.playing.store(true, Ordering::Relaxed);
        for i in 0..4 {
            tx.push(block(0, i * 480, 0.1)).unwrap();
        }
        let mut out = vec![0.0f32; 100 * 2];
        sink.fill(&mut out, 2, &shared);
        // Switch at frame 960: blocks 0 and 1 of epoch 0 play, 2 and 3 are dropped.
        shared.switch_at.store(960, Ordering::Relaxed);
        shared.epoch.store(1, Ordering::Release);
        tx.push(block(1, 960, 0.9)).unwrap();
        let mut out = vec![0.0f32; 860 * 2];
        sink.fill(&mut out, 2, &shared);
        assert_eq!(
            shared.position.load(Ordering::Relaxed),
            960,
            "old material up to the switch"
        );
        assert!((out[out.len() - 2] - 0.1).abs() < 1e-6);
        let mut out = vec![0.0f32; 10 * 2];
        sink.fill(&mut out, 2, &shared);
        assert_eq!(shared.played_epoch.load(Ordering::Relaxed), 1);
        assert_eq!(shared.position.load(Ordering::Relaxed), 970);
        assert!(
            (out[18] - 0.9).abs() < 1e-6,
            "the new rendering continues at full level"
        );
    }

    #[test]
    fn waiting_for_the_first_render_is_no_underrun_running_dry_later_is() {
        let (mut tx, mut sink, shared) = setup();
        shared.playing.store(true, Ordering::Relaxed);
        let mut out = vec![0.0f32; BLOCK_FRAMES * 2];
        sink.fill(&mut out, 2, &shared);
        assert_eq!(shared.underruns.load(Ordering::Relaxed), 0);
        tx.push(block(0, 0, 0.5)).unwrap();
        sink.fill(&mut out, 2, &shared);
        sink.fill(&mut out, 2, &shared);
        assert_eq!(shared.underruns.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn end_of_track_and_underruns_are_reported() {
        let (mut tx, mut sink, shared) = setup();
        shared.playing.store(true, Ordering::Relaxed);
        let mut b = block(0, 0, 0.2);
        b.frames = 100;
        b.last = true;
        tx.push(b).unwrap();
        let mut out = vec![0.0f32; 200 * 3];
        sink.fill(&mut out, 3, &shared);
        assert!(shared.ended.load(Ordering::Relaxed));
        assert_eq!(
            shared.underruns.load(Ordering::Relaxed),
            0,
            "running out after the end is no underrun"
        );
        assert_eq!(out[2], 0.0, "third channel silent");
    }
}
