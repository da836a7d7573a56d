//! Byte-bounded, single-flight cache for encoded audio fragments.
//!
//! [`FragmentCache`] stores opaque byte blobs under caller-made [`CacheKey`]s
//! in two tiers: an LRU in memory bounded by bytes, and an optional folder on
//! disk, also bounded by bytes, whose entries survive restarts and are
//! verified (checksums, lengths, key) on every read. It knows nothing about
//! audio. See `README.md` for the on-disk format.
//!
//! [`FragmentCache::get_or_compute`] runs the caller's computation at most once
//! at a time per key: concurrent callers of the same key wait for the one
//! running computation and all get its result (or a clone of its error).
//!
//! ```
//! use std::sync::Arc;
//! use sonance_cache::{CacheConfig, CacheKey, DiskConfig, FragmentCache};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = std::env::temp_dir().join(format!("sonance-cache-doc-{}", std::process::id()));
//! let cache = Arc::new(FragmentCache::new(CacheConfig {
//!     memory_bytes: 64 << 20,
//!     disk: Some(DiskConfig { dir: dir.clone(), max_bytes: 1 << 30 }),
//! })?);
//!
//! let key = CacheKey("track-42/v1/fragment-3".to_owned());
//! let bytes = cache.get_or_compute(&key, || -> Result<Vec<u8>, String> {
//!     Ok(b"...encoded fragment...".to_vec()) // the expensive render goes here
//! })?;
//! assert_eq!(&bytes[..], b"...encoded fragment...");
//!
//! // Later calls are served from memory without computing.
//! let again = cache.get_or_compute(&key, || -> Result<Vec<u8>, String> { unreachable!() })?;
//! assert_eq!(again, bytes);
//! assert_eq!(cache.stats().computations, 1);
//! assert_eq!(cache.stats().memory_hits, 1);
//! # drop(cache);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(())
//! # }
//! ```
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod disk;
mod flight;
mod format;
mod memory;

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use disk::DiskStore;
use flight::{Flights, Role, Waited};
use log::warn;
use memory::MemoryTier;

/// How much the cache may hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    /// Memory budget in bytes. Each entry is charged its payload length plus
    /// its key length plus a fixed 64 bytes of bookkeeping. 0 disables the
    /// memory tier.
    pub memory_bytes: usize,
    /// The disk tier, or `None` for memory only.
    pub disk: Option<DiskConfig>,
}

/// Where and how much to store on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskConfig {
    /// Folder owned by this cache (created if missing). One `FragmentCache`
    /// at a time owns a folder, enforced by a lock on `<dir>/.lock`; a second
    /// one (in any process) runs memory-only and says so with a warning.
    pub dir: PathBuf,
    /// Budget for the total size of the entry files, headers included.
    pub max_bytes: u64,
}

/// A cache key made by the caller; any string. The cache derives disk file
/// names from a hash of it (never uses the string as a path).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CacheKey(pub String);

/// Counters since this [`FragmentCache`] was created, and current sizes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups answered from memory.
    pub memory_hits: u64,
    /// Lookups answered from disk (the entry is then promoted into memory).
    pub disk_hits: u64,
    /// Times a `compute` closure was run.
    pub computations: u64,
    /// Callers that joined an in-flight computation instead of computing.
    pub waits: u64,
    /// Damaged disk entries found (and deleted).
    pub disk_corrupt: u64,
    /// Bytes charged to the memory tier (payloads + keys + 64 B per entry).
    pub memory_bytes: u64,
    /// Total size of the indexed entry files on disk.
    pub disk_bytes: u64,
    /// Entries in the memory tier.
    pub memory_entries: u64,
}

