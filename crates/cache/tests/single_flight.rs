//! Concurrent callers of one key share one computation, its value or its error.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use common::{key, open, payload, TestDir};
use sonance_cache::{CacheConfig, FragmentCache};

fn memory_cache() -> Arc<FragmentCache> {
    Arc::new(
        FragmentCache::new(CacheConfig {
            memory_bytes: 16 << 20,
            disk: None,
        })
        .unwrap(),
    )
}

/// Sleeps `min`, then until `waits` callers have joined (at most 5 s), so that
/// tests do not depend on thread scheduling on a busy machine.
fn hold_until_waiting(cache: &FragmentCache, waits: u64, min: Duration) {
    thread::sleep(min);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while cache.stats().waits < waits && std::time::Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `f` on `n` threads released together; returns their results.
fn run_together<T: Send + 'static>(n: usize, f: impl Fn() -> T + Send + Sync + 'static) -> Vec<T> {
    let barrier = Arc::new(Barrier::new(n));
    let f = Arc::new(f);
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (barrier, f) = (Arc::clone(&barrier), Arc::clone(&f));
            thread::spawn(move || {
                barrier.wait();
                f()
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn eight_callers_one_computation() {
    let dir = TestDir::new("single-flight");
    let cache = Arc::new(open(&dir, 16 << 20, 64 << 20));
    let runs = Arc::new(AtomicUsize::new(0));
    let (c, r) = (Arc::clone(&cache), Arc::clone(&runs));
    let results = run_together(8, move || {
        c.get_or_compute(&key("cold"), || {
            r.fetch_add(1, Ordering::SeqCst);
            hold_until_waiting(&c, 7, Duration::from_millis(100));
            Ok::<_, String>(payload("cold", 200_000))
        })
        .unwrap()
    });
    assert_eq!(runs.load(Ordering::SeqCst), 1, "compute ran more than once");
    assert_eq!(results.len(), 8);
    for r in &results {
        assert_eq!(&r[..], &payload("cold", 200_000)[..]);
    }
    let s = cache.stats();
    assert_eq!(
        (s.computations, s.waits, s.memory_hits, s.disk_hits),
        (1, 7, 0, 0),
        "{s:?}"
    );
    assert_eq!(dir.entries().len(), 1, "written to disk once");
}

#[test]
fn error_reaches_every_waiter_and_is_not_cached() {
    let cache = memory_cache();
    let runs = Arc::new(AtomicUsize::new(0));
    let (c, r) = (Arc::clone(&cache), Arc::clone(&runs));
    let results = run_together(8, move || {
        c.get_or_compute(&key("k"), || -> Result<Vec<u8>, String> {
            r.fetch_add(1, Ordering::SeqCst);
            hold_until_waiting(&c, 7, Duration::from_millis(100));
            Err("render failed".to_owned())
        })
    });
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert!(results
        .iter()
        .all(|r| r.as_ref().err().map(String::as_str) == Some("render failed")));
    assert_eq!(cache.stats().waits, 7);
    assert!(!cache.contains(&key("k")));
    assert!(cache.get(&key("k")).is_none());

    // The next call computes again and succeeds.
    let v = cache.get_or_compute(&key("k"), || {
        runs.fetch_add(1, Ordering::SeqCst);
        Ok::<_, String>(vec![1, 2, 3])
    });
    assert_eq!(v.as_deref(), Ok(&[1u8, 2, 3][..]));
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(cache.stats().computations, 2);
}

#[test]
fn panic_in_compute_does_not_strand_waiters() {
    let cache = memory_cache();
    let (started_tx, started_rx) = mpsc::channel();
    let c = Arc::clone(&cache);
    let leader = thread::spawn(move || {
        c.get_or_compute(&key("p"), || -> Result<Vec<u8>, String> {
            started_tx.send(()).unwrap();
            hold_until_waiting(&c, 3, Duration::from_millis(50));
            panic!("decoder exploded");
        })
    });
    started_rx.recv().unwrap(); // the leader is inside compute now
    let (done_tx, done_rx) = mpsc::channel();
    for _ in 0..3 {
        let (c, done_tx) = (Arc::clone(&cache), done_tx.clone());
        thread::spawn(move || {
            let result = c.get_or_compute(&key("p"), || Ok::<_, String>(vec![9; 10]));
            done_tx.send(result).unwrap();
        });
    }
    assert!(leader.join().is_err(), "the panicking caller re-panics");
    for _ in 0..3 {
        // Each waiter is released and gets the value from a recomputation.
        let result = done_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("a waiter was left hanging after the leader panicked");
        assert_eq!(result.unwrap().to_vec(), vec![9; 10]);
    }
    let s = cache.stats();
    assert_eq!(
        s.computations, 2,
        "one panicked run + one successful retry: {s:?}"
    );
    assert_eq!(s.waits, 3, "all three joined the panicking flight: {s:?}");
}

#[test]
fn different_keys_compute_in_parallel() {
    // Each compute waits (bounded) for the other to have started: if the
    // cache serialised them, both would time out and fail.
    let cache = memory_cache();
    let (a_tx, a_rx) = mpsc::channel::<()>();
    let (b_tx, b_rx) = mpsc::channel::<()>();
    let rendezvous = |tx: mpsc::Sender<()>, rx: mpsc::Receiver<()>, name: &'static str| {
        let c = Arc::clone(&cache);
        thread::spawn(move || {
            c.get_or_compute(&key(name), move || -> Result<Vec<u8>, &'static str> {
                tx.send(()).map_err(|_| "peer gone")?;
                rx.recv_timeout(Duration::from_secs(5))
                    .map_err(|_| "computations were serialised")?;
                Ok(name.as_bytes().to_vec())
            })
        })
    };
    let a = rendezvous(a_tx, b_rx, "a");
    let b = rendezvous(b_tx, a_rx, "b");
    assert_eq!(a.join().unwrap().unwrap().to_vec(), b"a");
    assert_eq!(b.join().unwrap().unwrap().to_vec(), b"b");
    assert_eq!(cache.stats().computations, 2);
}

#[test]
fn compute_may_use_the_cache_for_other_keys() {
    // No lock is held while compute runs, so re-entrant use must not deadlock.
    let cache = memory_cache();
    let v = cache
        .get_or_compute(&key("outer"), || -> Result<Vec<u8>, ()> {
            let inner = cache.get_or_compute(&key("inner"), || Ok::<_, ()>(vec![1]))?;
            assert!(cache.contains(&key("inner")));
            let _ = cache.stats();
            Ok([&inner[..], &[2]].concat())
        })
        .unwrap();
    assert_eq!(&v[..], &[1, 2]);
}
