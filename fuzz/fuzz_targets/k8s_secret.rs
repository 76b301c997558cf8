//! Fuzz target `k8s_secret`: the invariants in `invariants/k8s_secret.rs`, shared with the corpus
//! regression tests that `cargo test` runs.
#![no_main]

mod invariants {
    include!("../invariants/k8s_secret.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    invariants::check(data);
});