/// Why the disk tier cannot be used. [`FragmentCache::new`] does not fail
/// for these: it logs a warning and runs memory-only, and
/// [`FragmentCache::disk_error`] returns the reason.
#[non_exhaustive]
#[derive(Debug)]
pub enum CacheError {
    /// The cache folder does not exist and cannot be created (a parent is a
    /// regular file, no permission, read-only file system...). Retrying does
    /// not help; configure another folder.
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The cache folder exists but its contents cannot be listed. Retrying
    /// does not help; fix its permissions or configure another folder.
    ReadDir {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The folder's lock file (`path`) cannot be created or locked, e.g. a
    /// read-only folder or a file system without locks. Retrying does not
    /// help; configure a folder on a local, writable file system.
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Another live `FragmentCache` (in this or another process) owns the
    /// folder. Retrying after it is dropped or its process exits helps;
    /// otherwise give each process its own folder.
    InUse {
        path: PathBuf,
        /// The owner's process id, if it could be read from the lock file.
        owner_pid: Option<u32>,
    },
}

impl fmt::Display for CacheError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CacheError::CreateDir { path, source } => {
                write!(
                    f,
                    "cannot create the fragment cache folder {}: {source}",
                    path.display()
                )
            }
            CacheError::ReadDir { path, source } => {
                write!(
                    f,
                    "cannot read the fragment cache folder {}: {source}",
                    path.display()
                )
            }
            CacheError::Lock { path, source } => {
                write!(
                    f,
                    "cannot lock the fragment cache folder with {}: {source}",
                    path.display()
                )
            }
            CacheError::InUse { path, owner_pid } => {
                write!(
                    f,
                    "the fragment cache folder {} is in use by another cache",
                    path.display()
                )?;
                match owner_pid {
                    Some(pid) => write!(f, " (process {pid})"),
                    None => Ok(()),
                }
            }
        }
    }
}

impl std::error::Error for CacheError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CacheError::CreateDir { source, .. }
            | CacheError::ReadDir { source, .. }
            | CacheError::Lock { source, .. } => Some(source),
            CacheError::InUse { .. } => None,
        }
    }
}

#[derive(Default)]
struct Counters {
    memory_hits: AtomicU64,
    disk_hits: AtomicU64,
    computations: AtomicU64,
    waits: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Locks a mutex, ignoring poisoning: no critical section in this crate can
/// leave its data inconsistent, and the cache must keep working after a panic.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The fragment cache. `Send + Sync`; share it as `Arc<FragmentCache>`.
pub struct FragmentCache {
    memory: Mutex<MemoryTier>,
    disk: Option<DiskStore>,
    /// Why the configured disk tier is not in use.
    disk_error: Option<CacheError>,
    flights: Flights,
    counters: Counters,
}

impl fmt::Debug for FragmentCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FragmentCache")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl FragmentCache {
    /// Creates the cache. With a disk tier, creates its folder if needed,
    /// locks it (one `FragmentCache` per folder at a time, across processes),
    /// deletes leftover `*.tmp` files from interrupted writes and indexes the
    /// entries present (least recently modified first; contents are checked
    /// when read).
    ///
    /// If the folder cannot be created, listed or locked, or another cache
    /// owns it, this logs a warning naming the folder and the reason and
    /// returns a memory-only cache; [`FragmentCache::disk_error`] tells why.
    /// It does not fail today; the `Result` leaves room for configuration
    /// errors.
    pub fn new(config: CacheConfig) -> Result<Self, CacheError> {
        let (disk, disk_error) = match config.disk.as_ref().map(DiskStore::open) {
            None => (None, None),
            Some(Ok(disk)) => (Some(disk), None),
            Some(Err(e)) => {
                warn!("{e}; the fragment cache runs in memory only");
                (None, Some(e))
            }
        };
        Ok(FragmentCache {
            memory: Mutex::new(MemoryTier::new(config.memory_bytes)),
            disk,
            disk_error,
            flights: Flights::default(),
            counters: Counters::default(),
        })
    }

    /// Why the disk tier given in the config is not in use (the cache then
    /// runs memory-only), or `None` if it is in use or none was configured.
    pub fn disk_error(&self) -> Option<&CacheError> {
        self.disk_error.as_ref()
    }

