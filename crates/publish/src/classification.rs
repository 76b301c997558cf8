//! An alert's classification (severity, confidence, reasoning, recommendations), as the
//! original service's LLM classifier produced it.
//!
//! It travels with the alert as annotations, so it is stored with every job, survives restarts
//! and replays, and the routing filters see it:
//!
//! | Annotation (or label)              | Also read from        | Value                          |
//! |------------------------------------|-----------------------|--------------------------------|
//! | `classification_severity`          | `llm_severity`        | critical, warning, info, noise |
//! | `classification_confidence`        | `llm_confidence`      | 0 to 1 (`0.95`)                |
//! | `classification_reasoning`         | `llm_reasoning`       | text                           |
//! | `classification_recommendations`   | `llm_recommendations` | JSON array, or `; `-separated  |
//! | `classification_category`          | `llm_category`        | free text (`noise`, …)         |
//!
//! An alert is classified when it carries a severity and a confidence. The submit and
//! parallel APIs accept a [`Classification`] object (the original's `ClassificationResult`)
//! and write it with [`Classification::annotate`].

use serde::{Deserialize, Serialize};

use crate::{Alert, Labels};

/// The classifier's severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AiSeverity {
    /// Page someone.
    Critical,
    /// Look soon.
    Warning,
    /// For information.
    Info,
    /// Not worth anyone's attention.
    Noise,
}

impl AiSeverity {
    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            AiSeverity::Critical => "critical",
            AiSeverity::Warning => "warning",
            AiSeverity::Info => "info",
            AiSeverity::Noise => "noise",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "critical" => Some(AiSeverity::Critical),
            "warning" => Some(AiSeverity::Warning),
            "info" => Some(AiSeverity::Info),
            "noise" => Some(AiSeverity::Noise),
            _ => None,
        }
    }
}

/// A classification: the original's `ClassificationResult`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Classification {
    /// critical, warning, info or noise.
    pub severity: AiSeverity,
    /// 0 to 1.
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub confidence: f64,
    /// Why.
    #[serde(default)]
    pub reasoning: String,
    /// What to do, most useful first.
    #[serde(default)]
    pub recommendations: Vec<String>,
    /// A free-form category (`noise` is what the `exclude_noise` filter drops).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// How long the classification took, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_time: Option<f64>,
    /// Anything else the classifier reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

const SEVERITY: [&str; 2] = ["classification_severity", "llm_severity"];
const CONFIDENCE: [&str; 2] = ["classification_confidence", "llm_confidence"];
const REASONING: [&str; 2] = ["classification_reasoning", "llm_reasoning"];
const RECOMMENDATIONS: [&str; 2] = ["classification_recommendations", "llm_recommendations"];
const CATEGORY: [&str; 2] = ["classification_category", "llm_category"];
const PROCESSING_TIME: &str = "classification_processing_time";
const METADATA: &str = "classification_metadata";

/// The first of `keys` in the annotations, then in the labels.
fn lookup<'a>(alert: &'a Alert, keys: &[&str]) -> Option<&'a str> {
    [&alert.annotations, &alert.labels]
        .into_iter()
        .find_map(|m: &Labels| keys.iter().find_map(|k| m.get(*k)))
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
}

/// A classification value as the routing filters read it: `key` is a `classification_*` name;
/// its `llm_*` twin counts too.
pub fn value<'a>(alert: &'a Alert, key: &str) -> Option<&'a str> {
    let twin = key.replacen("classification_", "llm_", 1);
    lookup(alert, &[key, twin.as_str()])
}

impl Classification {
    /// The classification an alert carries (see the module docs), if it has one.
    pub fn of(alert: &Alert) -> Option<Self> {
        let severity = AiSeverity::parse(lookup(alert, &SEVERITY)?)?;
        let confidence: f64 = lookup(alert, &CONFIDENCE)?.parse().ok()?;
        if !(0.0..=1.0).contains(&confidence) {
            return None;
        }
        let recommendations = lookup(alert, &RECOMMENDATIONS)
            .map(|r| {
                serde_json::from_str::<Vec<String>>(r).unwrap_or_else(|_| {
                    r.split("; ")
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
            })
            .unwrap_or_default();
        Some(Self {
            severity,
            confidence,
            reasoning: lookup(alert, &REASONING).unwrap_or_default().to_owned(),
            recommendations,
            category: lookup(alert, &CATEGORY).map(str::to_owned),
            processing_time: lookup(alert, &[PROCESSING_TIME]).and_then(|t| t.parse().ok()),
            metadata: lookup(alert, &[METADATA]).and_then(|m| serde_json::from_str(m).ok()),
        })
    }

    /// Checks the ranges the original checked: confidence within 0 to 1, a processing time
    /// that is not negative.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.confidence) {
            return Err(format!(
                "classification.confidence must be between 0 and 1 (got {})",
                self.confidence
            ));
        }
        if self
            .processing_time
            .is_some_and(|t| t < 0.0 || !t.is_finite())
        {
            return Err("classification.processing_time must not be negative".to_owned());
        }
        Ok(())
    }

