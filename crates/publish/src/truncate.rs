//! Truncation on character boundaries with a visible marker.

/// The marker appended to every truncated text.
pub const MARKER: &str = "…[truncated]";

/// Cuts `s` to at most `max_chars` characters (Unicode scalar values), ending with [`MARKER`]
/// when anything was cut. Returns the text and whether it was cut.
pub fn chars(s: &str, max_chars: usize) -> (String, bool) {
    if s.chars().count() <= max_chars {
        return (s.to_owned(), false);
    }
    let marker_len = MARKER.chars().count();
    let keep = max_chars.saturating_sub(marker_len);
    let mut out: String = s.chars().take(keep).collect();
    if max_chars >= marker_len {
        out.push_str(MARKER);
    }
    (out, true)
}

/// Cuts `s` to at most `max_bytes` bytes of UTF-8 on a character boundary, with [`MARKER`].
pub fn bytes(s: &str, max_bytes: usize) -> (String, bool) {
    if s.len() <= max_bytes {
        return (s.to_owned(), false);
    }
    let budget = max_bytes.saturating_sub(MARKER.len());
    let mut end = budget.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = s[..end].to_owned();
    if max_bytes >= MARKER.len() {
        out.push_str(MARKER);
    }
    (out, true)
}

/// Strings this short are never cut by [`fit_json`]: identifiers, keys and timestamps.
pub const FIT_FLOOR_BYTES: usize = 256;

/// Makes `value`'s JSON at most `max_bytes` long by cutting its longest string first (each
/// ending with [`MARKER`]), again and again, never below [`FIT_FLOOR_BYTES`]. Returns the JSON
/// and how many strings were cut; the JSON is longer than `max_bytes` only when every string is
/// already at the floor.
pub fn fit_json(value: &mut serde_json::Value, max_bytes: usize) -> (Vec<u8>, usize) {
    let mut cuts = 0;
    loop {
        // Serializing a `Value` cannot fail.
        let body = serde_json::to_vec(value).unwrap_or_default();
        if body.len() <= max_bytes {
            return (body, cuts);
        }
        let Some(longest) = longest_string(value).filter(|s| s.len() > FIT_FLOOR_BYTES) else {
            return (body, cuts);
        };
        // Cut by the whole excess when the longest string can give it (its JSON shrinks by at
        // least the bytes cut), else down to the floor and on to the next longest.
        let excess = body.len() - max_bytes;
        let target = longest
            .len()
            .saturating_sub(excess + MARKER.len())
            .max(FIT_FLOOR_BYTES);
        *longest = bytes(longest, target).0;
        cuts += 1;
    }
}

fn longest_string(value: &mut serde_json::Value) -> Option<&mut String> {
    use serde_json::Value;
    match value {
        Value::String(s) => Some(s),
        Value::Array(items) => items
            .iter_mut()
            .filter_map(longest_string)
            .max_by_key(|s| s.len()),
        Value::Object(map) => map
            .values_mut()
            .filter_map(longest_string)
            .max_by_key(|s| s.len()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_json_cuts_the_longest_strings_first() {
        let huge = "x".repeat(2_000_000);
        let mut v = serde_json::json!({
            "id": "fingerprint-0123",
            "summary": "s".repeat(1000),
            "data": {"annotations": {"description": huge, "runbook": "r".repeat(300_000)}},
        });
        let (body, cuts) = fit_json(&mut v, 100_000);
        assert!(body.len() <= 100_000, "{}", body.len());
        assert!(cuts >= 2, "{cuts}");
        assert_eq!(v["id"], "fingerprint-0123");
        assert_eq!(
            v["summary"].as_str().unwrap().len(),
            1000,
            "smaller values kept"
        );
        let description = v["data"]["annotations"]["description"].as_str().unwrap();
        assert!(description.ends_with(MARKER));
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed, v);
        // Already small enough: nothing cut.
        let mut small = serde_json::json!({"a": "b"});
        assert_eq!(fit_json(&mut small, 100), (br#"{"a":"b"}"#.to_vec(), 0));
        // Nothing left to cut: the floor holds.
        let mut many = serde_json::json!(vec!["y".repeat(300); 100]);
        let (body, _) = fit_json(&mut many, 1000);
        assert!(body.len() > 1000);
        assert!(
            many.as_array()
                .unwrap()
                .iter()
                .all(|s| s.as_str().unwrap().len() >= FIT_FLOOR_BYTES)
        );
    }

    fn check_chars(input: &str, max: usize, expected: &str) {
        let (out, _) = chars(input, max);
        assert_eq!(out, expected);
        assert!(out.chars().count() <= max.max(out.chars().count().min(max)));
    }

    #[test]
    fn char_truncation() {
        check_chars("short", 10, "short");
        check_chars("exactly-10", 10, "exactly-10");
        let long = "a".repeat(30);
        let (out, cut) = chars(&long, 20);
        assert!(cut);
        assert_eq!(out.chars().count(), 20);
        assert!(out.ends_with(MARKER));
        // multi-byte characters are never split
        let (out, cut) = chars(&"é".repeat(50), 20);
        assert!(cut && out.starts_with("éééé") && out.chars().count() == 20);
    }

    #[test]
    fn byte_truncation() {
        let (out, cut) = bytes(&"ü".repeat(100), 51);
        assert!(cut);
        assert!(out.len() <= 51, "{} bytes", out.len());
        assert!(out.ends_with(MARKER));
        assert_eq!(bytes("abc", 3), ("abc".to_owned(), false));
    }
}
