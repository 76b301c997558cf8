use std::{fmt, time::Duration};

/// A target definition a publisher cannot be built from. `field` is the path inside the
/// target (`url`, `options.auth.token`, ...); the caller adds where the target came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// Path of the offending field inside the target definition.
    pub field: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl ConfigError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field `{}`: {}", self.field, self.message)
    }
}

/// Deserializes a publisher's typed options from a target's `options` map, reporting the
/// path of the first bad field as `options.<path>`.
pub fn options<T: serde::de::DeserializeOwned>(
    options: &serde_json::Map<String, serde_json::Value>,
) -> Result<T, ConfigError> {
    let value = serde_json::Value::Object(options.clone());
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "options".to_owned()
        } else {
            format!("options.{path}")
        };
        ConfigError::new(field, e.into_inner().to_string())
    })
}

/// Parses a duration as Prometheus and Alertmanager write them — one or more number-unit
/// pairs, largest unit first: `500ms`, `10s`, `5m`, `1h30m`, `2d`, `1w`, `1y` (365 days),
/// `1.5h` — or a bare number of seconds (`30`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    const UNITS: [(&str, f64); 7] = [
        ("y", 365.0 * 86_400.0),
        ("w", 7.0 * 86_400.0),
        ("d", 86_400.0),
        ("h", 3600.0),
        ("m", 60.0),
        ("s", 1.0),
        ("ms", 0.001),
    ];
    let s = s.trim();
    let invalid = || format!("invalid duration {s:?} (use e.g. 500ms, 10s, 5m, 1h30m, 2d, 1w)");
    if s.is_empty() {
        return Err(invalid());
    }
    if let Ok(n) = s.parse::<f64>() {
        return Duration::try_from_secs_f64(n).map_err(|_| invalid());
    }
    let mut rest = s;
    let mut secs = 0.0;
    // Index in UNITS of the last unit read: each must be smaller than the one before.
    let mut last: Option<usize> = None;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("invalid duration {s:?}: a number without a unit at the end"))?;
        let n: f64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let Some(index) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(format!(
                "invalid duration unit {unit:?} in {s:?} (use ms, s, m, h, d, w or y)"
            ));
        };
        if last.is_some_and(|l| index <= l) {
            return Err(format!(
                "invalid duration {s:?}: units must go from the largest to the smallest, each once"
            ));
        }
        last = Some(index);
        secs += n * UNITS[index].1;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(secs).map_err(|_| invalid())
}

/// serde helpers: a duration written as text (`10s`) or a number of seconds.
pub mod serde_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Secs(f64),
        Text(String),
    }

    /// Reads `10s`, `500ms` or `10`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        match Repr::deserialize(d)? {
            Repr::Secs(n) if n.is_finite() && n >= 0.0 => Ok(Duration::from_secs_f64(n)),
            Repr::Secs(n) => Err(D::Error::custom(format!("invalid duration {n}"))),
            Repr::Text(s) => super::parse_duration(&s).map_err(D::Error::custom),
        }
    }

    /// Writes whole milliseconds as `<n>ms`.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}ms", d.as_millis()))
    }
}

/// Checks one target header and returns it ready to send; errors name `headers.<name>`.
pub fn header(
    name: &str,
    value: &crate::Secret,
) -> Result<(reqwest::header::HeaderName, crate::Secret), ConfigError> {
    let field = format!("headers.{name}");
    let header = reqwest::header::HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| ConfigError::new(&field, "not a valid HTTP header name"))?;
    reqwest::header::HeaderValue::from_str(value.expose())
        .map_err(|_| ConfigError::new(&field, "value has characters not allowed in a header"))?;
    Ok((header, value.clone()))
}

/// A duration option that must be greater than zero.
pub fn positive(value: Duration, field: &str) -> Result<(), ConfigError> {
    if value.is_zero() {
        Err(ConfigError::new(field, "must be greater than zero"))
    } else {
        Ok(())
    }
}

/// The proactive rate limit a vendor publisher asks the delivery engine for
/// (`options.rate_limit` of a PagerDuty, Slack or Rootly target): a sustained rate and a burst.
///
/// There is no `Default`: each vendor has its own (PagerDuty 100/min with a burst of 10 per
/// routing key, Slack 60/min with a burst of 1 per channel, Rootly 2400/min with a burst of 50
/// per API key). A vendor reads the option with [`RateLimitOptions::deserialize_or`], so a
/// missing number takes the vendor's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct RateLimitOptions {
    /// Sustained requests per minute.
    pub per_minute: u32,
    /// Requests allowed at once above the sustained rate (the bucket size).
    pub burst: u32,
}

