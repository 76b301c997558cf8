//! Fuzz target `webhook`: the invariants in `invariants/webhook.rs`, shared with the corpus
//! regression tests that `cargo test` runs.
#![no_main]

mod invariants {
    include!("../invariants/webhook.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    invariants::check(data);
});
