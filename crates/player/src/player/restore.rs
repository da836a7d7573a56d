//! A [`Player`] to and from its [`PlayerState`]: the snapshot a page draws from and that is
//! saved, and the validated way back.

use super::{valid_preset, Player};
use crate::event::Settings;
use crate::queue::Queue;
use crate::state::{PlayerState, Status};

impl Player {
    /// A player in a saved state, validated: an out-of-range index becomes "nothing current",
    /// numbers are clamped (NaN takes the default), an empty or overlong preset becomes the
    /// default, and a player that was playing comes back paused.
    pub fn restore(state: PlayerState, seed: u64) -> Self {
        let defaults = PlayerState::default();
        let queue = Queue::from_parts(
            state.tracks,
            &state.original_index,
            state.index,
            state.shuffle,
            state.repeat,
            seed,
        );
        let has_current = queue.index().is_some();
        let status = match state.status {
            _ if !has_current => Status::Stopped,
            Status::Playing => Status::Paused,
            s => s,
        };
        let position_s = if has_current && state.position_s.is_finite() && state.position_s > 0.0 {
            state.position_s
        } else {
            0.0
        };
        let preset = if valid_preset(&state.preset) {
            state.preset
        } else {
            defaults.preset
        };
        Player {
            queue,
            status,
            position_s,
            settings: Settings {
                volume: clamp_unit(state.volume, defaults.volume),
                preset,
                intensity: clamp_unit(state.intensity, defaults.intensity),
                loudness_mode: state.loudness_mode,
            },
            failures_in_a_row: 0,
        }
    }

    /// Everything a newly connected page needs to draw, and what is saved between runs.
    pub fn snapshot(&self) -> PlayerState {
        PlayerState {
            tracks: self.queue.play_order(),
            original_index: if self.queue.shuffle() {
                self.queue.original_index().to_vec()
            } else {
                Vec::new()
            },
            index: self.queue.index(),
            shuffle: self.queue.shuffle(),
            repeat: self.queue.repeat(),
            status: self.status,
            position_s: self.position_s,
            volume: self.settings.volume,
            preset: self.settings.preset.clone(),
            intensity: self.settings.intensity,
            loudness_mode: self.settings.loudness_mode,
        }
    }
}

fn clamp_unit(v: f32, default: f32) -> f32 {
    if v.is_nan() {
        default
    } else {
        v.clamp(0.0, 1.0)
    }
}
