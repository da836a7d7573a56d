//! `kill -9` in the middle of disk writes, 50 times: no damaged entry is ever
//! served, leftovers are cleaned up, the budget holds and the cache keeps
//! working.
//!
//! The test binary re-executes itself as the writer: with `CHILD_DIR_ENV` set,
//! `kill9_child_role` fills the cache in an endless loop until the parent
//! SIGKILLs it after a seeded random delay. Every payload is derived from its
//! key, so the parent can check any entry it finds. Set `SONANCE_KILL9_SEED`
//! to replay a run.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{entries_total, key, open_path, payload, Rng, TestDir};
use sonance_cache::FragmentCache;

const CHILD_DIR_ENV: &str = "SONANCE_KILL9_CHILD_DIR";
const CHILD_SEED_ENV: &str = "SONANCE_KILL9_CHILD_SEED";
const READY: &str = "KILL9-CHILD-READY";
const TRIALS: u64 = 50;
/// The child writes keys `0..KEYS`; the parent looks all of them up.
const KEYS: u64 = 300;
const DISK_BUDGET: u64 = 24 << 20;

fn key_name(i: u64) -> String {
    format!("kill9/fragment-{i}")
}

/// Payload length for key `i`: mostly 64 KiB..512 KiB, one in six 1..4 MiB.
fn len_for(i: u64) -> usize {
    let mut h = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    let len = if h.is_multiple_of(6) {
        (1 << 20) + (h >> 8) % (3 << 20)
    } else {
        (64 << 10) + (h >> 8) % (448 << 10)
    };
    len as usize
}

fn expected(name: &str, len: usize) -> Vec<u8> {
    payload(name, len)
}

/// The writer: only active when re-executed by the parent.
#[test]
fn kill9_child_role() {
    let Some(dir) = std::env::var_os(CHILD_DIR_ENV) else {
        return; // an ordinary test run: nothing to do
    };
    let seed: u64 = std::env::var(CHILD_SEED_ENV).unwrap().parse().unwrap();
    // No memory tier: every call reads the disk, and writes it on a miss.
    let cache = open_path(Path::new(&dir), 0, DISK_BUDGET);
    println!("{READY}");
    let mut rng = Rng(seed | 1);
    loop {
        let i = rng.below(KEYS);
        let name = key_name(i);
        let len = len_for(i);
        let value = cache
            .get_or_compute(&key(&name), || Ok::<_, String>(expected(&name, len)))
            .unwrap();
        assert!(
            value[..] == expected(&name, len)[..],
            "child got bad {name}"
        );
    }
}

#[derive(Default)]
struct Totals {
    kills: u64,
    verified: u64,
    torn_discarded: u64,
    corrupt_served: u64,
}

#[test]
fn kill_9_during_writes_never_serves_a_damaged_entry() {
    let started = Instant::now();
    let seed = std::env::var("SONANCE_KILL9_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_0fc0_ffee_u64);
    println!("kill9 seed {seed} (set SONANCE_KILL9_SEED to replay)");
    let mut rng = Rng(seed | 1);
    let dir = TestDir::new("kill9");
    let exe = std::env::current_exe().unwrap();
    let mut totals = Totals::default();

    for trial in 0..TRIALS {
        let mut child = Command::new(&exe)
            .args(["kill9_child_role", "--exact", "--nocapture"])
            .args(["--test-threads", "1"])
            .env(CHILD_DIR_ENV, dir.path())
            .env(CHILD_SEED_ENV, rng.next().to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        // Start the clock once the child owns the cache, so it dies writing.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let ready = BufReader::new(stdout)
                .lines()
                .any(|line| line.is_ok_and(|l| l.contains(READY)));
            let _ = tx.send(ready);
        });
        let ready = rx.recv_timeout(Duration::from_secs(30)).unwrap_or(false);
        if !ready {
            let _ = child.kill();
            panic!("trial {trial}: the child did not open the cache");
        }
        std::thread::sleep(Duration::from_millis(5 + rng.below(196)));
        assert!(
            child.try_wait().unwrap().is_none(),
            "trial {trial}: the child stopped by itself (it panicked?)"
        );
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        totals.kills += 1;

        // What the crash left behind.
        let temp_files = dir.files().iter().filter(|f| f.ends_with(".tmp")).count() as u64;
        let on_disk = entries_total(dir.path());
        assert!(
            on_disk <= DISK_BUDGET,
            "trial {trial}: {on_disk} bytes of entries > budget {DISK_BUDGET}"
        );

        // A new instance (the dead child's lock is gone) cleans up, then
        // every entry it finds must be exact.
        let cache = open_path(dir.path(), 0, DISK_BUDGET);
        assert!(
            dir.files().iter().all(|f| f.ends_with(".frag")),
            "trial {trial}: unfinished writes left after startup: {:?}",
            dir.files()
        );
        let indexed = dir.entries().len() as u64;
        let mut served = 0;
        for i in 0..KEYS {
            let name = key_name(i);
            if let Some(value) = cache.get(&key(&name)) {
                served += 1;
                if value[..] != expected(&name, len_for(i))[..] {
                    totals.corrupt_served += 1;
                    eprintln!("trial {trial}: {name} served with wrong bytes");
                }
            }
        }
        for t in 0..trial {
            let name = format!("kill9/round-trip-{t}");
            if let Some(value) = cache.get(&key(&name)) {
                served += 1;
                if value[..] != expected(&name, 1000)[..] {
                    totals.corrupt_served += 1;
                }
            }
        }
        let stats = cache.stats();
        // Damaged entry files were dropped and removed, not served.
        assert_eq!(
            served + stats.disk_corrupt,
            indexed,
            "trial {trial}: every file is served or discarded: {stats:?}"
        );
        assert_eq!(dir.entries().len() as u64, served, "trial {trial}");
        assert!(stats.disk_bytes <= DISK_BUDGET, "{stats:?}");
        assert_eq!(stats.disk_bytes, entries_total(dir.path()));
        totals.verified += served;
        totals.torn_discarded += temp_files + stats.disk_corrupt;

        round_trip(&cache, &format!("kill9/round-trip-{trial}"));
        drop(cache); // releases the folder for the next child
    }

    println!(
        "kill9: {} kills, {} entries verified, {} torn files discarded, \
         {} corrupt entries served, {:.1} s",
        totals.kills,
        totals.verified,
        totals.torn_discarded,
        totals.corrupt_served,
        started.elapsed().as_secs_f64()
    );
    assert_eq!(totals.corrupt_served, 0, "damaged entries were served");
    assert!(totals.verified > 0, "the children never completed a write");
    assert!(
        totals.torn_discarded > 0,
        "no kill landed mid-write: the test proved nothing"
    );
}

/// The cache still stores and serves after the crash: it has no memory
/// tier, so the second lookup reads the entry back from disk.
fn round_trip(cache: &FragmentCache, name: &str) {
    let stored = cache
        .get_or_compute(&key(name), || Ok::<_, String>(expected(name, 1000)))
        .unwrap();
    assert_eq!(&stored[..], &expected(name, 1000)[..]);
    let hits = cache.stats().disk_hits;
    let read = cache.get(&key(name)).expect("just stored");
    assert_eq!(read, stored);
    assert_eq!(cache.stats().disk_hits, hits + 1, "read back from disk");
}
