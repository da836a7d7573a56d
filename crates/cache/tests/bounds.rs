//! Byte budgets hold under a long random workload, and every answer is right.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::{key, open, payload, Rng, TestDir};
use sonance_cache::{CacheConfig, FragmentCache};

const MEMORY_BUDGET: usize = 256 * 1024;
const DISK_BUDGET: u64 = 1024 * 1024;

/// Deterministic size for a key: mostly small, some bigger than the memory
/// budget, some bigger than the disk budget, some empty.
fn size_for(n: u64) -> usize {
    match n % 25 {
        0 => 300 * 1024,  // > memory budget, fits on disk
        1 => 1100 * 1024, // > disk budget too
        2 => 0,           // empty fragment
        _ => (n.wrapping_mul(2_654_435_761) % (48 * 1024)) as usize,
    }
}

fn files_total(dir: &TestDir) -> u64 {
    dir.entries()
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum()
}

fn check_call(cache: &FragmentCache, n: u64) {
    let name = format!("fragment-{n}");
    let expected = payload(&name, size_for(n));
    let got = cache
        .get_or_compute(&key(&name), || Ok::<_, String>(payload(&name, size_for(n))))
        .unwrap();
    assert_eq!(&got[..], &expected[..], "wrong bytes for {name}");
    let stats = cache.stats();
    assert!(
        stats.memory_bytes <= MEMORY_BUDGET as u64,
        "memory over budget: {stats:?}"
    );
    assert!(
        stats.disk_bytes <= DISK_BUDGET,
        "disk over budget: {stats:?}"
    );
}

#[test]
fn budgets_hold_for_2000_random_calls_and_after_restart() {
    let dir = TestDir::new("bounds");
    let cache = open(&dir, MEMORY_BUDGET, DISK_BUDGET);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for call in 1..=2000u64 {
        // Half the calls go to a small hot set, so every tier gets hits.
        let n = if rng.below(2) == 0 {
            rng.below(12)
        } else {
            rng.below(300)
        };
        check_call(&cache, n);
        // The real folder, not just the index, stays within budget.
        assert!(
            files_total(&dir) <= DISK_BUDGET,
            "files over budget after call {call}"
        );
        let s = cache.stats();
        assert_eq!(s.memory_hits + s.disk_hits + s.computations, call, "{s:?}");
    }
    let stats = cache.stats();
    assert!(stats.memory_hits > 50, "{stats:?}");
    assert!(stats.disk_hits > 50, "{stats:?}");
    assert!(stats.computations > 50, "{stats:?}");
    assert_eq!(stats.disk_corrupt, 0);
    assert_eq!(
        stats.disk_bytes,
        files_total(&dir),
        "index and folder agree"
    );
    assert!(
        dir.files().iter().all(|f| f.ends_with(".frag")),
        "no temp files left"
    );
    drop(cache);

    // A new instance indexes exactly what is there and serves it correctly.
    let cache = open(&dir, MEMORY_BUDGET, DISK_BUDGET);
    assert_eq!(cache.stats().disk_bytes, files_total(&dir));
    for _ in 0..300 {
        check_call(&cache, rng.below(300));
    }
    assert!(cache.stats().disk_hits > 0);
    assert_eq!(cache.stats().disk_corrupt, 0);
}

#[test]
fn budgets_hold_with_concurrent_callers() {
    let dir = TestDir::new("bounds-mt");
    let cache = Arc::new(open(&dir, MEMORY_BUDGET, DISK_BUDGET));
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let cache = Arc::clone(&cache);
            std::thread::spawn(move || {
                let mut rng = Rng(0x1234_5678 + t);
                for _ in 0..250 {
                    check_call(&cache, rng.below(60));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let s = cache.stats();
    assert_eq!(
        s.memory_hits + s.disk_hits + s.computations + s.waits,
        1000,
        "{s:?}"
    );
    assert_eq!(s.disk_bytes, files_total(&dir));
}

#[test]
fn memory_only_budget_holds_and_oversized_values_are_still_returned() {
    let cache = FragmentCache::new(CacheConfig {
        memory_bytes: MEMORY_BUDGET,
        disk: None,
    })
    .unwrap();
    let mut rng = Rng(42);
    for _ in 0..500 {
        check_call(&cache, rng.below(100));
    }
    let s = cache.stats();
    assert_eq!(s.disk_bytes, 0);
    assert!(s.memory_entries > 0);
    // Key 0 is larger than the whole budget: returned every time, never kept.
    let big = key("fragment-0");
    for _ in 0..2 {
        let v = cache
            .get_or_compute(&big, || Ok::<_, ()>(payload("fragment-0", size_for(0))))
            .unwrap();
        assert_eq!(v.len(), size_for(0));
        assert!(!cache.contains(&big));
    }
}
