//! [`VersionedCache`]: answers that depend only on a request and the data's version, kept while
//! that version lasts, at most `capacity` of them (least recently used out first), and computed
//! one at a time — so a burst of requests, or a client inventing a new query every time, costs
//! one computation after another instead of all at once, and never more memory than the cap.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

struct Entry<Ver, V> {
    version: Ver,
    value: V,
    used: u64,
}

/// A bounded cache of values per key, valid for one data version.
pub struct VersionedCache<K, Ver, V> {
    entries: Mutex<HashMap<K, Entry<Ver, V>>>,
    capacity: usize,
    /// Held while a value is computed: one computation at a time.
    computing: tokio::sync::Mutex<()>,
    tick: AtomicU64,
    /// Values computed so far (misses that ran `compute`, failed ones included).
    computed: AtomicU64,
}

impl<K, Ver, V> VersionedCache<K, Ver, V>
where
    K: Eq + Hash + Clone,
    Ver: PartialEq + Clone,
    V: Clone,
{
    pub fn new(capacity: usize) -> Self {
        VersionedCache {
            entries: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
            computing: tokio::sync::Mutex::new(()),
            tick: AtomicU64::new(0),
            computed: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Entry<Ver, V>>> {
        // Entries are whole values: a panic elsewhere cannot leave one half-written.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cached value of `key` at `version`, if any.
    pub fn get(&self, key: &K, version: &Ver) -> Option<V> {
        let tick = self.tick.fetch_add(1, Ordering::Relaxed);
        let mut map = self.lock();
        let e = map.get_mut(key).filter(|e| e.version == *version)?;
        e.used = tick;
        Some(e.value.clone())
    }

    fn insert(&self, key: K, version: Ver, value: V) {
        let tick = self.tick.fetch_add(1, Ordering::Relaxed);
        let mut map = self.lock();
        // Answers of older versions are never wanted again.
        map.retain(|_, e| e.version == version);
        if map.len() >= self.capacity && !map.contains_key(&key) {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(
            key,
            Entry {
                version,
                value,
                used: tick,
            },
        );
    }

    /// The value of `key` at `version`: cached, or computed by `compute` (one computation at a
    /// time; a caller that waited finds what the one before it computed).
    ///
    /// # Errors
    /// Whatever `compute` returns (nothing is cached then).
    pub async fn get_or_compute<E, F, Fut>(&self, key: K, version: Ver, compute: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        if let Some(v) = self.get(&key, &version) {
            return Ok(v);
        }
        let _one_at_a_time = self.computing.lock().await;
        if let Some(v) = self.get(&key, &version) {
            return Ok(v);
        }
        self.computed.fetch_add(1, Ordering::Relaxed);
        let value = compute().await?;
        self.insert(key, version, value.clone());
        Ok(value)
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many times a value was computed (not found in the cache) since the cache was made:
    /// what a test reads to tell a cached answer from a recomputed one.
    pub fn computations(&self) -> u64 {
        self.computed.load(Ordering::Relaxed)
    }

    /// Most entries held at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

impl<K, Ver, V> std::fmt::Debug for VersionedCache<K, Ver, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VersionedCache")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    #[tokio::test]
    async fn caches_per_version_and_evicts_the_least_recently_used() {
        let c: VersionedCache<u32, i64, String> = VersionedCache::new(2);
        let n = AtomicUsize::new(0);
        let compute = |k: u32| {
            n.fetch_add(1, Ordering::Relaxed);
            async move { Ok::<_, ()>(format!("v{k}")) }
        };
        assert_eq!(c.get_or_compute(1, 7, || compute(1)).await, Ok("v1".into()));
        assert_eq!(c.get_or_compute(1, 7, || compute(1)).await, Ok("v1".into()));
        assert_eq!(n.load(Ordering::Relaxed), 1);
        assert_eq!(c.computations(), 1);
        c.get_or_compute(2, 7, || compute(2)).await.unwrap();
        c.get(&1, &7).unwrap(); // 1 is now more recent than 2
        c.get_or_compute(3, 7, || compute(3)).await.unwrap();
        assert_eq!(c.len(), 2);
        assert!(c.get(&2, &7).is_none(), "the least recently used went");
        assert!(c.get(&1, &7).is_some());
        // A new data version: older answers are not served and are dropped.
        assert!(c.get(&1, &8).is_none());
        c.get_or_compute(1, 8, || compute(1)).await.unwrap();
        assert_eq!(c.len(), 1);
        // Errors are not cached.
        let r: Result<String, &str> = c.get_or_compute(9, 8, || async { Err("no") }).await;
        assert_eq!(r, Err("no"));
        assert!(c.get(&9, &8).is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_misses_compute_once() {
        let c = Arc::new(VersionedCache::<u32, i64, u32>::new(4));
        let n = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (c, n) = (c.clone(), n.clone());
                tokio::spawn(async move {
                    c.get_or_compute(1, 1, || async {
                        n.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        Ok::<_, ()>(42)
                    })
                    .await
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap(), Ok(42));
        }
        assert_eq!(n.load(Ordering::Relaxed), 1);
    }
}
