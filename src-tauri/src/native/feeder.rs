//! The native output's worker thread: renders the track's chunks with the engine (the same
//! enhanced PCM the chunk path encodes) and keeps the ring to the audio callback about a second
//! ahead. The next chunk renders on a helper thread while the current one plays. It converts
//! 48 kHz to the device rate by linear interpolation when they differ (rare: the device is
//! asked for 48 kHz first).

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use sonance_engine::{Engine, Enhancement, Track};

use super::sink::{Block, Shared, BLOCK_FRAMES, RATE};

/// Blocks kept queued for the callback in normal play (1 s); the ring holds four times as
/// many so a preset switch can queue the new rendering behind the old one.
pub const FILL_BLOCKS: usize = 100;
pub const RING_BLOCKS: usize = 4 * FILL_BLOCKS;
/// A preset switch takes effect this far after the position it was asked at (the rendering of
/// the new chunk happens first, while the old one plays on).
const SWITCH_LEAD_FRAMES: u64 = RATE as u64 / 5;

/// What the controller asks the feeder.
pub enum Control {
    /// Play `track` from frame `at` for `epoch`.
    Load {
        track: Arc<Track>,
        enh: Enhancement,
        at: u64,
        epoch: u32,
    },
    /// Jump to frame `at` (the controller already bumped the epoch).
    Seek { at: u64, epoch: u32 },
    /// Render from now on with `enh` for `epoch` (bumped by the controller with
    /// `switch_at = u64::MAX`); the switch frame is chosen here, after rendering.
    Switch { enh: Enhancement, epoch: u32 },
}

struct Rendered {
    key: String,
    start: u64,
    pcm: Arc<Vec<f32>>,
}

/// The chunk after the current one, rendering on a helper thread: (chunk, enhancement key,
/// the thread).
type Prefetch = (u64, String, JoinHandle<sonance_engine::Result<Vec<f32>>>);

struct Job {
    track: Arc<Track>,
    enh: Enhancement,
    epoch: u32,
    /// Next track frame to emit (fractional when resampling).
    pos: f64,
    current: Option<Rendered>,
    next: Option<Prefetch>,
    done: bool,
    /// Blocks of the previous epoch still queued when it changed: the ring may hold that
    /// many more until the callback reaches the new epoch (it drops them quickly).
    stale: usize,
}

impl Job {
    fn target(&self, shared: &Shared) -> usize {
        let extra = if shared.played_epoch.load(Ordering::Relaxed) == self.epoch {
            0
        } else {
            self.stale
        };
        (FILL_BLOCKS + extra).min(RING_BLOCKS)
    }
}

