//! Integration tests of the PagerDuty publisher: encoding snapshots of real Alertmanager
//! payloads, and the publisher against the simulated PagerDuty from `testkit`.

mod support;

mod classification;
mod encode_snapshots;
mod lifecycle;
mod limits;
mod probe;
mod secrets;
mod templates;
