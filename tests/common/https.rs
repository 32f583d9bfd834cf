//! The raw HTTPS client of the tests (rustls, trusting only the CA files it is given, TLS 1.2 and/or 1.3), and
//! responses read whole ([`Resp`]) or as far as they go ([`LossyResp`]).

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

pub type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsVersions {
    Both,
    Tls12Only,
    Tls13Only,
}

pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A rustls client config that trusts only the CA certificates in `ca_files` (PEM).
pub fn tls_config(ca_files: &[&Path], versions: TlsVersions) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for f in ca_files {
        for cert in CertificateDer::pem_file_iter(f).unwrap_or_else(|e| panic!("reading {}: {e}", f.display())) {
            roots.add(cert.expect("PEM certificate")).expect("adding root");
        }
    }
    tls_config_with_roots(roots, versions)
}

pub fn tls_config_with_roots(roots: rustls::RootCertStore, versions: TlsVersions) -> rustls::ClientConfig {
    let v: &[&'static rustls::SupportedProtocolVersion] = match versions {
        TlsVersions::Both => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersions::Tls12Only => &[&rustls::version::TLS12],
        TlsVersions::Tls13Only => &[&rustls::version::TLS13],
    };
    rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(v)
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

pub fn https_client(cfg: rustls::ClientConfig) -> HttpsClient {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(cfg)
        .https_only()
        .enable_http1()
        .build();
    Client::builder(TokioExecutor::new()).build(connector)
}

/// Like [`https_client`], for requests with any body type (e.g. a streamed one).
pub fn https_client_with_body<B>(cfg: rustls::ClientConfig) -> Client<hyper_rustls::HttpsConnector<HttpConnector>, B>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(cfg)
        .https_only()
        .enable_http1()
        .build();
    Client::builder(TokioExecutor::new()).build(connector)
}

/// A response read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub async fn read(resp: http::Response<hyper::body::Incoming>) -> Resp {
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.expect("reading response body").to_bytes();
        Resp {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The text of the first `<tag>...</tag>` of the XML body.
    pub fn xml_tag(&self, tag: &str) -> Option<String> {
        xml_tag(&self.text(), tag)
    }

    /// The S3 error `<Code>`.
    pub fn error_code(&self) -> Option<String> {
        self.xml_tag("Code")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Panics unless the response is the S3 error `code` with `status`.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status.as_u16(), self.error_code().as_deref()),
            (status, Some(code)),
            "expected {status} {code}; got {} with body {}",
            self.status,
            self.text()
        );
    }

    /// Panics unless the response is the S3 error `code` with `status` and exactly `message` (as an XML parser
    /// reads it).
    pub fn assert_error_message(&self, status: u16, code: &str, message: &str, what: &str) {
        let got = self
            .xml_tag("Message")
            .map(|m| quick_xml::escape::unescape(&m).map_or(m.clone(), |u| u.into_owned()));
        assert_eq!(
            (self.status.as_u16(), self.error_code().as_deref(), got.as_deref()),
            (status, Some(code), Some(message)),
            "{what}: got {} with body {}",
            self.status,
            self.text()
        );
    }

    /// Panics unless the status is 200.
    pub fn assert_ok(&self) {
        assert_eq!(self.status, StatusCode::OK, "expected 200; body: {}", self.text());
    }
}

pub fn xml_tag(text: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&close)? + start;
    Some(text[start..end].to_owned())
}

/// Send `req` (body as bytes) with `client` and read the whole response.
pub async fn send(client: &HttpsClient, req: Request<Bytes>) -> Resp {
    let (parts, body) = req.into_parts();
    let what = format!("{} {}", parts.method, parts.uri);
    let resp = client
        .request(Request::from_parts(parts, Full::new(body)))
        .await
        .unwrap_or_else(|e| panic!("{what}: {e:?}"));
    Resp::read(resp).await
}

/// A response whose body may have ended in an error (an aborted connection): what arrived, and the error.
#[derive(Debug)]
pub struct LossyResp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// Every body byte received before the end or the error.
    pub body: Bytes,
    /// Why the body did not complete, if it did not.
    pub body_error: Option<String>,
}

impl LossyResp {
    pub async fn read(resp: http::Response<hyper::body::Incoming>) -> LossyResp {
        let (parts, mut body) = resp.into_parts();
        let mut buf = Vec::new();
        let mut body_error = None;
        loop {
            match body.frame().await {
                None => break,
                Some(Ok(f)) => {
                    if let Ok(d) = f.into_data() {
                        buf.extend_from_slice(&d);
                    }
                }
                Some(Err(e)) => {
                    body_error = Some(format!("{e:?}"));
                    break;
                }
            }
        }
        LossyResp {
            status: parts.status,
            headers: parts.headers,
            body: Bytes::from(buf),
            body_error,
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Send `req`; the response body is read as far as it goes (see [`LossyResp`]). A request that gets no
/// response head at all is `Err`.
pub async fn send_lossy(client: &HttpsClient, req: Request<Bytes>) -> Result<LossyResp, String> {
    let (parts, body) = req.into_parts();
    match client.request(Request::from_parts(parts, Full::new(body))).await {
        Ok(resp) => Ok(LossyResp::read(resp).await),
        Err(e) => Err(format!("{e:?}")),
    }
}
