//! The committed fuzz corpus of target definitions and Kubernetes Secret formats
//! (`fuzz/seeds`, `fuzz/regressions`) replayed through the same invariants the fuzz targets
//! check: no panic, errors name their source, secrets stay hidden.

mod target_document {
    include!("../../../fuzz/invariants/target_document.rs");
}

mod k8s_secret {
    include!("../../../fuzz/invariants/k8s_secret.rs");
}

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

#[test]
fn target_document_corpus_keeps_the_invariants() {
    replay("target_document", target_document::check);
}

#[test]
fn k8s_secret_corpus_keeps_the_invariants() {
    replay("k8s_secret", k8s_secret::check);
}
