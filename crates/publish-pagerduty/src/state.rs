//! What we remember per (target, fingerprint): the dedup key PagerDuty returned and what we last
//! did with that PagerDuty alert.
//!
//! The delivery engine stores it durably (it is `Delivered::vendor_state`) and hands it back as
//! `Delivery::vendor_state` for the next delivery of the same alert, across restarts: a resolve
//! then uses the dedup key the trigger was accepted under.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Action, encode::MAX_DEDUP_KEY_CHARS};

/// What we last did with the PagerDuty alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// Triggered.
    Open,
    /// Acknowledged.
    Acknowledged,
    /// Resolved.
    Resolved,
}

impl From<Action> for AlertState {
    fn from(action: Action) -> Self {
        match action {
            Action::Trigger => AlertState::Open,
            Action::Acknowledge => AlertState::Acknowledged,
            Action::Resolve => AlertState::Resolved,
        }
    }
}

/// The vendor state of one alert at one PagerDuty target:
/// `{"dedup_key": "...", "status": "open"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PagerDutyState {
    /// The dedup key PagerDuty accepted the event under.
    pub dedup_key: String,
    /// What the last accepted event did.
    pub status: AlertState,
}

impl PagerDutyState {
    /// The state after PagerDuty accepted an alert event with `action` under `dedup_key`.
    pub fn after(action: Action, dedup_key: impl Into<String>) -> Self {
        Self {
            dedup_key: dedup_key.into(),
            status: action.into(),
        }
    }

    /// Reads the state a delivery carries; `None` when there is none or it is not ours.
    pub fn from_delivery(delivery: &publish::Delivery) -> Option<Self> {
        delivery
            .vendor_state
            .as_ref()
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    /// The state as JSON for `Delivered::vendor_state`.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// The dedup key kept from an earlier delivery of this alert (`{"dedup_key": ...}`, with or
/// without a status), if it is usable.
pub(crate) fn stored_dedup_key(vendor_state: Option<&Value>) -> Option<&str> {
    vendor_state
        .and_then(|v| v.get("dedup_key"))
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty() && k.chars().count() <= MAX_DEDUP_KEY_CHARS)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_state_is_the_dedup_key_and_what_was_done() {
        let state = PagerDutyState::after(Action::Trigger, "k1");
        assert_eq!(
            state.to_json(),
            json!({"dedup_key": "k1", "status": "open"})
        );
        assert_eq!(
            PagerDutyState::after(Action::Resolve, "k1").to_json(),
            json!({"dedup_key": "k1", "status": "resolved"})
        );
        assert_eq!(stored_dedup_key(Some(&state.to_json())), Some("k1"));
        assert_eq!(
            stored_dedup_key(Some(&json!({"dedup_key": "k2"}))),
            Some("k2")
        );
        assert_eq!(stored_dedup_key(Some(&json!({"dedup_key": ""}))), None);
        let long = "k".repeat(MAX_DEDUP_KEY_CHARS + 1);
        assert_eq!(stored_dedup_key(Some(&json!({ "dedup_key": long }))), None);
        assert_eq!(stored_dedup_key(None), None);
    }
}
