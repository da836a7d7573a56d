//! Disk entries persist across instances; damaged, unfinished or foreign
//! files are never served.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{key, open, payload, TestDir};
use sonance_cache::FragmentCache;

const MEM: usize = 16 << 20;
const DISK: u64 = 64 << 20;

/// get_or_compute with a counter, checking the bytes.
fn fetch(cache: &FragmentCache, name: &str, len: usize, runs: &AtomicUsize) {
    let v = cache
        .get_or_compute(&key(name), || {
            runs.fetch_add(1, Ordering::SeqCst);
            Ok::<_, String>(payload(name, len))
        })
        .unwrap();
    assert_eq!(&v[..], &payload(name, len)[..]);
}

#[test]
fn value_computed_by_one_instance_is_a_disk_hit_for_the_next() {
    let dir = TestDir::new("persist");
    let runs = AtomicUsize::new(0);
    {
        let a = open(&dir, MEM, DISK);
        fetch(&a, "track-1/frag-0", 300_000, &runs);
        assert_eq!(a.stats().computations, 1);
        assert!(a.stats().disk_bytes > 300_000);
    }
    let b = open(&dir, MEM, DISK);
    assert!(b.contains(&key("track-1/frag-0")), "indexed at startup");
    assert_eq!(b.stats().memory_entries, 0, "memory starts cold");
    fetch(&b, "track-1/frag-0", 300_000, &runs);
    assert_eq!(runs.load(Ordering::SeqCst), 1, "not recomputed");
    let s = b.stats();
    assert_eq!(
        (s.disk_hits, s.computations, s.memory_entries),
        (1, 0, 1),
        "{s:?}"
    );
    // Promoted into memory: the next lookup is a memory hit.
    assert_eq!(b.get(&key("track-1/frag-0")).unwrap().len(), 300_000);
    assert_eq!(b.stats().memory_hits, 1);
    assert!(b.get(&key("never-stored")).is_none());
}

#[derive(Debug, Clone, Copy)]
enum Damage {
    Truncate,
    FlipPayloadByte,
    FlipKeyByte,
    ZeroLength,
    AppendGarbage,
}

fn damage(path: &std::path::Path, how: Damage) {
    let mut bytes = fs::read(path).unwrap();
    match how {
        Damage::Truncate => bytes.truncate(bytes.len() / 2),
        Damage::FlipPayloadByte => *bytes.last_mut().unwrap() ^= 0x40,
        Damage::FlipKeyByte => bytes[33] ^= 0x01,
        Damage::ZeroLength => bytes.clear(),
        Damage::AppendGarbage => bytes.extend_from_slice(b"junk"),
    }
    fs::write(path, bytes).unwrap();
}

const ALL_DAMAGE: [Damage; 5] = [
    Damage::Truncate,
    Damage::FlipPayloadByte,
    Damage::FlipKeyByte,
    Damage::ZeroLength,
    Damage::AppendGarbage,
];

#[test]
fn damaged_entry_is_dropped_counted_and_recomputed() {
    for how in ALL_DAMAGE {
        let dir = TestDir::new("damage");
        let runs = AtomicUsize::new(0);
        fetch(&open(&dir, MEM, DISK), "victim", 50_000, &runs);
        let [file] = dir.entries().try_into().unwrap();
        damage(&file, how);

        // A fresh instance: memory is cold, so the disk copy is read.
        let b = open(&dir, MEM, DISK);
        assert!(
            b.contains(&key("victim")),
            "{how:?}: contains() reads no file"
        );
        assert!(
            b.get(&key("victim")).is_none(),
            "{how:?}: damaged entry served"
        );
        assert!(!file.exists(), "{how:?}: damaged file not removed");
        let s = b.stats();
        assert_eq!(
            (s.disk_corrupt, s.disk_hits, s.disk_bytes),
            (1, 0, 0),
            "{how:?}: {s:?}"
        );
        assert!(!b.contains(&key("victim")));

        fetch(&b, "victim", 50_000, &runs);
        assert_eq!(runs.load(Ordering::SeqCst), 2, "{how:?}: recomputed");
        drop(b);

        // The rewritten entry is good again.
        let c = open(&dir, MEM, DISK);
        fetch(&c, "victim", 50_000, &runs);
        assert_eq!(runs.load(Ordering::SeqCst), 2, "{how:?}");
        assert_eq!(
            (c.stats().disk_hits, c.stats().disk_corrupt),
            (1, 0),
            "{how:?}"
        );
    }
}

