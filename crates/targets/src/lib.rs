//! Where Alert Publisher targets come from and which alerts each one wants.
//!
//! A target definition is `{name, type, url, enabled, format, headers, filter, options}`. This
//! crate reads definitions from a file or a directory ([`load`]) or from Kubernetes Secrets
//! ([`kube::watch_secrets`], three accepted formats, see [`secret`]), keeps them fresh
//! ([`discovery`]: hot reload, watch + periodic resync, backoff), validates them with errors
//! that name the source, the target and the field ([`LoadError`]), decides which alerts a
//! target receives ([`Filter`]) and keeps each target's health ([`health`], [`monitor`]).
//!
//! Its settings are serde types the service configuration composes as they are:
//! [`HealthConfig`] (`health:`), [`monitor::MonitorConfig`] (`discovery.probes:`) and
//! [`kube::KubernetesSettings`] (`discovery.kubernetes:`).
//!
//! **Invariant:** knows nothing of the queue or the HTTP API, and builds no publisher.

pub mod discovery;
mod filter;
pub mod health;
pub mod kube;
mod load;
pub mod metrics;
pub mod monitor;
pub mod secret;

pub use discovery::{Discovered, InvalidTarget, RefreshStatus, SourceHandle, watch_file};
pub use filter::{ClassificationFilter, Filter, MatchOp, Matcher, NamespaceFilter, parse_matchers};
pub use health::{CheckSource, HealthBook, HealthConfig, HealthStatus, TargetHealth};
pub use load::{LoadError, LoadErrors, TargetRef, TargetSpec, load, load_each, parse_document};

/// The targets that want `alert`: enabled, and their filter matches.
pub fn route<'a>(
    specs: &'a [TargetSpec],
    alert: &'a publish::Alert,
) -> impl Iterator<Item = &'a TargetSpec> + 'a {
    specs
        .iter()
        .filter(move |s| s.target.enabled && s.filter.matches(alert))
}

/// Why `spec` does not take `alert` (`disabled`, or what its filter says), or `None` when it
/// does: the reason a notification's history shows for a target filtered out.
pub fn explain(spec: &TargetSpec, alert: &publish::Alert) -> Option<String> {
    if !spec.target.enabled {
        return Some("target disabled".to_owned());
    }
    spec.filter.explain(alert)
}
