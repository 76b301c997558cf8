//! Job counts by state, kept in memory so that status answers never count jobs.
//!
//! Every transaction of this process that moves jobs between states on the hot path (enqueue,
//! supersede, claim, outcome, deferral) applies its [`Tally`] of changes right after its
//! commit. The counts are taken from the store at start-up, after the rare operations that
//! move many jobs at once (requeue, replay, purge, retention sweep), and again whenever they are
//! older than the store's recount period (or fifty times the last recount's duration, when that
//! is longer): that recount brings in what other replicas sharing a PostgreSQL store did, so
//! their changes show within that period.
//!
//! A recount is exact against this process's own commits: it takes its snapshot while no
//! counted commit is between its commit and its tally (the [`Counters::hold`] gate), and the
//! tallies of the commits made while it counts are added to what it counted.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::{Priority, QueueStats};

/// Jobs by state, or the changes one transaction made to them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Tally {
    /// By [`Priority`] (`Low`, `Medium`, `High`).
    pending: [i64; 3],
    in_flight: i64,
    done: i64,
    superseded: i64,
    dead: BTreeMap<String, i64>,
}

impl Tally {
    /// `n` more jobs pending at `priority` (fewer when negative).
    pub(crate) fn pending(&mut self, priority: Priority, n: i64) {
        self.pending[priority as usize] += n;
    }

    pub(crate) fn in_flight(&mut self, n: i64) {
        self.in_flight += n;
    }

    pub(crate) fn done(&mut self, n: i64) {
        self.done += n;
    }

    pub(crate) fn superseded(&mut self, n: i64) {
        self.superseded += n;
    }

    pub(crate) fn dead(&mut self, target: &str, n: i64) {
        match self.dead.get_mut(target) {
            Some(v) => *v += n,
            None => {
                self.dead.insert(target.to_owned(), n);
            }
        }
    }

    fn add(&mut self, other: &Tally) {
        for (a, b) in self.pending.iter_mut().zip(other.pending) {
            *a += b;
        }
        self.in_flight += other.in_flight;
        self.done += other.done;
        self.superseded += other.superseded;
        for (target, n) in &other.dead {
            self.dead(target, *n);
        }
        self.dead.retain(|_, n| *n != 0);
    }

    /// As the API shows it: states and priorities with no job are left out.
    fn stats(&self) -> QueueStats {
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        let mut stats = QueueStats::default();
        for p in [Priority::Low, Priority::Medium, Priority::High] {
            let n = count(self.pending[p as usize]);
            if n > 0 {
                stats.pending += n;
                stats.pending_by_priority.insert(p.as_str().to_owned(), n);
            }
        }
        stats.in_flight = count(self.in_flight);
        stats.done = count(self.done);
        stats.superseded = count(self.superseded);
        for (target, n) in &self.dead {
            let n = count(*n);
            if n > 0 {
                stats.dead += n;
                stats.dead_by_target.insert(target.clone(), n);
            }
        }
        stats
    }
}

/// The counts, their tallies and their recounts.
#[derive(Debug)]
pub(crate) struct Counters {
    /// Held (shared) by a counted commit from before its commit until its tally is applied,
    /// and (exclusively) by a recount while it takes its snapshot.
    gate: tokio::sync::RwLock<()>,
    /// One recount at a time.
    recounting: tokio::sync::Mutex<()>,
    /// A recount is scheduled in the background.
    scheduled: AtomicBool,
    /// How old the counts may get before a status answer schedules a recount.
    every: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The counts; `None` until the first recount.
    current: Option<Tally>,
    /// While a recount runs: the tallies applied since its snapshot.
    since_snapshot: Option<Tally>,
    /// When the current counts were last taken from the store.
    recounted: Option<Instant>,
    /// How long the last recount took.
    took: Duration,
}

/// A recount (which reads every job) runs at most once per this many times its own duration:
/// its share of the database's time stays under 2 % however many jobs are kept.
const RECOUNT_SHARE: u32 = 50;

/// A counted commit in progress (see [`Counters::hold`]).
pub(crate) struct Held<'a> {
    counters: &'a Counters,
    _gate: tokio::sync::RwLockReadGuard<'a, ()>,
}

