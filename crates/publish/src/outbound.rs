//! Outbound safety: which addresses a target-supplied URL may reach.
//!
//! A webhook URL comes from whoever writes target definitions (a file, a Kubernetes Secret).
//! Without a guard it could point the service at its own loopback interface, the private
//! network around it, or a cloud metadata endpoint (server-side request forgery). An
//! [`Outbound`] guard refuses such addresses unless the operator allows them:
//!
//! - literal IP hosts are checked when a publisher is built and again before each request
//!   ([`Outbound::check_url`]);
//! - host names are resolved by a guarded resolver plugged into the HTTP client
//!   ([`Outbound::dns_resolver`]): a name any of whose addresses is refused is not connected
//!   to, which also covers DNS rebinding and redirects to names;
//! - followed redirects are checked hop by hop ([`Outbound::redirect_policy`]).
//!
//! The name lookup itself is injectable ([`NameResolver`]) so tests can map a name to any
//! address.

use std::{
    collections::HashMap,
    fmt,
    future::Future,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    pin::Pin,
    str::FromStr,
    sync::Arc,
};

use serde::{Deserialize, Deserializer};

/// An IP network written `10.0.0.0/8`, `fd00::/8`, or a single address (`127.0.0.1`): the one
/// network type of the service, for the outbound allow-list and for trusted proxies.
///
/// Addresses are normalised before matching ([`normalize`]): an IPv4-mapped IPv6 address
/// (`::ffff:10.0.0.1`, as a dual-stack socket reports an IPv4 peer) is matched as its IPv4
/// address, so `10.0.0.0/8` contains `::ffff:10.0.0.1`. A network written in the mapped form
/// (`::ffff:10.0.0.0/104`) is read as the IPv4 network it stands for (`10.0.0.0/8`). Host bits
/// are cleared (`10.1.2.3/8` is `10.0.0.0/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr(ipnet::IpNet);

impl Cidr {
    /// Whether `ip`, normalised, is inside. An IPv4 network never contains an IPv6 address
    /// other than an IPv4-mapped one (nor the other way round).
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&normalize(ip))
    }

    /// The network.
    pub fn net(&self) -> ipnet::IpNet {
        self.0
    }
}

/// The address as it is matched against networks: an IPv4-mapped IPv6 address
/// (`::ffff:a.b.c.d`) becomes its IPv4 address; every other address stays as it is (other
/// IPv6 forms that embed an IPv4 address, such as NAT64, are different addresses).
pub fn normalize(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

impl From<ipnet::IpNet> for Cidr {
    /// Host bits cleared; a network inside `::ffff:0:0/96` becomes the IPv4 network it maps.
    fn from(net: ipnet::IpNet) -> Self {
        if let ipnet::IpNet::V6(v6) = net
            && let Some(v4) = v6.addr().to_ipv4_mapped()
            && let Some(prefix) = v6.prefix_len().checked_sub(96)
            && let Ok(v4) = ipnet::Ipv4Net::new(v4, prefix)
        {
            return Self(ipnet::IpNet::V4(v4.trunc()));
        }
        Self(net.trunc())
    }
}

impl FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not an IP network (write e.g. 10.0.0.0/8 or ::1/128)");
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a.trim(), Some(p.trim())),
            None => (s.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let net = match prefix {
            Some(p) => {
                let p = p.parse::<u8>().map_err(|_| bad())?;
                ipnet::IpNet::new(addr, p).map_err(|_| bad())?
            }
            None => ipnet::IpNet::from(addr),
        };
        Ok(Self::from(net))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for Cidr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The service-wide outbound policy (`outbound:` in the server configuration).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct OutboundPolicy {
    /// Refuse `http://` webhook URLs (and redirects to them).
    pub https_only: bool,
    /// Networks reachable even though they are loopback, private, link-local, ...
    #[schema(value_type = Vec<String>)]
    pub allow: Vec<Cidr>,
}

impl OutboundPolicy {
    /// A policy that allows `networks` (for tests and examples on loopback).
    pub fn allowing(networks: &[&str]) -> Result<Self, String> {
        Ok(Self {
            https_only: false,
            allow: networks
                .iter()
                .map(|n| n.parse())
                .collect::<Result<_, _>>()?,
        })
    }

    /// Why `ip` may not be reached, or `None` when it may (public, or in `allow`).
    pub fn verdict(&self, ip: IpAddr) -> Option<Blocked> {
        if self.allow.iter().any(|net| net.contains(ip)) {
            return None;
        }
        classify(ip)
    }
}

/// Why an address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A cloud metadata endpoint (169.254.169.254, fd00:ec2::254, 100.100.100.200,
    /// 192.0.0.192).
    Metadata,
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// RFC 1918, fc00::/7, fec0::/10.
    Private,
    /// 169.254.0.0/16, fe80::/10.
    LinkLocal,
    /// 0.0.0.0, ::.
    Unspecified,
    /// Carrier-grade NAT, 100.64.0.0/10.
    SharedAddressSpace,
    /// 224.0.0.0/4, ff00::/8.
    Multicast,
    /// 255.255.255.255.
    Broadcast,
    /// Other special-purpose ranges (0.0.0.0/8, 192.0.0.0/24, 198.18.0.0/15, 240.0.0.0/4,
    /// 100::/64, 64:ff9b:1::/48).
    Reserved,
}

