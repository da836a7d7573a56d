//! [`Desktop`]: the state every part of the app shares (queue, settings, what the page last
//! reported, the native output, the media session and keys), and what it does with it. It
//! translates between the page, the OS and the engine and holds none of the pipeline; `app.rs`
//! assembles it, `commands.rs` is how the page reaches it, `desktop.js` is its side in the page.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use sonance_engine::Engine;
use sonance_stream::{Catalog, TrackId};
use tauri::{AppHandle, Manager};

use crate::commands::{CommandError, NativeRequest, Start, UiState};
use crate::media_keys::MediaKeys;
use crate::media_session::{MediaCommand, MediaSession, NowPlaying};
use crate::native::{NativeOutput, NativeState};
use crate::queue::{Queue, Step};
use crate::scheme;
use crate::settings::{self, WindowSize};

/// The main window's label (the scheme only answers it).
pub const MAIN: &str = scheme::WINDOW;
/// The saved position is rewritten at most this often while playing (pauses, seeks and track
/// changes are saved at once).
const SAVE_POSITION_EVERY_S: f64 = 10.0;

/// State shared by commands, window events, the media session and the media keys.
pub struct Desktop {
    engine: Arc<Engine>,
    library: Arc<Catalog>,
    queue: Mutex<Queue<TrackId>>,
    settings: settings::Store,
    media: OnceLock<MediaSession>,
    _keys: OnceLock<MediaKeys>,
    native: OnceLock<Result<NativeOutput, String>>,
    last: Mutex<UiState>,
    start: Mutex<Option<Start>>,
    window_size: Mutex<Option<WindowSize>>,
    started_at: Instant,
    ready_logged: std::sync::atomic::AtomicBool,
}

impl Desktop {
    /// The state of an app starting with `queue`, where the page should begin at `start`.
    pub fn new(
        engine: Arc<Engine>,
        library: Arc<Catalog>,
        queue: Queue<TrackId>,
        settings: settings::Store,
        start: Option<Start>,
        window_size: Option<WindowSize>,
        started_at: Instant,
    ) -> Self {
        Desktop {
            engine,
            library,
            queue: Mutex::new(queue),
            settings,
            media: OnceLock::new(),
            _keys: OnceLock::new(),
            native: OnceLock::new(),
            last: Mutex::new(UiState::default()),
            start: Mutex::new(start),
            window_size: Mutex::new(window_size),
            started_at,
            ready_logged: Default::default(),
        }
    }

    /// Grab the media keys (where no desktop daemon owns them) for this app's commands.
    pub fn grab_media_keys(&self, app: &AppHandle) {
        let _ = self._keys.set(MediaKeys::start(command_sink(app)));
    }

    /// The native output, opened on first use, with its OS media session (the web view's own
    /// session covers the other path: see `media_session.rs`).
    fn native(&self, app: &AppHandle) -> Result<&NativeOutput, CommandError> {
        self.native
            .get_or_init(|| {
                let out =
                    NativeOutput::start(Arc::clone(&self.engine)).map_err(|e| e.to_string())?;
                let _ = self
                    .media
                    .set(MediaSession::start(main_hwnd(app), command_sink(app)));
                Ok(out)
            })
            .as_ref()
            .map_err(|e| CommandError {
                kind: "native_output",
                message: format!("The native audio output cannot start: {e}"),
            })
    }

    /// Carry out a request of the page to the native output.
    pub fn native_request(
        &self,
        app: &AppHandle,
        req: NativeRequest,
    ) -> Result<NativeState, CommandError> {
        let out = self.native(app)?;
        // The page's choice: a preset, or `original-matched:CHOSEN` while A/B is on.
        let enhancement = |preset: &str, intensity: f64| {
            sonance_engine::Enhancement::from_choice(preset, intensity as f32).map_err(|e| {
                CommandError {
                    kind: "bad_parameter",
                    message: e.to_string(),
                }
            })
        };
        match req {
            NativeRequest::Load {
                track_id,
                position_s,
                autoplay,
                preset,
                intensity,
            } => {
                let entry = TrackId::parse(&track_id)
                    .and_then(|id| self.library.get(&id))
                    .ok_or_else(|| CommandError {
                        kind: "not_found",
                        message: "There is no such track.".into(),
                    })?;
                let track = entry.track.map_err(|e| CommandError {
                    kind: "undecodable",
                    message: e.to_string(),
                })?;
                out.load(
                    &track_id,
                    track,
                    enhancement(&preset, intensity)?,
                    position_s,
                    autoplay,
                );
            }
            NativeRequest::Play => out.play(),
            NativeRequest::Pause => out.pause(),
            NativeRequest::Toggle => out.toggle(),
            NativeRequest::Seek { position_s } => out.seek(position_s),
            NativeRequest::Volume { value } => {
                out.set_volume(if value.is_finite() { value } else { 1.0 })
            }
            NativeRequest::Enhance { preset, intensity } => {
                out.set_enhancement(enhancement(&preset, intensity)?)
            }
            NativeRequest::State => {}
        }
        Ok(out.state())
    }

