//! SigV4 end to end: what a client sees (HTTP status and S3 error code) for good and bad signatures, and, for
//! every rejected PUT, that the object did not appear at the backend (a direct HEAD there answers 404).
//!
//! Requests are signed with `aws-sigv4` (see `common`); aws-chunked bodies are framed and chunk-signed by the
//! small independent signer in this file, written from the AWS documentation ("Transferring payload in
//! multiple chunks" and "... with trailing headers").

mod common;

use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::SignableBody;
use bytes::Bytes;
use common::*;
use hmac::{Hmac, KeyInit as _, Mac as _};
use http::{Method, Request, StatusCode};
use sha2::{Digest as _, Sha256};

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

fn sha256_hex(d: &[u8]) -> String {
    hex::encode(Sha256::digest(d))
}

/// S3's CRC32 (ISO-HDLC, the zlib one), base64 of the big-endian value.
fn crc32_b64(d: &[u8]) -> String {
    let v = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32IsoHdlc, d) as u32;
    b64(&v.to_be_bytes())
}

/// A started stack with one bucket created through the gateway.
async fn stack_with_bucket(prefix: &str) -> (Stack, HttpsClient, String) {
    let s = Stack::start();
    let client = s.gw.client();
    let bucket = unique_bucket(prefix);
    create_bucket(&s.gw, &client, &bucket).await;
    (s, client, bucket)
}