impl RateLimitOptions {
    /// A limit of `per_minute` with bursts of `burst`.
    pub const fn new(per_minute: u32, burst: u32) -> Self {
        Self { per_minute, burst }
    }

    /// Reads `{per_minute, burst}` (both optional, nothing else allowed); a missing number is
    /// taken from `defaults`. For `#[serde(deserialize_with = ...)]` in a vendor's options.
    pub fn deserialize_or<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
        defaults: Self,
    ) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            #[serde(default)]
            per_minute: Option<u32>,
            #[serde(default)]
            burst: Option<u32>,
        }
        let raw = <Raw as serde::Deserialize>::deserialize(deserializer)?;
        Ok(Self {
            per_minute: raw.per_minute.unwrap_or(defaults.per_minute),
            burst: raw.burst.unwrap_or(defaults.burst),
        })
    }

    /// Both numbers at least 1; errors name `{field}.per_minute` or `{field}.burst`. `hint`
    /// says what the vendor allows (`PagerDuty allows about 120`).
    pub fn check(&self, field: &str, hint: &str) -> Result<(), ConfigError> {
        if self.per_minute == 0 {
            return Err(ConfigError::new(
                format!("{field}.per_minute"),
                format!("must be at least 1 ({hint})"),
            ));
        }
        if self.burst == 0 {
            return Err(ConfigError::new(
                format!("{field}.burst"),
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// The limit for the bucket `key` (see [`crate::RateLimit::key`]: never a secret).
    pub fn limit(&self, key: String) -> crate::RateLimit {
        crate::RateLimit {
            key,
            per_minute: self.per_minute,
            burst: self.burst,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        for (s, ms) in [
            ("500ms", 500),
            ("10s", 10_000),
            ("1.5s", 1500),
            ("5m", 300_000),
            ("1h", 3_600_000),
            ("3", 3000),
            ("1h30m", 5_400_000),
            ("1.5h", 5_400_000),
            ("2d", 172_800_000),
            ("1w", 604_800_000),
            ("1y", 31_536_000_000),
            ("1d12h", 129_600_000),
            ("1m30s500ms", 90_500),
            ("0s", 0),
        ] {
            assert_eq!(parse_duration(s).unwrap(), Duration::from_millis(ms), "{s}");
        }
        assert!(parse_duration("30m1h").unwrap_err().contains("largest"));
        assert!(parse_duration("1h1h").unwrap_err().contains("each once"));
        assert!(
            parse_duration("1h30")
                .unwrap_err()
                .contains("without a unit")
        );
        assert!(parse_duration("").is_err());
        assert!(parse_duration("10 parsecs").unwrap_err().contains("unit"));
        assert!(parse_duration("fast").is_err());
        // Too large for a duration: an error, not a panic.
        assert!(parse_duration("999999999999999999999999999999").is_err());
        assert!(parse_duration("18446744073709551616s").is_err());
    }

    #[test]
    fn rate_limit_options_take_missing_numbers_from_the_defaults() {
        let defaults = RateLimitOptions::new(60, 1);
        let read = |v: serde_json::Value| RateLimitOptions::deserialize_or(v, defaults);
        assert_eq!(
            read(serde_json::json!({})).unwrap(),
            RateLimitOptions::new(60, 1)
        );
        assert_eq!(
            read(serde_json::json!({"burst": 5})).unwrap(),
            RateLimitOptions::new(60, 5)
        );
        assert_eq!(
            read(serde_json::json!({"per_minute": 10, "burst": 2})).unwrap(),
            RateLimitOptions::new(10, 2)
        );
        let e = read(serde_json::json!({"rate": 1}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `rate`"), "{e}");
        let e = RateLimitOptions::new(0, 1).check("options.rate_limit", "X allows 5");
        assert_eq!(
            e.unwrap_err().to_string(),
            "field `options.rate_limit.per_minute`: must be at least 1 (X allows 5)"
        );
        let e = RateLimitOptions::new(1, 0).check("options.rate_limit", "X allows 5");
        assert_eq!(
            e.unwrap_err().to_string(),
            "field `options.rate_limit.burst`: must be at least 1"
        );
        let limit = RateLimitOptions::new(10, 2).limit("k".to_owned());
        assert_eq!(
            (limit.key.as_str(), limit.per_minute, limit.burst),
            ("k", 10, 2)
        );
    }
}
