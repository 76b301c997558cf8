//! The outbound guard on real requests: names resolved to refused addresses, literal IPs,
//! redirects, https-only and proxies.

use std::{net::IpAddr, sync::Arc, time::Duration};

use publish::{
    ErrorKind, PublishError, Publisher,
    outbound::{Outbound, OutboundPolicy, StaticResolver},
};
use serde_json::json;
use testkit::{Behaviour, WebhookSink};

use crate::{allowing, delivery, loopback, target};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Asserts a permanent refusal whose reason contains `reason`.
fn assert_refused(outcome: Result<publish::Delivered, PublishError>, reason: &str) {
    match outcome {
        Err(PublishError::Permanent {
            kind: ErrorKind::Config,
            reason: got,
            status_code: None,
        }) => assert!(got.contains(reason), "{got:?} lacks {reason:?}"),
        other => panic!("expected a permanent refusal ({reason}), got {other:?}"),
    }
}

#[tokio::test]
async fn a_name_resolving_to_a_private_address_is_refused_and_nothing_is_sent() {
    let sink = WebhookSink::start().await;
    let port = sink.addr().port();
    let resolver = Arc::new(
        StaticResolver::new()
            .with("internal.test", &[ip("10.0.0.5")])
            .with("sink.test", &[ip("127.0.0.1")]),
    );
    let guard = Outbound::default().with_resolver(resolver.clone());

    let p = publish_webhook::build(
        &target(&format!("http://internal.test:{port}/hook"), json!({})),
        &crate::ctx(&guard),
    )
    .expect("names pass at load; they are checked when resolved");
    assert_refused(
        p.publish(&delivery()).await,
        "refused: address 10.0.0.5 of internal.test is not allowed (private)",
    );

    // The same name mapped to the sink: refused under the default policy ...
    let url = format!("http://sink.test:{port}/hook");
    let p = publish_webhook::build(&target(&url, json!({})), &crate::ctx(&guard)).unwrap();
    assert_refused(
        p.publish(&delivery()).await,
        "address 127.0.0.1 of sink.test is not allowed (loopback)",
    );
    assert!(!p.probe().await.ok, "the probe is guarded too");
    assert_eq!(sink.requests().len(), 0, "a refused delivery is never sent");

    // ... and delivered once loopback is allowed: the resolver really is the one used.
    let p = publish_webhook::build(
        &target(&url, json!({})),
        &crate::ctx(&loopback().with_resolver(resolver)),
    )
    .unwrap();
    p.publish(&delivery()).await.unwrap();
    let got = sink.wait_for_delivered(1, Duration::from_secs(5)).await;
    assert_eq!(
        got[0].header("host"),
        Some(format!("sink.test:{port}").as_str())
    );
}

#[tokio::test]
async fn localhost_is_refused_unless_loopback_is_allowed() {
    let sink = WebhookSink::start().await;
    let url = format!("http://localhost:{}/hook", sink.addr().port());
    let p = publish_webhook::build(&target(&url, json!({})), &publish::BuildContext::default())
        .unwrap();
    assert_refused(
        p.publish(&delivery()).await,
        "of localhost is not allowed (loopback)",
    );
    assert_eq!(sink.requests().len(), 0);

    let p = publish_webhook::build(
        &target(&url, json!({})),
        &crate::ctx(&allowing(&["127.0.0.0/8"])),
    )
    .unwrap();
    p.publish(&delivery()).await.unwrap();
    sink.wait_for_delivered(1, Duration::from_secs(5)).await;
}

