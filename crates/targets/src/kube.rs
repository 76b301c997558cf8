//! Kubernetes discovery: targets defined in Secrets carrying a label (by default
//! `publishing-target=true`) in one or several namespaces.
//!
//! The loop lists every namespace, then watches from the listed resource version, applying
//! adds, changes and deletions as they come. It lists again on a periodic resync (default
//! 5 min), on a manual refresh, when a watch ends, and when the API answers 410 Gone. While the
//! API is unreachable it retries with exponential backoff and keeps the last good set.

use std::{collections::BTreeMap, time::Duration};

use futures::{StreamExt, stream::BoxStream};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use crate::{
    discovery::{Discovered, InvalidTarget, SourceDriver, SourceHandle, report_invalid},
    secret::parse_secret,
};

/// Where and how to look for target Secrets.
#[derive(Debug, Clone, PartialEq)]
pub struct KubeConfig {
    /// Namespaces to watch.
    pub namespaces: Vec<String>,
    /// Label selector of target Secrets.
    pub label_selector: String,
    /// Full re-list period.
    pub resync: Duration,
    /// First retry delay while the API is unreachable.
    pub backoff_initial: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// Server-side timeout of one watch request.
    pub watch_timeout: Duration,
}

impl Default for KubeConfig {
    fn default() -> Self {
        Self {
            namespaces: vec!["default".to_owned()],
            label_selector: "publishing-target=true".to_owned(),
            resync: Duration::from_secs(300),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            watch_timeout: Duration::from_secs(290),
        }
    }
}

/// Kubernetes Secret discovery as a user configures it (`discovery.kubernetes:`; unknown keys
/// refused, missing keys default). [`KubernetesSettings::kube_config`] turns it into the
/// [`KubeConfig`] of [`watch_secrets`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct KubernetesSettings {
    /// Watch Secrets (off by default; needs RBAC get/list/watch on Secrets).
    pub enabled: bool,
    /// Namespaces to watch; empty (the default) leaves the choice to the caller (the pod's
    /// own namespace).
    pub namespaces: Vec<String>,
    /// Label selector of target Secrets (default `publishing-target=true`).
    pub label_selector: String,
    /// Full re-list period (default 5 min).
    #[serde(with = "publish::serde_duration")]
    #[schema(value_type = String)]
    pub resync_interval: Duration,
    /// Longest retry delay while the API is unreachable (default 1 min).
    #[serde(with = "publish::serde_duration")]
    #[schema(value_type = String)]
    pub max_backoff: Duration,
    /// API server URL; `None` (the default): in-cluster configuration or kubeconfig. Shown
    /// without credentials when serialized.
    #[serde(serialize_with = "publish::serialize_redacted_url")]
    pub api_url: Option<String>,
}

impl Default for KubernetesSettings {
    fn default() -> Self {
        let d = KubeConfig::default();
        Self {
            enabled: false,
            namespaces: Vec::new(),
            label_selector: d.label_selector,
            resync_interval: d.resync,
            max_backoff: d.backoff_max,
            api_url: None,
        }
    }
}

impl KubernetesSettings {
    /// What [`watch_secrets`] takes, watching `namespaces` (the caller resolves an empty
    /// `self.namespaces` to its default); what the settings do not name keeps
    /// [`KubeConfig::default`].
    pub fn kube_config(&self, namespaces: Vec<String>) -> KubeConfig {
        KubeConfig {
            namespaces,
            label_selector: self.label_selector.clone(),
            resync: self.resync_interval,
            backoff_max: self.max_backoff,
            ..KubeConfig::default()
        }
    }
}

type Key = (String, String);

/// Starts watching Secrets through `client`; the returned handle has the current set.
pub fn watch_secrets(
    client: kube::Client,
    config: KubeConfig,
    shutdown: CancellationToken,
) -> SourceHandle {
    let (handle, driver) = SourceHandle::new("kubernetes");
    tokio::spawn(run(client, config, driver, shutdown));
    handle
}

enum Step {
    Event(String, Box<Result<WatchEvent<Secret>, kube::Error>>),
    Ended(String),
}

