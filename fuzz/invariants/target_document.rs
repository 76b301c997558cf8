// Invariants of target-definition parsing (`targets::parse_document`), shared by the fuzz
// target `target_document` and the corpus regression tests of `targets`.
//
// The first byte chooses JSON (odd) or YAML (even); the rest is the document.
// - Parsing returns `Ok` or `Err`, never panics.
// - An error names the document it came from.
// - Accepted targets have valid, unique names and remember their source.
// - Header values are secrets: they never show in a target's `Debug` form.

/// Checks the invariants for one input; panics (with the input) when one does not hold.
pub(crate) fn check(data: &[u8]) {
    const SOURCE: &str = "fuzz.yaml";
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match targets::parse_document(text, first % 2 == 1, SOURCE) {
        Err(e) => {
            let message = e.to_string();
            assert!(
                message.contains(SOURCE),
                "error does not name the source: {message}"
            );
        }
        Ok(specs) => {
            let mut names = std::collections::BTreeSet::new();
            for spec in &specs {
                let name = spec.target.name.as_str();
                assert!(
                    name.parse::<publish::TargetName>().is_ok(),
                    "invalid name accepted: {name:?}"
                );
                assert!(
                    names.insert(name.to_owned()),
                    "duplicate name accepted: {name:?}"
                );
                assert_eq!(spec.source, SOURCE);
                let shown = format!("{:?}", spec.target.headers);
                for (key, value) in &spec.target.headers {
                    let value = value.expose();
                    if value.len() >= 4 && !key.contains(value) && !"***".contains(value) {
                        assert!(
                            !shown.contains(value),
                            "header {key} shown in Debug: {shown}"
                        );
                    }
                }
            }
        }
    }
}