#[test]
fn literal_addresses_are_checked_at_load() {
    for (url, reason) in [
        (
            "http://[::ffff:127.0.0.2]:9/hook",
            "address ::ffff:127.0.0.2 of [::ffff:127.0.0.2] is not allowed (loopback, embeds IPv4 127.0.0.2)",
        ),
        (
            "http://[::127.0.0.1]:9/hook",
            "address ::7f00:1 of [::7f00:1] is not allowed (loopback, embeds IPv4 127.0.0.1)",
        ),
        (
            "http://169.254.169.254/latest/meta-data/",
            "address 169.254.169.254 of 169.254.169.254 is not allowed (cloud metadata)",
        ),
        ("http://[fd00:ec2::254]/", "is not allowed (cloud metadata)"),
        ("http://10.0.0.5:8080/", "is not allowed (private)"),
        ("http://127.0.0.2:8080/", "is not allowed (loopback)"),
    ] {
        // Loopback 127.0.0.1 is allowed; none of these is.
        let e = publish_webhook::build(
            &target(url, json!({})),
            &crate::ctx(&allowing(&["127.0.0.1/32"])),
        )
        .unwrap_err();
        assert_eq!(e.field, "url", "{url}");
        assert!(e.message.contains(reason), "{url}: {}", e.message);
    }
    // 127.0.0.1 is allowed, and so is its IPv4-mapped form (matched as 127.0.0.1).
    for url in ["http://127.0.0.1:9/", "http://[::ffff:127.0.0.1]:9/hook"] {
        assert!(
            publish_webhook::build(
                &target(url, json!({})),
                &crate::ctx(&allowing(&["127.0.0.1/32"]))
            )
            .is_ok(),
            "{url}"
        );
    }
}

#[test]
fn https_only_rejects_http_urls_at_load() {
    let guard = Outbound::new(OutboundPolicy {
        https_only: true,
        allow: Vec::new(),
    });
    let e = publish_webhook::build(
        &target("http://example.com/hook", json!({})),
        &crate::ctx(&guard),
    )
    .unwrap_err();
    assert_eq!(e.field, "url");
    assert!(e.message.contains("https_only"), "{}", e.message);
    assert!(
        publish_webhook::build(
            &target("https://example.com/hook", json!({})),
            &crate::ctx(&guard)
        )
        .is_ok()
    );
}

/// Sink `first` (127.0.0.1, allowed) answers 307 to `second` on 127.0.0.2.
async fn redirecting_pair(location_host: &str) -> (WebhookSink, WebhookSink) {
    let first = WebhookSink::start().await;
    let second = WebhookSink::start_on("127.0.0.2:0".parse().unwrap()).await;
    first.set_default(Behaviour::Respond {
        status: 307,
        headers: vec![(
            "location".to_owned(),
            format!("http://{location_host}:{}/moved", second.addr().port()),
        )],
        body: String::new(),
    });
    (first, second)
}

#[tokio::test]
async fn redirects_are_not_followed_by_default() {
    let (first, second) = redirecting_pair("127.0.0.2").await;
    let p = publish_webhook::build(
        &target(&first.url("/hook"), json!({})),
        &crate::ctx(&loopback()),
    )
    .unwrap();
    let e = p.publish(&delivery()).await.unwrap_err();
    assert_eq!(e.status_code(), Some(307), "{e:?}");
    assert_eq!(first.requests().len(), 1);
    assert_eq!(second.requests().len(), 0);
}

