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

/// Removes known secret values from text a target sent back (an error body that echoes the
/// token it was given, say) before that text is logged, stored or shown.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Scrubber(Vec<String>);

impl Scrubber {
    /// Values shorter than this are not scrubbed: they would mangle ordinary text and are no
    /// credential anyone relies on.
    pub const MIN_LEN: usize = 4;

    /// A scrubber for these values (empty and very short ones are ignored; longer values are
    /// replaced first, so a value containing another is removed whole).
    pub fn new<I, S>(values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut values: Vec<String> = values
            .into_iter()
            .map(Into::into)
            .filter(|v| v.len() >= Self::MIN_LEN)
            .collect();
        values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        values.dedup();
        Self(values)
    }

    /// `text` with every known value replaced by [`Secret::REDACTED`].
    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for value in &self.0 {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), Secret::REDACTED);
            }
        }
        out
    }

    /// The error with its reason scrubbed.
    pub fn error(&self, mut err: crate::PublishError) -> crate::PublishError {
        let scrubbed = self.text(err.reason());
        *err.reason_mut() = scrubbed;
        err
    }
}

impl fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scrubber({} values)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_credentials_in_every_form_they_travel() {
        use base64::Engine as _;
        let url = url::Url::parse("http://us%40er:p%3Ass@host/x").unwrap();
        let values = url_credentials(&url);
        for expected in [
            "us%40er",
            "p%3Ass",
            "us@er",
            "p:ss",
            "us@er:p:ss",
            &base64::engine::general_purpose::STANDARD.encode("us@er:p:ss"),
        ] {
            assert!(
                values.iter().any(|v| v == expected),
                "{expected} in {values:?}"
            );
        }
        let echoed = format!(
            "Authorization: Basic {}",
            base64::engine::general_purpose::STANDARD.encode("us@er:p:ss")
        );
        assert_eq!(
            Scrubber::new(values).text(&echoed),
            "Authorization: Basic <redacted>"
        );
        assert!(url_credentials(&url::Url::parse("http://host/x").unwrap()).is_empty());
    }

    #[test]
    fn never_printed() {
        let s = Secret::new("hunter2-token");
        assert_eq!(format!("{s} {s:?}"), "<redacted> <redacted>");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"<redacted>\"");
        assert_eq!(s.expose(), "hunter2-token");
    }

    #[test]
    fn scrubber_removes_every_known_value_and_nothing_else() {
        let s = Scrubber::new(["tok-123", "", "ab", "tok-123-long"]);
        assert_eq!(
            s.text("got tok-123-long then tok-123 and ab"),
            "got <redacted> then <redacted> and ab"
        );
        assert_eq!(format!("{s:?}"), "Scrubber(2 values)");
        let err = s.error(crate::PublishError::permanent(
            crate::ErrorKind::Auth,
            "HTTP 401: tok-123 rejected",
        ));
        assert_eq!(err.to_string(), "HTTP 401: <redacted> rejected");
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

/// The forms in which the credentials of a URL's user info travel, for a [`Scrubber`]: user
/// and password as written (percent-encoded) and decoded, `user:password`, and its base64 form —
/// what an HTTP client sends as `Authorization: Basic …` (or `Proxy-Authorization` for a
/// proxy), which a careless endpoint may echo back.
pub fn url_credentials(url: &url::Url) -> Vec<String> {
    use base64::Engine as _;
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let (user, password) = (url.username(), url.password().unwrap_or_default());
    if user.is_empty() && password.is_empty() {
        return Vec::new();
    }
    let (plain_user, plain_password) = (decode(user), decode(password));
    let pair = format!("{plain_user}:{plain_password}");
    let mut values = vec![
        user.to_owned(),
        password.to_owned(),
        base64::engine::general_purpose::STANDARD.encode(&pair),
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(&pair),
        pair,
        plain_user,
        plain_password,
    ];
    values.retain(|v| !v.is_empty());
    values
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

/// `url` as it may be shown: scheme, host, port and path. User info and fragment are dropped
/// and a query is shown as `?<redacted>` (any of them can carry credentials). Text that is not
/// a URL is shown as [`Secret::REDACTED`] whole.
pub fn redact_url(url: &str) -> String {
    redact_url_path(url, false)
}

/// Like [`redact_url`]; `hide_path` also shows the path as `/<redacted>` (for URLs whose path
/// is itself the secret, such as incoming-webhook URLs).
pub fn redact_url_path(url: &str, hide_path: bool) -> String {
    match url::Url::parse(url) {
        Ok(u) => {
            let host = u.host_str().unwrap_or_default();
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            let path = if hide_path { "/<redacted>" } else { u.path() };
            let query = if u.query().is_some() {
                "?<redacted>"
            } else {
                ""
            };
            format!("{}://{host}{port}{path}{query}", u.scheme())
        }
        Err(_) => Secret::REDACTED.to_owned(),
    }
}

/// serde `serialize_with` for an optional URL in a configuration: shown by [`redact_url`].
pub fn serialize_redacted_url<S: serde::Serializer>(
    url: &Option<String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match url {
        Some(u) => s.serialize_str(&redact_url(u)),
        None => s.serialize_none(),
    }
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
    fn urls_for_display() {
        for (url, hide_path, shown) in [
            (
                "https://u:p@k8s.internal:6443/api?token=t#f",
                false,
                "https://k8s.internal:6443/api?<redacted>",
            ),
            ("https://k8s.internal", false, "https://k8s.internal/"),
            (
                "https://hooks.example.com/T0/B0/s3cr3t",
                true,
                "https://hooks.example.com/<redacted>",
            ),
            ("not a url", false, "<redacted>"),
        ] {
            assert_eq!(redact_url_path(url, hide_path), shown, "{url}");
        }
        let json = |url: Option<&str>| {
            let mut out = Vec::new();
            serialize_redacted_url(
                &url.map(str::to_owned),
                &mut serde_json::Serializer::new(&mut out),
            )
            .unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(
            json(Some("http://a:b@h:1/x?k=v")),
            r#""http://h:1/x?<redacted>""#
        );
        assert_eq!(json(None), "null");
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
