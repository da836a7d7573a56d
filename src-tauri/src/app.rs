//! Assembling the app: the engine, the library and the player core (the same
//! [`PlayerHandle`] `sonance serve` hosts, persisted beside the library) behind the loopback
//! server and the `sonance` scheme, the main window with its boot script (`desktop.js`), what
//! to open first (as commands to the core), window events, signals, and the shared [`Desktop`]
//! state (`desktop.rs`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use sonance_engine::Engine;
use sonance_player::{ActorConfig, Command, PlayerHandle, TrackId as CoreId, MAX_TRACKS};
use sonance_stream::{Catalog, PlayerHost, StreamApi, TrackId};
use tauri::{
    AppHandle, Manager, RunEvent, WebviewUrl, WebviewWindow, WebviewWindowBuilder, WindowEvent,
};

use crate::cli::Args;
use crate::desktop::{Desktop, MAIN};
use crate::loopback::{Loopback, Transport};
use crate::media_session::MediaCommand;
use crate::scheme::{self, Scheme};
use crate::settings::{self, Settings, WindowSize};

const DEFAULT_SIZE: WindowSize = WindowSize {
    width: 1000.0,
    height: 640.0,
};

/// The boot script injected into the page before its own scripts (see the file's header).
const DESKTOP_JS: &str = include_str!("desktop.js");

