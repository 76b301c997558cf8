use std::{
    collections::BTreeMap,
    fmt,
    path::{Path, PathBuf},
};

use publish::{Format, Secret, Target, TargetName, TargetType};
use serde::Deserialize;
use serde_json::Value;

use crate::Filter;

/// A validated target definition and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetSpec {
    /// What a publisher is built from.
    pub target: Target,
    /// Which alerts it receives.
    pub filter: Filter,
    /// How deliveries to it are handled (retry, circuit breaker, repeat interval, rate limit,
    /// fallback), over the service-wide defaults. Checked when the service builds it.
    pub delivery: serde_json::Map<String, Value>,
    /// Where it was defined (a file path), for error messages.
    pub source: String,
}

/// A target definition that cannot be used. The message names the source, the target and
/// the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The file or directory cannot be read.
    #[error("targets {path}: cannot read: {message}")]
    Read {
        /// The path.
        path: String,
        /// The I/O error.
        message: String,
    },
    /// Not YAML / JSON, or not a target or a list of targets.
    #[error("targets file {path}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A target with a bad field.
    #[error("targets file {file}: target {target}: field `{field}`: {message}")]
    Field {
        /// The file.
        file: String,
        /// `"name"`, or `#N` (1-based position) when the name itself is missing or bad.
        target: TargetRef,
        /// Path of the field inside the target.
        field: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// Something the targets depend on that is not a target definition (a shared template
    /// file); the message names it.
    #[error("{0}")]
    Other(String),
    /// Two targets with one name.
    #[error("target {name:?} is defined twice: in {first} and in {second}")]
    Duplicate {
        /// The name.
        name: String,
        /// First definition.
        first: String,
        /// Second definition.
        second: String,
    },
}

/// Every error found in a set of target definitions, in the order found (a file that does not
/// parse is one error; each bad target in a file that does is one more).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadErrors(pub Vec<LoadError>);

impl LoadErrors {
    /// `Ok(value)` when there are no errors.
    pub fn or_ok<T>(self, value: T) -> Result<T, Self> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for LoadErrors {
    /// One error a line; more than one is introduced by the count.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.len() > 1 {
            writeln!(f, "{} errors in the target definitions:", self.0.len())?;
        }
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadErrors {}

impl From<LoadError> for LoadErrors {
    fn from(e: LoadError) -> Self {
        Self(vec![e])
    }
}

/// How an error refers to a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetRef {
    /// By its name.
    Name(String),
    /// By its 1-based position in the file, when it has no usable name.
    Position(usize),
}

impl fmt::Display for TargetRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetRef::Name(n) => write!(f, "{n:?}"),
            TargetRef::Position(i) => write!(f, "#{i}"),
        }
    }
}

impl LoadError {
    /// An error about `field` of a target, for checks made after loading (for example when a
    /// publisher is built from the target).
    pub fn field(spec: &TargetSpec, field: impl Into<String>, message: impl Into<String>) -> Self {
        LoadError::Field {
            file: spec.source.clone(),
            target: TargetRef::Name(spec.target.name.to_string()),
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    name: TargetName,
    #[serde(rename = "type")]
    kind: TargetType,
    #[serde(default)]
    url: Option<String>,
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default)]
    format: Option<Format>,
    #[serde(default)]
    headers: BTreeMap<String, Secret>,
    #[serde(default)]
    filter: Filter,
    #[serde(default)]
    options: serde_json::Map<String, Value>,
    #[serde(default)]
    delivery: serde_json::Map<String, Value>,
    #[serde(default)]
    templates: serde_json::Map<String, Value>,
}

fn yes() -> bool {
    true
}

/// Whether a target of this type may leave `url` out: its publisher then talks to the
/// vendor's own API (the vendor crate owns that default).
fn url_optional(kind: TargetType) -> bool {
    matches!(kind, TargetType::Pagerduty | TargetType::Rootly)
}

/// Loads targets from a file (one target or a list) or a directory (every `*.yaml`, `*.yml`
/// and `*.json` file in it, in name order). Names must be unique across all of them. Every
/// error is reported, not only the first.
pub fn load(path: &Path) -> Result<Vec<TargetSpec>, LoadErrors> {
    let (specs, errors) = load_each(path);
    LoadErrors(errors).or_ok(specs)
}

