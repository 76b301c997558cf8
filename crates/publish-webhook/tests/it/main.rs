//! Integration tests of the webhook publisher against real sockets.

mod metrics;
mod outbound;
mod signing;
mod tls;

use publish::{
    BuildContext, Delivery, Target,
    outbound::{Outbound, OutboundPolicy},
};

/// A guard that allows loopback (the test sinks listen on 127.0.0.1).
pub(crate) fn loopback() -> Outbound {
    Outbound::new(OutboundPolicy::allowing(&["127.0.0.0/8"]).unwrap())
}

/// What the publisher is built with: `outbound` as the guard.
pub(crate) fn ctx(outbound: &Outbound) -> BuildContext {
    BuildContext {
        outbound: outbound.clone(),
        ..BuildContext::default()
    }
}

/// A guard that allows only `networks`.
pub(crate) fn allowing(networks: &[&str]) -> Outbound {
    Outbound::new(OutboundPolicy::allowing(networks).unwrap())
}

/// A `type: webhook` target with these options.
pub(crate) fn target(url: &str, options: serde_json::Value) -> Target {
    Target {
        templates: Default::default(),
        name: "hook".parse().unwrap(),
        kind: publish::TargetType::Webhook,
        url: url.to_owned(),
        enabled: true,
        format: publish::Format::Webhook,
        headers: Default::default(),
        options: serde_json::from_value(options).unwrap(),
    }
}

/// One firing alert.
pub(crate) fn delivery() -> Delivery {
    let labels: publish::Labels = [("alertname".to_owned(), "Signed".to_owned())]
        .into_iter()
        .collect();
    Delivery {
        id: "0123456789abcdef0123456789abcdef".into(),
        alert: publish::Alert {
            status: publish::AlertStatus::Firing,
            fingerprint: publish::Fingerprint::from_labels(&labels),
            labels,
            annotations: Default::default(),
            starts_at: chrono::Utc::now(),
            ends_at: None,
            generator_url: String::new(),
        },
        context: Default::default(),
        attempt: 1,
        vendor_state: None,
        action: Default::default(),
    }
}
