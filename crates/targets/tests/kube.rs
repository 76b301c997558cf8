//! Kubernetes discovery against a fake API server that speaks the list / watch JSON of
//! `/api/v1/namespaces/{ns}/secrets`.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    body::Body,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use base64::Engine as _;
use serde_json::{Value, json};
use targets::{Discovered, SourceHandle, kube::KubeConfig};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Default)]
struct Fake(Arc<Inner>);

#[derive(Default)]
struct Inner {
    /// (namespace, name) -> secret JSON
    secrets: Mutex<BTreeMap<(String, String), Value>>,
    version: AtomicU64,
    events: Mutex<Option<broadcast::Sender<(String, Value)>>>,
    /// Every event sent, with its resource version, for watches that start behind.
    history: Mutex<Vec<(u64, String, Value)>>,
    down: AtomicBool,
    gone_next_watch: AtomicBool,
    lists: AtomicU64,
    watches: AtomicU64,
}

impl Fake {
    fn tx(&self) -> broadcast::Sender<(String, Value)> {
        self.0
            .events
            .lock()
            .unwrap()
            .get_or_insert_with(|| broadcast::channel(256).0)
            .clone()
    }

    fn emit(&self, version: u64, ns: &str, event: Value) {
        let mut history = self.0.history.lock().unwrap();
        history.push((version, ns.to_owned(), event.clone()));
        let _ = self.tx().send((ns.to_owned(), event));
    }

    fn secret(ns: &str, name: &str, data: &[(&str, &str)], version: u64) -> Value {
        let data: serde_json::Map<String, Value> = data
            .iter()
            .map(|(k, v)| {
                (
                    (*k).to_owned(),
                    Value::String(base64::engine::general_purpose::STANDARD.encode(v)),
                )
            })
            .collect();
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": ns, "resourceVersion": version.to_string(),
                         "labels": {"publishing-target": "true"}},
            "type": "Opaque",
            "data": data,
        })
    }

    /// Creates or replaces a Secret; watchers see ADDED or MODIFIED.
    fn put(&self, ns: &str, name: &str, data: &[(&str, &str)]) {
        let v = self.0.version.fetch_add(1, Ordering::SeqCst) + 1;
        let s = Self::secret(ns, name, data, v);
        let existed = self
            .0
            .secrets
            .lock()
            .unwrap()
            .insert((ns.to_owned(), name.to_owned()), s.clone())
            .is_some();
        let kind = if existed { "MODIFIED" } else { "ADDED" };
        self.emit(v, ns, json!({"type": kind, "object": s}));
    }

    fn delete(&self, ns: &str, name: &str) {
        let v = self.0.version.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(mut s) = self
            .0
            .secrets
            .lock()
            .unwrap()
            .remove(&(ns.to_owned(), name.to_owned()))
        {
            s["metadata"]["resourceVersion"] = json!(v.to_string());
            self.emit(v, ns, json!({"type": "DELETED", "object": s}));
        }
    }

    /// Changes a Secret without telling watchers (as if the event was lost).
    fn put_silently(&self, ns: &str, name: &str, data: &[(&str, &str)]) {
        let v = self.0.version.fetch_add(1, Ordering::SeqCst) + 1;
        self.0.secrets.lock().unwrap().insert(
            (ns.to_owned(), name.to_owned()),
            Self::secret(ns, name, data, v),
        );
    }

    /// Ends every open watch with 410 Gone.
    fn expire_watches(&self) {
        let _ = self.tx().send((
            "*".to_owned(),
            json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1",
                "metadata": {}, "status": "Failure", "message": "too old resource version",
                "reason": "Expired", "code": 410}}),
        ));
    }
}

