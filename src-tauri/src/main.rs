//! `sonance-desktop`: the Sonance desktop app, a Tauri 2 shell over the engine.
//!
//! Modules, one per concern: [`loopback`] (the page's own loopback server → the stream API)
//! and [`scheme`] (the `sonance:` URI scheme → the same API, where the server is not used),
//! [`commands`] (what the page calls), [`media_session`] (MPRIS / SMTC / Now Playing),
//! [`media_keys`] (X11 media key grab fallback), [`settings`] (persisted atomically),
//! [`native`] (the cpal output path), [`logging`] (the log file);
//! [`desktop`] is the state they share; [`app`] wires them together.
#![cfg_attr(test, allow(clippy::unwrap_used))]
// No console window behind the app on Windows release builds.
#![cfg_attr(all(windows, not(debug_assertions)), windows_subsystem = "windows")]

mod app;
mod cli;
mod commands;
mod desktop;
mod logging;
mod loopback;
mod media_keys;
mod media_session;
mod native;
mod scheme;
mod settings;

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use sonance_cache::{CacheConfig, DiskConfig};
use sonance_engine::{Engine, EngineConfig};

use crate::cli::Args;
use crate::settings::{OutputPath, Settings};

fn main() -> ExitCode {
    let started_at = Instant::now();
    let args = Args::parse();
    let context = tauri::generate_context!("../tauri.conf.json");
    let log_file = logging::init(&context.config().identifier);
    log::info!(
        "Sonance {} starting (log: {})",
        env!("CARGO_PKG_VERSION"),
        log_file
            .as_deref()
            .map_or("stderr only".into(), |p| p.display().to_string())
    );
    if let Err(why) = display_available() {
        return fatal(&why, false);
    }
    // GTK/WebKit initialisation failures panic inside the runtime: turn them into the dialog.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        app::run(args, context, started_at)
    }));
    match result {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => fatal(&format!("{e:#}"), true),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown error");
            fatal(&format!("the window system failed: {what}"), true)
        }
    }
}

/// Report a fatal start-up problem: log, stderr, and a dialog when a display exists.
fn fatal(message: &str, dialog: bool) -> ExitCode {
    log::error!("cannot start: {message}");
    eprintln!("sonance-desktop: cannot start: {message}");
    if dialog {
        let _ = rfd::MessageDialog::new()
            .set_level(rfd::MessageLevel::Error)
            .set_title("Sonance cannot start")
            .set_description(format!(
                "Sonance cannot start:\n\n{message}\n\nThe log file has details."
            ))
            .set_buttons(rfd::MessageButtons::Ok)
            .show();
    }
    ExitCode::from(2)
}

/// Linux needs an X11 or Wayland display; without one GTK would abort with a cryptic message.
fn display_available() -> Result<(), String> {
    if cfg!(target_os = "linux")
        && std::env::var_os("DISPLAY").is_none()
        && std::env::var_os("WAYLAND_DISPLAY").is_none()
    {
        return Err(
            "no display: DISPLAY and WAYLAND_DISPLAY are not set. Sonance is a desktop app; \
             run it inside a graphical session (or under `xvfb-run` for tests), or use \
             `sonance serve` to play in a browser."
                .into(),
        );
    }
    Ok(())
}

/// The engine for these arguments: chunk length, fragment cache in the app's cache folder.
pub fn engine_for(args: &Args, context: &tauri::Context<tauri::Wry>) -> anyhow::Result<Engine> {
    let cache_dir = match &args.cache_dir {
        Some(d) => Some(d.clone()),
        None => dirs::cache_dir().map(|d| d.join(&context.config().identifier).join("fragments")),
    };
    let engine = Engine::new(EngineConfig {
        chunk_seconds: args.chunk_seconds,
        cache: CacheConfig {
            memory_bytes: 256 << 20,
            disk: cache_dir.map(|dir| DiskConfig {
                dir,
                max_bytes: args.cache_max_mb << 20,
            }),
        },
        ..EngineConfig::default()
    })?;
    Ok(engine)
}

/// The music library, shared with `sonance serve` (`library.sqlite3` in the platform's data
/// folder). When it cannot be opened (damaged, no data folder) the app still starts, on a
/// library of its own in the temporary folder, and says so in the log.
pub fn open_library() -> anyhow::Result<sonance_stream::Library> {
    if let Some(p) = sonance_stream::Library::default_db_path() {
        match sonance_stream::Library::open(&p) {
            Ok(lib) => return Ok(lib),
            Err(e) => log::error!("{e}; using a temporary library for this run"),
        }
    }
    let tmp = std::env::temp_dir().join(format!("sonance-library-{}", std::process::id()));
    Ok(sonance_stream::Library::open(&tmp.join("library.sqlite3"))?)
}

/// The output path: the developer switch (`--native-output`, `SONANCE_OUTPUT=native`) wins
/// over the setting.
pub fn output_path(args: &Args, saved: &Settings) -> OutputPath {
    let env_native =
        std::env::var("SONANCE_OUTPUT").is_ok_and(|v| v.eq_ignore_ascii_case("native"));
    if args.native_output || env_native {
        OutputPath::Native
    } else {
        saved.output
    }
}
