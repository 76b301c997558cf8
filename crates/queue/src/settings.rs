//! `delivery:` in the service configuration: the engine, the store options it depends on and
//! the policy every target starts from, in one serde type.

use std::time::Duration;

use publish::ConfigError;
use serde::{Deserialize, Serialize};

use crate::{Aging, BreakerConfig, EngineConfig, RetryPolicy, StoreOptions, TargetPolicy};

/// Delivery settings as a user writes them (`delivery:`). Unknown keys are refused; a missing
/// key takes its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DeliverySettings {
    /// Deliveries in flight at once (default 64).
    pub concurrency: usize,
    /// An unchanged firing alert is not sent to a target again before this much time
    /// (default 4 h).
    #[serde(with = "publish::serde_duration")]
    #[schema(value_type = String)]
    pub repeat_interval: Duration,
    /// How long shutdown waits for in-flight deliveries (default 10 s).
    #[serde(with = "publish::serde_duration")]
    #[schema(value_type = String)]
    pub shutdown_timeout: Duration,
    /// How long a claimed job is held before it is handed out again (default 2 min).
    #[serde(with = "publish::serde_duration")]
    #[schema(value_type = String)]
    pub lease: Duration,
    /// Longest pause between looks at the store (default 1 s).
    #[serde(with = "publish::serde_duration")]
    #[schema(value_type = String)]
    pub poll_interval: Duration,
    /// Fresh jobs that may go at once are stored already claimed and handed to the workers in
    /// memory, up to this many waiting; 0 stores every job pending and claims it back.
    pub handoff_buffer: usize,
    /// `FULL` SQLite commits (survive power loss); false gives `NORMAL` (survive crashes).
    pub sqlite_synchronous_full: bool,
    /// Retry policy for every target (a target's `delivery.retry` overrides it key by key).
    pub retry: RetryPolicy,
    /// Circuit breaker for every target.
    pub circuit_breaker: BreakerConfig,
    /// Done and superseded jobs are kept this long, for the job history (default 24 h).
    #[serde(with = "publish::serde_duration")]
    #[schema(value_type = String)]
    pub retain_finished: Duration,
    /// Dead letters are kept this long (default 7 d).
    #[serde(with = "publish::serde_duration")]
    #[schema(value_type = String)]
    pub retain_dead: Duration,
    /// How priority orders waiting jobs without starving the lower ones.
    pub aging: Aging,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            concurrency: 64,
            repeat_interval: Duration::from_secs(4 * 3600),
            shutdown_timeout: Duration::from_secs(10),
            lease: Duration::from_secs(120),
            poll_interval: Duration::from_secs(1),
            handoff_buffer: 8192,
            sqlite_synchronous_full: true,
            retry: RetryPolicy::default(),
            circuit_breaker: BreakerConfig::default(),
            retain_finished: Duration::from_secs(24 * 3600),
            retain_dead: Duration::from_secs(7 * 24 * 3600),
            aging: Aging::default(),
        }
    }
}