/// Run until the controller goes away.
pub fn run(
    engine: Arc<Engine>,
    rx: Receiver<Control>,
    mut tx: rtrb::Producer<Block>,
    shared: Arc<Shared>,
    device_rate: u32,
) {
    let step = f64::from(RATE) / f64::from(device_rate.max(1));
    let mut job: Option<Job> = None;
    loop {
        let busy = job
            .as_ref()
            .is_some_and(|j| !j.done && queued(&tx) < j.target(&shared));
        let wait = if busy {
            Duration::ZERO
        } else {
            Duration::from_millis(10)
        };
        match rx.recv_timeout(wait) {
            Ok(c) => {
                handle(&engine, c, &mut job, &shared, queued(&tx));
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {}
        }
        let Some(j) = job.as_mut() else { continue };
        if j.done || queued(&tx) >= j.target(&shared) {
            continue;
        }
        match next_block(&engine, j, step) {
            Ok(Some(block)) => {
                if tx.push(block).is_err() {
                    log::debug!("native output: ring full");
                }
            }
            Ok(None) => j.done = true,
            Err(e) => {
                log::warn!("native output: cannot render: {e}");
                j.done = true;
            }
        }
    }
}

fn queued(tx: &rtrb::Producer<Block>) -> usize {
    RING_BLOCKS - tx.slots()
}

fn handle(engine: &Arc<Engine>, c: Control, job: &mut Option<Job>, shared: &Shared, queued: usize) {
    match c {
        Control::Load {
            track,
            enh,
            at,
            epoch,
        } => {
            *job = Some(Job {
                track,
                enh,
                epoch,
                pos: at as f64,
                current: None,
                next: None,
                done: false,
                stale: queued,
            });
        }
        Control::Seek { at, epoch } => {
            if let Some(j) = job.as_mut() {
                j.epoch = epoch;
                j.pos = at as f64;
                j.done = false;
                j.stale = queued;
            }
        }
        Control::Switch { enh, epoch } => {
            let Some(j) = job.as_mut() else { return };
            j.enh = enh;
            j.next = None;
            j.current = None;
            // Render the chunk under the switch point first; the old rendering plays on.
            let played = shared.position.load(Ordering::Relaxed);
            let at = (played + SWITCH_LEAD_FRAMES).min(j.track.plan().total_frames());
            let n = chunk_of(&j.track, at);
            match render(engine, &j.track, n, &j.enh) {
                Ok(r) => j.current = Some(r),
                Err(e) => log::warn!("native output: cannot render the new preset: {e}"),
            }
            // Take effect where playback is now plus the lead (never in the past).
            let now = shared.position.load(Ordering::Relaxed);
            let at = at.max(now + RATE as u64 / 50);
            j.epoch = epoch;
            j.pos = at as f64;
            j.done = false;
            j.stale = queued;
            // Unless a seek came in meanwhile (it set switch_at to 0 and a newer epoch, and its
            // own message follows this one).
            let _ = shared.switch_at.compare_exchange(
                u64::MAX,
                at.max(1),
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
        }
    }
}

fn chunk_of(track: &Track, frame: u64) -> u64 {
    track
        .plan()
        .chunk_at(frame as f64 / f64::from(RATE))
        .min(track.plan().count().saturating_sub(1))
}

fn render(
    engine: &Engine,
    track: &Track,
    n: u64,
    enh: &Enhancement,
) -> sonance_engine::Result<Rendered> {
    let started = std::time::Instant::now();
    let pcm = engine.chunk_pcm(track, n, enh)?;
    let (start, _) = track.plan().frames(n)?;
    log::debug!(
        "native output: chunk {n} ({}) rendered in {} ms",
        enh.key(),
        started.elapsed().as_millis()
    );
    Ok(Rendered {
        key: enh.key(),
        start,
        pcm: Arc::new(pcm),
    })
}

/// The stereo frame at track frame `i`, rendering (or taking the prefetched) chunk as needed.
/// `None` past the end of the track.
fn frame_at(
    engine: &Arc<Engine>,
    j: &mut Job,
    i: u64,
) -> sonance_engine::Result<Option<(f32, f32)>> {
    if i >= j.track.plan().total_frames() {
        return Ok(None);
    }
    let key = j.enh.key();
    let hit = |r: &Rendered| r.key == key && i >= r.start && i < r.start + (r.pcm.len() / 2) as u64;
    if !j.current.as_ref().is_some_and(hit) {
        let n = chunk_of(&j.track, i);
        let prefetched = match j.next.take() {
            Some((pn, pkey, handle)) if pn == n && pkey == key => match handle.join() {
                Ok(Ok(pcm)) => {
                    let (start, _) = j.track.plan().frames(n)?;
                    Some(Rendered {
                        key: key.clone(),
                        start,
                        pcm: Arc::new(pcm),
                    })
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => None,
            },
            _ => None,
        };
        let r = match prefetched {
            Some(r) => r,
            None => render(engine, &j.track, n, &j.enh)?,
        };
        j.current = Some(r);
        // Start rendering the chunk after it.
        if n + 1 < j.track.plan().count() {
            let (engine, track, enh) = (Arc::clone(engine), Arc::clone(&j.track), j.enh);
            let handle = std::thread::Builder::new()
                .name("native-prefetch".into())
                .spawn(move || engine.chunk_pcm(&track, n + 1, &enh));
            if let Ok(h) = handle {
                j.next = Some((n + 1, key.clone(), h));
            }
        }
    }
    let Some(r) = j.current.as_ref().filter(|r| hit(r)) else {
        return Ok(None);
    };
    let k = ((i - r.start) * 2) as usize;
    Ok(Some((r.pcm[k], r.pcm[k + 1])))
}

/// The next block of device frames, or `None` at the end of the track.
fn next_block(
    engine: &Arc<Engine>,
    j: &mut Job,
    step: f64,
) -> sonance_engine::Result<Option<Block>> {
    let mut b = Block::EMPTY;
    b.epoch = j.epoch;
    b.start = j.pos as u64;
    let mut n = 0usize;
    while n < BLOCK_FRAMES {
        let i = j.pos.floor() as u64;
        let frac = (j.pos - j.pos.floor()) as f32;
        let Some((l0, r0)) = frame_at(engine, j, i)? else {
            b.last = true;
            break;
        };
        let (l, r) = if frac > 0.0 {
            let (l1, r1) = frame_at(engine, j, i + 1)?.unwrap_or((l0, r0));
            (l0 + (l1 - l0) * frac, r0 + (r1 - r0) * frac)
        } else {
            (l0, r0)
        };
        b.data[n * 2] = l;
        b.data[n * 2 + 1] = r;
        n += 1;
        j.pos += step;
    }
    if n == 0 {
        return Ok(None);
    }
    if j.pos as u64 >= j.track.plan().total_frames() {
        b.last = true;
    }
    b.frames = n as u32;
    Ok(Some(b))
}
