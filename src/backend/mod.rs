//! Forward: build the backend request (path- or virtual-hosted-style), sign it with the gateway's backend
//! credentials (aws-sigv4), and send it over a pooled HTTP(S) client with timeouts, or, for the quick start's
//! embedded backend, hand it to that backend's service in process (see [`Transport`]).
//!
//! Never forwards the client's credentials, signature or aws-chunked framing.

pub mod chunked;
pub mod sign;
pub mod upstream;

use std::sync::Arc;
use std::time::Duration;

use http::uri::Authority;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use hyper_util::rt::TokioExecutor;

use crate::auth::canonical::{percent_decode, push_uri_encoded, push_uri_encoded_path};
use crate::body::Body;
use crate::config::{Addressing, BackendPayload};
use crate::s3::addressing::Target;
use crate::secret::SecretString;

/// A configured backend: where it is, how to sign for it, how long to wait.
pub struct Backend {
    transport: Transport,
    scheme: http::uri::Scheme,
    authority: http::uri::Authority,
    /// `Host` for the endpoint's own authority (every path-style request), made once.
    host: HeaderValue,
    addressing: Addressing,
    signer: sign::Signer,
    payload: BackendPayload,
    object_lock_checksum: bool,
    conditional_deletes: bool,
    pub response_timeout: Duration,
}

/// How a backend request reaches the backend. Both produce the one body type ([`Body`]) for the response.
enum Transport {
    /// Over the network: a pooled HTTP(S) client.
    Http(Box<Client<HttpsConnector<HttpConnector>, Body>>),
    /// The quick start's embedded backend, in the same process: a function call (no socket, so nothing on the
    /// network reaches it), the same signed request its socket server would get.
    #[cfg(feature = "embedded")]
    InProcess(crate::embedded::Service),
}

impl Transport {
    async fn request(&self, req: Request<Body>) -> Result<Response<Body>, BackendError> {
        match self {
            Self::Http(client) => {
                let resp = client.request(req).await?;
                Ok(resp.map(|b| crate::body::boxed(http_body_util::BodyExt::map_err(b, Into::into))))
            }
            #[cfg(feature = "embedded")]
            Self::InProcess(service) => service.call(req).await.map_err(BackendError::InProcess),
        }
    }
}

/// What went wrong talking to the backend (the client sees 503 ServiceUnavailable).
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("backend request failed: {0}")]
    Request(#[from] hyper_util::client::legacy::Error),
    #[error("{0}")]
    InProcess(String),
    #[error("backend did not answer within {0:?}")]
    Timeout(Duration),
}

pub struct BackendSettings<'a> {
    pub endpoint: &'a str,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    pub ca_pem: Option<Vec<u8>>,
    pub addressing: Addressing,
    pub connect_timeout: Duration,
    pub response_timeout: Duration,
    pub payload: BackendPayload,
    /// See [`crate::config::BackendConfig::object_lock_checksum`].
    pub object_lock_checksum: bool,
    /// See [`crate::config::BackendConfig::conditional_deletes`].
    pub conditional_deletes: bool,
}

/// A pooled HTTP(S) client trusting the webpki roots plus the certificates in `ca_pem` (errors name `what`).
/// `http://` URIs are allowed: config validation decides where plain HTTP may be used. Shared by the backend and
/// the AWS KMS client.
pub fn https_client<B>(
    ca_pem: Option<&[u8]>,
    connect_timeout: Duration,
    what: &str,
) -> Result<Client<HttpsConnector<HttpConnector>, B>, String>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
{
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(pem) = ca_pem {
        add_pem_roots(&mut roots, pem, what)?;
    }
    let tls = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(connect_timeout));
    http.set_nodelay(true);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(256)
        .build(connector))
}

/// Add every certificate of a PEM bundle to `roots` (errors name `what`).
pub fn add_pem_roots(roots: &mut rustls::RootCertStore, pem: &[u8], what: &str) -> Result<(), String> {
    use rustls_pki_types::pem::PemObject;
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| format!("{what}: {e}"))?;
        roots.add(cert).map_err(|e| format!("{what}: {e}"))?;
    }
    Ok(())
}

