use std::collections::BTreeMap;

use publish::{Alert, AlertStatus};
use serde::{Deserialize, Deserializer, de::Error as _};

/// Which alerts a target receives. An empty filter lets every alert through.
///
/// ```yaml
/// filter:
///   severity: [critical, warning]   # allow-list of the `severity` label (case-insensitive)
///   labels: {team: sre}             # every label must be present with exactly this value
///   matchers:                       # Alertmanager matchers: =, !=, =~, !~ (regex anchored)
///     - 'service=~"api|web"'
///     - 'env!="dev"'
///   namespaces:                     # on the `namespace` label
///     include: [prod, payments]     # empty: any
///     exclude: [sandbox]
///   send_resolved: false            # default true: resolved notifications are delivered
///   classification:                 # only for alerts that carry a classification
///     min_confidence: 0.8
///     exclude_noise: true
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// Allowed values of the `severity` label; empty allows all.
    #[serde(default)]
    pub severity: Vec<String>,
    /// Labels that must be equal.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Alertmanager-style matchers; all must match. Each entry is one matcher or several in
    /// Alertmanager's forms: `a="b", c=~"d"` or `{a="b", c=~"d"}`.
    #[serde(default, deserialize_with = "matcher_list")]
    pub matchers: Vec<Matcher>,
    /// Namespace include / exclude lists (the `namespace` label).
    #[serde(default)]
    pub namespaces: NamespaceFilter,
    /// Deliver resolved notifications (default true).
    #[serde(default = "yes")]
    pub send_resolved: bool,
    /// Classification filters.
    #[serde(default)]
    pub classification: ClassificationFilter,
}

fn yes() -> bool {
    true
}

impl Default for Filter {
    fn default() -> Self {
        Self {
            severity: Vec::new(),
            labels: BTreeMap::new(),
            matchers: Vec::new(),
            namespaces: NamespaceFilter::default(),
            send_resolved: true,
            classification: ClassificationFilter::default(),
        }
    }
}

/// Namespace include / exclude lists, matched against the `namespace` label.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct NamespaceFilter {
    /// When not empty, the alert's namespace must be one of these (an alert without a
    /// namespace label is then rejected).
    #[serde(default)]
    pub include: Vec<String>,
    /// The alert's namespace must not be one of these.
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// Filters for alerts that carry a classification (annotations or labels
/// `classification_confidence` (0–1), `classification_category` and `classification_severity`,
/// or their `llm_*` twins; see [`publish::classification`]). Alerts without one pass.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClassificationFilter {
    /// Reject alerts classified with a lower confidence.
    #[serde(default)]
    pub min_confidence: Option<f64>,
    /// Reject alerts classified as noise (category or severity `noise`).
    #[serde(default)]
    pub exclude_noise: bool,
}

/// The operator of a [`Matcher`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum MatchOp {
    /// `=`
    #[serde(rename = "=")]
    Equal,
    /// `!=`
    #[serde(rename = "!=")]
    NotEqual,
    /// `=~`
    #[serde(rename = "=~")]
    Regex,
    /// `!~`
    #[serde(rename = "!~")]
    NotRegex,
}

/// An Alertmanager matcher: `name op "value"`. A missing label matches as the empty string;
/// regular expressions are anchored at both ends, as in Alertmanager.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// Label name.
    pub name: String,
    /// Operator.
    pub op: MatchOp,
    /// Value (or pattern).
    pub value: String,
    regex: Option<regex::Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = match self.op {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        };
        write!(f, "{}{op}{:?}", self.name, self.value)
    }
}

impl serde::Serialize for Matcher {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl std::str::FromStr for Matcher {
    type Err = String;

    /// Parses `name=value`, `name!="value"`, `name=~"re"`, `name!~re`.
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let end = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .ok_or_else(|| format!("matcher {s:?} has no operator (=, !=, =~, !~)"))?;
        let (name, rest) = s.split_at(end);
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(format!("matcher {s:?}: invalid label name"));
        }
        let rest = rest.trim_start();
        let (op, value) = if let Some(v) = rest.strip_prefix("=~") {
            (MatchOp::Regex, v)
        } else if let Some(v) = rest.strip_prefix("!~") {
            (MatchOp::NotRegex, v)
        } else if let Some(v) = rest.strip_prefix("!=") {
            (MatchOp::NotEqual, v)
        } else if let Some(v) = rest.strip_prefix('=') {
            (MatchOp::Equal, v)
        } else {
            return Err(format!("matcher {s:?} has no operator (=, !=, =~, !~)"));
        };
        let value = value.trim();
        let value = if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
            serde_json::from_str::<String>(value)
                .map_err(|e| format!("matcher {s:?}: bad quoted value: {e}"))?
        } else {
            value.to_owned()
        };
        Matcher::new(name, op, value)
    }
}

