//! Test helpers for Alert Publisher (dev-only).
//!
//! * [`WebhookSink`] — a scriptable, recording HTTP endpoint on loopback that
//!   plays the part of a delivery target (status codes, 429 with
//!   `Retry-After`, slow answers, dropped connections).
//! * [`Alertmanager`] — a real Prometheus Alertmanager process on loopback
//!   for end-to-end tests (needs the Debian package
//!   `prometheus-alertmanager`, or `ALERTMANAGER_BIN`).
//! * [`Browser`] — a real headless Chromium over the DevTools protocol for the web
//!   console's tests and screenshots (needs the Debian package `chromium`).
//! * [`Demo`] — the newcomer's tour behind `cargo xtask demo` (`ap-demo`).

mod alertmanager;
mod browser;
mod demo;
mod http;
mod pagerduty;
mod postgres;
mod rootly;
mod sink;
mod slack;

pub use alertmanager::{
    ALERTMANAGER_BIN_ENV, Alertmanager, AlertmanagerConfig, alertmanager_binary, cpu_secs,
    free_port,
};
pub use browser::{Browser, CHROMIUM_BIN_ENV, Page, chromium_binary};
pub use demo::{Demo, DemoOptions};
pub use pagerduty::{
    PD_MAX_EVENT_BYTES, PagerDutySim, PagerDutySimConfig, PdAlert, PdAlertStatus, PdChangeEvent,
    PdFault, PdRequest,
};
pub use postgres::{Postgres, postgres_bin_dir};
pub use rootly::{
    JSONAPI, RootlyFault, RootlyRequest, RootlySim, RootlySimConfig, SimAlert, SimIncident,
};
pub use sink::{Answer, Behaviour, Recorded, WebhookSink};
pub use slack::{
    OtherPosts, SlackCall, SlackChannelSpec, SlackEndpoint, SlackFault, SlackMessage, SlackSim,
    SlackSimConfig, SlackVia, validate_slack_message,
};