async fn run(
    client: kube::Client,
    config: KubeConfig,
    driver: SourceDriver,
    shutdown: CancellationToken,
) {
    let mut secrets: BTreeMap<Key, Secret>;
    let mut backoff = config.backoff_initial;
    'relist: loop {
        if shutdown.is_cancelled() {
            return;
        }
        let started = Instant::now();
        driver.starting();
        let listed = list_all(&client, &config).await;
        let versions = match listed {
            Ok((all, versions)) => {
                secrets = all;
                backoff = config.backoff_initial;
                publish(&driver, &secrets);
                driver.refreshed(started.elapsed(), Some(config.resync));
                versions
            }
            Err(e) => {
                driver.failed(reason(&e), safe_error(&e), backoff);
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {}
                    () = driver.refresh.notified() => {}
                }
                backoff = (backoff * 2).min(config.backoff_max);
                continue 'relist;
            }
        };
        let resync_at = Instant::now() + config.resync;
        let mut streams: Vec<BoxStream<'static, Step>> = Vec::new();
        for (ns, version) in versions {
            let api: Api<Secret> = Api::namespaced(client.clone(), &ns);
            let params = WatchParams::default()
                .labels(&config.label_selector)
                .timeout(config.watch_timeout.as_secs().clamp(1, 290) as u32);
            match api.watch(&params, &version).await {
                Ok(s) => {
                    let end = ns.clone();
                    let ns = ns.clone();
                    streams.push(
                        s.map(move |ev| Step::Event(ns.clone(), Box::new(ev)))
                            .chain(futures::stream::once(async move { Step::Ended(end) }))
                            .boxed(),
                    );
                }
                Err(e) => {
                    driver.failed(reason(&e), safe_error(&e), backoff);
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(config.backoff_max);
                    continue 'relist;
                }
            }
        }
        let mut events = futures::stream::select_all(streams);
        loop {
            let step = tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep_until(resync_at) => {
                    driver.event("resync");
                    continue 'relist;
                }
                () = driver.refresh.notified() => {
                    driver.event("manual_refresh");
                    continue 'relist;
                }
                step = events.next() => step,
            };
            match step {
                None => continue 'relist,
                Some(Step::Ended(ns)) => {
                    debug!(namespace = %ns, "secret watch ended; listing again");
                    driver.event("watch_ended");
                    continue 'relist;
                }
                Some(Step::Event(ns, ev)) if ev.is_ok() => match *ev {
                    Err(_) => continue 'relist,
                    Ok(event) => match event {
                        WatchEvent::Added(s) | WatchEvent::Modified(s) => {
                            let kind = if secrets.contains_key(&key(&ns, &s)) {
                                "modified"
                            } else {
                                "added"
                            };
                            driver.event(kind);
                            secrets.insert(key(&ns, &s), s);
                            publish(&driver, &secrets);
                        }
                        WatchEvent::Deleted(s) => {
                            driver.event("deleted");
                            secrets.remove(&key(&ns, &s));
                            publish(&driver, &secrets);
                        }
                        WatchEvent::Bookmark(_) => {}
                        WatchEvent::Error(e) if e.code == 410 => {
                            info!(namespace = %ns, "secret watch expired (410 Gone); listing again");
                            driver.event("gone");
                            continue 'relist;
                        }
                        WatchEvent::Error(e) => {
                            driver.failed(
                                "watch_error",
                                format!("watch {ns}: {} ({})", e.message, e.code),
                                Duration::ZERO,
                            );
                            continue 'relist;
                        }
                    },
                },
                Some(Step::Event(ns, ev)) => {
                    let Err(e) = *ev else { continue 'relist };
                    driver.failed(
                        reason(&e),
                        format!("watch {ns}: {}", safe_error(&e)),
                        backoff,
                    );
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(config.backoff_max);
                    continue 'relist;
                }
            }
        }
    }
}

fn key(ns: &str, s: &Secret) -> Key {
    (
        s.metadata
            .namespace
            .clone()
            .unwrap_or_else(|| ns.to_owned()),
        s.metadata.name.clone().unwrap_or_default(),
    )
}

async fn list_all(
    client: &kube::Client,
    config: &KubeConfig,
) -> Result<(BTreeMap<Key, Secret>, Vec<(String, String)>), kube::Error> {
    let mut all = BTreeMap::new();
    let mut versions = Vec::new();
    for ns in &config.namespaces {
        let api: Api<Secret> = Api::namespaced(client.clone(), ns);
        let list = api
            .list(&ListParams::default().labels(&config.label_selector))
            .await?;
        versions.push((
            ns.clone(),
            list.metadata.resource_version.unwrap_or_default(),
        ));
        for s in list.items {
            all.insert(key(ns, &s), s);
        }
    }
    Ok((all, versions))
}

