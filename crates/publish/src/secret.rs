use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A secret string (token, routing key, header value). `Debug`, `Display` and `Serialize`
/// print a redaction marker; only [`Secret::expose`] gives the value, at the point of use.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// What every redacted value is shown as.
    pub const REDACTED: &'static str = "<redacted>";

    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value. Call only where it is sent to its destination.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(Self::REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_printed() {
        let s = Secret::new("hunter2-token");
        assert_eq!(format!("{s} {s:?}"), "<redacted> <redacted>");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"<redacted>\"");
        assert_eq!(s.expose(), "hunter2-token");
    }
}

/// Whether a field name looks like it holds a credential.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase().replace('-', "_");
    [
        "token",
        "password",
        "secret",
        "key",
        "authorization",
        "credential",
        "auth",
        "cookie",
        "signature",
    ]
    .iter()
    .any(|needle| k.contains(needle))
}

/// A copy of `value` with every string under a credential-like key replaced by
/// [`Secret::REDACTED`], recursively. For showing target options.
pub fn redact_json(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if is_secret_key(k) && !v.is_object() && !v.is_array() && !v.is_null() {
                        Value::String(Secret::REDACTED.to_owned())
                    } else if is_secret_key(k) {
                        redact_all_strings(v)
                    } else {
                        redact_json(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact_json).collect()),
        other => other.clone(),
    }
}

fn redact_all_strings(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(_) => Value::String(Secret::REDACTED.to_owned()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        if k == "type" {
                            v.clone()
                        } else {
                            redact_all_strings(v)
                        },
                    )
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact_all_strings).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod redact_tests {
    use super::*;

    #[test]
    fn redacts_credentials_recursively() {
        let v = serde_json::json!({
            "timeout": "5s",
            "auth": {"type": "bearer", "token": "t0k"},
            "routing_key": "R0UT1NG",
            "nested": [{"api_key": "k3y", "channel": "#ops"}]
        });
        let r = redact_json(&v).to_string();
        for secret in ["t0k", "R0UT1NG", "k3y"] {
            assert!(!r.contains(secret), "{secret} leaked in {r}");
        }
        assert!(
            r.contains("#ops") && r.contains("5s") && r.contains("bearer"),
            "{r}"
        );
    }
}
