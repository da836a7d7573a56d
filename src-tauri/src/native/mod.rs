//! The native output path: the engine's enhanced chunk PCM played through cpal, for web views
//! that cannot play Opus in WebM through MSE (older Linux distributions without GStreamer's
//! `opusparse`), or when forced (`--native-output`, `SONANCE_OUTPUT=native`).
//!
//! Three parts: [`feeder`] (a worker thread rendering chunks, one ahead), a lock-free SPSC
//! ring of [`sink::Block`]s, and [`sink::Sink`] in the audio callback ([`device`]). This
//! controller only flips atomics and sends the feeder messages; it never blocks on audio.

pub mod device;
pub mod feeder;
pub mod follow;
pub mod sink;

use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use sonance_engine::{Engine, Enhancement, Track};

use feeder::Control;
use sink::{Shared, Sink, RATE};

/// What the page shows for the native path.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NativeState {
    pub track_id: Option<String>,
    pub position_s: f64,
    pub duration_s: f64,
    pub playing: bool,
    pub ended: bool,
    /// The device in use, for people.
    pub device: String,
    /// Whether anything is heard (false: the silent clock, no sound card).
    pub audible: bool,
    pub underruns: u64,
}

struct Loaded {
    track_id: String,
    track: Arc<Track>,
    enh: Enhancement,
    /// Where a seek went, until the callback plays from there.
    pending_seek: Option<u64>,
}

/// The native player.
pub struct NativeOutput {
    shared: Arc<Shared>,
    tx: Mutex<Sender<Control>>,
    loaded: Mutex<Option<Loaded>>,
    device: device::Device,
}

impl NativeOutput {
    /// Open the audio device and start the feeder.
    pub fn start(engine: Arc<Engine>) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::new());
        let (tx, rx) = rtrb::RingBuffer::new(feeder::RING_BLOCKS);
        let device = device::open(move |rate| Sink::new(rx, rate), Arc::clone(&shared))?;
        let (ctl_tx, ctl_rx) = mpsc::channel();
        let feeder_shared = Arc::clone(&shared);
        let rate = device.info.rate;
        std::thread::Builder::new()
            .name("native-feeder".into())
            .spawn(move || feeder::run(engine, ctl_rx, tx, feeder_shared, rate))?;
        Ok(NativeOutput {
            shared,
            tx: Mutex::new(ctl_tx),
            loaded: Mutex::new(None),
            device,
        })
    }

    fn send(&self, c: Control) {
        let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        if tx.send(c).is_err() {
            log::error!("native output: the feeder thread is gone");
        }
    }

    fn bump_epoch(&self, switch_at: u64) -> u32 {
        self.shared.switch_at.store(switch_at, Ordering::Release);
        self.shared.epoch.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Load `track` at `position_s`; play at once when `autoplay`.
    pub fn load(
        &self,
        track_id: &str,
        track: Arc<Track>,
        enh: Enhancement,
        position_s: f64,
        autoplay: bool,
    ) {
        let at = to_frame(position_s, &track);
        self.shared.playing.store(false, Ordering::Relaxed);
        self.shared.ended.store(false, Ordering::Relaxed);
        let epoch = self.bump_epoch(0);
        self.shared.position.store(at, Ordering::Relaxed);
        *self.loaded.lock().unwrap_or_else(|e| e.into_inner()) = Some(Loaded {
            track_id: track_id.to_string(),
            track: Arc::clone(&track),
            enh,
            pending_seek: Some(at),
        });
        self.send(Control::Load {
            track,
            enh,
            at,
            epoch,
        });
        if autoplay {
            self.play();
        }
    }

    pub fn play(&self) {
        let ended = self.shared.ended.load(Ordering::Relaxed);
        if ended {
            self.seek(0.0);
        }
        if self
            .loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
        {
            self.shared.playing.store(true, Ordering::Relaxed);
        }
    }

    pub fn pause(&self) {
        self.shared.playing.store(false, Ordering::Relaxed);
    }

    /// Jump to `position_s`: older audio is dropped at once.
    pub fn seek(&self, position_s: f64) {
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        let Some(l) = loaded.as_mut() else { return };
        let at = to_frame(position_s, &l.track);
        l.pending_seek = Some(at);
        self.shared.ended.store(false, Ordering::Relaxed);
        let epoch = self.bump_epoch(0);
        drop(loaded);
        self.send(Control::Seek { at, epoch });
    }

    pub fn set_volume(&self, v: f64) {
        self.shared.set_volume(v as f32);
    }

    /// Another preset or intensity: the current rendering plays on until the new one is
    /// ready, then the new one takes over at the same place.
    pub fn set_enhancement(&self, enh: Enhancement) {
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        let Some(l) = loaded.as_mut() else { return };
        if l.enh.key() == enh.key() {
            return;
        }
        l.enh = enh;
        // New epoch now, but the old blocks play on (switch_at = ∞) until the feeder has
        // rendered the new chunk and sets the real switch frame.
        let epoch = self.bump_epoch(u64::MAX);
        drop(loaded);
        self.send(Control::Switch { enh, epoch });
    }

    /// The state for the page and the media session.
    pub fn state(&self) -> NativeState {
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        let played = self.shared.position.load(Ordering::Relaxed);
        let epoch_now = self.shared.epoch.load(Ordering::Acquire);
        let played_epoch = self.shared.played_epoch.load(Ordering::Relaxed);
        let (track_id, duration_s, frame) = match loaded.as_mut() {
            Some(l) => {
                if played_epoch == epoch_now {
                    l.pending_seek = None;
                }
                let frame = l.pending_seek.unwrap_or(played);
                (Some(l.track_id.clone()), l.track.duration_s(), frame)
            }
            None => (None, 0.0, 0),
        };
        NativeState {
            track_id,
            position_s: frame as f64 / f64::from(RATE),
            duration_s,
            playing: self.shared.playing.load(Ordering::Relaxed),
            ended: self.shared.ended.load(Ordering::Relaxed),
            device: self.device.info.name.clone(),
            audible: self.device.info.audible,
            underruns: self.shared.underruns.load(Ordering::Relaxed),
        }
    }
}

fn to_frame(position_s: f64, track: &Track) -> u64 {
    let total = track.plan().total_frames();
    if !position_s.is_finite() || position_s <= 0.0 {
        return 0;
    }
    ((position_s * f64::from(RATE)) as u64).min(total.saturating_sub(1))
}
