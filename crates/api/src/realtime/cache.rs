//! A small read-through cache shared by every stream of an instance: one load per key and
//! time-to-live, concurrent misses waiting for the same load (single flight). Streams use it
//! for project memberships and session liveness, so 10,000 streams of one project or one
//! session cost one database read per period instead of one each.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

/// One loaded value (`None`: the load failed, which is not remembered).
type Cell<V> = Arc<OnceCell<Option<V>>>;

/// Entries beyond which stale ones are swept on insertion.
const SWEEP_FROM: usize = 1024;

/// A single-flight cache with a time-to-live.
pub struct SharedCache<K, V> {
    ttl: Duration,
    entries: Mutex<Entries<K, V>>,
}

struct Entries<K, V> {
    map: HashMap<K, (Instant, Cell<V>)>,
    /// Size at which stale entries are swept next.
    sweep_at: usize,
}

impl<K: Eq + Hash + Copy, V> SharedCache<K, V> {
    /// An empty cache whose entries live `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, entries: Mutex::new(Entries { map: HashMap::new(), sweep_at: SWEEP_FROM }) }
    }

    /// Reads `key`'s value with `read`, loading it with `load` when it is missing or older than
    /// the TTL. `None` when the load failed (the next call loads again).
    pub async fn read<T, F, Fut>(&self, key: K, load: F, read: impl FnOnce(&V) -> T) -> Option<T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Option<V>>,
    {
        let cell = {
            let Ok(mut entries) = self.entries.lock() else { return None };
            match entries.map.get(&key) {
                Some((at, cell)) if at.elapsed() < self.ttl => cell.clone(),
                _ => {
                    let cell: Cell<V> = Arc::new(OnceCell::new());
                    entries.map.insert(key, (Instant::now(), cell.clone()));
                    if entries.map.len() >= entries.sweep_at {
                        let ttl = self.ttl;
                        entries.map.retain(|_, (at, _)| at.elapsed() < ttl);
                        entries.sweep_at = (entries.map.len() * 2).max(SWEEP_FROM);
                    }
                    cell
                }
            }
        };
        let value = cell.get_or_init(load).await;
        if value.is_none()
            && let Ok(mut entries) = self.entries.lock()
            && entries.map.get(&key).is_some_and(|(_, current)| Arc::ptr_eq(current, &cell))
        {
            entries.map.remove(&key);
        }
        value.as_ref().map(read)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn concurrent_misses_share_one_load_and_failures_are_not_kept() {
        let cache = Arc::new(SharedCache::<u32, u32>::new(Duration::from_secs(60)));
        let loads = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (cache, loads) = (cache.clone(), loads.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .read(
                        7,
                        || async {
                            loads.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            Some(42)
                        },
                        |v| *v,
                    )
                    .await
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap(), Some(42));
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);

        assert_eq!(cache.read(8, || async { None }, |v| *v).await, None);
        assert_eq!(cache.read(8, || async { Some(1) }, |v| *v).await, Some(1), "a failed load is retried");
    }

    #[tokio::test]
    async fn entries_expire_and_stale_ones_are_swept() {
        let cache = SharedCache::<u32, u32>::new(Duration::from_millis(30));
        assert_eq!(cache.read(1, || async { Some(1) }, |v| *v).await, Some(1));
        assert_eq!(cache.read(1, || async { Some(2) }, |v| *v).await, Some(1));
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(cache.read(1, || async { Some(3) }, |v| *v).await, Some(3));
        for key in 0..SWEEP_FROM as u32 {
            cache.read(key + 10, || async { Some(0) }, |v| *v).await;
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
        for key in 0..SWEEP_FROM as u32 {
            cache.read(key + 100_000, || async { Some(0) }, |v| *v).await;
        }
        let len = cache.entries.lock().unwrap().map.len();
        assert!(len <= SWEEP_FROM, "stale entries were swept ({len} left)");
    }
}