fn reason(e: &kube::Error) -> &'static str {
    match e {
        kube::Error::Api(_) => "api_error",
        kube::Error::HyperError(_) | kube::Error::Service(_) => "unreachable",
        _ => "other",
    }
}

/// An error message without URLs or tokens.
fn safe_error(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => format!("API error {}: {}", s.code, s.message),
        kube::Error::HyperError(_) | kube::Error::Service(_) => {
            "Kubernetes API unreachable".to_owned()
        }
        _ => "Kubernetes API request failed".to_owned(),
    }
}

/// Turns the Secrets into a target set: each valid Secret one target; an invalid one (or a
/// second Secret with a name already taken) is skipped with its reason.
pub fn secrets_to_targets<'a>(secrets: impl IntoIterator<Item = &'a Secret>) -> Discovered {
    let mut set = Discovered::default();
    for s in secrets {
        let ns = s.metadata.namespace.clone().unwrap_or_default();
        let name = s.metadata.name.clone().unwrap_or_default();
        let mut data: BTreeMap<String, Vec<u8>> = s
            .data
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.0.clone()))
            .collect();
        for (k, v) in s.string_data.iter().flatten() {
            data.insert(k.clone(), v.clone().into_bytes());
        }
        let source = format!("{ns}/{name}");
        match parse_secret(&ns, &name, &data) {
            Ok((spec, format)) => {
                if let Some(first) = set.specs.iter().find(|x| x.target.name == spec.target.name) {
                    set.invalid.push(InvalidTarget {
                        error: format!(
                            "target {:?} is defined twice: in {} and in {}",
                            spec.target.name.as_str(),
                            first.source,
                            source
                        ),
                        source,
                    });
                } else {
                    metrics::counter!(crate::metrics::DISCOVERY_SECRETS_PARSED_TOTAL, "format" => format.as_str()).increment(1);
                    metrics::counter!(crate::metrics::DISCOVERY_SECRETS_TOTAL, "status" => "valid")
                        .increment(1);
                    set.specs.push(spec);
                }
            }
            Err(e) => {
                metrics::counter!(crate::metrics::DISCOVERY_SECRETS_TOTAL, "status" => "invalid")
                    .increment(1);
                set.invalid.push(InvalidTarget {
                    source,
                    error: e.to_string(),
                });
            }
        }
    }
    set
}

fn publish(driver: &SourceDriver, secrets: &BTreeMap<Key, Secret>) {
    let set = secrets_to_targets(secrets.values());
    report_invalid(&driver.source, &set.invalid);
    driver.publish(set);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_keys_defaults_and_redacted_url() {
        let parse = |yaml: &str| serde_yaml::from_str::<KubernetesSettings>(yaml);
        let d = parse("{}").unwrap();
        assert_eq!(d, KubernetesSettings::default());
        assert!(!d.enabled && d.namespaces.is_empty() && d.api_url.is_none());
        let k = d.kube_config(vec!["ops".to_owned()]);
        assert_eq!(
            k,
            KubeConfig {
                namespaces: vec!["ops".to_owned()],
                ..KubeConfig::default()
            }
        );

        let s = parse(
            "enabled: true\nnamespaces: [a, b]\nlabel_selector: team=sre\n\
             resync_interval: 30s\nmax_backoff: 10s\n\
             api_url: https://admin:s3cret@k8s.internal:6443/?token=t0k\n",
        )
        .unwrap();
        assert!(s.enabled);
        assert_eq!(s.namespaces, ["a", "b"]);
        let k = s.kube_config(s.namespaces.clone());
        assert_eq!(k.namespaces, ["a", "b"]);
        assert_eq!(k.label_selector, "team=sre");
        assert_eq!(k.resync, Duration::from_secs(30));
        assert_eq!(k.backoff_max, Duration::from_secs(10));
        assert_eq!(k.watch_timeout, KubeConfig::default().watch_timeout);
        let shown = serde_json::to_value(&s).unwrap();
        assert_eq!(
            shown["api_url"], "https://k8s.internal:6443/?<redacted>",
            "{shown}"
        );
        assert_eq!(shown["resync_interval"], "30000ms");

        let e = parse("label_selectr: x\n").unwrap_err().to_string();
        assert!(e.contains("unknown field `label_selectr`"), "{e}");
    }
}
