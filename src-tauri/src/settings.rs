//! What the app remembers between runs, in `<app data dir>/settings.json`.
//!
//! Two steps (STYLE 7): [`Settings`] is read leniently (`#[serde(default)]`, unknown fields
//! ignored, a damaged file is set aside as `settings.json.bad` and defaults used) and then
//! [`Settings::validated`] clamps every value into range. [`Store`] writes atomically: a
//! temporary file in the same folder, flushed to disk, then renamed over the old one, so a
//! crash or power cut leaves either the old or the new settings, never half a file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

const FILE_NAME: &str = "settings.json";

/// Which audio output plays the music.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputPath {
    /// The web view's media element (MSE) when it can play Opus in WebM, else native.
    #[default]
    Auto,
    /// Always the native output (cpal), never the web view.
    Native,
}

/// The window's inner size in logical pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WindowSize {
    pub width: f64,
    pub height: f64,
}

/// The remembered settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Preset name as the stream API spells it (`bypass`, `adaptive`…); `None`: the UI's default.
    pub preset: Option<String>,
    /// Preset intensity, 0…1.
    pub intensity: f64,
    /// Output volume, 0…1.
    pub volume: f64,
    /// Main window size; `None`: the default size.
    pub window: Option<WindowSize>,
    /// The file that was playing last.
    pub last_track: Option<PathBuf>,
    /// Where in it, in seconds.
    pub last_position_s: f64,
    /// The output path.
    pub output: OutputPath,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            preset: None,
            intensity: 1.0,
            volume: 1.0,
            window: None,
            last_track: None,
            last_position_s: 0.0,
            output: OutputPath::Auto,
        }
    }
}

pub const MIN_WINDOW: WindowSize = WindowSize {
    width: 560.0,
    height: 360.0,
};
const MAX_WINDOW: f64 = 16_384.0;

impl Settings {
    /// Every value in range: NaN and out-of-range numbers become defaults or are clamped, a
    /// preset name that is not a plain identifier is dropped.
    pub fn validated(mut self) -> Self {
        let unit = |x: f64, default: f64| {
            if x.is_finite() {
                x.clamp(0.0, 1.0)
            } else {
                default
            }
        };
        self.intensity = unit(self.intensity, 1.0);
        self.volume = unit(self.volume, 1.0);
        if !(self.last_position_s.is_finite() && self.last_position_s >= 0.0) {
            self.last_position_s = 0.0;
        }
        if let Some(p) = &self.preset {
            let ok = !p.is_empty()
                && p.len() <= 64
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                self.preset = None;
            }
        }
        self.window = self.window.and_then(|w| {
            (w.width.is_finite() && w.height.is_finite()).then(|| WindowSize {
                width: w.width.clamp(MIN_WINDOW.width, MAX_WINDOW),
                height: w.height.clamp(MIN_WINDOW.height, MAX_WINDOW),
            })
        });
        if self.last_track.is_none() {
            self.last_position_s = 0.0;
        }
        self
    }
}

/// The settings file and the settings in memory.
pub struct Store {
    path: PathBuf,
    current: Mutex<Settings>,
}

impl Store {
    /// Read `dir/settings.json` (defaults if missing or unreadable).
    pub fn open(dir: &Path) -> Self {
        let path = dir.join(FILE_NAME);
        let settings = load(&path);
        Store {
            path,
            current: Mutex::new(settings),
        }
    }

    /// A copy of the current settings.
    pub fn get(&self) -> Settings {
        self.lock().clone()
    }

    /// Change the settings with `f`; when anything changed, write the file. Returns whether
    /// anything changed.
    pub fn update(&self, f: impl FnOnce(&mut Settings)) -> bool {
        let mut guard = self.lock();
        let before = guard.clone();
        f(&mut guard);
        *guard = guard.clone().validated();
        if *guard == before {
            return false;
        }
        let snapshot = guard.clone();
        drop(guard);
        if let Err(e) = write_atomic(&self.path, &snapshot) {
            log::warn!("cannot save settings to {}: {e}", self.path.display());
        }
        true
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Settings> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn load(path: &Path) -> Settings {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Settings::default(),
        Err(e) => {
            log::warn!("cannot read {}: {e}; using defaults", path.display());
            return Settings::default();
        }
    };
    match serde_json::from_slice::<Settings>(&bytes) {
        Ok(s) => s.validated(),
        Err(e) => {
            let bad = path.with_extension("json.bad");
            log::warn!(
                "{} is damaged ({e}); kept as {} and using defaults",
                path.display(),
                bad.display()
            );
            let _ = std::fs::rename(path, &bad);
            Settings::default()
        }
    }
}

/// Write `settings` to `path` through a temporary file and a rename.
pub fn write_atomic(path: &Path, settings: &Settings) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_vec_pretty(settings).map_err(std::io::Error::other)?;
    let tmp = dir.join(format!(".{FILE_NAME}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&json)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The rename itself is durable once the folder is synced (not possible on Windows).
        #[cfg(unix)]
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("sonance-settings-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn round_trip_and_atomic_write() {
        let dir = tempdir("rt");
        let store = Store::open(&dir);
        assert_eq!(store.get(), Settings::default());
        assert!(store.update(|s| {
            s.preset = Some("bypass".into());
            s.volume = 0.4;
            s.last_track = Some("/music/a.flac".into());
            s.last_position_s = 12.5;
        }));
        assert!(!store.update(|s| s.volume = 0.4), "no change, no write");
        let again = Store::open(&dir).get();
        assert_eq!(again.preset.as_deref(), Some("bypass"));
        assert_eq!(again.volume, 0.4);
        assert_eq!(again.last_position_s, 12.5);
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn damaged_file_is_set_aside() {
        let dir = tempdir("bad");
        std::fs::write(dir.join(FILE_NAME), b"{ not json").unwrap();
        let store = Store::open(&dir);
        assert_eq!(store.get(), Settings::default());
        assert!(dir.join("settings.json.bad").exists());
    }

    #[test]
    fn unknown_and_missing_fields_and_bad_values() {
        let s: Settings = serde_json::from_str(
            r#"{"volume": 7, "intensity": -1, "future": true, "preset": "../x",
                "window": {"width": 10, "height": 99999}, "last_position_s": 3}"#,
        )
        .unwrap();
        let s = s.validated();
        assert_eq!(s.volume, 1.0);
        assert_eq!(s.intensity, 0.0);
        assert_eq!(s.preset, None);
        assert_eq!(
            s.window,
            Some(WindowSize {
                width: MIN_WINDOW.width,
                height: MAX_WINDOW
            })
        );
        assert_eq!(s.last_position_s, 0.0, "no track, no position");
        assert_eq!(s.output, OutputPath::Auto);
    }
}
