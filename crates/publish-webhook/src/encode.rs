//! Pure encoding: alert → request body.

use publish::{
    Alert, Classification, Delivery, Format, GroupContext, Labels, templates::Templates,
};
use serde::Serialize;

/// Schema name carried by the `webhook` format.
pub const WEBHOOK_SCHEMA: &str = "alert-publisher.webhook.v1";

/// The Alertmanager webhook v4 shape, fields in Alertmanager's own order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AlertmanagerPayload<'a> {
    receiver: &'a str,
    status: &'static str,
    alerts: [&'a Alert; 1],
    group_labels: &'a Labels,
    common_labels: &'a Labels,
    common_annotations: &'a Labels,
    #[serde(rename = "externalURL")]
    external_url: &'a str,
    version: &'static str,
    group_key: &'a str,
    truncated_alerts: u64,
}

/// A v4 payload holding only `alert`: what Alertmanager would send for a group of one. The
/// group's receiver, group labels, external URL and key are kept; status, common labels and
/// annotations describe the one alert.
pub fn encode_alertmanager(alert: &Alert, context: &GroupContext) -> Vec<u8> {
    let annotated;
    let alert = match Classification::of(alert) {
        Some(c) if !alert.annotations.contains_key("llm_severity") => {
            annotated = with_llm_annotations(alert, &c);
            &annotated
        }
        _ => alert,
    };
    let payload = AlertmanagerPayload {
        receiver: &context.receiver,
        status: alert.status.as_str(),
        alerts: [alert],
        group_labels: &context.group_labels,
        common_labels: &alert.labels,
        common_annotations: &alert.annotations,
        external_url: &context.external_url,
        version: "4",
        group_key: &context.group_key,
        truncated_alerts: 0,
    };
    serde_json::to_vec(&payload).unwrap_or_default()
}

/// A copy of `alert` with the classification as the original's Alertmanager format carried it:
/// `llm_severity`, `llm_confidence` (`0.95`), `llm_reasoning` (at most 500 characters) and
/// `llm_recommendations` (the first three, joined by `; `).
fn with_llm_annotations(alert: &Alert, c: &Classification) -> Alert {
    let mut alert = alert.clone();
    let a = &mut alert.annotations;
    a.insert("llm_severity".into(), c.severity.as_str().into());
    a.insert("llm_confidence".into(), format!("{:.2}", c.confidence));
    a.insert(
        "llm_reasoning".into(),
        publish::truncate::chars(&c.reasoning, 500).0,
    );
    if !c.recommendations.is_empty() {
        a.insert(
            "llm_recommendations".into(),
            c.recommendations[..c.recommendations.len().min(3)].join("; "),
        );
    }
    alert
}

/// Alert Publisher's single-alert JSON (`format: webhook`), documented in
/// `docs/configuration.md`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WebhookPayload<'a> {
    schema: &'static str,
    id: &'a str,
    target: &'a str,
    status: &'static str,
    fingerprint: &'a str,
    alertname: &'a str,
    labels: &'a Labels,
    annotations: &'a Labels,
    starts_at: String,
    ends_at: Option<String>,
    #[serde(rename = "generatorURL")]
    generator_url: &'a str,
    receiver: &'a str,
    group_key: &'a str,
    group_labels: &'a Labels,
    #[serde(rename = "externalURL")]
    external_url: &'a str,
    /// The alert's classification, when it has one (the original's `classification` field).
    #[serde(skip_serializing_if = "Option::is_none")]
    classification: Option<Classification>,
}

/// The `webhook` format for one delivery to target `target`.
pub fn encode_webhook(delivery: &Delivery, target: &str) -> Vec<u8> {
    let alert = &delivery.alert;
    let payload = WebhookPayload {
        schema: WEBHOOK_SCHEMA,
        id: &delivery.id,
        target,
        status: alert.status.as_str(),
        fingerprint: alert.fingerprint.as_str(),
        alertname: alert.name(),
        labels: &alert.labels,
        annotations: &alert.annotations,
        starts_at: publish::time::format(&alert.starts_at),
        ends_at: alert.ends_at.as_ref().map(publish::time::format),
        generator_url: &alert.generator_url,
        receiver: &delivery.context.receiver,
        group_key: &delivery.context.group_key,
        group_labels: &delivery.context.group_labels,
        external_url: &delivery.context.external_url,
        classification: Classification::of(alert),
    };
    serde_json::to_vec(&payload).unwrap_or_default()
}

/// The template field of a webhook target (`templates:`): the whole request body.
pub const TEMPLATE_FIELDS: publish::templates::Fields = publish::templates::Fields {
    plain: &["body"],
    maps: &[],
};

/// The request body and whether it is JSON: the `body` template's rendering when the target
/// has one (sent as JSON when it parses as JSON, as UTF-8 text otherwise), else the format's
/// body. A failed rendering sends the format's body.
pub fn encode_templated(
    format: Format,
    delivery: &Delivery,
    target: &str,
    templates: &Templates,
) -> (Vec<u8>, bool) {
    if let Some(body) = templates
        .for_delivery(&delivery.context, &delivery.alert)
        .and_then(|r| r.field("body"))
    {
        let json = serde_json::from_str::<serde::de::IgnoredAny>(&body).is_ok();
        return (body.into_bytes(), json);
    }
    (encode(format, delivery, target), true)
}

/// Encodes a delivery in the given format (anything but `webhook` gives `alertmanager`).
pub fn encode(format: Format, delivery: &Delivery, target: &str) -> Vec<u8> {
    match format {
        Format::Webhook => encode_webhook(delivery, target),
        _ => encode_alertmanager(&delivery.alert, &delivery.context),
    }
}
