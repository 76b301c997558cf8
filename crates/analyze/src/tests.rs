use chrono::TimeZone;

use super::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

/// A history of one point per minute from parallel series.
fn history(success: &[f64], latency: &[f64], errors: &[f64], queue: &[f64]) -> History {
    let n = success
        .len()
        .max(latency.len())
        .max(errors.len())
        .max(queue.len());
    let mut h = History::new(100);
    for i in 0..n {
        h.push(Point {
            at: t0() + chrono::Duration::minutes(i as i64),
            success_rate: success.get(i).copied().unwrap_or(100.0),
            latency_ms: latency.get(i).copied(),
            p50_ms: None,
            p95_ms: None,
            p99_ms: None,
            errors: errors.get(i).copied().unwrap_or(0.0),
            delivered: 0.0,
            queue_size: queue.get(i).copied().unwrap_or(0.0),
        });
    }
    h
}

fn run(h: &History) -> Analysis {
    analyze(h, &TrendConfig::default(), t0())
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 0.006, "{a} != {b}");
}

#[test]
fn stable_series_with_ema_and_sigma() {
    let a = run(&history(
        &[95.0, 96.0, 94.0, 95.0, 95.5],
        &[100.0, 110.0, 90.0, 100.0, 105.0],
        &[],
        &[],
    ));
    let s = &a.trends.success_rate;
    assert_eq!(s.trend, "stable");
    // ema: 95 → 95.3 → 94.91 → 94.937; σ of [95, 96, 94, 95] = √0.5
    close(s.ema, 94.94);
    close(s.std_dev, 0.71);
    close(s.change_pct, 0.59);
    assert_eq!(s.current, 95.5);
    let l = &a.trends.latency;
    assert_eq!(l.trend, "stable");
    // ema: 100 → 103 → 99.1 → 99.37; σ of [100, 110, 90, 100] = √50
    close(l.ema_ms, 99.37);
    close(l.std_dev_ms, 7.07);
    assert!(!a.trends.error_spike.detected);
    assert_eq!(a.trends.queue_growth.trend, "stable");
    assert!(
        a.summary.starts_with(
            "System stable: 95.5% success rate (stable), 105ms latency (stable), no error spikes"
        ),
        "{}",
        a.summary
    );
}

#[test]
fn rising_and_falling_success_rate() {
    let up = run(&history(&[90.0, 90.0, 90.0, 90.0, 100.0], &[], &[], &[]));
    assert_eq!(up.trends.success_rate.trend, "increasing");
    close(up.trends.success_rate.change_pct, 11.11);
    close(up.trends.success_rate.std_dev, 0.0);
    let down = run(&history(&[100.0, 100.0, 100.0, 100.0, 90.0], &[], &[], &[]));
    assert_eq!(down.trends.success_rate.trend, "decreasing");
    close(down.trends.success_rate.change_pct, -10.0);
    assert!(down.summary.starts_with("System needs attention"));
    let edge = run(&history(&[100.0, 100.0, 100.0, 100.0, 95.0], &[], &[], &[]));
    assert_eq!(
        edge.trends.success_rate.trend, "stable",
        "exactly −5 % is within the band"
    );
}

#[test]
fn latency_degrading_and_improving() {
    let l = |last| {
        run(&history(&[], &[100.0, 100.0, 100.0, 100.0, last], &[], &[]))
            .trends
            .latency
    };
    assert_eq!(l(130.0).trend, "degrading");
    close(l(130.0).change_pct, 30.0);
    assert_eq!(l(80.0).trend, "improving");
    assert_eq!(l(110.0).trend, "stable");
    assert_eq!(l(115.0).trend, "stable", "exactly +15 % is within the band");
}

#[test]
fn error_spike_beyond_three_sigma() {
    let spike = run(&history(&[], &[], &[2.0, 4.0, 2.0, 4.0, 30.0], &[]))
        .trends
        .error_spike;
    // ema: 2 → 2.6 → 2.42 → 2.894; σ = 1; threshold = 5.894
    assert!(spike.detected);
    close(spike.ema_errors, 2.89);
    close(spike.std_dev, 1.0);
    close(spike.threshold, 5.89);
    assert_eq!(spike.current_errors, 30);
    let normal = run(&history(&[], &[], &[2.0, 4.0, 2.0, 4.0, 5.0], &[]))
        .trends
        .error_spike;
    assert!(!normal.detected);
}

#[test]
fn queue_growth_rate_and_trend() {
    let grow = run(&history(&[], &[], &[], &[0.0, 10.0, 20.0, 30.0, 40.0]))
        .trends
        .queue_growth;
    assert_eq!(grow.trend, "increasing");
    close(grow.rate_per_min, 10.0);
    close(grow.ema_rate, 10.0);
    let drain = run(&history(&[], &[], &[], &[40.0, 30.0, 20.0, 10.0, 0.0]))
        .trends
        .queue_growth;
    assert_eq!(drain.trend, "decreasing");
    close(drain.rate_per_min, -10.0);
    let flat = run(&history(&[], &[], &[], &[5.0, 5.0, 5.5, 5.0, 5.0]))
        .trends
        .queue_growth;
    assert_eq!(flat.trend, "stable");
}

