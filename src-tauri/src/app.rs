//! Assembling the app: the engine and library behind the `sonance` scheme, the main window
//! with the desktop adapter, the media session, the media keys, settings and the queue.
//! [`Desktop`] is the state every part shares; it translates between the page, the OS and the
//! engine and holds none of the pipeline.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use sonance_engine::Engine;
use sonance_stream::{Library, StreamApi, TrackId};
use tauri::{
    AppHandle, Manager, RunEvent, WebviewUrl, WebviewWindow, WebviewWindowBuilder, WindowEvent,
};

use crate::cli::Args;
use crate::commands::{CommandError, NativeRequest, Start, UiState};
use crate::media_keys::MediaKeys;
use crate::media_session::{MediaCommand, MediaSession, NowPlaying};
use crate::native::{NativeOutput, NativeState};
use crate::queue::{Queue, Step};
use crate::scheme::{self, Scheme};
use crate::settings::{self, Settings, WindowSize};

/// The main window's label (the scheme only answers it).
pub const MAIN: &str = scheme::WINDOW;
const DEFAULT_SIZE: WindowSize = WindowSize {
    width: 1000.0,
    height: 640.0,
};
/// The saved position is rewritten at most this often while playing (pauses, seeks and track
/// changes are saved at once).
const SAVE_POSITION_EVERY_S: f64 = 10.0;

/// The desktop adapter injected into the page (see the file's header).
const DESKTOP_JS: &str = include_str!("desktop.js");

/// State shared by commands, window events, the media session and the media keys.
pub struct Desktop {
    engine: Arc<Engine>,
    library: Arc<Library>,
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
        let path = id.and_then(|id| self.library.get(&id)).map(|e| e.path);
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

    /// Add files or folders to the library and the queue, and tell the page. With `play`
    /// (files opened with the app), or when nothing plays (files dropped on an idle window),
    /// the first playable one starts. Undecodable files are queued too (the page shows them as
    /// unplayable) and named in the page's alert; what plays goes on. Returns how many tracks
    /// were added.
    pub fn add_files(&self, app: &AppHandle, paths: &[PathBuf], play: bool) -> usize {
        let ids = self.library.add(&self.engine, paths);
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
                    .map(|err| format!("{}: {err}", e.title()))
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
    fn remember_size(&self, window: &tauri::Window) {
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
    fn shutdown(&self) {
        let size = *self.window_size.lock().unwrap_or_else(|e| e.into_inner());
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let path = last
            .track_id
            .as_deref()
            .and_then(TrackId::parse)
            .and_then(|id| self.library.get(&id))
            .map(|e| e.path);
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

/// Build and run the app until its window closes.
pub fn run(
    args: Args,
    context: tauri::Context<tauri::Wry>,
    started_at: Instant,
) -> anyhow::Result<()> {
    let engine = Arc::new(crate::engine_for(&args, &context)?);
    let library = Arc::new(Library::default());
    let scheme = Scheme::start()?;
    scheme.set_api(Arc::new(StreamApi::new(
        Arc::clone(&engine),
        Arc::clone(&library),
        scheme::access(),
    )));

    let scheme_for_handler = Arc::clone(&scheme);
    let app = tauri::Builder::default()
        // First: a second launch hands its files to this instance and exits.
        .plugin(tauri_plugin_single_instance::init(|app, argv, cwd| {
            let files = second_launch_files(&argv, Path::new(&cwd));
            log::info!("a second launch handed over {} paths", files.len());
            let app = app.clone();
            std::thread::spawn(move || {
                let desktop = app.state::<Desktop>();
                if !files.is_empty() {
                    desktop.add_files(&app, &files, true);
                }
                desktop.media_command(&app, MediaCommand::Raise);
            });
        }))
        .register_asynchronous_uri_scheme_protocol(
            scheme::SCHEME,
            move |ctx, request, responder| {
                scheme_for_handler
                    .handle(ctx.webview_label(), &request, move |r| responder.respond(r));
            },
        )
        .invoke_handler(tauri::generate_handler![
            crate::commands::report,
            crate::commands::startup,
            crate::commands::open_files,
            crate::commands::native,
            crate::commands::media,
        ])
        .setup(move |app| {
            setup(app, args, engine, library, started_at)?;
            Ok(())
        })
        .on_window_event(|window, event| {
            if window.label() != MAIN {
                return;
            }
            let desktop = window.state::<Desktop>();
            match event {
                WindowEvent::Resized(_) => desktop.remember_size(window),
                WindowEvent::DragDrop(tauri::DragDropEvent::Drop { paths, .. }) => {
                    let paths = paths.clone();
                    let app = window.app_handle().clone();
                    // Probing reads the files: not on the UI thread.
                    std::thread::spawn(move || {
                        app.state::<Desktop>().add_files(&app, &paths, false);
                    });
                }
                _ => {}
            }
        })
        .build(context)?;
    quit_on_signals(app.handle());
    app.run(|app, event| {
        if let RunEvent::Exit = event {
            if let Some(d) = app.try_state::<Desktop>() {
                d.shutdown();
            }
        }
    });
    Ok(())
}

/// SIGTERM, SIGINT and SIGHUP (a session logging out, Ctrl+C in a terminal) end the app the
/// way closing its window does, so settings are saved.
fn quit_on_signals(app: &AppHandle) {
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let mut signals = match signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP]) {
            Ok(s) => s,
            Err(e) => {
                log::warn!("cannot watch for termination signals: {e}");
                return;
            }
        };
        let app = app.clone();
        let spawned = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                if let Some(sig) = signals.forever().next() {
                    log::info!("signal {sig}: quitting");
                    app.exit(0);
                }
            });
        if let Err(e) = spawned {
            log::warn!("cannot watch for termination signals: {e}");
        }
    }
    #[cfg(not(unix))]
    let _ = app;
}

