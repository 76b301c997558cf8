//! Per-target circuit breakers. An open circuit means "wait", never "drop": its jobs are
//! deferred until the circuit half-opens, then one probe decides.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};

/// When a target's circuit opens and closes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    /// Off: failures never open the circuit.
    pub enabled: bool,
    /// Consecutive retryable failures that open the circuit.
    pub failure_threshold: u32,
    /// How long the circuit stays open before one probe delivery is let through.
    #[serde(with = "publish::serde_duration")]
    #[schema(value_type = String)]
    pub open_for: Duration,
    /// Consecutive successes in half-open that close the circuit.
    pub success_threshold: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            failure_threshold: 5,
            open_for: Duration::from_secs(30),
            success_threshold: 2,
        }
    }
}

/// The state of one circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Deliveries flow.
    Closed,
    /// One probe at a time.
    HalfOpen,
    /// Deliveries wait.
    Open,
}

impl BreakerState {
    /// Gauge value: 0 closed, 1 half-open, 2 open.
    pub fn gauge(self) -> f64 {
        match self {
            BreakerState::Closed => 0.0,
            BreakerState::HalfOpen => 1.0,
            BreakerState::Open => 2.0,
        }
    }
}

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool, successes: u32 },
}

/// What the breaker says about a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Go ahead.
    Go,
    /// Wait this long.
    Wait(Duration),
}

/// How a delivery went, as the breaker counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Delivered.
    Success,
    /// A retryable failure: the target is in trouble.
    Failure,
    /// A permanent failure: about this alert, not the target's health.
    Neutral,
}

/// A transition worth a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    Tripped,
    Recovered,
}

/// Circuits by target name.
#[derive(Debug, Default)]
pub(crate) struct Breakers {
    circuits: Mutex<HashMap<String, State>>,
}

impl Breakers {
    pub(crate) fn admit(&self, target: &str, config: &BreakerConfig, now: Instant) -> Admit {
        if !config.enabled {
            return Admit::Go;
        }
        let mut circuits = self
            .circuits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let state = circuits
            .entry(target.to_owned())
            .or_insert(State::Closed { failures: 0 });
        match state {
            State::Closed { .. } => Admit::Go,
            State::Open { until } if now < *until => Admit::Wait(*until - now),
            State::Open { .. } => {
                *state = State::HalfOpen {
                    probing: true,
                    successes: 0,
                };
                Admit::Go
            }
            State::HalfOpen { probing: true, .. } => {
                Admit::Wait(Duration::from_millis(500).min(config.open_for))
            }
            State::HalfOpen { probing, .. } => {
                *probing = true;
                Admit::Go
            }
        }
    }

    pub(crate) fn record(
        &self,
        target: &str,
        config: &BreakerConfig,
        outcome: Outcome,
        now: Instant,
    ) -> Option<Transition> {
        if !config.enabled {
            return None;
        }
        let mut circuits = self
            .circuits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let state = circuits
            .entry(target.to_owned())
            .or_insert(State::Closed { failures: 0 });
        match (&mut *state, outcome) {
            (State::Closed { failures }, Outcome::Failure) => {
                *failures += 1;
                if *failures >= config.failure_threshold.max(1) {
                    *state = State::Open {
                        until: now + config.open_for,
                    };
                    return Some(Transition::Tripped);
                }
            }
            (State::Closed { failures }, Outcome::Success) => *failures = 0,
            (State::HalfOpen { .. }, Outcome::Failure) => {
                *state = State::Open {
                    until: now + config.open_for,
                };
                return Some(Transition::Tripped);
            }
            (State::HalfOpen { probing, successes }, Outcome::Success) => {
                *successes += 1;
                *probing = false;
                if *successes >= config.success_threshold.max(1) {
                    *state = State::Closed { failures: 0 };
                    return Some(Transition::Recovered);
                }
            }
            (State::HalfOpen { probing, .. }, Outcome::Neutral) => *probing = false,
            // Deliveries that started before the circuit opened may finish while it is open.
            (State::Open { .. }, _) | (State::Closed { .. }, Outcome::Neutral) => {}
        }
        None
    }

    pub(crate) fn state(&self, target: &str) -> BreakerState {
        let circuits = self
            .circuits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match circuits.get(target) {
            None | Some(State::Closed { .. }) => BreakerState::Closed,
            Some(State::Open { .. }) => BreakerState::Open,
            Some(State::HalfOpen { .. }) => BreakerState::HalfOpen,
        }
    }

    pub(crate) fn all(&self) -> Vec<(String, BreakerState)> {
        let names: Vec<String> = {
            let circuits = self
                .circuits
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            circuits.keys().cloned().collect()
        };
        names
            .into_iter()
            .map(|n| {
                let s = self.state(&n);
                (n, s)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_cycle() {
        let b = Breakers::default();
        let c = BreakerConfig {
            failure_threshold: 3,
            open_for: Duration::from_secs(30),
            success_threshold: 2,
            enabled: true,
        };
        let t0 = Instant::now();
        for _ in 0..2 {
            assert_eq!(b.admit("t", &c, t0), Admit::Go);
            assert_eq!(b.record("t", &c, Outcome::Failure, t0), None);
        }
        assert_eq!(
            b.record("t", &c, Outcome::Neutral, t0),
            None,
            "a permanent failure does not count"
        );
        assert_eq!(
            b.record("t", &c, Outcome::Failure, t0),
            Some(Transition::Tripped)
        );
        assert_eq!(b.state("t"), BreakerState::Open);
        assert_eq!(
            b.admit("t", &c, t0 + Duration::from_secs(10)),
            Admit::Wait(Duration::from_secs(20))
        );
        assert_eq!(
            b.admit("other", &c, t0),
            Admit::Go,
            "other targets are unaffected"
        );
        let t1 = t0 + Duration::from_secs(31);
        assert_eq!(b.admit("t", &c, t1), Admit::Go, "one probe");
        assert_eq!(b.state("t"), BreakerState::HalfOpen);
        assert!(
            matches!(b.admit("t", &c, t1), Admit::Wait(_)),
            "only one probe at a time"
        );
        assert_eq!(
            b.record("t", &c, Outcome::Failure, t1),
            Some(Transition::Tripped),
            "failed probe reopens"
        );
        let t2 = t1 + Duration::from_secs(31);
        assert_eq!(b.admit("t", &c, t2), Admit::Go);
        assert_eq!(b.record("t", &c, Outcome::Success, t2), None);
        assert_eq!(
            b.admit("t", &c, t2),
            Admit::Go,
            "next probe after a success"
        );
        assert_eq!(
            b.record("t", &c, Outcome::Success, t2),
            Some(Transition::Recovered)
        );
        assert_eq!(b.state("t"), BreakerState::Closed);
        // a success resets the count
        b.record("t", &c, Outcome::Failure, t2);
        b.record("t", &c, Outcome::Failure, t2);
        b.record("t", &c, Outcome::Success, t2);
        b.record("t", &c, Outcome::Failure, t2);
        assert_eq!(b.state("t"), BreakerState::Closed);
    }

    #[test]
    fn disabled_never_opens() {
        let b = Breakers::default();
        let c = BreakerConfig {
            enabled: false,
            failure_threshold: 1,
            ..Default::default()
        };
        for _ in 0..10 {
            assert_eq!(b.record("t", &c, Outcome::Failure, Instant::now()), None);
            assert_eq!(b.admit("t", &c, Instant::now()), Admit::Go);
        }
    }
}
