//! Two caches, in two processes or one, configured with the same folder: the
//! first owns it (lock on `<dir>/.lock`), the second runs memory-only and
//! says so. Nobody loses a completed write and the folder stays in budget.
//!
//! `two_processes_*` re-executes this test binary twice as writers
//! (`writer_role`, selected by `WRITER_ENV`). Both open the cache, report
//! whether they got the disk, wait for the parent's go, then write at once.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{entries_total, key, open_path, payload, TestDir};
use sonance_cache::{CacheConfig, CacheError, DiskConfig, FragmentCache};

const WRITER_ENV: &str = "SONANCE_SHARED_WRITER";
const DIR_ENV: &str = "SONANCE_SHARED_DIR";
const DISK_BUDGET: u64 = 8 << 20;
/// Each writer stores about 0.75 × the budget: both on disk would overflow.
const ENTRIES: u64 = 40;
const MAX_LEN: usize = 200 << 10;

fn len_for(i: u64) -> usize {
    (100 << 10) + (i as usize * 7919) % (100 << 10)
}

fn config(dir: &Path) -> CacheConfig {
    CacheConfig {
        memory_bytes: 64 << 20, // holds everything a writer stores
        disk: Some(DiskConfig {
            dir: dir.to_owned(),
            max_bytes: DISK_BUDGET,
        }),
    }
}

/// A writer process: only active when re-executed by the parent.
#[test]
fn writer_role() {
    let (Ok(name), Some(dir)) = (std::env::var(WRITER_ENV), std::env::var_os(DIR_ENV)) else {
        return; // an ordinary test run: nothing to do
    };
    let cache = FragmentCache::new(config(Path::new(&dir))).unwrap();
    match cache.disk_error() {
        None => println!("READY disk"),
        Some(e) => println!("READY memory-only: {e}"),
    }
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).unwrap();
    for i in 0..ENTRIES {
        let k = format!("{name}/{i}");
        cache
            .get_or_compute(&key(&k), || Ok::<_, String>(payload(&k, len_for(i))))
            .unwrap();
    }
    let mut verified = 0;
    for i in 0..ENTRIES {
        let k = format!("{name}/{i}");
        let value = cache.get(&key(&k)).expect("a completed write is readable");
        assert!(value[..] == payload(&k, len_for(i))[..], "{k} damaged");
        verified += 1;
    }
    println!("DONE {verified} disk_bytes={}", cache.stats().disk_bytes);
}

struct Writer {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Writer {
    fn spawn(name: &str, dir: &Path) -> Writer {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "writer_role",
                "--exact",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(WRITER_ENV, name)
            .env(DIR_ENV, dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // libtest prints "test writer_role ... " before our first line.
                for marker in ["READY ", "DONE "] {
                    if let Some(at) = line.find(marker) {
                        let _ = tx.send(line[at..].to_owned());
                    }
                }
            }
        });
        Writer { child, lines }
    }

    fn next_line(&self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the writer died or hung")
    }
}

#[test]
fn two_processes_on_one_folder_lose_no_write_and_keep_the_budget() {
    let dir = TestDir::new("shared");
    let mut writers = [
        Writer::spawn("a", dir.path()),
        Writer::spawn("b", dir.path()),
    ];
    let ready: Vec<String> = writers.iter().map(Writer::next_line).collect();
    println!("{ready:?}");
    let on_disk: Vec<bool> = ready.iter().map(|r| r == "READY disk").collect();
    assert_eq!(
        on_disk.iter().filter(|d| **d).count(),
        1,
        "exactly one process owns the folder: {ready:?}"
    );
    let owner = on_disk.iter().position(|d| *d).unwrap();
    let other = 1 - owner;
    // The other one says why, naming the folder and the owner's pid — unless it looked in the
    // instant between the owner's lock and the owner writing its pid into the lock file.
    let with_pid = CacheError::InUse {
        path: dir.path().to_owned(),
        owner_pid: Some(writers[owner].child.id()),
    };
    let without_pid = CacheError::InUse {
        path: dir.path().to_owned(),
        owner_pid: None,
    };
    assert!(
        ready[other] == format!("READY memory-only: {with_pid}")
            || ready[other] == format!("READY memory-only: {without_pid}"),
        "{ready:?}"
    );

    // Go: both write at the same time; watch the folder meanwhile.
    for w in &mut writers {
        writeln!(w.child.stdin.as_mut().unwrap(), "go").unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut peak = 0;
    while writers
        .iter_mut()
        .any(|w| w.child.try_wait().unwrap().is_none())
    {
        assert!(Instant::now() < deadline, "writers hung");
        peak = peak.max(entries_total(dir.path()));
        std::thread::sleep(Duration::from_millis(2));
    }
    for w in &mut writers {
        assert!(w.child.wait().unwrap().success(), "a writer failed");
        let done = w.next_line();
        assert!(done.starts_with(&format!("DONE {ENTRIES} ")), "{done}");
    }
    peak = peak.max(entries_total(dir.path()));
    let slack = 32 + 8 + MAX_LEN as u64; // one entry: header, key, payload
    println!("folder peak {peak} bytes, budget {DISK_BUDGET} + {slack}");
    assert!(peak <= DISK_BUDGET + slack, "folder over budget: {peak}");

    // The owner's writes are all on disk and intact.
    let owner_name = ["a", "b"][owner];
    let cache = open_path(dir.path(), 0, DISK_BUDGET);
    for i in 0..ENTRIES {
        let k = format!("{owner_name}/{i}");
        let value = cache.get(&key(&k)).unwrap_or_else(|| panic!("{k} lost"));
        assert_eq!(&value[..], &payload(&k, len_for(i))[..]);
    }
    assert_eq!(cache.stats().disk_corrupt, 0);
}

#[test]
fn second_cache_in_one_process_runs_in_memory_until_the_folder_is_free() {
    let dir = TestDir::new("shared-in-process");
    let first = open_path(dir.path(), 1 << 20, DISK_BUDGET);
    let second = FragmentCache::new(config(dir.path())).unwrap();
    let err = second.disk_error().expect("the folder is taken");
    assert!(
        matches!(err, CacheError::InUse { path, owner_pid: Some(pid) }
            if path == dir.path() && *pid == std::process::id()),
        "{err:?}"
    );
    assert!(err.to_string().contains("in use"), "{err}");
    // It works, in memory, and does not touch the folder.
    let v = second
        .get_or_compute(&key("x"), || Ok::<_, String>(payload("x", 5000)))
        .unwrap();
    assert_eq!(&v[..], &payload("x", 5000)[..]);
    assert_eq!(second.stats().disk_bytes, 0);
    assert!(dir.entries().is_empty());
    drop(second);
    drop(first);
    // Once the owner is gone, the next cache gets the folder. (A child that another test of
    // this binary forks at that moment holds a copy of the lock's descriptor until its exec
    // closes it: allow that instant to pass.)
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let third = loop {
        let c = FragmentCache::new(config(dir.path())).unwrap();
        if c.disk_error().is_none() {
            break c;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the folder stayed locked after its owner was dropped: {:?}",
            c.disk_error()
        );
        drop(c);
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    third
        .get_or_compute(&key("y"), || Ok::<_, String>(payload("y", 5000)))
        .unwrap();
    assert_eq!(dir.entries().len(), 1);
}