#[test]
fn too_few_points_is_stable() {
    let a = run(&history(
        &[100.0, 50.0],
        &[10.0, 1000.0],
        &[0.0, 100.0],
        &[0.0, 1000.0],
    ));
    assert_eq!(a.trends.success_rate.trend, "stable");
    assert_eq!(a.trends.latency.trend, "stable");
    assert!(!a.trends.error_spike.detected);
    assert_eq!(a.trends.queue_growth.trend, "stable");
    let empty = run(&History::new(10));
    assert_eq!(empty.samples, 0);
    assert_eq!(empty.trends.success_rate.current, 100.0);
}

#[test]
fn history_is_bounded() {
    let h = History::for_retention(
        std::time::Duration::from_secs(24 * 3600),
        std::time::Duration::from_secs(10),
    );
    assert_eq!(h.capacity(), 8640);
    let mut h = History::new(3);
    for i in 0..10 {
        h.push(Point {
            at: t0(),
            success_rate: f64::from(i),
            latency_ms: None,
            p50_ms: None,
            p95_ms: None,
            p99_ms: None,
            errors: 0.0,
            delivered: 0.0,
            queue_size: 0.0,
        });
    }
    assert_eq!(h.len(), 3);
    assert_eq!(h.points().next().map(|p| p.success_rate), Some(7.0));
}

#[test]
fn custom_thresholds() {
    let h = history(&[90.0, 90.0, 90.0, 90.0, 93.0], &[], &[], &[]);
    assert_eq!(run(&h).trends.success_rate.trend, "stable");
    let tight = TrendConfig {
        success_rate_pct: 2.0,
        ..Default::default()
    };
    assert_eq!(
        analyze(&h, &tight, t0()).trends.success_rate.trend,
        "increasing"
    );
}

/// Aggregated statistics with these cumulative job counters, latency histogram
/// (observations, mean in ms) and queue size.
fn stats(
    processed: u64,
    succeeded: u64,
    failed: u64,
    latency: (u64, f64),
    queue: u64,
) -> PublishingStats {
    let mut system = aggregate::SystemStats::default();
    system.jobs.processed = processed;
    system.jobs.succeeded = succeeded;
    system.jobs.failed = failed;
    system.latency.count = latency.0;
    system.latency.mean_ms = (latency.0 > 0).then_some(latency.1);
    system.queue.size = queue;
    PublishingStats {
        timestamp: t0(),
        system,
        targets: Default::default(),
        score: aggregate::HealthScore {
            score: 100.0,
            status: aggregate::Status::Healthy,
            components: Default::default(),
        },
        collection_errors: Default::default(),
    }
}

#[test]
fn sampler_turns_cumulative_counters_into_windows() {
    let mut sampler = Sampler::new();
    let at = |minute| t0() + chrono::Duration::minutes(minute);
    // (processed, succeeded, failed, (latency count, mean ms), queue)
    //   → (success rate, latency of the window, errors)
    for (minute, s, success_rate, latency_ms, errors) in [
        (0, stats(0, 0, 0, (0, 0.0), 0), 100.0, None, 0.0),
        (1, stats(10, 8, 2, (10, 40.0), 5), 80.0, Some(40.0), 2.0),
        // 10 more at 100 ms: the cumulative mean is 70, the window's 100
        (2, stats(20, 18, 2, (20, 70.0), 7), 100.0, Some(100.0), 0.0),
        (3, stats(20, 18, 2, (20, 70.0), 7), 100.0, None, 0.0),
        (4, stats(24, 19, 5, (24, 75.0), 3), 25.0, Some(100.0), 3.0),
        // counters lower than before (a reset) count as no change
        (5, stats(4, 1, 3, (4, 10.0), 0), 100.0, None, 0.0),
    ] {
        let p = sampler.point(&s, at(minute));
        assert_eq!(p.at, at(minute));
        assert_eq!(
            (p.success_rate, p.errors, p.queue_size),
            (success_rate, errors, s.system.queue.size as f64),
            "minute {minute}"
        );
        match (p.latency_ms, latency_ms) {
            (Some(got), Some(want)) => close(got, want),
            (got, want) => assert_eq!(got, want, "minute {minute}"),
        }
    }
    let mut first = Sampler::new();
    let p = first.point(&stats(10, 5, 5, (10, 1.0), 2), t0());
    assert_eq!(
        (p.success_rate, p.errors, p.latency_ms),
        (50.0, 5.0, Some(1.0)),
        "the first point covers everything so far"
    );
}