#[test]
fn damaged_entry_found_by_get_or_compute_is_recomputed() {
    for how in ALL_DAMAGE {
        let dir = TestDir::new("damage-goc");
        let runs = AtomicUsize::new(0);
        fetch(&open(&dir, MEM, DISK), "victim", 10_000, &runs);
        damage(&dir.entries()[0], how);
        let b = open(&dir, MEM, DISK);
        fetch(&b, "victim", 10_000, &runs);
        assert_eq!(runs.load(Ordering::SeqCst), 2, "{how:?}");
        let s = b.stats();
        assert_eq!(
            (s.disk_corrupt, s.disk_hits, s.computations),
            (1, 0, 1),
            "{how:?}: {s:?}"
        );
        assert_eq!(dir.entries().len(), 1, "{how:?}: rewritten");
    }
}

#[test]
fn leftover_temp_files_are_removed_on_startup_and_never_served() {
    let dir = TestDir::new("crash");
    let runs = AtomicUsize::new(0);
    fetch(&open(&dir, MEM, DISK), "interrupted", 40_000, &runs);
    let [file] = dir.entries().try_into().unwrap();
    // A crash before the rename leaves a complete temp file and no entry;
    // a crash earlier leaves a partial one.
    let full_tmp = dir.path().join(format!(
        "{}.4242.0.tmp",
        file.file_name().unwrap().to_str().unwrap()
    ));
    fs::rename(&file, &full_tmp).unwrap();
    let bytes = fs::read(&full_tmp).unwrap();
    fs::write(
        dir.path().join("0123.frag.4242.1.tmp"),
        &bytes[..bytes.len() / 3],
    )
    .unwrap();
    fs::write(dir.path().join("notes.txt"), b"not ours").unwrap();

    let b = open(&dir, MEM, DISK);
    assert_eq!(
        dir.files(),
        vec!["notes.txt".to_owned()],
        "temp files removed, others kept"
    );
    assert!(!b.contains(&key("interrupted")));
    assert!(b.get(&key("interrupted")).is_none());
    assert_eq!(b.stats().disk_bytes, 0);
    fetch(&b, "interrupted", 40_000, &runs);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(b.stats().disk_corrupt, 0);
}

#[test]
fn entry_of_another_key_under_our_file_name_is_not_served() {
    // Simulates a hash collision: our file holds a valid entry for another key.
    let dir = TestDir::new("collision");
    let other_dir = TestDir::new("collision-other");
    let runs = AtomicUsize::new(0);
    fetch(&open(&dir, MEM, DISK), "mine", 1_000, &runs);
    fetch(&open(&other_dir, MEM, DISK), "theirs", 1_000, &runs);
    fs::copy(&other_dir.entries()[0], &dir.entries()[0]).unwrap();

    let b = open(&dir, MEM, DISK);
    assert!(b.get(&key("mine")).is_none());
    assert_eq!(b.stats().disk_corrupt, 0, "valid file, just not ours");
    fetch(&b, "mine", 1_000, &runs);
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    drop(b);
    let c = open(&dir, MEM, DISK);
    fetch(&c, "mine", 1_000, &runs);
    assert_eq!((runs.load(Ordering::SeqCst), c.stats().disk_hits), (3, 1));
}

#[test]
fn keys_are_never_used_as_paths() {
    let dir = TestDir::new("paths");
    let runs = AtomicUsize::new(0);
    let cache = open(&dir, MEM, DISK);
    for name in [
        "../../escape",
        "/etc/passwd",
        "a\\b:c*?\"<>|",
        "",
        "ünïcødé 🎵",
    ] {
        fetch(&cache, name, 100, &runs);
    }
    assert_eq!(dir.entries().len(), 5);
    assert_eq!(dir.files().len(), 5, "everything stays inside the folder");
}
