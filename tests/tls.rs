//! The S3 listener speaks HTTPS only (TLS 1.2 and 1.3), and its certificate can be replaced at runtime with
//! SIGHUP: new connections get the new certificate while open ones keep working.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use aws_sigv4::http_request::SignableBody;
use bytes::Bytes;
use common::*;
use http::{Method, Request};
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// One HTTP/1.1 connection over TLS, opened by hand so the test can see the peer certificate.
struct RawConn {
    sender: SendRequest<Full<Bytes>>,
    peer_cert: Vec<u8>,
    version: rustls::ProtocolVersion,
    host: String,
}

async fn connect(addr: std::net::SocketAddr, cfg: Arc<rustls::ClientConfig>) -> std::io::Result<RawConn> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(addr.ip().to_string()).expect("IP server name");
    let tls = TlsConnector::from(cfg).connect(name, tcp).await?;
    let (_, session) = tls.get_ref();
    let peer_cert = session
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.as_ref().to_vec())
        .expect("server sent a certificate");
    let version = session.protocol_version().expect("negotiated version");
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(RawConn {
        sender,
        peer_cert,
        version,
        host: addr.to_string(),
    })
}

impl RawConn {
    /// A signed ListBuckets on this connection.
    async fn list_buckets(&mut self) -> Resp {
        let mut req = Request::builder()
            .method(Method::GET)
            .uri("/")
            .header("host", self.host.as_str())
            .body(Bytes::new())
            .unwrap();
        sign_request(&mut req, CLIENT, SystemTime::now(), SignableBody::Bytes(&[]));
        self.sender.ready().await.expect("connection still usable");
        let (parts, body) = req.into_parts();
        let resp = self
            .sender
            .send_request(Request::from_parts(parts, Full::new(body)))
            .await
            .expect("request on the raw connection");
        Resp::read(resp).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_to_the_s3_port_gets_no_http_response() {
    let s = Stack::start();
    let mut tcp = TcpStream::connect(s.gw.addr).await.expect("connect");
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut got = Vec::new();
    // The gateway fails the TLS handshake (at most an alert record), then closes.
    let read = tokio::time::timeout(Duration::from_secs(20), tcp.read_to_end(&mut got)).await;
    assert!(
        read.is_ok(),
        "the connection was neither answered nor closed within 20 s"
    );
    assert!(
        !got.starts_with(b"HTTP/"),
        "a plain-HTTP request got an HTTP response: {:?}",
        String::from_utf8_lossy(&got)
    );
    if let Some(&b) = got.first() {
        assert_eq!(b, 0x15, "anything sent back must be a TLS alert record: {got:02x?}");
    }

    // hyper's plain-HTTP client sees an error, never a status.
    let client: hyper_util::client::legacy::Client<_, Full<Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let r = client
        .request(
            Request::get(format!("http://{}/", s.gw.addr))
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await;
    assert!(r.is_err(), "plain HTTP got a response: {:?}", r.map(|r| r.status()));

    // The listener is fine afterwards.
    let mut conn = connect(s.gw.addr, Arc::new(tls_config(&[s.gw.ca_file()], TlsVersions::Both)))
        .await
        .expect("TLS connection");
    conn.list_buckets().await.assert_ok();
}

async fn version_only(versions: TlsVersions, expected: rustls::ProtocolVersion) {
    let s = Stack::start();
    let cfg = Arc::new(tls_config(&[s.gw.ca_file()], versions));
    let mut conn = connect(s.gw.addr, cfg.clone()).await.expect("TLS connection");
    assert_eq!(conn.version, expected);
    conn.list_buckets().await.assert_ok();
    // The pooled client of the other tests works with the same restriction.
    let client = https_client((*cfg).clone());
    let bucket = unique_bucket("tls-version");
    create_bucket(&s.gw, &client, &bucket).await;
    put_object(&s.gw, &client, &bucket, "k", "over a restricted TLS version")
        .await
        .assert_ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn tls12_only_client_connects() {
    version_only(TlsVersions::Tls12Only, rustls::ProtocolVersion::TLSv1_2).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tls13_only_client_connects() {
    version_only(TlsVersions::Tls13Only, rustls::ProtocolVersion::TLSv1_3).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn client_trusting_another_ca_fails_the_handshake() {
    let s = Stack::start();
    let other = Stack::start();
    let cfg = Arc::new(tls_config(&[other.gw.ca_file()], TlsVersions::Both));
    let r = connect(s.gw.addr, cfg).await;
    assert!(r.is_err(), "a certificate from an untrusted CA was accepted");
}

/// `openssl s_client` (the Debian package; `.ci/run` installs it) against the gateway with `args`: whether the
/// handshake completed, and what openssl printed. OpenSSL, unlike rustls, can still send a TLS 1.0/1.1 or a
/// CBC-only ClientHello (`@SECLEVEL=0` lifts its own floor), which is what the refusal tests need.
fn openssl_handshake(gw: &Gateway, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new("openssl")
        .args(["s_client", "-connect", &gw.addr.to_string(), "-CAfile"])
        .arg(gw.ca_file())
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run openssl s_client");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.success() && text.contains("Verify return code: 0 (ok)"),
        text,
    )
}

/// The server answered the ClientHello with a handshake-failure or protocol-version alert: it saw the hello and
/// refused it (as opposed to openssl refusing to send it).
fn refused_by_the_server(text: &str) -> bool {
    text.contains("SSL alert number 40") || text.contains("SSL alert number 70")
}

#[tokio::test(flavor = "multi_thread")]
async fn tls11_client_hello_is_refused() {
    let s = Stack::start();
    // The control: the same openssl, same CA, TLS 1.2 with its default (AEAD) suites, connects.
    let (ok, text) = openssl_handshake(&s.gw, &["-tls1_2"]);
    assert!(ok, "TLS 1.2 control handshake failed:\n{text}");
    for version in ["-tls1_1", "-tls1"] {
        let (ok, text) = openssl_handshake(&s.gw, &[version, "-cipher", "DEFAULT@SECLEVEL=0"]);
        assert!(!ok, "{version} handshake completed:\n{text}");
        assert!(
            refused_by_the_server(&text),
            "{version}: no alert from the server:\n{text}"
        );
    }
    // The listener is fine afterwards.
    assert!(openssl_handshake(&s.gw, &["-tls1_3"]).0);
}

#[tokio::test(flavor = "multi_thread")]
async fn cbc_only_client_hello_is_refused() {
    let s = Stack::start();
    // Every TLS 1.2 CBC suite openssl has with ECDHE or RSA key exchange, and nothing else.
    let cbc = "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA:\
               ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:\
               AES128-SHA:AES256-SHA:AES128-SHA256:AES256-SHA256:@SECLEVEL=0";
    let (ok, text) = openssl_handshake(&s.gw, &["-tls1_2", "-cipher", cbc]);
    assert!(!ok, "a CBC-only TLS 1.2 handshake completed:\n{text}");
    assert!(refused_by_the_server(&text), "no alert from the server:\n{text}");
    // With the default list, TLS 1.2 negotiates an AEAD suite.
    let (ok, text) = openssl_handshake(&s.gw, &["-tls1_2"]);
    assert!(ok, "TLS 1.2 control handshake failed:\n{text}");
    assert!(
        text.contains("-GCM-") || text.contains("CHACHA20"),
        "TLS 1.2 negotiated a non-AEAD suite:\n{text}"
    );
}

/// A CA and leaf certificates for 127.0.0.1, made with rcgen.
struct TestCa {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pem: String,
}

impl TestCa {
    fn new() -> TestCa {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
        let key = KeyPair::generate().expect("CA key");
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        p.distinguished_name.push(DnType::CommonName, "e2e test CA");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        let cert = p.self_signed(&key).expect("CA cert");
        TestCa {
            pem: cert.pem(),
            issuer: rcgen::Issuer::new(p, key),
        }
    }

    /// (cert PEM, key PEM, cert DER) of a server certificate with common name `cn`.
    fn leaf(&self, cn: &str) -> (String, String, Vec<u8>) {
        use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair};
        let key = KeyPair::generate().expect("leaf key");
        let mut p = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).expect("params");
        p.distinguished_name.push(DnType::CommonName, cn);
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = p.signed_by(&key, &self.issuer).expect("leaf cert");
        (cert.pem(), key.serialize_pem(), cert.der().to_vec())
    }
}

/// Replace `path` atomically (write a sibling, rename over).
fn replace_file(path: &Path, contents: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, contents).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_the_certificate_without_dropping_connections() {
    let ca = TestCa::new();
    let (cert_a, key_a, der_a) = ca.leaf("cert A");
    let (cert_b, key_b, der_b) = ca.leaf("cert B");
    assert_ne!(der_a, der_b);

    let files = tempfile::tempdir().expect("tempdir");
    let cert_path = files.path().join("cert.pem");
    let key_path = files.path().join("key.pem");
    std::fs::write(&cert_path, &cert_a).unwrap();
    std::fs::write(&key_path, &key_a).unwrap();
    let ca_path = files.path().join("ca.pem");
    std::fs::write(&ca_path, &ca.pem).unwrap();

    let backend = Backend::start();
    let gw = Gateway::start(
        &backend,
        &format!("[tls]\ncert = {:?}\nkey = {:?}\n", cert_path, key_path),
    );
    assert!(gw.ca_file.is_none(), "a configured certificate needs no generated CA");
    // No session resumption: a resumed TLS session presents no certificate, and rustls then reports the one
    // of the original session, which would hide the new certificate.
    let mut cfg = tls_config(&[&ca_path], TlsVersions::Both);
    cfg.resumption = rustls::client::Resumption::disabled();
    let cfg = Arc::new(cfg);

    // A keep-alive connection with cert A.
    let mut old = connect(gw.addr, cfg.clone()).await.expect("connect with cert A");
    assert!(old.peer_cert == der_a, "the first connection must see cert A");
    old.list_buckets().await.assert_ok();

    // Swap the files, then SIGHUP.
    replace_file(&key_path, &key_b);
    replace_file(&cert_path, &cert_b);
    // Without the signal nothing changes.
    let c = connect(gw.addr, cfg.clone()).await.expect("connect");
    assert!(c.peer_cert == der_a, "the certificate changed without SIGHUP");
    drop(c);
    gw.proc.signal("HUP");

    // New connections see cert B (the reload is asynchronous: poll briefly).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut new = loop {
        let c = connect(gw.addr, cfg.clone()).await.expect("connect after SIGHUP");
        if c.peer_cert == der_b {
            break c;
        }
        assert!(
            c.peer_cert == der_a,
            "after SIGHUP the peer certificate is neither A nor B"
        );
        assert!(
            Instant::now() < deadline,
            "new connections still get cert A 10 s after SIGHUP\n--- gateway log:\n{}",
            gw.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    new.list_buckets().await.assert_ok();

    // The old connection is still open and still works.
    old.list_buckets().await.assert_ok();
    assert!(old.peer_cert == der_a);

    // The gateway process survived the signal.
    let mut gw = gw;
    assert!(gw.proc.try_wait().is_none(), "the gateway exited on SIGHUP");

    // A broken replacement is refused and the current certificate stays in service.
    replace_file(&cert_path, "not a certificate");
    gw.proc.signal("HUP");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut c = connect(gw.addr, cfg.clone())
        .await
        .expect("connect after a failed reload");
    assert!(c.peer_cert == der_b, "a failed reload must keep cert B");
    c.list_buckets().await.assert_ok();
    assert!(gw.proc.try_wait().is_none(), "the gateway exited on a failed reload");
}