impl Reason {
    /// The reason as shown in errors.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Metadata => "cloud metadata",
            Reason::Loopback => "loopback",
            Reason::Private => "private",
            Reason::LinkLocal => "link-local",
            Reason::Unspecified => "unspecified",
            Reason::SharedAddressSpace => "carrier-grade NAT",
            Reason::Multicast => "multicast",
            Reason::Broadcast => "broadcast",
            Reason::Reserved => "reserved",
        }
    }
}

/// Why an address is refused, and the IPv4 address an IPv6 address embeds when that is what
/// was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocked {
    /// The kind of address.
    pub reason: Reason,
    /// The IPv4 address inside an IPv4-mapped, -compatible, NAT64, 6to4 or Teredo address.
    pub embedded: Option<Ipv4Addr>,
}

impl fmt::Display for Blocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason.as_str())?;
        if let Some(v4) = self.embedded {
            write!(f, ", embeds IPv4 {v4}")?;
        }
        Ok(())
    }
}

/// Classifies an address without any allow-list: `None` for an ordinary public address.
pub fn classify(ip: IpAddr) -> Option<Blocked> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4).map(|reason| Blocked {
            reason,
            embedded: None,
        }),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn mask32(v: u32, prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        v & (u32::MAX << (32 - u32::from(prefix)))
    }
}

fn mask128(v: u128, prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        v & (u128::MAX << (128 - u32::from(prefix)))
    }
}

fn in4(ip: Ipv4Addr, net: [u8; 4], prefix: u8) -> bool {
    mask32(u32::from(ip), prefix) == u32::from(Ipv4Addr::from(net))
}

fn classify_v4(ip: Ipv4Addr) -> Option<Reason> {
    const METADATA: [Ipv4Addr; 3] = [
        Ipv4Addr::new(169, 254, 169, 254),
        Ipv4Addr::new(100, 100, 100, 200),
        Ipv4Addr::new(192, 0, 0, 192),
    ];
    let reason = if METADATA.contains(&ip) {
        Reason::Metadata
    } else if ip.is_unspecified() {
        Reason::Unspecified
    } else if ip.is_broadcast() {
        Reason::Broadcast
    } else if in4(ip, [127, 0, 0, 0], 8) {
        Reason::Loopback
    } else if in4(ip, [10, 0, 0, 0], 8)
        || in4(ip, [172, 16, 0, 0], 12)
        || in4(ip, [192, 168, 0, 0], 16)
    {
        Reason::Private
    } else if in4(ip, [169, 254, 0, 0], 16) {
        Reason::LinkLocal
    } else if in4(ip, [100, 64, 0, 0], 10) {
        Reason::SharedAddressSpace
    } else if in4(ip, [224, 0, 0, 0], 4) {
        Reason::Multicast
    } else if in4(ip, [0, 0, 0, 0], 8)
        || in4(ip, [192, 0, 0, 0], 24)
        || in4(ip, [198, 18, 0, 0], 15)
        || in4(ip, [240, 0, 0, 0], 4)
    {
        Reason::Reserved
    } else {
        return None;
    };
    Some(reason)
}

