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

#[cfg(test)]
mod tests {
    use super::*;

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
