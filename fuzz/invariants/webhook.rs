// Invariants of Alertmanager webhook parsing (`publish::parse_webhook`), shared by the fuzz
// target `webhook` and the corpus regression tests of `publish-webhook`.
//
// - Parsing any bytes returns `Ok` or `Err`, never panics.
// - Every parsed alert has labels and a 16-hex-digit fingerprint.
// - Round trip: each alert, encoded as the v4 payload of a group of one
//   (`publish_webhook::encode_alertmanager`), parses back to the same alert and group context.

/// Checks the invariants for one input; panics (with the input) when one does not hold.
pub(crate) fn check(data: &[u8]) {
    let Ok(message) = publish::parse_webhook(data) else {
        return;
    };
    for alert in &message.alerts {
        assert!(!alert.labels.is_empty(), "alert without labels accepted");
        let body = publish_webhook::encode_alertmanager(alert, &message.context);
        let again = publish::parse_webhook(&body).unwrap_or_else(|e| {
            panic!(
                "our own encoding does not parse back ({e}): {}",
                String::from_utf8_lossy(&body)
            )
        });
        assert_eq!(again.alerts.len(), 1, "one alert per encoded group");
        assert_eq!(&again.alerts[0], alert, "alert changed in the round trip");
        let (a, b) = (&again.context, &message.context);
        assert_eq!(a.receiver, b.receiver);
        assert_eq!(a.group_key, b.group_key);
        assert_eq!(a.group_labels, b.group_labels);
        assert_eq!(a.external_url, b.external_url);
        assert_eq!(a.status, alert.status);
        assert_eq!(a.common_labels, alert.labels);
    }
}
