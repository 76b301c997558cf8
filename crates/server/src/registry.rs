//! The targets in force and their publishers.

use std::{collections::HashMap, sync::Arc};

use publish::{Publisher, TargetType};
use queue::{Publishers, RetryPolicy};
use targets::{LoadError, TargetSpec};

/// Builds the publisher for one target definition.
pub fn build_publisher(spec: &TargetSpec) -> Result<Arc<dyn Publisher>, LoadError> {
    let to_load = |e: publish::ConfigError| LoadError::field(spec, e.field, e.message);
    match spec.target.kind {
        TargetType::Webhook => Ok(Arc::new(publish_webhook::build(&spec.target).map_err(to_load)?)),
        TargetType::Slack => Ok(Arc::new(publish_slack::build(&spec.target).map_err(to_load)?)),
        TargetType::Pagerduty => Ok(Arc::new(publish_pagerduty::build(&spec.target).map_err(to_load)?)),
        TargetType::Rootly => Ok(Arc::new(publish_rootly::build(&spec.target).map_err(to_load)?)),
    }
}

/// Target definitions with their publishers.
#[derive(Debug, Default)]
pub struct Registry {
    specs: Vec<TargetSpec>,
    publishers: HashMap<String, Arc<dyn Publisher>>,
    retry: RetryPolicy,
}

impl Registry {
    /// Builds every target's publisher; the first invalid one is the error.
    pub fn build(specs: Vec<TargetSpec>, retry: RetryPolicy) -> Result<Self, LoadError> {
        let mut publishers = HashMap::with_capacity(specs.len());
        for spec in &specs {
            publishers.insert(spec.target.name.to_string(), build_publisher(spec)?);
        }
        Ok(Self { specs, publishers, retry })
    }

    /// The definitions.
    pub fn specs(&self) -> &[TargetSpec] {
        &self.specs
    }
}

impl Publishers for Registry {
    fn publisher(&self, target: &str) -> Option<Arc<dyn Publisher>> {
        self.publishers.get(target).cloned()
    }

    fn retry_policy(&self, _target: &str) -> RetryPolicy {
        self.retry.clone()
    }
}
