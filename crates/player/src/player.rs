//! The one owner of playback state: the queue, the status, the position and the sound
//! settings. `handle(command) -> events`; pure (no clock, no thread, no I/O), so a test drives
//! it step by step. Modelled on psst's `psst-core/src/player/mod.rs`.

use crate::command::Command;
use crate::event::{ErrorKind, Event, QueueSnapshot, Settings};
use crate::queue::{Queue, QueueError, RepeatMode, TrackId};
use crate::state::{PlayerState, Status};

mod restore;

/// Previous within this many seconds of the start goes to the previous track; later it
/// restarts the current one (what every desktop player does).
pub const RESTART_AFTER_S: f64 = 3.0;

/// The longest preset name accepted, in bytes.
pub const MAX_PRESET_LEN: usize = 100;

/// A refused command: nothing was changed.
struct Refused {
    kind: ErrorKind,
    message: String,
}

fn refused(kind: ErrorKind, message: impl Into<String>) -> Refused {
    Refused {
        kind,
        message: message.into(),
    }
}

impl From<QueueError> for Refused {
    fn from(e: QueueError) -> Self {
        match e {
            QueueError::IndexOutOfRange { index, len } => refused(
                ErrorKind::InvalidIndex,
                format!("There is no track at position {index}: the queue holds {len}."),
            ),
            QueueError::TooManyTracks { wanted, max } => refused(
                ErrorKind::QueueFull,
                format!("The queue can hold at most {max} tracks; this would make it {wanted}."),
            ),
        }
    }
}

/// The player. See the module docs and the crate README for the contract.
#[derive(Debug, Clone)]
pub struct Player {
    queue: Queue,
    status: Status,
    position_s: f64,
    settings: Settings,
    /// Tracks that failed in a row; when every queued track has failed the player stops
    /// instead of going round forever with repeat all.
    failures_in_a_row: usize,
}

impl Player {
    /// A stopped player with an empty queue; shuffles are drawn from `seed`.
    pub fn new(seed: u64) -> Self {
        Player::restore(PlayerState::default(), seed)
    }

    /// The queue (read only; change it with commands).
    pub fn queue(&self) -> &Queue {
        &self.queue
    }

    pub fn status(&self) -> Status {
        self.status
    }

