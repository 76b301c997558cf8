//! Where Alert Publisher targets come from and which alerts each one wants.
//!
//! A target definition is `{name, type, url, enabled, format, headers, filter, options}`. This
//! crate reads definitions from a file or a directory ([`load`]), validates them with errors that
//! name the source, the target and the field ([`LoadError`]), and decides which alerts a target
//! receives ([`Filter`]).
//!
//! **Invariant:** knows nothing of the queue or the HTTP API, and builds no publisher.

mod filter;
pub mod health;
mod load;

pub use filter::Filter;
pub use health::{CheckSource, HealthBook, HealthConfig, HealthStatus, TargetHealth};
pub use load::{LoadError, TargetRef, TargetSpec, load, parse_document};

/// The targets that want `alert`: enabled, and their filter matches.
pub fn route<'a>(
    specs: &'a [TargetSpec],
    alert: &'a publish::Alert,
) -> impl Iterator<Item = &'a TargetSpec> + 'a {
    specs
        .iter()
        .filter(move |s| s.target.enabled && s.filter.matches(alert))
}
