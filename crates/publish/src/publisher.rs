use std::{fmt, time::Duration};

use async_trait::async_trait;

use crate::{Alert, GroupContext, PublishOutcome};

/// One alert to deliver to one target.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Stable id of this delivery; the same on every retry, so it serves as idempotency key.
    pub id: String,
    /// The alert.
    pub alert: Alert,
    /// The group it arrived in.
    pub context: GroupContext,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// State the publisher returned for this (target, alert) before, if any.
    pub vendor_state: Option<serde_json::Value>,
    /// What to do: notify (the alert's status), or acknowledge the alert at the target.
    pub action: DeliveryAction,
}

/// What a delivery asks of its target.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryAction {
    /// Send the alert in its status (firing or resolved).
    #[default]
    Notify,
    /// Acknowledge the alert the target opened for it (an earlier notification).
    Acknowledge,
}

impl DeliveryAction {
    /// Whether this is the default, [`DeliveryAction::Notify`].
    pub fn is_notify(&self) -> bool {
        *self == DeliveryAction::Notify
    }
}

/// Result of a side-effect-free health probe.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeResult {
    /// Whether the target looks reachable and usable.
    pub ok: bool,
    /// How long the probe took.
    pub latency: Duration,
    /// What was found, free of secrets.
    pub detail: String,
}

/// A proactive rate limit a publisher asks the delivery engine to enforce before each call,
/// so a storm waits in the queue instead of collecting 429s (and without holding a worker).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RateLimit {
    /// Bucket identity: every delivery with the same key shares one bucket (e.g. all targets
    /// using one PagerDuty routing key). Must not contain a secret: hash it
    /// ([`RateLimit::secret_key`]).
    pub key: String,
    /// Sustained rate.
    pub per_minute: u32,
    /// Short bursts above the rate.
    pub burst: u32,
}

impl RateLimit {
    /// A bucket key for a secret (routing key, token): `prefix:` and a non-reversible digest.
    pub fn secret_key(prefix: &str, secret: &str) -> String {
        // FNV-1a 64: stable across processes and releases, and the secret cannot be read back.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in secret.as_bytes() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{prefix}:{h:016x}")
    }
}

/// What a publisher may use while it is built from a [`crate::Target`]: service-wide settings
/// that a target definition does not carry. Every `publish-*` crate's entry point is
/// `build(&Target, &BuildContext)`.
///
/// The generic webhook publisher guards every request with [`BuildContext::outbound`]; the
/// vendor publishers (PagerDuty, Slack, Rootly) talk to their vendor's host and do not apply it.
/// `BuildContext::default()` is the default outbound policy with the system resolver and
/// Alertmanager's default templates only.
#[derive(Debug, Clone)]
pub struct BuildContext {
    /// The outbound guard: which addresses a target-supplied URL may reach, and the resolver
    /// host names are checked with (the service-wide `outbound:` policy).
    pub outbound: crate::outbound::Outbound,
    /// The shared template definitions (Alertmanager's `default.tmpl` and the service's
    /// `templates:` files) that target templates may call.
    pub templates: template::Library,
}

impl Default for BuildContext {
    fn default() -> Self {
        Self {
            outbound: crate::outbound::Outbound::default(),
            templates: template::Library::alertmanager_defaults(),
        }
    }
}

/// A publisher delivers alerts to one target and classifies the result.
///
/// Implementations never retry on their own and never sleep for rate limits they did not
/// promise to enforce; they say what happened.
#[async_trait]
pub trait Publisher: Send + Sync + fmt::Debug {
    /// Delivers one alert.
    async fn publish(&self, delivery: &Delivery) -> PublishOutcome;

    /// Acknowledges the alert an earlier delivery opened at the target. Target types without
    /// acknowledgement refuse it (a permanent failure).
    async fn acknowledge(&self, _delivery: &Delivery) -> PublishOutcome {
        Err(crate::PublishError::permanent(
            crate::ErrorKind::Invalid,
            "this target type has no acknowledge",
        ))
    }

    /// Checks the target without creating anything there.
    async fn probe(&self) -> ProbeResult;

    /// Whether [`Publisher::probe`] exercises the delivery path itself (an authenticated call
    /// to the API deliveries use), so that its success may stand for a delivery's when the
    /// target is idle. A connect or TLS check does not.
    fn probe_exercises_delivery_path(&self) -> bool {
        false
    }

    /// The rate limit that applies to this delivery, if the vendor has one.
    fn rate_limit(&self, _delivery: &Delivery) -> Option<RateLimit> {
        None
    }

    /// Every rate limit this delivery counts against, one per call it will make that a vendor
    /// limits (a Slack resolve: `chat.update` against the method's limit, its thread reply
    /// against the channel's), so each call is charged to its own bucket. The engine takes a
    /// slot in each before the delivery starts. Default: [`Publisher::rate_limit`].
    fn rate_limits(&self, delivery: &Delivery) -> Vec<RateLimit> {
        self.rate_limit(delivery).into_iter().collect()
    }
}
