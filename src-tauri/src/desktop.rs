//! [`Desktop`]: the state every part of the app shares (the player core's handle, settings,
//! what the page last reported, the native output, the media session and keys), and what it
//! does with it. The queue, the current track and position, volume, preset and intensity are
//! the core's ([`PlayerHandle`], the same core `sonance serve` hosts): media keys, MPRIS and
//! files opened with the app become [`Command`]s to it, and the page follows its events.
//! `app.rs` assembles it, `commands.rs` is how the page reaches it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use sonance_engine::Engine;
use sonance_player::{Command, PlayerHandle, Status, MAX_TRACKS};
use sonance_stream::Catalog;
use tauri::{AppHandle, Manager};

use crate::app::core_id;
use crate::commands::{CommandError, NativeRequest, UiState};
use crate::media_keys::MediaKeys;
use crate::media_session::{MediaCommand, MediaSession, NowPlaying};
use crate::native::{NativeOutput, NativeState};
use crate::scheme;
use crate::settings::{self, WindowSize};

/// The main window's label (the scheme only answers it).
pub const MAIN: &str = scheme::WINDOW;

/// State shared by commands, window events, the media session and the media keys.
pub struct Desktop {
    engine: Arc<Engine>,
    library: Arc<Catalog>,
    player: PlayerHandle,
    settings: settings::Store,
    media: OnceLock<MediaSession>,
    _keys: OnceLock<MediaKeys>,
    native: OnceLock<Result<Arc<NativeOutput>, String>>,
    last: Mutex<UiState>,
    window_size: Mutex<Option<WindowSize>>,
    started_at: Instant,
    ready_logged: std::sync::atomic::AtomicBool,
}

impl Desktop {
    /// The state of an app whose player core is `player`.
    pub fn new(
        engine: Arc<Engine>,
        library: Arc<Catalog>,
        player: PlayerHandle,
        settings: settings::Store,
        window_size: Option<WindowSize>,
        started_at: Instant,
    ) -> Self {
        Desktop {
            engine,
            library,
            player,
            settings,
            media: OnceLock::new(),
            _keys: OnceLock::new(),
            native: OnceLock::new(),
            last: Mutex::new(UiState::default()),
            window_size: Mutex::new(window_size),
            started_at,
            ready_logged: Default::default(),
        }
    }

    /// Grab the media keys (where no desktop daemon owns them) for this app's commands.
    pub fn grab_media_keys(&self, app: &AppHandle) {
        let _ = self._keys.set(MediaKeys::start(command_sink(app)));
    }

    /// The native output, opened on first use (the page's first `native` request, as it
    /// starts on the native path), with its OS media session (the web view's own session
    /// covers the other path: see `media_session.rs`) and its follower of the core
    /// (`native/follow.rs`), which drives it from then on.
    fn native(&self, app: &AppHandle) -> Result<&NativeOutput, CommandError> {
        self.native
            .get_or_init(|| {
                let out = Arc::new(
                    NativeOutput::start(Arc::clone(&self.engine)).map_err(|e| e.to_string())?,
                );
                crate::native::follow::spawn(
                    Arc::clone(&out),
                    self.player.clone(),
                    Arc::clone(&self.library),
                )
                .map_err(|e| e.to_string())?;
                let _ = self
                    .media
                    .set(MediaSession::start(main_hwnd(app), command_sink(app)));
                Ok(out)
            })
            .as_ref()
            .map(|o| o.as_ref())
            .map_err(|e| CommandError {
                kind: "native_output",
                message: format!("The native audio output cannot start: {e}"),
            })
    }

    /// Carry out a request of the page to the native output. The page only asks for its
    /// state: what plays, where and how is the core's, which the follower carries out.
    pub fn native_request(
        &self,
        app: &AppHandle,
        req: NativeRequest,
    ) -> Result<NativeState, CommandError> {
        let out = self.native(app)?;
        match req {
            NativeRequest::State => {}
        }
        Ok(out.state())
    }

