//! What the player tells every front end. A page that connects late draws from
//! [`PlayerState`](crate::PlayerState) and then follows these.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::queue::{RepeatMode, TrackId};
use crate::state::{LoudnessMode, Status};

/// An event from the player. JSON: `{"type": "track_changed", ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The queue, its order, the current position, shuffle or repeat changed.
    QueueChanged(QueueSnapshot),
    /// A (new or restarted) track is to be loaded from `start_at_s`; `None`: nothing to play.
    /// Whether it plays is the status (a `StatusChanged` follows when that changes). Emitted
    /// only when the track itself changes or starts again, not when only its index shifts.
    TrackChanged {
        track: Option<TrackId>,
        index: Option<usize>,
        start_at_s: f64,
    },
    StatusChanged {
        status: Status,
    },
    /// The current track jumps to `position_s` (a seek, a restart by Previous, a stop).
    Seeked {
        position_s: f64,
    },
    SettingsChanged(Settings),
    /// A command was refused (nothing changed) or a track failed. `message` is a sentence
    /// for a person.
    Error {
        kind: ErrorKind,
        message: String,
    },
}

/// The queue as a front end draws it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct QueueSnapshot {
    /// The tracks in play order.
    pub tracks: Vec<TrackId>,
    /// Position of the current track in `tracks`.
    pub index: Option<usize>,
    pub shuffle: bool,
    pub repeat: RepeatMode,
}

/// The sound settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Settings {
    pub volume: f32,
    pub preset: String,
    pub intensity: f32,
    pub loudness_mode: LoudnessMode,
}

/// What went wrong, for a front end to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// A queue position that does not exist. Refresh the queue and retry.
    InvalidIndex,
    /// A number or name outside what is allowed (NaN, negative seek, volume above 1...).
    InvalidValue,
    /// The queue would exceed its maximum size.
    QueueFull,
    /// Nothing is queued or current, so there is nothing to act on.
    NothingToPlay,
    /// The output could not play a track; the player skipped it.
    TrackFailed,
}
