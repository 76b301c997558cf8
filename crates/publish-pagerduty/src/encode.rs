//! Pure encoding: alert → PagerDuty event body, within PagerDuty's limits.
//!
//! Nothing here does I/O or reads the clock: the same delivery always gives the same bytes.

use chrono::{DateTime, SecondsFormat, Utc};
use publish::{
    AiSeverity, Alert, AlertStatus, Classification, Delivery, GroupContext, Labels,
    templates::Templates,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{DedupMode, PagerDutyConfig, PagerDutyOptions, RoutingKey, Severity};

/// PagerDuty's limit on `payload.summary`, in characters.
pub const MAX_SUMMARY_CHARS: usize = 1024;
/// PagerDuty's limit on `dedup_key`, in characters.
pub const MAX_DEDUP_KEY_CHARS: usize = 255;
/// The size we keep every event under, in bytes. PagerDuty's limit is 512 KB; we stay under
/// 512 000 bytes so the event fits whichever way a kilobyte is counted.
pub const MAX_EVENT_BYTES: usize = 512_000;
/// Longest `source`, `component`, `group` and `class` we send, in characters.
pub const MAX_FIELD_CHARS: usize = 1024;
/// Longest link or image URL we send, in characters; longer ones are left out.
pub const MAX_URL_CHARS: usize = 2048;
/// The key inside `custom_details` that says the details were cut to fit.
pub const TRUNCATION_NOTE_KEY: &str = "_truncated";

/// `event_action` of an alert event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Open (or add to) an alert.
    Trigger,
    /// Acknowledge an open alert.
    Acknowledge,
    /// Resolve an open alert.
    Resolve,
}

impl Action {
    /// The wire form (also the `action` metric label).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Trigger => "trigger",
            Action::Acknowledge => "acknowledge",
            Action::Resolve => "resolve",
        }
    }
}

/// A link shown with the alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// The URL.
    pub href: String,
    /// Its text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// An image shown with the alert (`src` must be https).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// The image URL (https).
    pub src: String,
    /// Where clicking the image leads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
    /// Alternative text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt: Option<String>,
}

/// `payload` of an alert event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    /// One line, at most [`MAX_SUMMARY_CHARS`].
    pub summary: String,
    /// The affected system.
    pub source: String,
    /// critical, error, warning or info.
    pub severity: Severity,
    /// When it happened (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// Part of the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// Logical grouping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Kind of event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Anything else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_details: Option<Value>,
}

/// An event for `/v2/enqueue` (without the routing key, which is added when it is sent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// trigger, acknowledge or resolve.
    pub event_action: Action,
    /// Identity of the PagerDuty alert (required for acknowledge and resolve).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup_key: Option<String>,
    /// Required for trigger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Payload>,
    /// Name of the sending system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// Link to the sending system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_url: Option<String>,
    /// Links.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    /// Images.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<Image>,
}

/// `payload` of a change event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangePayload {
    /// One line, at most [`MAX_SUMMARY_CHARS`].
    pub summary: String,
    /// Where the change happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// When (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// Anything else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_details: Option<Value>,
}

/// An event for `/v2/change/enqueue`: no action, no dedup key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeEvent {
    /// What changed.
    pub payload: ChangePayload,
    /// Links.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
}

/// Either kind of event.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// For `/v2/enqueue`.
    Alert(AlertEvent),
    /// For `/v2/change/enqueue`.
    Change(ChangeEvent),
}

