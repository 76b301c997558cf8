use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use serde::{Deserialize, Serialize};

use crate::BreakerConfig;

/// When to try again and when to give up. Limits apply by attempts *and* by age; whichever is
/// reached first sends the job to the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// First backoff delay.
    #[serde(with = "publish::serde_duration")]
    #[schema(value_type = String)]
    pub initial_delay: Duration,
    /// Largest backoff delay.
    #[serde(with = "publish::serde_duration")]
    #[schema(value_type = String)]
    pub max_delay: Duration,
    /// Attempts in all, including the first.
    pub max_attempts: u32,
    /// A job older than this is not retried again.
    #[serde(with = "publish::serde_duration")]
    #[schema(value_type = String)]
    pub max_age: Duration,
    /// The smallest wait honoured from a `Retry-After` hint.
    #[serde(with = "publish::serde_duration")]
    #[schema(value_type = String)]
    pub retry_after_floor: Duration,
    /// The largest wait honoured from a `Retry-After` hint.
    #[serde(with = "publish::serde_duration")]
    #[schema(value_type = String)]
    pub retry_after_cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(300),
            max_attempts: 20,
            max_age: Duration::from_secs(24 * 3600),
            retry_after_floor: Duration::from_secs(1),
            retry_after_cap: Duration::from_secs(600),
        }
    }
}

impl RetryPolicy {
    /// Delay before attempt `attempt + 1` after attempt `attempt` (1-based) failed: the
    /// target's `Retry-After` hint when it gave one, clamped to [floor, cap] (it said when to
    /// come back, so the exponential schedule does not apply); otherwise exponential (factor 2)
    /// with full jitter from backon, bounded by `max_delay`.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(hint) = retry_after {
            return self.retry_after_wait(hint);
        }
        ExponentialBuilder::default()
            .with_min_delay(self.initial_delay)
            .with_max_delay(self.max_delay)
            .with_factor(2.0)
            .with_jitter()
            .with_max_times(attempt as usize)
            .build()
            .nth(attempt.saturating_sub(1) as usize)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// A `Retry-After` hint clamped to [`retry_after_floor`, `retry_after_cap`].
    ///
    /// [`retry_after_floor`]: RetryPolicy::retry_after_floor
    /// [`retry_after_cap`]: RetryPolicy::retry_after_cap
    pub fn retry_after_wait(&self, hint: Duration) -> Duration {
        hint.clamp(
            self.retry_after_floor,
            self.retry_after_cap.max(self.retry_after_floor),
        )
    }

    /// Whether another attempt is allowed after `attempts` attempts on a job of age `age`.
    pub fn may_retry(&self, attempts: u32, age: Duration) -> bool {
        attempts < self.max_attempts && age < self.max_age
    }
}

/// A target's own proactive rate limit, on top of any vendor limit its publisher declares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Sustained deliveries per minute.
    pub per_minute: u32,
    /// Burst above the rate.
    #[serde(default = "one")]
    pub burst: u32,
}

fn one() -> u32 {
    1
}

/// How the engine treats one target: the `delivery` block of a target definition, over the
/// service-wide defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TargetPolicy {
    /// Backoff and give-up limits.
    pub retry: RetryPolicy,
    /// Circuit breaker.
    pub circuit_breaker: BreakerConfig,
    /// An unchanged firing alert is not sent again before this much time.
    #[serde(with = "publish::serde_duration")]
    pub repeat_interval: Duration,
    /// Extra proactive rate limit for this target.
    pub rate_limit: Option<RateLimitConfig>,
    /// A target that receives what this one dead-letters.
    pub fallback: Option<String>,
}

impl Default for TargetPolicy {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            circuit_breaker: BreakerConfig::default(),
            repeat_interval: Duration::from_secs(4 * 3600),
            rate_limit: None,
            fallback: None,
        }
    }
}

impl TargetPolicy {
    /// `overrides` (a target's `delivery` block) laid over `self`, key by key, at any depth.
    /// The error names the offending field path.
    pub fn overlay(
        &self,
        overrides: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, (String, String)> {
        fn merge(base: &mut serde_json::Value, over: &serde_json::Value) {
            match (base, over) {
                (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
                    for (k, v) in o {
                        merge(b.entry(k.clone()).or_insert(serde_json::Value::Null), v);
                    }
                }
                (b, o) => *b = o.clone(),
            }
        }
        let mut base = serde_json::to_value(self).map_err(|e| (String::new(), e.to_string()))?;
        merge(&mut base, &serde_json::Value::Object(overrides.clone()));
        serde_path_to_error::deserialize(base)
            .map_err(|e| (e.path().to_string(), e.into_inner().to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_bounded() {
        let p = RetryPolicy {
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            ..Default::default()
        };
        for attempt in 1..=10u32 {
            let d = p.delay(attempt, None);
            let base =
                Duration::from_millis(100 * 2u64.pow(attempt - 1)).min(Duration::from_secs(2));
            // backon's jitter adds up to one more base delay
            assert!(
                d >= base.min(p.max_delay) && d <= p.max_delay,
                "attempt {attempt}: {d:?} base {base:?}"
            );
        }
    }

    #[test]
    fn retry_after_is_clamped() {
        let p = RetryPolicy {
            initial_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(20),
            retry_after_floor: Duration::from_secs(1),
            retry_after_cap: Duration::from_secs(60),
            ..Default::default()
        };
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(5))),
            Duration::from_secs(5)
        );
        assert_eq!(p.delay(1, Some(Duration::ZERO)), Duration::from_secs(1));
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(3600))),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn retry_after_replaces_the_exponential_schedule() {
        // By the 8th attempt the schedule is minutes; Slack asking for one second means one.
        let p = RetryPolicy {
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(300),
            ..Default::default()
        };
        for attempt in [1, 8, 20] {
            assert_eq!(
                p.delay(attempt, Some(Duration::from_secs(1))),
                Duration::from_secs(1),
                "attempt {attempt}"
            );
        }
        assert!(p.delay(8, None) >= Duration::from_secs(128));
    }

    #[test]
    fn overlay_keeps_unset_fields() {
        let base = TargetPolicy::default();
        let over: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(r#"{"retry":{"max_attempts":3},"circuit_breaker":{"open_for":"5s"},"fallback":"pager"}"#).unwrap();
        let p = base.overlay(&over).unwrap();
        assert_eq!(p.retry.max_attempts, 3);
        assert_eq!(p.retry.initial_delay, base.retry.initial_delay);
        assert_eq!(p.circuit_breaker.open_for, Duration::from_secs(5));
        assert_eq!(p.circuit_breaker.failure_threshold, 5);
        assert_eq!(p.fallback.as_deref(), Some("pager"));
        let bad: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(r#"{"retry":{"max_atempts":3}}"#).unwrap();
        let (path, msg) = base.overlay(&bad).unwrap_err();
        assert!(
            path.starts_with("retry") && msg.contains("max_atempts"),
            "{path}: {msg}"
        );
    }

    #[test]
    fn limits() {
        let p = RetryPolicy {
            max_attempts: 3,
            max_age: Duration::from_secs(60),
            ..Default::default()
        };
        assert!(p.may_retry(2, Duration::from_secs(1)));
        assert!(!p.may_retry(3, Duration::from_secs(1)));
        assert!(!p.may_retry(1, Duration::from_secs(61)));
    }
}
