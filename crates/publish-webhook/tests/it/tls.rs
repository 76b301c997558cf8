//! Mutual TLS: a sink that requires a client certificate signed by its CA.

use std::{
    path::Path,
    sync::{Arc, Mutex},
};

use publish::{Publisher, outbound::StaticResolver};
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls::{
    self, RootCertStore,
    pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer},
    server::WebPkiClientVerifier,
};

use crate::{delivery, loopback, target};

struct Pki {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl Pki {
    fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self {
            ca_pem: cert.pem(),
            ca_der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf certificate for `names` with `usage`: (certificate PEM, DER, key).
    fn leaf(
        &self,
        names: &[&str],
        usage: ExtendedKeyUsagePurpose,
    ) -> (String, CertificateDer<'static>, KeyPair) {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), cert.der().clone(), key)
    }
}

/// A TLS endpoint on 127.0.0.1 that requires a client certificate issued by `client_ca`;
/// records the bodies of the requests it answered 200.
struct TlsSink {
    port: u16,
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl TlsSink {
    async fn start(server_pki: &Pki, client_ca: &Pki) -> Self {
        let (_, cert, key) = server_pki.leaf(&["tls.test"], ExtendedKeyUsagePurpose::ServerAuth);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots.add(client_ca.ca_der.clone()).unwrap();
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![cert],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let recorded = bodies.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let recorded = recorded.clone();
                tokio::spawn(async move {
                    // A client without an acceptable certificate fails here.
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    if let Some(body) = read_request(&mut tls).await {
                        recorded.lock().unwrap().push(body);
                        let _ = tls
                            .write_all(
                                b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                            )
                            .await;
                        let _ = tls.shutdown().await;
                    }
                });
            }
        });
        Self { port, bodies }
    }

    fn received(&self) -> usize {
        self.bodies.lock().unwrap().len()
    }
}

/// Reads one HTTP/1.1 request with a `content-length` body; returns the body.
async fn read_request<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = s.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Some(buf[end + 4..end + 4 + len].to_vec());
        }
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn write(dir: &Path, name: &str, content: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path.display().to_string()
}

#[tokio::test]
async fn a_sink_that_requires_a_client_certificate_receives_only_from_a_target_with_one() {
    let server_pki = Pki::new();
    let client_pki = Pki::new();
    let sink = TlsSink::start(&server_pki, &client_pki).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_bundle = write(dir.path(), "server-ca.pem", &server_pki.ca_pem);
    let (cert_pem, _, key) =
        client_pki.leaf(&["alert-publisher"], ExtendedKeyUsagePurpose::ClientAuth);
    let client_cert = write(dir.path(), "client.pem", &cert_pem);
    let client_key = write(dir.path(), "client-key.pem", &key.serialize_pem());
    // A certificate from a CA the sink does not trust.
    let stranger = Pki::new();
    let (other_pem, _, other_key) =
        stranger.leaf(&["stranger"], ExtendedKeyUsagePurpose::ClientAuth);
    let other_cert = write(dir.path(), "other.pem", &other_pem);
    let other_key = write(dir.path(), "other-key.pem", &other_key.serialize_pem());

    let guard = loopback().with_resolver(Arc::new(
        StaticResolver::new().with("tls.test", &["127.0.0.1".parse().unwrap()]),
    ));
    let url = format!("https://tls.test:{}/hook", sink.port);
    let publish = |tls: serde_json::Value| {
        let guard = guard.clone();
        let url = url.clone();
        async move {
            let p = publish_webhook::build(&target(&url, json!({"tls": tls})), &crate::ctx(&guard))
                .unwrap();
            p.publish(&delivery()).await
        }
    };

    let e = publish(json!({"ca_bundle": ca_bundle})).await.unwrap_err();
    assert!(e.is_retryable(), "without a client certificate: {e:?}");
    let e = publish(
        json!({"ca_bundle": ca_bundle, "client_cert": other_cert, "client_key": other_key}),
    )
    .await
    .unwrap_err();
    assert!(
        e.is_retryable(),
        "with an untrusted client certificate: {e:?}"
    );
    assert_eq!(sink.received(), 0);

    publish(json!({"ca_bundle": ca_bundle, "client_cert": client_cert, "client_key": client_key}))
        .await
        .unwrap();
    assert_eq!(sink.received(), 1);
    let body: serde_json::Value = serde_json::from_slice(&sink.bodies.lock().unwrap()[0]).unwrap();
    assert_eq!(body["status"], "firing");

    // Without the extra CA the sink's certificate is not trusted at all.
    let e = publish(json!({"client_cert": client_cert, "client_key": client_key}))
        .await
        .unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
    assert_eq!(sink.received(), 1);
}

#[test]
fn tls_files_are_checked_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = write(dir.path(), "garbage.pem", "not a certificate");
    for (tls, field, text) in [
        (
            json!({"client_cert": "/nonexistent/client.pem", "client_key": garbage}),
            "options.tls.client_cert",
            "cannot read /nonexistent/client.pem",
        ),
        (
            json!({"client_cert": garbage}),
            "options.tls.client_key",
            "client_cert needs client_key",
        ),
        (
            json!({"client_cert": garbage, "client_key": garbage}),
            "options.tls.client_cert",
            "not a usable PEM certificate and key",
        ),
        (
            json!({"ca_bundle": garbage}),
            "options.tls.ca_bundle",
            "holds no PEM certificate",
        ),
        (
            json!({"ca": garbage}),
            "options.tls.ca",
            "unknown field `ca`",
        ),
    ] {
        let e = publish_webhook::build(
            &target("https://tls.test/", json!({"tls": tls})),
            &crate::ctx(&loopback()),
        )
        .unwrap_err();
        assert_eq!(e.field, field, "{e}");
        assert!(e.message.contains(text), "{e}");
    }
}
