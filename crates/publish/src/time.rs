//! Timestamps exactly as Alertmanager writes them.
//!
//! Alertmanager (Go) writes RFC 3339 with up to nine fractional digits and trailing zeros
//! trimmed (`time.RFC3339Nano`); an alert that has not ended carries Go's zero time
//! `0001-01-01T00:00:00Z`. We parse any RFC 3339 timestamp and write the Go form back, so a
//! payload we re-encode is byte-compatible with what Alertmanager sent.

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};

/// Go's zero `time.Time`, which Alertmanager sends as `endsAt` of a firing alert.
pub const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Parses an RFC 3339 timestamp with 0–9 fractional digits. Go's zero time gives `None`.
pub fn parse(s: &str) -> Result<Option<DateTime<Utc>>, chrono::ParseError> {
    let t = DateTime::parse_from_rfc3339(s)?.with_timezone(&Utc);
    Ok(if t.year() <= 1 { None } else { Some(t) })
}

/// Formats like Go's `time.RFC3339Nano` in UTC: fractional seconds without trailing zeros.
pub fn format(t: &DateTime<Utc>) -> String {
    let nanos = t.nanosecond() % 1_000_000_000;
    let base = t.to_rfc3339_opts(SecondsFormat::Secs, true);
    if nanos == 0 {
        return base;
    }
    let frac = format!("{nanos:09}");
    let frac = frac.trim_end_matches('0');
    // base ends with 'Z'
    format!("{}.{frac}Z", &base[..base.len() - 1])
}

/// Formats an optional end time; `None` becomes Go's zero time.
pub fn format_opt(t: &Option<DateTime<Utc>>) -> String {
    match t {
        Some(t) => format(t),
        None => GO_ZERO_TIME.to_owned(),
    }
}

/// serde helpers for `DateTime<Utc>` in Go form.
pub mod serde_go {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    /// Serializes in Go's RFC3339Nano form.
    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format(t))
    }

    /// Deserializes any RFC 3339 timestamp; Go's zero time is rejected here.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        super::parse(&s)
            .map_err(|e| D::Error::custom(format!("invalid RFC 3339 timestamp {s:?}: {e}")))?
            .ok_or_else(|| D::Error::custom("timestamp must not be the zero time"))
    }
}

/// serde helpers for an optional end time, where Go's zero time (or absence) is `None`.
pub mod serde_go_opt {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    /// Serializes `None` as Go's zero time.
    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_opt(t))
    }

    /// Deserializes an RFC 3339 timestamp, `null` or Go's zero time.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) if s.is_empty() => Ok(None),
            Some(s) => super::parse(&s)
                .map_err(|e| D::Error::custom(format!("invalid RFC 3339 timestamp {s:?}: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        let t = parse(input).unwrap();
        assert_eq!(format_opt(&t), expected, "round trip of {input}");
    }

    #[test]
    fn go_round_trip() {
        check(
            "2026-11-23T18:17:06.300056641Z",
            "2026-11-23T18:17:06.300056641Z",
        );
        check(
            "2026-11-23T18:17:51.27062324Z",
            "2026-11-23T18:17:51.27062324Z",
        );
        check("2026-11-23T18:18:58.645Z", "2026-11-23T18:18:58.645Z");
        check("2026-11-23T18:17:57Z", "2026-11-23T18:17:57Z");
        check("2026-11-23T18:17:57.000Z", "2026-11-23T18:17:57Z");
        check("2026-11-23T20:17:57+02:00", "2026-11-23T18:17:57Z");
        check("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z");
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse("yesterday").is_err());
        assert!(parse("2026-11-23 18:17:57").is_err());
    }
}
