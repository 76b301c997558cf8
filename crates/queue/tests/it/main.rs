//! Store conformance suite, run against the embedded SQLite store and a real PostgreSQL 15.

mod conformance;
mod handoff;
mod history;
mod ordering;
mod replay_story;

use std::{sync::Arc, time::Duration};

use publish::{Alert, AlertStatus, Fingerprint, Labels, ProbeResult, Publisher};
use queue::{Publishers, TargetPolicy};

/// Every target is the one publisher, under one policy.
#[derive(Debug)]
struct One(Arc<dyn Publisher>, Arc<TargetPolicy>);

impl Publishers for One {
    fn publisher(&self, _: &str) -> Option<Arc<dyn Publisher>> {
        Some(self.0.clone())
    }
    fn policy(&self, _: &str) -> Arc<TargetPolicy> {
        self.1.clone()
    }
}

/// A probe answer of a healthy test target.
fn healthy() -> ProbeResult {
    ProbeResult {
        ok: true,
        latency: Duration::ZERO,
        detail: String::new(),
    }
}

/// Alert `A{i}` (its only label) with `status`.
fn numbered_alert(i: usize, status: AlertStatus) -> Alert {
    let labels: Labels = [("alertname".to_owned(), format!("A{i}"))]
        .into_iter()
        .collect();
    alert_of(labels, status, None)
}

/// An alert with these labels (its fingerprint theirs), started 2026-11-23T10:00:00Z.
fn alert_of(
    labels: Labels,
    status: AlertStatus,
    ends_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Alert {
    Alert {
        status,
        fingerprint: Fingerprint::from_labels(&labels),
        labels,
        annotations: Labels::new(),
        starts_at: "2026-11-23T10:00:00Z".parse().unwrap_or_default(),
        ends_at,
        generator_url: String::new(),
    }
}
