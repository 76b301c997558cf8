//! Integration tests of the service: the HTTP app in process, and the real binary end to end
//! (with a real Alertmanager where the test says so).

mod support;

mod auth;
mod chaos;
mod cli;
mod compat;
mod demo;
mod docs;
mod durability;
mod e2e_webhook;
mod engine;
mod health;
mod history;
mod ingest;
mod leaks;
mod logs;
mod openapi;
mod outbound;
mod pagerduty;
mod priority;
mod ratelimit;
mod replay;
mod retry;
mod rootly;
mod scale_out;
mod slack;
mod startup;
mod stats;
mod targets_discovery;
mod templates;
mod ui;