    /// Apply what the page reports: queue, window title, media session, settings.
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
        let id = ui.track_id.as_deref().and_then(TrackId::parse);
        if let Some(id) = &id {
            self.queue
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .set_current(id);
        }
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
        let path = id
            .and_then(|id| self.library.get(&id))
            .map(|e| e.record.path);
        let size = *self.window_size.lock().unwrap_or_else(|e| e.into_inner());
        self.settings.update(|s| {
            if size.is_some() {
                s.window = size;
            }
            if let Some(p) = &ui.preset {
                s.preset = Some(p.clone());
            }
            s.intensity = ui.intensity;
            s.volume = ui.volume;
            if let Some(path) = path {
                let track_changed = s.last_track.as_deref() != Some(path.as_path());
                if track_changed
                    || previous.playing != ui.playing
                    || !ui.playing
                    || (s.last_position_s - ui.position_s).abs() >= SAVE_POSITION_EVERY_S
                {
                    s.last_track = Some(path);
                    s.last_position_s = ui.position_s;
                }
            }
        });
    }

    /// Where the page should start (asked once per page load).
    pub fn take_start(&self) -> Start {
        if let Some(start) = self.start.lock().unwrap_or_else(|e| e.into_inner()).take() {
            return start;
        }
        // A reload (after files were added while idle): carry on with what was current.
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Start {
            track_id: last.track_id,
            position_s: last.position_s,
            autoplay: last.playing,
            message: None,
        }
    }

    /// Add a folder to the library: remembered, scanned in the background, watched.
    pub fn add_folder(&self, path: &std::path::Path) -> sonance_stream::library::Result<()> {
        let folder = self.library.add_folder(path)?;
        log::info!("library folder added: {}", folder.path.display());
        Ok(())
    }

    /// Add files or folders to the library and the queue, and tell the page. With `play`
    /// (files opened with the app), or when nothing plays (files dropped on an idle window),
    /// the first playable one starts. Undecodable files are queued too (the page shows them as
    /// unplayable) and named in the page's alert; what plays goes on. Returns how many tracks
    /// were added.
    pub fn add_files(&self, app: &AppHandle, paths: &[PathBuf], play: bool) -> usize {
        let ids = self.library.add(paths);
        let entries: Vec<_> = ids.iter().filter_map(|id| self.library.get(id)).collect();
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(ids.iter().cloned());
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
        let idle = !self.last.lock().unwrap_or_else(|e| e.into_inner()).playing;
        let first_playable = entries
            .iter()
            .find(|e| e.track.is_ok())
            .map(|e| e.id.clone());
        match first_playable.filter(|_| play || idle) {
            Some(id) => {
                // The page reloads its list and asks `startup` where to go: there.
                *self.start.lock().unwrap_or_else(|e| e.into_inner()) = Some(Start {
                    track_id: Some(id.as_str().to_string()),
                    position_s: 0.0,
                    autoplay: true,
                    message,
                });
                page_command(app, "tracksChanged", serde_json::json!({ "restart": true }));
            }
            None => {
                if !entries.is_empty() {
                    page_command(
                        app,
                        "tracksChanged",
                        serde_json::json!({ "restart": false }),
                    );
                }
                if let Some(m) = message {
                    page_command(app, "message", m.into());
                }
            }
        }
        entries.len()
    }

    /// Carry out a media key or media session command.
    pub fn media_command(&self, app: &AppHandle, cmd: MediaCommand) {
        use serde_json::Value;
        match cmd {
            MediaCommand::Toggle => page_command(app, "toggle", Value::Null),
            MediaCommand::Play => page_command(app, "play", Value::Null),
            MediaCommand::Pause => page_command(app, "pause", Value::Null),
            MediaCommand::Stop => page_command(app, "stop", Value::Null),
            MediaCommand::SeekBy(s) => page_command(app, "seekBy", s.into()),
            MediaCommand::SetPosition(s) => page_command(app, "seek", s.into()),
            MediaCommand::SetVolume(v) => page_command(app, "volume", v.into()),
            MediaCommand::Next => {
                let next = self.queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                match next {
                    Some(id) => page_command(app, "playTrack", id.as_str().into()),
                    None => log::info!("next: the queue is at its end"),
                }
            }
            MediaCommand::Previous => {
                let position = self
                    .last
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .position_s;
                let step = self
                    .queue
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .previous(position);
                match step {
                    Step::Play(id) => page_command(app, "playTrack", id.as_str().into()),
                    Step::Restart => page_command(app, "seek", 0.0.into()),
                    Step::Nothing => {}
                }
            }
            MediaCommand::Raise => {
                if let Some(w) = app.get_webview_window(MAIN) {
                    let _ = w.unminimize();
                    let _ = w.show();
                    let _ = w.set_focus();
                }
            }
            MediaCommand::Quit => app.exit(0),
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

    /// Save what is only kept in memory (window size, exact position) and withdraw the
    /// media session.
    pub fn shutdown(&self) {
        let size = *self.window_size.lock().unwrap_or_else(|e| e.into_inner());
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let path = last
            .track_id
            .as_deref()
            .and_then(TrackId::parse)
            .and_then(|id| self.library.get(&id))
            .map(|e| e.record.path);
        self.settings.update(|s| {
            if size.is_some() {
                s.window = size;
            }
            if let Some(path) = path {
                s.last_track = Some(path);
                s.last_position_s = last.position_s;
            }
        });
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

/// Run `command(name, arg)` of the desktop adapter in the page.
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
