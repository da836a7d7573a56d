//! The disk tier: one file per entry, written crash-safely, bounded by bytes.
//!
//! Files are named `<32 hex digits of key_hash>.frag`. A write goes to a
//! uniquely named `*.tmp` file in the same folder, is fsync'd and then renamed
//! over the final name, so a reader sees either nothing or a whole entry.
//! `*.tmp` files found at startup are leftovers of a crash and are deleted.
//!
//! The folder is owned by one `DiskStore` at a time: `open` takes an exclusive
//! advisory lock on `<dir>/.lock` (`File::try_lock`, i.e. `flock` on Unix) and
//! keeps it until the store is dropped; the operating system releases it when
//! the process dies, even by `kill -9`. So the `*.tmp` files found at startup
//! can only be a dead writer's, and the in-memory index is the whole truth
//! about the folder's size. A second opener gets [`CacheError::InUse`].
//!
//! The index (which entries exist, their size, LRU order) lives in memory and
//! is rebuilt at startup from the folder listing, oldest modification time
//! first. Reads bump a file's modification time so the order survives restarts.

use std::fs::{self, File, TryLockError};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use log::{debug, info, warn};
use lru::LruCache;

use crate::format::{self, DecodeError};
use crate::{lock, CacheError, CacheKey, DiskConfig};

const ENTRY_SUFFIX: &str = ".frag";
const TEMP_SUFFIX: &str = ".tmp";
/// Lock file inside the folder; its content is the owner's pid (informative).
const LOCK_NAME: &str = ".lock";

#[derive(Clone, Copy)]
struct IndexEntry {
    size: u64,
    /// Distinguishes successive files under the same name, so that a reader
    /// that found a damaged file never drops a newer entry written meanwhile.
    generation: u64,
}

struct Index {
    /// Keyed by the key hash; least recently used first.
    entries: LruCache<u128, IndexEntry>,
    bytes: u64,
    next_generation: u64,
}

pub(crate) struct DiskStore {
    dir: PathBuf,
    max_bytes: u64,
    index: Mutex<Index>,
    temp_counter: AtomicU64,
    pub(crate) corrupt: AtomicU64,
    /// Locked for the store's lifetime; closing it releases the folder.
    _lock: File,
}

fn entry_name(hash: u128) -> String {
    format!("{hash:032x}{ENTRY_SUFFIX}")
}

fn parse_entry_name(name: &str) -> Option<u128> {
    let hex = name.strip_suffix(ENTRY_SUFFIX)?;
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(hex, 16).ok()
}

impl DiskStore {
    /// Creates the folder if needed, locks it, deletes leftover temp files and
    /// indexes the entries present (contents are verified lazily, on read).
    pub(crate) fn open(config: &DiskConfig) -> Result<Self, CacheError> {
        let dir = config.dir.clone();
        fs::create_dir_all(&dir).map_err(|source| CacheError::CreateDir {
            path: dir.clone(),
            source,
        })?;
        let lock_file = lock_folder(&dir)?;
        let read_dir_err = |source| CacheError::ReadDir {
            path: dir.clone(),
            source,
        };
        let mut found = Vec::new();
        for item in fs::read_dir(&dir).map_err(read_dir_err)? {
            let item = item.map_err(read_dir_err)?;
            let name = item.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.ends_with(TEMP_SUFFIX) {
                info!("removing unfinished cache write {}", item.path().display());
                if let Err(e) = fs::remove_file(item.path()) {
                    warn!(
                        "cannot remove unfinished cache write {}: {e}",
                        item.path().display()
                    );
                }
                continue;
            }
            let Some(hash) = parse_entry_name(name) else {
                continue;
            };
            match item.metadata() {
                Ok(meta) if meta.is_file() => {
                    found.push((
                        meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                        hash,
                        meta.len(),
                    ));
                }
                Ok(_) => {}
                Err(e) => warn!("cannot inspect cache entry {}: {e}", item.path().display()),
            }
        }
        found.sort_unstable();
        let mut index = Index {
            entries: LruCache::unbounded(),
            bytes: 0,
            next_generation: 0,
        };
        for (_, hash, size) in found {
            index.entries.put(
                hash,
                IndexEntry {
                    size,
                    generation: index.next_generation,
                },
            );
            index.next_generation += 1;
            index.bytes += size;
        }
        let store = DiskStore {
            dir,
            max_bytes: config.max_bytes,
            index: Mutex::new(Index {
                entries: LruCache::unbounded(),
                bytes: 0,
                next_generation: 0,
            }),
            temp_counter: AtomicU64::new(0),
            corrupt: AtomicU64::new(0),
            _lock: lock_file,
        };
        store.evict_to(&mut index, store.max_bytes); // the budget may have shrunk
        debug!(
            "fragment cache at {}: {} entries, {} bytes",
            store.dir.display(),
            index.entries.len(),
            index.bytes
        );
        *lock(&store.index) = index;
        Ok(store)
    }

