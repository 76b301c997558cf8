//! A metrics recorder that keeps the service's own counters and histograms in memory, so
//! collectors read them without rendering or parsing the Prometheus exposition.

use std::{
    collections::HashMap,
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering},
    },
};

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};

/// Histogram bucket bounds in seconds (the same as the Prometheus exposition uses).
pub const BUCKETS: [f64; 13] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// A fixed-bucket histogram (cumulative counts are computed on read).
#[derive(Debug, Default)]
pub struct TapHistogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_bits: AtomicU64,
}

impl TapHistogram {
    /// Per-bucket counts (not cumulative), observations above the last bound excluded.
    pub fn buckets(&self) -> [u64; BUCKETS.len()] {
        std::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed))
    }

    /// Observations.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Sum of observations.
    pub fn sum(&self) -> f64 {
        f64::from_bits(self.sum_bits.load(Ordering::Relaxed))
    }
}

impl HistogramFn for TapHistogram {
    fn record(&self, value: f64) {
        if let Some(i) = BUCKETS.iter().position(|b| value <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let _ = self
            .sum_bits
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + value).to_bits())
            });
    }
}

#[derive(Debug, Default)]
struct TapCounter(AtomicU64);

impl CounterFn for TapCounter {
    fn increment(&self, value: u64) {
        self.0.fetch_add(value, Ordering::Relaxed);
    }
    fn absolute(&self, value: u64) {
        self.0.fetch_max(value, Ordering::Relaxed);
    }
}

#[derive(Debug, Default)]
struct TapGauge(AtomicU64);

impl GaugeFn for TapGauge {
    fn increment(&self, value: f64) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                Some((f64::from_bits(b) + value).to_bits())
            });
    }
    fn decrement(&self, value: f64) {
        self.increment(-value);
    }
    fn set(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
    }
}

#[derive(Debug, Default)]
struct Inner {
    counters: RwLock<HashMap<Key, Arc<TapCounter>>>,
    gauges: RwLock<HashMap<Key, Arc<TapGauge>>>,
    histograms: RwLock<HashMap<Key, Arc<TapHistogram>>>,
}

/// The in-memory tap: install [`Tap::recorder`] next to the exporter (a fanout), read with
/// [`Tap::counters`], [`Tap::gauges`] and [`Tap::histograms`].
#[derive(Debug, Clone, Default)]
pub struct Tap {
    inner: Arc<Inner>,
}

/// The recorder side of a [`Tap`].
#[derive(Debug, Clone)]
pub struct TapRecorder {
    inner: Arc<Inner>,
}

/// The tap keeps the service's own families (named under [`publish::metrics::NAMESPACES`]);
/// everything else is ignored.
fn kept(key: &Key) -> bool {
    publish::metrics::NAMESPACES
        .iter()
        .any(|p| key.name().starts_with(p))
}

fn get_or_insert<T: Default>(map: &RwLock<HashMap<Key, Arc<T>>>, key: &Key) -> Arc<T> {
    if let Some(v) = map
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(key)
    {
        return v.clone();
    }
    map.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .entry(key.clone())
        .or_default()
        .clone()
}

impl Recorder for TapRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        if !kept(key) {
            return Counter::noop();
        }
        Counter::from_arc(get_or_insert(&self.inner.counters, key))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        if !kept(key) {
            return Gauge::noop();
        }
        Gauge::from_arc(get_or_insert(&self.inner.gauges, key))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        if !kept(key) {
            return Histogram::noop();
        }
        Histogram::from_arc(get_or_insert(&self.inner.histograms, key))
    }
}

/// Labels of one series, in registration order.
pub type Labels = Vec<(String, String)>;

fn labels(key: &Key) -> Labels {
    key.labels()
        .map(|l| (l.key().to_owned(), l.value().to_owned()))
        .collect()
}

impl Tap {
    /// An empty tap.
    pub fn new() -> Self {
        Self::default()
    }

    /// The recorder feeding this tap.
    pub fn recorder(&self) -> TapRecorder {
        TapRecorder {
            inner: self.inner.clone(),
        }
    }

