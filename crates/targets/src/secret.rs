//! Target definitions held in Kubernetes Secrets, in the three formats the original accepted:
//!
//! 1. a `target.json` key holding the target definition as JSON (or YAML);
//! 2. a `config` key holding the same JSON, which may itself be base64-encoded once more;
//! 3. flat keys: `name`, `type`, `url`, `enabled`, `format`, `headers` (`k=v,k2=v2`) and the
//!    credentials `api_key`, `auth_token`, `routing_key`.
//!
//! Errors name the source as `namespace/secret`.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::{LoadError, TargetSpec, load::parse_target_value};

/// Which of the accepted formats a Secret used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretFormat {
    /// A `target.json` key.
    TargetJson,
    /// A `config` key (JSON, possibly base64 again).
    Config,
    /// Flat keys.
    Flat,
}

impl SecretFormat {
    /// Label form.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretFormat::TargetJson => "target_json",
            SecretFormat::Config => "config",
            SecretFormat::Flat => "flat",
        }
    }
}

/// Reads a target from the (already base64-decoded) data of Secret `namespace/name`.
pub fn parse_secret(
    namespace: &str,
    name: &str,
    data: &BTreeMap<String, Vec<u8>>,
) -> Result<(TargetSpec, SecretFormat), LoadError> {
    let source = format!("{namespace}/{name}");
    let syntax = |message: String| LoadError::Syntax {
        path: source.clone(),
        message,
    };
    let text = |key: &str| -> Result<Option<String>, LoadError> {
        match data.get(key) {
            None => Ok(None),
            Some(bytes) => String::from_utf8(bytes.clone())
                .map(|s| Some(s.trim().to_owned()))
                .map_err(|_| syntax(format!("key `{key}` is not UTF-8 text"))),
        }
    };
    if let Some(doc) = text("target.json")? {
        let value =
            parse_json_or_yaml(&doc).map_err(|e| syntax(format!("key `target.json`: {e}")))?;
        return Ok((one(value, &source)?, SecretFormat::TargetJson));
    }
    if let Some(doc) = text("config")? {
        let value = match parse_json_or_yaml(&doc) {
            Ok(v @ Value::Object(_)) => v,
            first => {
                // The JSON may be base64-encoded once more.
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(doc.as_bytes())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok());
                match decoded {
                    Some(inner) => parse_json_or_yaml(inner.trim())
                        .map_err(|e| syntax(format!("key `config` (base64): {e}")))?,
                    None => {
                        return Err(syntax(match first {
                            Err(e) => format!("key `config`: {e}"),
                            Ok(_) => "key `config`: expected a JSON object".to_owned(),
                        }));
                    }
                }
            }
        };
        return Ok((one(value, &source)?, SecretFormat::Config));
    }
    if data.contains_key("name") || data.contains_key("type") {
        return Ok((flat(data, &source, &text)?, SecretFormat::Flat));
    }
    Err(syntax(
        "no target definition: expected a `target.json` key, a `config` key, or flat keys \
         (`name`, `type`, `url`, ...)"
            .to_owned(),
    ))
}

fn parse_json_or_yaml(text: &str) -> Result<Value, String> {
    if text.starts_with('{') || text.starts_with('[') {
        serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))
    } else {
        let yaml: serde_yaml::Value =
            serde_yaml::from_str(text).map_err(|e| format!("invalid JSON or YAML: {e}"))?;
        serde_json::to_value(yaml).map_err(|e| format!("unsupported YAML: {e}"))
    }
}

fn one(value: Value, source: &str) -> Result<TargetSpec, LoadError> {
    if !value.is_object() {
        return Err(LoadError::Syntax {
            path: source.to_owned(),
            message: "expected one target (a JSON object)".to_owned(),
        });
    }
    parse_target_value(value, 1, source)
}