/// Build and run the app until its window closes.
pub fn run(
    args: Args,
    context: tauri::Context<tauri::Wry>,
    started_at: Instant,
) -> anyhow::Result<()> {
    let engine = Arc::new(crate::engine_for(&args, &context)?);
    let library = Arc::new(Catalog::new(
        Arc::clone(&engine),
        Arc::new(crate::open_library()?),
    ));
    if let Err(e) = library.start_background() {
        log::warn!("the library's folders are not scanned or watched: {e}");
    }
    let core = start_core(&library)?;
    // Both transports host the same core: over the loopback server the page follows its
    // event stream; over the scheme (no streaming) it polls `GET /api/player`.
    let host = Arc::new(PlayerHost::new(
        core.handle.clone(),
        Arc::clone(library.library()),
    ));
    let scheme = Scheme::start()?;
    scheme.set_api(Arc::new(
        StreamApi::new(Arc::clone(&library), scheme::access()).with_player(Arc::clone(&host)),
    ));
    // The page's transport: the loopback server (chunks stream), else the scheme.
    let loopback = match args.transport.unwrap_or_else(Transport::platform_default) {
        Transport::Loopback => match Loopback::start(
            Arc::clone(&library),
            Arc::clone(&host),
            scheme::page_origin(),
        ) {
            Ok(server) => Some(server),
            Err(e) => {
                log::warn!("{e:#}; the page uses the sonance: scheme (whole chunks)");
                None
            }
        },
        Transport::Scheme => None,
    };
    let api_base = loopback.as_ref().map(|l| l.base().to_string());

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
                    .handle(ctx.webview_label(), request, move |r| responder.respond(r));
            },
        )
        .invoke_handler(tauri::generate_handler![
            crate::commands::report,
            crate::commands::open_files,
            crate::commands::add_folder,
            crate::commands::native,
        ])
        .setup(move |app| {
            setup(app, args, engine, library, core, api_base, started_at)?;
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
    app.run(move |app, event| {
        // The server lives as long as the app.
        let _ = &loopback;
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

/// The player core, restored from `player.json` beside the library's database (what
/// `sonance serve` uses too, so both see the same queue when they share a library).
struct CoreStart {
    handle: PlayerHandle,
    /// No saved state was found: this is the first run with the core (settings.json's last
    /// track and sound settings are taken over once).
    fresh: bool,
}

fn start_core(library: &Catalog) -> anyhow::Result<CoreStart> {
    let state_path = library.library().db_path().with_file_name("player.json");
    let fresh = !state_path.exists();
    let (player, damaged) = sonance_player::restore_or_fresh(&state_path, seed());
    if let Some(e) = damaged {
        log::warn!("{e}; starting with an empty queue");
    }
    log::info!("player state: {}", state_path.display());
    let handle = PlayerHandle::spawn(
        player,
        ActorConfig {
            state_path: Some(state_path),
            ..ActorConfig::default()
        },
    )
    .map_err(|e| anyhow::anyhow!("cannot start the player: {e}"))?;
    Ok(CoreStart { handle, fresh })
}

/// A seed for the shuffle: this moment.
fn seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}

fn setup(
    app: &mut tauri::App,
    args: Args,
    engine: Arc<Engine>,
    library: Arc<Catalog>,
    core: CoreStart,
    api_base: Option<String>,
    started_at: Instant,
) -> anyhow::Result<()> {
    let data_dir = app.path().app_data_dir()?;
    let settings = settings::Store::open(&data_dir);
    let saved = settings.get();
    log::info!("settings: {}", settings.path().display());

    let opening = opening(app, &args, &saved, &core);
    for cmd in start_commands(&library, &opening) {
        if core.handle.send(cmd).is_err() {
            anyhow::bail!("the player stopped while the app started");
        }
    }

    let output = crate::output_path(&args, &saved);
    let window = main_window(app, &saved, output, api_base)?;

    app.manage(Desktop::new(
        engine,
        library,
        core.handle,
        settings,
        saved.window,
        started_at,
    ));
    let _ = &window;
    app.state::<Desktop>().grab_media_keys(app.handle());
    Ok(())
}

/// What the app opens as it starts.
#[derive(Debug, Clone, PartialEq)]
enum Opening {
    /// Files given on the command line: they replace the queue and play.
    Play(Vec<PathBuf>),
    /// The first run with the core: settings.json's sound settings, and its last track at
    /// its position (else the demo), paused.
    TakeOver {
        volume: f64,
        preset: Option<String>,
        intensity: f64,
        track: Option<PathBuf>,
        position_s: f64,
    },
    /// The queue is empty: the demo, paused.
    Demo(PathBuf),
    /// The core's saved queue, track and position, as they are.
    Resume,
}

fn opening(app: &tauri::App, args: &Args, saved: &Settings, core: &CoreStart) -> Opening {
    if !args.files.is_empty() {
        return Opening::Play(args.files.clone());
    }
    if core.fresh {
        let last = saved.last_track.clone().filter(|p| p.is_file());
        let position_s = if last.is_some() {
            saved.last_position_s
        } else {
            0.0
        };
        return Opening::TakeOver {
            volume: saved.volume,
            preset: saved.preset.clone(),
            intensity: saved.intensity,
            track: last.or_else(|| demo_track(app)),
            position_s,
        };
    }
    if core.handle.state().tracks.is_empty() {
        if let Some(demo) = demo_track(app) {
            return Opening::Demo(demo);
        }
        log::warn!("no demo track found; starting with an empty queue");
    }
    Opening::Resume
}

/// The commands to the core that open `opening`.
fn start_commands(library: &Catalog, opening: &Opening) -> Vec<Command> {
    let queue = |paths: &[PathBuf]| -> (Vec<CoreId>, Option<usize>) {
        let ids = library.add(paths);
        let first = ids
            .iter()
            .position(|id| library.get(id).is_some_and(|e| e.track.is_ok()));
        // The core takes at most MAX_TRACKS (a longer list would be refused whole).
        let first = first.filter(|&i| i < MAX_TRACKS);
        (ids.iter().take(MAX_TRACKS).map(core_id).collect(), first)
    };
    match opening {
        Opening::Play(files) => match queue(files) {
            (tracks, Some(index)) => vec![Command::PlayNow { tracks, index }],
            (tracks, None) => {
                log::warn!("none of the files given can be played");
                vec![Command::SetQueue { tracks, index: 0 }]
            }
        },
        Opening::TakeOver {
            volume,
            preset,
            intensity,
            track,
            position_s,
        } => {
            let mut cmds = vec![
                Command::SetVolume {
                    volume: *volume as f32,
                },
                Command::SetIntensity {
                    intensity: *intensity as f32,
                },
            ];
            if let Some(p) = preset {
                cmds.push(Command::SetPreset { preset: p.clone() });
            }
            if let Some(t) = track {
                let (tracks, first) = queue(std::slice::from_ref(t));
                if let Some(index) = first {
                    cmds.push(Command::SetQueue { tracks, index });
                    if *position_s > 0.0 {
                        cmds.push(Command::Seek {
                            position_s: *position_s,
                        });
                    }
                }
            }
            cmds
        }
        Opening::Demo(demo) => match queue(std::slice::from_ref(demo)) {
            (tracks, Some(index)) => vec![Command::SetQueue { tracks, index }],
            _ => Vec::new(),
        },
        Opening::Resume => Vec::new(),
    }
}

/// A library id as the core holds it.
pub fn core_id(id: &TrackId) -> CoreId {
    CoreId(id.as_str().to_string())
}

fn main_window(
    app: &tauri::App,
    saved: &Settings,
    output: settings::OutputPath,
    api_base: Option<String>,
) -> anyhow::Result<WebviewWindow> {
    let size = saved.window.unwrap_or(DEFAULT_SIZE);
    let boot = serde_json::json!({
        "output": output,
        // The loopback server's base URL; null: the page uses the sonance: scheme.
        "api": api_base,
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
}