#[tokio::test]
async fn a_followed_redirect_to_a_refused_address_is_not_followed() {
    let follow = json!({"follow_redirects": true});
    let only_first = allowing(&["127.0.0.1/32"]);

    // To a literal address: the redirect policy refuses the hop.
    let (first, second) = redirecting_pair("127.0.0.2").await;
    let p = publish_webhook::build(
        &target(&first.url("/hook"), follow.clone()),
        &crate::ctx(&only_first),
    )
    .unwrap();
    assert_refused(
        p.publish(&delivery()).await,
        "address 127.0.0.2 of 127.0.0.2 is not allowed (loopback)",
    );
    assert_eq!(first.requests().len(), 1);
    assert_eq!(
        second.requests().len(),
        0,
        "the refused hop receives nothing"
    );

    // To a name: the guarded resolver refuses it.
    let (first, second) = redirecting_pair("moved.test").await;
    let guard = only_first.with_resolver(Arc::new(
        StaticResolver::new().with("moved.test", &[ip("127.0.0.2")]),
    ));
    let p = publish_webhook::build(
        &target(&first.url("/hook"), follow.clone()),
        &crate::ctx(&guard),
    )
    .unwrap();
    assert_refused(
        p.publish(&delivery()).await,
        "address 127.0.0.2 of moved.test is not allowed (loopback)",
    );
    assert_eq!(second.requests().len(), 0);

    // Control: with both allowed the redirect is followed, method and body kept (307).
    let (first, second) = redirecting_pair("127.0.0.2").await;
    let p = publish_webhook::build(
        &target(&first.url("/hook"), follow),
        &crate::ctx(&loopback()),
    )
    .unwrap();
    p.publish(&delivery()).await.unwrap();
    let got = second.wait_for_delivered(1, Duration::from_secs(5)).await;
    assert_eq!(
        (got[0].method.as_str(), got[0].path.as_str()),
        ("POST", "/moved")
    );
    assert_eq!(got[0].json()["status"], "firing");
}

#[tokio::test]
async fn a_proxy_receives_http_requests_in_absolute_form() {
    let proxy = WebhookSink::start().await;
    let proxy_url = format!("http://ops:pr0xyPass@127.0.0.1:{}", proxy.addr().port());
    let t = target("http://target.test/hook?x=1", json!({"proxy": proxy_url}));
    let p = publish_webhook::build(&t, &crate::ctx(&loopback())).unwrap();
    assert!(
        !format!("{p:?}").contains("pr0xyPass"),
        "the proxy password is not shown: {p:?}"
    );
    p.publish(&delivery()).await.unwrap();
    let got = proxy.wait_for_delivered(1, Duration::from_secs(5)).await;
    assert_eq!(got[0].target, "http://target.test/hook?x=1");
    assert_eq!(got[0].header("host"), Some("target.test"));
    // ops:pr0xyPass
    assert_eq!(
        got[0].header("proxy-authorization"),
        Some("Basic b3BzOnByMHh5UGFzcw==")
    );
    assert!(p.probe().await.ok, "the probe connects to the proxy");
}

#[tokio::test]
async fn the_proxy_password_never_appears_in_errors() {
    // A proxy that is down: the delivery error does not quote it.
    let port = testkit::free_port();
    let t = target(
        "http://target.test/hook",
        json!({"proxy": format!("http://ops:pr0xyPass@127.0.0.1:{port}")}),
    );
    let p = publish_webhook::build(&t, &crate::ctx(&loopback())).unwrap();
    let e = p.publish(&delivery()).await.unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
    assert!(!format!("{e:?}").contains("pr0xyPass"), "{e:?}");
    let probe = p.probe().await;
    assert!(
        !probe.ok && !probe.detail.contains("pr0xyPass"),
        "{probe:?}"
    );

    // A proxy the policy refuses, and one that is not a proxy URL: errors name the field.
    for (proxy, reason) in [
        (
            "http://ops:pr0xyPass@10.0.0.5:3128",
            "is not allowed (private)",
        ),
        (
            "ftp://ops:pr0xyPass@proxy.test",
            "proxy scheme must be http or https",
        ),
        ("http://ops:pr0xyPass@", "invalid proxy URL"),
    ] {
        let t = target("http://target.test/hook", json!({"proxy": proxy}));
        let e = publish_webhook::build(&t, &crate::ctx(&loopback())).unwrap_err();
        assert_eq!(e.field, "options.proxy", "{proxy}: {e}");
        assert!(e.message.contains(reason), "{proxy}: {e}");
        assert!(!e.to_string().contains("pr0xyPass"), "{e}");
    }
}

#[test]
fn a_webhook_has_no_default_url() {
    let e = publish_webhook::build(&target("", json!({})), &crate::ctx(&loopback())).unwrap_err();
    assert_eq!(e.field, "url");
    assert!(e.message.starts_with("is required"), "{}", e.message);
}
