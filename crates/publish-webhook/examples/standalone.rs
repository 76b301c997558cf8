//! The webhook publisher on its own, outside the service: fire an alert, then resolve it.
//!
//! ```text
//! cargo run -p publish-webhook --example standalone                  # against an in-process recording endpoint
//! cargo run -p publish-webhook --example standalone -- URL [FORMAT]  # e.g. https://hooks.example.com/alerts webhook
//! ```
//!
//! FORMAT is `alertmanager` (the default: an Alertmanager webhook v4 payload holding the one
//! alert) or `webhook` (Alert Publisher's single-alert JSON). Every request carries a bearer
//! token, an `Idempotency-Key` and a Standard Webhooks signature. Against the in-process
//! endpoint the outbound guard allows loopback; a URL given on the command line is guarded by
//! the default policy (loopback and private addresses refused).

use std::io::Write as _;

use publish::{
    BuildContext, Delivery, Format, Publisher, Target, TargetType,
    outbound::{Outbound, OutboundPolicy},
};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut out = std::io::stdout().lock();
    // Keep the endpoint alive for the whole run when we use it.
    let (sink, url, format, ctx) = match args.as_slice() {
        [] => {
            let sink = testkit::WebhookSink::start().await;
            let url = sink.url("/alerts");
            let ctx = BuildContext {
                outbound: Outbound::new(OutboundPolicy::allowing(&["127.0.0.0/8"])?),
                ..BuildContext::default()
            };
            (Some(sink), url, Format::Alertmanager, ctx)
        }
        [url] => (
            None,
            url.clone(),
            Format::Alertmanager,
            BuildContext::default(),
        ),
        [url, format] => {
            let format = match format.as_str() {
                "alertmanager" => Format::Alertmanager,
                "webhook" => Format::Webhook,
                other => return Err(format!("unknown format {other:?}").into()),
            };
            (None, url.clone(), format, BuildContext::default())
        }
        _ => return Err("usage: standalone [URL [alertmanager|webhook]]".into()),
    };

    let target = Target {
        templates: Default::default(),
        name: "webhook-example".parse()?,
        kind: TargetType::Webhook,
        url,
        enabled: true,
        format,
        headers: Default::default(),
        options: json!({
            "timeout": "5s",
            "auth": {"type": "bearer", "token": "example-token"},
            "signing": {"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
    };
    let publisher = publish_webhook::build(&target, &ctx)?;
    let probe = publisher.probe().await;
    writeln!(out, "probe: ok={} {}", probe.ok, probe.detail)?;

    let body = json!({
        "version": "4", "status": "firing", "receiver": "example", "externalURL": "http://alertmanager.example:9093",
        "groupKey": "{}:{alertname=\"HighErrorRate\"}", "groupLabels": {"alertname": "HighErrorRate"},
        "alerts": [{
            "status": "firing",
            "labels": {"alertname": "HighErrorRate", "severity": "critical", "service": "checkout", "instance": "web-1:9100"},
            "annotations": {"summary": "Error rate above 5% on checkout", "description": "5xx ratio 7.3% over 5m"},
            "startsAt": chrono::Utc::now().to_rfc3339(),
            "generatorURL": "http://prometheus.example:9090/graph?g0.expr=up"
        }]
    });
    let message = publish::parse_webhook(&serde_json::to_vec(&body)?)?;
    let mut alert = message.alerts[0].clone();
    let mut delivery = Delivery {
        id: format!("example-{}", alert.fingerprint),
        alert: alert.clone(),
        context: message.context,
        attempt: 1,
        vendor_state: None,
        action: Default::default(),
    };

    let fired = publisher.publish(&delivery).await?;
    writeln!(out, "fired: HTTP {:?}", fired.status_code)?;

    alert.status = publish::AlertStatus::Resolved;
    alert.ends_at = Some(alert.starts_at + chrono::Duration::minutes(7));
    delivery.alert = alert;
    delivery.id.push_str("-resolved");
    let resolved = publisher.publish(&delivery).await?;
    writeln!(out, "resolved: HTTP {:?}", resolved.status_code)?;

    if let Some(sink) = sink {
        for r in sink.requests() {
            writeln!(out, "\n--- {} {} ---", r.method, r.path)?;
            for name in [
                "content-type",
                "authorization",
                "idempotency-key",
                "webhook-id",
                "webhook-timestamp",
                "webhook-signature",
            ] {
                writeln!(out, "{name}: {}", r.header(name).unwrap_or("-"))?;
            }
            writeln!(out, "\n{:#}", r.json())?;
        }
    }
    Ok(())
}