/// The reported problem: after an hour of fast deliveries every delivery takes 400 ms. The
/// first point taken after the change reports 400 ms and the trend is `degrading` (the
/// since-start-up median crept up over many intervals instead).
#[test]
fn a_latency_change_shows_in_the_first_window_after_it() {
    let mut sampler = Sampler::new();
    let mut h = History::new(1000);
    let (mut count, mut sum_ms) = (0u64, 0.0);
    let mut sample = |h: &mut History, minute: i64, n: u64, each_ms: f64| {
        count += n;
        sum_ms += n as f64 * each_ms;
        let s = stats(count, count, 0, (count, sum_ms / count as f64), 0);
        h.push(sampler.point(&s, t0() + chrono::Duration::minutes(minute)));
    };
    for minute in 0..60 {
        sample(&mut h, minute, 20, 3.0);
    }
    assert_eq!(run(&h).trends.latency.trend, "stable");
    sample(&mut h, 60, 20, 400.0);
    let latency = run(&h).trends.latency;
    close(latency.current_ms, 400.0);
    close(latency.ema_ms, 3.0);
    assert_eq!(latency.trend, "degrading", "{latency:?}");
}

#[test]
fn points_round_trip_through_json() {
    let h = history(&[99.5], &[12.25], &[3.0], &[7.0]);
    let p = h.points().next().cloned().unwrap();
    let json = serde_json::to_string(&p).unwrap();
    let back: Point = serde_json::from_str(&json).unwrap();
    assert_eq!(back, p);
    let none: Point = serde_json::from_str(
        r#"{"at":"2025-01-01T00:00:00Z","success_rate":100.0,"latency_ms":null,"errors":0.0,"queue_size":0.0}"#,
    )
    .unwrap();
    assert_eq!(none.latency_ms, None);
}

#[test]
fn trend_config_keys_defaults_and_checks() {
    let parse = |json: &str| serde_json::from_str::<TrendConfig>(json);
    let d = parse("{}").unwrap();
    assert_eq!(d, TrendConfig::default());
    assert_eq!(d.validate(), Ok(()));
    let c = parse(r#"{"alpha": 1, "success_rate_pct": 2.5, "latency_pct": 0, "spike_sigmas": 2, "queue_growth_tolerance": 0.5, "min_points": 0}"#).unwrap();
    assert_eq!((c.alpha, c.success_rate_pct, c.min_points), (1.0, 2.5, 0));
    assert_eq!(c.validate(), Ok(()));
    let e = parse(r#"{"alfa": 0.5}"#).unwrap_err().to_string();
    assert!(e.contains("unknown field `alfa`"), "{e}");
    for (json, field) in [
        (r#"{"alpha": 0}"#, "alpha"),
        (r#"{"alpha": 1.5}"#, "alpha"),
        (r#"{"alpha": -0.1}"#, "alpha"),
        (r#"{"success_rate_pct": -1}"#, "success_rate_pct"),
        (r#"{"latency_pct": -1}"#, "latency_pct"),
        (r#"{"spike_sigmas": -3}"#, "spike_sigmas"),
        (
            r#"{"queue_growth_tolerance": -1}"#,
            "queue_growth_tolerance",
        ),
    ] {
        let e = parse(json).unwrap().validate().unwrap_err();
        assert_eq!(e.field, field, "{json}");
        assert!(
            e.to_string()
                .starts_with(&format!("field `{field}`: must be")),
            "{e}"
        );
    }
    let nan = TrendConfig {
        alpha: f64::NAN,
        ..TrendConfig::default()
    };
    assert_eq!(nan.validate().unwrap_err().field, "alpha");
}

/// Percentiles of a window come from the histogram's growth over it, not from everything
/// since the start: a fast first minute, then a slow second one.
#[test]
fn window_percentiles_come_from_the_histograms_growth() {
    let mut sampler = Sampler::new();
    let with_buckets = |count: u64, buckets: Vec<u64>| {
        let mut s = stats(count, count, 0, (count, 1.0), 0);
        s.system.latency.buckets = buckets;
        s
    };
    // 100 deliveries in the first bucket.
    let mut b = vec![0u64; collect::BUCKETS.len() + 1];
    b[0] = 100;
    let p = sampler.point(&with_buckets(100, b.clone()), t0());
    let first = p.p99_ms.expect("a p99");
    assert!(first <= collect::BUCKETS[0] * 1000.0, "{p:?}");
    // Then 100 more, all in the eighth bucket: the window's median is there, although half of
    // everything since the start is in the first.
    b[7] = 100;
    let p = sampler.point(
        &with_buckets(200, b.clone()),
        t0() + chrono::Duration::minutes(1),
    );
    let (lo, hi) = (collect::BUCKETS[6] * 1000.0, collect::BUCKETS[7] * 1000.0);
    for q in [p.p50_ms, p.p95_ms, p.p99_ms] {
        let q = q.expect("percentiles");
        assert!(q > lo && q <= hi, "{q} not in ({lo}, {hi}]: {p:?}");
    }
    // A window without deliveries has none.
    let p = sampler.point(&with_buckets(200, b), t0() + chrono::Duration::minutes(2));
    assert_eq!((p.p50_ms, p.p99_ms), (None, None));
}
