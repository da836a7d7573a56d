//! The memory tier: an LRU map bounded by bytes rather than by entry count.

use std::sync::Arc;

use lru::LruCache;

use crate::CacheKey;

/// Bytes charged per entry on top of its payload and key, for the map node,
/// the `Arc` header and the key's `String`. Charging it keeps the number of
/// entries bounded even for empty fragments.
pub(crate) const ENTRY_OVERHEAD: usize = 64;

/// What one entry costs against the memory budget.
pub(crate) fn charge(key: &CacheKey, payload_len: usize) -> usize {
    payload_len
        .saturating_add(key.0.len())
        .saturating_add(ENTRY_OVERHEAD)
}

pub(crate) struct MemoryTier {
    entries: LruCache<CacheKey, Arc<[u8]>>,
    /// Sum of `charge` over all entries; never above `budget` after a call returns.
    bytes: usize,
    budget: usize,
}

impl MemoryTier {
    pub(crate) fn new(budget: usize) -> Self {
        MemoryTier {
            entries: LruCache::unbounded(),
            bytes: 0,
            budget,
        }
    }

    /// Returns the entry and marks it most recently used.
    pub(crate) fn get(&mut self, key: &CacheKey) -> Option<Arc<[u8]>> {
        self.entries.get(key).cloned()
    }

    pub(crate) fn contains(&self, key: &CacheKey) -> bool {
        self.entries.contains(key)
    }

    /// Stores `value` as most recently used and evicts least recently used
    /// entries until the budget holds again. A value that alone exceeds the
    /// budget is not kept (and any older value for the key is dropped).
    pub(crate) fn insert(&mut self, key: &CacheKey, value: Arc<[u8]>) {
        if let Some(old) = self.entries.pop(key) {
            self.bytes -= charge(key, old.len());
        }
        let cost = charge(key, value.len());
        if cost > self.budget {
            return;
        }
        self.entries.put(key.clone(), value);
        self.bytes += cost;
        while self.bytes > self.budget {
            match self.entries.pop_lru() {
                Some((k, v)) => self.bytes -= charge(&k, v.len()),
                None => break,
            }
        }
        debug_assert!(self.bytes <= self.budget);
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> CacheKey {
        CacheKey(s.to_owned())
    }

    fn bytes(n: usize) -> Arc<[u8]> {
        vec![1u8; n].into()
    }

    #[test]
    fn evicts_least_recently_used_by_bytes() {
        // Room for exactly three 100-byte entries with one-byte keys.
        let per = charge(&key("a"), 100);
        let mut m = MemoryTier::new(3 * per);
        m.insert(&key("a"), bytes(100));
        m.insert(&key("b"), bytes(100));
        m.insert(&key("c"), bytes(100));
        assert_eq!(m.bytes(), 3 * per);
        assert!(m.get(&key("a")).is_some()); // a is now most recent
        m.insert(&key("d"), bytes(100));
        assert!(!m.contains(&key("b")), "b was least recently used");
        assert!(m.contains(&key("a")) && m.contains(&key("c")) && m.contains(&key("d")));
        assert_eq!(m.len(), 3);
        assert_eq!(m.bytes(), 3 * per);
    }

    #[test]
    fn oversized_entry_is_not_kept_and_replaces_old_value() {
        let mut m = MemoryTier::new(1000);
        m.insert(&key("a"), bytes(10));
        assert_eq!(m.bytes(), charge(&key("a"), 10));
        m.insert(&key("a"), bytes(2000));
        assert!(!m.contains(&key("a")));
        assert_eq!((m.bytes(), m.len()), (0, 0));
    }

    #[test]
    fn replacing_a_value_updates_the_byte_count() {
        let mut m = MemoryTier::new(10_000);
        m.insert(&key("a"), bytes(10));
        m.insert(&key("a"), bytes(500));
        assert_eq!(m.bytes(), charge(&key("a"), 500));
        assert_eq!(m.get(&key("a")).map(|v| v.len()), Some(500));
    }

    #[test]
    fn zero_budget_keeps_nothing() {
        let mut m = MemoryTier::new(0);
        m.insert(&key(""), bytes(0));
        assert_eq!((m.bytes(), m.len()), (0, 0));
    }
}
