//! Alertmanager templates in a target definition (its `templates:` key): parsed when the
//! publisher is built, rendered for each delivery, and never the reason an alert is lost.
//!
//! A field's template sees the notification the alert arrived in, as Alertmanager's own
//! notifiers would see a notification of that one alert ([`data`]). When a template fails at
//! render time the publisher sends its default rendering of that field instead, counts the
//! failure in [`RENDER_FAILURES_TOTAL`] and logs the first failure of each (target, field).

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use chrono::{DateTime, FixedOffset, NaiveDate};
pub use template::{Data, Library, Template};

use crate::{Alert, AlertStatus, ConfigError, GroupContext, Target};

/// Counter: template renderings that failed at delivery time (the default rendering was sent
/// instead), by `target_name` and `field`.
pub const RENDER_FAILURES_TOTAL: &str = "alert_publisher_template_render_failures_total";

/// Describes the family above.
pub fn describe() {
    metrics::describe_counter!(
        RENDER_FAILURES_TOTAL,
        metrics::Unit::Count,
        "Template renderings that failed at delivery time; the default rendering was sent instead."
    );
}

/// What a template sees for one delivered alert: the receiver, group labels, common labels and
/// annotations and external URL of the notification it arrived in, `.Alerts` holding the alert
/// alone, and `.Status` that alert's status (what Alertmanager computes for a group of one).
pub fn data(context: &GroupContext, alert: &Alert) -> Data {
    let any_firing = alert.status == AlertStatus::Firing;
    Data {
        receiver: context.receiver.clone(),
        status: if any_firing { "firing" } else { "resolved" }.to_owned(),
        alerts: vec![alert_data(alert)],
        group_labels: context.group_labels.clone(),
        common_labels: context.common_labels.clone(),
        common_annotations: context.common_annotations.clone(),
        external_url: context.external_url.clone(),
    }
}

/// One alert in the template data model (a firing alert ends at Go's zero time, as in the
/// webhook Alertmanager sends).
pub fn alert_data(alert: &Alert) -> template::AlertData {
    template::AlertData {
        status: alert.status.as_str().to_owned(),
        labels: alert.labels.clone(),
        annotations: alert.annotations.clone(),
        starts_at: alert.starts_at.fixed_offset(),
        ends_at: alert
            .ends_at
            .map_or_else(go_zero_time, |t| t.fixed_offset()),
        generator_url: alert.generator_url.clone(),
        fingerprint: alert.fingerprint.as_str().to_owned(),
    }
}

fn go_zero_time() -> DateTime<FixedOffset> {
    NaiveDate::from_ymd_opt(1, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().fixed_offset())
        .unwrap_or_default()
}

#[derive(Debug)]
struct Field {
    template: Template,
    /// Whether a render failure of this field was logged already.
    logged: AtomicBool,
}

/// The parsed templates of one target, by field (`text`, or `details.<key>` for a map).
#[derive(Debug, Clone, Default)]
pub struct Templates {
    target: String,
    fields: Arc<BTreeMap<String, Field>>,
}

/// The template fields a target type accepts: plain names, and map names whose every key is a
/// template (PagerDuty's `details`).
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    /// Fields holding one template.
    pub plain: &'static [&'static str],
    /// Fields holding a map of key → template.
    pub maps: &'static [&'static str],
}