fn in6(ip: Ipv6Addr, net: Ipv6Addr, prefix: u8) -> bool {
    mask128(u128::from(ip), prefix) == u128::from(net)
}

/// The IPv4 address an IPv6 address stands for, in the forms that reach it.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    let low32 = Ipv4Addr::from(bits as u32);
    let s = ip.segments();
    // IPv4-mapped ::ffff:a.b.c.d, IPv4-translated ::ffff:0:a.b.c.d (SIIT, RFC 2765),
    // IPv4-compatible ::a.b.c.d (deprecated), NAT64 64:ff9b::/96.
    let mapped = in6(ip, Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96);
    let translated = in6(ip, Ipv6Addr::new(0, 0, 0, 0, 0xffff, 0, 0, 0), 96);
    let compatible = in6(ip, Ipv6Addr::UNSPECIFIED, 96) && bits > 1;
    let nat64 = in6(ip, Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96);
    if mapped || translated || compatible || nat64 {
        Some(low32)
    } else if s[0] == 0x2002 {
        Some(Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32)) // 6to4
    } else if s[0] == 0x2001 && s[1] == 0 {
        Some(Ipv4Addr::from(!(bits as u32))) // Teredo client, obfuscated
    } else {
        None
    }
}

fn classify_v6(ip: Ipv6Addr) -> Option<Blocked> {
    let plain = |reason| {
        Some(Blocked {
            reason,
            embedded: None,
        })
    };
    if ip == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x254) {
        return plain(Reason::Metadata);
    }
    if ip.is_unspecified() {
        return plain(Reason::Unspecified);
    }
    if ip.is_loopback() {
        return plain(Reason::Loopback);
    }
    if let Some(v4) = embedded_v4(ip) {
        return classify_v4(v4).map(|reason| Blocked {
            reason,
            embedded: Some(v4),
        });
    }
    let s0 = ip.segments()[0];
    if s0 & 0xfe00 == 0xfc00 || s0 & 0xffc0 == 0xfec0 {
        plain(Reason::Private)
    } else if s0 & 0xffc0 == 0xfe80 {
        plain(Reason::LinkLocal)
    } else if s0 & 0xff00 == 0xff00 {
        plain(Reason::Multicast)
    } else if in6(ip, Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64)
        || in6(ip, Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48)
    {
        plain(Reason::Reserved)
    } else {
        None
    }
}

/// A request the outbound policy does not let through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The host is, or resolves to, an address that is not allowed.
    #[error("address {addr} of {host} is not allowed ({blocked})")]
    Address {
        /// The host as written in the URL.
        host: String,
        /// The refused address.
        addr: IpAddr,
        /// Why.
        blocked: Blocked,
    },
    /// An `http://` URL while `outbound.https_only` is set.
    #[error("{scheme}:// URLs are not allowed (outbound.https_only is set); use https://")]
    Scheme {
        /// The scheme of the URL.
        scheme: String,
    },
    /// The redirect limit was reached.
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
}

/// The refusal somewhere in an error's chain of sources, if the error is one.
pub fn refusal<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a Refused> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(r) = e.downcast_ref::<Refused>() {
            return Some(r);
        }
        current = e.source();
    }
    None
}

/// A boxed future, as name resolvers return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Looks host names up. [`SystemResolver`] asks the operating system; tests inject a
/// [`StaticResolver`].
pub trait NameResolver: Send + Sync + fmt::Debug {
    /// Every address of `host`.
    fn lookup<'a>(&'a self, host: &'a str) -> BoxFuture<'a, std::io::Result<Vec<IpAddr>>>;
}

