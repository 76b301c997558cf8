//! The ingest path: route each alert to the targets that want it, apply the delivery policy,
//! store one job per (alert × target) durably, wake the engine. Also explicit submission and
//! the dead-letter operations that put jobs back.

use std::time::Duration;

use chrono::Utc;
use publish::{Alert, GroupContext};
use queue::{FilteredTarget, JobFilter, NewJob, NewReceipt, Publishers};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::{Error, ErrorKind, Result, Service};

/// Where alerts came from (a metric label and a log field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `POST /webhook`: an Alertmanager notification.
    Webhook,
    /// `POST /api/v2/alerts`: the Prometheus/Alertmanager alert API.
    Api,
}

impl Source {
    /// Its label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Webhook => "webhook",
            Source::Api => "api",
        }
    }
}

/// The history's record of `alert` received from `source` in `context`.
fn receipt(
    alert: &Alert,
    source: &str,
    context: &GroupContext,
    filtered: Vec<FilteredTarget>,
) -> NewReceipt {
    NewReceipt {
        fingerprint: alert.fingerprint.to_string(),
        alertname: alert.name().to_owned(),
        status: alert.status,
        labels: alert.labels.clone(),
        annotations: alert.annotations.clone(),
        source: source.to_owned(),
        receiver: context.receiver.clone(),
        group_key: context.group_key.clone(),
        filtered,
    }
}

/// What ingest answers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct IngestReport {
    /// Always `accepted` on 2xx: every job below is durably stored.
    pub status: String,
    /// Alerts in the request.
    pub alerts: usize,
    /// Jobs stored (alert × target).
    pub jobs: usize,
    /// Unchanged notifications inside the repeat interval: nothing to send.
    pub deduplicated: usize,
    /// Older waiting jobs replaced by these.
    pub superseded: usize,
    /// Alerts no target wanted.
    pub unrouted: usize,
}

/// What an explicit submission stored.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SubmitReport {
    /// Always true (the original's field).
    pub success: bool,
    /// `Alert submitted to N target(s)` (the original's field).
    pub message: String,
    /// `<fingerprint>:<target>` per target (the original's job ids).
    pub job_ids: Vec<String>,
    /// Ids of the stored jobs.
    pub jobs: Vec<i64>,
    /// Targets the alert goes to.
    pub targets: Vec<String>,
    /// Jobs not stored because the same notification is already waiting.
    pub deduplicated: usize,
}

impl Service {
    /// Routes and durably stores `alerts`; answers once every job is committed. A store that
    /// cannot take them is [`ErrorKind::Unavailable`]: the sender should retry.
    pub async fn ingest(
        &self,
        source: Source,
        alerts: Vec<Alert>,
        context: GroupContext,
    ) -> Result<IngestReport> {
        let source = source.as_str();
        metrics::counter!(crate::metrics::ALERTS_RECEIVED_TOTAL, "source" => source)
            .increment(alerts.len() as u64);
        let specs = self.registry.specs();
        let mut jobs = Vec::new();
        let mut receipts = Vec::with_capacity(alerts.len());
        let mut unrouted = 0;
        let count = alerts.len();
        for alert in alerts {
            let before = jobs.len();
            let mut filtered = Vec::new();
            for spec in specs.iter() {
                if let Some(reason) = targets::explain(spec, &alert) {
                    filtered.push(FilteredTarget {
                        target: spec.target.name.to_string(),
                        reason,
                    });
                    continue;
                }
                let repeat = self
                    .registry
                    .policy(spec.target.name.as_str())
                    .repeat_interval;
                jobs.push(
                    NewJob::new(
                        spec.target.name.as_str(),
                        alert.clone(),
                        context.clone(),
                        repeat,
                    )
                    .with_receipt(receipts.len()),
                );
            }
            if jobs.len() == before {
                unrouted += 1;
            }
            receipts.push(receipt(&alert, source, &context, filtered));
        }
        metrics::counter!(crate::metrics::ALERTS_UNROUTED_TOTAL).increment(unrouted as u64);
        let report = if receipts.is_empty() {
            queue::EnqueueReport::default()
        } else {
            self.store
                .enqueue_with_receipts(receipts, jobs, Utc::now())
                .await
                .map_err(|e| {
                warn!(error = %e, "cannot store jobs; answering 503 so the sender retries");
                metrics::counter!(crate::metrics::INGEST_FAILURES_TOTAL, "reason" => "store")
                    .increment(1);
                metrics::counter!(crate::metrics::SUBMISSIONS_REJECTED_TOTAL).increment(1);
                Error::new(
                    ErrorKind::Unavailable,
                    format!("alerts not accepted, the job store is unavailable; retry later ({e})"),
                )
            })?
        };
        queue::metrics::record_enqueue(&report);
        metrics::counter!(crate::metrics::JOBS_SKIPPED_TOTAL).increment(report.deduplicated as u64);
        if report.inserted > 0 {
            self.engine.wake();
        }
        info!(
            source,
            alerts = count,
            jobs = report.inserted,
            deduplicated = report.deduplicated,
            unrouted,
            "alerts accepted"
        );
        Ok(IngestReport {
            status: "accepted".to_owned(),
            alerts: count,
            jobs: report.inserted,
            deduplicated: report.deduplicated,
            superseded: report.superseded,
            unrouted,
        })
    }

