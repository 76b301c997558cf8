use std::collections::BTreeMap;

use publish::Alert;
use serde::Deserialize;

/// Which alerts a target receives. An empty filter lets every alert through.
///
/// ```yaml
/// filter:
///   severity: [critical, warning]   # allow-list of the `severity` label (case-insensitive)
///   labels: {team: sre}             # every label must be present with exactly this value
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// Allowed values of the `severity` label; empty allows all.
    #[serde(default)]
    pub severity: Vec<String>,
    /// Labels that must be equal.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl Filter {
    /// Whether `alert` passes.
    pub fn matches(&self, alert: &Alert) -> bool {
        if !self.severity.is_empty() {
            let Some(sev) = alert.severity() else {
                return false;
            };
            if !self.severity.iter().any(|s| s.eq_ignore_ascii_case(&sev)) {
                return false;
            }
        }
        self.labels
            .iter()
            .all(|(k, v)| alert.labels.get(k) == Some(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(labels: &[(&str, &str)]) -> Alert {
        let labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Alert {
            status: publish::AlertStatus::Firing,
            fingerprint: publish::Fingerprint::from_labels(&labels),
            labels,
            annotations: Default::default(),
            starts_at: chrono::Utc::now(),
            ends_at: None,
            generator_url: String::new(),
        }
    }

    fn check(filter: &str, labels: &[(&str, &str)], expected: bool) {
        let f: Filter = serde_json::from_str(filter).unwrap();
        assert_eq!(
            f.matches(&alert(labels)),
            expected,
            "{filter} on {labels:?}"
        );
    }

    #[test]
    fn matching() {
        check("{}", &[("alertname", "A")], true);
        check(
            r#"{"severity":["critical"]}"#,
            &[("severity", "critical")],
            true,
        );
        check(
            r#"{"severity":["critical"]}"#,
            &[("severity", "CRITICAL")],
            true,
        );
        check(
            r#"{"severity":["critical"]}"#,
            &[("severity", "warning")],
            false,
        );
        check(r#"{"severity":["critical"]}"#, &[("alertname", "A")], false);
        check(
            r#"{"severity":["critical","warning"]}"#,
            &[("severity", "warning")],
            true,
        );
        check(r#"{"labels":{"team":"sre"}}"#, &[("team", "sre")], true);
        check(r#"{"labels":{"team":"sre"}}"#, &[("team", "dba")], false);
        check(r#"{"labels":{"team":"sre"}}"#, &[], false);
        check(
            r#"{"labels":{"team":"sre","env":"prod"}}"#,
            &[("team", "sre"), ("env", "prod")],
            true,
        );
        check(
            r#"{"labels":{"team":"sre","env":"prod"}}"#,
            &[("team", "sre"), ("env", "dev")],
            false,
        );
        check(
            r#"{"severity":["critical"],"labels":{"team":"sre"}}"#,
            &[("team", "sre"), ("severity", "info")],
            false,
        );
    }
}
