//! Conformance suite: `tests/conformance.json` through our engine and through Alertmanager's
//! own `amtool template render` (the oracle).

mod conformance;
mod robustness;