impl Backend {
    pub fn new(s: BackendSettings<'_>) -> Result<Arc<Self>, String> {
        let client = https_client(s.ca_pem.as_deref(), s.connect_timeout, "backend ca_file")?;
        Self::with_transport(s, Transport::Http(Box::new(client)))
    }

    /// The embedded backend's `service`, called in process; `s.endpoint` only names it (in the `Host` header the
    /// request is signed with).
    #[cfg(feature = "embedded")]
    pub fn in_process(s: BackendSettings<'_>, service: crate::embedded::Service) -> Result<Arc<Self>, String> {
        Self::with_transport(s, Transport::InProcess(service))
    }

    fn with_transport(s: BackendSettings<'_>, transport: Transport) -> Result<Arc<Self>, String> {
        let uri: Uri = s
            .endpoint
            .parse()
            .map_err(|e| format!("backend endpoint {}: {e}", s.endpoint))?;
        let scheme = uri.scheme().cloned().ok_or("backend endpoint needs a scheme")?;
        let authority = uri.authority().cloned().ok_or("backend endpoint needs a host")?;
        let host = HeaderValue::from_str(authority.as_str()).map_err(|e| format!("backend endpoint host: {e}"))?;
        Ok(Arc::new(Self {
            transport,
            scheme,
            authority,
            host,
            addressing: s.addressing,
            signer: sign::Signer::new(s.access_key_id, s.secret_access_key, s.region),
            payload: s.payload,
            object_lock_checksum: s.object_lock_checksum,
            conditional_deletes: s.conditional_deletes,
            response_timeout: s.response_timeout,
        }))
    }

    /// The backend URI for a target and the client's raw query (minus presigned-URL authentication).
    pub fn uri_for(&self, target: &Target, raw_query: Option<&str>) -> Result<Uri, http::Error> {
        let mut pq = String::with_capacity(128);
        pq.push('/');
        let authority = match (&target.bucket, self.addressing) {
            (Some(b), Addressing::Virtual) => Authority::try_from(format!("{b}.{}", self.authority))?,
            (Some(b), Addressing::Path) => {
                push_uri_encoded(&mut pq, b);
                if target.key.is_some() {
                    pq.push('/');
                }
                self.authority.clone()
            }
            (None, _) => self.authority.clone(),
        };
        if let Some(key) = &target.key {
            push_uri_encoded_path(&mut pq, key);
        }
        push_forwarded_query(&mut pq, raw_query);
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(authority)
            .path_and_query(pq)
            .build()
    }

    /// How request bodies are signed, as configured.
    pub fn payload(&self) -> BackendPayload {
        self.payload
    }

    /// Whether the backend honours a conditional delete (`If-Match`, a DeleteObjects entry's `ETag`).
    pub fn conditional_deletes(&self) -> bool {
        self.conditional_deletes
    }

    /// Whether object data written into an Object Lock bucket must be switched to the `trailer` payload (it
    /// would otherwise go without an integrity value, which S3 refuses there).
    pub fn lock_needs_trailer(&self) -> bool {
        self.object_lock_checksum && self.payload != BackendPayload::Trailer
    }