    /// Apply what the page reports: the window title and the native media session. (The
    /// queue, the track, the position and the sound settings are the core's, which saves them.)
    pub fn apply_report(&self, app: &AppHandle, ui: UiState) {
        if !self
            .ready_logged
            .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            log::info!(
                "window ready: the page reported {} ms after start",
                self.started_at.elapsed().as_millis()
            );
        }
        let previous = {
            let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::replace(&mut *last, ui.clone())
        };
        if previous.title != ui.title
            || previous.artist != ui.artist
            || previous.track_id != ui.track_id
        {
            if let Some(w) = app.get_webview_window(MAIN) {
                let _ = w.set_title(&window_title(&ui));
            }
        }
        if let Some(media) = self.media.get() {
            media.update(&NowPlaying {
                title: ui.title.clone(),
                artist: ui.artist.clone(),
                album: ui.album.clone(),
                duration_s: ui.duration_s,
                position_s: ui.position_s,
                playing: ui.playing,
                volume: ui.volume,
            });
        }
    }

    /// Add a folder to the library: remembered, scanned in the background, watched.
    pub fn add_folder(&self, path: &std::path::Path) -> sonance_stream::library::Result<()> {
        let folder = self.library.add_folder(path)?;
        log::info!("library folder added: {}", folder.path.display());
        Ok(())
    }

    /// Add files or folders to the library and the core's queue, and tell the page. With
    /// `play` (files opened with the app), or when nothing plays (files dropped on an idle
    /// window), the first playable one plays next, now; otherwise they join the end of the
    /// queue. Undecodable files are queued too (the page shows them as unplayable; the core
    /// skips them) and named in the page's alert; what plays goes on. Returns how many tracks
    /// were added.
    pub fn add_files(&self, app: &AppHandle, paths: &[PathBuf], play: bool) -> usize {
        let ids = self.library.add(paths);
        let entries: Vec<_> = ids.iter().filter_map(|id| self.library.get(id)).collect();
        let broken: Vec<String> = entries
            .iter()
            .filter_map(|e| {
                e.track
                    .as_ref()
                    .err()
                    .map(|err| format!("{}: {err}", e.record.title))
            })
            .collect();
        log::info!(
            "added {} tracks ({} cannot be played)",
            entries.len(),
            broken.len()
        );
        let message = match broken.len() {
            0 => None,
            1 => Some(format!("Cannot play {}", broken[0])),
            n => Some(format!("{n} files cannot be played: {}", broken.join("; "))),
        };
        let state = self.player.state();
        let idle = state.status != Status::Playing;
        // Playable ones first: the first of them is what plays.
        let mut queued: Vec<_> = entries.iter().collect();
        queued.sort_by_key(|e| e.track.is_err());
        let any_playable = queued.first().is_some_and(|e| e.track.is_ok());
        // Nothing current and something to play: the files replace the queue.
        let replace = any_playable && state.index.is_none() && (play || idle);
        // The core takes at most MAX_TRACKS: more would be refused whole.
        let room = if replace {
            MAX_TRACKS
        } else {
            MAX_TRACKS.saturating_sub(state.tracks.len())
        };
        let tracks: Vec<_> = queued.iter().take(room).map(|e| core_id(&e.id)).collect();
        let cmds = if tracks.is_empty() {
            Vec::new()
        } else if any_playable && (play || idle) {
            if replace {
                vec![Command::PlayNow { tracks, index: 0 }]
            } else {
                vec![Command::PlayNext { tracks }, Command::Next, Command::Play]
            }
        } else {
            vec![Command::Append { tracks }]
        };
        for cmd in cmds {
            if let Err(e) = self.player.send(cmd) {
                log::warn!("the added files are not queued: {e}");
            }
        }
        if !entries.is_empty() {
            page_command(app, "tracksChanged", serde_json::Value::Null);
        }
        if let Some(m) = message {
            page_command(app, "message", m.into());
        }
        entries.len()
    }

    /// Carry out a media key or media session command: a command to the core, which every
    /// output follows (the page's element, or the native output through the page).
    pub fn media_command(&self, app: &AppHandle, cmd: MediaCommand) {
        let core = match cmd {
            MediaCommand::Toggle => Command::TogglePlay,
            MediaCommand::Play => Command::Play,
            MediaCommand::Pause => Command::Pause,
            MediaCommand::Stop => Command::Stop,
            MediaCommand::Next => Command::Next,
            MediaCommand::Previous => Command::Previous,
            MediaCommand::SeekBy(s) => Command::Seek {
                position_s: (self.player.state().position_s + s).max(0.0),
            },
            MediaCommand::SetPosition(s) => Command::Seek {
                position_s: s.max(0.0),
            },
            MediaCommand::SetVolume(v) => Command::SetVolume {
                volume: if v.is_finite() {
                    v.clamp(0.0, 1.0) as f32
                } else {
                    1.0
                },
            },
            MediaCommand::Raise => {
                if let Some(w) = app.get_webview_window(MAIN) {
                    let _ = w.unminimize();
                    let _ = w.show();
                    let _ = w.set_focus();
                }
                return;
            }
            MediaCommand::Quit => {
                app.exit(0);
                return;
            }
        };
        log::info!("media command: {cmd:?}");
        if let Err(e) = self.player.send(core) {
            log::warn!("media command {cmd:?} not delivered: {e}");
        }
    }

    /// Remember the window's size (saved at exit).
    pub fn remember_size(&self, window: &tauri::Window) {
        if window.is_maximized().unwrap_or(false) || window.is_fullscreen().unwrap_or(false) {
            return;
        }
        let (Ok(size), Ok(scale)) = (window.inner_size(), window.scale_factor()) else {
            return;
        };
        let logical = size.to_logical::<f64>(scale);
        *self.window_size.lock().unwrap_or_else(|e| e.into_inner()) = Some(WindowSize {
            width: logical.width,
            height: logical.height,
        });
    }

    /// Save what is only kept in memory (the window size), let the core save its state, and
    /// withdraw the media session.
    pub fn shutdown(&self) {
        let size = *self.window_size.lock().unwrap_or_else(|e| e.into_inner());
        self.settings.update(|s| {
            if size.is_some() {
                s.window = size;
            }
        });
        self.player.shutdown();
        if let Some(m) = self.media.get() {
            m.stop();
        }
        log::info!("settings saved to {}", self.settings.path().display());
    }
}