    /// Counts a payload that could not be parsed.
    pub fn rejected(&self, source: Source, error: &dyn std::fmt::Display) {
        metrics::counter!(crate::metrics::INGEST_FAILURES_TOTAL, "reason" => "invalid")
            .increment(1);
        metrics::counter!(crate::metrics::SUBMISSIONS_REJECTED_TOTAL).increment(1);
        warn!(source = source.as_str(), error = %error, "payload rejected");
    }

    /// The enabled targets named, in order; unknown or disabled names are errors.
    pub fn named_targets(&self, names: &[String]) -> Result<Vec<String>> {
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            match self.registry.spec(name) {
                Some(spec) if spec.target.enabled => out.push(name.clone()),
                Some(_) => {
                    return Err(Error::new(
                        ErrorKind::TargetDisabled,
                        format!("target {name:?} is disabled"),
                    ));
                }
                None => return Err(Error::not_found(format!("no target {name:?}"))),
            }
        }
        Ok(out)
    }

    /// Stores one alert for durable delivery to `targets` (the routing filters decide when
    /// none are named). Not subject to the repeat interval.
    pub async fn submit(&self, alert: Alert, targets: Option<&[String]>) -> Result<SubmitReport> {
        let names = match targets {
            Some([]) => {
                return Err(Error::invalid(
                    "targets: name at least one target, or leave it out to route by filters",
                ));
            }
            Some(names) => self.named_targets(names)?,
            None => targets::route(&self.registry.specs(), &alert)
                .map(|s| s.target.name.to_string())
                .collect(),
        };
        // Filtered out: the targets not named, or those the routing filters turned away.
        let filtered: Vec<FilteredTarget> = match targets {
            Some(_) => Vec::new(),
            None => self
                .registry
                .specs()
                .iter()
                .filter_map(|spec| {
                    targets::explain(spec, &alert).map(|reason| FilteredTarget {
                        target: spec.target.name.to_string(),
                        reason,
                    })
                })
                .collect(),
        };
        if names.is_empty() {
            return Err(Error::new(
                ErrorKind::NoMatchingTarget,
                "no enabled target accepts this alert",
            ));
        }
        let context = GroupContext {
            receiver: "api".to_owned(),
            ..Default::default()
        };
        // An explicit submission is always sent: no repeat-interval suppression.
        let jobs = names
            .iter()
            .map(|n| {
                NewJob::new(n.as_str(), alert.clone(), context.clone(), Duration::ZERO)
                    .with_receipt(0)
            })
            .collect();
        let receipts = vec![receipt(&alert, "submit", &context, filtered)];
        let report = self.enqueue_recorded(receipts, jobs).await?;
        Ok(SubmitReport {
            success: true,
            message: format!("Alert submitted to {} target(s)", names.len()),
            job_ids: names
                .iter()
                .map(|n| format!("{}:{n}", alert.fingerprint))
                .collect(),
            jobs: report.ids,
            targets: names,
            deduplicated: report.deduplicated,
        })
    }

    /// Stores jobs asked for explicitly (submit, acknowledge), counts them and wakes the engine.
    pub(crate) async fn enqueue_now(&self, jobs: Vec<NewJob>) -> Result<queue::EnqueueReport> {
        self.enqueue_recorded(Vec::new(), jobs).await
    }

    /// [`Service::enqueue_now`], recording `receipts` in the history with the jobs.
    async fn enqueue_recorded(
        &self,
        receipts: Vec<NewReceipt>,
        jobs: Vec<NewJob>,
    ) -> Result<queue::EnqueueReport> {
        let report = self
            .store
            .enqueue_with_receipts(receipts, jobs, Utc::now())
            .await
            .map_err(|e| Error::store(&e))?;
        queue::metrics::record_enqueue(&report);
        metrics::counter!(crate::metrics::JOBS_SKIPPED_TOTAL).increment(report.deduplicated as u64);
        self.engine.wake();
        Ok(report)
    }

    /// Replays one dead letter as a new pending job. Unknown (or already replayed) is
    /// [`ErrorKind::NotFound`]; a newer notification for the alert and target (a later job
    /// waiting, a newer dead letter, or one delivered after this one died) is
    /// [`ErrorKind::ReplayRefused`], whose message names it.
    pub async fn replay_one(&self, id: i64) -> Result<queue::ReplayReport> {
        let report = self
            .store
            .replay(
                &JobFilter {
                    ids: Some(vec![id]),
                    ..Default::default()
                },
                Utc::now(),
            )
            .await
            .map_err(|e| Error::store(&e))?;
        if let Some((_, why)) = report.skipped.first() {
            let kind = if why.starts_with("no dead letter") {
                ErrorKind::NotFound
            } else {
                ErrorKind::ReplayRefused
            };
            return Err(Error::new(kind, format!("dead letter {id}: {why}")));
        }
        report.record();
        self.engine.wake();
        info!(job = id, "dead letter replayed");
        Ok(report)
    }

    /// Replays every dead letter `filter` selects: of each alert and target, the newest (see
    /// [`queue::JobStore::replay`]).
    pub async fn replay(&self, filter: &JobFilter) -> Result<queue::ReplayReport> {
        let report = self
            .store
            .replay(filter, Utc::now())
            .await
            .map_err(|e| Error::store(&e))?;
        report.record();
        self.engine.wake();
        info!(
            replayed = report.replayed.len(),
            skipped = report.skipped.len(),
            "dead letters replayed"
        );
        Ok(report)
    }

    /// Deletes the dead letters `filter` selects; how many.
    pub async fn purge(&self, filter: &JobFilter) -> Result<u64> {
        let purged = self
            .store
            .purge(filter)
            .await
            .map_err(|e| Error::store(&e))?;
        info!(purged, "dead letters purged");
        Ok(purged)
    }

    /// Sets the queue gauges (`…_queue_size{priority}`, `…_jobs_in_flight`, `…_dlq_size`)
    /// from the store's counts; a store that does not answer leaves them as they were.
    pub async fn export_queue_gauges(&self) {
        if let Ok(stats) = self.store.stats().await {
            queue::metrics::export_stats(&stats);
        }
    }

    /// Job counts by state with the workers and every target's circuit breaker.
    pub async fn queue_stats(&self) -> Result<QueueStatus> {
        let counts = self.store.stats().await.map_err(|e| Error::store(&e))?;
        Ok(QueueStatus {
            counts,
            workers: Workers {
                active: self.engine.active_workers(),
                concurrency: self.engine.concurrency(),
            },
            circuit_breakers: self.engine.breakers().into_iter().collect(),
        })
    }
}

/// Job counts, workers and circuit breakers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QueueStatus {
    /// Counts by state and priority.
    #[serde(flatten)]
    pub counts: queue::QueueStats,
    /// Delivery workers.
    pub workers: Workers,
    /// Circuit breaker of every target that has one.
    pub circuit_breakers: std::collections::BTreeMap<String, queue::BreakerState>,
}

/// Delivery workers.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct Workers {
    /// Busy now.
    pub active: usize,
    /// At most.
    pub concurrency: usize,
}
