//! The player core of Sonance: one [`Player`] owns the play queue and the playback state,
//! takes [`Command`]s and answers with [`Event`]s. No GUI, no audio, no clock: the desktop
//! shell, `sonance serve` and the CLI all drive the same player, and the audio output reports
//! back to it (position, end of track, failure) as commands too.
//!
//! - [`Queue`]: the tracks, the play order (shuffle), repeat.
//! - [`Player`]: the queue plus status, position and sound settings; `handle(cmd) -> events`.
//! - [`PlayerHandle`]: the player on its own thread, with subscribers and saving.
//! - [`save_state`] / [`load_state`]: the state between runs.
//!
//! ```
//! use sonance_player::{Command, Event, Player, Status, TrackId};
//!
//! let mut player = Player::new(7);
//! let tracks: Vec<TrackId> = ["a", "b", "c"].map(TrackId::from).to_vec();
//! let events = player.handle(Command::PlayNow { tracks, index: 1 });
//! assert!(events.contains(&Event::StatusChanged { status: Status::Playing }));
//! assert_eq!(player.current(), Some(&TrackId::from("b")));
//! assert_eq!(player.upcoming(), Some(TrackId::from("c")));
//!
//! // A refused command changes nothing and says why.
//! let events = player.handle(Command::SetVolume { volume: 2.0 });
//! assert!(matches!(events.as_slice(), [Event::Error { .. }]));
//! ```

#![forbid(unsafe_code)]

mod actor;
mod command;
mod event;
mod persist;
mod player;
mod queue;
mod rng;
mod state;

pub use actor::{ActorConfig, PlayerHandle, PlayerStopped};
pub use command::Command;
pub use event::{ErrorKind, Event, QueueSnapshot, Settings};
pub use persist::{load_state, restore_or_fresh, save_state, PersistError, MAX_STATE_BYTES};
pub use player::{Player, MAX_PRESET_LEN, RESTART_AFTER_S};
pub use queue::{Queue, QueueError, RepeatMode, TrackId, MAX_TRACKS};
pub use state::{LoudnessMode, PlayerState, Status, DEFAULT_PRESET};
