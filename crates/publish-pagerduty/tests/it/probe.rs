//! The health probe has no side effects: it never sends an event.

use std::time::Duration;

use publish::Publisher;
use serde_json::json;
use testkit::PagerDutySim;

use crate::support;

#[tokio::test]
async fn http_probe_connects_and_sends_nothing() {
    let sim = PagerDutySim::start().await;
    let pd = support::publisher("pd-probe", &sim.url(), json!({}));
    let probe = pd.probe().await;
    assert!(probe.ok, "{probe:?}");
    assert!(
        probe.detail.starts_with("connected to 127.0.0.1:"),
        "{probe:?}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(sim.requests().is_empty(), "the probe sent a request");
}

#[tokio::test]
async fn https_probe_needs_a_tls_handshake() {
    // the simulator speaks plain HTTP: a TLS handshake with it fails, and no event arrives
    let sim = PagerDutySim::start().await;
    let pd = support::publisher(
        "pd-probe-tls",
        &format!("https://localhost:{}", sim.addr().port()),
        json!({"timeout": "2s"}),
    );
    let probe = pd.probe().await;
    assert!(!probe.ok, "{probe:?}");
    assert!(
        probe.detail.contains("TLS handshake with localhost:"),
        "{probe:?}"
    );
    assert!(sim.requests().is_empty(), "the probe sent a request");
}

#[tokio::test]
async fn probe_of_a_closed_port_fails() {
    let port = testkit::free_port();
    let pd = support::publisher(
        "pd-probe-down",
        &format!("https://127.0.0.1:{port}"),
        json!({"timeout": "2s"}),
    );
    let probe = pd.probe().await;
    assert!(!probe.ok);
    assert!(probe.detail.contains("failed"), "{probe:?}");
}
