//! Store conformance suite, run against the embedded SQLite store and a real PostgreSQL 15.

mod conformance;
mod handoff;
mod ordering;
