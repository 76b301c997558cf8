//! Integration tests for testkit: the webhook sink and the real Alertmanager.

mod alertmanager;
mod sink;
