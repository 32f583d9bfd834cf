//! S3 calls through the gateway as [`CLIENT`] (create a bucket, put and get an object, any request with extra
//! headers), and the values such requests are made of: unique bucket names, reproducible bodies, percent-encoded
//! query values, base64 and Content-MD5.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::SystemTime;

use base64::Engine as _;
use bytes::Bytes;
use http::{Method, StatusCode};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::{CLIENT, Gateway, HttpsClient, Resp, send, signed, signed_with_headers};

/// A bucket name unique to this test process and call: `prefix-<pid>-<n>`, 3-63 lowercase chars.
pub fn unique_bucket(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut name = format!(
        "{}-{}-{n}-{:x}",
        prefix.to_ascii_lowercase(),
        std::process::id(),
        nanos % 0xfffff
    );
    name.truncate(63);
    assert!(name.len() >= 3, "bucket name too short: {name}");
    name
}

/// A request to the gateway as [`CLIENT`] with extra (signed) headers, read whole.
pub async fn call(
    gw: &Gateway,
    c: &HttpsClient,
    method: Method,
    path: &str,
    body: impl Into<Bytes>,
    h: &[(&str, &str)],
) -> Resp {
    send(c, signed_with_headers(gw, CLIENT, method, path, body, h)).await
}

/// Create `bucket` through the gateway as [`CLIENT`]; panics unless 200.
pub async fn create_bucket(gw: &Gateway, client: &HttpsClient, bucket: &str) {
    let r = send(
        client,
        signed(gw, CLIENT, Method::PUT, &format!("/{bucket}"), Bytes::new()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "CreateBucket {bucket}: {}", r.text());
}

/// PUT an object through the gateway as [`CLIENT`].
pub async fn put_object(gw: &Gateway, client: &HttpsClient, bucket: &str, key: &str, body: impl Into<Bytes>) -> Resp {
    send(
        client,
        signed(gw, CLIENT, Method::PUT, &format!("/{bucket}/{key}"), body),
    )
    .await
}

/// GET an object through the gateway as [`CLIENT`].
pub async fn get_object(gw: &Gateway, client: &HttpsClient, bucket: &str, key: &str) -> Resp {
    send(
        client,
        signed(gw, CLIENT, Method::GET, &format!("/{bucket}/{key}"), Bytes::new()),
    )
    .await
}

/// Deterministic pseudo-random bytes (xorshift), so failures are reproducible.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// A request to the gateway as [`CLIENT`] on a fresh connection, read whole.
pub async fn call_fresh(gw: &Gateway, method: Method, path: &str, body: &[u8], h: &[(&str, &str)]) -> Resp {
    send(
        &gw.client(),
        signed_with_headers(gw, CLIENT, method, path, Bytes::copy_from_slice(body), h),
    )
    .await
}

/// RFC 3986 unreserved characters stay, everything else is percent-encoded.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// `v` percent-encoded for a query value (or a path, with `%2F` put back to `/`).
pub fn enc(v: &str) -> String {
    utf8_percent_encode(v, QUERY_VALUE).to_string()
}

/// Standard base64 (with padding), as S3 headers carry binary values.
pub fn b64(d: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(d)
}

/// DeleteObjects of `bucket` with the document `xml` and its `Content-MD5`, as [`CLIENT`].
pub async fn delete_objects(gw: &Gateway, c: &HttpsClient, bucket: &str, xml: String) -> Resp {
    let md5 = md5_b64(xml.as_bytes());
    call(
        gw,
        c,
        Method::POST,
        &format!("/{bucket}?delete"),
        xml,
        &[("content-md5", &md5)],
    )
    .await
}

/// The base64 MD5 of `d` (a `Content-MD5` or SSE-C key MD5 header value).
pub fn md5_b64(d: &[u8]) -> String {
    use md5::Digest as _;
    b64(&md5::Md5::digest(d))
}
