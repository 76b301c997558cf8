//! What discovery found, and how the last refresh went.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::{
    TargetSpec,
    metrics::{
        DISCOVERY_DURATION_SECONDS, DISCOVERY_ERRORS_TOTAL, DISCOVERY_EVENTS_TOTAL,
        DISCOVERY_LAST_SUCCESS_TIMESTAMP, DISCOVERY_TARGETS, REFRESH_DURATION_SECONDS,
        REFRESH_ERRORS_TOTAL, REFRESH_IN_PROGRESS, REFRESH_LAST_SUCCESS_TIMESTAMP,
        REFRESH_LAST_SUCCESS_TIMESTAMP_SECONDS, REFRESH_TOTAL,
    },
};

/// A target definition that was skipped, with the reason (free of secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct InvalidTarget {
    /// Where it was defined: a file path or `namespace/secret`.
    pub source: String,
    /// Why it was skipped.
    pub error: String,
}

/// The targets one source currently defines.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Discovered {
    /// Valid definitions.
    pub specs: Vec<TargetSpec>,
    /// Skipped definitions.
    pub invalid: Vec<InvalidTarget>,
}

/// How the refreshes of one source have gone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RefreshStatus {
    /// `file` or `kubernetes`.
    pub source: String,
    /// When the last successful refresh finished.
    pub last_refresh: Option<DateTime<Utc>>,
    /// When the next periodic refresh (or retry) is due.
    pub next_refresh: Option<DateTime<Utc>>,
    /// How long the last refresh took, in milliseconds.
    pub last_duration_ms: Option<u64>,
    /// The same, to the nanosecond (a file reload takes well under a millisecond).
    #[serde(skip)]
    pub last_duration: Option<Duration>,
    /// A refresh is running now.
    pub in_progress: bool,
    /// Valid targets in the current set.
    pub valid: usize,
    /// Skipped definitions in the current set.
    pub invalid: usize,
    /// The last refresh error (`None` once a refresh succeeded again).
    pub last_error: Option<String>,
    /// Failed refreshes in a row.
    pub consecutive_failures: u32,
    /// Watch events applied since start.
    pub events: u64,
}

/// Shared view of a running source: its current set, its status, and a way to ask for a
/// refresh now.
#[derive(Debug, Clone)]
pub struct SourceHandle {
    /// The current set (the last good one while refreshes fail).
    pub targets: watch::Receiver<Discovered>,
    status: Arc<Mutex<RefreshStatus>>,
    refresh: Arc<Notify>,
}

impl SourceHandle {
    pub(crate) fn new(source: &str) -> (Self, SourceDriver) {
        let (tx, rx) = watch::channel(Discovered::default());
        let status = Arc::new(Mutex::new(RefreshStatus {
            source: source.to_owned(),
            ..Default::default()
        }));
        let refresh = Arc::new(Notify::new());
        (
            Self {
                targets: rx,
                status: status.clone(),
                refresh: refresh.clone(),
            },
            SourceDriver {
                source: source.to_owned(),
                tx,
                status,
                refresh,
            },
        )
    }

