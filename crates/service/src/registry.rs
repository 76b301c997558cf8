//! The targets in force and their publishers.
//!
//! The set can change while the service runs (file hot reload, Kubernetes discovery): a
//! [`Registry`] holds an immutable snapshot behind an [`ArcSwap`] and swaps in a new one on
//! [`Registry::apply`]. Publishers are rebuilt only for targets whose definition changed.
//!
//! What happens to deliveries when the set changes:
//! - **in flight**: the engine holds the publisher it looked up; the attempt finishes with it;
//! - **waiting, target changed**: the next attempt uses the new definition (the engine looks
//!   the publisher up by name at delivery time);
//! - **waiting, target removed**: the job is dead-lettered with kind `config` and reason
//!   `target "x" is not defined` — visible in `/api/v2/publishing/dlq` and replayable once the
//!   target is back. Nothing is dropped silently.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock, PoisonError},
};

use arc_swap::ArcSwap;
use publish::{BuildContext, Publisher, TargetType};
use queue::{Publishers, TargetPolicy};
use serde::Serialize;
use targets::{InvalidTarget, LoadError, LoadErrors, TargetSpec};
use tracing::{info, warn};

/// The URL a target of type `kind` talks to when its definition gives none (the vendor's
/// own API), or `None` when a URL is required.
pub fn default_url(kind: TargetType) -> Option<&'static str> {
    match kind {
        TargetType::Pagerduty => Some(publish_pagerduty::DEFAULT_URL),
        TargetType::Rootly => Some(publish_rootly::DEFAULT_URL),
        TargetType::Slack | TargetType::Webhook => None,
    }
}

/// The URL a target talks to: its own, or its vendor's default.
pub fn effective_url(spec: &TargetSpec) -> &str {
    match (spec.target.url.as_str(), default_url(spec.target.kind)) {
        ("", Some(default)) => default,
        (url, _) => url,
    }
}

/// The counter families the publisher of each target type emits (labelled by `target`), for
/// the stats collectors.
pub fn vendor_counters(kind: TargetType) -> collect::VendorCounters {
    let (vendor, counters) = match kind {
        TargetType::Webhook => (
            publish_webhook::metrics::VENDOR,
            publish_webhook::metrics::COUNTERS,
        ),
        TargetType::Slack => (
            publish_slack::metrics::VENDOR,
            publish_slack::metrics::COUNTERS,
        ),
        TargetType::Pagerduty => (
            publish_pagerduty::metrics::VENDOR,
            publish_pagerduty::metrics::COUNTERS,
        ),
        TargetType::Rootly => (
            publish_rootly::metrics::VENDOR,
            publish_rootly::metrics::COUNTERS,
        ),
    };
    collect::VendorCounters {
        vendor: vendor.to_owned(),
        counters: counters.to_vec(),
    }
}

/// Describes the metric families of every publisher type.
pub fn describe_vendor_metrics() {
    publish_webhook::metrics::describe();
    publish_slack::metrics::describe();
    publish_pagerduty::metrics::describe();
    publish_rootly::metrics::describe();
}

/// Builds the publisher for one target definition. Webhook targets are guarded by the
/// context's outbound policy; the vendor publishers talk to their vendors' APIs (by default)
/// and are not. Target templates may call the context's shared definitions.
pub fn build_publisher(
    spec: &TargetSpec,
    ctx: &BuildContext,
) -> Result<Arc<dyn Publisher>, LoadError> {
    let to_load = |e: publish::ConfigError| LoadError::field(spec, e.field, e.message);
    match spec.target.kind {
        TargetType::Webhook => Ok(Arc::new(
            publish_webhook::build(&spec.target, ctx).map_err(to_load)?,
        )),
        TargetType::Slack => Ok(Arc::new(
            publish_slack::build(&spec.target, ctx).map_err(to_load)?,
        )),
        TargetType::Pagerduty => Ok(Arc::new(
            publish_pagerduty::build(&spec.target, ctx).map_err(to_load)?,
        )),
        TargetType::Rootly => Ok(Arc::new(
            publish_rootly::build(&spec.target, ctx).map_err(to_load)?,
        )),
    }
}

