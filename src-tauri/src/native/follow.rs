//! The native output as an output of the player core, in Rust: a thread follows the core's
//! events (the track to load, play/pause, seeks, the sound settings) and drives the
//! [`NativeOutput`], and reports back what only the output knows — the position every
//! second and the end of a track (`track_ended`), a track that cannot be opened
//! (`track_failed`) — so Next, Previous, repeat and the end of the queue are decided by the
//! core, as for the page's element. The page on this path only shows what plays.

use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sonance_engine::Enhancement;
use sonance_player::{Command, Event, PlayerHandle, PlayerState, Settings, Status, TrackId};
use sonance_stream::Catalog;

use super::NativeOutput;

/// How often the output is looked at (the end of a track, the position) between events.
const TICK: Duration = Duration::from_millis(100);
/// The position is told to the core this often while playing (as the page does).
const POSITION_EVERY: Duration = Duration::from_secs(1);

/// Start following `player` with `out`; the thread ends when the player stops.
pub fn spawn(
    out: Arc<NativeOutput>,
    player: PlayerHandle,
    library: Arc<Catalog>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("native-follower".into())
        .spawn(move || {
            let mut f = Follower {
                out,
                player,
                library,
                loaded: None,
                ended_told: false,
                position_told: Instant::now(),
                was_playing: false,
                enhancement: None,
            };
            f.run();
        })?;
    Ok(())
}

struct Follower {
    out: Arc<NativeOutput>,
    player: PlayerHandle,
    library: Arc<Catalog>,
    /// The core's track the output holds.
    loaded: Option<TrackId>,
    /// The end of `loaded` was told to the core.
    ended_told: bool,
    position_told: Instant,
    /// The output played at the last look (a pause is followed by one report of where).
    was_playing: bool,
    /// The (preset, intensity) the output renders.
    enhancement: Option<(String, f32)>,
}

impl Follower {
    fn run(&mut self) {
        let mut events = self.player.subscribe();
        self.follow_state(&self.player.state());
        loop {
            match events.recv_timeout(TICK) {
                Ok(ev) => self.on_event(ev),
                Err(RecvTimeoutError::Timeout) => {}
                // Dropped as lagging (or the player stopped): start again from the state.
                Err(RecvTimeoutError::Disconnected) => {
                    events = self.player.subscribe();
                    self.follow_state(&self.player.state());
                }
            }
            if !self.tick() {
                log::info!("native output: the player stopped; no longer following it");
                return;
            }
        }
    }

    /// Take the core's whole state (at start, after a lag).
    fn follow_state(&mut self, s: &PlayerState) {
        self.apply_settings(&Settings {
            volume: s.volume,
            preset: s.preset.clone(),
            intensity: s.intensity,
            loudness_mode: s.loudness_mode,
        });
        let current = s.index.and_then(|i| s.tracks.get(i)).cloned();
        if current != self.loaded {
            self.load(current, s.position_s, s.status == Status::Playing);
        } else {
            self.status(s.status);
        }
    }

    fn on_event(&mut self, ev: Event) {
        match ev {
            Event::TrackChanged {
                track, start_at_s, ..
            } => {
                // The status after the command that changed the track (a play_now from
                // stopped sends its status_changed after this).
                let playing = self.player.state().status == Status::Playing;
                self.load(track, start_at_s, playing);
            }
            Event::StatusChanged { status } => self.status(status),
            Event::Seeked { position_s } => {
                if self.loaded.is_some() {
                    self.ended_told = false;
                    self.out.seek(position_s.max(0.0));
                }
            }
            Event::SettingsChanged(s) => self.apply_settings(&s),
            Event::QueueChanged(_) | Event::Error { .. } => {}
        }
    }

    fn status(&mut self, status: Status) {
        match status {
            Status::Playing => self.out.play(),
            Status::Paused => self.out.pause(),
            Status::Stopped => {
                self.out.pause();
                if self.loaded.is_some() {
                    self.out.seek(0.0);
                }
            }
        }
    }

    fn load(&mut self, track: Option<TrackId>, position_s: f64, playing: bool) {
        self.ended_told = false;
        self.position_told = Instant::now();
        let Some(id) = track else {
            self.loaded = None;
            self.out.pause();
            return;
        };
        self.loaded = Some(id.clone());
        let entry = sonance_stream::TrackId::parse(&id.0).and_then(|lib| self.library.get(&lib));
        let opened = match entry {
            None => Err("There is no such track in the library.".to_string()),
            Some(e) => e.track.map_err(|e| e.to_string()),
        };
        match opened {
            Ok(t) => {
                let (preset, intensity) = self
                    .enhancement
                    .clone()
                    .unwrap_or_else(|| ("adaptive".to_string(), 1.0));
                self.out.load(
                    &id.0,
                    t,
                    enhancement(&preset, intensity),
                    position_s.max(0.0),
                    playing,
                );
            }
            Err(message) => {
                log::warn!("native output: cannot play {}: {message}", id.0);
                self.out.pause();
                let _ = self
                    .player
                    .try_send(Command::TrackFailed { track: id, message });
            }
        }
    }

    fn apply_settings(&mut self, s: &Settings) {
        let v = if s.volume.is_finite() {
            f64::from(s.volume.clamp(0.0, 1.0))
        } else {
            1.0
        };
        self.out.set_volume(v);
        let wanted = (s.preset.clone(), s.intensity);
        if self.enhancement.as_ref() != Some(&wanted) {
            self.out
                .set_enhancement(enhancement(&s.preset, s.intensity));
            self.enhancement = Some(wanted);
        }
    }

    /// Look at the output: tell the core of the end of the track and of the position (every
    /// second while playing, and once where it paused).
    /// False when the player has stopped.
    fn tick(&mut self) -> bool {
        let Some(id) = self.loaded.clone() else {
            return true;
        };
        let st = self.out.state();
        if st.track_id.as_deref() != Some(id.0.as_str()) {
            return true;
        }
        if st.ended && !self.ended_told {
            self.ended_told = true;
            if self
                .player
                .send(Command::TrackEnded { track: Some(id) })
                .is_err()
            {
                return false;
            }
            return true;
        }
        let paused_now = self.was_playing && !st.playing;
        self.was_playing = st.playing;
        if (st.playing && self.position_told.elapsed() >= POSITION_EVERY) || paused_now {
            self.position_told = Instant::now();
            let cmd = Command::Position {
                position_s: st.position_s,
            };
            if let Err(std::sync::mpsc::TrySendError::Disconnected(_)) = self.player.try_send(cmd) {
                return false;
            }
        }
        true
    }
}

/// The rendering for the core's preset (a name the engine does not know, such as a fresh
/// core's "default", renders `adaptive` until the page chooses).
fn enhancement(preset: &str, intensity: f32) -> Enhancement {
    let intensity = if intensity.is_finite() {
        intensity.clamp(0.0, 1.0)
    } else {
        1.0
    };
    Enhancement::from_choice(preset, intensity)
        .or_else(|_| Enhancement::from_choice("adaptive", intensity))
        .unwrap_or_else(|_| Enhancement::bypass())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_presets_render_adaptive() {
        assert_eq!(
            enhancement("default", 0.5).key(),
            Enhancement::from_choice("adaptive", 0.5).unwrap().key()
        );
        assert_eq!(
            enhancement("gentle", f32::NAN).key(),
            Enhancement::from_choice("gentle", 1.0).unwrap().key(),
            "NaN intensity is full"
        );
    }
}
