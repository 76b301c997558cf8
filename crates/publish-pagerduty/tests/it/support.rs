//! Shared helpers: fixtures, targets, deliveries and a metrics recorder.

use std::{
    collections::BTreeMap,
    path::Path,
    sync::{Mutex, MutexGuard, OnceLock},
};

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use publish::{
    Alert, AlertStatus, Delivery, Format, GroupContext, Labels, Target, TargetType, WebhookMessage,
};
use publish_pagerduty::PagerDutyPublisher;
use serde_json::Value;

/// A routing key for tests (32 characters).
pub(crate) const KEY: &str = "0123456789abcdef0123456789abcdef";

/// A parsed Alertmanager fixture from `testdata/alertmanager`.
pub(crate) fn fixture(name: &str) -> WebhookMessage {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/alertmanager")
        .join(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let v: Value = serde_json::from_str(&text).expect("fixture is JSON");
    let body = serde_json::to_vec(&v["body"]).expect("encode body");
    publish::parse_webhook(&body).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The raw JSON of a fixture (for the Alertmanager PagerDuty captures).
pub(crate) fn fixture_json(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/alertmanager")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("read fixture"))
        .expect("fixture is JSON")
}

/// One delivery per alert of a fixture.
pub(crate) fn deliveries(name: &str) -> Vec<Delivery> {
    let m = fixture(name);
    m.alerts
        .into_iter()
        .map(|alert| delivery(alert, m.context.clone(), None))
        .collect()
}

/// A first-attempt delivery.
pub(crate) fn delivery(
    alert: Alert,
    context: GroupContext,
    vendor_state: Option<Value>,
) -> Delivery {
    Delivery {
        id: format!("d-{}-{}", alert.fingerprint, alert.status),
        alert,
        context,
        attempt: 1,
        vendor_state,
        action: Default::default(),
    }
}

/// A `type: pagerduty` target.
pub(crate) fn target(name: &str, url: &str, options: Value) -> Target {
    let mut options = options.as_object().cloned().unwrap_or_default();
    options
        .entry("routing_key")
        .or_insert_with(|| Value::String(KEY.to_owned()));
    Target {
        templates: Default::default(),
        name: name.parse().expect("valid target name"),
        kind: TargetType::Pagerduty,
        url: url.to_owned(),
        enabled: true,
        format: Format::Pagerduty,
        headers: Default::default(),
        options,
    }
}

/// A publisher for `target(name, url, options)`.
pub(crate) fn publisher(name: &str, url: &str, options: Value) -> PagerDutyPublisher {
    // the recorder must be in place before the publisher records anything
    recorder();
    publish_pagerduty::build(
        &target(name, url, options),
        &publish::BuildContext::default(),
    )
    .expect("valid target")
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A firing alert with these labels and annotations.
pub(crate) fn alert(label_pairs: &[(&str, &str)], annotation_pairs: &[(&str, &str)]) -> Alert {
    let labels = labels(label_pairs);
    Alert {
        status: AlertStatus::Firing,
        fingerprint: publish::Fingerprint::from_labels(&labels),
        labels,
        annotations: self::labels(annotation_pairs),
        starts_at: publish::time::parse("2026-11-23T18:17:06.300056641Z")
            .ok()
            .flatten()
            .expect("time"),
        ends_at: None,
        generator_url: "http://prometheus.example:9090/graph?g0.expr=up".to_owned(),
    }
}

/// The same alert, resolved.
pub(crate) fn resolved(mut alert: Alert) -> Alert {
    alert.status = AlertStatus::Resolved;
    alert.ends_at = publish::time::parse("2026-11-23T18:27:06Z").ok().flatten();
    alert
}

/// A group context as Alertmanager sends it.
pub(crate) fn context(status: AlertStatus) -> GroupContext {
    GroupContext {
        receiver: "pagerduty".to_owned(),
        status,
        group_labels: labels(&[("alertname", "HighErrorRate")]),
        external_url: "http://alertmanager.example:9093".to_owned(),
        group_key: "{}:{alertname=\"HighErrorRate\"}".to_owned(),
        ..Default::default()
    }
}

/// The process-wide debugging recorder (installed on first use).
pub(crate) fn recorder() -> &'static Snapshotter {
    static SNAPSHOTTER: OnceLock<Snapshotter> = OnceLock::new();
    SNAPSHOTTER.get_or_init(|| {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        recorder
            .install()
            .expect("no other recorder in this test binary");
        snapshotter
    })
}

/// Counter totals by (name, labels).
type Totals = BTreeMap<(String, Vec<(String, String)>), u64>;

/// Every counter series seen so far, `name{k=v,...}` → total. A debugging snapshot consumes
/// the counters it reads, so every read goes through here and adds up.
fn counters() -> MutexGuard<'static, Totals> {
    static TOTALS: OnceLock<Mutex<Totals>> = OnceLock::new();
    let mut totals = TOTALS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    for (key, _, _, value) in recorder().snapshot().into_vec() {
        let labels = key
            .key()
            .labels()
            .map(|l| (l.key().to_owned(), l.value().to_owned()))
            .collect();
        let n = match value {
            DebugValue::Counter(n) => n,
            _ => 0,
        };
        *totals
            .entry((key.key().name().to_owned(), labels))
            .or_default() += n;
    }
    totals
}

/// The sum of counter `name` over series whose labels include all of `labels`.
pub(crate) fn counter(name: &str, labels: &[(&str, &str)]) -> u64 {
    counters()
        .iter()
        .filter(|((n, l), _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .map(|(_, n)| *n)
        .sum()
}

/// Every metric name and label value recorded so far, as text (to search for secrets).
pub(crate) fn all_metric_text() -> String {
    counters()
        .keys()
        .map(|(name, labels)| {
            let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{name}{{{}}}", labels.join(","))
        })
        .collect::<Vec<_>>()
        .join("\n")
}