/// Like [`load`], giving the targets that load beside an error for each one that does not.
pub fn load_each(path: &Path) -> (Vec<TargetSpec>, Vec<LoadError>) {
    match load_files(path) {
        Ok(loaded) => loaded,
        Err(e) => (Vec::new(), vec![e]),
    }
}

fn load_files(path: &Path) -> Result<(Vec<TargetSpec>, Vec<LoadError>), LoadError> {
    let read_err = |e: std::io::Error| LoadError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    let files: Vec<PathBuf> = if meta.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(read_err)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && matches!(
                        p.extension().and_then(|e| e.to_str()),
                        Some("yaml" | "yml" | "json")
                    )
            })
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_owned()]
    };
    let mut specs: Vec<TargetSpec> = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) => {
                errors.push(LoadError::Read {
                    path: file.display().to_string(),
                    message: e.to_string(),
                });
                continue;
            }
        };
        let is_json = file.extension().and_then(|e| e.to_str()) == Some("json");
        let (found, bad) = parse_each(&text, is_json, &file.display().to_string());
        errors.extend(bad);
        add_unique(&mut specs, found, &mut errors);
    }
    Ok((specs, errors))
}

/// Adds `found` to `specs`; a name already there is an error.
fn add_unique(specs: &mut Vec<TargetSpec>, found: Vec<TargetSpec>, errors: &mut Vec<LoadError>) {
    for spec in found {
        match specs.iter().find(|s| s.target.name == spec.target.name) {
            Some(first) => errors.push(LoadError::Duplicate {
                name: spec.target.name.to_string(),
                first: first.source.clone(),
                second: spec.source,
            }),
            None => specs.push(spec),
        }
    }
}

/// Parses one document holding a target or a list of targets. `source` names it in errors;
/// the first error is the error.
pub fn parse_document(
    text: &str,
    is_json: bool,
    source: &str,
) -> Result<Vec<TargetSpec>, LoadError> {
    let (specs, errors) = parse_each(text, is_json, source);
    match errors.into_iter().next() {
        Some(first) => Err(first),
        None => Ok(specs),
    }
}

/// The targets of one document that load, and an error for each that does not (or the one
/// error of a document that does not parse).
fn parse_each(text: &str, is_json: bool, source: &str) -> (Vec<TargetSpec>, Vec<LoadError>) {
    let syntax = |message: String| {
        vec![LoadError::Syntax {
            path: source.to_owned(),
            message,
        }]
    };
    let doc: Value = if is_json {
        match serde_json::from_str(text) {
            Ok(doc) => doc,
            Err(e) => return (Vec::new(), syntax(format!("invalid JSON: {e}"))),
        }
    } else {
        let yaml: serde_yaml::Value = match serde_yaml::from_str(text) {
            Ok(yaml) => yaml,
            Err(e) => return (Vec::new(), syntax(format!("invalid YAML: {e}"))),
        };
        match serde_json::to_value(yaml) {
            Ok(doc) => doc,
            Err(e) => return (Vec::new(), syntax(format!("unsupported YAML: {e}"))),
        }
    };
    let items = match doc {
        Value::Array(items) => items,
        Value::Object(_) => vec![doc],
        Value::Null => Vec::new(),
        _ => {
            return (
                Vec::new(),
                syntax("expected a target (a mapping) or a list of targets".to_owned()),
            );
        }
    };
    let mut specs: Vec<TargetSpec> = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        match parse_target_value(item, i + 1, source) {
            Ok(spec) => add_unique(&mut specs, vec![spec], &mut errors),
            Err(e) => errors.push(e),
        }
    }
    (specs, errors)
}

