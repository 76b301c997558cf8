//! The process-wide metrics recorder: a Prometheus exporter (rendered by the HTTP layer) and
//! the in-memory tap the stats collectors read.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// The process-wide Prometheus recorder (installed once, with every family described).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
            ];
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &buckets)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            // The exporter and the stats tap see every metric (collectors read the tap).
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            let fanout = metrics_util::layers::FanoutBuilder::default()
                .add_recorder(recorder)
                .add_recorder(metrics_tap().recorder())
                .build();
            match metrics::set_global_recorder(fanout) {
                Ok(()) => {
                    describe();
                    handle
                }
                // Another recorder is installed (only possible in tests): keep a private one.
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            }
        })
        .clone()
}

/// The in-memory tap of the service's own metrics that the stats collectors read.
pub fn metrics_tap() -> collect::Tap {
    static TAP: OnceLock<collect::Tap> = OnceLock::new();
    TAP.get_or_init(collect::Tap::new).clone()
}

/// Describes the families of every crate the service runs (each crate describes its own).
fn describe() {
    queue::metrics::describe();
    targets::metrics::describe();
    publish::metrics::describe();
    collect::metrics::describe();
    crate::metrics::describe();
    crate::registry::describe_vendor_metrics();
}