fn flat(
    data: &BTreeMap<String, Vec<u8>>,
    source: &str,
    text: &dyn Fn(&str) -> Result<Option<String>, LoadError>,
) -> Result<TargetSpec, LoadError> {
    let field_err = |target: &str, field: &str, message: String| LoadError::Field {
        file: source.to_owned(),
        target: crate::TargetRef::Name(target.to_owned()),
        field: field.to_owned(),
        message,
    };
    let name = text("name")?.unwrap_or_default();
    let kind = text("type")?.unwrap_or_default();
    let mut target = Map::new();
    target.insert("name".into(), Value::String(name.clone()));
    target.insert("type".into(), Value::String(kind.clone()));
    if let Some(url) = text("url")? {
        target.insert("url".into(), Value::String(url));
    }
    if let Some(format) = text("format")? {
        target.insert("format".into(), Value::String(format));
    }
    if let Some(enabled) = text("enabled")? {
        let enabled = match enabled.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" | "on" => true,
            "false" | "no" | "0" | "off" => false,
            other => {
                return Err(field_err(
                    &name,
                    "enabled",
                    format!("expected true or false, got {other:?}"),
                ));
            }
        };
        target.insert("enabled".into(), Value::Bool(enabled));
    }
    let mut headers = Map::new();
    if let Some(list) = text("headers")? {
        for pair in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((k, v)) = pair.split_once('=') else {
                // Never echo the pair: header values are often credentials.
                return Err(field_err(
                    &name,
                    "headers",
                    "expected `name=value` pairs separated by commas".to_owned(),
                ));
            };
            headers.insert(k.trim().to_owned(), Value::String(v.trim().to_owned()));
        }
    }
    let mut options = Map::new();
    let credential = |key: &str| text(key);
    if let Some(key) = credential("routing_key")? {
        options.insert("routing_key".into(), Value::String(key));
    }
    if let Some(key) = credential("api_key")? {
        match kind.as_str() {
            "rootly" => {
                options.insert("api_key".into(), Value::String(key));
            }
            _ => {
                headers.insert("X-API-Key".into(), Value::String(key));
            }
        }
    }
    if let Some(token) = credential("auth_token")? {
        match kind.as_str() {
            "rootly" => {
                options.insert("api_key".into(), Value::String(token));
            }
            "slack" => {
                options.insert("token".into(), Value::String(token));
            }
            _ => {
                headers.insert(
                    "Authorization".into(),
                    Value::String(format!("Bearer {token}")),
                );
            }
        }
    }
    if !headers.is_empty() {
        target.insert("headers".into(), Value::Object(headers));
    }
    if !options.is_empty() {
        target.insert("options".into(), Value::Object(options));
    }
    for key in data.keys() {
        if !FLAT_KEYS.contains(&key.as_str()) {
            return Err(field_err(
                &name,
                key,
                format!(
                    "unknown key; a flat-format Secret has {}",
                    FLAT_KEYS.join(", ")
                ),
            ));
        }
    }
    parse_target_value(Value::Object(target), 1, source)
}

const FLAT_KEYS: &[&str] = &[
    "name",
    "type",
    "url",
    "enabled",
    "format",
    "headers",
    "api_key",
    "auth_token",
    "routing_key",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn three_formats() {
        let json = r#"{"name":"hook","type":"webhook","url":"http://x/h","headers":{"Authorization":"Bearer s3cret"}}"#;
        let (a, f) = parse_secret("ns", "s1", &data(&[("target.json", json)])).unwrap();
        assert_eq!(f, SecretFormat::TargetJson);
        assert_eq!(a.target.name.as_str(), "hook");
        assert_eq!(a.source, "ns/s1");
        let (b, f) = parse_secret("ns", "s2", &data(&[("config", json)])).unwrap();
        assert_eq!(f, SecretFormat::Config);
        assert_eq!(b.target, a.target);
        let b64 = base64::engine::general_purpose::STANDARD.encode(json);
        let (c, f) = parse_secret("ns", "s3", &data(&[("config", &b64)])).unwrap();
        assert_eq!(f, SecretFormat::Config);
        assert_eq!(c.target, a.target);
        let (d, f) = parse_secret(
            "ns",
            "s4",
            &data(&[
                ("name", "hook"),
                ("type", "webhook"),
                ("url", "http://x/h"),
                ("enabled", "true"),
                ("format", "alertmanager"),
                ("headers", "X-A=1, X-B=2"),
                ("auth_token", "s3cret"),
            ]),
        )
        .unwrap();
        assert_eq!(f, SecretFormat::Flat);
        assert_eq!(d.target.headers.len(), 3);
        assert_eq!(d.target.headers["Authorization"].expose(), "Bearer s3cret");
        let (pd, _) = parse_secret(
            "ns",
            "pd",
            &data(&[("name", "pd"), ("type", "pagerduty"), ("routing_key", "k")]),
        )
        .unwrap();
        assert_eq!(pd.target.options["routing_key"], "k");
        let (r, _) = parse_secret(
            "ns",
            "r",
            &data(&[("name", "r"), ("type", "rootly"), ("api_key", "k")]),
        )
        .unwrap();
        assert_eq!(r.target.options["api_key"], "k");
    }

    #[test]
    fn invalid_secrets_name_the_source_and_never_echo_secrets() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("other", "x")], "ns/bad: no target definition"),
            (
                &[("target.json", "{")],
                "ns/bad: key `target.json`: invalid JSON",
            ),
            (&[("config", "!!notbase64!!")], "ns/bad: key `config`"),
            (
                &[("name", "a"), ("type", "webhook")],
                "ns/bad: target \"a\": field `url`: is required",
            ),
            (
                &[
                    ("name", "a"),
                    ("type", "webhook"),
                    ("url", "http://x"),
                    ("enabled", "perhaps"),
                ],
                "field `enabled`",
            ),
            (
                &[
                    ("name", "a"),
                    ("type", "webhook"),
                    ("url", "http://x"),
                    ("headers", "Authorization: s3cret"),
                ],
                "field `headers`",
            ),
            (
                &[
                    ("name", "a"),
                    ("type", "webhook"),
                    ("url", "http://x"),
                    ("passwd", "s3cret"),
                ],
                "field `passwd`: unknown key",
            ),
            (
                &[(
                    "target.json",
                    r#"{"name":"a","type":"email","url":"http://x"}"#,
                )],
                "field `type`",
            ),
        ];
        for (pairs, expected) in cases {
            let e = parse_secret("ns", "bad", &data(pairs))
                .unwrap_err()
                .to_string();
            assert!(e.contains(expected), "expected {expected:?} in {e:?}");
            assert!(!e.contains("s3cret"), "{e}");
        }
    }
}