impl Templates {
    /// Parses `target.templates` against the shared `library`, accepting only `allowed`
    /// fields. Errors name the field (`templates.text`) and the line and column in it.
    pub fn parse(
        target: &Target,
        library: &Library,
        allowed: Fields,
    ) -> Result<Templates, ConfigError> {
        let mut fields = BTreeMap::new();
        let known = || {
            let mut names: Vec<&str> = allowed.plain.to_vec();
            names.extend(allowed.maps);
            format!("a {} target has {}", target.kind, names.join(", "))
        };
        for (key, value) in &target.templates {
            let path = format!("templates.{key}");
            if allowed.plain.contains(&key.as_str()) {
                let Some(text) = value.as_str() else {
                    return Err(ConfigError::new(path, "must be a string (a template)"));
                };
                fields.insert(key.clone(), parse_one(library, &target.name, &path, text)?);
            } else if allowed.maps.contains(&key.as_str()) {
                let Some(map) = value.as_object() else {
                    return Err(ConfigError::new(path, "must be a map of name to template"));
                };
                for (name, text) in map {
                    let path = format!("{path}.{name}");
                    let Some(text) = text.as_str() else {
                        return Err(ConfigError::new(path, "must be a string (a template)"));
                    };
                    let field = parse_one(library, &target.name, &path, text)?;
                    fields.insert(format!("{key}.{name}"), field);
                }
            } else {
                return Err(ConfigError::new(
                    path,
                    format!("unknown template field; {}", known()),
                ));
            }
        }
        Ok(Templates {
            target: target.name.to_string(),
            fields: Arc::new(fields),
        })
    }

    /// Whether no field is templated.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Renders `field`; `None` when it has no template or the rendering failed (then the
    /// caller sends its default: the failure is counted and logged once per field).
    pub fn render(&self, field: &str, data: &Data) -> Option<String> {
        let f = self.fields.get(field)?;
        match f.template.render(data) {
            Ok(text) => Some(text),
            Err(e) => {
                self.failed(field, f, &e);
                None
            }
        }
    }

    /// The renderer of one delivery's fields (its data built once), or `None` when the target
    /// has no templates.
    pub fn for_delivery(&self, context: &GroupContext, alert: &Alert) -> Option<Rendering<'_>> {
        (!self.is_empty()).then(|| Rendering {
            templates: self,
            data: data(context, alert),
        })
    }

    /// Renders every key of a map field (`details`), skipping keys whose rendering failed.
    pub fn render_map(&self, map: &str, data: &Data) -> Vec<(String, String)> {
        let prefix = format!("{map}.");
        self.fields
            .iter()
            .filter_map(|(k, f)| {
                let key = k.strip_prefix(&prefix)?;
                match f.template.render(data) {
                    Ok(text) => Some((key.to_owned(), text)),
                    Err(e) => {
                        self.failed(k, f, &e);
                        None
                    }
                }
            })
            .collect()
    }

    fn failed(&self, field: &str, f: &Field, error: &template::Error) {
        metrics::counter!(
            RENDER_FAILURES_TOTAL,
            "target_name" => self.target.clone(),
            "field" => field.to_owned()
        )
        .increment(1);
        if !f.logged.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                target_name = %self.target,
                field,
                error = %error,
                "template failed to render; the default rendering was sent (logged once per field)"
            );
        }
    }
}

/// One delivery's templated fields: each rendered on demand against the delivery's data.
#[derive(Debug)]
pub struct Rendering<'a> {
    templates: &'a Templates,
    data: Data,
}

impl Rendering<'_> {
    /// The field's rendering; `None` when not templated or failed (see [`Templates::render`]).
    pub fn field(&self, field: &str) -> Option<String> {
        self.templates.render(field, &self.data)
    }

    /// Like [`Rendering::field`], with an empty (all-blank) rendering as `None` too: for fields
    /// a vendor requires.
    pub fn non_empty(&self, field: &str) -> Option<String> {
        self.field(field).filter(|t| !t.trim().is_empty())
    }

    /// Every key of a map field (see [`Templates::render_map`]).
    pub fn map(&self, field: &str) -> Vec<(String, String)> {
        self.templates.render_map(field, &self.data)
    }
}

fn parse_one(
    library: &Library,
    target: &crate::TargetName,
    path: &str,
    text: &str,
) -> Result<Field, ConfigError> {
    let name = format!("{target}.{path}");
    let template = Template::parse(library, &name, text).map_err(|e| {
        ConfigError::new(
            path,
            format!("line {}, column {}: {}", e.line, e.column, e.message),
        )
    })?;
    Ok(Field {
        template,
        logged: AtomicBool::new(false),
    })
}
