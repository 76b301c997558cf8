//! Pure encoding: alert → Rootly JSON:API request bodies.

use std::fmt::Write as _;

use publish::{Alert, Classification, GroupContext, Labels, templates::Templates};
use serde::Serialize;

use crate::{IncidentMode, LabelMapping, RootlyOptions};

/// Longest `summary` we send (characters); longer ones are cut with a marker.
pub const MAX_SUMMARY_CHARS: usize = 1024;
/// Longest `description` we send (characters); longer ones are cut with a marker.
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;
/// Largest request body we send (bytes). Rootly publishes no limit; this is PagerDuty's, and
/// far above what a readable alert needs. Over it, the longest strings are cut first (in
/// practice the alert copy in `data` and label values), each ending with the truncation marker.
pub const MAX_REQUEST_BYTES: usize = 512_000;

#[derive(Serialize)]
struct Document<A> {
    data: Resource<A>,
}

#[derive(Serialize)]
struct Resource<A> {
    #[serde(rename = "type")]
    kind: &'static str,
    attributes: A,
}

/// The JSON:API document, at most [`MAX_REQUEST_BYTES`] long.
fn document<A: Serialize>(kind: &'static str, attributes: A) -> Vec<u8> {
    // Serializing plain structs of strings and maps cannot fail.
    let mut value = serde_json::to_value(Document {
        data: Resource { kind, attributes },
    })
    .unwrap_or_default();
    let (body, cuts) = publish::truncate::fit_json(&mut value, MAX_REQUEST_BYTES);
    if cuts > 0 {
        tracing::info!(
            resource = kind,
            values_cut = cuts,
            bytes = body.len(),
            "rootly request trimmed to fit its size bound"
        );
    }
    body
}

#[derive(Serialize)]
struct Label<'a> {
    key: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
struct AlertAttributes<'a> {
    source: &'a str,
    summary: String,
    description: String,
    started_at: String,
    external_id: &'a str,
    deduplication_key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_url: Option<&'a str>,
    labels: Vec<Label<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    service_ids: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    group_ids: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    environment_ids: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notification_target_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notification_target_id: Option<&'a str>,
    data: &'a Alert,
}

/// The first non-empty annotation, then label, among `names`.
fn pick<'a>(alert: &'a Alert, names: &[String]) -> Option<(&'a str, &'a str)> {
    names.iter().find_map(|name| {
        alert
            .annotations
            .get_key_value(name)
            .or_else(|| alert.labels.get_key_value(name))
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| (k.as_str(), v.as_str()))
    })
}

/// The alert's `summary`: the first mapped annotation or label that is set, else the alert name
/// with its other label values, as Alertmanager titles a notification
/// (`HighErrorRate (web-1:9100 checkout critical)`).
pub fn summary(alert: &Alert, mapping: &LabelMapping) -> String {
    let text = match pick(alert, &mapping.summary) {
        Some((_, v)) => v.trim().replace(['\n', '\r'], " "),
        None => {
            let name = match alert.name() {
                "" => format!("alert {}", alert.fingerprint),
                name => name.to_owned(),
            };
            let values: Vec<&str> = alert
                .labels
                .iter()
                .filter(|(k, _)| k.as_str() != "alertname")
                .map(|(_, v)| v.as_str())
                .collect();
            if values.is_empty() {
                name
            } else {
                format!("{name} ({})", values.join(" "))
            }
        }
    };
    let text = match Classification::of(alert) {
        // The original's title suffix.
        Some(c) => format!(
            "{text} (AI: {}, {} confidence)",
            c.severity.as_str(),
            c.percent()
        ),
        None => text,
    };
    publish::truncate::chars(&text, MAX_SUMMARY_CHARS).0
}

/// Escapes text so Markdown shows it literally.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// An http(s) URL without whitespace: what Rootly accepts as `external_url`.
fn is_http_url(value: &str) -> bool {
    (value.starts_with("https://") || value.starts_with("http://"))
        && !value.chars().any(char::is_whitespace)
}