impl Matcher {
    /// A matcher; fails on an invalid regular expression.
    pub fn new(name: &str, op: MatchOp, value: String) -> Result<Self, String> {
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(
                regex::Regex::new(&format!("^(?:{value})$"))
                    .map_err(|e| format!("matcher {name}: invalid regular expression: {e}"))?,
            ),
            _ => None,
        };
        Ok(Self {
            name: name.to_owned(),
            op,
            value,
            regex,
        })
    }

    /// Whether the labels match.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let v = labels.get(&self.name).map_or("", String::as_str);
        match (self.op, &self.regex) {
            (MatchOp::Equal, _) => v == self.value,
            (MatchOp::NotEqual, _) => v != self.value,
            (MatchOp::Regex, Some(re)) => re.is_match(v),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(v),
            _ => false,
        }
    }
}

/// Reads a list of matcher entries, each possibly several matchers (see [`parse_matchers`]).
fn matcher_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Matcher>, D::Error> {
    let entries = Vec::<String>::deserialize(d)?;
    let mut out = Vec::new();
    for entry in entries {
        out.extend(parse_matchers(&entry).map_err(D::Error::custom)?);
    }
    Ok(out)
}

/// Parses matchers as Alertmanager writes them: one (`a="b"`), several separated by commas
/// (`a="b", c=~"d"`), or a selector in braces (`{a="b", c=~"d"}`). Commas inside quoted values
/// are part of the value.
pub fn parse_matchers(s: &str) -> Result<Vec<Matcher>, String> {
    let trimmed = s.trim();
    let inner = match trimmed.strip_prefix('{') {
        Some(rest) => rest
            .strip_suffix('}')
            .ok_or_else(|| format!("matchers {trimmed:?}: a '{{' without its '}}'"))?,
        None => trimmed,
    };
    let mut parts = Vec::new();
    let mut current = String::new();
    let (mut quoted, mut escaped) = (false, false);
    for c in inner.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if quoted {
        return Err(format!(
            "matchers {trimmed:?}: an unterminated quoted value"
        ));
    }
    parts.push(current);
    // A trailing comma is allowed, as in Alertmanager.
    if parts.last().is_some_and(|p| p.trim().is_empty()) {
        parts.pop();
    }
    parts.iter().map(|p| p.parse()).collect()
}

impl<'de> Deserialize<'de> for Matcher {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(D::Error::custom)
    }
}

/// A classification value (`classification_*`, or its `llm_*` twin) from the annotations or
/// labels.
fn classification(alert: &Alert, key: &str) -> Option<String> {
    publish::classification::value(alert, key).map(str::to_owned)
}

impl Filter {
    /// Whether `alert` passes.
    pub fn matches(&self, alert: &Alert) -> bool {
        self.explain(alert).is_none()
    }

