//! Replay property: for random sequences of firing and resolved notifications of a few alerts
//! to one target that fails (leaving dead letters) or takes them, interleaved with replays
//! (bulk by target, bulk by ids, one by id), claims held in flight and recoveries of the target,
//! the last status the target received for each alert is the alert's newest status once
//! everything settles. Driven through the store's API with a clock of its own, so many cases
//! run in a few seconds: on SQLite, and a few on PostgreSQL.

use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use proptest::{
    prelude::*,
    test_runner::{Config, TestCaseError, TestRunner},
};
use publish::{AlertStatus, GroupContext};
use queue::{
    Completion, Failure, Job, JobFilter, JobState, JobStore, NewJob, SqlStore, StoreOptions,
};

const TARGET: &str = "t";
const ALERTS: usize = 3;
const LEASE: Duration = Duration::from_secs(3600);

/// What happens next.
#[derive(Debug, Clone)]
enum Step {
    /// Alertmanager sends alert `.0` in status `.1`.
    Notify(usize, AlertStatus),
    /// The target starts refusing every request for good (attempts end as dead letters).
    Break,
    /// The target takes requests again.
    Recover,
    /// Workers claim up to this many due jobs and hold them in flight.
    Claim(usize),
    /// The held jobs finish: delivered while the target is up, dead letters while it is down.
    Finish,
    /// Workers claim and finish due jobs until none is left.
    Drain,
    /// `POST /dlq/replay {"target": …}`.
    ReplayTarget,
    /// `POST /dlq/replay {"ids": […]}`, each picked by position among the target's dead
    /// letters (replayed ones too), newest first.
    ReplayIds(Vec<usize>),
    /// `POST /dlq/{id}/replay`, picked the same way.
    ReplayOne(usize),
}

fn step() -> impl Strategy<Value = Step> {
    let status = prop_oneof![Just(AlertStatus::Firing), Just(AlertStatus::Resolved)];
    prop_oneof![
        6 => (0..ALERTS, status).prop_map(|(a, s)| Step::Notify(a, s)),
        2 => Just(Step::Break),
        2 => Just(Step::Recover),
        1 => (1..3usize).prop_map(Step::Claim),
        1 => Just(Step::Finish),
        2 => Just(Step::Drain),
        2 => Just(Step::ReplayTarget),
        1 => prop::collection::vec(0..6usize, 1..4).prop_map(Step::ReplayIds),
        2 => (0..6usize).prop_map(Step::ReplayOne),
    ]
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(step(), 1..40)
}

/// The store, the target and what the target was told.
struct World {
    store: Arc<dyn JobStore>,
    now: DateTime<Utc>,
    up: bool,
    held: Vec<Job>,
    /// The last status the target took, by fingerprint.
    received: HashMap<String, AlertStatus>,
    /// The newest status Alertmanager sent, by fingerprint.
    newest: HashMap<String, AlertStatus>,
}

impl World {
    /// The clock moves on a second at every event, so that no two share a timestamp.
    fn tick(&mut self) -> DateTime<Utc> {
        self.now += chrono::Duration::seconds(1);
        self.now
    }

    async fn finish(&mut self, jobs: Vec<Job>) -> Result<(), TestCaseError> {
        for job in jobs {
            let at = self.tick();
            let completion = if self.up {
                self.received.insert(job.fingerprint.clone(), job.status);
                Completion::Delivered {
                    status_code: Some(200),
                    vendor_state: None,
                }
            } else {
                Completion::Dead {
                    failure: Failure {
                        kind: "server".into(),
                        reason: "HTTP 400: refused".into(),
                        status_code: Some(400),
                    },
                }
            };
            let recorded = self
                .store
                .complete(&job, completion, Duration::ZERO, at)
                .await
                .map_err(fail)?;
            prop_assert!(recorded, "job {} was in flight", job.id);
        }
        Ok(())
    }

    async fn drain(&mut self) -> Result<(), TestCaseError> {
        loop {
            let at = self.tick();
            let jobs = self.store.claim(10, at, LEASE).await.map_err(fail)?;
            if jobs.is_empty() {
                return Ok(());
            }
            self.finish(jobs).await?;
        }
    }

    /// The target's dead letters, newest first; `pick` wraps around.
    async fn dead_letter(&self, pick: usize) -> Result<Option<i64>, TestCaseError> {
        let dead = self
            .store
            .list(&JobFilter {
                state: Some(JobState::Dead),
                target: Some(TARGET.into()),
                limit: Some(1000),
                ..Default::default()
            })
            .await
            .map_err(fail)?;
        Ok((!dead.is_empty()).then(|| dead[pick % dead.len()].id))
    }

