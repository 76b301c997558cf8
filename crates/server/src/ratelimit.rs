//! Per-client rate limiting: one token bucket per client IP address, with a bounded number of
//! tracked clients.
//!
//! **Invariant:** memory is bounded by `max_clients`; when the table is full, buckets that have
//! refilled completely (they carry no information) are dropped first, then arbitrary ones, down
//! to 90 % of the cap, so the cost of a sweep is paid once per many new clients.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};

/// `rate_limit:` in the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "RawSettings")]
pub struct RateLimitSettings {
    /// Limits of the management API (everything except ingest and the health probes).
    pub api: LimitSettings,
    /// Limits of ingest (`/webhook`, `/api/v2/alerts`).
    pub ingest: LimitSettings,
    /// Peers (CIDRs) whose `X-Forwarded-For` is believed: load balancers, ingress controllers.
    #[schema(value_type = Vec<String>)]
    pub trusted_proxies: Vec<Cidr>,
    /// Most clients tracked at once per limiter (default 100 000).
    pub max_clients: usize,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            api: LimitSettings {
                enabled: true,
                per_minute: 100,
                burst: 20,
            },
            ingest: LimitSettings {
                enabled: true,
                per_minute: 6000,
                burst: 1000,
            },
            trusted_proxies: Vec::new(),
            max_clients: 100_000,
        }
    }
}

/// One limiter: a sustained rate and a burst.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LimitSettings {
    /// Off: no limit and no headers.
    pub enabled: bool,
    /// Sustained requests per minute per client.
    pub per_minute: u32,
    /// Requests a client may send at once (the bucket size).
    pub burst: u32,
}

/// `rate_limit:` as written; every key optional, defaults filled in per limiter.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawSettings {
    api: RawLimit,
    ingest: RawLimit,
    trusted_proxies: Vec<Cidr>,
    max_clients: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawLimit {
    enabled: Option<bool>,
    per_minute: Option<u32>,
    burst: Option<u32>,
}

impl RawLimit {
    fn resolve(self, name: &str, d: LimitSettings) -> Result<LimitSettings, String> {
        let l = LimitSettings {
            enabled: self.enabled.unwrap_or(d.enabled),
            per_minute: self.per_minute.unwrap_or(d.per_minute),
            burst: self.burst.unwrap_or(d.burst),
        };
        if l.per_minute == 0 || l.burst == 0 {
            return Err(format!(
                "{name}: per_minute and burst must be at least 1 (set enabled: false to turn the limit off)"
            ));
        }
        Ok(l)
    }
}

impl TryFrom<RawSettings> for RateLimitSettings {
    type Error = String;

    fn try_from(raw: RawSettings) -> Result<Self, String> {
        let d = Self::default();
        let max_clients = raw.max_clients.unwrap_or(d.max_clients);
        if max_clients == 0 {
            return Err("max_clients must be at least 1".to_owned());
        }
        Ok(Self {
            api: raw.api.resolve("api", d.api)?,
            ingest: raw.ingest.resolve("ingest", d.ingest)?,
            trusted_proxies: raw.trusted_proxies,
            max_clients,
        })
    }
}

/// An IP network such as `10.0.0.0/8` or `::1/128` (a bare address is a single host); the
/// outbound guard's type, so both match IPv4-mapped IPv6 addresses as IPv4.
pub use publish::outbound::Cidr;

/// The client a request is counted against: the peer, unless the peer is a trusted proxy; then
/// the right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
    let Some(peer) = peer.map(publish::outbound::normalize) else {
        // In-process requests (no socket) share one bucket.
        return IpAddr::from([0, 0, 0, 0]);
    };
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .map(|hop| hop.parse::<IpAddr>().ok().map(publish::outbound::normalize))
        .collect::<Option<Vec<_>>>()
        // A malformed header: fall back to the peer rather than guessing.
        .unwrap_or_default();
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        client = hop;
        if !is_trusted(hop) {
            break;
        }
    }
    client
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// The verdict on one request, with what the `X-RateLimit-*` headers say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// The bucket size.
    pub limit: u32,
    /// Requests the client may still send right now.
    pub remaining: u32,
    /// Seconds until the bucket is full again.
    pub reset_secs: u64,
    /// Seconds until the next request would be allowed (0 when allowed).
    pub retry_after_secs: u64,
}

