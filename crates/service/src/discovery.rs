//! Keeps the [`Registry`] in step with where targets are defined: the targets file (hot
//! reload) and, when enabled, Kubernetes Secrets; runs the active health probes; and answers
//! the refresh / status API.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use publish::TargetType;
use serde::{Deserialize, Serialize};
use targets::{Discovered, InvalidTarget, RefreshStatus, SourceHandle, monitor::MonitorConfig};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::{Registry, Settings};

/// `discovery:` in the config file.
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DiscoverySettings {
    /// How often the targets file is checked for changes (default 5 s).
    #[serde(with = "publish::serde_duration")]
    #[schema(value_type = String)]
    pub file_poll_interval: Duration,
    /// Shortest time between two manual refreshes (default 1 min).
    #[serde(with = "publish::serde_duration")]
    #[schema(value_type = String)]
    pub manual_refresh_interval: Duration,
    /// Kubernetes Secret discovery (off by default).
    pub kubernetes: targets::kube::KubernetesSettings,
    /// Active health probes.
    pub probes: MonitorConfig,
}

impl Default for DiscoverySettings {
    fn default() -> Self {
        Self {
            file_poll_interval: Duration::from_secs(5),
            manual_refresh_interval: Duration::from_secs(60),
            kubernetes: targets::kube::KubernetesSettings::default(),
            probes: MonitorConfig::default(),
        }
    }
}

/// The running discovery sources.
#[derive(Debug)]
pub struct Discovery {
    sources: Vec<SourceHandle>,
    /// The shortest periodic refresh of the sources (file poll, Kubernetes resync).
    interval: Option<Duration>,
    min_manual: Duration,
    last_manual: Mutex<Option<Instant>>,
    /// Probe timeout, for `POST .../check`.
    pub probe_timeout: Duration,
}

/// Refresh statuses of every source plus the merged result.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = DiscoveryStatus)]
pub struct Status {
    /// One entry per source.
    pub sources: Vec<RefreshStatus>,
    /// Targets in force.
    pub valid: usize,
    /// Definitions skipped.
    pub invalid: usize,
    /// Why each was skipped.
    pub invalid_targets: Vec<InvalidTarget>,
}

impl Discovery {
    /// No sources (targets fixed at start-up).
    pub fn fixed() -> Self {
        Self {
            sources: Vec::new(),
            interval: None,
            min_manual: Duration::from_secs(60),
            last_manual: Mutex::new(None),
            probe_timeout: Duration::from_secs(5),
        }
    }