    async fn replay(&mut self, filter: JobFilter) -> Result<queue::ReplayReport, TestCaseError> {
        let at = self.tick();
        self.store.replay(&filter, at).await.map_err(fail)
    }

    async fn run(&mut self, step: &Step) -> Result<(), TestCaseError> {
        match step {
            Step::Notify(i, status) => {
                let a = crate::numbered_alert(*i, *status);
                self.newest.insert(a.fingerprint.to_string(), *status);
                let job = NewJob::new(
                    TARGET,
                    a,
                    GroupContext::default(),
                    Duration::from_secs(3600),
                );
                let at = self.tick();
                self.store.enqueue(vec![job], at).await.map_err(fail)?;
            }
            Step::Break => self.up = false,
            Step::Recover => self.up = true,
            Step::Claim(n) => {
                let at = self.tick();
                let jobs = self.store.claim(*n, at, LEASE).await.map_err(fail)?;
                self.held.extend(jobs);
            }
            Step::Finish => {
                let held = std::mem::take(&mut self.held);
                self.finish(held).await?;
            }
            Step::Drain => self.drain().await?,
            Step::ReplayTarget => {
                self.replay(JobFilter {
                    target: Some(TARGET.into()),
                    ..Default::default()
                })
                .await?;
            }
            Step::ReplayIds(picks) => {
                let mut ids = Vec::new();
                for pick in picks {
                    ids.extend(self.dead_letter(*pick).await?);
                }
                if !ids.is_empty() {
                    self.replay(JobFilter {
                        ids: Some(ids),
                        ..Default::default()
                    })
                    .await?;
                }
            }
            Step::ReplayOne(pick) => {
                if let Some(id) = self.dead_letter(*pick).await? {
                    self.replay(JobFilter {
                        ids: Some(vec![id]),
                        ..Default::default()
                    })
                    .await?;
                }
            }
        }
        Ok(())
    }

    /// The target recovers for good; what is held finishes, and what the dead-letter queue
    /// offers is replayed until it offers nothing more.
    async fn settle(&mut self) -> Result<(), TestCaseError> {
        self.up = true;
        let held = std::mem::take(&mut self.held);
        self.finish(held).await?;
        self.drain().await?;
        for _ in 0..10 {
            let report = self
                .replay(JobFilter {
                    target: Some(TARGET.into()),
                    ..Default::default()
                })
                .await?;
            self.drain().await?;
            if report.replayed.is_empty() {
                let stats = self.store.stats().await.map_err(fail)?;
                prop_assert_eq!((stats.pending, stats.in_flight), (0, 0));
                return Ok(());
            }
        }
        Err(TestCaseError::fail("replays did not settle"))
    }
}

fn fail(e: queue::StoreError) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

async fn check(store: Arc<dyn JobStore>, steps: &[Step]) -> Result<(), TestCaseError> {
    let mut world = World {
        store,
        now: Utc::now(),
        up: true,
        held: Vec::new(),
        received: HashMap::new(),
        newest: HashMap::new(),
    };
    for step in steps {
        world.run(step).await?;
    }
    world.settle().await?;
    for (fingerprint, newest) in &world.newest {
        prop_assert_eq!(
            world.received.get(fingerprint),
            Some(newest),
            "alert {}: the target's last status is not the alert's newest",
            fingerprint
        );
    }
    Ok(())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// `cases` random cases, or `PROPTEST_CASES` (for a longer run).
fn runner(cases: u32) -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

#[test]
fn the_target_ends_with_each_alerts_newest_status_sqlite() {
    let rt = runtime();
    let result = runner(128).run(&steps(), |steps| {
        rt.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            // Commits without a disk sync: the property is about order, not durability.
            let options = StoreOptions {
                synchronous_full: false,
                ..Default::default()
            };
            let store = SqlStore::open_sqlite(&dir.path().join("jobs.db"), options)
                .await
                .unwrap();
            check(Arc::new(store), &steps).await
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn the_target_ends_with_each_alerts_newest_status_postgres() {
    let rt = runtime();
    let result = runner(12).run(&steps(), |steps| {
        rt.block_on(async {
            let (store, _) = crate::conformance::postgres_store("a").await;
            check(store, &steps).await
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