impl Event {
    /// `trigger` / `acknowledge` / `resolve`, or `change`.
    pub fn action(&self) -> &'static str {
        match self {
            Event::Alert(e) => e.event_action.as_str(),
            Event::Change(_) => "change",
        }
    }

    /// The dedup key, for alert events that carry one.
    pub fn dedup_key(&self) -> Option<&str> {
        match self {
            Event::Alert(e) => e.dedup_key.as_deref(),
            Event::Change(_) => None,
        }
    }

    /// The JSON body with the routing key first, as PagerDuty documents it.
    pub fn to_body(&self, routing_key: &RoutingKey) -> Vec<u8> {
        let key = routing_key.expose();
        let result = match self {
            Event::Alert(e) => serde_json::to_vec(&AlertWire {
                routing_key: key,
                event_action: e.event_action,
                dedup_key: e.dedup_key.as_deref(),
                payload: e.payload.as_ref(),
                client: e.client.as_deref(),
                client_url: e.client_url.as_deref(),
                links: &e.links,
                images: &e.images,
            }),
            Event::Change(e) => serde_json::to_vec(&ChangeWire {
                routing_key: key,
                payload: &e.payload,
                links: &e.links,
            }),
        };
        // Serializing these plain structs (strings, maps, numbers) cannot fail.
        result.unwrap_or_default()
    }

    fn custom_details_mut(&mut self) -> Option<&mut Option<Value>> {
        match self {
            Event::Alert(e) => e.payload.as_mut().map(|p| &mut p.custom_details),
            Event::Change(e) => Some(&mut e.payload.custom_details),
        }
    }
}

#[derive(Serialize)]
struct AlertWire<'a> {
    routing_key: &'a str,
    event_action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    dedup_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<&'a Payload>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_url: Option<&'a str>,
    #[serde(skip_serializing_if = "<[Link]>::is_empty")]
    links: &'a [Link],
    #[serde(skip_serializing_if = "<[Image]>::is_empty")]
    images: &'a [Image],
}

#[derive(Serialize)]
struct ChangeWire<'a> {
    routing_key: &'a str,
    payload: &'a ChangePayload,
    #[serde(skip_serializing_if = "<[Link]>::is_empty")]
    links: &'a [Link],
}

/// A field that was cut to fit PagerDuty's limits (the `field` label of the truncation metric).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Truncation {
    /// `payload.summary` was cut to [`MAX_SUMMARY_CHARS`].
    Summary,
    /// `payload.custom_details` was shrunk or removed to fit [`MAX_EVENT_BYTES`].
    CustomDetails,
    /// `source`, `component`, `group` or `class` was cut to [`MAX_FIELD_CHARS`].
    Field,
    /// A link or image longer than [`MAX_URL_CHARS`] was left out.
    Links,
}

impl Truncation {
    /// Metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Truncation::Summary => "summary",
            Truncation::CustomDetails => "custom_details",
            Truncation::Field => "field",
            Truncation::Links => "links",
        }
    }
}

/// An event ready to send.
#[derive(Clone, PartialEq)]
pub struct Encoded {
    /// The event.
    pub event: Event,
    /// The JSON body (holds the routing key: never log it).
    pub body: Vec<u8>,
    /// What was cut to fit PagerDuty's limits.
    pub truncations: Vec<Truncation>,
}

impl std::fmt::Debug for Encoded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoded")
            .field("action", &self.event.action())
            .field("dedup_key", &self.event.dedup_key())
            .field("body_bytes", &self.body.len())
            .field("truncations", &self.truncations)
            .finish()
    }
}

/// What to do with one delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Send this event.
    Send(Box<Encoded>),
    /// Send nothing; the delivery is complete (the reason says why).
    Skip(&'static str),
}

/// Dedup key of an alert under the target's options: `{prefix}{fingerprint}` per alert, or
/// `{prefix}group-{FNV-1a 64 of the group key}` per group (per alert when the notification
/// has no group key). At most [`MAX_DEDUP_KEY_CHARS`] characters.
pub fn dedup_key(options: &PagerDutyOptions, alert: &Alert, context: &GroupContext) -> String {
    let key = match options.dedup {
        DedupMode::PerGroup if !context.group_key.is_empty() => {
            format!(
                "{}group-{:016x}",
                options.dedup_key_prefix,
                fnv64(context.group_key.as_bytes())
            )
        }
        _ => format!("{}{}", options.dedup_key_prefix, alert.fingerprint),
    };
    debug_assert!(
        key.chars().count() <= MAX_DEDUP_KEY_CHARS,
        "prefix is checked to be at most 200 characters"
    );
    key
}