impl DeliverySettings {
    /// Refuses settings the engine cannot work with; the error names the key (relative to
    /// `delivery`) and says what is allowed.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.concurrency == 0 {
            return Err(ConfigError::new(
                "concurrency",
                "must be at least 1 (deliveries in flight at once)",
            ));
        }
        publish::positive(self.lease, "lease")?;
        publish::positive(self.poll_interval, "poll_interval")?;
        if self.retry.max_attempts == 0 {
            return Err(ConfigError::new(
                "retry.max_attempts",
                "must be at least 1 (attempts in all, including the first)",
            ));
        }
        if self.aging.high < self.aging.medium {
            return Err(ConfigError::new(
                "aging.high",
                "must be at least aging.medium (high-priority jobs go before medium ones)",
            ));
        }
        Ok(())
    }

    /// The engine's worker settings; what the file does not set keeps
    /// [`EngineConfig::default`].
    pub fn engine_config(&self) -> EngineConfig {
        EngineConfig {
            concurrency: self.concurrency,
            lease: self.lease,
            poll_interval: self.poll_interval,
            handoff_capacity: self.handoff_buffer,
            shutdown_timeout: self.shutdown_timeout,
            retain_finished: self.retain_finished,
            retain_dead: self.retain_dead,
            ..EngineConfig::default()
        }
    }

    /// The policy every target starts from (its own `delivery` block is laid over it).
    pub fn default_policy(&self) -> TargetPolicy {
        TargetPolicy {
            retry: self.retry.clone(),
            circuit_breaker: self.circuit_breaker.clone(),
            repeat_interval: self.repeat_interval,
            rate_limit: None,
            fallback: None,
        }
    }

    /// How the job store is opened; what the file does not set keeps
    /// [`StoreOptions::default`].
    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            synchronous_full: self.sqlite_synchronous_full,
            aging: self.aging,
            ..StoreOptions::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<DeliverySettings, String> {
        let mut de = serde_json::Deserializer::from_str(json);
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            format!("{path}: {}", e.into_inner())
        })
    }

    #[test]
    fn defaults_match_the_engine_store_and_policy_defaults() {
        let s = parse("{}").unwrap();
        assert_eq!(s, DeliverySettings::default());
        let (engine, default_engine) = (s.engine_config(), EngineConfig::default());
        assert_eq!(engine.concurrency, default_engine.concurrency);
        assert_eq!(engine.lease, default_engine.lease);
        assert_eq!(engine.poll_interval, default_engine.poll_interval);
        assert_eq!(engine.handoff_capacity, default_engine.handoff_capacity);
        assert_eq!(engine.shutdown_timeout, default_engine.shutdown_timeout);
        assert_eq!(engine.retain_finished, default_engine.retain_finished);
        assert_eq!(engine.retain_dead, default_engine.retain_dead);
        assert_eq!(s.default_policy(), TargetPolicy::default());
        assert!(s.store_options().synchronous_full);
        assert_eq!(s.validate(), Ok(()));
    }

    #[test]
    fn every_key_reaches_its_consumer() {
        let s = parse(
            r#"{"concurrency": 3, "repeat_interval": "1h", "shutdown_timeout": "2s",
                "lease": "30s", "poll_interval": "250ms", "handoff_buffer": 0,
                "sqlite_synchronous_full": false, "retry": {"max_attempts": 4},
                "circuit_breaker": {"enabled": false}, "retain_finished": "1h",
                "retain_dead": "2d"}"#,
        )
        .unwrap();
        let engine = s.engine_config();
        assert_eq!(engine.concurrency, 3);
        assert_eq!(engine.shutdown_timeout, Duration::from_secs(2));
        assert_eq!(engine.lease, Duration::from_secs(30));
        assert_eq!(engine.poll_interval, Duration::from_millis(250));
        assert_eq!(engine.handoff_capacity, 0);
        assert_eq!(engine.retain_finished, Duration::from_secs(3600));
        assert_eq!(engine.retain_dead, Duration::from_secs(2 * 86400));
        assert_eq!(engine.batch, EngineConfig::default().batch);
        let policy = s.default_policy();
        assert_eq!(policy.repeat_interval, Duration::from_secs(3600));
        assert_eq!(policy.retry.max_attempts, 4);
        assert_eq!(policy.retry.max_delay, RetryPolicy::default().max_delay);
        assert!(!policy.circuit_breaker.enabled);
        assert!(!s.store_options().synchronous_full);
    }

    #[test]
    fn unknown_and_malformed_keys_are_refused_by_name() {
        for (json, expected) in [
            (r#"{"concurency": 3}"#, "unknown field `concurency`"),
            (r#"{"lease": "soon"}"#, "lease: invalid duration"),
            (
                r#"{"retry": {"max_atempts": 3}}"#,
                "unknown field `max_atempts`",
            ),
        ] {
            let e = parse(json).unwrap_err();
            assert!(e.contains(expected), "{json}: {e}");
        }
    }

    #[test]
    fn nonsense_is_refused_by_name() {
        for (json, field) in [
            (r#"{"concurrency": 0}"#, "concurrency"),
            (r#"{"lease": "0s"}"#, "lease"),
            (r#"{"poll_interval": 0}"#, "poll_interval"),
            (r#"{"retry": {"max_attempts": 0}}"#, "retry.max_attempts"),
        ] {
            let e = parse(json).unwrap().validate().unwrap_err();
            assert_eq!(e.field, field, "{json}: {e}");
        }
    }
}