/// An http(s) URL Markdown can link as it is.
fn linkable(value: &str) -> bool {
    (value.starts_with("https://") || value.starts_with("http://"))
        && !value
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '<' | '>' | '(' | ')'))
}

fn value_md(value: &str) -> String {
    if linkable(value) {
        format!("<{value}>")
    } else {
        escape(value)
    }
}

fn list(out: &mut String, title: &str, items: &Labels, skip: &[&str]) {
    let mut items = items
        .iter()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .peekable();
    if items.peek().is_none() {
        return;
    }
    let _ = write!(out, "\n\n**{title}**\n");
    for (k, v) in items {
        let _ = write!(out, "\n- `{}`: {}", k.replace('`', "'"), value_md(v));
    }
}

/// The alert's Markdown `description`: the mapped lead annotation, the labels, the remaining
/// annotations and links back to Prometheus and Alertmanager.
pub fn description(alert: &Alert, context: &GroupContext, mapping: &LabelMapping) -> String {
    let mut out = String::new();
    let summary_key = pick(alert, &mapping.summary).map(|(k, _)| k);
    let lead = pick(alert, &mapping.description);
    if let Some((_, text)) = lead {
        out.push_str(text.trim());
    }
    let classification = Classification::of(alert);
    if let Some(c) = &classification {
        let _ = write!(
            out,
            "\n\n**AI Classification**\n\n- **Severity:** {}\n- **Confidence:** {}",
            c.severity.as_str(),
            c.percent()
        );
        if !c.reasoning.trim().is_empty() {
            let _ = write!(out, "\n- **Reasoning:** {}", escape(c.reasoning.trim()));
        }
        if !c.recommendations.is_empty() {
            out.push_str("\n\n**Recommendations**\n");
            for (i, r) in c.recommendations.iter().take(5).enumerate() {
                let _ = write!(out, "\n{}. {}", i + 1, escape(r.trim()));
            }
        }
    }
    list(&mut out, "Labels", &alert.labels, &[]);
    let carriers: Vec<&str> = alert
        .annotations
        .keys()
        .map(String::as_str)
        .filter(|k| classification.is_some() && Classification::is_carrier(k))
        .collect();
    let skip: Vec<&str> = summary_key
        .into_iter()
        .chain(lead.map(|(k, _)| k))
        .chain(carriers)
        .collect();
    list(&mut out, "Annotations", &alert.annotations, &skip);
    let mut links = Vec::new();
    if linkable(&alert.generator_url) {
        links.push(format!("[Source]({})", alert.generator_url));
    }
    if linkable(&context.external_url) {
        links.push(format!("[Alertmanager]({})", context.external_url));
    }
    if !links.is_empty() {
        let _ = write!(out, "\n\n{}", links.join(" · "));
    }
    publish::truncate::chars(out.trim_start(), MAX_DESCRIPTION_CHARS).0
}

fn mapped<'a>(
    fixed: &'a [String],
    mapping: Option<&'a crate::IdMapping>,
    labels: &'a Labels,
) -> Vec<&'a str> {
    let mut ids: Vec<&str> = fixed.iter().map(String::as_str).collect();
    if let Some(id) = mapping.and_then(|m| m.lookup(labels))
        && !ids.contains(&id)
    {
        ids.push(id);
    }
    ids
}

