//! Command-line arguments of `sonance-desktop`.

use std::path::PathBuf;

/// Sonance: a music player that makes every track sound better.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "sonance-desktop", version, about)]
pub struct Args {
    /// Audio files or folders to play (default: the last track, else the demo track).
    pub files: Vec<PathBuf>,
    /// Chunk length in seconds (multiple of 0.02, 1…600). Also `SONANCE_CHUNK_SECONDS`.
    #[arg(long, env = "SONANCE_CHUNK_SECONDS", default_value_t = 30.0)]
    pub chunk_seconds: f64,
    /// Play through the native output (cpal) instead of the web view. Also `SONANCE_OUTPUT=native`.
    #[arg(long)]
    pub native_output: bool,
    /// Folder of the fragment cache (default: the app's cache folder). Also `SONANCE_CACHE_DIR`.
    #[arg(long, env = "SONANCE_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// How the page reaches the stream API: `loopback` (the app's own server on 127.0.0.1;
    /// chunks stream as they are made; the default on Linux) or `scheme` (the `sonance:` URI
    /// scheme, whole chunks; the default elsewhere). Also `SONANCE_TRANSPORT`.
    #[arg(long, env = "SONANCE_TRANSPORT", value_enum)]
    pub transport: Option<crate::loopback::Transport>,
    /// Disk budget of the fragment cache in MB.
    #[arg(long, default_value_t = 2048)]
    pub cache_max_mb: u64,
}
