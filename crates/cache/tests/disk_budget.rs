//! The disk tier stays within its byte budget, evicting least recently used
//! entries (order kept across restarts), and degrades instead of failing.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::time::{Duration, SystemTime};

use common::{key, open, payload, TestDir};
use sonance_cache::FragmentCache;

/// File size of a one-letter key with a 1000-byte payload (32-byte header).
const ENTRY: u64 = 32 + 1 + 1000;

fn put(cache: &FragmentCache, name: &str) {
    cache
        .get_or_compute(&key(name), || Ok::<_, ()>(payload(name, 1000)))
        .unwrap();
}

fn present(cache: &FragmentCache, names: &[&str]) -> Vec<bool> {
    names.iter().map(|n| cache.contains(&key(n))).collect()
}

fn set_mtime(dir: &TestDir, cache_key: &str, age: Duration) {
    // Find the entry by content: only the entry for this key contains its payload.
    let marker = payload(cache_key, 1000);
    for path in dir.entries() {
        if fs::read(&path).unwrap().ends_with(&marker) {
            let file = fs::File::options().write(true).open(&path).unwrap();
            file.set_modified(SystemTime::now() - age).unwrap();
            return;
        }
    }
    panic!("no entry for {cache_key}");
}

#[test]
fn least_recently_used_entry_is_evicted_first() {
    let dir = TestDir::new("lru");
    // No memory tier, so every read goes to disk.
    let cache = open(&dir, 0, 3 * ENTRY + 10);
    for n in ["a", "b", "c"] {
        put(&cache, n);
    }
    assert_eq!(cache.stats().disk_bytes, 3 * ENTRY);
    assert!(cache.get(&key("a")).is_some()); // a becomes most recent
    put(&cache, "d");
    assert_eq!(
        present(&cache, &["a", "b", "c", "d"]),
        [true, false, true, true]
    );
    assert_eq!(dir.entries().len(), 3);
    assert_eq!(cache.stats().disk_bytes, 3 * ENTRY);
    assert_eq!(cache.stats().memory_entries, 0);
}

#[test]
fn startup_orders_entries_by_modification_time_and_enforces_the_budget() {
    let dir = TestDir::new("mtime");
    {
        let cache = open(&dir, 0, 1 << 20);
        for n in ["a", "b", "c"] {
            put(&cache, n);
        }
    }
    set_mtime(&dir, "a", Duration::from_secs(10));
    set_mtime(&dir, "b", Duration::from_secs(300));
    set_mtime(&dir, "c", Duration::from_secs(200));
    // A smaller budget than what is on disk: the oldest entry goes at startup.
    let cache = open(&dir, 0, 2 * ENTRY + 10);
    assert_eq!(present(&cache, &["a", "b", "c"]), [true, false, true]);
    assert_eq!(dir.entries().len(), 2);
    assert_eq!(cache.stats().disk_bytes, 2 * ENTRY);
}

#[test]
fn reads_refresh_the_order_seen_by_the_next_startup() {
    let dir = TestDir::new("touch");
    {
        let cache = open(&dir, 0, 1 << 20);
        put(&cache, "a");
        put(&cache, "b");
    }
    set_mtime(&dir, "a", Duration::from_secs(600));
    set_mtime(&dir, "b", Duration::from_secs(300));
    {
        let cache = open(&dir, 0, 1 << 20);
        assert!(cache.get(&key("a")).is_some()); // a is now the most recently used
    }
    let cache = open(&dir, 0, ENTRY + 10);
    assert_eq!(present(&cache, &["a", "b"]), [true, false]);
}

#[test]
fn entry_larger_than_the_disk_budget_is_returned_but_not_written() {
    let dir = TestDir::new("too-big");
    let cache = open(&dir, 1 << 20, 500);
    let v = cache
        .get_or_compute(&key("big"), || Ok::<_, ()>(vec![5; 1000]))
        .unwrap();
    assert_eq!(v.len(), 1000);
    assert!(dir.entries().is_empty());
    assert_eq!(cache.stats().disk_bytes, 0);
    assert!(cache.contains(&key("big")), "still cached in memory");
}

#[test]
fn disk_failures_degrade_to_memory_only() {
    let dir = TestDir::new("degrade");
    let cache = open(&dir, 1 << 20, 1 << 20);
    put(&cache, "a");
    fs::remove_dir_all(dir.path()).unwrap(); // the folder disappears under us
    put(&cache, "b"); // the write fails: logged, not returned
    assert_eq!(&cache.get(&key("b")).unwrap()[..], &payload("b", 1000)[..]);
    assert_eq!(cache.stats().computations, 2);

    // An indexed file that vanished is a plain miss, then recomputed.
    let dir = TestDir::new("vanished");
    let cache = open(&dir, 0, 1 << 20);
    put(&cache, "x");
    fs::remove_file(&dir.entries()[0]).unwrap();
    assert!(cache.get(&key("x")).is_none());
    let s = cache.stats();
    assert_eq!((s.disk_bytes, s.disk_corrupt), (0, 0), "{s:?}");
    put(&cache, "x");
    assert_eq!(cache.stats().computations, 2);
}
