//! The commands the page calls (through `ui/src/desktop.ts`), and nothing else. Player
//! commands are not among them: the page sends those to the core over the stream API. Each has an
//! `allow-<name>` permission (build.rs) granted in `capabilities/main-window.json`.
//!
//! Errors cross the boundary as one serializable `{kind, message}` (STYLE 5).

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Manager, State, WebviewWindow};

use crate::desktop::Desktop;

/// What the page reports about playback (camelCase on the wire). Every field is outside data:
/// [`UiState::validated`] bounds it before use.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UiState {
    pub track_id: Option<String>,
    pub title: Option<String>,
    pub artist: Option<String>,
    pub album: Option<String>,
    #[serde(deserialize_with = "number")]
    pub duration_s: f64,
    #[serde(deserialize_with = "number")]
    pub position_s: f64,
    pub playing: bool,
    pub preset: Option<String>,
    #[serde(deserialize_with = "number")]
    pub intensity: f64,
    #[serde(deserialize_with = "number")]
    pub volume: f64,
    pub error: Option<String>,
}

/// A number, or NaN for `null` (what `JSON.stringify` makes of NaN and Infinity).
fn number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

const MAX_TEXT: usize = 512;

fn text(s: Option<String>) -> Option<String> {
    s.map(|s| {
        let s = s.trim();
        match s.char_indices().nth(MAX_TEXT) {
            Some((i, _)) => s[..i].to_string(),
            None => s.to_string(),
        }
    })
    .filter(|s| !s.is_empty())
}

fn finite(x: f64, lo: f64, hi: f64, default: f64) -> f64 {
    if x.is_finite() {
        x.clamp(lo, hi)
    } else {
        default
    }
}

impl UiState {
    /// Strings trimmed and capped, numbers finite and in range.
    pub fn validated(self) -> Self {
        let duration_s = finite(self.duration_s, 0.0, 1e7, 0.0);
        UiState {
            track_id: text(self.track_id),
            title: text(self.title),
            artist: text(self.artist),
            album: text(self.album),
            duration_s,
            position_s: finite(self.position_s, 0.0, duration_s.max(0.0), 0.0),
            playing: self.playing,
            preset: text(self.preset),
            intensity: finite(self.intensity, 0.0, 1.0, 1.0),
            volume: finite(self.volume, 0.0, 1.0, 1.0),
            error: text(self.error),
        }
    }
}

/// An error the page can show.
#[derive(Debug, Serialize)]
pub struct CommandError {
    pub kind: &'static str,
    pub message: String,
}

/// The page reports what plays (on every change and every 2 s), for what only the shell
/// shows: the window title and, on the native path, the OS media session.
#[tauri::command]
pub fn report(app: AppHandle, desktop: State<'_, Desktop>, ui: UiState) {
    desktop.apply_report(&app, ui.validated());
}

/// Ctrl+O: the system's open dialog; the files chosen join the queue. Returns how many.
#[tauri::command]
pub async fn open_files(
    window: WebviewWindow,
    desktop: State<'_, Desktop>,
) -> Result<usize, CommandError> {
    let audio: Vec<&str> = sonance_stream::library::AUDIO_EXTENSIONS.to_vec();
    let picked = rfd::AsyncFileDialog::new()
        .set_title("Open audio files")
        .add_filter("Audio", &audio)
        .add_filter("All files", &["*"])
        .set_parent(&window)
        .pick_files()
        .await;
    let Some(files) = picked else {
        return Ok(0);
    };
    let paths: Vec<_> = files.iter().map(|f| f.path().to_path_buf()).collect();
    let app = window.app_handle().clone();
    // Probing files reads them: off the async runtime's threads.
    let added = tauri::async_runtime::spawn_blocking(move || {
        let desktop = app.state::<Desktop>();
        desktop.add_files(&app, &paths, false)
    })
    .await
    .map_err(|e| CommandError {
        kind: "internal",
        message: format!("adding the files failed: {e}"),
    })?;
    let _ = desktop;
    Ok(added)
}

/// The Add folder… button: the system's folder dialog, then the folder joins the library (it is
/// remembered, scanned in the background and watched). Returns the folder added, if any.
#[tauri::command]
pub async fn add_folder(
    window: WebviewWindow,
    desktop: State<'_, Desktop>,
) -> Result<Option<String>, CommandError> {
    let picked = rfd::AsyncFileDialog::new()
        .set_title("Add a folder to the library")
        .set_parent(&window)
        .pick_folder()
        .await;
    let Some(folder) = picked else {
        return Ok(None);
    };
    let path = folder.path().to_path_buf();
    desktop.add_folder(&path).map_err(|e| CommandError {
        kind: "bad_parameter",
        message: e.to_string(),
    })?;
    Ok(Some(path.display().to_string()))
}

/// What the page asks of the native output (when it is the active path): its state, to
/// show. (The output follows the player core: `native/follow.rs`.)
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum NativeRequest {
    State,
}

/// The native output's state (it starts on the first request).
#[tauri::command]
pub fn native(
    app: AppHandle,
    desktop: State<'_, Desktop>,
    request: NativeRequest,
) -> Result<crate::native::NativeState, CommandError> {
    desktop.native_request(&app, request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_bounded() {
        let ui: UiState = serde_json::from_str(
            r#"{"trackId":"  0123456789abcdef ","title":"","durationS":10,"positionS":99,
                "intensity":null,"volume":-3,"playing":true,"extra":1}"#,
        )
        .unwrap();
        let ui = ui.validated();
        assert_eq!(ui.intensity, 1.0, "null is NaN, NaN is the default");
        assert_eq!(ui.track_id.as_deref(), Some("0123456789abcdef"));
        assert_eq!(ui.title, None);
        assert_eq!(ui.position_s, 10.0);
        assert_eq!(ui.volume, 0.0);
        let long = UiState {
            title: Some("é".repeat(2000)),
            duration_s: f64::NAN,
            ..UiState::default()
        }
        .validated();
        assert_eq!(long.title.map(|t| t.chars().count()), Some(MAX_TEXT));
        assert_eq!(long.duration_s, 0.0);
    }
}
