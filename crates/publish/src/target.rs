use std::{collections::BTreeMap, fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::Secret;

/// A target name: a DNS-1123 label (1–63 of `a-z`, `0-9`, `-`, starting and ending with a
/// letter or digit), so it is safe in metric labels, URLs and Kubernetes object names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TargetName(String);

/// Why a string is not a [`TargetName`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TargetNameError(String);

impl FromStr for TargetName {
    type Err = TargetNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| {
            Err(TargetNameError(format!(
                "{s:?} is not a DNS-1123 label: {why}"
            )))
        };
        if s.is_empty() {
            return bad("it is empty");
        }
        if s.len() > 63 {
            return bad("it is longer than 63 characters");
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return bad("use only lowercase letters, digits and '-'");
        }
        if s.starts_with('-') || s.ends_with('-') {
            return bad("it must start and end with a letter or digit");
        }
        Ok(TargetName(s.to_owned()))
    }
}

impl<'de> Deserialize<'de> for TargetName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl TargetName {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TargetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which kind of system a target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TargetType {
    /// Rootly REST API.
    Rootly,
    /// PagerDuty Events API v2.
    Pagerduty,
    /// Slack (incoming webhook or Web API).
    Slack,
    /// Any HTTP endpoint.
    Webhook,
}

impl TargetType {
    /// All types, for error messages.
    pub const ALL: [TargetType; 4] = [
        TargetType::Rootly,
        TargetType::Pagerduty,
        TargetType::Slack,
        TargetType::Webhook,
    ];

    /// The type as written in a target definition.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetType::Rootly => "rootly",
            TargetType::Pagerduty => "pagerduty",
            TargetType::Slack => "slack",
            TargetType::Webhook => "webhook",
        }
    }

    /// Formats a target of this type can use; the first is the default.
    pub fn formats(self) -> &'static [Format] {
        match self {
            TargetType::Rootly => &[Format::Rootly],
            TargetType::Pagerduty => &[Format::Pagerduty],
            TargetType::Slack => &[Format::Slack],
            TargetType::Webhook => &[Format::Alertmanager, Format::Webhook],
        }
    }
}

impl fmt::Display for TargetType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How alerts are encoded for a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// A faithful Alertmanager webhook v4 payload holding the one alert.
    Alertmanager,
    /// Alert Publisher's documented single-alert JSON.
    Webhook,
    /// PagerDuty Events API v2.
    Pagerduty,
    /// Slack message.
    Slack,
    /// Rootly JSON:API.
    Rootly,
}

impl Format {
    /// The format as written in a target definition.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Alertmanager => "alertmanager",
            Format::Webhook => "webhook",
            Format::Pagerduty => "pagerduty",
            Format::Slack => "slack",
            Format::Rootly => "rootly",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a publisher is built from: a validated target definition without its routing filter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    /// Unique name.
    pub name: TargetName,
    /// Kind of system.
    #[serde(rename = "type")]
    pub kind: TargetType,
    /// Where requests go (the webhook URL, or a vendor API base URL).
    pub url: String,
    /// Disabled targets receive nothing.
    pub enabled: bool,
    /// Encoding.
    pub format: Format,
    /// Extra request headers; values are secrets (they often carry credentials).
    pub headers: BTreeMap<String, Secret>,
    /// Type-specific options, read by the publisher's typed config.
    pub options: serde_json::Map<String, serde_json::Value>,
    /// Alertmanager templates of the message's fields, by field (read by the publisher:
    /// [`crate::templates::Templates`]).
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub templates: serde_json::Map<String, serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_names() {
        for ok in ["a", "pd-prod", "team-1-slack", &"x".repeat(63)] {
            assert!(ok.parse::<TargetName>().is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("-a", "start and end"),
            ("a-", "start and end"),
            ("Team", "lowercase"),
            ("a_b", "lowercase"),
            ("a.b", "lowercase"),
        ] {
            let e = bad.parse::<TargetName>().unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert!(
            "y".repeat(64)
                .parse::<TargetName>()
                .unwrap_err()
                .to_string()
                .contains("63")
        );
    }
}