// ------------------------------------------------------------------------------------------------
// Header authentication
// ------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn header_auth_put_get_roundtrip() {
    let (s, client, bucket) = stack_with_bucket("hdr-ok").await;
    let body = pseudo_random(100 * KIB, 1);
    put_object(&s.gw, &client, &bucket, "dir/obj.bin", body.clone())
        .await
        .assert_ok();
    s.backend.assert_present(&bucket, "dir/obj.bin").await;
    let r = get_object(&s.gw, &client, &bucket, "dir/obj.bin").await;
    r.assert_ok();
    assert_eq!(r.body.as_ref(), &body[..], "GET returns what was PUT");
    // The error responses carry a request id, and so do the good ones.
    assert!(r.header("x-amz-request-id").is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_secret_is_signature_does_not_match() {
    let (s, client, bucket) = stack_with_bucket("wrong-secret").await;
    let bad = Creds {
        ak: CLIENT_AK,
        sk: "notTheRightSecretKey/Example+0123456789ab",
    };
    let r = send(
        &client,
        signed(&s.gw, bad, Method::PUT, &format!("/{bucket}/k"), "hello"),
    )
    .await;
    r.assert_error(403, "SignatureDoesNotMatch");
    s.backend.assert_absent(&bucket, "k").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_access_key_is_invalid_access_key_id() {
    let (s, client, bucket) = stack_with_bucket("unknown-ak").await;
    let bad = Creds {
        ak: "NOSUCHACCESSKEY00000",
        sk: CLIENT_SK,
    };
    let r = send(
        &client,
        signed(&s.gw, bad, Method::PUT, &format!("/{bucket}/k"), "hello"),
    )
    .await;
    r.assert_error(403, "InvalidAccessKeyId");
    s.backend.assert_absent(&bucket, "k").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn date_20_minutes_off_is_request_time_too_skewed() {
    let (s, client, bucket) = stack_with_bucket("skewed").await;
    for (what, time) in [
        ("20 minutes ago", SystemTime::now() - Duration::from_secs(20 * 60)),
        ("in 20 minutes", SystemTime::now() + Duration::from_secs(20 * 60)),
    ] {
        let key = format!("k-{}", what.replace(' ', "-"));
        let body = Bytes::from_static(b"hello");
        let mut req = Request::builder()
            .method(Method::PUT)
            .uri(s.gw.url(&format!("/{bucket}/{key}")))
            .header("content-length", body.len())
            .body(body.clone())
            .unwrap();
        sign_request(&mut req, CLIENT, time, SignableBody::Bytes(&body));
        let r = send(&client, req).await;
        assert_eq!(
            (r.status.as_u16(), r.error_code().as_deref()),
            (403, Some("RequestTimeTooSkewed")),
            "x-amz-date {what}: {}",
            r.text()
        );
        s.backend.assert_absent(&bucket, &key).await;
    }
}

/// A literal `x-amz-content-sha256` (correctly signed) that is not the body's hash.
async fn sha256_mismatch(size: usize) {
    let (s, client, bucket) = stack_with_bucket("sha-mismatch").await;
    let body = Bytes::from(pseudo_random(size, 7));
    let wrong = sha256_hex(b"something else entirely");
    let mut req = Request::builder()
        .method(Method::PUT)
        .uri(s.gw.url(&format!("/{bucket}/k")))
        .header("content-length", body.len())
        .body(body.clone())
        .unwrap();
    sign_request(
        &mut req,
        CLIENT,
        SystemTime::now(),
        SignableBody::Precomputed(wrong.clone()),
    );
    assert_eq!(req.headers()["x-amz-content-sha256"], wrong.as_str());
    let r = send(&client, req).await;
    r.assert_error(400, "XAmzContentSHA256Mismatch");
    s.backend.assert_absent(&bucket, "k").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn content_sha256_mismatch_small_body() {
    sha256_mismatch(5).await;
}

/// 1 MiB is above the gateway's pre-verification limit: it streams to the backend with its last bytes held
/// back, and the backend request must be aborted when the hash turns out wrong.
#[tokio::test(flavor = "multi_thread")]
async fn content_sha256_mismatch_1mib_streaming_body() {
    sha256_mismatch(MIB).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn content_md5_mismatch_is_bad_digest() {
    let (s, client, bucket) = stack_with_bucket("md5-bad").await;
    let md5 = md5_b64(b"not the body");
    let req = signed_with_headers(
        &s.gw,
        CLIENT,
        Method::PUT,
        &format!("/{bucket}/k"),
        "the body",
        &[("content-md5", &md5)],
    );
    send(&client, req).await.assert_error(400, "BadDigest");
    s.backend.assert_absent(&bucket, "k").await;

    // The same with the right MD5 is stored.
    let md5 = md5_b64(b"the body");
    let req = signed_with_headers(
        &s.gw,
        CLIENT,
        Method::PUT,
        &format!("/{bucket}/k"),
        "the body",
        &[("content-md5", &md5)],
    );
    send(&client, req).await.assert_ok();
    s.backend.assert_present(&bucket, "k").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn content_md5_malformed_is_invalid_digest() {
    let (s, client, bucket) = stack_with_bucket("md5-malformed").await;
    for (i, md5) in ["not base64 at all!", "aGVsbG8=" /* 5 bytes, not 16 */]
        .iter()
        .enumerate()
    {
        let key = format!("k{i}");
        let req = signed_with_headers(
            &s.gw,
            CLIENT,
            Method::PUT,
            &format!("/{bucket}/{key}"),
            "the body",
            &[("content-md5", md5)],
        );
        let r = send(&client, req).await;
        assert_eq!(
            (r.status.as_u16(), r.error_code().as_deref()),
            (400, Some("InvalidDigest")),
            "Content-MD5 {md5:?}: {}",
            r.text()
        );
        s.backend.assert_absent(&bucket, &key).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn checksum_crc32_header_mismatch_is_bad_digest() {
    let (s, client, bucket) = stack_with_bucket("crc-header").await;
    for size in [11, MIB] {
        let body = pseudo_random(size, 3);
        let key = format!("bad-{size}");
        let wrong = crc32_b64(b"other data");
        let req = signed_with_headers(
            &s.gw,
            CLIENT,
            Method::PUT,
            &format!("/{bucket}/{key}"),
            body.clone(),
            &[("x-amz-checksum-crc32", &wrong)],
        );
        let r = send(&client, req).await;
        assert_eq!(
            (r.status.as_u16(), r.error_code().as_deref()),
            (400, Some("BadDigest")),
            "{size}-byte body with a wrong x-amz-checksum-crc32: {}",
            r.text()
        );
        s.backend.assert_absent(&bucket, &key).await;

        // And the right CRC32 is accepted (this also checks the CRC32 computed here).
        let key = format!("good-{size}");
        let right = crc32_b64(&body);
        let req = signed_with_headers(
            &s.gw,
            CLIENT,
            Method::PUT,
            &format!("/{bucket}/{key}"),
            body.clone(),
            &[("x-amz-checksum-crc32", &right)],
        );
        send(&client, req).await.assert_ok();
        s.backend.assert_present(&bucket, &key).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_authentication_is_access_denied() {
    let (s, client, bucket) = stack_with_bucket("anonymous").await;
    let req = Request::builder()
        .method(Method::PUT)
        .uri(s.gw.url(&format!("/{bucket}/k")))
        .header("content-length", 5)
        .body(Bytes::from_static(b"hello"))
        .unwrap();
    send(&client, req).await.assert_error(403, "AccessDenied");
    s.backend.assert_absent(&bucket, "k").await;

    put_object(&s.gw, &client, &bucket, "exists", "data").await.assert_ok();
    let req = Request::get(s.gw.url(&format!("/{bucket}/exists")))
        .body(Bytes::new())
        .unwrap();
    send(&client, req).await.assert_error(403, "AccessDenied");

    // Half a presigned URL is neither signed nor anonymous.
    for (q, status, code) in [
        ("X-Amz-Signature=00", 400, "AuthorizationQueryParametersError"),
        ("X-Amz-Credential=x", 400, "AuthorizationQueryParametersError"),
        // SigV2's own answer to an incomplete query signature.
        ("AWSAccessKeyId=x", 403, "AccessDenied"),
        ("Signature=x", 403, "AccessDenied"),
    ] {
        let req = Request::get(s.gw.url(&format!("/{bucket}/exists?{q}")))
            .body(Bytes::new())
            .unwrap();
        send(&client, req).await.assert_error(status, code);
    }
}

/// SigV2 is accepted by default (tests/sigv2.rs); with `[s3] sigv2 = false` it is refused as S3's SigV4-only
/// regions refuse it, and a wrong SigV2 signature never writes anything either way.
#[tokio::test(flavor = "multi_thread")]
async fn sigv2_authorization_is_invalid_request_when_disabled() {
    for (toml, status, code) in [
        ("[s3]\nsigv2 = false\n", 400, "InvalidRequest"),
        ("", 403, "SignatureDoesNotMatch"),
    ] {
        let s = Stack::start_with(toml);
        let client = s.gw.client();
        let bucket = unique_bucket("sigv2");
        create_bucket(&s.gw, &client, &bucket).await;
        let req = Request::builder()
            .method(Method::PUT)
            .uri(s.gw.url(&format!("/{bucket}/k")))
            .header("content-length", 5)
            .header("date", httpdate(SystemTime::now()))
            .header("authorization", format!("AWS {CLIENT_AK}:frJIUN8DYpKDtOLCwo//yllqDzg="))
            .body(Bytes::from_static(b"hello"))
            .unwrap();
        send(&client, req).await.assert_error(status, code);
        s.backend.assert_absent(&bucket, "k").await;
    }
}

/// An IMF-fixdate (`Sun, 22 Nov 2026 12:00:00 GMT`).
fn httpdate(t: SystemTime) -> String {
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::OffsetDateTime::from(t).format(fmt).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn restricted_credential_is_denied_other_buckets() {
    let s = Stack::start();
    let client = s.gw.client();
    let other = unique_bucket("not-allowed");
    create_bucket(&s.gw, &client, &other).await;

    // LIMITED may create and write its own bucket...
    let r = send(
        &client,
        signed(&s.gw, LIMITED, Method::PUT, &format!("/{LIMITED_BUCKET}"), ""),
    )
    .await;
    r.assert_ok();
    let r = send(
        &client,
        signed(&s.gw, LIMITED, Method::PUT, &format!("/{LIMITED_BUCKET}/mine"), "x"),
    )
    .await;
    r.assert_ok();
    s.backend.assert_present(LIMITED_BUCKET, "mine").await;

    // ...but not touch another one.
    let r = send(
        &client,
        signed(&s.gw, LIMITED, Method::PUT, &format!("/{other}/k"), "x"),
    )
    .await;
    r.assert_error(403, "AccessDenied");
    s.backend.assert_absent(&other, "k").await;
    put_object(&s.gw, &client, &other, "theirs", "y").await.assert_ok();
    let r = send(
        &client,
        signed(&s.gw, LIMITED, Method::GET, &format!("/{other}/theirs"), ""),
    )
    .await;
    r.assert_error(403, "AccessDenied");
    let r = send(&client, signed(&s.gw, LIMITED, Method::GET, &format!("/{other}"), "")).await;
    r.assert_error(403, "AccessDenied");
    // Nor copy out of it into its own bucket.
    let src = format!("/{other}/theirs");
    let req = signed_with_headers(
        &s.gw,
        LIMITED,
        Method::PUT,
        &format!("/{LIMITED_BUCKET}/copied"),
        "",
        &[("x-amz-copy-source", &src)],
    );
    send(&client, req).await.assert_error(403, "AccessDenied");
    s.backend.assert_absent(LIMITED_BUCKET, "copied").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn virtual_hosted_style_put_get() {
    let s = Stack::start_with("[s3]\nvirtual_host_domains = [\"s3.local.test\"]\n");
    let client = s.gw.client();
    let bucket = unique_bucket("vhost");
    let host = format!("{bucket}.s3.local.test:{}", s.gw.port());

    let vreq = |method: Method, path: &str, body: &'static [u8]| {
        let body = Bytes::from_static(body);
        let with_length = !body.is_empty() || method == Method::PUT;
        let mut b = Request::builder()
            .method(method)
            .uri(s.gw.url(path))
            .header("host", host.as_str());
        if with_length {
            b = b.header("content-length", body.len());
        }
        let mut req = b.body(body.clone()).unwrap();
        sign_request(&mut req, CLIENT, SystemTime::now(), SignableBody::Bytes(&body));
        req
    };

    send(&client, vreq(Method::PUT, "/", b"")).await.assert_ok();
    send(&client, vreq(Method::PUT, "/dir/hello.txt", b"virtual hello"))
        .await
        .assert_ok();
    s.backend.assert_present(&bucket, "dir/hello.txt").await;
    let r = send(&client, vreq(Method::GET, "/dir/hello.txt", b"")).await;
    r.assert_ok();
    assert_eq!(r.body.as_ref(), b"virtual hello");
    let r = send(&client, vreq(Method::GET, "/?list-type=2", b"")).await;
    r.assert_ok();
    assert!(r.text().contains("<Key>dir/hello.txt</Key>"), "listing: {}", r.text());
    // Path style still works on the same gateway.
    let r = get_object(&s.gw, &client, &bucket, "dir/hello.txt").await;
    r.assert_ok();
    assert_eq!(r.body.as_ref(), b"virtual hello");
}

// ------------------------------------------------------------------------------------------------
// Presigned URLs
// ------------------------------------------------------------------------------------------------

async fn get_url(client: &HttpsClient, url: &str) -> Resp {
    send(client, Request::get(url).body(Bytes::new()).unwrap()).await
}

#[tokio::test(flavor = "multi_thread")]
async fn presigned_get_valid() {
    let (s, client, bucket) = stack_with_bucket("presign-ok").await;
    let body = pseudo_random(70 * KIB, 5);
    put_object(&s.gw, &client, &bucket, "p/obj.bin", body.clone())
        .await
        .assert_ok();
    let url = presign(
        Method::GET,
        &s.gw.url(&format!("/{bucket}/p/obj.bin")),
        CLIENT,
        SystemTime::now(),
        Duration::from_secs(300),
    );
    assert!(url.contains("X-Amz-Signature="), "{url}");
    let r = get_url(&client, &url).await;
    r.assert_ok();
    assert_eq!(r.body.as_ref(), &body[..]);
}

#[tokio::test(flavor = "multi_thread")]
async fn presigned_expired_is_access_denied() {
    let (s, client, bucket) = stack_with_bucket("presign-expired").await;
    put_object(&s.gw, &client, &bucket, "k", "data").await.assert_ok();
    let url = presign(
        Method::GET,
        &s.gw.url(&format!("/{bucket}/k")),
        CLIENT,
        SystemTime::now() - Duration::from_secs(2 * 3600),
        Duration::from_secs(60),
    );
    get_url(&client, &url).await.assert_error(403, "AccessDenied");
}

#[tokio::test(flavor = "multi_thread")]
async fn presigned_expires_over_a_week_is_query_parameters_error() {
    let (s, client, bucket) = stack_with_bucket("presign-long").await;
    put_object(&s.gw, &client, &bucket, "k", "data").await.assert_ok();
    let url = presign(
        Method::GET,
        &s.gw.url(&format!("/{bucket}/k")),
        CLIENT,
        SystemTime::now(),
        Duration::from_secs(604_801),
    );
    assert!(url.contains("X-Amz-Expires=604801"), "{url}");
    get_url(&client, &url)
        .await
        .assert_error(400, "AuthorizationQueryParametersError");
    // Exactly a week is allowed.
    let url = presign(
        Method::GET,
        &s.gw.url(&format!("/{bucket}/k")),
        CLIENT,
        SystemTime::now(),
        Duration::from_secs(604_800),
    );
    get_url(&client, &url).await.assert_ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn presigned_tampered_signature_is_signature_does_not_match() {
    let (s, client, bucket) = stack_with_bucket("presign-tampered").await;
    put_object(&s.gw, &client, &bucket, "k", "data").await.assert_ok();
    let url = presign(
        Method::GET,
        &s.gw.url(&format!("/{bucket}/k")),
        CLIENT,
        SystemTime::now(),
        Duration::from_secs(300),
    );
    let i = url.find("X-Amz-Signature=").expect("signature param") + "X-Amz-Signature=".len();
    let mut tampered = url.clone().into_bytes();
    tampered[i] = if tampered[i] == b'0' { b'1' } else { b'0' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_ne!(tampered, url);
    get_url(&client, &tampered)
        .await
        .assert_error(403, "SignatureDoesNotMatch");

    // A presigned PUT with a tampered signature stores nothing.
    let url = presign(
        Method::PUT,
        &s.gw.url(&format!("/{bucket}/put-k")),
        CLIENT,
        SystemTime::now(),
        Duration::from_secs(300),
    );
    let i = url.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let mut tampered = url.into_bytes();
    tampered[i] = if tampered[i] == b'0' { b'1' } else { b'0' };
    let req = Request::put(String::from_utf8(tampered).unwrap())
        .header("content-length", 4)
        .body(Bytes::from_static(b"data"))
        .unwrap();
    send(&client, req).await.assert_error(403, "SignatureDoesNotMatch");
    s.backend.assert_absent(&bucket, "put-k").await;
}

// ------------------------------------------------------------------------------------------------
// aws-chunked bodies, framed and signed here
// ------------------------------------------------------------------------------------------------

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// The chunk-signature chain of AWS SigV4 streaming uploads.
struct ChunkSigner {
    key: Vec<u8>,
    amz_date: String,
    scope: String,
    previous: String,
}

impl ChunkSigner {
    /// `seed` is the signature of the request's `Authorization` header, `amz_date` its `x-amz-date`.
    fn new(secret: &str, amz_date: &str, seed: &str) -> Self {
        let date = &amz_date[..8];
        let k = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
        let k = hmac_sha256(&k, REGION.as_bytes());
        let k = hmac_sha256(&k, b"s3");
        let key = hmac_sha256(&k, b"aws4_request");
        ChunkSigner {
            key,
            amz_date: amz_date.to_owned(),
            scope: format!("{date}/{REGION}/s3/aws4_request"),
            previous: seed.to_owned(),
        }
    }

    fn sign(&mut self, string_to_sign: String) -> String {
        let sig = hex::encode(hmac_sha256(&self.key, string_to_sign.as_bytes()));
        self.previous = sig.clone();
        sig
    }

    fn chunk(&mut self, data: &[u8]) -> String {
        let sts = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{EMPTY_SHA256}\n{}",
            self.amz_date,
            self.scope,
            self.previous,
            sha256_hex(data)
        );
        self.sign(sts)
    }

    /// `canonical`: the trailer headers as `name:value\n`, sorted by name.
    fn trailer(&mut self, canonical: &str) -> String {
        let sts = format!(
            "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{}\n{}",
            self.amz_date,
            self.scope,
            self.previous,
            sha256_hex(canonical.as_bytes())
        );
        self.sign(sts)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Signed,
    SignedTrailer,
    UnsignedTrailer,
}

impl Mode {
    fn content_sha256(self) -> &'static str {
        match self {
            Mode::Signed => "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            Mode::SignedTrailer => "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
            Mode::UnsignedTrailer => "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        }
    }
    fn signed(self) -> bool {
        self != Mode::UnsignedTrailer
    }
    fn trailer(self) -> bool {
        self != Mode::Signed
    }
}

/// What to send wrong on purpose.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Corruption {
    None,
    /// Flip one data byte of the last data chunk after it was signed.
    FlipLastChunkByte,
    /// Send this CRC32 trailer value instead of the right one.
    WrongCrc32,
    /// Declare an `x-amz-decoded-content-length` this much off the real decoded length.
    DecodedLengthOff(i64),
}

/// The aws-chunked encoding of `data` in `chunk_size` chunks. `sign` is called for each chunk's data (and the
/// empty final chunk), then `sign_trailer` for the canonical trailer.
fn encode(
    mode: Mode,
    data: &[u8],
    chunk_size: usize,
    crc32_value: &str,
    corruption: Corruption,
    mut sign: impl FnMut(&[u8]) -> String,
    mut sign_trailer: impl FnMut(&str) -> String,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 1024);
    let chunks: Vec<&[u8]> = data.chunks(chunk_size).collect();
    let n = chunks.len();
    for (i, c) in chunks.iter().enumerate() {
        out.extend_from_slice(format!("{:x}", c.len()).as_bytes());
        if mode.signed() {
            out.extend_from_slice(format!(";chunk-signature={}", sign(c)).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        let start = out.len();
        out.extend_from_slice(c);
        if i == n - 1 && corruption == Corruption::FlipLastChunkByte {
            out[start + c.len() / 2] ^= 0x01;
        }
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0");
    if mode.signed() {
        out.extend_from_slice(format!(";chunk-signature={}", sign(&[])).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    if mode.trailer() {
        let trailer = format!("x-amz-checksum-crc32:{crc32_value}");
        out.extend_from_slice(trailer.as_bytes());
        out.extend_from_slice(b"\r\n");
        if mode.signed() {
            let sig = sign_trailer(&format!("{trailer}\n"));
            out.extend_from_slice(format!("x-amz-trailer-signature:{sig}\r\n").as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// A PUT of `data` as an aws-chunked body in `mode`.
fn chunked_put(
    gw: &Gateway,
    path: &str,
    mode: Mode,
    data: &[u8],
    chunk_size: usize,
    corruption: Corruption,
) -> Request<Bytes> {
    let crc = if corruption == Corruption::WrongCrc32 {
        crc32_b64(b"definitely not the data")
    } else {
        crc32_b64(data)
    };
    // Every signature is 64 hex characters, so a dummy encoding has the final length.
    let dummy = "0".repeat(64);
    let encoded_len = encode(
        mode,
        data,
        chunk_size,
        &crc,
        corruption,
        |_| dummy.clone(),
        |_| dummy.clone(),
    )
    .len();

    let mut b = Request::builder()
        .method(Method::PUT)
        .uri(gw.url(path))
        .header("content-encoding", "aws-chunked")
        .header("content-length", encoded_len)
        .header(
            "x-amz-decoded-content-length",
            match corruption {
                Corruption::DecodedLengthOff(d) => (data.len() as i64 + d).to_string(),
                _ => data.len().to_string(),
            },
        );
    if mode.trailer() {
        b = b.header("x-amz-trailer", "x-amz-checksum-crc32");
    }
    let mut req = b.body(Bytes::new()).unwrap();
    let seed = sign_request(
        &mut req,
        CLIENT,
        SystemTime::now(),
        SignableBody::Precomputed(mode.content_sha256().to_owned()),
    );
    assert_eq!(req.headers()["x-amz-content-sha256"], mode.content_sha256());
    let amz_date = req.headers()["x-amz-date"].to_str().unwrap().to_owned();
    let signer = std::cell::RefCell::new(ChunkSigner::new(CLIENT_SK, &amz_date, &seed));
    let body = encode(
        mode,
        data,
        chunk_size,
        &crc,
        corruption,
        |c| signer.borrow_mut().chunk(c),
        |t| signer.borrow_mut().trailer(t),
    );
    assert_eq!(body.len(), encoded_len);
    *req.body_mut() = Bytes::from(body);
    req
}

#[tokio::test(flavor = "multi_thread")]
async fn chunked_signed_payload_200kib_in_64kib_chunks() {
    let (s, client, bucket) = stack_with_bucket("chunked-signed").await;
    let data = pseudo_random(200 * KIB, 11);
    let req = chunked_put(
        &s.gw,
        &format!("/{bucket}/c.bin"),
        Mode::Signed,
        &data,
        64 * KIB,
        Corruption::None,
    );
    send(&client, req).await.assert_ok();
    let r = get_object(&s.gw, &client, &bucket, "c.bin").await;
    r.assert_ok();
    assert_eq!(r.body.len(), data.len());
    assert!(r.body.as_ref() == &data[..], "GET returns the decoded bytes");
}

/// A byte flipped in the LAST chunk is only detected when that chunk's signature is checked, after most of
/// the body went to the backend: the backend request must be aborted before its last byte.
#[tokio::test(flavor = "multi_thread")]
async fn chunked_signed_payload_tampered_last_chunk_never_reaches_backend() {
    let (s, client, bucket) = stack_with_bucket("chunked-tampered").await;
    let data = pseudo_random(200 * KIB, 12);
    let req = chunked_put(
        &s.gw,
        &format!("/{bucket}/c.bin"),
        Mode::Signed,
        &data,
        64 * KIB,
        Corruption::FlipLastChunkByte,
    );
    send(&client, req).await.assert_error(403, "SignatureDoesNotMatch");
    s.backend.assert_absent(&bucket, "c.bin").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn chunked_unsigned_payload_trailer_crc32() {
    let (s, client, bucket) = stack_with_bucket("chunked-unsigned").await;
    let data = pseudo_random(300 * KIB + 17, 13);
    let req = chunked_put(
        &s.gw,
        &format!("/{bucket}/u.bin"),
        Mode::UnsignedTrailer,
        &data,
        64 * KIB,
        Corruption::None,
    );
    send(&client, req).await.assert_ok();
    let r = get_object(&s.gw, &client, &bucket, "u.bin").await;
    r.assert_ok();
    assert!(r.body.as_ref() == &data[..], "GET returns the decoded bytes");
}

#[tokio::test(flavor = "multi_thread")]
async fn chunked_unsigned_payload_trailer_wrong_crc32_1mib_never_reaches_backend() {
    let (s, client, bucket) = stack_with_bucket("chunked-badcrc").await;
    let data = pseudo_random(MIB, 14);
    let req = chunked_put(
        &s.gw,
        &format!("/{bucket}/u.bin"),
        Mode::UnsignedTrailer,
        &data,
        64 * KIB,
        Corruption::WrongCrc32,
    );
    send(&client, req).await.assert_error(400, "BadDigest");
    s.backend.assert_absent(&bucket, "u.bin").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn chunked_signed_payload_trailer_crc32() {
    let (s, client, bucket) = stack_with_bucket("chunked-signed-tr").await;
    let data = pseudo_random(150 * KIB + 3, 15);
    let req = chunked_put(
        &s.gw,
        &format!("/{bucket}/t.bin"),
        Mode::SignedTrailer,
        &data,
        64 * KIB,
        Corruption::None,
    );
    send(&client, req).await.assert_ok();
    let r = get_object(&s.gw, &client, &bucket, "t.bin").await;
    r.assert_ok();
    assert!(r.body.as_ref() == &data[..], "GET returns the decoded bytes");

    // With a flipped byte the chain breaks there too.
    let req = chunked_put(
        &s.gw,
        &format!("/{bucket}/t2.bin"),
        Mode::SignedTrailer,
        &data,
        64 * KIB,
        Corruption::FlipLastChunkByte,
    );
    send(&client, req).await.assert_error(403, "SignatureDoesNotMatch");
    s.backend.assert_absent(&bucket, "t2.bin").await;
}

/// `x-amz-decoded-content-length` must match what the chunks carry, in both directions.
#[tokio::test(flavor = "multi_thread")]
async fn chunked_decoded_length_mismatch_never_reaches_backend() {
    let (s, client, bucket) = stack_with_bucket("chunked-declen").await;
    let data = pseudo_random(200 * KIB, 16);
    for (mode, off) in [
        (Mode::Signed, 1),
        (Mode::Signed, -1),
        (Mode::UnsignedTrailer, 1000),
        (Mode::UnsignedTrailer, -1000),
    ] {
        let key = format!("len-{mode:?}-{off}");
        let req = chunked_put(
            &s.gw,
            &format!("/{bucket}/{key}"),
            mode,
            &data,
            64 * KIB,
            Corruption::DecodedLengthOff(off),
        );
        let r = send(&client, req).await;
        assert_eq!(
            r.status.as_u16(),
            400,
            "{mode:?} with x-amz-decoded-content-length off by {off}: {}",
            r.text()
        );
        s.backend.assert_absent(&bucket, &key).await;
    }
}

// ------------------------------------------------------------------------------------------------
// A client that goes away mid-upload
// ------------------------------------------------------------------------------------------------

/// Send the head of a signed PUT with `Content-Length: size` and only `sent` bytes of its body, then close
/// the connection.
async fn put_and_disconnect(gw: &Gateway, path: &str, size: usize, sent: usize, payload_signed: bool) {
    use tokio::io::AsyncWriteExt as _;
    let body = pseudo_random(size, 17);
    let mut req = Request::builder()
        .method(Method::PUT)
        .uri(gw.url(path))
        .header("content-length", size)
        .body(())
        .unwrap();
    let payload = if payload_signed {
        SignableBody::Bytes(&body)
    } else {
        SignableBody::UnsignedPayload
    };
    sign_request(&mut req, CLIENT, SystemTime::now(), payload);
    let mut head = format!("PUT {path} HTTP/1.1\r\nhost: {}\r\n", gw.addr);
    for (n, v) in req.headers() {
        head.push_str(&format!("{n}: {}\r\n", v.to_str().unwrap()));
    }
    head.push_str("\r\n");
    let cfg = std::sync::Arc::new(tls_config(&[gw.ca_file()], TlsVersions::Both));
    let tcp = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(cfg).connect(name, tcp).await.unwrap();
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.write_all(&body[..sent]).await.unwrap();
    tls.flush().await.unwrap();
    // Let the gateway forward what it got, then vanish.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(tls);
}

#[tokio::test(flavor = "multi_thread")]
async fn client_disconnect_mid_upload_never_completes_at_backend() {
    let (s, client, bucket) = stack_with_bucket("disconnect").await;
    for (key, sent, signed_payload) in [
        ("unsigned-600k", 600 * KIB, false),
        ("unsigned-all-but-one", MIB - 1, false),
        ("signed-all-but-one", MIB - 1, true),
    ] {
        put_and_disconnect(&s.gw, &format!("/{bucket}/{key}"), MIB, sent, signed_payload).await;
    }
    // The gateway notices the disconnect at once; give the backend a moment to finish (or abort) anyway.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for key in ["unsigned-600k", "unsigned-all-but-one", "signed-all-but-one"] {
        s.backend.assert_absent(&bucket, key).await;
    }
    // The gateway is fine afterwards.
    put_object(&s.gw, &client, &bucket, "after", pseudo_random(MIB, 18))
        .await
        .assert_ok();
}

// ------------------------------------------------------------------------------------------------
// The backend checks signatures too, so the gateway's re-signing is really exercised.
// ------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn backend_rejects_a_wrongly_signed_direct_request() {
    let (s, _client, bucket) = stack_with_bucket("direct").await;
    let bad = Creds {
        ak: BACKEND_AK,
        sk: "notTheBackendSecret/Example+0123456789abc",
    };
    let r = s
        .backend
        .send_signed(bad, Method::PUT, &format!("/{bucket}/direct"), Bytes::from_static(b"x"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "backend answer: {}", r.text());
    s.backend.assert_absent(&bucket, "direct").await;
    // The client credentials mean nothing to the backend either.
    let r = s
        .backend
        .send_signed(
            CLIENT,
            Method::PUT,
            &format!("/{bucket}/direct"),
            Bytes::from_static(b"x"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "backend answer: {}", r.text());
    // The backend's own credentials work.
    let r = s
        .backend
        .send_signed(
            BACKEND,
            Method::PUT,
            &format!("/{bucket}/direct"),
            Bytes::from_static(b"x"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "backend answer: {}", r.text());
    s.backend.assert_present(&bucket, "direct").await;
}
