// Invariants of Prometheus API alert parsing (`publish::parse_api_alerts`), shared by the fuzz
// target `api_alerts` and the corpus regression tests of `publish-webhook`.
//
// - Parsing any bytes returns `Ok` or `Err`, never panics.
// - A parsed alert has labels, the fingerprint Alertmanager derives from them, is resolved
//   exactly when it ended at or before `now`, and a firing alert carries no end.
// - Round trip through the v4 encoding gives the same alert back.

/// Checks the invariants for one input; panics (with the input) when one does not hold.
pub(crate) fn check(data: &[u8]) {
    use chrono::TimeZone as _;
    let now = chrono::Utc
        .with_ymd_and_hms(2026, 11, 23, 12, 0, 0)
        .single()
        .expect("valid time");
    let Ok(alerts) = publish::parse_api_alerts(data, now) else {
        return;
    };
    let context = publish::GroupContext::default();
    for alert in &alerts {
        assert!(!alert.labels.is_empty(), "alert without labels accepted");
        assert_eq!(
            alert.fingerprint,
            publish::Fingerprint::from_labels(&alert.labels),
            "fingerprint not derived from the labels"
        );
        match alert.status {
            publish::AlertStatus::Resolved => {
                assert!(alert.ends_at.is_some_and(|end| end <= now));
            }
            publish::AlertStatus::Firing => assert_eq!(alert.ends_at, None),
        }
        let body = publish_webhook::encode_alertmanager(alert, &context);
        let again = publish::parse_webhook(&body).unwrap_or_else(|e| {
            panic!(
                "our own encoding does not parse back ({e}): {}",
                String::from_utf8_lossy(&body)
            )
        });
        assert_eq!(again.alerts.len(), 1, "one alert per encoded group");
        assert_eq!(&again.alerts[0], alert, "alert changed in the round trip");
    }
}
