// Replays the committed inputs of a fuzz target (seed corpus and regressions) in `cargo test`;
// included by the `corpus` tests of the crates whose parsers are fuzzed.

/// Every committed input of fuzz target `target` (seed corpus and regressions), by path.
fn inputs(target: &str) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut out = Vec::new();
    for dir in ["seeds", "regressions"] {
        let dir = fuzz.join(dir).join(target);
        let entries =
            std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_file() && path.file_name().is_some_and(|n| n != ".gitkeep") {
                let data =
                    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
                out.push((path, data));
            }
        }
    }
    out.sort();
    assert!(
        !out.is_empty(),
        "no committed inputs for fuzz target {target}"
    );
    out
}

/// Replays every committed input of `target` through `check`, naming each one that fails.
fn replay(target: &str, check: fn(&[u8])) {
    let failed: Vec<String> = inputs(target)
        .into_iter()
        .filter(|(_, data)| std::panic::catch_unwind(|| check(data)).is_err())
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(failed.is_empty(), "invariants broken by: {failed:#?}");
}