pub(crate) fn parse_target_value(
    item: Value,
    position: usize,
    source: &str,
) -> Result<TargetSpec, LoadError> {
    let target_ref = match item.get("name").and_then(Value::as_str) {
        Some(name) if name.parse::<TargetName>().is_ok() => TargetRef::Name(name.to_owned()),
        _ => TargetRef::Position(position),
    };
    let err = |field: &str, message: String| LoadError::Field {
        file: source.to_owned(),
        target: target_ref.clone(),
        field: field.to_owned(),
        message,
    };
    if !item.is_object() {
        return Err(err(".", "a target must be a mapping".to_owned()));
    }
    let raw: RawTarget = serde_path_to_error::deserialize(item).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // serde reports a missing field at the parent path; name the field itself.
        match inner
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next())
        {
            Some(missing) if path == "." => err(missing, "is required".to_owned()),
            _ if path == "." => {
                // unknown field at the top level: name it
                let field = inner
                    .strip_prefix("unknown field `")
                    .and_then(|r| r.split('`').next());
                match field {
                    Some(f) => err(f, format!("unknown field; a target has {}", KNOWN_FIELDS)),
                    None => err(".", inner),
                }
            }
            _ => err(&path, inner),
        }
    })?;
    let url = match raw.url {
        Some(url) => url,
        None if url_optional(raw.kind) => String::new(),
        None => return Err(err("url", format!("is required for a {} target", raw.kind))),
    };
    match url::Url::parse(&url) {
        _ if url.is_empty() => {}
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => {}
        Ok(u) => {
            return Err(err(
                "url",
                format!(
                    "must be an http or https URL with a host (got scheme {:?})",
                    u.scheme()
                ),
            ));
        }
        Err(e) => return Err(err("url", format!("invalid URL: {e}"))),
    }
    let allowed = raw.kind.formats();
    let format = raw.format.unwrap_or(allowed[0]);
    if !allowed.contains(&format) {
        let names: Vec<&str> = allowed.iter().map(|f| f.as_str()).collect();
        return Err(err(
            "format",
            format!(
                "a {} target cannot use format {format}; use {}",
                raw.kind,
                names.join(" or ")
            ),
        ));
    }
    Ok(TargetSpec {
        target: Target {
            name: raw.name,
            kind: raw.kind,
            url,
            enabled: raw.enabled,
            format,
            headers: raw.headers,
            options: raw.options,
            templates: raw.templates,
        },
        filter: raw.filter,
        delivery: raw.delivery,
        source: source.to_owned(),
    })
}

const KNOWN_FIELDS: &str =
    "name, type, url, enabled, format, headers, filter, options, delivery, templates";

#[cfg(test)]
mod tests {
    use super::*;

    fn err(yaml: &str) -> String {
        parse_document(yaml, false, "t.yaml")
            .unwrap_err()
            .to_string()
    }

    fn check_err(yaml: &str, expected: &str) {
        let e = err(yaml);
        assert!(e.contains(expected), "expected {expected:?} in {e:?}");
        assert!(
            e.starts_with("targets file t.yaml") || e.contains("t.yaml"),
            "{e}"
        );
    }

