//! Integration tests of the Slack publisher: message snapshots and limits, the lifecycle
//! against the simulated Slack (`testkit::SlackSim`), error classification, probes, metrics.

mod config;
mod encode;
mod errors;
mod lifecycle;
mod metrics;
mod probe;
mod templates;

use std::path::Path;

use publish::{Alert, Delivery, Format, GroupContext, Target, TargetType, WebhookMessage};
use serde_json::{Value, json};

/// The Alertmanager webhook fixtures (captured from Alertmanager 0.25) that carry alerts.
pub(crate) const FIXTURES: [&str; 6] = [
    "am-webhook-firing.json",
    "am-webhook-resolved.json",
    "am-webhook-group-2-firing.json",
    "am-webhook-group-mixed.json",
    "am-webhook-truncated.json",
    "am-webhook-from-prometheus.json",
];

fn fixture_json(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/alertmanager")
        .join(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// A fixture's notification, parsed as the service parses it.
pub(crate) fn fixture(name: &str) -> WebhookMessage {
    let body = serde_json::to_vec(&fixture_json(name)["body"]).expect("encode body");
    publish::parse_webhook(&body).expect("fixture parses")
}

/// The request Alertmanager itself sent to Slack (`am-slack-*.json`).
pub(crate) fn alertmanager_slack_request(name: &str) -> Value {
    fixture_json(name)["body"].clone()
}

/// A slack target with `url` and `options`.
pub(crate) fn target(url: &str, options: Value) -> Target {
    Target {
        templates: Default::default(),
        name: "slack-test".parse().expect("name"),
        kind: TargetType::Slack,
        url: url.to_owned(),
        enabled: true,
        format: Format::Slack,
        headers: Default::default(),
        options: options.as_object().cloned().expect("options are an object"),
    }
}

/// Token-mode options for the simulator's token and `channel`.
pub(crate) fn token_options(channel: &str) -> Value {
    json!({"token": testkit::SlackSim::TOKEN, "channel": channel, "rate_limit": {"per_minute": 6000, "burst": 100}})
}

/// A delivery of `alert` with the stored vendor state.
pub(crate) fn delivery(
    alert: &Alert,
    context: &GroupContext,
    vendor_state: Option<Value>,
) -> Delivery {
    Delivery {
        id: format!("d-{}", alert.fingerprint),
        alert: alert.clone(),
        context: context.clone(),
        attempt: 1,
        vendor_state,
        action: Default::default(),
    }
}

/// The firing alert of `am-webhook-firing.json` and its group.
pub(crate) fn firing() -> (Alert, GroupContext) {
    let m = fixture("am-webhook-firing.json");
    (m.alerts[0].clone(), m.context)
}

/// The same alert resolved (`am-webhook-resolved.json`).
pub(crate) fn resolved() -> (Alert, GroupContext) {
    let m = fixture("am-webhook-resolved.json");
    (m.alerts[0].clone(), m.context)
}