/// The operating system's resolver (`getaddrinfo`, on a blocking thread).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl NameResolver for SystemResolver {
    fn lookup<'a>(&'a self, host: &'a str) -> BoxFuture<'a, std::io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host, 0))
                .await?
                .map(|a| a.ip())
                .collect())
        })
    }
}

/// Fixed answers for some names; other names go to the system resolver.
#[derive(Debug, Clone, Default)]
pub struct StaticResolver {
    names: HashMap<String, Vec<IpAddr>>,
}

impl StaticResolver {
    /// No fixed answers yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// `host` resolves to `addrs`.
    pub fn with(mut self, host: &str, addrs: &[IpAddr]) -> Self {
        self.names.insert(host.to_ascii_lowercase(), addrs.to_vec());
        self
    }
}

impl NameResolver for StaticResolver {
    fn lookup<'a>(&'a self, host: &'a str) -> BoxFuture<'a, std::io::Result<Vec<IpAddr>>> {
        match self.names.get(&host.to_ascii_lowercase()) {
            Some(addrs) => {
                let addrs = addrs.clone();
                Box::pin(async move { Ok(addrs) })
            }
            None => SystemResolver.lookup(host),
        }
    }
}

/// The outbound guard: a policy and the resolver it checks names with. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Outbound {
    policy: Arc<OutboundPolicy>,
    resolver: Arc<dyn NameResolver>,
}

impl Default for Outbound {
    /// The default policy (nothing special allowed, http allowed) with the system resolver.
    fn default() -> Self {
        Self::new(OutboundPolicy::default())
    }
}

impl Outbound {
    /// A guard for `policy` with the system resolver.
    pub fn new(policy: OutboundPolicy) -> Self {
        Self {
            policy: Arc::new(policy),
            resolver: Arc::new(SystemResolver),
        }
    }

    /// The same policy with another resolver.
    pub fn with_resolver(mut self, resolver: Arc<dyn NameResolver>) -> Self {
        self.resolver = resolver;
        self
    }

    /// The policy.
    pub fn policy(&self) -> &OutboundPolicy {
        &self.policy
    }

    /// Checks one address of `host`.
    pub fn check_ip(&self, host: &str, addr: IpAddr) -> Result<(), Refused> {
        match self.policy.verdict(addr) {
            None => Ok(()),
            Some(blocked) => Err(Refused::Address {
                host: host.to_owned(),
                addr,
                blocked,
            }),
        }
    }

    /// Checks what can be checked without a lookup: the scheme (`https_only`) and a literal
    /// IP host.
    pub fn check_url(&self, url: &reqwest::Url) -> Result<(), Refused> {
        if self.policy.https_only && url.scheme() != "https" {
            return Err(Refused::Scheme {
                scheme: url.scheme().to_owned(),
            });
        }
        self.check_host(url)
    }

    /// Checks a literal IP host (any scheme); names pass (they are checked when resolved).
    pub fn check_host(&self, url: &reqwest::Url) -> Result<(), Refused> {
        match url.host() {
            Some(url::Host::Ipv4(ip)) => self.check_ip(&ip.to_string(), IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => self.check_ip(&format!("[{ip}]"), IpAddr::V6(ip)),
            _ => Ok(()),
        }
    }

    /// Resolves `host` (a name or a literal address) and keeps only the allowed addresses;
    /// refuses (naming the first refused address) when none is left. Refused addresses are
    /// never handed out, so a name that also resolves to a private address (DNS rebinding)
    /// can only be reached at its allowed ones.
    pub async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        let addrs = match literal.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => self
                .resolver
                .lookup(host)
                .await
                .map_err(ResolveError::Lookup)?,
        };
        let mut first_refusal = None;
        let mut allowed = Vec::with_capacity(addrs.len());
        for addr in addrs {
            match self.check_ip(host, addr) {
                Ok(()) => allowed.push(addr),
                Err(refused) => {
                    first_refusal.get_or_insert(refused);
                }
            }
        }
        match first_refusal {
            Some(refused) if allowed.is_empty() => Err(refused.into()),
            _ if allowed.is_empty() => Err(ResolveError::Lookup(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{host} has no address"),
            ))),
            _ => Ok(allowed),
        }
    }

    /// A resolver for [`reqwest::ClientBuilder::dns_resolver`] that refuses names with an
    /// address that is not allowed.
    pub fn dns_resolver(&self) -> Arc<GuardedResolver> {
        Arc::new(GuardedResolver(self.clone()))
    }

    /// A redirect policy that follows at most `max_hops` redirects and checks each hop's
    /// scheme and literal IP host (names are checked by the guarded resolver on connect).
    pub fn redirect_policy(&self, max_hops: usize) -> reqwest::redirect::Policy {
        if max_hops == 0 {
            return reqwest::redirect::Policy::none();
        }
        let guard = self.clone();
        reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > max_hops {
                let e = Refused::TooManyRedirects(max_hops);
                return attempt.error(e);
            }
            match guard.check_url(attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(e) => attempt.error(e),
            }
        })
    }
}

