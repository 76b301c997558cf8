//! Per-client rate limits on the real binary (real sockets, so the peer address is known):
//! 429 with every header after the burst, one bucket per client, `X-Forwarded-For` believed
//! only from trusted proxies, and a bounded table of tracked clients.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use futures::StreamExt;

use crate::support::{Service, fixture_body, metric, metrics};

async fn get(service: &Service, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(service.url("/api/v2/publishing/targets"));
    if let Some(ip) = forwarded_for {
        req = req.header("x-forwarded-for", ip);
    }
    req.send().await.unwrap()
}

fn header(resp: &reqwest::Response, name: &str) -> u64 {
    resp.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} in {:?}", resp.headers()))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn the_burst_then_429_with_headers_and_forwarded_for_from_untrusted_peers_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(
        dir.path(),
        "rate_limit:\n  api: {per_minute: 60, burst: 5}\n  ingest: {per_minute: 60, burst: 2}\n",
    )
    .await;
    for expected_remaining in (0..5).rev() {
        let resp = get(&service, None).await;
        assert_eq!(resp.status().as_u16(), 200);
        assert_eq!(header(&resp, "x-ratelimit-limit"), 5);
        assert_eq!(header(&resp, "x-ratelimit-remaining"), expected_remaining);
        assert!(header(&resp, "x-ratelimit-reset") <= 5);
    }
    let resp = get(&service, None).await;
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(header(&resp, "x-ratelimit-remaining"), 0);
    assert_eq!(header(&resp, "x-ratelimit-limit"), 5);
    let retry_after = header(&resp, "retry-after");
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert!(header(&resp, "x-ratelimit-reset") >= retry_after);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "rate_limited");
    assert!(v["error"]["request_id"].is_string(), "{v}");

    // The peer is not a trusted proxy: its X-Forwarded-For changes nothing.
    let resp = get(&service, Some("203.0.113.9")).await;
    assert_eq!(resp.status().as_u16(), 429);

    // Ingest has its own limiter; probes are never limited.
    let (status, _) = service
        .post("/webhook", fixture_body("am-webhook-firing.json"))
        .await;
    assert_eq!(status, 200);
    let status = reqwest::get(service.url("/healthz"))
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 200);
    for _ in 0..3 {
        let (status, _) = service
            .post("/webhook", fixture_body("am-webhook-firing.json"))
            .await;
        if status == 429 {
            return;
        }
    }
    panic!("ingest was not limited after its burst of 2");
}

#[tokio::test]
async fn clients_behind_a_trusted_proxy_are_limited_separately() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(
        dir.path(),
        "rate_limit:\n  trusted_proxies: [127.0.0.0/8]\n  api: {per_minute: 60, burst: 3}\n",
    )
    .await;
    for _ in 0..3 {
        assert_eq!(
            get(&service, Some("198.51.100.1")).await.status().as_u16(),
            200
        );
    }
    assert_eq!(
        get(&service, Some("198.51.100.1")).await.status().as_u16(),
        429
    );
    // Another client through the same proxy, and the proxy itself, still have their buckets.
    let resp = get(&service, Some("198.51.100.2")).await;
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(header(&resp, "x-ratelimit-remaining"), 2);
    assert_eq!(get(&service, None).await.status().as_u16(), 200);
    // The right-most untrusted hop counts: a spoofed left-most entry does not help.
    assert_eq!(
        get(&service, Some("10.9.9.9, 198.51.100.1"))
            .await
            .status()
            .as_u16(),
        429
    );
}

#[tokio::test]
async fn tracked_clients_stay_bounded_under_many_addresses() {
    const CAP: u64 = 1000;
    const CLIENTS: u32 = 50_000;
    let dir = tempfile::tempdir().unwrap();
    let service = Arc::new(
        Service::start(
            dir.path(),
            &format!(
                "rate_limit:\n  trusted_proxies: [127.0.0.1]\n  max_clients: {CAP}\n  api: {{per_minute: 100000, burst: 1000}}\n"
            ),
        )
        .await,
    );
    let series = "alert_publisher_rate_limit_clients{limiter=\"api\"}";
    let max_seen = Arc::new(AtomicU64::new(0));
    let done = Arc::new(tokio::sync::Notify::new());
    let sampler = {
        let (service, max_seen, done) = (service.clone(), max_seen.clone(), done.clone());
        tokio::spawn(async move {
            loop {
                if let Some(v) = metric(&metrics(&service).await, series) {
                    max_seen.fetch_max(v as u64, Ordering::Relaxed);
                }
                tokio::select! {
                    () = done.notified() => return,
                    () = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            }
        })
    };
    let client = reqwest::Client::new();
    let url = service.url("/api/v2/publishing/targets");
    let started = std::time::Instant::now();
    let statuses: Vec<u16> = futures::stream::iter(0..CLIENTS)
        .map(|i| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let ip = std::net::Ipv4Addr::from(0x0a00_0000 | i);
                client
                    .get(&url)
                    .header("x-forwarded-for", ip.to_string())
                    .send()
                    .await
                    .map_or(0, |r| r.status().as_u16())
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let elapsed = started.elapsed();
    done.notify_one();
    sampler.await.unwrap();
    assert!(
        statuses.iter().all(|s| *s == 200),
        "not every request was answered 200: {:?}",
        statuses
            .iter()
            .filter(|s| **s != 200)
            .take(5)
            .collect::<Vec<_>>()
    );
    let last = metric(&metrics(&service).await, series).expect("gauge exported");
    let max_seen = max_seen.load(Ordering::Relaxed).max(last as u64);
    assert!(max_seen > 0, "the gauge was never seen");
    assert!(
        max_seen <= CAP,
        "tracked clients reached {max_seen} (cap {CAP})"
    );
    assert_eq!(
        get(&service, Some("192.0.2.1")).await.status().as_u16(),
        200
    );
    eprintln!(
        "{CLIENTS} distinct clients in {elapsed:?} ({:.0} req/s); tracked clients peaked at {max_seen} of {CAP}",
        f64::from(CLIENTS) / elapsed.as_secs_f64()
    );
}

/// Scrapes are not API calls: quick repeated `GET /metrics` never get 429, while the API
/// limit still holds for the same client.
#[tokio::test]
async fn metrics_scrapes_are_never_rate_limited() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(
        dir.path(),
        "rate_limit:\n  api: {per_minute: 60, burst: 2}\n",
    )
    .await;
    for i in 0..20 {
        let resp = reqwest::get(service.url("/metrics")).await.unwrap();
        assert_eq!(resp.status().as_u16(), 200, "scrape {i}");
        assert!(
            resp.headers().get("x-ratelimit-limit").is_none(),
            "no rate-limit headers on a scrape"
        );
    }
    let statuses: Vec<u16> = futures::stream::iter(0..4)
        .then(|_| get(&service, None))
        .map(|r| r.status().as_u16())
        .collect()
        .await;
    assert_eq!(statuses, [200, 200, 429, 429], "the API limit still holds");
}
