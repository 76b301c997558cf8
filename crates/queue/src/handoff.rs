//! Fresh jobs handed from ingest straight to the engine.
//!
//! A job the store accepts is usually deliverable at once. Writing it as pending and claiming
//! it back a moment later costs a second write of the row and a round trip to the store on the
//! way from arrival to delivery. Instead, the enqueue transaction writes such a job already
//! claimed by this process (in flight, under a lease) and, once committed, passes it here with
//! its parsed payload. The engine takes jobs from here in priority order when workers are free.
//!
//! Durability does not change: the job is in the store, claimed, before ingest answers. If the
//! process dies, the job is put back like any other in-flight job (at start-up, or when its
//! lease expires for a shared store). A job that waits here longer than half its lease is
//! dropped from memory and redelivered through the store once the lease expires, so it is
//! never delivered from memory and from the store at once.
//!
//! Only jobs that may go now are handed off: the newest job of its alert and target in the
//! batch, with no earlier job of that alert still pending or in flight. Everything else, and
//! what does not fit in the buffer, is stored pending and claimed as before.
//!
//! Claims use the buffer too: while it holds fewer jobs than a few rounds of the workers, the
//! engine claims ahead from the store into it in large batches, so a backlog in the store (a
//! storm larger than the buffer, retries, a target back after an outage) drains without the
//! workers waiting for one claim per freed batch. The read-ahead stays small so that replicas
//! sharing a store each take their part.

use std::{
    cmp::Reverse,
    collections::BinaryHeap,
    sync::{
        Mutex,
        atomic::{AtomicI64, Ordering},
    },
    time::{Duration, Instant},
};

use publish::Delivery;
use tokio::sync::Notify;

use crate::Job;

/// A job claimed at enqueue, waiting in memory for a worker.
#[derive(Debug)]
pub struct Ready {
    /// Claim order: `created_at` minus the priority boost (ms), as in the store.
    pub sort_key: i64,
    /// The job, as a claim would return it.
    pub job: Job,
    /// Its payload, already parsed.
    pub delivery: Delivery,
    /// When it was stored.
    pub stored: Instant,
}

impl PartialEq for Ready {
    fn eq(&self, other: &Self) -> bool {
        (self.sort_key, self.job.id) == (other.sort_key, other.job.id)
    }
}

impl Eq for Ready {}

impl PartialOrd for Ready {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ready {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.sort_key, self.job.id).cmp(&(other.sort_key, other.job.id))
    }
}

#[derive(Debug, Default)]
struct Inner {
    heap: BinaryHeap<Reverse<Ready>>,
    /// Places promised to enqueue transactions still being written.
    reserved: usize,
    /// The engine stopped: nothing more is taken.
    closed: bool,
}

/// The hand-off buffer between the store's enqueue and the engine.
#[derive(Debug)]
pub struct Handoff {
    inner: Mutex<Inner>,
    capacity: usize,
    lease: Duration,
    wake: std::sync::Arc<Notify>,
    /// A lower bound of the claim order keys of jobs the store may hold claimable that the
    /// engine has not looked for (pending jobs written by enqueue, retries, deferrals,
    /// requeues, replays): `i64::MAX` when there are none, `i64::MIN` when any key is possible.
    store_dirty: AtomicI64,
}

impl Handoff {
    /// A buffer of at most `capacity` jobs, claimed for `lease`, that wakes the engine through
    /// `wake`.
    pub fn new(capacity: usize, lease: Duration, wake: std::sync::Arc<Notify>) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            capacity,
            lease,
            wake,
            store_dirty: AtomicI64::new(i64::MIN),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How long a handed-off job is claimed for.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// Promises up to `wanted` places to an enqueue transaction; returns how many.
    pub fn reserve(&self, wanted: usize) -> usize {
        let mut inner = self.lock();
        if inner.closed {
            return 0;
        }
        let used = inner.heap.len() + inner.reserved;
        let granted = wanted.min(self.capacity.saturating_sub(used));
        inner.reserved += granted;
        granted
    }

    /// Gives back `reserved` places and adds the committed jobs (at most that many).
    pub fn fill(&self, reserved: usize, jobs: Vec<Ready>) {
        if jobs.is_empty() && reserved == 0 {
            return;
        }
        let mut inner = self.lock();
        inner.reserved = inner.reserved.saturating_sub(reserved);
        let added = !jobs.is_empty();
        inner.heap.extend(jobs.into_iter().map(Reverse));
        drop(inner);
        if added {
            self.wake.notify_one();
        }
    }

