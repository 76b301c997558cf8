//! The Slack publisher on its own, outside the service: fire an alert, then resolve it.
//!
//! ```text
//! cargo run -p publish-slack --example standalone                      # against an in-process simulated Slack
//! cargo run -p publish-slack --example standalone -- API_BASE TOKEN CHANNEL   # e.g. https://slack.com/api xoxb-… "#alerts"
//! ```
//!
//! In token mode the delivery engine normally keeps the vendor state between deliveries; here
//! the example carries it from the firing delivery to the resolved one itself.

use std::io::Write as _;

use publish::{Delivery, Format, Publisher, Target, TargetType};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut out = std::io::stdout().lock();
    // Keep the simulator alive for the whole run when we use it.
    let (sim, api, token, channel) = match args.as_slice() {
        [api, token, channel] => (None, api.clone(), token.clone(), channel.clone()),
        [] => {
            let sim = testkit::SlackSim::start().await;
            sim.add_channel("alerts");
            let api = sim.api_url();
            (
                Some(sim),
                api,
                testkit::SlackSim::TOKEN.to_owned(),
                "#alerts".to_owned(),
            )
        }
        _ => return Err("usage: standalone [API_BASE TOKEN CHANNEL]".into()),
    };

    let target = Target {
        templates: Default::default(),
        name: "slack-example".parse()?,
        kind: TargetType::Slack,
        url: api,
        enabled: true,
        format: Format::Slack,
        headers: Default::default(),
        options: json!({"token": token, "channel": channel})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    };
    let publisher = publish_slack::build(&target, &publish::BuildContext::default())?;
    let probe = publisher.probe().await;
    writeln!(out, "probe: ok={} {}", probe.ok, probe.detail)?;

    let body = json!({
        "version": "4", "status": "firing", "receiver": "example", "externalURL": "http://alertmanager.example:9093",
        "alerts": [{
            "status": "firing",
            "labels": {"alertname": "HighErrorRate", "severity": "critical", "service": "checkout", "instance": "web-1:9100"},
            "annotations": {"summary": "Error rate above 5% on checkout", "description": "5xx ratio 7.3% over 5m",
                            "runbook_url": "https://runbooks.example.com/high-error-rate"},
            "startsAt": chrono::Utc::now().to_rfc3339(),
            "generatorURL": "http://prometheus.example:9090/graph?g0.expr=up"
        }]
    });
    let message = publish::parse_webhook(&serde_json::to_vec(&body)?)?;
    let mut alert = message.alerts[0].clone();
    let mut delivery = Delivery {
        id: "example-1".into(),
        alert: alert.clone(),
        context: message.context,
        attempt: 1,
        vendor_state: None,
        action: Default::default(),
    };

    let fired = publisher.publish(&delivery).await?;
    writeln!(
        out,
        "fired: vendor state {}",
        fired.vendor_state.clone().unwrap_or_default()
    )?;

    alert.status = publish::AlertStatus::Resolved;
    alert.ends_at = Some(alert.starts_at + chrono::Duration::minutes(7));
    delivery.alert = alert;
    delivery.vendor_state = fired.vendor_state;
    let resolved = publisher.publish(&delivery).await?;
    writeln!(
        out,
        "resolved: vendor state {}",
        resolved.vendor_state.unwrap_or_default()
    )?;

    if let Some(sim) = sim {
        for m in sim.messages("alerts") {
            writeln!(
                out,
                "\n--- message {} (edited: {}) ---\n{}",
                m.ts,
                m.edited(),
                m.visible_text()
            )?;
            for r in &m.replies {
                writeln!(out, "  ↳ thread reply: {}", r.text)?;
            }
        }
    }
    Ok(())
}
