//! Fuzz target `target_document`: the invariants in `invariants/target_document.rs`, shared with the corpus
//! regression tests that `cargo test` runs.
#![no_main]

mod invariants {
    include!("../invariants/target_document.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    invariants::check(data);
});
