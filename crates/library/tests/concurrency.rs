//! Reads during a scan, scan status, cancellation, one scan at a time.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use sonance_library::{Error, Library, ScanPhase, TrackQuery};

const FILES: usize = 1200;

fn library_of_copies() -> (tempfile::TempDir, Arc<Library>) {
    let tmp = tempfile::tempdir().unwrap();
    let one = tmp.path().join("one.mp3");
    tone(&one, MP3, &tags("Tone", "Artist", "Album", "1"), 440);
    let bytes = std::fs::read(&one).unwrap();
    let music = tmp.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    for i in 0..FILES {
        std::fs::write(music.join(format!("{i:05}.mp3")), &bytes).unwrap();
    }
    let lib = Arc::new(Library::open(&tmp.path().join("lib.sqlite3")).unwrap());
    lib.add_folder(&music).unwrap();
    (tmp, lib)
}

#[test]
fn reads_see_committed_batches_while_a_scan_runs() {
    let (_tmp, lib) = library_of_copies();
    let seen_mid_scan = Mutex::new(Vec::new());
    let lib2 = Arc::clone(&lib);
    let report = lib
        .scan(&AtomicBool::new(false), &|p| {
            if p.phase == ScanPhase::Reading {
                // The status the HTTP API polls, and a read from another thread.
                let status = lib2.scan_status().unwrap();
                assert_eq!(status.phase, ScanPhase::Reading);
                assert_eq!(status.total, FILES as u64);
                let l = Arc::clone(&lib2);
                let total =
                    std::thread::spawn(move || l.tracks(&TrackQuery::default()).unwrap().total)
                        .join()
                        .unwrap();
                seen_mid_scan.lock().unwrap().push((p.done, total));
                // A second scan is refused while this one runs.
                assert!(matches!(
                    lib2.scan(&AtomicBool::new(false), &|_| {}),
                    Err(Error::ScanRunning)
                ));
            }
        })
        .unwrap();
    assert_eq!(report.added, FILES as u64);
    let seen = seen_mid_scan.into_inner().unwrap();
    assert!(
        seen.iter()
            .any(|&(done, total)| total > 0 && (done as usize) < FILES),
        "some tracks were readable before the scan ended: {seen:?}"
    );
    assert!(seen.iter().all(|&(done, total)| total <= done), "{seen:?}");
    assert_eq!(lib.scan_status(), None);
}

#[test]
fn a_cancelled_scan_keeps_what_it_wrote_and_the_next_one_finishes() {
    let (_tmp, lib) = library_of_copies();
    let cancel = AtomicBool::new(false);
    let r = lib.scan(&cancel, &|p| {
        if p.phase == ScanPhase::Reading && p.done >= 600 {
            cancel.store(true, Ordering::Relaxed);
        }
    });
    assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
    let partial = lib.tracks(&TrackQuery::default()).unwrap().total as usize;
    assert!((600..FILES).contains(&partial), "{partial}");
    assert_eq!(lib.scan_status(), None);
    let r = lib.scan(&AtomicBool::new(false), &|_| {}).unwrap();
    assert_eq!(r.added as usize, FILES - partial);
    assert_eq!(r.unchanged as usize, partial);
    assert_eq!(r.missing, 0, "a cancelled scan marks nothing missing");
}