    /// How refreshes have gone.
    pub fn status(&self) -> RefreshStatus {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Asks for a full refresh now.
    pub fn refresh(&self) {
        self.refresh.notify_one();
    }
}

/// The writing side of a [`SourceHandle`].
#[derive(Debug)]
pub(crate) struct SourceDriver {
    pub(crate) source: String,
    tx: watch::Sender<Discovered>,
    status: Arc<Mutex<RefreshStatus>>,
    pub(crate) refresh: Arc<Notify>,
}

impl SourceDriver {
    fn with_status(&self, f: impl FnOnce(&mut RefreshStatus)) {
        f(&mut self.status.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// Publishes a new set (only when it differs).
    pub(crate) fn publish(&self, set: Discovered) {
        let (valid, invalid) = (set.specs.len(), set.invalid.len());
        self.with_status(|s| {
            s.valid = valid;
            s.invalid = invalid;
        });
        metrics::gauge!(DISCOVERY_TARGETS, "source" => self.source.clone(), "state" => "valid")
            .set(valid as f64);
        metrics::gauge!(DISCOVERY_TARGETS, "source" => self.source.clone(), "state" => "invalid")
            .set(invalid as f64);
        self.tx.send_if_modified(|current| {
            if *current == set {
                false
            } else {
                *current = set;
                true
            }
        });
    }

    /// A refresh starts.
    pub(crate) fn starting(&self) {
        metrics::gauge!(REFRESH_IN_PROGRESS).set(1.0);
        self.with_status(|s| s.in_progress = true);
    }

    /// A periodic check found nothing to refresh; the next one is due in `next`.
    pub(crate) fn unchanged(&self, next: Duration) {
        self.with_status(|s| {
            s.next_refresh = chrono::Duration::from_std(next)
                .ok()
                .map(|n| Utc::now() + n);
        });
    }

    pub(crate) fn refreshed(&self, took: Duration, next: Option<Duration>) {
        metrics::gauge!(REFRESH_IN_PROGRESS).set(0.0);
        metrics::counter!(REFRESH_TOTAL, "source" => self.source.clone(), "result" => "success", "status" => "success")
            .increment(1);
        metrics::histogram!(REFRESH_DURATION_SECONDS, "source" => self.source.clone(), "status" => "success")
            .record(took.as_secs_f64());
        metrics::histogram!(DISCOVERY_DURATION_SECONDS, "operation" => self.source.clone())
            .record(took.as_secs_f64());
        let now = Utc::now().timestamp() as f64;
        metrics::gauge!(REFRESH_LAST_SUCCESS_TIMESTAMP_SECONDS, "source" => self.source.clone())
            .set(now);
        metrics::gauge!(REFRESH_LAST_SUCCESS_TIMESTAMP).set(now);
        metrics::gauge!(DISCOVERY_LAST_SUCCESS_TIMESTAMP).set(now);
        self.with_status(|s| {
            s.in_progress = false;
            s.last_refresh = Some(Utc::now());
            s.last_duration_ms = Some(took.as_millis() as u64);
            s.last_duration = Some(took);
            s.next_refresh = next
                .and_then(|n| chrono::Duration::from_std(n).ok())
                .map(|n| Utc::now() + n);
            s.last_error = None;
            s.consecutive_failures = 0;
        });
    }

    pub(crate) fn failed(&self, reason: &'static str, error: String, retry_in: Duration) {
        metrics::gauge!(REFRESH_IN_PROGRESS).set(0.0);
        metrics::counter!(REFRESH_TOTAL, "source" => self.source.clone(), "result" => "failure", "status" => "failed")
            .increment(1);
        metrics::counter!(REFRESH_ERRORS_TOTAL, "source" => self.source.clone(), "reason" => reason, "error_type" => reason).increment(1);
        warn!(source = %self.source, error = %error, retry_in_ms = retry_in.as_millis() as u64, "target refresh failed; keeping the last good target set");
        self.with_status(|s| {
            s.in_progress = false;
            s.last_error = Some(error);
            s.consecutive_failures += 1;
            s.next_refresh = chrono::Duration::from_std(retry_in)
                .ok()
                .map(|n| Utc::now() + n);
        });
    }

    pub(crate) fn event(&self, kind: &'static str) {
        metrics::counter!(DISCOVERY_EVENTS_TOTAL, "source" => self.source.clone(), "event" => kind)
            .increment(1);
        self.with_status(|s| s.events += 1);
    }
}

/// Logs and counts skipped definitions.
pub(crate) fn report_invalid(source: &str, invalid: &[InvalidTarget]) {
    for i in invalid {
        warn!(source = %i.source, error = %i.error, "target definition skipped");
        metrics::counter!(DISCOVERY_ERRORS_TOTAL, "source" => source.to_owned(), "reason" => "invalid_definition", "error_type" => "validate").increment(1);
    }
}

/// Watches a targets file or directory and re-reads it when its content changes (checked every
/// `interval`). A change that does not load keeps the last good set and records the error.
pub fn watch_file(path: PathBuf, interval: Duration, shutdown: CancellationToken) -> SourceHandle {
    let (handle, driver) = SourceHandle::new("file");
    let mut last: Option<Vec<(PathBuf, Vec<u8>)>> = None;
    let mut load_once = move |driver: &SourceDriver, force: bool| {
        let started = Instant::now();
        let content = snapshot(&path);
        if !force && content.is_some() && content == last {
            driver.unchanged(interval);
            return;
        }
        driver.starting();
        match crate::load(&path) {
            Ok(specs) => {
                if last.is_some() {
                    info!(path = %path.display(), targets = specs.len(), "targets file changed; reloaded");
                }
                driver.event("reload");
                driver.publish(Discovered {
                    specs,
                    invalid: Vec::new(),
                });
                driver.refreshed(started.elapsed(), Some(interval));
            }
            Err(e) => {
                driver.failed("invalid_definition", e.to_string(), interval);
            }
        }
        last = content;
    };
    load_once(&driver, true);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(interval) => load_once(&driver, false),
                () = driver.refresh.notified() => load_once(&driver, true),
            }
        }
    });
    handle
}

