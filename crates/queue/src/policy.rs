use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use serde::Deserialize;

/// When to try again and when to give up. Limits apply by attempts *and* by age; whichever is
/// reached first sends the job to the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// First backoff delay.
    #[serde(with = "publish::serde_duration")]
    pub initial_delay: Duration,
    /// Largest backoff delay.
    #[serde(with = "publish::serde_duration")]
    pub max_delay: Duration,
    /// Attempts in all, including the first.
    pub max_attempts: u32,
    /// A job older than this is not retried again.
    #[serde(with = "publish::serde_duration")]
    pub max_age: Duration,
    /// The smallest wait honoured from a `Retry-After` hint.
    #[serde(with = "publish::serde_duration")]
    pub retry_after_floor: Duration,
    /// The largest wait honoured from a `Retry-After` hint.
    #[serde(with = "publish::serde_duration")]
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
    /// Delay before attempt `attempt + 1` after attempt `attempt` (1-based) failed:
    /// exponential (factor 2) with full jitter from backon, bounded by `max_delay`; a
    /// `Retry-After` hint, clamped to [floor, cap], wins when it is longer.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.initial_delay)
            .with_max_delay(self.max_delay)
            .with_factor(2.0)
            .with_jitter()
            .with_max_times(attempt as usize)
            .build()
            .nth(attempt.saturating_sub(1) as usize)
            .unwrap_or(self.max_delay)
            .min(self.max_delay);
        match retry_after {
            Some(hint) => backoff.max(hint.clamp(self.retry_after_floor, self.retry_after_cap.max(self.retry_after_floor))),
            None => backoff,
        }
    }

    /// Whether another attempt is allowed after `attempts` attempts on a job of age `age`.
    pub fn may_retry(&self, attempts: u32, age: Duration) -> bool {
        attempts < self.max_attempts && age < self.max_age
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
            let base = Duration::from_millis(100 * 2u64.pow(attempt - 1)).min(Duration::from_secs(2));
            // backon's jitter adds up to one more base delay
            assert!(d >= base.min(p.max_delay) && d <= p.max_delay, "attempt {attempt}: {d:?} base {base:?}");
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
        assert_eq!(p.delay(1, Some(Duration::from_secs(5))), Duration::from_secs(5));
        assert_eq!(p.delay(1, Some(Duration::ZERO)), Duration::from_secs(1));
        assert_eq!(p.delay(1, Some(Duration::from_secs(3600))), Duration::from_secs(60));
    }

    #[test]
    fn limits() {
        let p = RetryPolicy { max_attempts: 3, max_age: Duration::from_secs(60), ..Default::default() };
        assert!(p.may_retry(2, Duration::from_secs(1)));
        assert!(!p.may_retry(3, Duration::from_secs(1)));
        assert!(!p.may_retry(1, Duration::from_secs(61)));
    }
}