    /// The bucket of a backend object URI (made by [`Backend::uri_for`]); `None` for a bucket's or the service's.
    pub fn object_bucket_of<'u>(&self, uri: &'u Uri) -> Option<std::borrow::Cow<'u, str>> {
        let path = uri.path().trim_start_matches('/');
        let bucket = match self.addressing {
            Addressing::Path => path.split_once('/').filter(|(_, key)| !key.is_empty())?.0,
            Addressing::Virtual if !path.is_empty() => {
                uri.host()?.strip_suffix(self.authority.host())?.strip_suffix('.')?
            }
            Addressing::Virtual => return None,
        };
        (!bucket.is_empty()).then(|| percent_encoding::percent_decode_str(bucket).decode_utf8_lossy())
    }

    /// Sign and send. `headers` are already filtered (see [`forwarded_headers`]).
    pub async fn send(
        &self,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Body,
    ) -> Result<Response<Body>, BackendError> {
        self.send_as(method, uri, headers, body, self.payload).await
    }

    /// [`Backend::send`] with the body signed in `mode` rather than the configured one.
    pub async fn send_as(
        &self,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Body,
        mode: BackendPayload,
    ) -> Result<Response<Body>, BackendError> {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .body(body)
            .expect("valid parts");
        *req.headers_mut() = headers;
        let host = match req.uri().authority() {
            Some(a) if *a == self.authority => Some(self.host.clone()),
            a => HeaderValue::from_str(a.map(|a| a.as_str()).unwrap_or_default()).ok(),
        };
        if let Some(host) = host {
            req.headers_mut().insert(http::header::HOST, host);
        }
        let decoded_len = req
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .or_else(|| http_body::Body::size_hint(req.body()).exact());
        let payload = payload_for(mode, decoded_len);
        if let (Some(len), sign::S3Payload::SignedChunks | sign::S3Payload::UnsignedTrailer) = (decoded_len, payload) {
            set_aws_chunked_headers(req.headers_mut(), len, payload == sign::S3Payload::SignedChunks);
        }
        let time = std::time::SystemTime::now();
        let seed_signature = match self.signer.sign_s3(&mut req, payload, time) {
            Ok(s) => s,
            Err(e) => {
                // A request that cannot be signed goes unsigned: the backend refuses it with its own error.
                tracing::error!(error = %e, "signing the backend request failed");
                return self.transport.request(req).await;
            }
        };
        let req = match (decoded_len, payload) {
            (Some(len), sign::S3Payload::SignedChunks) => {
                let signing = self.signer.chunk_signing(time, seed_signature);
                req.map(|b| crate::body::boxed(chunked::AwsChunkedBody::signed(b, len, signing)))
            }
            (Some(len), sign::S3Payload::UnsignedTrailer) => {
                req.map(|b| crate::body::boxed(chunked::AwsChunkedBody::with_trailer(b, len)))
            }
            _ => req,
        };
        self.transport.request(req).await
    }
}

/// How to sign a body of `decoded_len` bytes (`None`: unknown) in the configured mode. Bodies of unknown
/// length cannot be framed (aws-chunked needs `x-amz-decoded-content-length` up front) and go unsigned.
fn payload_for(mode: BackendPayload, decoded_len: Option<u64>) -> sign::S3Payload {
    match (mode, decoded_len) {
        (BackendPayload::Unsigned, _) | (_, None) => sign::S3Payload::Unsigned,
        (_, Some(0)) => sign::S3Payload::Empty,
        (BackendPayload::Signed, Some(_)) => sign::S3Payload::SignedChunks,
        (BackendPayload::Trailer, Some(_)) => sign::S3Payload::UnsignedTrailer,
    }
}

/// The headers of an aws-chunked body whose decoded length is `len`: the encoded `Content-Length`,
/// `x-amz-decoded-content-length`, `aws-chunked` first in `Content-Encoding` and, unsigned, the trailer's name and
/// `x-amz-sdk-checksum-algorithm` (what S3 looks for, with `Content-MD5`, on a write into an Object Lock bucket).
fn set_aws_chunked_headers(h: &mut HeaderMap, len: u64, signed: bool) {
    h.insert(
        http::header::CONTENT_LENGTH,
        HeaderValue::from(chunked::encoded_len(len, signed)),
    );
    h.insert("x-amz-decoded-content-length", HeaderValue::from(len));
    let encoding = match h.get(http::header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()) {
        Some(rest) if !rest.trim().is_empty() => format!("aws-chunked,{rest}"),
        _ => "aws-chunked".to_owned(),
    };
    if let Ok(v) = HeaderValue::from_str(&encoding) {
        h.insert(http::header::CONTENT_ENCODING, v);
    }
    if !signed {
        h.insert(
            "x-amz-trailer",
            HeaderValue::from_static(chunked::TRAILER_ALGORITHM.header_name()),
        );
        h.insert(
            "x-amz-sdk-checksum-algorithm",
            HeaderValue::from_static(chunked::TRAILER_ALGORITHM.sdk_name()),
        );
    }
}

