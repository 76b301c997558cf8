//! The committed fuzz corpus of target definitions and Kubernetes Secret formats
//! (`fuzz/seeds`, `fuzz/regressions`) replayed through the same invariants the fuzz targets
//! check: no panic, errors name their source, secrets stay hidden.

mod target_document {
    include!("../../../fuzz/invariants/target_document.rs");
}

mod k8s_secret {
    include!("../../../fuzz/invariants/k8s_secret.rs");
}

include!("../../../fuzz/invariants/replay.rs");

#[test]
fn target_document_corpus_keeps_the_invariants() {
    replay("target_document", target_document::check);
}

#[test]
fn k8s_secret_corpus_keeps_the_invariants() {
    replay("k8s_secret", k8s_secret::check);
}