/// Token buckets keyed by client IP.
#[derive(Debug)]
pub struct Limiter {
    name: &'static str,
    burst: f64,
    per_sec: f64,
    max_clients: usize,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl Limiter {
    /// A limiter; `name` labels its tracked-clients gauge (`api` or `ingest`).
    pub fn new(name: &'static str, settings: &LimitSettings, max_clients: usize) -> Self {
        Self {
            name,
            burst: f64::from(settings.burst.max(1)),
            per_sec: f64::from(settings.per_minute.max(1)) / 60.0,
            max_clients: max_clients.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `client` at `now`.
    pub fn check(&self, client: IpAddr, now: Instant) -> Decision {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !buckets.contains_key(&client) && buckets.len() >= self.max_clients {
            self.evict(&mut buckets, now);
        }
        let burst = self.burst;
        let per_sec = self.per_sec;
        let bucket = buckets.entry(client).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_sec).min(burst);
        bucket.updated = now;
        let allowed = bucket.tokens >= 1.0;
        if allowed {
            bucket.tokens -= 1.0;
        }
        let tokens = bucket.tokens;
        let tracked = buckets.len();
        drop(buckets);
        metrics::gauge!(crate::metrics::RATE_LIMIT_CLIENTS, "limiter" => self.name)
            .set(tracked as f64);
        let secs = |t: f64| {
            Duration::from_secs_f64(t.max(0.0) / per_sec)
                .as_secs_f64()
                .ceil() as u64
        };
        Decision {
            allowed,
            limit: burst as u32,
            remaining: tokens.floor() as u32,
            reset_secs: secs(burst - tokens),
            retry_after_secs: if allowed {
                0
            } else {
                secs(1.0 - tokens).max(1)
            },
        }
    }

    /// Clients tracked now.
    pub fn tracked(&self) -> usize {
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    fn evict(&self, buckets: &mut HashMap<IpAddr, Bucket>, now: Instant) {
        let (burst, per_sec) = (self.burst, self.per_sec);
        buckets.retain(|_, b| {
            let elapsed = now.saturating_duration_since(b.updated).as_secs_f64();
            b.tokens + elapsed * per_sec < burst
        });
        let target = self.max_clients - self.max_clients.div_ceil(10);
        if buckets.len() > target {
            let excess = buckets.len() - target;
            let victims: Vec<IpAddr> = buckets.keys().take(excess).copied().collect();
            for ip in victims {
                buckets.remove(&ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(per_minute: u32, burst: u32) -> LimitSettings {
        LimitSettings {
            enabled: true,
            per_minute,
            burst,
        }
    }

    #[test]
    fn burst_then_refill() {
        let l = Limiter::new("api", &settings(60, 3), 10);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        let remaining: Vec<u32> = (0..3).map(|_| l.check(ip, t0).remaining).collect();
        assert_eq!(remaining, [2, 1, 0]);
        let d = l.check(ip, t0);
        assert!(!d.allowed);
        assert_eq!((d.limit, d.retry_after_secs, d.reset_secs), (3, 1, 3));
        // Another client has its own bucket.
        assert!(l.check("10.0.0.2".parse().unwrap(), t0).allowed);
        // One token a second comes back.
        assert!(l.check(ip, t0 + Duration::from_millis(1000)).allowed);
        assert!(!l.check(ip, t0 + Duration::from_millis(1000)).allowed);
    }

    #[test]
    fn tracked_clients_stay_under_the_cap() {
        let l = Limiter::new("api", &settings(60, 5), 100);
        let t0 = Instant::now();
        for i in 0..10_000u32 {
            l.check(IpAddr::from(i.to_be_bytes()), t0);
            assert!(l.tracked() <= 100);
        }
        // Full buckets go first: a client that is being limited survives a sweep of idle ones.
        let l = Limiter::new("api", &settings(60, 2), 10);
        let hot: IpAddr = "192.0.2.1".parse().unwrap();
        for i in 0..9u32 {
            l.check(IpAddr::from(i.to_be_bytes()), t0);
        }
        let later = t0 + Duration::from_secs(5);
        for _ in 0..3 {
            l.check(hot, later);
        }
        l.check("192.0.2.2".parse().unwrap(), later);
        assert_eq!(l.tracked(), 2);
        assert!(
            !l.check(hot, later).allowed,
            "the limited client was forgotten"
        );
    }

    #[test]
    fn forwarded_for_only_from_trusted_peers() {
        let trusted: Vec<Cidr> = vec!["10.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()];
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "203.0.113.7, 10.1.2.3".parse().unwrap());
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let check = |peer: &str, h: &HeaderMap, want: &str| {
            assert_eq!(
                client_ip(Some(ip(peer)), h, &trusted),
                ip(want),
                "peer {peer}"
            );
        };
        check("10.9.9.9", &h, "203.0.113.7");
        check("::1", &h, "203.0.113.7");
        check("::ffff:10.9.9.9", &h, "203.0.113.7");
        check("198.51.100.1", &h, "198.51.100.1");
        check("10.9.9.9", &HeaderMap::new(), "10.9.9.9");
        h.insert("x-forwarded-for", "1.2.3.4, 5.6.7.8".parse().unwrap());
        check("10.9.9.9", &h, "5.6.7.8");
        h.insert("x-forwarded-for", "nonsense".parse().unwrap());
        check("10.9.9.9", &h, "10.9.9.9");
        assert_eq!(client_ip(None, &h, &trusted), ip("0.0.0.0"));
    }

    #[test]
    fn settings_fill_defaults_per_limiter() {
        let parse = |y: &str| serde_yaml::from_str::<RateLimitSettings>(y);
        let s = parse("api: {enabled: false}\ningest: {burst: 5}\n").unwrap();
        assert!(!s.api.enabled && s.api.per_minute == 100);
        assert_eq!((s.ingest.per_minute, s.ingest.burst), (6000, 5));
        assert_eq!(s.max_clients, 100_000);
        assert!(parse("api: {per_minute: 0}\n").is_err());
        assert!(parse("api: {rate: 1}\n").is_err());
        assert!(parse("trusted_proxies: [10.0.0.0/99]\n").is_err());
    }

    #[test]
    fn cidr_parsing() {
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("banana".parse::<Cidr>().is_err());
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        assert_eq!("fd00::/8".parse::<Cidr>().unwrap().to_string(), "fd00::/8");
    }
}