impl Held<'_> {
    /// The commit succeeded: its changes count.
    pub(crate) fn apply(self, tally: &Tally) {
        let mut state = self.counters.lock();
        if let Some(current) = state.current.as_mut() {
            current.add(tally);
        }
        if let Some(since) = state.since_snapshot.as_mut() {
            since.add(tally);
        }
    }

    /// The commit failed, and may or may not have happened: recount soon.
    pub(crate) fn unsure(self) {
        self.counters.lock().recounted = None;
    }
}

impl Counters {
    pub(crate) fn new(every: Duration) -> Self {
        Self {
            gate: tokio::sync::RwLock::new(()),
            recounting: tokio::sync::Mutex::new(()),
            scheduled: AtomicBool::new(false),
            every,
            state: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// To hold from just before a counted commit until its tally is applied.
    pub(crate) async fn hold(&self) -> Held<'_> {
        Held {
            counters: self,
            _gate: self.gate.read().await,
        }
    }

    /// The counts, and whether they are older than the recount period (or were never taken).
    pub(crate) fn read(&self) -> Option<(QueueStats, bool)> {
        let state = self.lock();
        let current = state.current.as_ref()?;
        let period = self.every.max(state.took * RECOUNT_SHARE);
        let stale = state.recounted.is_none_or(|at| at.elapsed() >= period);
        Some((current.stats(), stale))
    }

    /// Claims the right to schedule a background recount; false when one is scheduled.
    pub(crate) fn schedule(&self) -> bool {
        !self.scheduled.swap(true, Ordering::AcqRel)
    }

    /// The background recount ended.
    pub(crate) fn scheduled_done(&self) {
        self.scheduled.store(false, Ordering::Release);
    }

    /// A recount, in three steps: while holding this (one recount at a time), take the
    /// snapshot under [`Counters::exclusive`] and call [`Counters::snapshot_taken`], then count
    /// in the snapshot and hand the result to [`Counters::counted`].
    pub(crate) async fn recounting(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.recounting.lock().await
    }

    /// Held while a recount takes its snapshot: no counted commit is in progress.
    pub(crate) async fn exclusive(&self) -> tokio::sync::RwLockWriteGuard<'_, ()> {
        self.gate.write().await
    }

    /// The recount's snapshot is fixed: tallies applied from now on are added to its count.
    pub(crate) fn snapshot_taken(&self) {
        self.lock().since_snapshot = Some(Tally::default());
    }

    /// The recount's result (`None` when it failed), which took `took`: the counts from now on.
    pub(crate) fn counted(&self, counted: Option<Tally>, took: Duration) -> Option<QueueStats> {
        let mut state = self.lock();
        state.took = took;
        let since = state.since_snapshot.take().unwrap_or_default();
        let mut counted = counted?;
        counted.add(&since);
        let stats = counted.stats();
        state.current = Some(counted);
        state.recounted = Some(Instant::now());
        Some(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_recount_runs_less_often() {
        let counters = Counters::new(Duration::from_millis(1));
        assert!(
            counters.read().is_none(),
            "no counts before the first recount"
        );
        counters.counted(Some(Tally::default()), Duration::ZERO);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(counters.read().map(|(_, stale)| stale), Some(true));
        // A recount that took 100 ms waits 5 s before the next one, not 1 ms.
        counters.counted(Some(Tally::default()), Duration::from_millis(100));
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(counters.read().map(|(_, stale)| stale), Some(false));
    }

    #[test]
    fn a_tally_adds_up_and_leaves_empty_states_out() {
        let mut a = Tally::default();
        a.pending(Priority::High, 3);
        a.in_flight(2);
        a.dead("pd", 1);
        let mut b = Tally::default();
        b.pending(Priority::High, -3);
        b.done(2);
        b.in_flight(-2);
        b.dead("pd", -1);
        b.dead("slack", 2);
        a.add(&b);
        let stats = a.stats();
        assert_eq!(stats.pending, 0);
        assert!(stats.pending_by_priority.is_empty());
        assert_eq!(stats.in_flight, 0);
        assert_eq!(stats.done, 2);
        assert_eq!(stats.dead, 2);
        assert_eq!(
            stats.dead_by_target.into_iter().collect::<Vec<_>>(),
            vec![("slack".to_owned(), 2)]
        );
    }
}
