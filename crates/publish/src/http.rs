//! The HTTP client every publisher uses: rustls, TLS 1.2 or newer, bounded timeouts,
//! connection reuse, our user agent, no redirects to places the target did not name.

use std::time::Duration;

/// User agent sent with every request.
pub const USER_AGENT: &str = concat!("alert-publisher/", env!("CARGO_PKG_VERSION"));

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Whole-request timeout (connect, send, answer).
    pub timeout: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Idle connections kept per host. Connections are only opened by concurrent deliveries,
    /// so the engine's concurrency bounds them; a cap below it would close and reopen
    /// connections whenever one target takes more than its share of the workers.
    pub pool_max_idle_per_host: usize,
    /// Optional proxy URL for every request.
    pub proxy: Option<String>,
    /// The outbound guard: names are resolved through it and redirects are checked by it.
    /// `None`: unguarded (vendor publishers, which talk to fixed vendor hosts).
    pub outbound: Option<crate::outbound::Outbound>,
    /// Redirects followed (each hop checked by `outbound`); 0 follows none.
    pub max_redirects: usize,
    /// Client certificate and key presented when the server asks for one (mutual TLS).
    pub identity: Option<reqwest::Identity>,
    /// CA certificates trusted in addition to the built-in roots.
    pub extra_roots: Vec<reqwest::Certificate>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            pool_max_idle_per_host: 1024,
            proxy: None,
            outbound: None,
            max_redirects: 0,
            identity: None,
            extra_roots: Vec::new(),
        }
    }
}

/// Builds a client. Fails only on an invalid proxy URL, an unusable client certificate or a
/// TLS backend error.
pub fn client(config: &ClientConfig) -> Result<reqwest::Client, reqwest::Error> {
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .timeout(config.timeout)
        .connect_timeout(config.connect_timeout)
        .pool_max_idle_per_host(config.pool_max_idle_per_host)
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .min_tls_version(reqwest::tls::Version::TLS_1_2)
        .https_only(false)
        .redirect(reqwest::redirect::Policy::none());
    if let Some(proxy) = &config.proxy {
        builder = builder.proxy(reqwest::Proxy::all(proxy)?);
    }
    if let Some(outbound) = &config.outbound {
        builder = builder
            .https_only(outbound.policy().https_only)
            .dns_resolver(outbound.dns_resolver())
            .redirect(outbound.redirect_policy(config.max_redirects));
    } else if config.max_redirects > 0 {
        builder = builder.redirect(reqwest::redirect::Policy::limited(config.max_redirects));
    }
    if let Some(identity) = &config.identity {
        builder = builder.identity(identity.clone());
    }
    for root in &config.extra_roots {
        builder = builder.add_root_certificate(root.clone());
    }
    builder.build()
}

/// A side-effect-free reachability check: resolves the URL's host and opens (then closes) a
/// TCP connection to it. Nothing is sent.
pub async fn probe_connect(url: &str, timeout: Duration) -> crate::ProbeResult {
    probe_connect_guarded(url, timeout, None).await
}

/// [`probe_connect`] through an outbound guard: the host's addresses are checked before
/// anything is connected to, and only checked addresses are connected to.
pub async fn probe_connect_guarded(
    url: &str,
    timeout: Duration,
    outbound: Option<&crate::outbound::Outbound>,
) -> crate::ProbeResult {
    let started = std::time::Instant::now();
    let result = async {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("invalid url: {e}"))?;
        let host = parsed.host_str().ok_or("url has no host")?.to_owned();
        let port = parsed.port_or_known_default().ok_or("url has no port")?;
        let connect = async {
            match outbound {
                Some(guard) => {
                    let addrs = guard.resolve(&host).await.map_err(|e| e.to_string())?;
                    let addrs: Vec<std::net::SocketAddr> = addrs
                        .into_iter()
                        .map(|ip| std::net::SocketAddr::new(ip, port))
                        .collect();
                    tokio::net::TcpStream::connect(addrs.as_slice())
                        .await
                        .map_err(|e| format!("connect to {host}:{port} failed: {e}"))
                }
                None => {
                    let bare = host.trim_start_matches('[').trim_end_matches(']');
                    tokio::net::TcpStream::connect((bare, port))
                        .await
                        .map_err(|e| format!("connect to {host}:{port} failed: {e}"))
                }
            }
        };
        tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| format!("connect to {host}:{port} timed out"))??;
        Ok::<_, String>(format!("connected to {host}:{port}"))
    }
    .await;
    let latency = started.elapsed();
    match result {
        Ok(detail) => crate::ProbeResult {
            ok: true,
            latency,
            detail,
        },
        Err(detail) => crate::ProbeResult {
            ok: false,
            latency,
            detail,
        },
    }
}

/// Builds a client for a publisher; a failure is a configuration error of the target, about
/// `options.proxy` when a proxy is set, `options.tls` when a client certificate or extra CAs
/// are, else `url`. The error's text never holds a URL (a proxy URL may carry credentials).
pub fn build(config: &ClientConfig) -> Result<reqwest::Client, crate::ConfigError> {
    client(config).map_err(|e| {
        let field = if config.proxy.is_some() {
            "options.proxy"
        } else if config.identity.is_some() || !config.extra_roots.is_empty() {
            "options.tls"
        } else {
            "url"
        };
        crate::ConfigError::new(
            field,
            format!("cannot build HTTP client: {}", e.without_url()),
        )
    })
}

/// Parses a URL a target gives (its `url`, a proxy, a link base) and checks it is `http` or
/// `https` with a host. Errors name `field` and never repeat the value: a webhook URL is a
/// credential.
pub fn url(field: &str, value: &str) -> Result<reqwest::Url, crate::ConfigError> {
    let url = reqwest::Url::parse(value)
        .map_err(|e| crate::ConfigError::new(field, format!("invalid URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        return Err(crate::ConfigError::new(
            field,
            format!(
                "must be an http or https URL with a host (got scheme {:?})",
                url.scheme()
            ),
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_http_with_a_host_and_errors_never_repeat_them() {
        assert_eq!(
            url("url", "https://api.example.com/v1").unwrap().as_str(),
            "https://api.example.com/v1"
        );
        for (value, message) in [
            ("", "invalid URL"),
            ("not a url SECRET", "invalid URL"),
            (
                "ftp://SECRET@example.com/",
                "must be an http or https URL with a host (got scheme \"ftp\")",
            ),
            (
                "mailto:SECRET@example.com",
                "must be an http or https URL with a host (got scheme \"mailto\")",
            ),
        ] {
            let e = url("options.proxy", value).unwrap_err();
            assert_eq!(e.field, "options.proxy");
            assert!(e.message.starts_with(message), "{value}: {e}");
            assert!(!e.message.contains("SECRET"), "{e}");
        }
    }

    #[test]
    fn client_errors_name_the_option_at_fault() {
        let e = build(&ClientConfig {
            proxy: Some("http://user:SECRET@[::1".to_owned()),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(e.field, "options.proxy");
        assert!(!e.message.contains("SECRET"), "{e}");
    }
}