fn setup(
    app: &mut tauri::App,
    args: Args,
    engine: Arc<Engine>,
    library: Arc<Library>,
    started_at: Instant,
) -> anyhow::Result<()> {
    let data_dir = app.path().app_data_dir()?;
    let settings = settings::Store::open(&data_dir);
    let saved = settings.get();
    log::info!("settings: {}", settings.path().display());

    // What to open: the files given, else the last track, else the demo.
    let (files, autoplay) = if args.files.is_empty() {
        let last = saved.last_track.clone().filter(|p| p.is_file());
        match last.or_else(|| demo_track(app)) {
            Some(p) => (vec![p], false),
            None => {
                log::warn!("no demo track found; starting with an empty queue");
                (Vec::new(), false)
            }
        }
    } else {
        (args.files.clone(), true)
    };
    let ids = library.add(&engine, &files);
    let mut queue = Queue::new();
    queue.extend(ids.iter().cloned());
    let first = ids
        .iter()
        .find(|id| library.get(id).is_some_and(|e| e.track.is_ok()))
        .cloned();
    let start = first.map(|id| {
        let path = library.get(&id).map(|e| e.path);
        let resume = path.is_some() && same_file(path.as_deref(), saved.last_track.as_deref());
        Start {
            track_id: Some(id.as_str().to_string()),
            position_s: if resume { saved.last_position_s } else { 0.0 },
            autoplay,
            message: None,
        }
    });

    let output = crate::output_path(&args, &saved);
    let window = main_window(app, &saved, output)?;

    app.manage(Desktop {
        engine,
        library,
        queue: Mutex::new(queue),
        settings,
        media: OnceLock::new(),
        _keys: OnceLock::new(),
        native: OnceLock::new(),
        last: Mutex::new(UiState::default()),
        start: Mutex::new(start),
        window_size: Mutex::new(saved.window),
        started_at,
        ready_logged: Default::default(),
    });
    let desktop = app.state::<Desktop>();

    let _ = &window;
    let _ = desktop
        ._keys
        .set(MediaKeys::start(command_sink(app.handle())));
    Ok(())
}

fn main_window(
    app: &tauri::App,
    saved: &Settings,
    output: settings::OutputPath,
) -> anyhow::Result<WebviewWindow> {
    let size = saved.window.unwrap_or(DEFAULT_SIZE);
    let boot = serde_json::json!({
        "settings": {
            "preset": saved.preset,
            "intensity": saved.intensity,
            "volume": saved.volume,
        },
        "output": output,
        // WebKitGTK (Linux) plays the page's element without Web Audio (see desktop.js).
        "webAudio": !cfg!(target_os = "linux"),
    });
    let script = DESKTOP_JS.replacen("/*BOOT*/ {}", &boot.to_string(), 1);
    let window = WebviewWindowBuilder::new(app, MAIN, WebviewUrl::App("index.html".into()))
        .title("Sonance")
        .inner_size(size.width, size.height)
        .min_inner_size(settings::MIN_WINDOW.width, settings::MIN_WINDOW.height)
        .initialization_script(script)
        .build()?;
    Ok(window)
}

/// The files of a second launch's command line, relative ones resolved against its folder.
fn second_launch_files(argv: &[String], cwd: &Path) -> Vec<PathBuf> {
    use clap::Parser;
    match Args::try_parse_from(argv) {
        Ok(args) => args.files.into_iter().map(|f| cwd.join(f)).collect(),
        Err(e) => {
            log::warn!("a second launch had arguments that do not parse: {e}");
            Vec::new()
        }
    }
}

/// The bundled demo track: the app's resources, else the repository's `assets/` (development
/// builds run from `target/`).
fn demo_track(app: &tauri::App) -> Option<PathBuf> {
    let bundled = app.path().resource_dir().ok().map(|d| d.join("demo.flac"));
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/demo.flac");
    [bundled, Some(repo)]
        .into_iter()
        .flatten()
        .find(|p| p.is_file())
}

fn same_file(a: Option<&Path>, b: Option<&Path>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => {
            a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_launch_hands_over_its_files_resolved_against_its_folder() {
        let argv: Vec<String> = [
            "sonance-desktop",
            "a.flac",
            "--chunk-seconds",
            "5",
            "/music/b.flac",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            second_launch_files(&argv, Path::new("/home/u")),
            vec![
                PathBuf::from("/home/u/a.flac"),
                PathBuf::from("/music/b.flac")
            ]
        );
        let bad: Vec<String> = vec!["sonance-desktop".into(), "--nope".into()];
        assert!(second_launch_files(&bad, Path::new("/")).is_empty());
    }

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