    fn path(&self, hash: u128) -> PathBuf {
        self.dir.join(entry_name(hash))
    }

    pub(crate) fn contains(&self, key: &CacheKey) -> bool {
        lock(&self.index)
            .entries
            .contains(&format::key_hash(&key.0))
    }

    pub(crate) fn bytes(&self) -> u64 {
        lock(&self.index).bytes
    }

    /// Reads and verifies the entry for `key`. Damaged files are deleted and
    /// counted; every problem is a miss, never an error.
    pub(crate) fn read(&self, key: &CacheKey) -> Option<Arc<[u8]>> {
        let hash = format::key_hash(&key.0);
        let generation = lock(&self.index).entries.get(&hash)?.generation;
        let path = self.path(hash);
        let bytes = match read_and_touch(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                warn!("cache entry {} vanished", path.display());
                self.forget(hash, generation, false);
                return None;
            }
            Err(e) => {
                warn!("cannot read cache entry {}: {e}", path.display());
                return None;
            }
        };
        match format::decode(&bytes, &key.0) {
            Ok(payload) => Some(Arc::from(&bytes[payload])),
            Err(DecodeError::OtherKey) => {
                debug!("cache entry {} belongs to another key", path.display());
                None
            }
            Err(e) => {
                if e.is_corruption() {
                    warn!("dropping damaged cache entry {}: {e}", path.display());
                    self.corrupt.fetch_add(1, Ordering::Relaxed);
                } else {
                    info!("dropping cache entry {}: {e}", path.display());
                }
                self.forget(hash, generation, true);
                None
            }
        }
    }

    /// Removes an entry from the index (and its file) unless it was replaced
    /// by a newer write since `generation` was observed.
    fn forget(&self, hash: u128, generation: u64, delete_file: bool) {
        let mut index = lock(&self.index);
        if index
            .entries
            .peek(&hash)
            .is_some_and(|e| e.generation == generation)
        {
            if let Some(entry) = index.entries.pop(&hash) {
                index.bytes -= entry.size;
            }
            if delete_file {
                remove_entry_file(&self.path(hash));
            }
        }
    }

    /// Stores `payload` for `key`. Synchronous: temp file, fsync, rename,
    /// folder fsync. Failures are logged and leave the cache without the entry.
    pub(crate) fn write(&self, key: &CacheKey, payload: &[u8]) {
        let size = format::encoded_len(&key.0, payload.len());
        if size > self.max_bytes {
            debug!("fragment of {size} bytes exceeds the disk budget; not stored on disk");
            return;
        }
        let Some(header) = format::encode_header(&key.0, payload) else {
            warn!(
                "cache key of {} bytes is too long to store on disk",
                key.0.len()
            );
            return;
        };
        let hash = format::key_hash(&key.0);
        {
            // Make room first so the folder stays within budget during the write.
            let mut index = lock(&self.index);
            self.evict_to(&mut index, self.max_bytes - size);
        }
        let final_path = self.path(hash);
        let temp_path = self.dir.join(format!(
            "{}.{}.{}{TEMP_SUFFIX}",
            entry_name(hash),
            std::process::id(),
            self.temp_counter.fetch_add(1, Ordering::Relaxed)
        ));
        if let Err(e) = write_atomically(&temp_path, &final_path, &header, payload) {
            warn!("cannot write cache entry {}: {e}", final_path.display());
            if let Err(e) = fs::remove_file(&temp_path) {
                if e.kind() != io::ErrorKind::NotFound {
                    warn!("cannot remove {}: {e}", temp_path.display());
                }
            }
            return;
        }
        let mut index = lock(&self.index);
        if let Some(old) = index.entries.pop(&hash) {
            index.bytes -= old.size;
        }
        let generation = index.next_generation;
        index.next_generation += 1;
        index.entries.put(hash, IndexEntry { size, generation });
        index.bytes += size;
        self.evict_to(&mut index, self.max_bytes); // concurrent writes may have filled it
    }

    /// Deletes least recently used entries until the index totals ≤ `limit`.
    fn evict_to(&self, index: &mut Index, limit: u64) {
        while index.bytes > limit {
            let Some((hash, entry)) = index.entries.pop_lru() else {
                break;
            };
            index.bytes -= entry.size;
            remove_entry_file(&self.path(hash));
        }
    }
}

