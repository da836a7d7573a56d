//! The watcher keeps rows in step with the folder: add, change, delete, rename.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use sonance_library::{Library, TrackId, TrackRecord};

/// Poll until `check` holds; panics after `limit`.
fn within(limit: Duration, what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if check() {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "{what} not seen within {limit:?}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn row(lib: &Library, path: &Path) -> Option<TrackRecord> {
    lib.track(&TrackId::for_path(path)).unwrap()
}

#[test]
fn added_changed_renamed_and_deleted_files_update_their_rows_within_2_s() {
    let tmp = tempfile::tempdir().unwrap();
    let music = tmp.path().join("music");
    let staging = tmp.path().join("staging");
    std::fs::create_dir_all(&staging).unwrap();
    tone(
        &music.join("first.mp3"),
        MP3,
        &tags("First", "A", "B", "1"),
        440,
    );
    let lib = Arc::new(Library::open(&tmp.path().join("lib.sqlite3")).unwrap());
    lib.add_folder(&music).unwrap();
    lib.scan(&AtomicBool::new(false), &|_| {}).unwrap();
    let music = canon(&music);

    let watcher = lib.watch().unwrap();
    // Made elsewhere, then moved in (as a download or a copy finishes).
    let two = music.join("second.flac");
    tone(
        &staging.join("second.flac"),
        FLAC,
        &tags("Second", "A", "B", "2"),
        550,
    );
    std::fs::rename(staging.join("second.flac"), &two).unwrap();
    let t = within(Duration::from_secs(2), "the added file", || {
        row(&lib, &two).is_some()
    });
    eprintln!("added seen after {t:?}");
    assert_eq!(row(&lib, &two).unwrap().title, "Second");

    // Written in place.
    tone(
        &music.join("third.mp3"),
        MP3,
        &tags("Third", "A", "B", "3"),
        600,
    );
    within(Duration::from_secs(2), "the written file", || {
        row(&lib, &music.join("third.mp3")).is_some_and(|t| t.title == "Third")
    });

    // Retagged.
    let retag = staging.join("retag.mp3");
    ffmpeg(&[
        "-i",
        music.join("first.mp3").to_str().unwrap(),
        "-c",
        "copy",
        "-metadata",
        "title=First Again",
        retag.to_str().unwrap(),
    ]);
    std::fs::rename(&retag, music.join("first.mp3")).unwrap();
    within(Duration::from_secs(2), "the retagged file", || {
        row(&lib, &music.join("first.mp3")).unwrap().title == "First Again"
    });

    // Deleted.
    std::fs::remove_file(&two).unwrap();
    let t = within(Duration::from_secs(2), "the deleted file", || {
        row(&lib, &two).unwrap().missing
    });
    eprintln!("deletion seen after {t:?}");

    // Renamed: the old row is missing, the new one appears.
    let renamed = music.join("renamed third.mp3");
    std::fs::rename(music.join("third.mp3"), &renamed).unwrap();
    within(Duration::from_secs(2), "the renamed file", || {
        row(&lib, &renamed).is_some() && row(&lib, &music.join("third.mp3")).unwrap().missing
    });

    // A deleted sub-folder: everything under it missing.
    tone(
        &music.join("sub/deep.mp3"),
        MP3,
        &tags("Deep", "A", "B", "4"),
        700,
    );
    within(Duration::from_secs(2), "the file in a new folder", || {
        row(&lib, &music.join("sub/deep.mp3")).is_some()
    });
    std::fs::remove_dir_all(music.join("sub")).unwrap();
    within(Duration::from_secs(2), "the deleted folder", || {
        row(&lib, &music.join("sub/deep.mp3")).unwrap().missing
    });

    // A folder added after the watcher started.
    let mut watcher = watcher;
    let later = canon(tmp.path()).join("later");
    std::fs::create_dir_all(&later).unwrap();
    lib.add_folder(&later).unwrap();
    watcher.watch_folder(&later).unwrap();
    tone(
        &later.join("new.mp3"),
        MP3,
        &tags("New", "A", "B", "1"),
        900,
    );
    within(Duration::from_secs(2), "a file in the later folder", || {
        row(&lib, &later.join("new.mp3")).is_some_and(|t| t.folder_id.is_some())
    });

    // After the watcher is dropped nothing changes any more.
    drop(watcher);
    tone(
        &music.join("late.mp3"),
        MP3,
        &tags("Late", "A", "B", "5"),
        800,
    );
    std::thread::sleep(Duration::from_millis(1200));
    assert!(row(&lib, &music.join("late.mp3")).is_none());
}
