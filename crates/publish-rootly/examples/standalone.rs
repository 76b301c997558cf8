//! Uses the Rootly publisher on its own, outside the service: probe, fire, re-fire, resolve.
//!
//! ```text
//! cargo run -p publish-rootly --example standalone                      # against an in-process simulated Rootly
//! cargo run -p publish-rootly --example standalone -- https://api.rootly.com   # the real one; key in ROOTLY_API_KEY
//! ```
#![allow(clippy::print_stdout)] // an example talks to its user

use publish::{Alert, AlertStatus, Delivery, GroupContext, Labels, Publisher, Secret};
use publish_rootly::{RootlyConfig, RootlyPublisher, RootlyState};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Against Rootly itself when a base URL is given; otherwise against the simulator.
    let (base_url, api_key, _sim) = match std::env::args().nth(1) {
        Some(url) => (url, std::env::var("ROOTLY_API_KEY")?, None),
        None => {
            let sim = testkit::RootlySim::start().await;
            (
                sim.url(),
                testkit::RootlySim::DEFAULT_KEY.to_owned(),
                Some(sim),
            )
        }
    };
    let config = RootlyConfig::new("example", &base_url, Secret::new(api_key))?;
    let publisher = RootlyPublisher::new(config)?;

    let probe = publisher.probe().await;
    println!(
        "probe: ok={} in {:?}: {}",
        probe.ok, probe.latency, probe.detail
    );

    let labels: Labels = [
        ("alertname", "ExampleDiskFull"),
        ("instance", "db-1:9100"),
        ("severity", "warning"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let mut alert = Alert {
        status: AlertStatus::Firing,
        fingerprint: publish::Fingerprint::from_labels(&labels),
        labels,
        annotations: [(
            "summary".to_owned(),
            "Disk /var 95% full on db-1".to_owned(),
        )]
        .into_iter()
        .collect(),
        starts_at: chrono::Utc::now(),
        ends_at: None,
        generator_url: "http://prometheus.example:9090/graph?g0.expr=disk".to_owned(),
    };
    let mut delivery = Delivery {
        id: "example-1".to_owned(),
        alert: alert.clone(),
        context: GroupContext::default(),
        attempt: 1,
        vendor_state: None,
        action: Default::default(),
    };

    // Fire: Rootly creates the alert; keep the state it returns (the service stores it).
    let fired = publisher.publish(&delivery).await?;
    let state: RootlyState =
        serde_json::from_value(fired.vendor_state.clone().unwrap_or_default())?;
    println!(
        "fired: HTTP {:?}, Rootly alert {} is {:?}",
        fired.status_code, state.alert_id, state.status
    );

    // Fire again with the state: nothing is sent, no duplicate.
    delivery.vendor_state = fired.vendor_state.clone();
    let again = publisher.publish(&delivery).await?;
    println!("fired again: sent nothing (HTTP {:?})", again.status_code);

    // Resolve with the state.
    alert.status = AlertStatus::Resolved;
    alert.ends_at = Some(chrono::Utc::now());
    delivery.alert = alert;
    let resolved = publisher.publish(&delivery).await?;
    let state: RootlyState = serde_json::from_value(resolved.vendor_state.unwrap_or_default())?;
    println!(
        "resolved: HTTP {:?}, Rootly alert {} is {:?}",
        resolved.status_code, state.alert_id, state.status
    );
    Ok(())
}
