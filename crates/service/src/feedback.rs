//! Health feedback: every real delivery — queued, parallel or a test — is one result for the
//! target's passive health and for the Alertmanager-style notification counters.

use std::{sync::Arc, time::Duration};

use queue::{DeliveryObserver, Observation};

use crate::Registry;

/// Feeds delivery outcomes into the health book and the notification counters
/// (`alert_publisher_notifications_total`, `…_failed_total{reason}`,
/// `…_notification_latency_seconds`, labelled by target and integration).
#[derive(Debug)]
pub struct Feedback {
    health: Arc<targets::HealthBook>,
    registry: Arc<Registry>,
}

impl Feedback {
    /// Feedback into `health`, with integrations looked up in `registry`.
    pub fn new(health: Arc<targets::HealthBook>, registry: Arc<Registry>) -> Self {
        Self { health, registry }
    }

    /// Records one delivery result for the target's health. A permanent failure (a bad
    /// request for one alert) says nothing about the target's health: pass `target_fault`
    /// false for it.
    pub fn record_health(
        health: &targets::HealthBook,
        target: &str,
        success: bool,
        target_fault: bool,
        latency: Duration,
        error_kind: Option<String>,
    ) {
        if success || target_fault {
            health.record(
                target,
                success,
                latency,
                error_kind,
                targets::CheckSource::Delivery,
                chrono::Utc::now(),
            );
        }
    }
}

impl DeliveryObserver for Feedback {
    fn observe(&self, o: &Observation) {
        Self::record_health(
            &self.health,
            &o.target,
            o.success,
            o.target_fault,
            o.latency,
            o.error_kind.clone(),
        );
        let specs = self.registry.specs();
        let integration = specs
            .iter()
            .find(|s| s.target.name.as_str() == o.target)
            .map_or("unknown", |s| s.target.kind.as_str());
        metrics::counter!(crate::metrics::NOTIFICATIONS_TOTAL, "target" => o.target.clone(), "integration" => integration).increment(1);
        metrics::histogram!(crate::metrics::NOTIFICATION_LATENCY_SECONDS, "target" => o.target.clone(), "integration" => integration).record(o.latency.as_secs_f64());
        if !o.success {
            let reason = o.error_kind.clone().unwrap_or_else(|| "other".to_owned());
            metrics::counter!(crate::metrics::NOTIFICATIONS_FAILED_TOTAL, "target" => o.target.clone(), "integration" => integration, "reason" => reason).increment(1);
        }
    }
}
