//! A scan killed with SIGKILL at random moments leaves a database that opens, and the next
//! scan completes with the right count.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use common::*;
use sonance_library::{Library, TrackQuery};

const CHILD_ENV: &str = "SONANCE_LIBRARY_KILL9_CHILD";
const FILES: usize = 1500;

/// In the child: scan the folder in `CHILD_ENV` into the database beside it, again and again.
#[test]
fn kill9_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let lib = Library::open(&dir.join("lib.sqlite3")).unwrap();
    lib.add_folder(&dir.join("music")).unwrap();
    loop {
        lib.scan(&AtomicBool::new(false), &|_| {}).unwrap();
        // Touch every file so the next pass writes again.
        for e in std::fs::read_dir(dir.join("music")).unwrap().flatten() {
            let f = std::fs::File::options()
                .append(true)
                .open(e.path())
                .unwrap();
            f.set_modified(std::time::SystemTime::now()).unwrap();
        }
    }
}

/// A cheap varying number (no rand crate): nanoseconds of the clock.
fn jitter(max_ms: u64) -> u64 {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    (n / 1000) % max_ms
}

fn make_music(dir: &Path) {
    let music = dir.join("music");
    std::fs::create_dir_all(&music).unwrap();
    let one = dir.join("one.mp3");
    tone(&one, MP3, &tags("Tone", "Artist", "Album", "1"), 440);
    let bytes = std::fs::read(&one).unwrap();
    for i in 0..FILES {
        std::fs::write(music.join(format!("track {i:05}.mp3")), &bytes).unwrap();
    }
}

#[test]
fn a_scan_killed_at_random_moments_leaves_a_usable_database() {
    let tmp = tempfile::tempdir().unwrap();
    make_music(tmp.path());
    let exe = std::env::current_exe().unwrap();
    let mut kills = 0;
    let start = Instant::now();
    let db = tmp.path().join("lib.sqlite3");
    let count = || {
        Library::open(&db)
            .unwrap()
            .tracks(&TrackQuery::default())
            .unwrap()
            .total
    };
    let mut partial_seen = false;
    for i in 0..20 {
        let before = if i < 4 { count() } else { 0 };
        let mut child = Command::new(&exe)
            .args(["--exact", "kill9_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, tmp.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        if i < 4 && (before as usize) < FILES {
            // While the first scan is under way: as soon as a batch lands.
            let t = Instant::now();
            while count() == before && t.elapsed() < Duration::from_secs(20) {
                std::thread::sleep(Duration::from_millis(2));
            }
            std::thread::sleep(Duration::from_millis(jitter(20)));
        } else {
            // Later ones land in the re-reads of the touched files.
            std::thread::sleep(Duration::from_millis(40 + jitter(900)));
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL on unix
            kills += 1;
        }
        let status = child.wait().unwrap();
        assert!(!status.success(), "the child scans until killed (run {i})");
        // The database opens and answers after every kill.
        let n = count();
        assert!(n as usize <= FILES, "{n}");
        partial_seen |= n > 0 && (n as usize) < FILES;
        eprintln!("kill {i}: {n} tracks so far");
    }
    assert_eq!(kills, 20);
    assert!(
        partial_seen,
        "at least one kill landed in the middle of the first scan"
    );
    let lib = Library::open(&tmp.path().join("lib.sqlite3")).unwrap();
    let report = lib.scan(&AtomicBool::new(false), &|_| {}).unwrap();
    assert_eq!(
        lib.tracks(&TrackQuery {
            include_missing: true,
            ..TrackQuery::default()
        })
        .unwrap()
        .total as usize,
        FILES
    );
    assert_eq!(
        report.added + report.updated + report.unchanged,
        FILES as u64
    );
    let again = lib.scan(&AtomicBool::new(false), &|_| {}).unwrap();
    assert_eq!(again.unchanged, FILES as u64);
    eprintln!("20 kills in {:?}", start.elapsed());
}
