//! With a lowered level for renders made ahead of the playhead (`EngineConfig::ahead_priority`,
//! or SONANCE_PREFETCH_PRIORITY=lowest|idle), a chunk asked for without `at=` that is not a
//! track's first runs its worker threads at that level; a render the listener waits for
//! (`at=`, or chunk 0) runs at the normal one, and the calling thread (a server's pooled
//! thread) keeps its level either way.
//! Observed the way `top` would: every thread of this process in /proc/self/task, read while
//! the render delivers its first span (its workers are then still rendering the others).
//! One test in its own binary, so no other test's threads are in the picture.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

mod common;

use std::ops::ControlFlow;

use common::{scratch, sine, write_wav};
use sonance_engine::priority::current_thread_level;
use sonance_engine::{Engine, EngineConfig, Enhancement, RenderPriority};

/// (thread id, SCHED_IDLE?, nice) of every thread of this process.
fn threads() -> Vec<(u32, bool, i32)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc/self/task").unwrap() {
        let entry = entry.unwrap();
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue; // ended meanwhile
        };
        let rest = &stat[stat.rfind(')').unwrap() + 1..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        // `rest` starts at field 3; nice is field 19, the policy field 41 (5 = SCHED_IDLE).
        let nice = f[19 - 3].parse().unwrap();
        let policy: i32 = f[41 - 3].parse().unwrap();
        out.push((
            entry.file_name().to_str().unwrap().parse().unwrap(),
            policy == 5,
            nice,
        ));
    }
    out
}

fn this_thread() -> u32 {
    let link = std::fs::read_link("/proc/thread-self").unwrap();
    link.file_name().unwrap().to_str().unwrap().parse().unwrap()
}

/// Render chunk `n` (with `at`) and return the threads seen at the first delivered span,
/// with the calling thread's id.
fn threads_while_rendering(engine: &Engine, n: u64, at: Option<f64>) -> Vec<(u32, bool, i32)> {
    let dir = scratch(&format!("priority-{n}-{at:?}"));
    let path = dir.join("tone.wav");
    write_wav(&path, 44_100, 2, &sine(40.0, 440.0, 0.3));
    let track = engine.open(&path).unwrap();
    let mut seen = None;
    engine
        .chunk_progressive(&track, n, &Enhancement::bypass(), at, &mut |_| {
            seen.get_or_insert_with(threads);
            ControlFlow::Continue(())
        })
        .unwrap();
    seen.unwrap()
}

fn engine(workers: usize, ahead: RenderPriority) -> Engine {
    Engine::new(EngineConfig {
        chunk_seconds: 20.0,
        workers_per_chunk: workers,
        ahead_priority: ahead,
        ..EngineConfig::default()
    })
    .unwrap()
}

#[test]
fn prefetch_renders_run_at_the_lowest_priority_and_renders_waited_for_at_the_normal_one() {
    assert_eq!(
        EngineConfig::default().ahead_priority,
        RenderPriority::ahead_from_env(RenderPriority::Normal),
        "normal unless SONANCE_PREFETCH_PRIORITY says otherwise"
    );
    let me = this_thread();
    let before = current_thread_level().unwrap();
    assert!(!before.0, "the test runs under SCHED_IDLE");
    for workers in [1, 2] {
        // SCHED_IDLE keeps the nice value it finds (or 0): only the policy is checked.
        type Check = fn(&(u32, bool, i32)) -> bool;
        let lowest: Check = |t| !t.1 && t.2 == 19;
        let idle: Check = |t| t.1;
        for (ahead, is_lowered) in [
            (RenderPriority::Lowest, lowest),
            (RenderPriority::Idle, idle),
        ] {
            let engine = engine(workers, ahead);
            // Waited for: a seek into chunk 1, and chunk 0 without `at=` (a track starting).
            for (n, at) in [(1, Some(27.5)), (0, None)] {
                let seen = threads_while_rendering(&engine, n, at);
                let lowered: Vec<_> = seen.iter().filter(|t| (t.1, t.2) != before).collect();
                assert!(
                    lowered.is_empty(),
                    "{workers} workers, chunk {n} at {at:?}: {lowered:?} not at {before:?}"
                );
            }
            // Ahead of the playhead: chunk 1 without `at=`.
            let seen = threads_while_rendering(&engine, 1, None);
            let lowered: Vec<_> = seen.iter().filter(|t| is_lowered(t)).collect();
            assert!(
                !lowered.is_empty(),
                "{workers} workers, {ahead:?}: no thread at that level in {seen:?}"
            );
            assert!(
                lowered.iter().all(|t| t.0 != me),
                "the calling thread was lowered"
            );
            assert_eq!(
                current_thread_level(),
                Some(before),
                "the calling thread keeps its level"
            );
        }
    }
}
