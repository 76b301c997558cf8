//! Test helpers for Alert Publisher (dev-only).
//!
//! * [`WebhookSink`] — a scriptable, recording HTTP endpoint on loopback that
//!   plays the part of a delivery target (status codes, 429 with
//!   `Retry-After`, slow answers, dropped connections).
//! * [`Alertmanager`] — a real Prometheus Alertmanager process on loopback
//!   for end-to-end tests (needs the Debian package
//!   `prometheus-alertmanager`, or `ALERTMANAGER_BIN`).

mod alertmanager;
mod sink;

pub use alertmanager::{
    ALERTMANAGER_BIN_ENV, Alertmanager, AlertmanagerConfig, alertmanager_binary, free_port,
};
pub use sink::{Answer, Behaviour, Recorded, WebhookSink};
