//! A bounded in-memory cache of parsed workflow graphs, keyed by workflow and version.
//!
//! Versions are immutable, so a cached `(workflow, version)` is correct on every instance;
//! the database stays the source of truth and decides concurrent edits. The cache spares
//! the hot editing path (`workflow.patchGraph`) from reading, parsing and checking a whole
//! large graph on every keystroke-sized change.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use lru::LruCache;
use weft_core::WorkflowId;
use weft_core::workflow::Graph;

/// One cached version: the JSON document (what JSON Patch paths point into) and its
/// parsed form.
#[derive(Clone, Debug)]
pub struct CachedGraph {
    /// The version.
    pub version: i32,
    /// The graph document.
    pub document: serde_json::Value,
    /// The parsed graph.
    pub graph: Graph,
}

/// Least-recently-used cache of the latest known version of each workflow's graph.
#[derive(Debug)]
pub struct GraphCache {
    enabled: bool,
    entries: Mutex<LruCache<WorkflowId, Arc<CachedGraph>>>,
}

impl GraphCache {
    /// A cache holding at most `capacity` graphs (0 disables it).
    pub fn new(capacity: usize) -> Self {
        let enabled = capacity > 0;
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Self { enabled, entries: Mutex::new(LruCache::new(capacity)) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<WorkflowId, Arc<CachedGraph>>> {
        // A panic while holding the lock leaves a consistent map: keep using it.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cached graph of `workflow` at exactly `version`.
    pub fn get(&self, workflow: WorkflowId, version: i32) -> Option<Arc<CachedGraph>> {
        let mut entries = self.lock();
        entries.get(&workflow).filter(|entry| entry.version == version).cloned()
    }

    /// Removes and returns the cached graph of `workflow` at `version`, for an edit that
    /// will put the next version back.
    pub fn take(&self, workflow: WorkflowId, version: i32) -> Option<CachedGraph> {
        let entry = {
            let mut entries = self.lock();
            match entries.peek(&workflow) {
                Some(entry) if entry.version == version => entries.pop(&workflow),
                _ => None,
            }
        }?;
        Some(Arc::try_unwrap(entry).unwrap_or_else(|shared| (*shared).clone()))
    }

    /// Stores a version unless a newer one is cached already.
    pub fn put(&self, workflow: WorkflowId, entry: CachedGraph) {
        if !self.enabled {
            return;
        }
        let mut entries = self.lock();
        if entries.peek(&workflow).is_some_and(|existing| existing.version > entry.version) {
            return;
        }
        entries.put(workflow, Arc::new(entry));
    }

    /// Forgets a workflow (deleted).
    pub fn remove(&self, workflow: WorkflowId) {
        self.lock().pop(&workflow);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(version: i32) -> CachedGraph {
        CachedGraph {
            version,
            document: serde_json::json!({"nodes": [], "edges": []}),
            graph: Graph::default(),
        }
    }

    #[test]
    fn versions_must_match_and_newer_versions_win() {
        let cache = GraphCache::new(2);
        let id = WorkflowId::new();
        cache.put(id, entry(3));
        assert!(cache.get(id, 2).is_none());
        assert_eq!(cache.get(id, 3).unwrap().version, 3);
        cache.put(id, entry(2));
        assert_eq!(cache.get(id, 3).unwrap().version, 3, "an older version never replaces a newer one");
        assert!(cache.take(id, 2).is_none());
        assert_eq!(cache.take(id, 3).unwrap().version, 3);
        assert!(cache.get(id, 3).is_none(), "taken entries leave the cache");
    }

    #[test]
    fn zero_capacity_disables_the_cache() {
        let cache = GraphCache::new(0);
        let id = WorkflowId::new();
        cache.put(id, entry(1));
        assert!(cache.get(id, 1).is_none());
    }

    #[test]
    fn capacity_is_bounded() {
        let cache = GraphCache::new(2);
        let ids: Vec<WorkflowId> = (0..3).map(|_| WorkflowId::new()).collect();
        for id in &ids {
            cache.put(*id, entry(1));
        }
        assert!(cache.get(ids[0], 1).is_none());
        assert!(cache.get(ids[2], 1).is_some());
    }
}
