//! The web console at `/ui/`, in a real headless Chromium (the Debian package `chromium`)
//! against the real binary: what each page shows, its actions doing what the API does, the key
//! form and the viewer's view, a phone's width and dark mode. Every test fails on any
//! JavaScript error the page reports.

use std::time::Duration;

use serde_json::{Value, json};
use testkit::{Behaviour, Browser, Page, WebhookSink};

use crate::support::{Service, one_webhook_target, write_targets};

const WAIT: Duration = Duration::from_secs(20);
const VIEWER_TOKEN: &str = "viewer-token-0123456789";
const ADMIN_TOKEN: &str = "admin-token-0123456789ab";

/// One firing alert `name` with `severity: critical`, as Alertmanager posts it.
fn notification(name: &str) -> Vec<u8> {
    notification_with(name, "critical")
}

/// One firing alert `name` with that `severity`.
fn notification_with(name: &str, severity: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "version": "4", "status": "firing", "receiver": "team", "groupKey": format!("{{}}:{{alertname=\"{name}\"}}"),
        "groupLabels": {"alertname": name}, "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://am", "truncatedAlerts": 0,
        "alerts": [{"status": "firing", "labels": {"alertname": name, "severity": severity, "service": "db"},
                    "annotations": {"summary": "the database is down"}, "startsAt": "2026-12-07T07:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z", "generatorURL": ""}]
    }))
    .unwrap()
}

/// `GET path` with a bearer token, as JSON.
async fn get_with(service: &Service, path: &str, token: &str) -> Value {
    service.get_as(path, token).await.json().await.unwrap()
}

/// Opens the console at `#/page` (`/ui/#/page`) in a new tab.
async fn open(browser: &Browser, service: &Service, page: &str) -> Page {
    let tab = browser.new_page().await;
    tab.goto(&service.url(&format!("/ui/#/{page}"))).await;
    tab
}

