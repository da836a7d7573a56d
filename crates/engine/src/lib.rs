//! # sonance-engine
//!
//! Turns an audio file into 30-second enhanced chunks, each a WebM/Opus media segment that a
//! browser's `MediaSource` can append on its own, joined so that no listener hears a seam.
//! It knows nothing of windows, HTTP or terminals: the desktop app, the CLI and the stream
//! server are thin translators over [`Engine`].
//!
//! The path of one chunk (see `ARCHITECTURE.md`):
//! [`decode`] (symphonia, downmix to stereo) → [`resample`] (rubato, 48 kHz) →
//! [`enhance`] (preset chain) → [`encode`] (libopus, join recipe) → [`webm`] (media segment),
//! orchestrated per chunk by [`pipeline`] on the grid of [`chunk`], cached by [`Engine`].
//!
//! ```no_run
//! use sonance_engine::{Engine, EngineConfig, Enhancement};
//! # fn main() -> Result<(), sonance_engine::Error> {
//! let engine = Engine::new(EngineConfig::default())?;
//! let track = engine.open("song.flac".as_ref())?;
//! let init = engine.init_segment(&track);
//! let first = engine.chunk(&track, 0, &Enhancement::bypass())?;
//! assert!(init.len() > 0 && first.len() > 0);
//! # Ok(()) }
//! ```
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod analyze;
pub mod chunk;
pub mod decode;
pub mod downmix;
pub mod encode;
mod engine;
pub mod enhance;
mod error;
pub mod limits;
mod mp4_gapless;
pub mod pipeline;
pub mod priority;
pub mod render;
pub mod resample;
pub mod webm;

pub use chunk::ChunkPlan;
pub use decode::SourceInfo;
pub use encode::EncoderSettings;
pub use engine::{Engine, EngineConfig, StoredAnalysis, Track};
pub use enhance::{album_loudness, Enhancement, Preset};
pub use error::{Error, ErrorKind, Result};
pub use priority::RenderPriority;