fn fnv64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Whether the alert goes out as a change event.
pub(crate) fn is_change_event(options: &PagerDutyOptions, alert: &Alert) -> bool {
    options.change_events
        || alert
            .labels
            .get(&options.change_event_label)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// Plans one delivery: the event (within every PagerDuty limit) or why nothing is sent.
pub fn encode(config: &PagerDutyConfig, delivery: &Delivery) -> Plan {
    match build(
        &config.options,
        &config.templates,
        &delivery.alert,
        &delivery.context,
        delivery.vendor_state.as_ref(),
    ) {
        Ok((event, truncations)) => Plan::Send(Box::new(finish(
            event,
            truncations,
            &config.routing_key,
            MAX_EVENT_BYTES,
        ))),
        Err(reason) => Plan::Skip(reason),
    }
}

/// Serializes `event` and makes it fit `max_bytes` (shrinking `custom_details` first).
pub(crate) fn finish(
    mut event: Event,
    mut truncations: Vec<Truncation>,
    routing_key: &RoutingKey,
    max_bytes: usize,
) -> Encoded {
    let body = fit(&mut event, routing_key, max_bytes, &mut truncations);
    Encoded {
        event,
        body,
        truncations,
    }
}

/// The template fields of a PagerDuty target (`templates:`): `summary` is what Alertmanager's
/// `pagerduty_configs` call `description`; `details` is a map of key → template.
pub const TEMPLATE_FIELDS: publish::templates::Fields = publish::templates::Fields {
    plain: &[
        "summary",
        "source",
        "component",
        "group",
        "class",
        "client",
        "client_url",
    ],
    maps: &["details"],
};

/// The templated fields of one event, rendered once (each `None` when not templated or when
/// its rendering failed: the default is used).
#[derive(Debug, Default)]
struct Custom {
    summary: Option<String>,
    source: Option<String>,
    component: Option<String>,
    group: Option<String>,
    class: Option<String>,
    client: Option<String>,
    client_url: Option<String>,
    details: Vec<(String, String)>,
}

impl Custom {
    fn render(templates: &Templates, alert: &Alert, context: &GroupContext) -> Custom {
        let Some(r) = templates.for_delivery(context, alert) else {
            return Custom::default();
        };
        Custom {
            // PagerDuty requires a summary and a source: an empty rendering is the default.
            summary: r.non_empty("summary"),
            source: r.non_empty("source"),
            component: r.field("component"),
            group: r.field("group"),
            class: r.field("class"),
            client: r.field("client"),
            client_url: r.field("client_url"),
            details: r.map("details"),
        }
    }
}

/// Builds the event for an alert, with the field limits applied (not yet the size limit).
/// Templated fields replace the defaults as rendered: a templated summary gets neither the
/// `[RESOLVED]` prefix nor the classification suffix.
pub(crate) fn build(
    options: &PagerDutyOptions,
    templates: &Templates,
    alert: &Alert,
    context: &GroupContext,
    vendor_state: Option<&Value>,
) -> Result<(Event, Vec<Truncation>), &'static str> {
    let mut truncations = Vec::new();
    let custom = Custom::render(templates, alert, context);
    let classification = Classification::of(alert);
    let templated_summary = custom.summary.is_some();
    let mut summary = custom.summary.unwrap_or_else(|| summary(options, alert));
    if let (Some(c), false) = (&classification, templated_summary) {
        // The original's suffix: ` - AI: critical (95%)`.
        summary.push_str(&format!(" - AI: {} ({})", c.severity.as_str(), c.percent()));
    }
    let (summary, cut) = publish::truncate::chars(&summary, MAX_SUMMARY_CHARS);
    if cut {
        truncations.push(Truncation::Summary);
    }
    let mut field = |value: Option<&str>| {
        value.map(|v| {
            let (v, cut) = publish::truncate::chars(v, MAX_FIELD_CHARS);
            if cut && !truncations.contains(&Truncation::Field) {
                truncations.push(Truncation::Field);
            }
            v
        })
    };
    let source = field(
        or_label(
            custom.source.as_ref(),
            &alert.labels,
            &options.source_labels,
        )
        .or(Some(options.source.as_str())),
    )
    .unwrap_or_else(|| options.source.clone());
    let component = field(or_label(
        custom.component.as_ref(),
        &alert.labels,
        &options.component_labels,
    ))
    .filter(|v| !v.is_empty());
    let group = field(or_label(
        custom.group.as_ref(),
        &alert.labels,
        &options.group_labels,
    ))
    .filter(|v| !v.is_empty());
    let class = field(or_label(
        custom.class.as_ref(),
        &alert.labels,
        &options.class_labels,
    ))
    .filter(|v| !v.is_empty());
    let (links, images, links_cut) = links_and_images(options, alert);
    if links_cut {
        truncations.push(Truncation::Links);
    }
    let mut details = custom_details(alert, context);
    if let Value::Object(m) = &mut details {
        for (key, value) in custom.details {
            m.insert(key, Value::String(value));
        }
    }

    if is_change_event(options, alert) {
        if alert.status == AlertStatus::Resolved {
            return Err("a change event is a point in time: a resolved change alert sends nothing");
        }
        let event = ChangeEvent {
            payload: ChangePayload {
                summary,
                source: Some(source),
                timestamp: Some(iso(&alert.starts_at)),
                custom_details: Some(details),
            },
            links,
        };
        return Ok((Event::Change(event), truncations));
    }

    let (action, timestamp) = match alert.status {
        AlertStatus::Firing => (Action::Trigger, iso(&alert.starts_at)),
        AlertStatus::Resolved => {
            if options.dedup == DedupMode::PerGroup
                && !context.group_key.is_empty()
                && context.status == AlertStatus::Firing
            {
                return Err(
                    "per-group dedup: the group still has firing alerts, its PagerDuty alert stays open",
                );
            }
            (
                Action::Resolve,
                iso(alert.ends_at.as_ref().unwrap_or(&alert.starts_at)),
            )
        }
    };
    let dedup = crate::state::stored_dedup_key(vendor_state)
        .map_or_else(|| dedup_key(options, alert, context), str::to_owned);
    let summary = match action {
        Action::Resolve if !templated_summary => {
            publish::truncate::chars(&format!("[RESOLVED] {summary}"), MAX_SUMMARY_CHARS).0
        }
        _ => summary,
    };
    let event = AlertEvent {
        event_action: action,
        dedup_key: Some(dedup),
        payload: Some(Payload {
            summary,
            source,
            severity: classification.as_ref().map_or_else(
                || {
                    options.severity_for(
                        alert
                            .labels
                            .get(&options.severity_label)
                            .map(String::as_str),
                    )
                },
                |c| classified_severity(c.severity),
            ),
            timestamp: Some(timestamp),
            component,
            group,
            class,
            custom_details: Some(details),
        }),
        client: custom
            .client
            .or_else(|| Some(options.client.clone()))
            .filter(|c| !c.is_empty()),
        client_url: custom
            .client_url
            .or_else(|| options.client_url.clone())
            .or_else(|| alertmanager_url(context))
            .filter(|u| !u.is_empty()),
        links,
        images,
    };
    Ok((Event::Alert(event), truncations))
}

