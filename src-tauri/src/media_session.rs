//! The OS media session (MPRIS on Linux, SMTC on Windows, Now Playing on macOS) for the
//! **native output path**, through `souvlaki`.
//!
//! Exactly one session exists at a time, and it belongs to whatever makes the sound:
//! - **web view path** (the default): the web view's own session, which every engine publishes
//!   as soon as a media element plays (WebKitGTK MPRIS since 2.36, WebView2 SMTC, WKWebView Now
//!   Playing). The page drives it through `navigator.mediaSession` (metadata and play/pause/
//!   next/previous/seek handlers in `ui/src/main.ts`, which send commands to the player core
//!   over the stream API; the position in `ui/src/desktop.ts`). We measured that WebKitGTK 2.50 cannot be told
//!   not to publish it: `MediaSessionGLib` registers `org.mpris.MediaPlayer2.org.webkit.app-…
//!   .Sandboxed.instance-N` for any playing element as soon as its web process reaches the
//!   session bus, with no setting or feature flag in the public API (only a testing switch).
//!   A second, native session next to it would show the same track twice in the desktop's
//!   media controls and split the media keys between two players.
//! - **native path** (cpal; no media element plays, so the web view publishes nothing): this
//!   module, started together with the native output.
//!
//! Events from the OS arrive on souvlaki's thread and are handed to the callback as
//! [`MediaCommand`]s (which `Desktop::media_command` sends to the player core); what plays is
//! pushed in with [`MediaSession::update`].

use std::sync::Mutex;
use std::time::Duration;

use souvlaki::{
    MediaControlEvent, MediaControls, MediaMetadata, MediaPlayback, MediaPosition, PlatformConfig,
    SeekDirection,
};

/// What the OS asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaCommand {
    Toggle,
    Play,
    Pause,
    Stop,
    Next,
    Previous,
    /// Relative seek in seconds (negative: back).
    SeekBy(f64),
    /// Absolute position in seconds.
    SetPosition(f64),
    /// Volume 0…1.
    SetVolume(f64),
    /// Bring the window to the front.
    Raise,
    Quit,
}

/// Seek step for the OS's plain "seek forward/backward" buttons.
const SEEK_STEP_S: f64 = 10.0;

impl MediaCommand {
    fn from_event(e: MediaControlEvent) -> Option<Self> {
        Some(match e {
            MediaControlEvent::Play => Self::Play,
            MediaControlEvent::Pause => Self::Pause,
            MediaControlEvent::Toggle => Self::Toggle,
            MediaControlEvent::Next => Self::Next,
            MediaControlEvent::Previous => Self::Previous,
            MediaControlEvent::Stop => Self::Stop,
            MediaControlEvent::Seek(dir) => Self::SeekBy(signed(dir, SEEK_STEP_S)),
            MediaControlEvent::SeekBy(dir, d) => Self::SeekBy(signed(dir, d.as_secs_f64())),
            MediaControlEvent::SetPosition(MediaPosition(d)) => Self::SetPosition(d.as_secs_f64()),
            MediaControlEvent::SetVolume(v) => Self::SetVolume(v.clamp(0.0, 1.0)),
            MediaControlEvent::Raise => Self::Raise,
            MediaControlEvent::Quit => Self::Quit,
            _ => return None,
        })
    }
}

fn signed(dir: SeekDirection, s: f64) -> f64 {
    match dir {
        SeekDirection::Forward => s,
        SeekDirection::Backward => -s,
    }
}

/// What the session shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NowPlaying {
    pub title: Option<String>,
    pub artist: Option<String>,
    pub album: Option<String>,
    pub duration_s: f64,
    pub position_s: f64,
    pub playing: bool,
    pub volume: f64,
}

/// The session (a no-op when the platform refused one: no D-Bus session bus, for example).
pub struct MediaSession {
    controls: Mutex<Option<MediaControls>>,
    shown: Mutex<NowPlaying>,
}

/// The D-Bus name suffix: `org.mpris.MediaPlayer2.sonance`.
pub const DBUS_NAME: &str = "sonance";

impl MediaSession {
    /// Publish the session. `hwnd` is the main window's handle (Windows only). `on_command`
    /// runs on the platform's thread.
    pub fn start(
        hwnd: Option<*mut std::ffi::c_void>,
        on_command: impl Fn(MediaCommand) + Send + 'static,
    ) -> Self {
        let controls = match Self::try_start(hwnd, on_command) {
            Ok(c) => Some(c),
            Err(why) => {
                log::warn!("no OS media session: {why}");
                None
            }
        };
        MediaSession {
            controls: Mutex::new(controls),
            shown: Mutex::new(NowPlaying::default()),
        }
    }