    /// Where playback of the current track is, in seconds.
    pub fn position_s(&self) -> f64 {
        self.position_s
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The current track.
    pub fn current(&self) -> Option<&TrackId> {
        self.queue.current()
    }

    /// The queue as carried by [`Event::QueueChanged`].
    pub fn queue_snapshot(&self) -> QueueSnapshot {
        QueueSnapshot {
            tracks: self.queue.play_order(),
            index: self.queue.index(),
            shuffle: self.queue.shuffle(),
            repeat: self.queue.repeat(),
        }
    }

    /// Gapless hint: the track that plays when the current one ends by itself (the same one
    /// with repeat one, the first after the last with repeat all, none after the last with
    /// repeat off), so an output can prefetch it and chain it.
    pub fn upcoming(&self) -> Option<TrackId> {
        self.queue
            .auto_next()
            .and_then(|i| self.queue.get(i))
            .cloned()
    }

    /// Apply `cmd` and say what changed. A refused command yields one [`Event::Error`] and
    /// changes nothing. Never panics.
    pub fn handle(&mut self, cmd: Command) -> Vec<Event> {
        let status_before = self.status;
        let settings_before = self.settings.clone();
        let mut out = Vec::new();
        if let Err(Refused { kind, message }) = self.apply(cmd, &mut out) {
            // `apply` validates before it changes anything, so there is nothing to undo.
            return vec![Event::Error { kind, message }];
        }
        if self.status != status_before {
            out.push(Event::StatusChanged {
                status: self.status,
            });
        }
        if self.settings != settings_before {
            out.push(Event::SettingsChanged(self.settings.clone()));
        }
        out
    }

    fn apply(&mut self, cmd: Command, out: &mut Vec<Event>) -> Result<(), Refused> {
        // Anything but another failure (or the output's first report) means the chain of
        // failing tracks is broken: a user choice, or a track that really plays.
        match &cmd {
            Command::TrackFailed { .. } => {}
            Command::Position { position_s } if !(position_s.is_finite() && *position_s > 0.0) => {}
            _ => self.failures_in_a_row = 0,
        }
        match cmd {
            Command::PlayNow { tracks, index } => {
                if tracks.is_empty() {
                    return Err(refused(
                        ErrorKind::NothingToPlay,
                        "There is nothing to play: the list of tracks is empty.",
                    ));
                }
                self.queue.play_now(tracks, index)?;
                self.queue_changed(out);
                self.load(self.queue.index(), out);
                self.status = Status::Playing;
            }
            Command::SetQueue { tracks, index } => {
                if tracks.is_empty() {
                    self.clear(out);
                } else {
                    self.queue.play_now(tracks, index)?;
                    self.queue_changed(out);
                    self.load(self.queue.index(), out);
                }
            }
            Command::PlayNext { tracks } => {
                if !tracks.is_empty() {
                    self.queue.play_next(tracks)?;
                    self.queue_changed(out);
                }
            }
            Command::Append { tracks } => {
                if !tracks.is_empty() {
                    self.queue.append(tracks)?;
                    self.queue_changed(out);
                }
            }
            Command::Remove { index } => {
                let current_changed = self.queue.remove(index)?;
                self.queue_changed(out);
                if current_changed {
                    self.load(self.queue.index(), out);
                }
            }
            Command::Move { from, to } => {
                self.queue.move_item(from, to)?;
                if from != to {
                    self.queue_changed(out);
                }
            }
            Command::Clear => self.clear(out),
            Command::Play => self.play(out)?,
            Command::Pause => {
                if self.status == Status::Playing {
                    self.status = Status::Paused;
                }
            }
            Command::TogglePlay => {
                if self.status == Status::Playing {
                    self.status = Status::Paused;
                } else {
                    self.play(out)?;
                }
            }
            Command::Stop => {
                self.status = Status::Stopped;
                self.rewind(false, out);
            }
            Command::Next => {
                if self.queue.is_empty() {
                    return Err(nothing_queued());
                }
                let wrap = self.queue.repeat() != RepeatMode::Off;
                let target = self.queue.after(self.queue.index(), wrap);
                self.load(target, out);
            }
            Command::Previous => match self.queue.index() {
                None if self.queue.is_empty() => return Err(nothing_queued()),
                None => self.load(Some(self.queue.len() - 1), out),
                Some(c) if c == 0 || self.position_s > RESTART_AFTER_S => self.rewind(true, out),
                Some(c) => self.load(Some(c - 1), out),
            },
            Command::Seek { position_s } => {
                check_position(position_s)?;
                if self.queue.index().is_none() {
                    return Err(refused(
                        ErrorKind::NothingToPlay,
                        "There is no current track to seek in.",
                    ));
                }
                self.position_s = position_s;
                out.push(Event::Seeked { position_s });
            }
            Command::SetShuffle { on } => {
                if on != self.queue.shuffle() {
                    self.queue.set_shuffle(on);
                    self.queue_changed(out);
                }
            }
            Command::SetRepeat { mode } => {
                if mode != self.queue.repeat() {
                    self.queue.set_repeat(mode);
                    self.queue_changed(out);
                }
            }
            Command::SetVolume { volume } => {
                self.settings.volume = check_unit("The volume", volume)?;
            }
            Command::SetPreset { preset } => {
                if !valid_preset(&preset) {
                    return Err(refused(
                        ErrorKind::InvalidValue,
                        format!(
                            "A preset name must be between 1 and {MAX_PRESET_LEN} characters long."
                        ),
                    ));
                }
                self.settings.preset = preset;
            }
            Command::SetIntensity { intensity } => {
                self.settings.intensity = check_unit("The intensity", intensity)?;
            }
            Command::SetLoudnessMode { mode } => self.settings.loudness_mode = mode,
            Command::Position { position_s } => {
                // Reports from the output are trusted only as far as they make sense; a bad
                // one is dropped quietly (it would otherwise flood the UI four times a second).
                if position_s.is_finite() && position_s >= 0.0 && self.queue.index().is_some() {
                    self.position_s = position_s;
                }
            }
            Command::TrackEnded { track } => {
                if self.is_stale(track.as_ref()) {
                    return Ok(());
                }
                let target = self.queue.auto_next();
                self.load(target, out);
            }
            Command::TrackFailed { track, message } => {
                let is_current = self.queue.current() == Some(&track);
                out.push(Event::Error {
                    kind: ErrorKind::TrackFailed,
                    message: format!("Could not play {track}: {message}"),
                });
                if is_current {
                    self.failures_in_a_row += 1;
                    let target = if self.failures_in_a_row >= self.queue.len() {
                        out.push(Event::Error {
                            kind: ErrorKind::TrackFailed,
                            message:
                                "None of the queued tracks could be played, so playback stopped."
                                    .to_owned(),
                        });
                        self.failures_in_a_row = 0;
                        None
                    } else {
                        // Repeat one would retry the failing track forever: move on instead.
                        let wrap = self.queue.repeat() != RepeatMode::Off;
                        self.queue.after(self.queue.index(), wrap)
                    };
                    self.load(target, out);
                }
            }
        }
        Ok(())
    }

    /// True when an end report names a track other than the current one (it arrived after
    /// the user moved on) or nothing is current.
    fn is_stale(&self, track: Option<&TrackId>) -> bool {
        match (self.queue.current(), track) {
            (None, _) => true,
            (Some(cur), Some(t)) => cur != t,
            (Some(_), None) => false,
        }
    }

    fn play(&mut self, out: &mut Vec<Event>) -> Result<(), Refused> {
        if self.queue.index().is_none() {
            if self.queue.is_empty() {
                return Err(nothing_queued());
            }
            self.load(Some(0), out);
        }
        self.status = Status::Playing;
        Ok(())
    }

    fn clear(&mut self, out: &mut Vec<Event>) {
        let had_current = self.queue.index().is_some();
        if !self.queue.is_empty() {
            self.queue.clear();
            self.queue_changed(out);
        }
        if had_current {
            self.load(None, out);
        }
        self.status = Status::Stopped;
    }

    /// Make `index` current and have it loaded from the start; `None`: play nothing (stop).
    /// `index` must be in range (the callers take it from the queue).
    fn load(&mut self, index: Option<usize>, out: &mut Vec<Event>) {
        if self.queue.set_index(index).is_err() {
            // Unreachable by construction; refuse quietly rather than panic.
            log::error!("player: asked to load position {index:?} outside the queue");
            return;
        }
        self.position_s = 0.0;
        if index.is_none() {
            self.status = Status::Stopped;
        }
        out.push(Event::TrackChanged {
            track: self.queue.current().cloned(),
            index,
            start_at_s: 0.0,
        });
    }

    /// Back to the start of the current track. `always`: tell the output even when already
    /// at 0 (Previous restarts what the output plays, whatever we last heard).
    fn rewind(&mut self, always: bool, out: &mut Vec<Event>) {
        if self.position_s != 0.0 || always {
            self.position_s = 0.0;
            out.push(Event::Seeked { position_s: 0.0 });
        }
    }

    fn queue_changed(&self, out: &mut Vec<Event>) {
        out.push(Event::QueueChanged(self.queue_snapshot()));
    }
}

fn nothing_queued() -> Refused {
    refused(ErrorKind::NothingToPlay, "The queue is empty.")
}

fn check_position(p: f64) -> Result<(), Refused> {
    if p.is_finite() && p >= 0.0 {
        Ok(())
    } else {
        Err(refused(
            ErrorKind::InvalidValue,
            format!("Cannot seek to {p} s: a position is a number of seconds, 0 or more."),
        ))
    }
}

fn check_unit(what: &str, v: f32) -> Result<f32, Refused> {
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(refused(
            ErrorKind::InvalidValue,
            format!("{what} must be between 0 and 1, not {v}."),
        ))
    }
}

fn valid_preset(p: &str) -> bool {
    !p.trim().is_empty() && p.len() <= MAX_PRESET_LEN
}

impl Default for Player {
    fn default() -> Self {
        Player::new(0)
    }
}
