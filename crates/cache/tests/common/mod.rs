//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use sonance_cache::{CacheConfig, CacheKey, DiskConfig, FragmentCache};

/// A fresh, empty folder under the system temp dir, removed on drop.
pub struct TestDir(PathBuf);

impl TestDir {
    pub fn new(label: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path = std::env::temp_dir().join(format!(
            "sonance-cache-test-{label}-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        TestDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Names of the files in the folder, sorted, except the cache's lock
    /// file `.lock`.
    pub fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|name| name != ".lock")
            .collect();
        names.sort();
        names
    }

    /// Paths of the finished entry files (`*.frag`).
    pub fn entries(&self) -> Vec<PathBuf> {
        self.files()
            .into_iter()
            .filter(|n| n.ends_with(".frag"))
            .map(|n| self.0.join(n))
            .collect()
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn key(s: &str) -> CacheKey {
    CacheKey(s.to_owned())
}

/// A cache over `dir` with the given budgets; panics unless it got the disk
/// tier (rather than falling back to memory only).
pub fn open(dir: &TestDir, memory_bytes: usize, disk_bytes: u64) -> FragmentCache {
    open_path(dir.path(), memory_bytes, disk_bytes)
}

/// [`open`] for a plain path.
pub fn open_path(dir: &Path, memory_bytes: usize, disk_bytes: u64) -> FragmentCache {
    let cache = FragmentCache::new(CacheConfig {
        memory_bytes,
        disk: Some(DiskConfig {
            dir: dir.to_owned(),
            max_bytes: disk_bytes,
        }),
    })
    .unwrap();
    if let Some(e) = cache.disk_error() {
        panic!("the cache runs without its disk tier: {e}");
    }
    cache
}

/// Total size of the entry files (`*.frag`) in `dir`; files that vanish
/// while listing are skipped.
pub fn entries_total(dir: &Path) -> u64 {
    let mut total = 0;
    for item in std::fs::read_dir(dir).unwrap().flatten() {
        if item.file_name().to_string_lossy().ends_with(".frag") {
            total += item.metadata().map_or(0, |m| m.len());
        }
    }
    total
}

/// Deterministic pseudo-random payload for a key: the "render" of the tests.
pub fn payload(key: &str, len: usize) -> Vec<u8> {
    let mut state = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Small xorshift generator so the tests need no `rand` crate.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
