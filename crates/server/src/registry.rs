//! The targets in force and their publishers.

use std::{collections::HashMap, sync::Arc};

use publish::{Publisher, TargetType};
use queue::{Publishers, TargetPolicy};
use targets::{LoadError, TargetSpec};

/// Builds the publisher for one target definition.
pub fn build_publisher(spec: &TargetSpec) -> Result<Arc<dyn Publisher>, LoadError> {
    let to_load = |e: publish::ConfigError| LoadError::field(spec, e.field, e.message);
    match spec.target.kind {
        TargetType::Webhook => Ok(Arc::new(
            publish_webhook::build(&spec.target).map_err(to_load)?,
        )),
        TargetType::Slack => Ok(Arc::new(
            publish_slack::build(&spec.target).map_err(to_load)?,
        )),
        TargetType::Pagerduty => Ok(Arc::new(
            publish_pagerduty::build(&spec.target).map_err(to_load)?,
        )),
        TargetType::Rootly => Ok(Arc::new(
            publish_rootly::build(&spec.target).map_err(to_load)?,
        )),
    }
}

/// Target definitions with their publishers and delivery policies.
#[derive(Debug, Default)]
pub struct Registry {
    specs: Vec<TargetSpec>,
    publishers: HashMap<String, Arc<dyn Publisher>>,
    policies: HashMap<String, Arc<TargetPolicy>>,
    defaults: Arc<TargetPolicy>,
}

impl Registry {
    /// Builds every target's publisher and policy (its `delivery` block over `defaults`);
    /// the first invalid target is the error.
    pub fn build(specs: Vec<TargetSpec>, defaults: TargetPolicy) -> Result<Self, LoadError> {
        let mut publishers = HashMap::with_capacity(specs.len());
        let mut policies = HashMap::with_capacity(specs.len());
        for spec in &specs {
            publishers.insert(spec.target.name.to_string(), build_publisher(spec)?);
            let policy = defaults
                .overlay(&spec.delivery)
                .map_err(|(path, message)| {
                    let field = if path.is_empty() || path == "." {
                        "delivery".to_owned()
                    } else {
                        format!("delivery.{path}")
                    };
                    LoadError::field(spec, field, message)
                })?;
            policies.insert(spec.target.name.to_string(), Arc::new(policy));
        }
        for spec in &specs {
            if let Some(fallback) = &policies[spec.target.name.as_str()].fallback
                && (!publishers.contains_key(fallback) || fallback == spec.target.name.as_str())
            {
                return Err(LoadError::field(
                    spec,
                    "delivery.fallback",
                    format!("{fallback:?} is not another defined target"),
                ));
            }
        }
        Ok(Self {
            specs,
            publishers,
            policies,
            defaults: Arc::new(defaults),
        })
    }

    /// The definitions.
    pub fn specs(&self) -> &[TargetSpec] {
        &self.specs
    }

    /// One definition by name.
    pub fn spec(&self, name: &str) -> Option<&TargetSpec> {
        self.specs.iter().find(|s| s.target.name.as_str() == name)
    }
}

impl Publishers for Registry {
    fn publisher(&self, target: &str) -> Option<Arc<dyn Publisher>> {
        self.publishers.get(target).cloned()
    }

    fn policy(&self, target: &str) -> Arc<TargetPolicy> {
        self.policies
            .get(target)
            .cloned()
            .unwrap_or_else(|| self.defaults.clone())
    }
}