async fn secrets(
    State(fake): State<Fake>,
    Path(ns): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if fake.0.down.load(Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
                "status": "Failure", "message": "etcd unavailable", "reason": "ServiceUnavailable", "code": 503})),
        )
            .into_response();
    }
    assert_eq!(
        q.get("labelSelector").map(String::as_str),
        Some("publishing-target=true")
    );
    if q.get("watch").map(String::as_str) == Some("true") {
        fake.0.watches.fetch_add(1, Ordering::SeqCst);
        if fake.0.gone_next_watch.swap(false, Ordering::SeqCst) {
            let line = json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1",
                "metadata": {}, "status": "Failure", "message": "too old resource version",
                "reason": "Expired", "code": 410}});
            return Response::new(Body::from(format!("{line}\n")));
        }
        let since: u64 = q
            .get("resourceVersion")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let (rx, replay) = {
            let history = fake.0.history.lock().unwrap();
            let rx = fake.tx().subscribe();
            let replay: String = history
                .iter()
                .filter(|(v, n, _)| *v > since && *n == ns)
                .map(|(_, _, e)| format!("{e}\n"))
                .collect();
            (rx, replay)
        };
        // A bookmark first, so the response starts at once (as the real API server's does).
        let bookmark = json!({"type": "BOOKMARK", "object": {"kind": "Secret", "apiVersion": "v1",
            "metadata": {"resourceVersion": since.to_string()}}});
        let head = futures::stream::once(async move {
            Ok::<_, std::io::Error>(format!("{bookmark}\n{replay}"))
        });
        let stream = futures::stream::unfold((rx, ns), |(mut rx, ns)| async move {
            loop {
                match rx.recv().await {
                    Ok((event_ns, event)) if event_ns == ns || event_ns == "*" => {
                        let gone = event["type"] == "ERROR";
                        let line = format!("{event}\n");
                        if gone {
                            // send it, then end the stream
                            return Some((
                                Ok::<_, std::io::Error>(line),
                                (rx, "<closed>".to_owned()),
                            ));
                        }
                        return Some((Ok(line), (rx, ns)));
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        return Response::new(Body::from_stream(futures::StreamExt::chain(head, stream)));
    }
    fake.0.lists.fetch_add(1, Ordering::SeqCst);
    let items: Vec<Value> = fake
        .0
        .secrets
        .lock()
        .unwrap()
        .iter()
        .filter(|((n, _), _)| *n == ns)
        .map(|(_, v)| v.clone())
        .collect();
    axum::Json(json!({"apiVersion": "v1", "kind": "SecretList",
        "metadata": {"resourceVersion": fake.0.version.load(Ordering::SeqCst).to_string()},
        "items": items}))
    .into_response()
}

async fn start_fake(fake: Fake) -> String {
    let app = Router::new()
        .route("/api/v1/namespaces/{ns}/secrets", get(secrets))
        .with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn client(url: &str) -> kube::Client {
    let config = kube::Config::new(url.parse().unwrap());
    kube::Client::try_from(config).unwrap()
}

fn names(d: &Discovered) -> Vec<String> {
    d.specs.iter().map(|s| s.target.name.to_string()).collect()
}

/// Waits until the current set satisfies `f`.
async fn until(h: &mut SourceHandle, what: &str, f: impl Fn(&Discovered) -> bool) {
    let result = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if f(&h.targets.borrow_and_update()) {
                return;
            }
            h.targets.changed().await.unwrap();
        }
    })
    .await;
    assert!(
        result.is_ok(),
        "timed out waiting for {what}; have {:?} invalid {:?}",
        names(&h.targets.borrow()),
        h.targets.borrow().invalid
    );
}

fn hook(name: &str, url: &str) -> String {
    json!({"name": name, "type": "webhook", "url": url, "headers": {"Authorization": "Bearer s3cret"}})
        .to_string()
}

#[tokio::test]
async fn list_watch_add_modify_delete_and_formats() {
    let fake = Fake::default();
    let a = hook("a", "http://a.example/hook");
    fake.put("team-a", "target-a", &[("target.json", &a)]);
    let b64 = base64::engine::general_purpose::STANDARD.encode(hook("b", "http://b.example/x"));
    fake.put("team-b", "target-b", &[("config", &b64)]);
    fake.put(
        "team-b",
        "target-c",
        &[
            ("name", "c"),
            ("type", "pagerduty"),
            ("routing_key", "0123456789abcdef0123456789abcdef"),
        ],
    );
    fake.put("team-a", "broken", &[("target.json", "{\"name\":\"x\"")]);
    fake.put(
        "team-c",
        "not-watched",
        &[("target.json", &hook("z", "http://z"))],
    );
    let url = start_fake(fake.clone()).await;
    let shutdown = CancellationToken::new();
    let mut h = targets::kube::watch_secrets(
        client(&url),
        KubeConfig {
            namespaces: vec!["team-a".into(), "team-b".into()],
            ..Default::default()
        },
        shutdown.clone(),
    );
    // initial list: three formats, the invalid one skipped with its reason
    until(&mut h, "initial list", |d| d.specs.len() == 3).await;
    {
        let d = h.targets.borrow();
        assert_eq!(names(&d), ["a", "b", "c"]);
        assert_eq!(d.invalid.len(), 1);
        assert_eq!(d.invalid[0].source, "team-a/broken");
        assert!(
            d.invalid[0].error.contains("invalid JSON"),
            "{:?}",
            d.invalid
        );
        assert_eq!(d.specs[0].source, "team-a/target-a");
        assert_eq!(
            d.specs[2].target.options["routing_key"],
            "0123456789abcdef0123456789abcdef"
        );
    }
    let status = h.status();
    assert_eq!((status.valid, status.invalid), (3, 1));
    assert!(status.last_refresh.is_some() && status.last_error.is_none());
    assert!(status.next_refresh.is_some());

    // watch: add
    fake.put(
        "team-a",
        "target-d",
        &[("name", "d"), ("type", "webhook"), ("url", "http://d/x")],
    );
    until(&mut h, "added d", |d| names(d).contains(&"d".to_owned())).await;
    // watch: modify
    fake.put(
        "team-a",
        "target-d",
        &[("name", "d"), ("type", "webhook"), ("url", "http://d2/x")],
    );
    until(&mut h, "modified d", |d| {
        d.specs.iter().any(|s| s.target.url == "http://d2/x")
    })
    .await;
    // an invalid change is skipped; the others keep working
    fake.put("team-b", "target-b", &[("config", "bm90IGpzb24=")]);
    until(&mut h, "b became invalid", |d| {
        !names(d).contains(&"b".to_owned())
            && d.invalid.iter().any(|i| i.source == "team-b/target-b")
    })
    .await;
    assert_eq!(
        names(&h.targets.borrow()),
        ["a", "d", "c"],
        "ordered by namespace/secret"
    );
    // watch: delete
    fake.delete("team-a", "target-d");
    until(&mut h, "deleted d", |d| !names(d).contains(&"d".to_owned())).await;
    // a duplicate name is skipped, naming both sources
    fake.put(
        "team-b",
        "dup",
        &[("target.json", &hook("a", "http://other"))],
    );
    until(&mut h, "duplicate", |d| {
        d.invalid.iter().any(|i| i.error.contains("defined twice"))
    })
    .await;
    // nothing secret in the reasons
    for i in &h.targets.borrow().invalid {
        assert!(!i.error.contains("s3cret"), "{i:?}");
    }
    shutdown.cancel();
}

#[tokio::test]
async fn gone_resyncs_and_unreachable_api_keeps_last_good_set() {
    let fake = Fake::default();
    fake.put("default", "a", &[("target.json", &hook("a", "http://a/x"))]);
    let url = start_fake(fake.clone()).await;
    let shutdown = CancellationToken::new();
    let mut h = targets::kube::watch_secrets(
        client(&url),
        KubeConfig {
            backoff_initial: Duration::from_millis(50),
            backoff_max: Duration::from_millis(400),
            ..Default::default()
        },
        shutdown.clone(),
    );
    until(&mut h, "initial", |d| names(d) == ["a"]).await;
    let lists = fake.0.lists.load(Ordering::SeqCst);
    // A change the watch never reports, then the watch expires: the re-list finds it.
    fake.put_silently("default", "b", &[("target.json", &hook("b", "http://b/x"))]);
    tokio::time::sleep(Duration::from_millis(100)).await;
    fake.expire_watches();
    until(&mut h, "resync after 410", |d| names(d) == ["a", "b"]).await;
    assert!(
        fake.0.lists.load(Ordering::SeqCst) > lists,
        "listed again after 410 Gone"
    );
    assert!(h.status().events >= 1);

    // The API goes away: the set is kept, errors recorded, retries back off.
    fake.0.down.store(true, Ordering::SeqCst);
    fake.expire_watches();
    let failing = tokio::time::timeout(Duration::from_secs(10), async {
        while h.status().consecutive_failures < 4 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(failing.is_ok(), "status {:?}", h.status());
    let status = h.status();
    assert!(
        status.last_error.as_deref().unwrap().contains("503"),
        "{status:?}"
    );
    assert_eq!(names(&h.targets.borrow()), ["a", "b"], "last good set kept");
    // backoff: 4 failures take at least 50 + 100 + 200 ms
    let before = h.status().consecutive_failures;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = h.status().consecutive_failures;
    assert!(after - before <= 2, "backed off: {before} -> {after}");

    // The API comes back with a change: picked up, error cleared.
    fake.put_silently(
        "default",
        "c",
        &[("name", "c"), ("type", "webhook"), ("url", "http://c")],
    );
    fake.0.down.store(false, Ordering::SeqCst);
    until(&mut h, "recovered", |d| names(d) == ["a", "b", "c"]).await;
    let status = h.status();
    assert_eq!(status.last_error, None);
    assert_eq!(status.consecutive_failures, 0);

    // A watch that answers 410 at once also re-lists.
    fake.0.gone_next_watch.store(true, Ordering::SeqCst);
    fake.put_silently(
        "default",
        "e",
        &[("name", "e"), ("type", "webhook"), ("url", "http://e")],
    );
    h.refresh();
    until(&mut h, "manual refresh", |d| {
        names(d).contains(&"e".to_owned())
    })
    .await;
    shutdown.cancel();
}

#[tokio::test]
async fn periodic_resync_finds_missed_changes() {
    let fake = Fake::default();
    fake.put("default", "a", &[("target.json", &hook("a", "http://a/x"))]);
    let url = start_fake(fake.clone()).await;
    let shutdown = CancellationToken::new();
    let mut h = targets::kube::watch_secrets(
        client(&url),
        KubeConfig {
            resync: Duration::from_millis(300),
            ..Default::default()
        },
        shutdown.clone(),
    );
    until(&mut h, "initial", |d| names(d) == ["a"]).await;
    fake.put_silently("default", "b", &[("target.json", &hook("b", "http://b/x"))]);
    until(&mut h, "resync", |d| names(d) == ["a", "b"]).await;
    assert!(fake.0.lists.load(Ordering::SeqCst) >= 2, "listed again");
    assert!(h.status().events >= 1, "the resync is counted");
    shutdown.cancel();
}
