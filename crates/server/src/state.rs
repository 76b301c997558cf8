//! The state every handler shares.

use std::sync::{Arc, atomic::AtomicBool};

use metrics_exporter_prometheus::PrometheusHandle;
use service::Service;

/// Shared state of the HTTP handlers.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The running service.
    pub service: Arc<Service>,
    /// Prometheus exposition.
    pub metrics: PrometheusHandle,
    /// Largest accepted body.
    pub max_body_bytes: usize,
    /// False once shutdown has begun.
    pub ready: Arc<AtomicBool>,
}

impl AppState {
    /// The state over `service`, ready, with the process-wide metrics recorder.
    pub fn new(service: Arc<Service>, max_body_bytes: usize) -> Self {
        Self {
            service,
            metrics: crate::metrics::handle(),
            max_body_bytes,
            ready: Arc::new(AtomicBool::new(true)),
        }
    }
}
