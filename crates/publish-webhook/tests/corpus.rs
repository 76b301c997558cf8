//! The committed fuzz corpus of the webhook parsers (`fuzz/seeds`, `fuzz/regressions`) replayed
//! through the same invariants the fuzz targets check: no panic, round trip through the v4
//! encoding.

mod webhook {
    include!("../../../fuzz/invariants/webhook.rs");
}

mod api_alerts {
    include!("../../../fuzz/invariants/api_alerts.rs");
}

include!("../../../fuzz/invariants/replay.rs");

#[test]
fn webhook_corpus_keeps_the_invariants() {
    replay("webhook", webhook::check);
}

#[test]
fn api_alerts_corpus_keeps_the_invariants() {
    replay("api_alerts", api_alerts::check);
}