/// The event severity of a classified alert, as the original mapped it: critical, warning and
/// info map to themselves; noise is sent as warning.
pub(crate) fn classified_severity(severity: AiSeverity) -> Severity {
    match severity {
        AiSeverity::Critical => Severity::Critical,
        AiSeverity::Warning | AiSeverity::Noise => Severity::Warning,
        AiSeverity::Info => Severity::Info,
    }
}

/// An acknowledge (or resolve) event for a dedup key, for the library API.
pub(crate) fn action_event(action: Action, dedup_key: &str, client: &str) -> Event {
    Event::Alert(AlertEvent {
        event_action: action,
        dedup_key: Some(dedup_key.to_owned()),
        payload: None,
        client: Some(client.to_owned()).filter(|c| !c.is_empty()),
        client_url: None,
        links: Vec::new(),
        images: Vec::new(),
    })
}

fn iso(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A templated field's rendering, else the first of `names` among the labels.
fn or_label<'a>(
    templated: Option<&'a String>,
    labels: &'a Labels,
    names: &[String],
) -> Option<&'a str> {
    templated
        .map(String::as_str)
        .or_else(|| first_label(labels, names))
}

fn first_label<'a>(labels: &'a Labels, names: &[String]) -> Option<&'a str> {
    names
        .iter()
        .filter_map(|n| labels.get(n))
        .map(String::as_str)
        .find(|v| !v.trim().is_empty())
}

