//! What the player is asked to do: by the user (through any front end, media keys, MPRIS) and
//! by the audio output (position, end of track, failure).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::queue::{RepeatMode, TrackId};
use crate::state::LoudnessMode;

/// A command to the player. JSON: `{"type": "play_now", "tracks": [...],
/// "index": 0}`. Indexes are positions in play order (the order the page draws).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    /// Replace the queue with `tracks` and play `tracks[index]` from the start.
    PlayNow {
        tracks: Vec<TrackId>,
        index: usize,
    },
    /// Like `PlayNow` but keeps the status: paused stays paused (the new track is loaded),
    /// stopped stays stopped. An empty list clears the queue.
    SetQueue {
        tracks: Vec<TrackId>,
        index: usize,
    },
    /// Insert after the current track.
    PlayNext {
        tracks: Vec<TrackId>,
    },
    /// Add at the end of the queue.
    Append {
        tracks: Vec<TrackId>,
    },
    /// Remove the track at `index`; removing the playing track moves on to the next one.
    Remove {
        index: usize,
    },
    /// Move the track at `from` to `to` (`to` counted after the removal).
    Move {
        from: usize,
        to: usize,
    },
    /// Empty the queue and stop.
    Clear,
    /// Play (the first track when nothing is current).
    Play,
    Pause,
    TogglePlay,
    /// Stop and rewind the current track (it stays current).
    Stop,
    /// Go to the next track (wraps with repeat all or one; stops after the last otherwise).
    Next,
    /// Restart the current track when past 3 s, else go to the previous one.
    Previous,
    /// Jump to `position_s` seconds in the current track.
    Seek {
        position_s: f64,
    },
    SetShuffle {
        on: bool,
    },
    SetRepeat {
        mode: RepeatMode,
    },
    /// Volume from 0 (silent) to 1 (full).
    SetVolume {
        volume: f32,
    },
    /// The enhancement preset, by name (the engine knows which names exist).
    SetPreset {
        preset: String,
    },
    /// How strongly the preset applies, from 0 to 1.
    SetIntensity {
        intensity: f32,
    },
    SetLoudnessMode {
        mode: LoudnessMode,
    },
    /// From the output: where playback of the current track is. Emits nothing.
    Position {
        position_s: f64,
    },
    /// From the output: the current track played to its end (automatic advance). When `track`
    /// is given and is not the current track, the report is stale and ignored.
    TrackEnded {
        #[serde(default)]
        #[ts(optional)]
        track: Option<TrackId>,
    },
    /// From the output: `track` could not be played. An error event is emitted; when it is the
    /// current track the player skips to the next one and keeps going.
    TrackFailed {
        track: TrackId,
        message: String,
    },
}