    fn try_start(
        hwnd: Option<*mut std::ffi::c_void>,
        on_command: impl Fn(MediaCommand) + Send + 'static,
    ) -> Result<MediaControls, String> {
        #[cfg(target_os = "linux")]
        if !session_bus_available() {
            return Err("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)".into());
        }
        let config = PlatformConfig {
            dbus_name: DBUS_NAME,
            display_name: "Sonance",
            hwnd,
        };
        let mut controls = MediaControls::new(config).map_err(|e| format!("{e:?}"))?;
        controls
            .attach(move |event| {
                if let Some(cmd) = MediaCommand::from_event(event) {
                    log::debug!("media session: {cmd:?}");
                    on_command(cmd);
                }
            })
            .map_err(|e| format!("{e:?}"))?;
        controls
            .set_playback(MediaPlayback::Stopped)
            .map_err(|e| format!("{e:?}"))?;
        log::info!(
            "media session published (MPRIS name org.mpris.MediaPlayer2.{DBUS_NAME} on Linux)"
        );
        Ok(controls)
    }

    /// Show `now` (only what changed is sent).
    pub fn update(&self, now: &NowPlaying) {
        let mut shown = self.shown.lock().unwrap_or_else(|e| e.into_inner());
        let mut guard = self.controls.lock().unwrap_or_else(|e| e.into_inner());
        let Some(controls) = guard.as_mut() else {
            return;
        };
        let track_changed = shown.title != now.title
            || shown.artist != now.artist
            || shown.album != now.album
            || (shown.duration_s - now.duration_s).abs() > 0.01;
        if track_changed {
            let duration = (now.duration_s.is_finite() && now.duration_s > 0.0)
                .then(|| Duration::from_secs_f64(now.duration_s));
            let meta = MediaMetadata {
                title: now.title.as_deref(),
                artist: now.artist.as_deref(),
                album: now.album.as_deref(),
                cover_url: None,
                duration,
            };
            if let Err(e) = controls.set_metadata(meta) {
                log::warn!("media session: cannot set metadata: {e:?}");
            }
        }
        if track_changed
            || shown.playing != now.playing
            || (shown.position_s - now.position_s).abs() > 0.5
        {
            let progress = Some(MediaPosition(Duration::from_secs_f64(
                now.position_s.max(0.0),
            )));
            let playback = if now.title.is_none() {
                MediaPlayback::Stopped
            } else if now.playing {
                MediaPlayback::Playing { progress }
            } else {
                MediaPlayback::Paused { progress }
            };
            if let Err(e) = controls.set_playback(playback) {
                log::warn!("media session: cannot set playback: {e:?}");
            }
        }
        if (shown.volume - now.volume).abs() > 0.001 {
            let _ = controls.set_volume(now.volume);
        }
        *shown = now.clone();
    }

    /// Withdraw the session (at exit).
    pub fn stop(&self) {
        let mut guard = self.controls.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mut c) = guard.take() {
            let _ = c.detach();
        }
    }
}

#[cfg(target_os = "linux")]
fn session_bus_available() -> bool {
    std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
        || std::env::var_os("XDG_RUNTIME_DIR")
            .is_some_and(|d| std::path::Path::new(&d).join("bus").exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_events_map_to_commands() {
        use MediaControlEvent as E;
        assert_eq!(
            MediaCommand::from_event(E::Toggle),
            Some(MediaCommand::Toggle)
        );
        assert_eq!(MediaCommand::from_event(E::Next), Some(MediaCommand::Next));
        assert_eq!(
            MediaCommand::from_event(E::SeekBy(SeekDirection::Backward, Duration::from_secs(5))),
            Some(MediaCommand::SeekBy(-5.0))
        );
        assert_eq!(
            MediaCommand::from_event(E::Seek(SeekDirection::Forward)),
            Some(MediaCommand::SeekBy(SEEK_STEP_S))
        );
        assert_eq!(
            MediaCommand::from_event(E::SetVolume(3.0)),
            Some(MediaCommand::SetVolume(1.0))
        );
        assert_eq!(
            MediaCommand::from_event(E::OpenUri("file:///x".into())),
            None
        );
    }
}