    /// Why `alert` does not pass (the first condition it fails, in the order the filter
    /// checks them), or `None` when it passes: `severity "info" not allowed (critical,
    /// warning)`, `matcher env!="dev" failed`, `namespace "sandbox" excluded`, …
    pub fn explain(&self, alert: &Alert) -> Option<String> {
        if !self.send_resolved && alert.status == AlertStatus::Resolved {
            return Some("send_resolved is false".to_owned());
        }
        if !self.severity.is_empty() {
            let allowed = self.severity.join(", ");
            let Some(sev) = alert.severity() else {
                return Some(format!("no severity label (allowed: {allowed})"));
            };
            if !self.severity.iter().any(|s| s.eq_ignore_ascii_case(&sev)) {
                return Some(format!("severity {sev:?} not allowed ({allowed})"));
            }
        }
        if let Some((k, v)) = self
            .labels
            .iter()
            .find(|(k, v)| alert.labels.get(*k) != Some(*v))
        {
            return Some(match alert.labels.get(k) {
                Some(got) => format!("label {k} is {got:?}, not {v:?}"),
                None => format!("label {k} missing (wanted {v:?})"),
            });
        }
        if let Some(m) = self.matchers.iter().find(|m| !m.matches(&alert.labels)) {
            return Some(format!("matcher {m} failed"));
        }
        let ns = alert.labels.get("namespace");
        if !self.namespaces.include.is_empty()
            && !ns.is_some_and(|ns| self.namespaces.include.contains(ns))
        {
            return Some(match ns {
                Some(ns) => format!("namespace {ns:?} not included"),
                None => "no namespace label (namespaces.include is set)".to_owned(),
            });
        }
        if let Some(ns) = ns.filter(|ns| self.namespaces.exclude.contains(ns)) {
            return Some(format!("namespace {ns:?} excluded"));
        }
        if let Some(min) = self.classification.min_confidence
            && let Some(c) = classification(alert, "classification_confidence")
            && c.trim().parse::<f64>().is_ok_and(|c| c < min)
        {
            return Some(format!(
                "classification confidence {} below {min}",
                c.trim()
            ));
        }
        if self.classification.exclude_noise
            && ["classification_category", "classification_severity"]
                .into_iter()
                .any(|k| classification(alert, k).is_some_and(|c| c.eq_ignore_ascii_case("noise")))
        {
            return Some("classified as noise".to_owned());
        }
        None
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
            status: AlertStatus::Firing,
            fingerprint: publish::Fingerprint::from_labels(&labels),
            labels,
            annotations: Default::default(),
            starts_at: chrono::Utc::now(),
            ends_at: None,
            generator_url: String::new(),
        }
    }

    /// (filter or matcher, labels, expected)
    type Row<'a> = (&'a str, &'a [(&'a str, &'a str)], bool);

    fn check(filter: &str, labels: &[(&str, &str)], expected: bool) {
        let f: Filter = serde_json::from_str(filter).unwrap();
        assert_eq!(
            f.matches(&alert(labels)),
            expected,
            "{filter} on {labels:?}"
        );
    }

    #[test]
    fn explaining() {
        let table: &[(&str, &[(&str, &str)], Option<&str>)] = &[
            ("{}", &[("alertname", "A")], None),
            (
                r#"{"severity": ["critical"]}"#,
                &[("severity", "info")],
                Some(r#"severity "info" not allowed (critical)"#),
            ),
            (
                r#"{"labels": {"team": "sre"}}"#,
                &[("team", "db")],
                Some(r#"label team is "db", not "sre""#),
            ),
            (
                r#"{"matchers": ["env!=\"dev\""]}"#,
                &[("env", "dev")],
                Some(r#"matcher env!="dev" failed"#),
            ),
            (
                r#"{"namespaces": {"exclude": ["sandbox"]}}"#,
                &[("namespace", "sandbox")],
                Some(r#"namespace "sandbox" excluded"#),
            ),
        ];
        for (filter, labels, expected) in table {
            let f: Filter = serde_json::from_str(filter).unwrap();
            assert_eq!(
                f.explain(&alert(labels)).as_deref(),
                *expected,
                "{filter} on {labels:?}"
            );
        }
    }

    #[test]
    fn matching() {
        let table: &[Row<'_>] = &[
            ("{}", &[("alertname", "A")], true),
            (
                r#"{"severity":["critical"]}"#,
                &[("severity", "critical")],
                true,
            ),
            (
                r#"{"severity":["critical"]}"#,
                &[("severity", "CRITICAL")],
                true,
            ),
            (
                r#"{"severity":["critical"]}"#,
                &[("severity", "warning")],
                false,
            ),
            (r#"{"severity":["critical"]}"#, &[("alertname", "A")], false),
            (
                r#"{"severity":["critical","warning"]}"#,
                &[("severity", "warning")],
                true,
            ),
            (r#"{"labels":{"team":"sre"}}"#, &[("team", "sre")], true),
            (r#"{"labels":{"team":"sre"}}"#, &[("team", "dba")], false),
            (r#"{"labels":{"team":"sre"}}"#, &[], false),
            (
                r#"{"labels":{"team":"sre","env":"prod"}}"#,
                &[("team", "sre"), ("env", "prod")],
                true,
            ),
            (
                r#"{"labels":{"team":"sre","env":"prod"}}"#,
                &[("team", "sre"), ("env", "dev")],
                false,
            ),
            (
                r#"{"severity":["critical"],"labels":{"team":"sre"}}"#,
                &[("team", "sre"), ("severity", "info")],
                false,
            ),
        ];
        for (f, labels, expected) in table {
            check(f, labels, *expected);
        }
    }

    #[test]
    fn matchers_follow_alertmanager_semantics() {
        let table: &[Row<'_>] = &[
            // =
            (r#"team="sre""#, &[("team", "sre")], true),
            (r#"team=sre"#, &[("team", "sre")], true),
            (r#"team="sre""#, &[("team", "dba")], false),
            (r#"team="sre""#, &[], false),
            (r#"team="""#, &[], true),
            (r#"team="""#, &[("team", "sre")], false),
            // !=
            (r#"env!="dev""#, &[("env", "prod")], true),
            (r#"env!="dev""#, &[("env", "dev")], false),
            (r#"env!="dev""#, &[], true),
            (r#"env!="""#, &[], false),
            // =~ anchored
            (r#"service=~"api|web""#, &[("service", "api")], true),
            (r#"service=~"api|web""#, &[("service", "web")], true),
            (r#"service=~"api|web""#, &[("service", "api-gw")], false),
            (r#"service=~"api.*""#, &[("service", "api-gw")], true),
            (r#"service=~"api""#, &[], false),
            (r#"service=~".*""#, &[], true),
            // !~
            (r#"env!~"dev|test""#, &[("env", "prod")], true),
            (r#"env!~"dev|test""#, &[("env", "test")], false),
            (r#"env!~"de""#, &[("env", "dev")], true),
            (r#"env!~".+""#, &[], true),
            (r#"env!~".+""#, &[("env", "x")], false),
            // spaces and escapes
            (r#" team = "a\"b" "#, &[("team", "a\"b")], true),
        ];
        for (m, labels, expected) in table {
            let matcher: Matcher = m.parse().unwrap_or_else(|e| panic!("{m}: {e}"));
            let labels: BTreeMap<String, String> = labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            assert_eq!(matcher.matches(&labels), *expected, "{m} on {labels:?}");
            let f: Filter = serde_json::from_value(serde_json::json!({"matchers": [m]})).unwrap();
            let mut a = alert(&[]);
            a.labels = labels.clone();
            assert_eq!(f.matches(&a), *expected, "filter {m} on {labels:?}");
        }
        for bad in ["team", "=x", "team=~\"(\"", "1a=b", "team<>x"] {
            assert!(bad.parse::<Matcher>().is_err(), "{bad} should not parse");
        }
        let e = serde_json::from_value::<Filter>(serde_json::json!({"matchers": ["a=~\"(\""]}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid regular expression"), "{e}");
    }

    #[test]
    fn namespaces_and_send_resolved() {
        let table: &[Row<'_>] = &[
            (
                r#"{"namespaces":{"include":["prod"]}}"#,
                &[("namespace", "prod")],
                true,
            ),
            (
                r#"{"namespaces":{"include":["prod"]}}"#,
                &[("namespace", "dev")],
                false,
            ),
            (r#"{"namespaces":{"include":["prod"]}}"#, &[], false),
            (
                r#"{"namespaces":{"exclude":["sandbox"]}}"#,
                &[("namespace", "sandbox")],
                false,
            ),
            (
                r#"{"namespaces":{"exclude":["sandbox"]}}"#,
                &[("namespace", "prod")],
                true,
            ),
            (r#"{"namespaces":{"exclude":["sandbox"]}}"#, &[], true),
            (
                r#"{"namespaces":{"include":["a","b"],"exclude":["b"]}}"#,
                &[("namespace", "b")],
                false,
            ),
            (
                r#"{"namespaces":{"include":["a","b"],"exclude":["b"]}}"#,
                &[("namespace", "a")],
                true,
            ),
        ];
        for (f, labels, expected) in table {
            check(f, labels, *expected);
        }
        for (filter, status, expected) in [
            ("{}", AlertStatus::Resolved, true),
            (r#"{"send_resolved":true}"#, AlertStatus::Resolved, true),
            (r#"{"send_resolved":false}"#, AlertStatus::Resolved, false),
            (r#"{"send_resolved":false}"#, AlertStatus::Firing, true),
        ] {
            let f: Filter = serde_json::from_str(filter).unwrap();
            let mut a = alert(&[]);
            a.status = status;
            assert_eq!(f.matches(&a), expected, "{filter} {status:?}");
        }
    }

    #[test]
    fn classification_filters() {
        // (filter, annotations, labels, expected)
        type Row<'a> = (
            &'a str,
            &'a [(&'a str, &'a str)],
            &'a [(&'a str, &'a str)],
            bool,
        );
        let table: &[Row<'_>] = &[
            (
                r#"{"classification":{"min_confidence":0.8}}"#,
                &[],
                &[],
                true,
            ),
            (
                r#"{"classification":{"min_confidence":0.8}}"#,
                &[("classification_confidence", "0.9")],
                &[],
                true,
            ),
            (
                r#"{"classification":{"min_confidence":0.8}}"#,
                &[("classification_confidence", "0.8")],
                &[],
                true,
            ),
            (
                r#"{"classification":{"min_confidence":0.8}}"#,
                &[("classification_confidence", "0.5")],
                &[],
                false,
            ),
            (
                r#"{"classification":{"min_confidence":0.8}}"#,
                &[],
                &[("classification_confidence", "0.5")],
                false,
            ),
            (
                r#"{"classification":{"min_confidence":0.8}}"#,
                &[("classification_confidence", "n/a")],
                &[],
                true,
            ),
            (
                r#"{"classification":{"exclude_noise":true}}"#,
                &[("classification_category", "noise")],
                &[],
                false,
            ),
            (
                r#"{"classification":{"exclude_noise":true}}"#,
                &[("classification_category", "Noise")],
                &[],
                false,
            ),
            (
                r#"{"classification":{"exclude_noise":true}}"#,
                &[("classification_category", "incident")],
                &[],
                true,
            ),
            (
                r#"{"classification":{"exclude_noise":true}}"#,
                &[],
                &[],
                true,
            ),
            (
                r#"{"classification":{"exclude_noise":false}}"#,
                &[("classification_category", "noise")],
                &[],
                true,
            ),
            (
                r#"{"classification":{"min_confidence":0.5,"exclude_noise":true}}"#,
                &[
                    ("classification_category", "noise"),
                    ("classification_confidence", "0.99"),
                ],
                &[],
                false,
            ),
            // The original's annotations count as well.
            (
                r#"{"classification":{"min_confidence":0.8}}"#,
                &[("llm_confidence", "0.5")],
                &[],
                false,
            ),
            (
                r#"{"classification":{"exclude_noise":true}}"#,
                &[("llm_severity", "noise"), ("llm_confidence", "0.9")],
                &[],
                false,
            ),
            (
                r#"{"classification":{"exclude_noise":true}}"#,
                &[("llm_severity", "warning"), ("llm_confidence", "0.9")],
                &[],
                true,
            ),
        ];
        for (filter, annotations, labels, expected) in table {
            let f: Filter = serde_json::from_str(filter).unwrap();
            let mut a = alert(labels);
            a.annotations = annotations
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            assert_eq!(
                f.matches(&a),
                *expected,
                "{filter} on {annotations:?} {labels:?}"
            );
        }
    }

    #[test]
    fn alertmanager_matcher_forms() {
        let f: Filter = serde_json::from_str(
            r#"{"matchers": ["{service=~\"api|web\", env!=\"dev\"}", "team=\"a,b\",tier=\"1\"", "x=y"]}"#,
        )
        .unwrap();
        let shown: Vec<String> = f.matchers.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                r#"service=~"api|web""#,
                r#"env!="dev""#,
                r#"team="a,b""#,
                r#"tier="1""#,
                r#"x="y""#
            ]
        );
        assert_eq!(parse_matchers("{}").unwrap(), vec![]);
        assert_eq!(parse_matchers(r#"{a="1",}"#).unwrap().len(), 1);
        assert!(parse_matchers(r#"{a="1""#).unwrap_err().contains("'}'"));
        assert!(
            parse_matchers(r#"a="1"#)
                .unwrap_err()
                .contains("unterminated")
        );
        assert!(
            parse_matchers(r#"a="1", 9b="2""#)
                .unwrap_err()
                .contains("label name")
        );
    }
}