    #[test]
    fn valid_documents() {
        let one = parse_document(
            "name: a\ntype: webhook\nurl: http://x/hook\n",
            false,
            "t.yaml",
        )
        .unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].target.format, Format::Alertmanager);
        assert!(one[0].target.enabled);
        let list = parse_document(
            r#"[{"name":"a","type":"webhook","url":"https://x","format":"webhook","enabled":false},
                {"name":"pd","type":"pagerduty"}]"#,
            true,
            "t.json",
        )
        .unwrap();
        assert_eq!(list[0].target.format, Format::Webhook);
        assert!(!list[0].target.enabled);
        assert_eq!(list[1].target.kind, TargetType::Pagerduty);
        assert!(parse_document("", false, "empty.yaml").unwrap().is_empty());
    }

    #[test]
    fn invalid_documents_name_file_target_and_field() {
        check_err(
            "name: Bad_Name\ntype: webhook\nurl: http://x\n",
            "target #1: field `name`: \"Bad_Name\" is not a DNS-1123 label",
        );
        check_err(
            "type: webhook\nurl: http://x\n",
            "target #1: field `name`: is required",
        );
        check_err(
            "name: a\nurl: http://x\n",
            "target \"a\": field `type`: is required",
        );
        check_err(
            "name: a\ntype: email\nurl: http://x\n",
            "target \"a\": field `type`: unknown variant `email`",
        );
        check_err(
            "name: a\ntype: webhook\n",
            "target \"a\": field `url`: is required for a webhook target",
        );
        check_err(
            "name: a\ntype: webhook\nurl: ftp://x\n",
            "field `url`: must be an http or https URL",
        );
        check_err(
            "name: a\ntype: webhook\nurl: not a url\n",
            "field `url`: invalid URL",
        );
        check_err(
            "name: a\ntype: webhook\nurl: http://x\nformat: pagerduty\n",
            "field `format`: a webhook target cannot use format pagerduty",
        );
        check_err(
            "name: a\ntype: slack\nurl: http://x\nformat: alertmanager\n",
            "field `format`: a slack target cannot use format alertmanager",
        );
        check_err(
            "name: a\ntype: webhook\nurl: http://x\nenabled: maybe\n",
            "field `enabled`: invalid type",
        );
        check_err(
            "name: a\ntype: webhook\nurl: http://x\nheaders: {X-A: [1]}\n",
            "field `headers.X-A`",
        );
        check_err(
            "name: a\ntype: webhook\nurl: http://x\nfilter: {severty: [a]}\n",
            "field `filter.severty`: unknown field `severty`",
        );
        check_err(
            "name: a\ntype: webhook\nurl: http://x\nurls: http://y\n",
            "field `urls`: unknown field",
        );
        check_err(
            "- name: a\n  type: webhook\n  url: http://x\n- name: a\n  type: webhook\n  url: http://y\n",
            "defined twice",
        );
        check_err("name: [a\n", "invalid YAML");
        check_err("42\n", "expected a target");
        check_err("- 42\n", "target #1: field `.`: a target must be a mapping");
        let json = parse_document("{", true, "t.json").unwrap_err().to_string();
        assert!(json.contains("targets file t.json: invalid JSON"), "{json}");
    }

    #[test]
    fn every_error_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.yaml"),
            "- name: ok\n  type: webhook\n  url: http://x\n\
             - name: no-url\n  type: webhook\n\
             - name: bad-type\n  type: email\n  url: http://x\n\
             - name: ok\n  type: webhook\n  url: http://y\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("b.yaml"), "name: [x\n").unwrap();
        std::fs::write(
            dir.path().join("c.json"),
            r#"{"name":"ok2","type":"webhook","url":"http://z","extra":1}"#,
        )
        .unwrap();
        let errors = load(dir.path()).unwrap_err();
        let lines: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
        assert_eq!(lines.len(), 5, "{lines:#?}");
        for (line, expected) in lines.iter().zip([
            "a.yaml: target \"no-url\": field `url`",
            "a.yaml: target \"bad-type\": field `type`",
            "target \"ok\" is defined twice",
            "b.yaml: invalid YAML",
            "c.json: target \"ok2\": field `extra`",
        ]) {
            assert!(line.contains(expected), "{line} should say {expected}");
        }
        let shown = errors.to_string();
        assert!(
            shown.starts_with("5 errors in the target definitions:\n"),
            "{shown}"
        );
        assert_eq!(shown.lines().count(), 6, "{shown}");
    }

    #[test]
    fn directory_loading() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.yaml"),
            "name: a\ntype: webhook\nurl: http://x\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("b.json"),
            r#"[{"name":"b","type":"webhook","url":"http://y"}]"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let specs = load(dir.path()).unwrap();
        let names: Vec<_> = specs.iter().map(|s| s.target.name.to_string()).collect();
        assert_eq!(names, ["a", "b"]);
        std::fs::write(
            dir.path().join("c.yml"),
            "name: a\ntype: webhook\nurl: http://z\n",
        )
        .unwrap();
        let e = load(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("a.yaml") && e.contains("c.yml") && e.contains("defined twice"),
            "{e}"
        );
        let missing = load(&dir.path().join("nope")).unwrap_err().to_string();
        assert!(missing.contains("cannot read"), "{missing}");
    }
}
