//! Integration tests of the Rootly publisher against the simulated Rootly in `testkit`.

mod support;

mod classify;
mod config;
mod encode;
mod lifecycle;
mod redaction;
mod simulator;
