//! `WebhookSink` behaviour as seen by a real HTTP client.

use std::time::{Duration, Instant};

use testkit::{Answer, Behaviour, WebhookSink};

const WAIT: Duration = Duration::from_secs(5);

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

#[tokio::test]
async fn default_ok_records_method_path_headers_and_body() {
    let sink = WebhookSink::start().await;
    assert!(sink.addr().ip().is_loopback());
    assert_eq!(sink.url("/hook"), format!("http://{}/hook", sink.addr()));

    let resp = client()
        .post(sink.url("/hook?x=1&y=2"))
        .header("X-Custom-Thing", "Value-1")
        .json(&serde_json::json!({"hello": "world", "n": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "ok");

    let reqs = sink.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/hook?x=1&y=2");
    assert_eq!(r.answered, Answer::Status(200));
    assert_eq!(r.header("x-custom-thing"), Some("Value-1"));
    assert_eq!(r.header("X-CUSTOM-THING"), Some("Value-1"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.headers.iter().all(|(n, _)| *n == n.to_lowercase()));
    assert_eq!(r.header("absent"), None);
    assert_eq!(r.json(), serde_json::json!({"hello": "world", "n": 3}));
    assert!(r.received_at <= Instant::now());
    assert_eq!(sink.delivered().len(), 1);
}

#[tokio::test]
async fn status_behaviour_is_not_delivered() {
    let sink = WebhookSink::start().await;
    sink.script([Behaviour::Status(503)]);
    let resp = client()
        .post(sink.url("/x"))
        .body("payload")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.text().await.unwrap(), "scripted 503");
    let reqs = sink.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].answered, Answer::Status(503));
    assert_eq!(&reqs[0].body[..], b"payload");
    assert!(sink.delivered().is_empty());
}

#[tokio::test]
async fn respond_behaviour_sends_headers_and_body() {
    let sink = WebhookSink::start().await;
    sink.script([Behaviour::Respond {
        status: 201,
        headers: vec![
            ("X-Reply".to_owned(), "yes".to_owned()),
            ("Content-Type".to_owned(), "application/json".to_owned()),
        ],
        body: r#"{"id":"abc"}"#.to_owned(),
    }]);
    let resp = client().post(sink.url("/x")).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["x-reply"], "yes");
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(resp.headers().get_all("content-type").iter().count(), 1);
    assert_eq!(resp.text().await.unwrap(), r#"{"id":"abc"}"#);
    assert_eq!(sink.delivered().len(), 1);
}

#[tokio::test]
async fn too_many_requests_with_and_without_retry_after() {
    let sink = WebhookSink::start().await;
    sink.script([
        Behaviour::TooManyRequests {
            retry_after: Some("7".to_owned()),
        },
        Behaviour::TooManyRequests { retry_after: None },
    ]);
    let c = client();
    let resp = c.post(sink.url("/x")).send().await.unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");
    let resp = c.post(sink.url("/x")).send().await.unwrap();
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().get("retry-after").is_none());
    let answers: Vec<Answer> = sink.requests().into_iter().map(|r| r.answered).collect();
    assert_eq!(answers, [Answer::Status(429), Answer::Status(429)]);
    assert!(sink.delivered().is_empty());
}

#[tokio::test]
async fn slow_really_delays_then_behaves() {
    let sink = WebhookSink::start().await;
    let delay = Duration::from_millis(300);
    sink.script([
        Behaviour::slow(delay, Behaviour::Ok),
        Behaviour::Slow {
            delay,
            then: Box::new(Behaviour::Status(500)),
        },
    ]);
    let c = client();

    let start = Instant::now();
    let resp = c.post(sink.url("/slow")).body("b1").send().await.unwrap();
    assert!(
        start.elapsed() >= delay,
        "answered after {:?}",
        start.elapsed()
    );
    assert_eq!(resp.status(), 200);

    let start = Instant::now();
    let resp = c.post(sink.url("/slow")).body("b2").send().await.unwrap();
    assert!(
        start.elapsed() >= delay,
        "answered after {:?}",
        start.elapsed()
    );
    assert_eq!(resp.status(), 500);

    let reqs = sink.requests();
    assert_eq!(&reqs[0].body[..], b"b1");
    assert_eq!(&reqs[1].body[..], b"b2");
    assert_eq!(sink.delivered().len(), 1);
}

#[tokio::test]
async fn slow_request_is_recorded_before_it_is_answered() {
    let sink = WebhookSink::start().await;
    sink.script([Behaviour::slow(Duration::from_millis(500), Behaviour::Ok)]);
    let url = sink.url("/slow");
    let pending = tokio::spawn(async move { client().post(url).body("x").send().await });
    let reqs = sink.wait_for_requests(1, WAIT).await;
    assert_eq!(reqs[0].answered, Answer::Status(200));
    // Still sleeping: received but not yet delivered.
    assert!(sink.delivered().is_empty());
    let delivered = sink.wait_for_delivered(1, WAIT).await;
    assert_eq!(&delivered[0].body[..], b"x");
    assert_eq!(pending.await.unwrap().unwrap().status(), 200);
}

