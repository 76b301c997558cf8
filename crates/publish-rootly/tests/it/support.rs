//! Shared helpers: targets, deliveries and fixtures.

use std::collections::BTreeMap;

use publish::{
    Alert, AlertStatus, Delivery, Format, GroupContext, Labels, Target, TargetType, WebhookMessage,
};
use publish_rootly::{RootlyPublisher, RootlyState};
use serde_json::{Value, json};
use testkit::RootlySim;

/// A `type: rootly` target named `rootly` at `url` with `options`.
pub(crate) fn target(url: &str, options: Value) -> Target {
    Target {
        templates: Default::default(),
        name: "rootly".parse().expect("target name"),
        kind: TargetType::Rootly,
        url: url.to_owned(),
        enabled: true,
        format: Format::Rootly,
        headers: BTreeMap::new(),
        options: options.as_object().cloned().unwrap_or_default(),
    }
}

/// A publisher for `sim` with the default key and `options` (merged over the key).
pub(crate) fn publisher(sim: &RootlySim, options: Value) -> RootlyPublisher {
    let mut merged = json!({"api_key": RootlySim::DEFAULT_KEY});
    if let (Some(m), Some(o)) = (merged.as_object_mut(), options.as_object()) {
        m.extend(o.clone());
    }
    publish_rootly::build(
        &target(&sim.url(), merged),
        &publish::BuildContext::default(),
    )
    .expect("valid rootly target")
}

/// The parsed body of a captured Alertmanager notification.
pub(crate) fn fixture(name: &str) -> WebhookMessage {
    let path = format!(
        "{}/../../testdata/alertmanager/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let doc: Value = serde_json::from_str(&text).expect("fixture is JSON");
    publish::parse_webhook(&serde_json::to_vec(&doc["body"]).expect("body"))
        .expect("fixture parses")
}

/// The firing alert of `am-webhook-firing.json` (critical) with its group.
pub(crate) fn firing() -> (Alert, GroupContext) {
    let msg = fixture("am-webhook-firing.json");
    (msg.alerts[0].clone(), msg.context)
}

/// A firing alert with these labels (fingerprint derived), started at a fixed time.
pub(crate) fn alert(labels: &[(&str, &str)]) -> Alert {
    let labels: Labels = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Alert {
        status: AlertStatus::Firing,
        fingerprint: publish::Fingerprint::from_labels(&labels),
        labels,
        annotations: [("summary".to_owned(), "something broke".to_owned())]
            .into_iter()
            .collect(),
        starts_at: chrono::DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .expect("time")
            .to_utc(),
        ends_at: None,
        generator_url: "http://prometheus.example/graph".to_owned(),
    }
}

/// The same alert, resolved.
pub(crate) fn resolved(alert: &Alert) -> Alert {
    Alert {
        status: AlertStatus::Resolved,
        ends_at: Some(
            chrono::DateTime::parse_from_rfc3339("2026-11-23T10:05:00Z")
                .expect("time")
                .to_utc(),
        ),
        ..alert.clone()
    }
}

/// A delivery of `alert` (attempt `attempt`) carrying `state`.
pub(crate) fn delivery(alert: &Alert, attempt: u32, state: Option<&RootlyState>) -> Delivery {
    Delivery {
        id: format!("d-{}-{attempt}", alert.fingerprint),
        alert: alert.clone(),
        context: GroupContext {
            receiver: "r".to_owned(),
            external_url: "http://am.example:9093".to_owned(),
            ..Default::default()
        },
        attempt,
        vendor_state: state.map(RootlyState::to_json),
        action: Default::default(),
    }
}

/// The state a successful delivery returned.
pub(crate) fn state_of(delivered: &publish::Delivered) -> RootlyState {
    serde_json::from_value(delivered.vendor_state.clone().expect("vendor state"))
        .expect("rootly state")
}