/// The client's query, re-encoded, without the presigned-URL authentication parameters.
/// The client's query, less the presigned URL's authentication, appended to `out` after a `?` (nothing when
/// nothing is left).
fn push_forwarded_query(out: &mut String, raw: Option<&str>) {
    let mut first = true;
    for p in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), Some(percent_decode(v))),
            None => (percent_decode(p), None),
        };
        // S3 reads an empty delimiter as none; some backends (s3s-fs) do not.
        if PRESIGN_PARAMS.contains(&k.as_str()) || (k == "delimiter" && v.as_deref().is_some_and(str::is_empty)) {
            continue;
        }
        out.push(if std::mem::take(&mut first) { '?' } else { '&' });
        push_uri_encoded(out, &k);
        if let Some(v) = v {
            out.push('=');
            push_uri_encoded(out, &v);
        }
    }
}

const PRESIGN_PARAMS: &[&str] = &[
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
    "X-Amz-Content-Sha256",
    // SigV2.
    "AWSAccessKeyId",
    "Expires",
    "Signature",
];

/// Headers that belong to the client's connection or signature, never to the backend request. (SSE parameters
/// are the gateway's business too: never forwarded.)
const CLIENT_ONLY: &[&str] = &[
    "authorization",
    "x-amz-date",
    "x-amz-content-sha256",
    "x-amz-decoded-content-length",
    "x-amz-trailer",
    "x-amz-sdk-checksum-algorithm",
    "x-amz-security-token",
    "host",
    "expect",
    "content-length",
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The client's headers as the backend should see them: client-only headers dropped, `aws-chunked` removed from
/// `Content-Encoding`, and `Content-Length` set to the decoded length when it is known.
pub fn forwarded_headers(client: &HeaderMap, decoded_length: Option<u64>) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(client.len());
    for (name, value) in client {
        let n = name.as_str();
        if CLIENT_ONLY.contains(&n) || crate::sse::request::is_sse_header(n) {
            continue;
        }
        if name == http::header::CONTENT_ENCODING {
            let rest: Vec<&str> = value
                .to_str()
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("aws-chunked"))
                .collect();
            if !rest.is_empty()
                && let Ok(v) = HeaderValue::from_str(&rest.join(", "))
            {
                out.append(name.clone(), v);
            }
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    if let Some(len) = decoded_length {
        out.insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    out
}

/// Drop hop-by-hop headers from a backend response. One pass to find them (a response rarely has any): a
/// `remove` per name hashes it, seven times per response.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    use http::header::{CONNECTION, TE, TRAILER, TRANSFER_ENCODING, UPGRADE};
    const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
    const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
    let hop_by_hop = [
        CONNECTION,
        KEEP_ALIVE,
        PROXY_CONNECTION,
        TE,
        TRAILER,
        TRANSFER_ENCODING,
        UPGRADE,
    ];
    if !headers.keys().any(|n| hop_by_hop.contains(n)) {
        return;
    }
    for name in hop_by_hop {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_are_dropped_from_a_response_and_the_rest_kept() {
        let mut h = HeaderMap::new();
        h.insert("etag", HeaderValue::from_static("\"abc\""));
        h.insert("connection", HeaderValue::from_static("keep-alive"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        h.insert("x-amz-request-id", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h);
        let mut names: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["etag", "x-amz-request-id"]);
        let before = h.clone();
        strip_hop_by_hop(&mut h);
        assert_eq!(h, before, "a response without hop-by-hop headers is left as it is");
    }

    fn forwarded_query(raw: Option<&str>) -> String {
        let mut out = String::new();
        push_forwarded_query(&mut out, raw);
        out
    }

    #[test]
    fn query_loses_presign_auth_keeps_the_rest() {
        assert_eq!(
            forwarded_query(Some(
                "uploads&X-Amz-Signature=abc&prefix=a%20b&X-Amz-Credential=x&delimiter="
            )),
            "?uploads&prefix=a%20b"
        );
        assert_eq!(forwarded_query(Some("X-Amz-Signature=abc&delimiter=")), "");
        assert_eq!(forwarded_query(None), "");
    }

    #[test]
    fn backend_uris_by_addressing() {
        let uri = |b: &Backend, t: &Target, q| b.uri_for(t, q).unwrap().to_string();
        let obj = Target::object("bkt", "a b/\u{fc}+c~");
        for (addressing, object, bucket, service) in [
            (
                Addressing::Path,
                "http://b.test:9000/bkt/a%20b/%C3%BC%2Bc~?versionId=1",
                "http://b.test:9000/bkt?list-type=2&prefix=a%2Fb",
                "http://b.test:9000/",
            ),
            (
                Addressing::Virtual,
                "http://bkt.b.test:9000/a%20b/%C3%BC%2Bc~?versionId=1",
                "http://bkt.b.test:9000/?list-type=2&prefix=a%2Fb",
                "http://b.test:9000/",
            ),
        ] {
            let b = backend("http://b.test:9000", addressing);
            assert_eq!(uri(&b, &obj, Some("versionId=1&X-Amz-Signature=x")), object);
            assert_eq!(uri(&b, &Target::bucket("bkt"), Some("list-type=2&prefix=a/b")), bucket);
            assert_eq!(uri(&b, &Target::default(), None), service);
        }
    }

    #[test]
    fn headers_lose_client_auth_and_chunked_encoding() {
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_static("AWS4-HMAC-SHA256 ..."));
        h.insert("content-encoding", HeaderValue::from_static("aws-chunked,gzip"));
        h.insert("x-amz-meta-a", HeaderValue::from_static("1"));
        h.insert("content-length", HeaderValue::from_static("999"));
        let f = forwarded_headers(&h, Some(10));
        assert!(f.get("authorization").is_none());
        assert_eq!(f["content-encoding"], "gzip");
        assert_eq!(f["content-length"], "10");
        assert_eq!(f["x-amz-meta-a"], "1");
    }

    fn backend(endpoint: &str, addressing: Addressing) -> Arc<Backend> {
        Backend::new(BackendSettings {
            endpoint,
            region: "us-east-1".into(),
            access_key_id: "AK".into(),
            secret_access_key: SecretString::new("SK".into()),
            ca_pem: None,
            addressing,
            connect_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(1),
            payload: BackendPayload::Unsigned,
            object_lock_checksum: true,
            conditional_deletes: true,
        })
        .expect("backend")
    }

    #[test]
    fn object_bucket_of_names_the_bucket_of_object_uris_only() {
        for addressing in [Addressing::Path, Addressing::Virtual] {
            let b = backend("http://127.0.0.1:9000", addressing);
            let object = b
                .uri_for(&Target::object("my-bucket", "a/b c"), Some("uploadId=1"))
                .unwrap();
            assert_eq!(b.object_bucket_of(&object).as_deref(), Some("my-bucket"), "{object}");
            let bucket = b.uri_for(&Target::bucket("my-bucket"), Some("object-lock")).unwrap();
            assert_eq!(b.object_bucket_of(&bucket), None, "{bucket}");
            let service = b
                .uri_for(
                    &Target {
                        bucket: None,
                        key: None,
                    },
                    None,
                )
                .unwrap();
            assert_eq!(b.object_bucket_of(&service), None, "{service}");
        }
    }

    #[test]
    fn trailer_headers_name_the_checksum_algorithm_as_s3_requires_in_object_lock_buckets() {
        let mut h = HeaderMap::new();
        set_aws_chunked_headers(&mut h, 100, false);
        assert_eq!(h["x-amz-trailer"], "x-amz-checksum-crc32c");
        assert_eq!(h["x-amz-sdk-checksum-algorithm"], "CRC32C");
        let mut h = HeaderMap::new();
        set_aws_chunked_headers(&mut h, 100, true);
        assert!(h.get("x-amz-sdk-checksum-algorithm").is_none());
    }
}
