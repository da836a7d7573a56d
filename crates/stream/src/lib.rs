//! # sonance-stream
//!
//! The stream API — tracks by id, init segments and chunk fragments — as one HTTP-shaped
//! handler ([`StreamApi::handle`]) over a [`Catalog`] (the SQLite library and the `Engine`). The loopback server
//! ([`server`], `sonance serve`) and the desktop app's custom URI scheme both hand it the
//! `http` crate's [`Request`] and send its [`Response`] as it is: one code path, two transports.
//!
//! Security: a request names a track only by its opaque id (looked up in the library, never
//! turned into a path); the loopback server refuses requests whose `Host` or `Origin` is not
//! loopback (DNS rebinding, other sites' pages).
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod api;
pub mod catalog;
mod library_api;
pub mod message;
pub mod player_api;
#[cfg(feature = "server")]
pub mod server;

pub use api::{Access, StreamApi};
pub use catalog::{Catalog, Entry};
pub use message::{Request, RequestExt, Response, ResponseExt};
pub use player_api::PlayerHost;
/// The library crate, for hosts that open one.
pub use sonance_library as library;
pub use sonance_library::{Library, TrackId};

/// Read the built web UI (`ui/dist`) into memory: (`/relative/path`, bytes). At most 500
/// files and 50 MB; nothing outside `dir` is read and a request never reaches the disk.
pub fn load_ui(dir: &std::path::Path) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    const MAX_FILES: usize = 500;
    const MAX_BYTES: u64 = 50 << 20;
    let mut out = Vec::new();
    let mut total = 0u64;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let p = entry?.path();
            let meta = std::fs::symlink_metadata(&p)?;
            if meta.is_dir() {
                stack.push(p);
            } else if meta.is_file() && out.len() < MAX_FILES && total + meta.len() <= MAX_BYTES {
                total += meta.len();
                let rel = p
                    .strip_prefix(dir)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((format!("/{rel}"), std::fs::read(&p)?));
            }
        }
    }
    Ok(out)
}
