//! Logs to `<app log dir>/sonance.log` (and warnings to stderr) through the `log` facade.
//!
//! Set up before Tauri so that start-up failures (no display, a broken webview) are in the
//! file too. The folder is the one Tauri's `app_log_dir()` resolves to by default. The file is
//! rotated to `sonance.log.old` once it passes 5 MB at start-up. `SONANCE_LOG=debug` (or
//! `trace`, `warn`…) sets the level; the default is `info`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

const ROTATE_BYTES: u64 = 5 << 20;
const FILE_NAME: &str = "sonance.log";

struct Logger {
    file: Option<Mutex<File>>,
    level: log::LevelFilter,
}

impl log::Log for Logger {
    fn enabled(&self, meta: &log::Metadata<'_>) -> bool {
        if meta.level() > self.level {
            return false;
        }
        // Our crates at the chosen level; the rest of the stack (WebKit glue, zbus, tao)
        // only from `warn` unless asked for `trace`.
        let target = meta.target();
        target.starts_with("sonance")
            || meta.level() <= log::Level::Warn
            || self.level == log::LevelFilter::Trace
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format!(
            "{} {:5} {}: {}\n",
            timestamp(),
            record.level(),
            record.target(),
            record.args()
        );
        if let Some(file) = &self.file {
            let mut f = file.lock().unwrap_or_else(|e| e.into_inner());
            let _ = f.write_all(line.as_bytes());
        }
        if record.level() <= log::Level::Warn || self.file.is_none() {
            eprint!("{line}");
        }
    }

    fn flush(&self) {
        if let Some(file) = &self.file {
            let _ = file.lock().unwrap_or_else(|e| e.into_inner()).flush();
        }
    }
}

/// The folder Tauri's `app_log_dir()` resolves to for `identifier`.
pub fn log_dir(identifier: &str) -> Option<PathBuf> {
    #[cfg(target_os = "macos")]
    {
        dirs::home_dir().map(|h| h.join("Library/Logs").join(identifier))
    }
    #[cfg(not(target_os = "macos"))]
    {
        dirs::data_local_dir().map(|d| d.join(identifier).join("logs"))
    }
}

/// Install the logger. Returns the log file's path when one could be opened (logging then
/// goes to stderr only).
pub fn init(identifier: &str) -> Option<PathBuf> {
    let level = std::env::var("SONANCE_LOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(log::LevelFilter::Info);
    let path = log_dir(identifier).map(|d| d.join(FILE_NAME));
    let file = path.as_deref().and_then(|p| open(p).ok());
    let opened = file.is_some();
    let logger = Logger {
        file: file.map(Mutex::new),
        level,
    };
    // Installed once for the life of the process.
    if log::set_logger(Box::leak(Box::new(logger))).is_ok() {
        log::set_max_level(level);
    }
    if opened {
        path
    } else {
        None
    }
}

fn open(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if std::fs::metadata(path).is_ok_and(|m| m.len() > ROTATE_BYTES) {
        let _ = std::fs::rename(path, path.with_extension("log.old"));
    }
    OpenOptions::new().create(true).append(true).open(path)
}

/// UTC `YYYY-MM-DD HH:MM:SS.mmm` without a date crate.
fn timestamp() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{day:02} {:02}:{:02}:{:02}.{:03}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }
}
