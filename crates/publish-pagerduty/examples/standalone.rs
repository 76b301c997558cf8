//! Standalone use of `publish-pagerduty`, without the Alert Publisher service.
//!
//! ```text
//! cargo run -p publish-pagerduty --example standalone                      # against an in-process simulated PagerDuty
//! cargo run -p publish-pagerduty --example standalone -- URL ROUTING_KEY   # against a real events endpoint
//! ```
//!
//! It parses an Alertmanager webhook notification, triggers a PagerDuty alert for its alert,
//! acknowledges it, resolves it, and sends a change event.
// An example reports what it did on standard output.
#![allow(clippy::print_stdout)]

use publish::{AlertStatus, Publisher};
use publish_pagerduty::{PagerDutyConfig, PagerDutyOptions, PagerDutyPublisher, Plan, RoutingKey};

const NOTIFICATION: &str = r#"{
  "version": "4", "status": "firing", "receiver": "pagerduty",
  "groupKey": "{}:{alertname=\"CheckoutErrors\"}", "externalURL": "http://alertmanager.example:9093",
  "groupLabels": {"alertname": "CheckoutErrors"}, "commonLabels": {}, "commonAnnotations": {},
  "alerts": [{
    "status": "firing",
    "labels": {"alertname": "CheckoutErrors", "severity": "critical", "instance": "web-1:9100", "service": "checkout"},
    "annotations": {"summary": "checkout is failing", "runbook_url": "https://runbooks.example/checkout"},
    "startsAt": "2026-11-23T18:17:06Z", "endsAt": "0001-01-01T00:00:00Z",
    "generatorURL": "http://prometheus.example:9090/graph?g0.expr=up",
    "fingerprint": "ac36b8d065d4a922"
  }]
}"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Without arguments, a simulated PagerDuty (from `testkit`) plays the events API.
    let (sim, url, key) = match args.as_slice() {
        [url, key] => (None, url.clone(), key.clone()),
        [] => {
            let sim = testkit::PagerDutySim::start().await;
            let url = sim.url();
            (
                Some(sim),
                url,
                "0123456789abcdef0123456789abcdef".to_owned(),
            )
        }
        _ => return Err("usage: standalone [EVENTS_URL ROUTING_KEY]".into()),
    };

    let routing_key = RoutingKey::new(&key).map_err(|e| format!("routing key {e}"))?;
    let options = PagerDutyOptions {
        client: "standalone example".to_owned(),
        ..Default::default()
    };
    let publisher =
        PagerDutyPublisher::new(PagerDutyConfig::new("example", routing_key, &url, options)?)?;
    let limit = publisher.config().rate_limit();
    println!(
        "rate limit to honour: {} events/min, burst {}",
        limit.per_minute, limit.burst
    );

    let message = publish::parse_webhook(NOTIFICATION.as_bytes())?;
    let alert = &message.alerts[0];
    if let Plan::Send(encoded) = publisher.plan(alert, &message.context, None) {
        println!(
            "event: {} {:?} ({} bytes)",
            encoded.event.action(),
            encoded.event.dedup_key(),
            encoded.body.len()
        );
    }

    let delivered = publisher.publish_alert(alert, &message.context).await?;
    println!(
        "triggered: HTTP {:?}, vendor state {:?}",
        delivered.status_code, delivered.vendor_state
    );
    let dedup_key = alert.fingerprint.to_string();
    let acked = publisher.acknowledge(&dedup_key).await?;
    println!(
        "acknowledged: HTTP {} {:?}",
        acked.status_code, acked.dedup_key
    );

    let mut resolved = alert.clone();
    resolved.status = AlertStatus::Resolved;
    resolved.ends_at = Some(chrono::Utc::now());
    let delivered = publisher.publish_alert(&resolved, &message.context).await?;
    println!(
        "resolved: HTTP {:?}, vendor state {:?}",
        delivered.status_code, delivered.vendor_state
    );

    let mut deploy = alert.clone();
    deploy
        .labels
        .insert("change_event".to_owned(), "true".to_owned());
    deploy
        .annotations
        .insert("summary".to_owned(), "checkout v2.3.1 deployed".to_owned());
    let delivered = publisher.publish_alert(&deploy, &message.context).await?;
    println!("change event: HTTP {:?}", delivered.status_code);

    let probe = publisher.probe().await;
    println!("probe: ok={} ({})", probe.ok, probe.detail);

    if let Some(sim) = sim {
        for a in sim.alerts() {
            println!(
                "simulated PagerDuty holds alert {} {:?}: {:?} ({})",
                a.dedup_key,
                a.status,
                a.log,
                a.field("summary")
            );
        }
        println!("and {} change event(s)", sim.change_events().len());
    }
    Ok(())
}