/// A name that could not be resolved, or resolved to an address that is not allowed.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// Refused by the policy.
    #[error(transparent)]
    Refused(#[from] Refused),
    /// The lookup failed.
    #[error("cannot resolve: {0}")]
    Lookup(std::io::Error),
}

/// The guarded resolver given to the HTTP client (see [`Outbound::dns_resolver`]).
#[derive(Debug, Clone)]
pub struct GuardedResolver(Outbound);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.0.clone();
        Box::pin(async move {
            let addrs = guard.resolve(name.as_str()).await.map_err(
                |e| -> Box<dyn std::error::Error + Send + Sync> {
                    match e {
                        ResolveError::Refused(r) => Box::new(r),
                        ResolveError::Lookup(io) => Box::new(io),
                    }
                },
            )?;
            let addrs: reqwest::dns::Addrs =
                Box::new(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(policy: &OutboundPolicy, ip: &str, expected: Option<&str>) {
        let ip: IpAddr = ip.parse().unwrap();
        let got = policy.verdict(ip).map(|b| b.to_string());
        assert_eq!(got.as_deref(), expected, "{ip}");
    }

    #[test]
    fn classifies_literal_addresses() {
        let p = OutboundPolicy::default();
        for (ip, expected) in [
            ("8.8.8.8", None),
            ("1.1.1.1", None),
            ("93.184.216.34", None),
            ("127.0.0.1", Some("loopback")),
            ("127.255.0.9", Some("loopback")),
            ("10.0.0.5", Some("private")),
            ("172.16.0.1", Some("private")),
            ("172.31.255.255", Some("private")),
            ("172.32.0.1", None),
            ("192.168.1.1", Some("private")),
            ("169.254.1.1", Some("link-local")),
            ("0.0.0.0", Some("unspecified")),
            ("0.1.2.3", Some("reserved")),
            ("100.64.0.1", Some("carrier-grade NAT")),
            ("100.127.255.255", Some("carrier-grade NAT")),
            ("100.128.0.1", None),
            ("224.0.0.1", Some("multicast")),
            ("239.255.255.250", Some("multicast")),
            ("255.255.255.255", Some("broadcast")),
            ("240.0.0.1", Some("reserved")),
            ("169.254.169.254", Some("cloud metadata")),
            ("100.100.100.200", Some("cloud metadata")),
            ("192.0.0.192", Some("cloud metadata")),
            ("::", Some("unspecified")),
            ("::1", Some("loopback")),
            ("fc00::1", Some("private")),
            ("fd12:3456::1", Some("private")),
            ("fe80::1", Some("link-local")),
            ("ff02::1", Some("multicast")),
            ("fd00:ec2::254", Some("cloud metadata")),
            ("2606:4700::1111", None),
            ("2001:4860:4860::8888", None),
        ] {
            check(&p, ip, expected);
        }
    }

    #[test]
    fn classifies_ipv4_embedded_in_ipv6() {
        let p = OutboundPolicy::default();
        for (ip, expected) in [
            ("::ffff:127.0.0.1", Some("loopback, embeds IPv4 127.0.0.1")),
            ("::ffff:10.0.0.5", Some("private, embeds IPv4 10.0.0.5")),
            (
                "::ffff:169.254.169.254",
                Some("cloud metadata, embeds IPv4 169.254.169.254"),
            ),
            ("::ffff:8.8.8.8", None),
            // IPv4-translated (SIIT): ::ffff:0:a.b.c.d.
            (
                "::ffff:0:127.0.0.1",
                Some("loopback, embeds IPv4 127.0.0.1"),
            ),
            ("::ffff:0:10.0.0.5", Some("private, embeds IPv4 10.0.0.5")),
            (
                "::ffff:0:169.254.169.254",
                Some("cloud metadata, embeds IPv4 169.254.169.254"),
            ),
            ("::ffff:0:8.8.8.8", None),
            ("::127.0.0.1", Some("loopback, embeds IPv4 127.0.0.1")),
            ("::192.168.0.1", Some("private, embeds IPv4 192.168.0.1")),
            ("64:ff9b::10.0.0.5", Some("private, embeds IPv4 10.0.0.5")),
            (
                "64:ff9b::a9fe:a9fe",
                Some("cloud metadata, embeds IPv4 169.254.169.254"),
            ),
            ("64:ff9b::8.8.8.8", None),
            ("64:ff9b:1::1", Some("reserved")),
            ("2002:7f00:1::", Some("loopback, embeds IPv4 127.0.0.1")),
            ("2002:a00:5::1", Some("private, embeds IPv4 10.0.0.5")),
            ("2002:808:808::1", None),
            // Teredo: the client address is the last 32 bits inverted (10.0.0.5).
            (
                "2001:0:4136:e378:8000:63bf:f5ff:fffa",
                Some("private, embeds IPv4 10.0.0.5"),
            ),
        ] {
            check(&p, ip, expected);
        }
    }

    #[test]
    fn allow_list_wins() {
        let p = OutboundPolicy::allowing(&["127.0.0.0/8", "10.1.0.0/16", "fd00::/8"]).unwrap();
        for (ip, expected) in [
            ("127.0.0.1", None),
            ("127.0.0.2", None),
            ("10.1.2.3", None),
            ("10.2.0.1", Some("private")),
            ("fd00::1", None),
            ("fd00:ec2::254", None),
            ("::1", Some("loopback")),
            // An IPv4-mapped address is matched as its IPv4 address ...
            ("::ffff:127.0.0.1", None),
            ("::ffff:10.1.0.9", None),
            ("::ffff:10.2.0.1", Some("private, embeds IPv4 10.2.0.1")),
            // ... other IPv6 forms that embed an IPv4 address are other addresses.
            ("::127.0.0.1", Some("loopback, embeds IPv4 127.0.0.1")),
            ("64:ff9b::7f00:1", Some("loopback, embeds IPv4 127.0.0.1")),
            ("169.254.169.254", Some("cloud metadata")),
        ] {
            check(&p, ip, expected);
        }
        let one = OutboundPolicy::allowing(&["127.0.0.1"]).unwrap();
        check(&one, "127.0.0.1", None);
        check(&one, "127.0.0.2", Some("loopback"));
    }

    #[test]
    fn cidr_parsing() {
        for (s, shown) in [
            ("10.0.0.0/8", "10.0.0.0/8"),
            ("10.1.2.3/8", "10.0.0.0/8"),
            ("127.0.0.1", "127.0.0.1/32"),
            ("::1", "::1/128"),
            ("fd00::/8", "fd00::/8"),
            ("0.0.0.0/0", "0.0.0.0/0"),
            (" 10.0.0.0 / 8 ", "10.0.0.0/8"),
            ("fd00::1/8", "fd00::/8"),
            // The IPv4-mapped form of a network is that IPv4 network.
            ("::ffff:10.1.2.3", "10.1.2.3/32"),
            ("::ffff:10.1.2.3/104", "10.0.0.0/8"),
            ("::ffff:0:0/96", "0.0.0.0/0"),
            ("::ffff:0:0/95", "::fffe:0:0/95"),
        ] {
            assert_eq!(s.parse::<Cidr>().unwrap().to_string(), shown, "{s}");
        }
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "localhost",
            "10.0.0/8",
            "",
            "10.0.0.0/x",
        ] {
            let e = bad.parse::<Cidr>().unwrap_err();
            assert!(e.contains("not an IP network"), "{bad}: {e}");
        }
        let e = "banana".parse::<Cidr>().unwrap_err();
        assert_eq!(
            e,
            "\"banana\" is not an IP network (write e.g. 10.0.0.0/8 or ::1/128)"
        );
    }

    #[test]
    fn addresses_are_normalised_before_matching() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let net = |s: &str| s.parse::<Cidr>().unwrap();
        for (network, addr, inside) in [
            ("10.0.0.0/8", "10.9.9.9", true),
            ("10.0.0.0/8", "::ffff:10.9.9.9", true),
            ("10.0.0.0/8", "::ffff:11.0.0.1", false),
            ("10.0.0.0/8", "::10.9.9.9", false),
            ("10.0.0.0/8", "64:ff9b::a09:909", false),
            ("::ffff:10.0.0.0/104", "10.9.9.9", true),
            ("::ffff:10.0.0.0/104", "::ffff:10.9.9.9", true),
            ("::/0", "::ffff:10.9.9.9", false),
            ("::/0", "2001:db8::1", true),
            ("0.0.0.0/0", "2001:db8::1", false),
            ("::1", "::1", true),
            ("::1", "127.0.0.1", false),
        ] {
            assert_eq!(net(network).contains(ip(addr)), inside, "{network} {addr}");
        }
        assert_eq!(normalize(ip("::ffff:1.2.3.4")), ip("1.2.3.4"));
        assert_eq!(normalize(ip("::1.2.3.4")), ip("::1.2.3.4"));
        assert_eq!(normalize(ip("2001:db8::1")), ip("2001:db8::1"));
    }

    #[test]
    fn urls() {
        let guard = Outbound::new(OutboundPolicy {
            https_only: true,
            allow: vec!["127.0.0.1/32".parse().unwrap()],
        });
        let url = |s: &str| reqwest::Url::parse(s).unwrap();
        assert!(guard.check_url(&url("https://example.com/x")).is_ok());
        assert!(guard.check_url(&url("https://127.0.0.1:9/x")).is_ok());
        assert_eq!(
            guard
                .check_url(&url("http://example.com/x"))
                .unwrap_err()
                .to_string(),
            "http:// URLs are not allowed (outbound.https_only is set); use https://"
        );
        assert!(
            guard
                .check_url(&url("https://[::ffff:127.0.0.1]:9/x"))
                .is_ok()
        );
        assert_eq!(
            guard
                .check_url(&url("https://[::ffff:127.0.0.2]:9/x"))
                .unwrap_err()
                .to_string(),
            "address ::ffff:127.0.0.2 of [::ffff:127.0.0.2] is not allowed (loopback, embeds IPv4 127.0.0.2)"
        );
        assert_eq!(
            guard
                .check_url(&url("https://10.0.0.5/x"))
                .unwrap_err()
                .to_string(),
            "address 10.0.0.5 of 10.0.0.5 is not allowed (private)"
        );
    }

    #[tokio::test]
    async fn resolution_is_guarded() {
        let resolver = StaticResolver::new()
            .with("internal.test", &["10.0.0.5".parse().unwrap()])
            .with(
                "mixed.test",
                &["8.8.8.8".parse().unwrap(), "127.0.0.1".parse().unwrap()],
            )
            .with("public.test", &["8.8.8.8".parse().unwrap()]);
        let guard = Outbound::default().with_resolver(Arc::new(resolver));
        let e = guard.resolve("internal.test").await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "address 10.0.0.5 of internal.test is not allowed (private)"
        );
        assert_eq!(
            guard.resolve("mixed.test").await.unwrap(),
            ["8.8.8.8".parse::<IpAddr>().unwrap()],
            "only the allowed address is handed out"
        );
        assert_eq!(
            guard.resolve("public.test").await.unwrap(),
            ["8.8.8.8".parse::<IpAddr>().unwrap()]
        );
    }
}