/// One immutable set of targets.
#[derive(Debug, Default)]
struct Snapshot {
    specs: Arc<[TargetSpec]>,
    publishers: HashMap<String, Arc<dyn Publisher>>,
    policies: HashMap<String, Arc<TargetPolicy>>,
    invalid: Vec<InvalidTarget>,
}

/// Target definitions with their publishers and delivery policies; swappable at run time.
#[derive(Debug, Default)]
pub struct Registry {
    current: ArcSwap<Snapshot>,
    defaults: Arc<TargetPolicy>,
    applying: Mutex<()>,
    discovery: OnceLock<Arc<crate::discovery::Discovery>>,
    context: BuildContext,
}

/// What [`Registry::apply`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Applied {
    /// New targets.
    pub added: Vec<String>,
    /// Targets whose definition changed (publisher rebuilt).
    pub changed: Vec<String>,
    /// Targets no longer defined.
    pub removed: Vec<String>,
    /// Targets kept as they were (publisher reused).
    pub unchanged: usize,
    /// Definitions skipped.
    pub invalid: usize,
}

fn policy_of(defaults: &TargetPolicy, spec: &TargetSpec) -> Result<TargetPolicy, LoadError> {
    defaults.overlay(&spec.delivery).map_err(|(path, message)| {
        let field = if path.is_empty() || path == "." {
            "delivery".to_owned()
        } else {
            format!("delivery.{path}")
        };
        LoadError::field(spec, field, message)
    })
}

impl Registry {
    /// The shared template definitions target templates are built with.
    pub fn templates(&self) -> &template::Library {
        &self.context.templates
    }

    /// Builds every target's publisher and policy (its `delivery` block over `defaults`)
    /// under the default outbound policy and the default templates; every invalid target is in
    /// the error.
    pub fn build(specs: Vec<TargetSpec>, defaults: TargetPolicy) -> Result<Self, LoadErrors> {
        Self::build_with(specs, defaults, BuildContext::default())
    }

