//! Fuzz target `api_alerts`: the invariants in `invariants/api_alerts.rs`, shared with the corpus
//! regression tests that `cargo test` runs.
#![no_main]

mod invariants {
    include!("../invariants/api_alerts.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    invariants::check(data);
});