/// Media keys and media session commands end up in [`Desktop::media_command`].
fn command_sink(app: &AppHandle) -> impl Fn(MediaCommand) + Send + Sync + Clone + 'static {
    let handle = app.clone();
    move |cmd: MediaCommand| {
        handle.state::<Desktop>().media_command(&handle, cmd);
    }
}

/// The main window's handle, which SMTC needs on Windows.
fn main_hwnd(app: &AppHandle) -> Option<*mut std::ffi::c_void> {
    #[cfg(windows)]
    {
        app.get_webview_window(MAIN)
            .and_then(|w| w.hwnd().ok())
            .map(|h| h.0)
    }
    #[cfg(not(windows))]
    {
        let _ = app;
        None
    }
}

/// "Title — Artist · Sonance", or "Sonance" when nothing is loaded.
pub fn window_title(ui: &UiState) -> String {
    match (&ui.title, &ui.artist) {
        (Some(t), Some(a)) => format!("{t} — {a} · Sonance"),
        (Some(t), None) => format!("{t} · Sonance"),
        _ => "Sonance".to_string(),
    }
}

/// Tell the page what only the shell knows: new tracks in the library (`tracksChanged`), a
/// message for its alert (`message`). Player commands never take this way: they go to the
/// core, whose events the page follows.
pub fn page_command(app: &AppHandle, name: &str, arg: serde_json::Value) {
    let Some(w) = app.get_webview_window(MAIN) else {
        return;
    };
    let payload = serde_json::json!({ "name": name, "arg": arg });
    let js = format!("window.__sonanceDesktop && window.__sonanceDesktop.command({payload});");
    if let Err(e) = w.eval(js) {
        log::warn!("cannot reach the page: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_titles() {
        let mut ui = UiState::default();
        assert_eq!(window_title(&ui), "Sonance");
        ui.title = Some("Song".into());
        assert_eq!(window_title(&ui), "Song · Sonance");
        ui.artist = Some("Band".into());
        assert_eq!(window_title(&ui), "Song — Band · Sonance");
    }
}
