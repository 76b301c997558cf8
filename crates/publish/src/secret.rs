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

/// `url` with the password of its user info (`scheme://user:password@host`) replaced by
/// [`Secret::REDACTED`] (a user name without a password is redacted whole). Anything else
/// is returned as it is.
pub fn redact_url_credentials(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &rest[..at];
    let shown = match userinfo.split_once(':') {
        Some((user, _)) => format!("{user}:{}", Secret::REDACTED),
        None => Secret::REDACTED.to_owned(),
    };
    format!("{}{shown}{}", &url[..scheme_end + 3], &rest[at..])
}

/// A copy of `value` with every string under a credential-like key replaced by
/// [`Secret::REDACTED`], recursively, and the credentials of any URL redacted
/// ([`redact_url_credentials`]). For showing target options.
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
        Value::String(s) => Value::String(redact_url_credentials(s)),
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
            "nested": [{"api_key": "k3y", "channel": "#ops"}],
            "proxy": "http://ops:pr0xyPass@proxy.internal:3128"
        });
        let r = redact_json(&v).to_string();
        assert!(
            r.contains("http://ops:<redacted>@proxy.internal:3128"),
            "{r}"
        );
        for secret in ["t0k", "R0UT1NG", "k3y", "pr0xyPass"] {
            assert!(!r.contains(secret), "{secret} leaked in {r}");
        }
        assert!(
            r.contains("#ops") && r.contains("5s") && r.contains("bearer"),
            "{r}"
        );
    }

    #[test]
    fn url_credentials() {
        for (url, shown) in [
            ("http://u:p@h:1/x", "http://u:<redacted>@h:1/x"),
            ("https://tok@h/x", "https://<redacted>@h/x"),
            ("https://h/x?a=b@c", "https://h/x?a=b@c"),
            ("http://h:3128", "http://h:3128"),
            ("not a url", "not a url"),
            ("http://u:p@ss@h/", "http://u:<redacted>@h/"),
        ] {
            assert_eq!(redact_url_credentials(url), shown, "{url}");
        }
    }
}
