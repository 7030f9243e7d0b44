//! Locking shared in-memory state.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, recovering it if a thread panicked while holding it.
///
/// Every critical section in this crate is a single map or cache operation that leaves the data
/// consistent, so a panic elsewhere is no reason to fail every later request.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A small map per thread in front of a shared cache, so a repeated lookup touches no memory
/// another thread writes.
///
/// Shared caches behind a lock are written on every hit (the lock word, the LRU order), so on
/// a busy server the worker threads take turns owning those cache lines; each hit then costs a
/// transfer between cores, which counts for more than the lookup itself. A per-thread copy is
/// read by its own thread only. Each instance has its own maps (several servers share a test
/// process's threads), and a thread's map is emptied when it reaches `capacity`.
pub struct PerThread<K: Send, V: Send> {
    maps: thread_local::ThreadLocal<std::cell::RefCell<LocalMap<K, V>>>,
    capacity: usize,
}

type LocalMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

impl<K, V> PerThread<K, V>
where
    K: std::hash::Hash + Eq + Send,
    V: Send,
{
    /// Maps of at most `capacity` entries per thread.
    pub fn new(capacity: usize) -> Self {
        Self {
            maps: thread_local::ThreadLocal::new(),
            capacity: capacity.max(1),
        }
    }

    /// What `read` makes of this thread's entry for `key`, if it has one.
    pub fn read<Q, R>(&self, key: &Q, read: impl FnOnce(&V) -> R) -> Option<R>
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        let map = self.maps.get()?.borrow();
        map.get(key).map(read)
    }

    /// Keeps `value` for `key` on this thread.
    pub fn insert(&self, key: K, value: V) {
        let mut map = self.maps.get_or_default().borrow_mut();
        if map.len() >= self.capacity {
            map.clear();
        }
        map.insert(key, value);
    }

    /// Forgets `key` on this thread.
    pub fn remove<Q>(&self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        if let Some(map) = self.maps.get() {
            map.borrow_mut().remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PerThread;

    #[test]
    fn each_thread_sees_only_its_own_entries() {
        let cache = PerThread::<String, u32>::new(8);
        cache.insert("a".into(), 1);
        assert_eq!(cache.read("a", |v| *v), Some(1));
        std::thread::scope(|scope| {
            scope.spawn(|| {
                assert_eq!(cache.read("a", |v| *v), None);
                cache.insert("a".into(), 2);
                assert_eq!(cache.read("a", |v| *v), Some(2));
            });
        });
        assert_eq!(cache.read("a", |v| *v), Some(1));
        cache.remove("a");
        assert_eq!(cache.read("a", |v| *v), None);
    }

    #[test]
    fn a_full_map_starts_over() {
        let cache = PerThread::<u32, u32>::new(2);
        cache.insert(1, 1);
        cache.insert(2, 2);
        cache.insert(3, 3);
        assert_eq!(cache.read(&1, |v| *v), None);
        assert_eq!(cache.read(&3, |v| *v), Some(3));
    }
}
