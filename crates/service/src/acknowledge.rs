//! Acknowledging an alert at its PagerDuty targets, through the queue: the acknowledgement is a
//! job of the alert's own (target, fingerprint) line, so it goes only after the notifications
//! queued before it (never before the trigger) and a later resolve replaces it while it waits.

use publish::{AlertStatus, Fingerprint, TargetType};
use queue::{JobFilter, NewJob};
use serde::Serialize;

use crate::{Error, ErrorKind, Result, Service};

/// What an acknowledgement queued.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AckReport {
    /// The alert.
    pub fingerprint: String,
    /// Targets an `acknowledge` is queued for, with the job ids (same order).
    pub targets: Vec<String>,
    /// Ids of the queued jobs.
    pub jobs: Vec<i64>,
    /// PagerDuty targets left out, with why.
    pub skipped: Vec<AckSkipped>,
}

/// A target the acknowledgement does not go to.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AckSkipped {
    /// Target name.
    pub target: String,
    /// Why (`never_notified`, `resolved`).
    pub reason: String,
}

impl Service {
    /// Queues `acknowledge` for the alert `fingerprint` at every enabled PagerDuty target that
    /// was sent the alert and has not been told it resolved. When there is none:
    /// [`ErrorKind::NotFound`] (no PagerDuty target was sent it) or [`ErrorKind::Conflict`] (it
    /// is resolved wherever it was sent).
    pub async fn acknowledge(&self, fingerprint: &str) -> Result<AckReport> {
        let fingerprint: Fingerprint = fingerprint.parse().map_err(Error::invalid)?;
        let specs = self.registry.specs();
        let mut jobs = Vec::new();
        let mut skipped = Vec::new();
        for spec in specs
            .iter()
            .filter(|s| s.target.enabled && s.target.kind == TargetType::Pagerduty)
        {
            let target = spec.target.name.to_string();
            let newest = self
                .store
                .list(&JobFilter {
                    target: Some(target.clone()),
                    fingerprint: Some(fingerprint.to_string()),
                    limit: Some(1),
                    ..Default::default()
                })
                .await
                .map_err(|e| Error::store(&e))?;
            let reason = match newest.into_iter().next() {
                None => "never_notified",
                Some(job) if job.status == AlertStatus::Resolved => "resolved",
                Some(job) => match job.payload {
                    Some(payload) => {
                        jobs.push(NewJob::acknowledge(
                            target.as_str(),
                            payload.alert,
                            payload.context,
                        ));
                        continue;
                    }
                    None => "never_notified",
                },
            };
            skipped.push(AckSkipped {
                target,
                reason: reason.to_owned(),
            });
        }
        if jobs.is_empty() {
            let resolved = skipped.iter().any(|s| s.reason == "resolved");
            let details = serde_json::json!({ "skipped": skipped });
            return Err(if resolved {
                Error::new(
                    ErrorKind::Conflict,
                    format!("alert {fingerprint} is resolved at every PagerDuty target that was sent it: nothing to acknowledge"),
                )
            } else {
                Error::not_found(format!(
                    "no PagerDuty target was sent alert {fingerprint}"
                ))
            }
            .with_details(details));
        }
        let targets: Vec<String> = jobs.iter().map(|j| j.target.clone()).collect();
        let report = self.enqueue_now(jobs).await?;
        Ok(AckReport {
            fingerprint: fingerprint.to_string(),
            targets,
            jobs: report.ids,
            skipped,
        })
    }
}