    /// Writes the classification into the alert's annotations (the `classification_*`
    /// names), replacing any it carried, so it is stored and routed with the alert.
    pub fn annotate(&self, alert: &mut Alert) {
        for keys in [SEVERITY, CONFIDENCE, REASONING, RECOMMENDATIONS, CATEGORY] {
            for k in keys {
                alert.annotations.remove(k);
            }
        }
        let a = &mut alert.annotations;
        a.insert(SEVERITY[0].into(), self.severity.as_str().into());
        a.insert(CONFIDENCE[0].into(), format!("{}", self.confidence));
        if !self.reasoning.is_empty() {
            a.insert(REASONING[0].into(), self.reasoning.clone());
        }
        if !self.recommendations.is_empty() {
            a.insert(
                RECOMMENDATIONS[0].into(),
                serde_json::to_string(&self.recommendations).unwrap_or_default(),
            );
        }
        if let Some(c) = &self.category {
            a.insert(CATEGORY[0].into(), c.clone());
        }
        match self.processing_time {
            Some(t) => a.insert(PROCESSING_TIME.into(), format!("{t}")),
            None => a.remove(PROCESSING_TIME),
        };
        match &self.metadata {
            Some(m) => a.insert(
                METADATA.into(),
                serde_json::Value::Object(m.clone()).to_string(),
            ),
            None => a.remove(METADATA),
        };
    }

    /// Whether annotation `key` is one a classification is carried in (`classification_*`,
    /// `llm_*`): encoders that show the classification in its own place leave these out.
    pub fn is_carrier(key: &str) -> bool {
        key.starts_with("classification_") || key.starts_with("llm_")
    }

    /// `95%`: the confidence as the original printed it (`%.0f%%`).
    pub fn percent(&self) -> String {
        format!("{:.0}%", self.confidence * 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AlertStatus, Fingerprint};

    fn alert(annotations: &[(&str, &str)]) -> Alert {
        let labels: Labels = [("alertname".to_owned(), "A".to_owned())].into();
        Alert {
            status: AlertStatus::Firing,
            fingerprint: Fingerprint::from_labels(&labels),
            labels,
            annotations: annotations
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            starts_at: chrono::Utc::now(),
            ends_at: None,
            generator_url: String::new(),
        }
    }

    #[test]
    fn read_from_llm_annotations_as_the_original_wrote_them() {
        let a = alert(&[
            ("llm_severity", "critical"),
            ("llm_confidence", "0.95"),
            ("llm_reasoning", "disk full"),
            ("llm_recommendations", "Free space; Page storage"),
        ]);
        let c = Classification::of(&a).expect("classified");
        assert_eq!(c.severity, AiSeverity::Critical);
        assert_eq!(c.confidence, 0.95);
        assert_eq!(c.reasoning, "disk full");
        assert_eq!(c.recommendations, ["Free space", "Page storage"]);
        assert_eq!(c.percent(), "95%");
    }

    #[test]
    fn written_and_read_back() {
        let c = Classification {
            severity: AiSeverity::Noise,
            confidence: 0.5,
            reasoning: "flapping".into(),
            recommendations: vec!["a; b".into(), "c".into()],
            category: Some("noise".into()),
            processing_time: Some(0.25),
            metadata: Some([("model".to_owned(), "m".into())].into_iter().collect()),
        };
        let mut a = alert(&[("llm_severity", "critical"), ("llm_confidence", "0.9")]);
        c.annotate(&mut a);
        assert!(!a.annotations.contains_key("llm_severity"));
        assert_eq!(Classification::of(&a), Some(c));
        assert_eq!(value(&a, "classification_category"), Some("noise"));
    }

    #[test]
    fn incomplete_or_out_of_range_is_not_a_classification() {
        assert_eq!(
            Classification::of(&alert(&[("llm_severity", "critical")])),
            None
        );
        assert_eq!(
            Classification::of(&alert(&[
                ("llm_severity", "critical"),
                ("llm_confidence", "1.5")
            ])),
            None
        );
        assert_eq!(
            Classification::of(&alert(&[
                ("llm_severity", "urgent"),
                ("llm_confidence", "0.5")
            ])),
            None
        );
        assert!(
            Classification {
                severity: AiSeverity::Info,
                confidence: 2.0,
                reasoning: String::new(),
                recommendations: vec![],
                category: None,
                processing_time: None,
                metadata: None
            }
            .validate()
            .is_err()
        );
    }
}