#[tokio::test]
async fn drop_closes_connection_without_status() {
    let sink = WebhookSink::start().await;
    sink.script([Behaviour::Drop]);
    let c = client();
    let err = c
        .post(sink.url("/drop"))
        .body("dropped body")
        .send()
        .await
        .expect_err("a dropped connection must not produce a response");
    assert!(err.status().is_none(), "{err:?}");
    assert!(err.is_connect() || err.is_request(), "{err:?}");

    let reqs = sink.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].answered, Answer::Dropped);
    assert_eq!(&reqs[0].body[..], b"dropped body");
    assert!(sink.delivered().is_empty());

    // The next request (new connection) gets the default again.
    let resp = c.post(sink.url("/drop")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn drop_after_slow_still_drops() {
    let sink = WebhookSink::start().await;
    sink.script([Behaviour::slow(Duration::from_millis(100), Behaviour::Drop)]);
    let start = Instant::now();
    let err = client()
        .post(sink.url("/"))
        .body("b")
        .send()
        .await
        .unwrap_err();
    assert!(start.elapsed() >= Duration::from_millis(100));
    assert!(
        err.status().is_none() && (err.is_connect() || err.is_request()),
        "{err:?}"
    );
    assert_eq!(sink.requests()[0].answered, Answer::Dropped);
}

#[tokio::test]
async fn script_is_consumed_in_order_then_default_applies() {
    let sink = WebhookSink::start().await;
    sink.script([Behaviour::Status(500), Behaviour::Status(502)]);
    sink.script([Behaviour::Ok]);
    sink.set_default(Behaviour::Status(404));
    let c = client();
    let mut statuses = Vec::new();
    for i in 0..5 {
        let resp = c.post(sink.url(&format!("/n/{i}"))).send().await.unwrap();
        statuses.push(resp.status().as_u16());
    }
    assert_eq!(statuses, [500, 502, 200, 404, 404]);
    let paths: Vec<String> = sink.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/n/0", "/n/1", "/n/2", "/n/3", "/n/4"]);
    let delivered = sink.delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].path, "/n/2");
}

#[tokio::test]
async fn keep_alive_connection_serves_many_requests() {
    let sink = WebhookSink::start().await;
    let c = client();
    for _ in 0..20 {
        assert_eq!(c.get(sink.url("/k")).send().await.unwrap().status(), 200);
    }
    assert_eq!(sink.delivered().len(), 20);
    assert!(
        sink.requests()
            .iter()
            .all(|r| r.method == "GET" && r.body.is_empty())
    );
}

#[tokio::test]
async fn wait_for_delivered_waits_for_late_requests() {
    let sink = WebhookSink::start().await;
    let url = sink.url("/late");
    tokio::spawn(async move {
        let c = client();
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            c.post(&url).body("late").send().await.unwrap();
        }
    });
    let delivered = sink.wait_for_delivered(3, WAIT).await;
    assert_eq!(delivered.len(), 3);
}

#[tokio::test]
#[should_panic(expected = "only 1 arrived")]
async fn wait_for_delivered_panics_with_count_on_timeout() {
    let sink = WebhookSink::start().await;
    sink.script([Behaviour::Status(500)]);
    let c = client();
    c.post(sink.url("/a")).send().await.unwrap();
    c.post(sink.url("/b")).send().await.unwrap();
    sink.wait_for_delivered(2, Duration::from_millis(200)).await;
}

#[tokio::test]
async fn clear_forgets_requests() {
    let sink = WebhookSink::start().await;
    client().post(sink.url("/a")).send().await.unwrap();
    assert_eq!(sink.requests().len(), 1);
    sink.clear();
    assert!(sink.requests().is_empty());
    assert!(sink.delivered().is_empty());
    client().post(sink.url("/b")).send().await.unwrap();
    assert_eq!(sink.wait_for_delivered(1, WAIT).await[0].path, "/b");
}

#[tokio::test]
async fn server_stops_when_last_handle_is_dropped() {
    let sink = WebhookSink::start().await;
    let url = sink.url("/");
    let clone = sink.clone();
    drop(sink);
    // A clone keeps it alive.
    assert_eq!(client().get(&url).send().await.unwrap().status(), 200);
    drop(clone);
    let deadline = Instant::now() + WAIT;
    loop {
        // Fresh client each time so no pooled connection is reused.
        match client().get(&url).send().await {
            Err(e) => {
                assert!(e.is_connect() || e.is_request(), "{e:?}");
                break;
            }
            Ok(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok(r) => panic!("server still answering ({}) after drop", r.status()),
        }
    }
}