    /// Returns the cached bytes, or runs `compute` exactly once for all
    /// concurrent callers of the same key (single-flight), stores the result
    /// in memory and on disk, and returns it to every caller.
    ///
    /// If `compute` fails, every waiting caller gets a clone of the error and
    /// nothing is stored; the next call computes again. If `compute` panics,
    /// the panic propagates to its caller and each waiting caller starts over
    /// (so one of them computes with its own closure). A waiter whose error
    /// type differs from the leader's also starts over.
    ///
    /// No lock is held while `compute` runs; different keys compute in
    /// parallel. The disk write happens synchronously on the computing
    /// caller's thread, after waiters have been handed the bytes.
    pub fn get_or_compute<E: Clone + Send + 'static>(
        &self,
        key: &CacheKey,
        compute: impl FnOnce() -> Result<Vec<u8>, E>,
    ) -> Result<Arc<[u8]>, E> {
        let mut counted_wait = false;
        let leader = loop {
            if let Some(value) = self.memory_get(key) {
                return Ok(value);
            }
            match self.flights.join_or_lead(key) {
                Role::Lead(leader) => break leader,
                Role::Wait(slot) => {
                    if !counted_wait {
                        counted_wait = true;
                        bump(&self.counters.waits);
                    }
                    match slot.wait::<E>() {
                        Waited::Done(value) => return Ok(value),
                        Waited::Failed(err) => return Err(err),
                        Waited::Retry => continue,
                    }
                }
            }
        };

        // A previous leader may have finished between our memory check and
        // taking the lead; and the disk is read once for all waiters.
        if let Some(value) = self.memory_get(key).or_else(|| self.disk_get(key)) {
            leader.publish(Arc::clone(&value));
            return Ok(value);
        }
        bump(&self.counters.computations);
        match compute() {
            Ok(bytes) => {
                let value: Arc<[u8]> = bytes.into();
                lock(&self.memory).insert(key, Arc::clone(&value));
                leader.publish(Arc::clone(&value));
                if let Some(disk) = &self.disk {
                    disk.write(key, &value);
                }
                drop(leader); // only now: a caller arriving meanwhile gets `value`
                Ok(value)
            }
            Err(err) => {
                leader.fail(err.clone());
                Err(err)
            }
        }
    }

    /// Returns the cached bytes from memory, else from disk (promoting them
    /// into memory), without computing.
    pub fn get(&self, key: &CacheKey) -> Option<Arc<[u8]>> {
        self.memory_get(key).or_else(|| self.disk_get(key))
    }

    /// Whether the key is in memory or in the disk index. Cheap: reads no
    /// file, so a damaged disk entry still counts until it is read.
    pub fn contains(&self, key: &CacheKey) -> bool {
        lock(&self.memory).contains(key) || self.disk.as_ref().is_some_and(|d| d.contains(key))
    }

    pub fn stats(&self) -> CacheStats {
        let (memory_bytes, memory_entries) = {
            let memory = lock(&self.memory);
            (memory.bytes() as u64, memory.len() as u64)
        };
        let c = &self.counters;
        CacheStats {
            memory_hits: c.memory_hits.load(Ordering::Relaxed),
            disk_hits: c.disk_hits.load(Ordering::Relaxed),
            computations: c.computations.load(Ordering::Relaxed),
            waits: c.waits.load(Ordering::Relaxed),
            disk_corrupt: self
                .disk
                .as_ref()
                .map_or(0, |d| d.corrupt.load(Ordering::Relaxed)),
            memory_bytes,
            disk_bytes: self.disk.as_ref().map_or(0, DiskStore::bytes),
            memory_entries,
        }
    }

    fn memory_get(&self, key: &CacheKey) -> Option<Arc<[u8]>> {
        let value = lock(&self.memory).get(key)?;
        bump(&self.counters.memory_hits);
        Some(value)
    }

    fn disk_get(&self, key: &CacheKey) -> Option<Arc<[u8]>> {
        let value = self.disk.as_ref()?.read(key)?;
        bump(&self.counters.disk_hits);
        lock(&self.memory).insert(key, Arc::clone(&value));
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<FragmentCache>();
        assert_send_sync::<CacheError>();
    }

    #[test]
    fn in_flight_map_is_empty_after_success_error_and_panic() {
        let cache = FragmentCache::new(CacheConfig {
            memory_bytes: 1 << 20,
            disk: None,
        })
        .unwrap();
        let k = |s: &str| CacheKey(s.to_owned());
        cache
            .get_or_compute(&k("ok"), || Ok::<_, ()>(vec![1]))
            .unwrap();
        cache
            .get_or_compute(&k("err"), || Err::<Vec<u8>, _>(()))
            .unwrap_err();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = cache.get_or_compute(&k("panic"), || -> Result<Vec<u8>, ()> { panic!("boom") });
        }));
        assert!(panicked.is_err());
        assert_eq!(cache.flights.len(), 0);
        // And the panicked key can be computed afterwards.
        assert_eq!(
            &cache
                .get_or_compute(&k("panic"), || Ok::<_, ()>(vec![2]))
                .unwrap()[..],
            [2]
        );
    }
}