    /// The claim order of the first waiting job.
    pub fn head(&self) -> Option<i64> {
        self.lock().heap.peek().map(|r| r.0.sort_key)
    }

    /// Up to `n` jobs in claim order, and apart the jobs met on the way that waited longer than
    /// `max_wait` (the engine hands those back to the store without counting an attempt).
    pub fn take(&self, n: usize, max_wait: Duration) -> (Vec<Ready>, Vec<Ready>) {
        let mut out = Vec::with_capacity(n.min(64));
        let mut stale = Vec::new();
        let mut inner = self.lock();
        while out.len() < n {
            let Some(Reverse(ready)) = inner.heap.pop() else {
                break;
            };
            if ready.stored.elapsed() > max_wait {
                stale.push(ready);
                continue;
            }
            out.push(ready);
        }
        (out, stale)
    }

    /// Nothing waiting.
    pub fn is_empty(&self) -> bool {
        self.lock().heap.is_empty()
    }

    /// Jobs waiting.
    pub fn len(&self) -> usize {
        self.lock().heap.len()
    }

    /// Takes nothing more; what waits stays claimed in the store (put back at the next start,
    /// or after the lease).
    pub fn close(&self) {
        let mut inner = self.lock();
        inner.closed = true;
        inner.heap.clear();
    }

    /// The store may now hold claimable jobs, of any claim order.
    pub fn mark_store_dirty(&self) {
        self.store_dirty.fetch_min(i64::MIN, Ordering::AcqRel);
    }

    /// The store may now hold claimable jobs whose claim order key is `key` or later.
    pub fn mark_store_dirty_from(&self, key: i64) {
        self.store_dirty.fetch_min(key, Ordering::AcqRel);
    }

    /// Whether the store may hold claimable jobs; clears the mark (a claim of everything due
    /// follows).
    pub fn take_store_dirty(&self) -> bool {
        self.store_dirty.swap(i64::MAX, Ordering::AcqRel) != i64::MAX
    }

    /// Whether the store may hold claimable jobs ordered at or before `head` (a claim bounded
    /// by `head` follows). Afterwards only jobs ordered after `head` may remain, so the mark
    /// is raised past `head` rather than cleared.
    pub fn take_store_dirty_ahead_of(&self, head: Option<i64>) -> bool {
        let Some(head) = head else {
            return self.take_store_dirty();
        };
        let after = head.saturating_add(1);
        let mut current = self.store_dirty.load(Ordering::Acquire);
        loop {
            if current > head {
                return false;
            }
            match self.store_dirty.compare_exchange(
                current,
                after,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(now) => current = now,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buffer() -> Handoff {
        Handoff::new(
            8,
            Duration::from_secs(60),
            std::sync::Arc::new(Notify::new()),
        )
    }

    #[test]
    fn the_store_is_asked_only_for_what_may_go_ahead_of_the_buffer() {
        let h = buffer();
        assert!(h.take_store_dirty(), "unknown at start");
        assert!(!h.take_store_dirty(), "cleared by the claim");
        // jobs stored pending from key 100 on
        h.mark_store_dirty_from(100);
        assert!(
            !h.take_store_dirty_ahead_of(Some(50)),
            "the buffer's head goes first"
        );
        assert!(h.take_store_dirty_ahead_of(Some(100)), "a tie may go");
        // after a claim bounded by 100 only later jobs may remain
        assert!(!h.take_store_dirty_ahead_of(Some(100)));
        assert!(h.take_store_dirty_ahead_of(Some(101)));
        // an unbounded claim (read-ahead) sees any mark, and clears it
        h.mark_store_dirty_from(500);
        assert!(h.take_store_dirty_ahead_of(None));
        assert!(!h.take_store_dirty());
        // a mark of unknown order goes ahead of anything
        h.mark_store_dirty_from(500);
        h.mark_store_dirty();
        assert!(h.take_store_dirty_ahead_of(Some(i64::MIN)));
    }

    #[test]
    fn places_are_reserved_and_given_back() {
        let h = buffer();
        assert_eq!(h.reserve(5), 5);
        assert_eq!(h.reserve(5), 3, "capacity 8");
        h.fill(8, Vec::new());
        assert_eq!(h.reserve(8), 8, "all given back");
        assert_eq!(h.len(), 0);
        h.close();
        assert_eq!(h.reserve(1), 0, "nothing after close");
    }
}