    /// Calls `f` with the labels and value of every counter series named `name`.
    pub fn counters(&self, name: &str, mut f: impl FnMut(&Key, u64)) {
        let map = self
            .inner
            .counters
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (k, v) in map.iter().filter(|(k, _)| k.name() == name) {
            f(k, v.0.load(Ordering::Relaxed));
        }
    }

    /// Every counter series whose name starts with `prefix`, with its labels.
    pub fn counters_with_prefix(&self, prefix: &str) -> Vec<(String, Labels, u64)> {
        let map = self
            .inner
            .counters
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.iter()
            .filter(|(k, _)| k.name().starts_with(prefix))
            .map(|(k, v)| (k.name().to_owned(), labels(k), v.0.load(Ordering::Relaxed)))
            .collect()
    }

    /// Calls `f` with every gauge series named `name`.
    pub fn gauges(&self, name: &str, mut f: impl FnMut(&Key, f64)) {
        let map = self
            .inner
            .gauges
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (k, v) in map.iter().filter(|(k, _)| k.name() == name) {
            f(k, f64::from_bits(v.0.load(Ordering::Relaxed)));
        }
    }

    /// Calls `f` with every histogram series named `name`.
    pub fn histograms(&self, name: &str, mut f: impl FnMut(&Key, &TapHistogram)) {
        let map = self
            .inner
            .histograms
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (k, v) in map.iter().filter(|(k, _)| k.name() == name) {
            f(k, v);
        }
    }
}

/// The value of label `name` in `key`, if any.
pub fn label<'k>(key: &'k Key, name: &str) -> Option<&'k str> {
    key.labels().find(|l| l.key() == name).map(|l| l.value())
}

#[cfg(test)]
mod tests {
    use super::*;

    use queue::metrics::{DLQ_SIZE, JOB_DURATION_SECONDS, JOBS_PROCESSED_TOTAL};

    #[test]
    fn keeps_our_families_only() {
        let tap = Tap::new();
        metrics::with_local_recorder(&tap.recorder(), || {
            metrics::counter!(JOBS_PROCESSED_TOTAL, "target" => "a", "state" => "delivered")
                .increment(2);
            metrics::counter!(JOBS_PROCESSED_TOTAL, "target" => "a", "state" => "delivered")
                .increment(1);
            metrics::counter!("other_total").increment(5);
            metrics::histogram!(JOB_DURATION_SECONDS, "target" => "a").record(0.2);
            metrics::histogram!(JOB_DURATION_SECONDS, "target" => "a").record(100.0);
            metrics::gauge!(DLQ_SIZE).set(4.0);
        });
        let mut seen = Vec::new();
        tap.counters(JOBS_PROCESSED_TOTAL, |k, v| {
            seen.push((label(k, "state").map(str::to_owned), v));
        });
        assert_eq!(seen, vec![(Some("delivered".to_owned()), 3)]);
        assert!(tap.counters_with_prefix("other").is_empty());
        let mut h = None;
        tap.histograms(JOB_DURATION_SECONDS, |_, hist| {
            h = Some((hist.count(), hist.sum(), hist.buckets()[5]));
        });
        assert_eq!(h, Some((2, 100.2, 1)));
        let mut g = 0.0;
        tap.gauges(DLQ_SIZE, |_, v| g = v);
        assert_eq!(g, 4.0);
    }

    /// Every family a collector reads is one the tap keeps.
    #[test]
    fn keeps_every_family_the_collectors_read() {
        for name in [
            queue::metrics::QUEUE_SUBMISSIONS_TOTAL,
            queue::metrics::JOBS_PROCESSED_TOTAL,
            queue::metrics::DLQ_WRITES_TOTAL,
            queue::metrics::JOB_DURATION_SECONDS,
            publish::metrics::PARALLEL_REQUESTS_TOTAL,
            publish::metrics::PARALLEL_TARGETS_TOTAL,
        ] {
            assert!(kept(&Key::from_static_name(name)), "{name}");
        }
    }
}