/// The labels a classified alert adds: `ai_severity` and `ai_confidence` (`0.95`).
fn classification_labels<'a>(c: &'a Option<(&'static str, String)>) -> Vec<Label<'a>> {
    c.as_ref().map_or_else(Vec::new, |(severity, confidence)| {
        vec![
            Label {
                key: "ai_severity",
                value: severity,
            },
            Label {
                key: "ai_confidence",
                value: confidence,
            },
        ]
    })
}

/// The template fields of a Rootly target (`templates:`).
pub const TEMPLATE_FIELDS: publish::templates::Fields = publish::templates::Fields {
    plain: &["summary", "description"],
    maps: &[],
};

/// `POST /v1/alerts` body for a firing alert.
pub fn encode_alert(alert: &Alert, context: &GroupContext, options: &RootlyOptions) -> Vec<u8> {
    encode_alert_with(alert, context, options, &Templates::default())
}

/// [`encode_alert`] with a target's `summary` and `description` templates in place of the
/// defaults (cut to Rootly's limits; an empty or failed rendering is the default).
pub fn encode_alert_with(
    alert: &Alert,
    context: &GroupContext,
    options: &RootlyOptions,
    templates: &Templates,
) -> Vec<u8> {
    let mapping = &options.label_mapping;
    let (custom_summary, custom_description) = match templates.for_delivery(context, alert) {
        Some(r) => (r.non_empty("summary"), r.non_empty("description")),
        None => (None, None),
    };
    let classification =
        Classification::of(alert).map(|c| (c.severity.as_str(), format!("{:.2}", c.confidence)));
    let attributes = AlertAttributes {
        source: &options.source,
        summary: custom_summary.map_or_else(
            || summary(alert, mapping),
            |s| publish::truncate::chars(&s, MAX_SUMMARY_CHARS).0,
        ),
        description: custom_description.map_or_else(
            || description(alert, context, mapping),
            |d| publish::truncate::chars(&d, MAX_DESCRIPTION_CHARS).0,
        ),
        started_at: publish::time::format(&alert.starts_at),
        external_id: alert.fingerprint.as_str(),
        deduplication_key: alert.fingerprint.as_str(),
        external_url: Some(alert.generator_url.as_str()).filter(|u| is_http_url(u)),
        labels: alert
            .labels
            .iter()
            .map(|(k, v)| Label { key: k, value: v })
            .chain(classification_labels(&classification))
            .collect(),
        service_ids: mapped(
            &options.service_ids,
            mapping.services.as_ref(),
            &alert.labels,
        ),
        group_ids: mapped(&options.group_ids, mapping.groups.as_ref(), &alert.labels),
        environment_ids: mapped(
            &options.environment_ids,
            mapping.environments.as_ref(),
            &alert.labels,
        ),
        notification_target_type: options
            .notification_target
            .as_ref()
            .map(|t| t.kind.as_str()),
        notification_target_id: options.notification_target.as_ref().map(|t| t.id.as_str()),
        data: alert,
    };
    document("alerts", attributes)
}

#[derive(Serialize)]
struct ResolveAttributes {
    resolution_message: String,
}

/// `POST /v1/alerts/{id}/resolve` body.
pub fn encode_resolve(alert: &Alert) -> Vec<u8> {
    let resolution_message = match &alert.ends_at {
        Some(end) => format!(
            "Resolved in Alertmanager (ended at {})",
            publish::time::format(end)
        ),
        None => "Resolved in Alertmanager".to_owned(),
    };
    document("alerts", ResolveAttributes { resolution_message })
}

#[derive(Serialize)]
struct IncidentAttributes<'a> {
    title: String,
    summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    severity_id: Option<&'a str>,
    labels: &'a Labels,
    alert_ids: [&'a str; 1],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    service_ids: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    group_ids: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    environment_ids: Vec<&'a str>,
}

/// `POST /v1/incidents` body opening an incident for `alert`, already created as `alert_id`.
pub fn encode_incident(
    alert: &Alert,
    alert_id: &str,
    options: &RootlyOptions,
    incident: &IncidentMode,
) -> Vec<u8> {
    let mapping = &options.label_mapping;
    let summary_text = pick(alert, &mapping.description).map_or_else(
        || {
            format!(
                "Opened by Alert Publisher for a {} alert.",
                alert.severity().unwrap_or_default()
            )
        },
        |(_, v)| v.trim().to_owned(),
    );
    let attributes = IncidentAttributes {
        title: summary(alert, mapping),
        summary: publish::truncate::chars(&summary_text, MAX_DESCRIPTION_CHARS).0,
        severity_id: incident.severity_id.as_deref(),
        labels: &alert.labels,
        alert_ids: [alert_id],
        service_ids: mapped(
            &options.service_ids,
            mapping.services.as_ref(),
            &alert.labels,
        ),
        group_ids: mapped(&options.group_ids, mapping.groups.as_ref(), &alert.labels),
        environment_ids: mapped(
            &options.environment_ids,
            mapping.environments.as_ref(),
            &alert.labels,
        ),
    };
    document("incidents", attributes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> Alert {
        let map = |kv: &[(&str, &str)]| {
            kv.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<Labels>()
        };
        let labels = map(labels);
        Alert {
            status: publish::AlertStatus::Firing,
            fingerprint: publish::Fingerprint::from_labels(&labels),
            labels,
            annotations: map(annotations),
            starts_at: chrono::DateTime::parse_from_rfc3339("2026-11-23T18:17:06.300056641Z")
                .map(|t| t.with_timezone(&chrono::Utc))
                .unwrap_or_default(),
            ends_at: None,
            generator_url: String::new(),
        }
    }

    fn check_summary(labels: &[(&str, &str)], annotations: &[(&str, &str)], expected: &str) {
        assert_eq!(
            summary(&alert(labels, annotations), &LabelMapping::default()),
            expected
        );
    }

    #[test]
    fn summaries() {
        check_summary(
            &[("alertname", "A")],
            &[("summary", "Disk full")],
            "Disk full",
        );
        check_summary(
            &[("alertname", "A")],
            &[("summary", "  two\nlines ")],
            "two lines",
        );
        check_summary(
            &[
                ("alertname", "A"),
                ("instance", "i1"),
                ("severity", "warning"),
            ],
            &[],
            "A (i1 warning)",
        );
        check_summary(&[("alertname", "A")], &[("summary", " ")], "A");
        let fp = alert(&[("job", "x")], &[]).fingerprint;
        check_summary(&[("job", "x")], &[], &format!("alert {fp} (x)"));
        let long = "x".repeat(2000);
        let s = summary(
            &alert(&[("alertname", "A")], &[("summary", &long)]),
            &LabelMapping::default(),
        );
        assert_eq!(s.chars().count(), MAX_SUMMARY_CHARS);
        assert!(s.ends_with(publish::truncate::MARKER));
    }

    #[test]
    fn requests_stay_within_the_size_bound_cutting_the_largest_values() {
        let huge = "d".repeat(2 * 1024 * 1024);
        let a = alert(
            &[
                ("alertname", "Big"),
                ("severity", "critical"),
                ("team", &"t".repeat(100_000)),
            ],
            &[("description", &huge), ("summary", "short summary")],
        );
        let body = encode_alert(&a, &GroupContext::default(), &RootlyOptions::default());
        assert!(body.len() <= MAX_REQUEST_BYTES, "{}", body.len());
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let attrs = &v["data"]["attributes"];
        assert_eq!(attrs["external_id"], a.fingerprint.as_str());
        assert_eq!(attrs["summary"], "short summary");
        let copied = attrs["data"]["annotations"]["description"]
            .as_str()
            .unwrap();
        assert!(copied.len() < huge.len() && copied.ends_with(publish::truncate::MARKER));
        // A normal alert is sent whole.
        let small = alert(&[("alertname", "Small")], &[("description", "d")]);
        let body = encode_alert(&small, &GroupContext::default(), &RootlyOptions::default());
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v["data"]["attributes"]["data"]["annotations"]["description"],
            "d"
        );
        // An incident carries the labels: bounded too.
        let body = encode_incident(
            &a,
            "alert-1",
            &RootlyOptions::default(),
            &IncidentMode::default(),
        );
        assert!(body.len() <= MAX_REQUEST_BYTES);
    }

    #[test]
    fn markdown_is_escaped_and_urls_linked() {
        assert_eq!(
            escape("a_b *c* [d](e) `f` <g> | #"),
            "a\\_b \\*c\\* \\[d\\](e) \\`f\\` \\<g\\> \\| \\#"
        );
        assert_eq!(value_md("https://x.example/a_b"), "<https://x.example/a_b>");
        assert_eq!(value_md("https://x.example/a b"), "https://x.example/a b");
        assert!(!linkable("javascript:alert(1)"));
    }
}
