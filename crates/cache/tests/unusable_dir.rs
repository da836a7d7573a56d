//! A cache folder that cannot be used does not stop start-up: the cache runs
//! memory-only and a warning names the folder and the reason.
//!
//! Its own test binary because it installs a (process-wide) logger.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::sync::Mutex;

use common::{key, payload, TestDir};
use sonance_cache::{CacheConfig, CacheError, DiskConfig, FragmentCache};

/// Keeps every warning logged by the cache.
struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Warn
    }
    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            self.0.lock().unwrap().push(record.args().to_string());
        }
    }
    fn flush(&self) {}
}

static WARNINGS: Capture = Capture(Mutex::new(Vec::new()));

#[test]
fn folder_under_a_regular_file_gives_a_memory_only_cache_and_a_warning() {
    // Tests run as root, so a read-only folder would still be writable; a
    // path under a regular file cannot be created by anyone.
    log::set_logger(&WARNINGS).unwrap();
    log::set_max_level(log::LevelFilter::Warn);
    let dir = TestDir::new("bad-folder");
    let file = dir.path().join("a-file");
    fs::write(&file, b"x").unwrap();
    let folder = file.join("cache");

    let cache = FragmentCache::new(CacheConfig {
        memory_bytes: 1 << 20,
        disk: Some(DiskConfig {
            dir: folder.clone(),
            max_bytes: 1 << 20,
        }),
    })
    .expect("an unusable folder must not fail start-up");

    // It says why, with the folder's path and the OS reason.
    let err = cache.disk_error().expect("the disk tier is not in use");
    assert!(matches!(err, CacheError::CreateDir { .. }), "{err:?}");
    let folder_name = folder.display().to_string();
    let warnings = WARNINGS.0.lock().unwrap().clone();
    let warning = warnings
        .iter()
        .find(|w| w.contains(&folder_name))
        .unwrap_or_else(|| panic!("no warning names {folder_name}: {warnings:?}"));
    assert!(
        warning.contains("cannot create the fragment cache folder"),
        "{warning}"
    );
    assert!(warning.contains("memory only"), "{warning}");
    let reason = std::error::Error::source(err).unwrap().to_string(); // "Not a directory (os error 20)"
    assert!(warning.contains(&reason), "{warning} lacks '{reason}'");

    // And it works, in memory.
    let k = key("fragment");
    let v = cache
        .get_or_compute(&k, || Ok::<_, String>(payload("fragment", 10_000)))
        .unwrap();
    assert_eq!(&v[..], &payload("fragment", 10_000)[..]);
    let again = cache
        .get_or_compute(&k, || Err::<Vec<u8>, _>("recomputed".to_owned()))
        .unwrap();
    assert_eq!(again, v);
    let s = cache.stats();
    assert_eq!(
        (s.computations, s.memory_hits, s.disk_bytes),
        (1, 1, 0),
        "{s:?}"
    );
    assert!(!folder.exists() && file.is_file());
}