    /// Starts the configured sources and the task that applies their sets to `registry`,
    /// and the active health probes.
    pub async fn start(
        config: &Settings,
        registry: Arc<Registry>,
        health: Arc<targets::HealthBook>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Arc<Self>> {
        let settings = &config.discovery;
        let mut sources = Vec::new();
        let mut intervals = Vec::new();
        if let Some(path) = &config.targets {
            intervals.push(settings.file_poll_interval);
            sources.push(targets::watch_file(
                path.clone(),
                settings.file_poll_interval,
                shutdown.clone(),
            ));
        }
        if settings.kubernetes.enabled {
            let k = &settings.kubernetes;
            let client = match &k.api_url {
                Some(url) => kube::Client::try_from(kube::Config::new(url.parse()?))?,
                None => kube::Client::try_default().await?,
            };
            let namespaces = if k.namespaces.is_empty() {
                vec![
                    std::fs::read_to_string(
                        "/var/run/secrets/kubernetes.io/serviceaccount/namespace",
                    )
                    .map(|s| s.trim().to_owned())
                    .unwrap_or_else(|_| "default".to_owned()),
                ]
            } else {
                k.namespaces.clone()
            };
            info!(namespaces = ?namespaces, selector = %k.label_selector, "watching target Secrets");
            let kube_config = k.kube_config(namespaces);
            intervals.push(kube_config.resync);
            sources.push(targets::kube::watch_secrets(
                client,
                kube_config,
                shutdown.clone(),
            ));
        }
        let discovery = Arc::new(Self {
            sources: sources.clone(),
            interval: intervals.into_iter().min(),
            min_manual: settings.manual_refresh_interval,
            last_manual: Mutex::new(None),
            probe_timeout: settings.probes.timeout,
        });
        if !sources.is_empty() {
            tokio::spawn(apply_loop(
                sources,
                registry.clone(),
                health.clone(),
                shutdown.clone(),
            ));
        }
        if !settings.probes.interval.is_zero() {
            let registry = registry.clone();
            tokio::spawn(targets::monitor::run(
                health,
                settings.probes.clone(),
                move || {
                    let enabled: Vec<String> = registry
                        .specs()
                        .iter()
                        .filter(|s| s.target.enabled)
                        .map(|s| s.target.name.to_string())
                        .collect();
                    registry
                        .publishers()
                        .into_iter()
                        .filter(|(n, _)| enabled.contains(n))
                        .collect()
                },
                shutdown,
            ));
        }
        Ok(discovery)
    }

    /// Asks every source for a full refresh, at most once per `manual_refresh_interval`;
    /// `Err(wait)` when asked too soon.
    pub fn refresh(&self) -> Result<(), Duration> {
        let mut last = self
            .last_manual
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(at) = *last {
            let since = at.elapsed();
            if since < self.min_manual {
                metrics::counter!(crate::metrics::REFRESH_MANUAL_TOTAL, "result" => "rate_limited")
                    .increment(1);
                return Err(self.min_manual - since);
            }
        }
        *last = Some(Instant::now());
        metrics::counter!(crate::metrics::REFRESH_MANUAL_TOTAL, "result" => "accepted")
            .increment(1);
        for s in &self.sources {
            s.refresh();
        }
        Ok(())
    }

    /// Where refreshes stand, every source folded into one (the latest refresh and its
    /// duration, the earliest next one, in progress while any source refreshes, the first
    /// source error); `None` without sources (targets fixed at start-up). `targets` is left 0
    /// for the caller, which knows the targets in force.
    pub fn refresh_state(&self) -> Option<collect::RefreshState> {
        if self.sources.is_empty() {
            return None;
        }
        let statuses: Vec<RefreshStatus> = self.sources.iter().map(SourceHandle::status).collect();
        let latest = statuses
            .iter()
            .filter(|s| s.last_refresh.is_some())
            .max_by_key(|s| s.last_refresh);
        Some(collect::RefreshState {
            last: latest.and_then(|s| s.last_refresh),
            duration: latest.and_then(|s| s.last_duration),
            next: statuses.iter().filter_map(|s| s.next_refresh).min(),
            interval: self.interval,
            in_progress: statuses.iter().any(|s| s.in_progress),
            last_error: statuses
                .iter()
                .find_map(|s| s.last_error.as_ref().map(|e| format!("{}: {e}", s.source))),
            targets: 0,
            failures: statuses
                .iter()
                .map(|s| u64::from(s.consecutive_failures))
                .sum(),
        })
    }

    /// Where every source stands.
    pub fn status(&self, registry: &Registry) -> Status {
        let invalid_targets = registry.invalid();
        Status {
            sources: self.sources.iter().map(SourceHandle::status).collect(),
            valid: registry.specs().len(),
            invalid: invalid_targets.len(),
            invalid_targets,
        }
    }
}

/// Merges the sources' sets (in order: file first; a name defined twice is skipped the second
/// time) and applies the result whenever one changes.
async fn apply_loop(
    mut sources: Vec<SourceHandle>,
    registry: Arc<Registry>,
    health: Arc<targets::HealthBook>,
    shutdown: CancellationToken,
) {
    loop {
        let sets: Vec<Discovered> = sources
            .iter_mut()
            .map(|s| s.targets.borrow_and_update().clone())
            .collect();
        let mut specs: Vec<targets::TargetSpec> = Vec::new();
        let mut invalid = Vec::new();
        for set in sets {
            invalid.extend(set.invalid);
            for spec in set.specs {
                if let Some(first) = specs.iter().find(|s| s.target.name == spec.target.name) {
                    invalid.push(InvalidTarget {
                        error: format!(
                            "target {:?} is defined twice: in {} and in {}",
                            spec.target.name.as_str(),
                            first.source,
                            spec.source
                        ),
                        source: spec.source,
                    });
                } else {
                    specs.push(spec);
                }
            }
        }
        let applied = registry.apply(specs, invalid);
        for name in &applied.removed {
            health.forget(name);
        }
        let specs = registry.specs();
        for kind in [
            TargetType::Webhook,
            TargetType::Pagerduty,
            TargetType::Slack,
            TargetType::Rootly,
        ] {
            for enabled in [true, false] {
                let n = specs
                    .iter()
                    .filter(|s| s.target.kind == kind && s.target.enabled == enabled)
                    .count();
                metrics::gauge!(crate::metrics::DISCOVERY_TARGETS_TOTAL, "type" => kind.as_str(), "enabled" => if enabled { "true" } else { "false" })
                    .set(n as f64);
            }
        }
        health.set_kinds(
            specs
                .iter()
                .map(|s| (s.target.name.to_string(), s.target.kind.as_str().to_owned())),
        );
        let changes = sources.iter_mut().map(|s| Box::pin(s.targets.changed()));
        tokio::select! {
            () = shutdown.cancelled() => return,
            (r, _, _) = futures::future::select_all(changes) => {
                if r.is_err() {
                    // Sources stop when shutdown begins; only an early stop is news.
                    if !shutdown.is_cancelled() {
                        warn!("a target source stopped");
                    }
                    return;
                }
            }
        }
    }
}
