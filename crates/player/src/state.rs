//! The player's state as one serializable value: what a newly connected page needs to draw,
//! and what is saved between runs.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::queue::{RepeatMode, TrackId};

/// Whether audio is playing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[default]
    Stopped,
    Playing,
    Paused,
}

/// Which loudness the normalisation aims at: each track's own, or its album's (keeps the
/// quiet intro of an album quiet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum LoudnessMode {
    #[default]
    Track,
    Album,
}

/// Everything about the player: the queue (in play order, plus the way back to the original
/// order), the playback state and the sound settings. Missing fields take their defaults, so
/// an older saved file still loads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct PlayerState {
    /// The tracks in play order.
    pub tracks: Vec<TrackId>,
    /// For each entry of `tracks`, its position in the original (unshuffled) order. Empty
    /// when not shuffled.
    pub original_index: Vec<usize>,
    /// Position of the current track in `tracks`.
    pub index: Option<usize>,
    pub shuffle: bool,
    pub repeat: RepeatMode,
    pub status: Status,
    /// Where playback of the current track is, in seconds.
    pub position_s: f64,
    pub volume: f32,
    pub preset: String,
    pub intensity: f32,
    pub loudness_mode: LoudnessMode,
}

/// The preset a fresh player starts with.
pub const DEFAULT_PRESET: &str = "adaptive";

impl Default for PlayerState {
    fn default() -> Self {
        PlayerState {
            tracks: Vec::new(),
            original_index: Vec::new(),
            index: None,
            shuffle: false,
            repeat: RepeatMode::Off,
            status: Status::Stopped,
            position_s: 0.0,
            volume: 1.0,
            preset: DEFAULT_PRESET.to_owned(),
            intensity: 1.0,
            loudness_mode: LoudnessMode::Track,
        }
    }
}