/// Takes the folder's exclusive lock, or says who holds it.
fn lock_folder(dir: &Path) -> Result<File, CacheError> {
    let path = dir.join(LOCK_NAME);
    let lock_err = |source| CacheError::Lock {
        path: path.clone(),
        source,
    };
    let mut file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(lock_err)?;
    match file.try_lock() {
        Ok(()) => {
            // Informative only (named in the other process's warning).
            let pid = std::process::id().to_string();
            if let Err(e) = file
                .set_len(0)
                .and_then(|()| file.write_all(pid.as_bytes()))
            {
                debug!("cannot record the pid in {}: {e}", path.display());
            }
            Ok(file)
        }
        Err(TryLockError::WouldBlock) => {
            let mut owner = String::new();
            let owner_pid = file
                .read_to_string(&mut owner)
                .ok()
                .and_then(|_| owner.trim().parse().ok());
            Err(CacheError::InUse {
                path: dir.to_owned(),
                owner_pid,
            })
        }
        Err(TryLockError::Error(source)) => Err(lock_err(source)),
    }
}

fn remove_entry_file(path: &Path) {
    if let Err(e) = fs::remove_file(path) {
        if e.kind() != io::ErrorKind::NotFound {
            warn!("cannot remove cache entry {}: {e}", path.display());
        }
    }
}

fn read_and_touch(path: &Path) -> io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    let mut bytes = Vec::with_capacity(file.metadata().map_or(0, |m| m.len() as usize));
    file.read_to_end(&mut bytes)?;
    // Record the access for the LRU order of the next startup; best effort.
    if let Err(e) = file.set_modified(SystemTime::now()) {
        debug!("cannot update the time of {}: {e}", path.display());
    }
    Ok(bytes)
}

fn write_atomically(temp: &Path, dest: &Path, header: &[u8], payload: &[u8]) -> io::Result<()> {
    let mut file = File::options().write(true).create_new(true).open(temp)?;
    file.write_all(header)?;
    file.write_all(payload)?;
    file.sync_all()?;
    drop(file);
    fs::rename(temp, dest)?;
    sync_dir(dest.parent());
    Ok(())
}

/// Makes the rename durable. Only possible (and needed) on Unix.
fn sync_dir(dir: Option<&Path>) {
    #[cfg(unix)]
    if let Some(dir) = dir {
        if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
            debug!("cannot sync folder {}: {e}", dir.display());
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_round_trip_and_reject_others() {
        let h = format::key_hash("some key");
        assert_eq!(parse_entry_name(&entry_name(h)), Some(h));
        assert_eq!(parse_entry_name("abc.frag"), None);
        assert_eq!(parse_entry_name(&format!("{}.tmp", entry_name(h))), None);
        assert_eq!(parse_entry_name("notes.txt"), None);
    }
}