/// Names and bytes of the files that make up the targets definition, to notice changes.
fn snapshot(path: &std::path::Path) -> Option<Vec<(PathBuf, Vec<u8>)>> {
    let meta = std::fs::metadata(path).ok()?;
    let mut files = if meta.is_dir() {
        std::fs::read_dir(path)
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect::<Vec<_>>()
    } else {
        vec![path.to_owned()]
    };
    files.sort();
    Some(
        files
            .into_iter()
            .filter_map(|f| std::fs::read(&f).ok().map(|b| (f, b)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_shows_a_refresh_in_progress_and_how_it_ended() {
        let (handle, driver) = SourceHandle::new("file");
        assert!(!handle.status().in_progress);
        driver.starting();
        assert!(handle.status().in_progress);
        driver.refreshed(Duration::from_micros(300), Some(Duration::from_secs(5)));
        let s = handle.status();
        assert!(!s.in_progress);
        assert_eq!(s.last_duration, Some(Duration::from_micros(300)));
        assert_eq!(s.last_duration_ms, Some(0));
        let next = s.next_refresh.unwrap() - s.last_refresh.unwrap();
        assert!((4900..=5000).contains(&next.num_milliseconds()), "{next}");
        driver.starting();
        driver.failed(
            "invalid_definition",
            "bad".to_owned(),
            Duration::from_secs(1),
        );
        let s = handle.status();
        assert!(!s.in_progress);
        assert_eq!(s.last_error.as_deref(), Some("bad"));
        driver.unchanged(Duration::from_secs(60));
        let ahead = handle.status().next_refresh.unwrap() - Utc::now();
        assert!(
            ahead.num_seconds() >= 59,
            "a check pushes the next one out: {ahead}"
        );
    }

    #[tokio::test]
    async fn file_hot_reload_keeps_last_good_set() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("targets.yaml");
        std::fs::write(&file, "- name: a\n  type: webhook\n  url: http://x\n").unwrap();
        let shutdown = CancellationToken::new();
        let mut h = watch_file(file.clone(), Duration::from_millis(20), shutdown.clone());
        let names = |d: &Discovered| -> Vec<String> {
            d.specs.iter().map(|s| s.target.name.to_string()).collect()
        };
        assert_eq!(names(&h.targets.borrow_and_update()), ["a"]);
        std::fs::write(
            &file,
            "- name: a\n  type: webhook\n  url: http://x\n- name: b\n  type: webhook\n  url: http://y\n",
        )
        .unwrap();
        tokio::time::timeout(Duration::from_secs(5), h.targets.changed())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(names(&h.targets.borrow_and_update()), ["a", "b"]);
        std::fs::write(&file, "- name: a\n  type: email\n").unwrap();
        tokio::time::timeout(Duration::from_secs(5), async {
            while h.status().last_error.is_none() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap();
        let status = h.status();
        assert!(status.last_error.unwrap().contains("field `type`"));
        assert_eq!(names(&h.targets.borrow()), ["a", "b"], "last good set kept");
        shutdown.cancel();
    }
}