    /// Like [`Registry::build`], with publishers built in `context` (its outbound guard and
    /// shared templates, now and at every later [`Registry::apply`]).
    pub fn build_with(
        specs: Vec<TargetSpec>,
        defaults: TargetPolicy,
        context: BuildContext,
    ) -> Result<Self, LoadErrors> {
        let mut publishers = HashMap::with_capacity(specs.len());
        let mut policies = HashMap::with_capacity(specs.len());
        let mut errors = Vec::new();
        for spec in &specs {
            let built =
                build_publisher(spec, &context).and_then(|p| Ok((p, policy_of(&defaults, spec)?)));
            match built {
                Ok((publisher, policy)) => {
                    publishers.insert(spec.target.name.to_string(), publisher);
                    policies.insert(spec.target.name.to_string(), Arc::new(policy));
                }
                Err(e) => errors.push(e),
            }
        }
        for spec in &specs {
            if let Some(fallback) = policies
                .get(spec.target.name.as_str())
                .and_then(|p| p.fallback.as_ref())
                && (fallback == spec.target.name.as_str()
                    || !specs.iter().any(|s| s.target.name.as_str() == fallback))
            {
                errors.push(LoadError::field(
                    spec,
                    "delivery.fallback",
                    format!("{fallback:?} is not another defined target"),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(LoadErrors(errors));
        }
        Ok(Self {
            current: ArcSwap::from_pointee(Snapshot {
                specs: specs.into(),
                publishers,
                policies,
                invalid: Vec::new(),
            }),
            defaults: Arc::new(defaults),
            applying: Mutex::new(()),
            discovery: OnceLock::new(),
            context,
        })
    }

    /// Replaces the set of targets. A target that cannot be built is skipped (and listed in
    /// [`Registry::invalid`]) while the others take effect; publishers of unchanged targets
    /// are kept.
    pub fn apply(&self, specs: Vec<TargetSpec>, mut invalid: Vec<InvalidTarget>) -> Applied {
        let _one_at_a_time = self.applying.lock().unwrap_or_else(PoisonError::into_inner);
        let old = self.current.load_full();
        let mut applied = Applied::default();
        let mut kept = Vec::with_capacity(specs.len());
        let mut publishers = HashMap::with_capacity(specs.len());
        let mut policies = HashMap::with_capacity(specs.len());
        for spec in specs {
            let name = spec.target.name.to_string();
            let previous = old.specs.iter().find(|s| s.target.name == spec.target.name);
            let reuse = previous
                .filter(|p| **p == spec)
                .and_then(|_| Some((old.publishers.get(&name)?, old.policies.get(&name)?)));
            let built = match reuse {
                Some((p, pol)) => Ok((p.clone(), pol.clone())),
                None => build_publisher(&spec, &self.context)
                    .and_then(|p| Ok((p, Arc::new(policy_of(&self.defaults, &spec)?)))),
            };
            match built {
                Ok((p, pol)) => {
                    match (previous, reuse.is_some()) {
                        (None, _) => applied.added.push(name.clone()),
                        (Some(_), false) => applied.changed.push(name.clone()),
                        (Some(_), true) => applied.unchanged += 1,
                    }
                    publishers.insert(name.clone(), p);
                    policies.insert(name, pol);
                    kept.push(spec);
                }
                Err(e) => invalid.push(InvalidTarget {
                    source: spec.source.clone(),
                    error: e.to_string(),
                }),
            }
        }
        // A fallback must name another target that is in force.
        let mut i = 0;
        while i < kept.len() {
            let name = kept[i].target.name.as_str();
            let bad = policies[name]
                .fallback
                .as_ref()
                .is_some_and(|f| f == name || !publishers.contains_key(f));
            if bad {
                let spec = kept.remove(i);
                let fallback = policies[spec.target.name.as_str()].fallback.clone();
                publishers.remove(spec.target.name.as_str());
                policies.remove(spec.target.name.as_str());
                applied.added.retain(|n| n != spec.target.name.as_str());
                applied.changed.retain(|n| n != spec.target.name.as_str());
                invalid.push(InvalidTarget {
                    source: spec.source.clone(),
                    error: LoadError::field(
                        &spec,
                        "delivery.fallback",
                        format!(
                            "{:?} is not another defined target",
                            fallback.unwrap_or_default()
                        ),
                    )
                    .to_string(),
                });
                i = 0;
            } else {
                i += 1;
            }
        }
        applied.removed = old
            .specs
            .iter()
            .map(|s| s.target.name.to_string())
            .filter(|n| !publishers.contains_key(n))
            .collect();
        applied.invalid = invalid.len();
        for i in &invalid {
            warn!(source = %i.source, error = %i.error, "target skipped");
        }
        if !applied.added.is_empty() || !applied.changed.is_empty() || !applied.removed.is_empty() {
            info!(
                added = ?applied.added,
                changed = ?applied.changed,
                removed = ?applied.removed,
                invalid = applied.invalid,
                "targets updated"
            );
        }
        for (kind, n) in [
            ("added", applied.added.len()),
            ("changed", applied.changed.len()),
            ("removed", applied.removed.len()),
        ] {
            metrics::counter!(crate::metrics::DISCOVERY_CHANGES_TOTAL, "change" => kind)
                .increment(n as u64);
        }
        metrics::gauge!(crate::metrics::TARGETS_ACTIVE).set(kept.len() as f64);
        self.current.store(Arc::new(Snapshot {
            specs: kept.into(),
            publishers,
            policies,
            invalid,
        }));
        applied
    }

    /// The definitions in force.
    pub fn specs(&self) -> Arc<[TargetSpec]> {
        self.current.load().specs.clone()
    }

    /// One definition by name.
    pub fn spec(&self, name: &str) -> Option<TargetSpec> {
        self.current
            .load()
            .specs
            .iter()
            .find(|s| s.target.name.as_str() == name)
            .cloned()
    }

    /// Attaches the running discovery (for the refresh and status API); once.
    pub fn set_discovery(&self, discovery: Arc<crate::discovery::Discovery>) {
        let _ = self.discovery.set(discovery);
    }

    /// The running discovery (none: targets fixed at start-up).
    pub fn discovery(&self) -> Arc<crate::discovery::Discovery> {
        self.discovery
            .get_or_init(|| Arc::new(crate::discovery::Discovery::fixed()))
            .clone()
    }

    /// Definitions skipped at the last [`Registry::apply`].
    pub fn invalid(&self) -> Vec<InvalidTarget> {
        self.current.load().invalid.clone()
    }

    /// Every target's publisher.
    pub fn publishers(&self) -> Vec<(String, Arc<dyn Publisher>)> {
        let current = self.current.load();
        current
            .specs
            .iter()
            .filter_map(|s| {
                let name = s.target.name.to_string();
                current.publishers.get(&name).map(|p| (name, p.clone()))
            })
            .collect()
    }
}

impl Publishers for Registry {
    fn publisher(&self, target: &str) -> Option<Arc<dyn Publisher>> {
        let found = self.current.load().publishers.get(target).cloned();
        let status = if found.is_some() {
            "found"
        } else {
            "not_found"
        };
        metrics::counter!(crate::metrics::TARGET_LOOKUPS_TOTAL, "operation" => "get", "status" => status)
            .increment(1);
        found
    }

    fn resolve(&self, target: &str) -> (Option<Arc<dyn Publisher>>, Arc<TargetPolicy>) {
        let current = self.current.load();
        (
            current.publishers.get(target).cloned(),
            current
                .policies
                .get(target)
                .cloned()
                .unwrap_or_else(|| self.defaults.clone()),
        )
    }

    fn policy(&self, target: &str) -> Arc<TargetPolicy> {
        self.current
            .load()
            .policies
            .get(target)
            .cloned()
            .unwrap_or_else(|| self.defaults.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(yaml: &str) -> Vec<TargetSpec> {
        targets::parse_document(yaml, false, "t.yaml").unwrap()
    }

    #[test]
    fn every_publisher_type_lists_its_counters_under_its_own_prefix() {
        for kind in [
            TargetType::Webhook,
            TargetType::Slack,
            TargetType::Pagerduty,
            TargetType::Rootly,
        ] {
            let v = vendor_counters(kind);
            assert_eq!(v.vendor, kind.as_str());
            assert!(!v.counters.is_empty(), "{kind:?}");
            for (short, full) in &v.counters {
                assert_eq!(*full, format!("alert_publisher_{}_{short}", v.vendor));
                assert!(short.ends_with("_total"), "{short}");
            }
        }
    }

    #[test]
    fn a_vendor_target_without_url_talks_to_the_vendor() {
        let list = targets::parse_document(
            r#"[{"name":"pd","type":"pagerduty"},{"name":"r","type":"rootly"},{"name":"w","type":"webhook","url":"https://x"}]"#,
            true,
            "t.json",
        )
        .unwrap();
        assert_eq!(effective_url(&list[0]), "https://events.pagerduty.com");
        assert_eq!(effective_url(&list[1]), "https://api.rootly.com");
        assert_eq!(effective_url(&list[2]), "https://x");
    }

    #[test]
    fn apply_rebuilds_only_changed_targets() {
        let r = Registry::build(
            specs("- {name: a, type: webhook, url: 'http://a/x'}\n- {name: b, type: webhook, url: 'http://b/x'}\n"),
            TargetPolicy::default(),
        )
        .unwrap();
        let a = r.publisher("a").unwrap();
        let b = r.publisher("b").unwrap();
        let applied = r.apply(
            specs("- {name: a, type: webhook, url: 'http://a/x'}\n- {name: b, type: webhook, url: 'http://b2/x'}\n- {name: c, type: webhook, url: 'http://c/x'}\n"),
            Vec::new(),
        );
        assert_eq!(applied.added, ["c"]);
        assert_eq!(applied.changed, ["b"]);
        assert_eq!(applied.unchanged, 1);
        assert!(Arc::ptr_eq(&a, &r.publisher("a").unwrap()), "a kept");
        assert!(!Arc::ptr_eq(&b, &r.publisher("b").unwrap()), "b rebuilt");
        let applied = r.apply(
            specs("- {name: c, type: webhook, url: 'http://c/x'}\n- {name: p, type: pagerduty}\n- {name: f, type: webhook, url: 'http://f/x', delivery: {fallback: nope}}\n"),
            vec![InvalidTarget { source: "ns/s".into(), error: "bad".into() }],
        );
        assert_eq!(applied.removed, ["a", "b"]);
        assert!(r.publisher("a").is_none());
        assert_eq!(r.specs().len(), 1);
        let invalid = r.invalid();
        assert_eq!(invalid.len(), 3, "{invalid:?}");
        assert!(
            invalid
                .iter()
                .any(|i| i.error.contains("options.routing_key"))
        );
        assert!(
            invalid
                .iter()
                .any(|i| i.error.contains("delivery.fallback"))
        );
    }
}