/// Texts of the elements matching `selector`.
async fn texts(page: &Page, selector: &str) -> Vec<String> {
    let v = page
        .eval(&format!(
            "[...document.querySelectorAll({})].map(e => e.innerText)",
            json!(selector)
        ))
        .await
        .unwrap();
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn the_console_is_served_with_its_types_and_a_strict_policy() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(dir.path(), "").await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = client.get(service.url("/ui")).send().await.unwrap();
    assert_eq!(resp.status(), 308);
    assert_eq!(resp.headers()["location"], "/ui/");
    for (path, kind) in [
        ("/ui/", "text/html; charset=utf-8"),
        ("/ui/app.js", "text/javascript; charset=utf-8"),
        ("/ui/app.css", "text/css; charset=utf-8"),
    ] {
        let resp = client.get(service.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        let h = resp.headers();
        assert_eq!(h["content-type"], kind, "{path}");
        assert_eq!(h["cache-control"], "no-cache", "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.starts_with("default-src 'none'; script-src 'self';"),
            "{csp}"
        );
        assert!(csp.contains("connect-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
        let etag = h["etag"].clone();
        let again = client
            .get(service.url(path))
            .header("if-none-match", etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
    }
    let resp = client
        .get(service.url("/ui/nothing.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    // Keys off: the API is open, so the caller may do everything.
    let session = get_with(&service, "/api/v2/publishing/session", "ignored").await;
    assert_eq!(
        session,
        json!({"keys_enabled": false, "key": null, "role": "admin"})
    );
}

#[tokio::test]
async fn overview_shows_health_queue_and_trend_charts_drawn_from_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let sink = WebhookSink::start().await;
    write_targets(
        dir.path(),
        &format!(
            "- name: team-hook\n  type: webhook\n  url: {}\n",
            sink.url("/hook")
        ),
    );
    let service = Service::start(dir.path(), "stats:\n  interval: 300ms\n").await;
    for i in 0..3 {
        let (code, body) = service
            .post("/webhook", notification(&format!("DiskFull{i}")))
            .await;
        assert_eq!(code, 200, "{body}");
    }
    sink.wait_for_delivered(3, WAIT).await;
    let browser = Browser::launch().await;
    let page = open(&browser, &service, "overview").await;
    page.wait_for(
        "document.querySelector('#health') && document.querySelector('#health').innerText.includes('team-hook')",
        WAIT,
    )
    .await;
    let health = texts(&page, "#health").await.join("");
    assert!(health.contains("healthy"), "{health}");
    let queue = texts(&page, "#queue").await.join("");
    for p in ["high", "medium", "low", "delivered"] {
        assert!(queue.contains(p), "{queue}");
    }
    // The delivery-rate chart is a path through the samples of the history, one of which
    // counted the three deliveries.
    let d = page
        .wait_for(
            "(() => { const f = document.querySelector('[data-chart=delivery-rate]'); \
             return f && Number(f.dataset.points) >= 3 && f.innerText.includes('max') \
             && !f.innerText.includes('max 0.0') && f.querySelector('path.line').getAttribute('d'); })()",
            WAIT,
        )
        .await;
    let d = d.as_str().unwrap();
    assert!(d.starts_with('M') && d.matches('L').count() >= 2, "{d}");
    // The latency percentiles of each window are drawn, one line each.
    let lines = page
        .wait_for(
            "(() => { const l = [...document.querySelectorAll('[data-chart=latency] path.line')]; \
             return l.length === 3 && l.map((p) => p.dataset.series).join(','); })()",
            WAIT,
        )
        .await;
    assert_eq!(lines.as_str(), Some("p50,p95,p99"));
    for chart in [
        "error-rate",
        "errors",
        "latency",
        "mean-latency",
        "queue-size",
    ] {
        let n = page
            .eval(&format!(
                "Number(document.querySelector('[data-chart={chart}]').dataset.points)"
            ))
            .await
            .unwrap();
        assert!(n.as_f64().unwrap() >= 1.0, "{chart}: {n}");
    }
    // The range selector asks for the last day instead.
    page.fill("#range", "24h").await;
    page.wait_for(
        "document.querySelector('[data-chart=delivery-rate]') && Number(document.querySelector('[data-chart=delivery-rate]').dataset.points) >= 3",
        WAIT,
    )
    .await;
    page.assert_no_errors();
}

#[tokio::test]
async fn targets_show_health_apart_and_check_and_test_send_report_their_result() {
    let dir = tempfile::tempdir().unwrap();
    let good = WebhookSink::start().await;
    let bad = WebhookSink::start().await;
    bad.set_default(Behaviour::Status(503));
    write_targets(
        dir.path(),
        &format!(
            "- name: good-hook\n  type: webhook\n  url: {}\n- name: bad-hook\n  type: webhook\n  url: {}\n",
            good.url("/hook"),
            bad.url("/hook")
        ),
    );
    let service = Service::start(dir.path(), "").await;
    let (code, body) = service.post("/webhook", notification("DiskFull")).await;
    assert_eq!(code, 200, "{body}");
    good.wait_for_delivered(1, WAIT).await;
    bad.wait_for_requests(1, WAIT).await;
    let browser = Browser::launch().await;
    let page = open(&browser, &service, "targets").await;
    page.wait_for(
        "document.querySelectorAll('[data-target]').length === 2 && \
         document.querySelector('[data-target=bad-hook]').innerText.includes('failing in a row')",
        WAIT,
    )
    .await;
    let good_card = texts(&page, "[data-target=good-hook]").await.join("");
    assert_eq!(
        texts(&page, "[data-target=good-hook] h2 .badge").await,
        ["healthy"]
    );
    assert!(good_card.contains("Deliveries: delivered"), "{good_card}");
    assert!(good_card.contains("100.0 %"), "{good_card}");
    assert!(good_card.contains("Probes:"), "{good_card}");
    assert!(good_card.contains("closed"), "{good_card}");
    let bad_card = texts(&page, "[data-target=bad-hook]").await.join("");
    assert!(bad_card.contains("Deliveries: failed"), "{bad_card}");
    assert!(bad_card.contains("Last error: server"), "{bad_card}");

    page.click("[data-target=good-hook] button[aria-label^='Test send']")
        .await;
    page.wait_for(
        "document.querySelector('[data-result=good-hook]').innerText.includes('Test send: delivered')",
        WAIT,
    )
    .await;
    let tests: Vec<_> = good
        .delivered()
        .into_iter()
        .filter(|r| r.text().contains("AlertPublisherTest"))
        .collect();
    assert_eq!(tests.len(), 1, "the sink received the test alert");
    // The result stays through the page's next refresh (every 5 s).
    tokio::time::sleep(Duration::from_millis(5500)).await;
    let result = texts(&page, "[data-result=good-hook]").await.join("");
    assert!(result.contains("Test send: delivered"), "{result}");

    page.click("[data-target=bad-hook] button[aria-label^='Test send']")
        .await;
    page.wait_for(
        "document.querySelector('[data-result=bad-hook]').innerText.includes('Test send: failed')",
        WAIT,
    )
    .await;
    page.click("[data-target=good-hook] button[aria-label^='Check']")
        .await;
    page.wait_for(
        "document.querySelector('[data-result=good-hook]').innerText.includes('Check: ')",
        WAIT,
    )
    .await;
    page.assert_no_errors();
}

/// A target refusing for good (400), one alert dead-lettered; the id of its dead letter.
async fn one_dead_letter(
    dir: &std::path::Path,
    extra: &str,
    token: Option<&str>,
) -> (Service, WebhookSink, i64) {
    let sink = one_webhook_target(dir, "hook", Behaviour::Status(400), "").await;
    let service = Service::start(dir, extra).await;
    let (code, body) = service.post("/webhook", notification("DiskFull")).await;
    assert_eq!(code, 200, "{body}");
    let started = std::time::Instant::now();
    loop {
        let dlq = get_with(&service, "/api/v2/publishing/dlq", token.unwrap_or("-")).await;
        if dlq["count"] == 1 {
            return (service, sink, dlq["jobs"][0]["id"].as_i64().unwrap());
        }
        assert!(started.elapsed() < WAIT, "no dead letter: {dlq}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_dead_letter_replayed_from_the_console_is_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let (service, sink, id) = one_dead_letter(dir.path(), "", None).await;
    let browser = Browser::launch().await;
    let page = open(&browser, &service, &format!("dlq/{id}")).await;
    page.wait_for(
        &format!("!!document.querySelector('#dlq-list tr[data-id=\"{id}\"]')"),
        WAIT,
    )
    .await;
    let row = texts(&page, &format!("tr[data-id=\"{id}\"]"))
        .await
        .join("");
    assert!(row.contains("hook") && row.contains("DiskFull"), "{row}");
    assert!(row.contains("scripted 400"), "{row}");
    // Its detail: the attempt that killed it.
    page.wait_for(
        "document.querySelector('#dlq-job') && document.querySelector('#dlq-job').innerText.includes('dead')",
        WAIT,
    )
    .await;
    // Filters narrow the list.
    page.fill("#dlq-error-kind", "timeout").await;
    page.wait_for("!!document.querySelector('#dlq-empty')", WAIT)
        .await;
    page.fill("#dlq-error-kind", "").await;
    page.wait_for(
        &format!("!!document.querySelector('#dlq-list tr[data-id=\"{id}\"]')"),
        WAIT,
    )
    .await;

    sink.set_default(Behaviour::Ok);
    page.click(&format!("button[aria-label='Replay dead letter {id}']"))
        .await;
    page.wait_for(
        "document.querySelector('#dlq-outcome').innerText.includes('Replayed 1, skipped 0')",
        WAIT,
    )
    .await;
    let delivered = sink.wait_for_delivered(1, WAIT).await;
    assert!(delivered[0].text().contains("DiskFull"));
    // Replayed, it leaves the list of those not replayed yet.
    page.wait_for("!!document.querySelector('#dlq-empty')", WAIT)
        .await;
    page.assert_no_errors();
}

#[tokio::test]
async fn a_selection_is_replayed_and_purge_asks_first() {
    let dir = tempfile::tempdir().unwrap();
    let (service, sink, id) = one_dead_letter(dir.path(), "", None).await;
    let browser = Browser::launch().await;
    let page = open(&browser, &service, "dlq").await;
    page.click(&format!("input[aria-label='Select dead letter {id}']"))
        .await;
    sink.set_default(Behaviour::Ok);
    page.click("#replay-selected").await;
    page.wait_for(
        &format!(
            "document.querySelector('#dlq-outcome').innerText.includes('dead letter {id} → job')"
        ),
        WAIT,
    )
    .await;
    sink.wait_for_delivered(1, WAIT).await;
    // Purge: nothing happens before the confirmation.
    page.fill("#dlq-replayed", "").await;
    page.click("#purge").await;
    page.wait_for("!!document.querySelector('#purge-confirm-button')", WAIT)
        .await;
    let dlq = service.get_json("/api/v2/publishing/dlq").await;
    assert_eq!(dlq["count"], 1, "{dlq}");
    page.click("#purge-confirm-button").await;
    page.wait_for(
        "document.querySelector('#dlq-outcome').innerText.includes('Purged 1 dead letters')",
        WAIT,
    )
    .await;
    let dlq = service.get_json("/api/v2/publishing/dlq").await;
    assert_eq!(dlq["count"], 0, "{dlq}");
    page.assert_no_errors();
}

#[tokio::test]
async fn a_viewer_key_sees_no_actions_and_the_api_refuses_them() {
    let dir = tempfile::tempdir().unwrap();
    let keys = format!(
        "auth:\n  keys:\n    - {{name: ops-viewer, role: viewer, token: \"{VIEWER_TOKEN}\"}}\n    - {{name: ops-admin, role: admin, token: \"{ADMIN_TOKEN}\"}}\n"
    );
    let (service, _sink, id) = one_dead_letter(dir.path(), &keys, Some(VIEWER_TOKEN)).await;
    let browser = Browser::launch().await;
    let page = open(&browser, &service, "dlq").await;
    // Without a key the API answers 401 and the console asks for one.
    page.wait_for("!document.querySelector('#login').hidden", WAIT)
        .await;
    page.fill("#login-key", "not-a-valid-key-at-all").await;
    page.click("#login-form button[type=submit]").await;
    page.wait_for(
        "document.querySelector('#login-error').innerText.includes('refused')",
        WAIT,
    )
    .await;
    page.fill("#login-key", VIEWER_TOKEN).await;
    page.click("#login-form button[type=submit]").await;
    page.wait_for(
        "document.querySelector('#login').hidden && document.querySelector('#who').innerText.includes('ops-viewer')",
        WAIT,
    )
    .await;
    page.wait_for(
        &format!("!!document.querySelector('#dlq-list tr[data-id=\"{id}\"]')"),
        WAIT,
    )
    .await;
    let buttons = texts(&page, "main button").await;
    assert_eq!(buttons, ["Refresh"], "a viewer gets no replay or purge");
    // The key is kept for this tab only, never in the URL or localStorage.
    let kept = page
        .eval("[location.href, localStorage.length, sessionStorage.getItem('alert-publisher.key')]")
        .await
        .unwrap();
    assert!(!kept[0].as_str().unwrap().contains(VIEWER_TOKEN), "{kept}");
    assert_eq!(kept[1], 0, "{kept}");
    assert_eq!(kept[2], VIEWER_TOKEN, "{kept}");
    // The API refuses the viewer anyway.
    let status = page
        .eval(&format!(
            "fetch('/api/v2/publishing/dlq/{id}/replay', {{method: 'POST', headers: {{Authorization: 'Bearer {VIEWER_TOKEN}'}}}}).then(r => r.status)"
        ))
        .await
        .unwrap();
    assert_eq!(status, 403);
    page.goto(&service.url("/ui/#/targets")).await;
    page.wait_for(
        "document.querySelectorAll('[data-target=hook]').length === 1",
        WAIT,
    )
    .await;
    assert_eq!(texts(&page, "main button").await, Vec::<String>::new());

    // An admin key (after signing out) gets the actions.
    page.click("#who button").await;
    page.fill("#login-key", ADMIN_TOKEN).await;
    page.click("#login-form button[type=submit]").await;
    page.wait_for(
        "document.querySelector('#who').innerText.includes('ops-admin')",
        WAIT,
    )
    .await;
    page.goto(&service.url("/ui/#/dlq")).await;
    page.wait_for("!!document.querySelector('#purge')", WAIT)
        .await;
    page.wait_for(
        &format!("!!document.querySelector(\"button[aria-label='Replay dead letter {id}']\")"),
        WAIT,
    )
    .await;
    page.assert_no_errors();
}

#[tokio::test]
async fn every_page_fits_a_phone_and_follows_dark_mode() {
    let dir = tempfile::tempdir().unwrap();
    let (service, _sink, _id) = one_dead_letter(dir.path(), "", None).await;
    let browser = Browser::launch().await;
    let page = browser.new_page().await;
    page.viewport(375, 740, true).await;
    page.dark(true).await;
    for (name, ready) in [
        ("overview", "[data-chart=queue-size]"),
        ("targets", "[data-target=hook]"),
        ("alerts", "#alerts-alertname"),
        ("dlq", "#dlq-list table"),
    ] {
        page.goto(&service.url(&format!("/ui/#/{name}"))).await;
        page.wait_for(&format!("!!document.querySelector('{ready}')"), WAIT)
            .await;
        let widths = page
            .eval("[document.documentElement.scrollWidth, window.innerWidth]")
            .await
            .unwrap();
        assert!(
            widths[0].as_f64() <= widths[1].as_f64(),
            "{name} overflows a 375 px phone: {widths}"
        );
    }
    let background = page
        .eval("getComputedStyle(document.body).backgroundColor")
        .await
        .unwrap();
    assert_eq!(background, "rgb(17, 20, 24)", "dark background");
    page.dark(false).await;
    let background = page
        .eval("getComputedStyle(document.body).backgroundColor")
        .await
        .unwrap();
    assert_eq!(background, "rgb(246, 247, 249)", "light background");
    // Every control has an accessible name.
    let unnamed = page
        .eval(
            "[...document.querySelectorAll('input, select, button')].filter(e => \
             !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.innerText.trim()).map(e => e.outerHTML)",
        )
        .await
        .unwrap();
    assert_eq!(unnamed, json!([]));
    page.assert_no_errors();
}

/// The error collection the tests above rely on: an uncaught exception, an unhandled
/// rejection and a `console.error` are each reported; a page without them reports nothing.
#[tokio::test]
async fn the_browser_reports_every_javascript_error() {
    let browser = Browser::launch().await;
    let page = browser.new_page().await;
    page.goto("about:blank").await;
    assert_eq!(page.errors(), Vec::<String>::new());
    page.eval(
        "setTimeout(() => { throw new Error('thrown-1') }); \
         Promise.reject(new Error('rejected-2')); console.error('logged-3'); console.log('fine')",
    )
    .await
    .unwrap();
    page.wait_for("new Promise(r => setTimeout(() => r(true), 300))", WAIT)
        .await;
    let errors = page.errors().join("\n");
    for e in ["thrown-1", "rejected-2", "logged-3"] {
        assert!(errors.contains(e), "{e} not reported: {errors}");
    }
    assert!(!errors.contains("fine"), "{errors}");
}

#[tokio::test]
async fn alerts_are_searched_and_one_alert_tells_its_story() {
    let dir = tempfile::tempdir().unwrap();
    let pager = WebhookSink::start().await;
    let chat = WebhookSink::start().await;
    write_targets(
        dir.path(),
        &format!(
            "- name: pager-hook\n  type: webhook\n  url: {}\n  filter: {{severity: [critical]}}\n\
             - name: chat-hook\n  type: webhook\n  url: {}\n  filter: {{severity: [warning]}}\n",
            pager.url("/hook"),
            chat.url("/hook")
        ),
    );
    let service = Service::start(dir.path(), "").await;
    for (name, severity) in [("DiskFull", "critical"), ("HighLatency", "warning")] {
        let (code, body) = service
            .post("/webhook", notification_with(name, severity))
            .await;
        assert_eq!(code, 200, "{body}");
    }
    pager.wait_for_delivered(1, WAIT).await;
    chat.wait_for_delivered(1, WAIT).await;
    let browser = Browser::launch().await;
    let page = open(&browser, &service, "alerts").await;
    // Unfiltered: both, newest first.
    page.wait_for(
        "document.querySelectorAll('#alert-results tr[data-fingerprint]').length === 2",
        WAIT,
    )
    .await;
    let rows = texts(&page, "#alert-results tr[data-fingerprint]").await;
    assert!(
        rows[0].contains("HighLatency") && rows[1].contains("DiskFull"),
        "{rows:?}"
    );
    // By label.
    page.fill("#alerts-label", "severity=critical").await;
    page.click("form[role=search] button[type=submit]").await;
    page.wait_for(
        "(() => { const r = [...document.querySelectorAll('#alert-results tr[data-fingerprint]')]; \
         return r.length === 1 && r[0].innerText.includes('DiskFull'); })()",
        WAIT,
    )
    .await;
    let row = texts(&page, "#alert-results tr[data-fingerprint]")
        .await
        .join("");
    assert!(
        row.contains("pager-hook") && row.contains("delivered"),
        "{row}"
    );
    assert!(row.contains("chat-hook filtered"), "{row}");
    // By target and state, then by name with nothing matching.
    page.fill("#alerts-label", "").await;
    page.fill("#alerts-target", "chat-hook").await;
    page.fill("#alerts-state", "delivered").await;
    page.click("form[role=search] button[type=submit]").await;
    page.wait_for(
        "(() => { const r = [...document.querySelectorAll('#alert-results tr[data-fingerprint]')]; \
         return r.length === 1 && r[0].innerText.includes('HighLatency'); })()",
        WAIT,
    )
    .await;
    page.fill("#alerts-alertname", "NoSuchAlert").await;
    page.click("form[role=search] button[type=submit]").await;
    page.wait_for(
        "document.querySelector('#alert-results').innerText.includes('No alerts match')",
        WAIT,
    )
    .await;
    // The timeline of DiskFull: received, filtered at chat-hook, delivered at pager-hook.
    page.fill("#alerts-alertname", "DiskFull").await;
    page.fill("#alerts-target", "").await;
    page.fill("#alerts-state", "").await;
    page.click("form[role=search] button[type=submit]").await;
    page.click("#alert-results tr[data-fingerprint] a").await;
    page.wait_for(
        "!!document.querySelector('ol.timeline li') && document.querySelector('h1').innerText === 'DiskFull'",
        WAIT,
    )
    .await;
    let story = texts(&page, "ol.timeline li").await;
    assert!(
        story[0].contains("Received") && story[0].contains("firing"),
        "{story:?}"
    );
    assert!(
        story.iter().any(|l| l.contains("chat-hook: filtered")),
        "{story:?}"
    );
    assert!(
        story
            .iter()
            .any(|l| l.contains("pager-hook attempt 1: delivered") && l.contains("HTTP 200")),
        "{story:?}"
    );
    assert!(
        story
            .iter()
            .any(|l| l.contains("pager-hook job") && l.contains("delivered")),
        "{story:?}"
    );
    let summary = texts(&page, "#timeline section").await.join("");
    assert!(
        summary.contains("severity=critical") && summary.contains("the database is down"),
        "{summary}"
    );
    page.assert_no_errors();
}