/// The summary before truncation: `alertname: <summary annotation>`, or Alertmanager's own
/// form `alertname (other label values)` when no summary annotation is set.
fn summary(options: &PagerDutyOptions, alert: &Alert) -> String {
    let name = alert.name();
    let text = first_label(&alert.annotations, &options.summary_annotations).map(one_line);
    let others = || {
        alert
            .labels
            .iter()
            .filter(|(k, _)| k.as_str() != "alertname")
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    match (name.is_empty(), text) {
        (false, Some(text)) => format!("{name}: {text}"),
        (true, Some(text)) => text,
        (false, None) => {
            let rest = others();
            if rest.is_empty() {
                name.to_owned()
            } else {
                format!("{name} ({rest})")
            }
        }
        (true, None) => others(),
    }
}

fn one_line(text: &str) -> String {
    let trimmed = text.trim();
    if trimmed.contains(['\n', '\r', '\t']) {
        trimmed.split_whitespace().collect::<Vec<_>>().join(" ")
    } else {
        trimmed.to_owned()
    }
}

fn custom_details(alert: &Alert, context: &GroupContext) -> Value {
    let labels = |l: &Labels| {
        Value::Object(
            l.iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    };
    let mut m = Map::new();
    m.insert(
        "status".to_owned(),
        Value::String(alert.status.as_str().to_owned()),
    );
    m.insert(
        "alertname".to_owned(),
        Value::String(alert.name().to_owned()),
    );
    m.insert("labels".to_owned(), labels(&alert.labels));
    m.insert("annotations".to_owned(), labels(&alert.annotations));
    m.insert(
        "starts_at".to_owned(),
        Value::String(publish::time::format(&alert.starts_at)),
    );
    m.insert(
        "ends_at".to_owned(),
        alert
            .ends_at
            .as_ref()
            .map_or(Value::Null, |t| Value::String(publish::time::format(t))),
    );
    m.insert(
        "fingerprint".to_owned(),
        Value::String(alert.fingerprint.to_string()),
    );
    if !alert.generator_url.is_empty() {
        m.insert(
            "generator_url".to_owned(),
            Value::String(alert.generator_url.clone()),
        );
    }
    if let Some(c) = Classification::of(alert) {
        // The original's `ai_classification` object.
        m.insert(
            "ai_classification".to_owned(),
            serde_json::json!({
                "severity": c.severity.as_str(),
                "confidence": c.confidence,
                "reasoning": c.reasoning,
                "recommendations": c.recommendations,
            }),
        );
    }
    if !context.receiver.is_empty() {
        m.insert(
            "receiver".to_owned(),
            Value::String(context.receiver.clone()),
        );
    }
    if !context.group_key.is_empty() {
        m.insert(
            "group_key".to_owned(),
            Value::String(context.group_key.clone()),
        );
    }
    if !context.group_labels.is_empty() {
        m.insert("group_labels".to_owned(), labels(&context.group_labels));
    }
    if !context.external_url.is_empty() {
        m.insert(
            "external_url".to_owned(),
            Value::String(context.external_url.clone()),
        );
    }
    if context.truncated_alerts > 0 {
        m.insert(
            "group_truncated_alerts".to_owned(),
            Value::from(context.truncated_alerts),
        );
    }
    Value::Object(m)
}

fn is_web_url(s: &str, https_only: bool) -> bool {
    match reqwest::Url::parse(s) {
        Ok(u) => u.has_host() && (u.scheme() == "https" || (!https_only && u.scheme() == "http")),
        Err(_) => false,
    }
}

/// Links (generator URL, runbooks, dashboards, non-https images) and https images. The bool is
/// true when an over-long URL was left out.
fn links_and_images(options: &PagerDutyOptions, alert: &Alert) -> (Vec<Link>, Vec<Image>, bool) {
    let mut links = Vec::new();
    let mut images = Vec::new();
    let mut cut = false;
    let mut push = |links: &mut Vec<Link>, href: &str, text: &str| {
        let href = href.trim();
        if href.chars().count() > MAX_URL_CHARS {
            cut = true;
        } else if is_web_url(href, false) && !links.iter().any(|l: &Link| l.href == href) {
            links.push(Link {
                href: href.to_owned(),
                text: Some(text.to_owned()),
            });
        }
    };
    if !alert.generator_url.is_empty() {
        push(&mut links, &alert.generator_url, "Source");
    }
    for name in &options.runbook_annotations {
        if let Some(url) = alert.annotations.get(name) {
            push(&mut links, url, "Runbook");
        }
    }
    for name in &options.dashboard_annotations {
        if let Some(url) = alert.annotations.get(name) {
            push(&mut links, url, "Dashboard");
        }
    }
    for name in &options.image_annotations {
        if let Some(url) = alert.annotations.get(name) {
            let url = url.trim();
            if url.chars().count() <= MAX_URL_CHARS && is_web_url(url, true) {
                images.push(Image {
                    src: url.to_owned(),
                    href: Some(url.to_owned()),
                    alt: Some(name.clone()),
                });
            } else {
                push(&mut links, url, "Image");
            }
        }
    }
    (links, images, cut)
}

/// `{externalURL}/#/alerts?receiver=<receiver>`, Alertmanager's own `client_url`.
fn alertmanager_url(context: &GroupContext) -> Option<String> {
    let base = context.external_url.trim_end_matches('/');
    if !is_web_url(base, false) {
        return None;
    }
    if context.receiver.is_empty() {
        return Some(format!("{base}/#/alerts"));
    }
    Some(format!(
        "{base}/#/alerts?receiver={}",
        query_escape(&context.receiver)
    ))
}

/// Percent-encodes everything but unreserved characters (Go's `url.QueryEscape` without the
/// space-as-plus rule).
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Serializes the event; over `max_bytes`, shrinks every string in `custom_details` step by
/// step (saying so inside it), and as a last resort replaces `custom_details` by the note alone
/// (as Alertmanager does).
fn fit(
    event: &mut Event,
    routing_key: &RoutingKey,
    max_bytes: usize,
    truncations: &mut Vec<Truncation>,
) -> Vec<u8> {
    let body = event.to_body(routing_key);
    if body.len() <= max_bytes {
        return body;
    }
    let original_size = body.len();
    let Some(slot) = event.custom_details_mut() else {
        return body;
    };
    let original = slot.take().unwrap_or(Value::Null);
    truncations.push(Truncation::CustomDetails);
    for limit in [65_536, 16_384, 4096, 1024, 256] {
        let mut shrunk = shrink_strings(&original, limit);
        let note = format!(
            "custom_details shrunk to fit PagerDuty's event size limit: the event was {original_size} bytes, \
             the limit is {max_bytes}; values longer than {limit} bytes were cut (they end with {})",
            publish::truncate::MARKER
        );
        if let Value::Object(map) = &mut shrunk {
            map.insert(TRUNCATION_NOTE_KEY.to_owned(), Value::String(note));
        } else {
            shrunk = serde_json::json!({ TRUNCATION_NOTE_KEY: note, "value": shrunk });
        }
        if let Some(slot) = event.custom_details_mut() {
            *slot = Some(shrunk);
        }
        let body = event.to_body(routing_key);
        if body.len() <= max_bytes {
            return body;
        }
    }
    let note = format!(
        "custom_details removed to fit PagerDuty's event size limit: the event was {original_size} bytes, the limit is {max_bytes}"
    );
    if let Some(slot) = event.custom_details_mut() {
        *slot = Some(serde_json::json!({ TRUNCATION_NOTE_KEY: note }));
    }
    let body = event.to_body(routing_key);
    debug_assert!(
        body.len() <= max_bytes || max_bytes < 16_384,
        "every other field is bounded"
    );
    body
}

fn shrink_strings(value: &Value, max_bytes: usize) -> Value {
    match value {
        Value::String(s) => Value::String(publish::truncate::bytes(s, max_bytes).0),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| shrink_strings(v, max_bytes)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    (
                        publish::truncate::bytes(k, max_bytes).0,
                        shrink_strings(v, max_bytes),
                    )
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_escape_like_go() {
        assert_eq!(query_escape("team a/b"), "team%20a%2Fb");
        assert_eq!(query_escape("pd-prod_1.x~"), "pd-prod_1.x~");
    }

    #[test]
    fn one_line_summaries() {
        assert_eq!(one_line("  a\n  b\tc "), "a b c");
        assert_eq!(one_line(" plain "), "plain");
    }
}
