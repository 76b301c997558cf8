// Invariants of Kubernetes Secret target formats (`targets::secret::parse_secret`), shared by
// the fuzz target `k8s_secret` and the corpus regression tests of `targets`.
//
// The input is a sequence of entries `[key index, value length, value bytes...]`; the key index
// picks one of the keys the formats use (so the fuzzer reaches every format quickly).
// - Parsing returns `Ok` or `Err`, never panics.
// - An error names the Secret (`namespace/name`).
// - A credential (`routing_key`, `api_key`, `auth_token`) of a flat Secret never shows in an
//   error message.

const KEYS: [&str; 11] = [
    "target.json",
    "config",
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

/// Checks the invariants for one input; panics (with the input) when one does not hold.
pub(crate) fn check(data: &[u8]) {
    let mut secret = std::collections::BTreeMap::<String, Vec<u8>>::new();
    let mut rest = data;
    while let [key, len, tail @ ..] = rest {
        let len = usize::from(*len).min(tail.len());
        let key = KEYS[usize::from(*key) % KEYS.len()];
        secret.insert(key.to_owned(), tail[..len].to_vec());
        rest = &tail[len..];
    }
    let Err(e) = targets::secret::parse_secret("fuzz-ns", "fuzz-secret", &secret) else {
        return;
    };
    let message = e.to_string();
    assert!(
        message.contains("fuzz-ns/fuzz-secret"),
        "error does not name the Secret: {message}"
    );
    if secret.contains_key("target.json") || secret.contains_key("config") {
        return;
    }
    for key in ["routing_key", "api_key", "auth_token"] {
        let Some(value) = secret.get(key).and_then(|v| std::str::from_utf8(v).ok()) else {
            continue;
        };
        let value = value.trim();
        let elsewhere = secret
            .iter()
            .any(|(k, v)| k != key && String::from_utf8_lossy(v).contains(value));
        // A value that reads like a token (letters and digits), so it cannot be a word the
        // message uses anyway.
        let token = value.len() >= 8
            && value.chars().all(|c| c.is_ascii_alphanumeric())
            && value.chars().any(|c| c.is_ascii_digit())
            && value.chars().any(|c| c.is_ascii_alphabetic());
        if token && !elsewhere {
            assert!(
                !message.contains(value),
                "{key} leaked into an error: {message}"
            );
        }
    }
}
