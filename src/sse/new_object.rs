//! PutObject: a fresh data key per object, sealed into the envelope; the verified plaintext body is encrypted as
//! a stream of segments on its way to the backend. The backend sees only ciphertext and the sealed key.

use http::{HeaderMap, HeaderValue, Response};

use super::{ENVELOPE_HEADER, Keys, add_sse_headers, client_etag, strip_backend_only};
use crate::body::Body;
use crate::body::transform::TransformBody;
use crate::crypto::envelope::{self, Envelope, SealedKey, SseMode};
use crate::crypto::keys::{DataKey, Kek};
use crate::crypto::segment::NoncePrefix;
use crate::crypto::size::ciphertext_len;
use crate::crypto::stream::StreamSealer;
use crate::error::S3Error;
use crate::metrics::Metrics;
use crate::sse::request::{CustomerKey, SseRequest};

/// A new object's encryption: its envelope and data key.
pub struct NewObject {
    pub envelope: Envelope,
    pub data_key: DataKey,
    pub customer: Option<CustomerKey>,
}

/// Choose the mode and make the keys for a new object `bucket`/`key`.
pub async fn new_object(keys: &Keys, sse: SseRequest, bucket: &str, key: &str) -> Result<NewObject, S3Error> {
    protect(keys, sse, None, bucket, key).await
}

/// Re-seal an existing object's data key for a new name and (possibly) a new mode: a copy, a rename, a re-key.
pub async fn reseal(
    keys: &Keys,
    sse: SseRequest,
    data_key: DataKey,
    source: &Envelope,
    bucket: &str,
    key: &str,
) -> Result<NewObject, S3Error> {
    let mut obj = protect(keys, sse, Some(data_key), bucket, key).await?;
    obj.envelope.nonce_prefix = source.nonce_prefix;
    obj.envelope.multipart = source.multipart;
    // Sealed under the data key, which the copy keeps: it opens as before. A record is the copy's to write.
    obj.envelope.checksum = source.checksum.clone();
    Ok(obj)
}

/// Protect `existing` (or a fresh data key) for `bucket`/`key` as `sse` asks.
async fn protect(
    keys: &Keys,
    sse: SseRequest,
    existing: Option<DataKey>,
    bucket: &str,
    key: &str,
) -> Result<NewObject, S3Error> {
    let mut envelope = Envelope {
        mode: SseMode::S3,
        kek_id: String::new(),
        nonce_prefix: NoncePrefix::generate(),
        sealed_key: SealedKey(Vec::new()),
        key_check: None,
        bucket_key: None,
        context: None,
        multipart: false,
        checksum: None,
    };
    let mut customer = None;
    let data_key = match sse {
        // Like S3 since 2023: objects without an SSE header are encrypted with SSE-S3.
        SseRequest::Unspecified | SseRequest::S3 => {
            let dk = existing.unwrap_or_else(DataKey::generate);
            let kek = keys.keyring.active();
            envelope.kek_id = kek.id().to_owned();
            envelope.sealed_key = envelope::seal_key(kek, SseMode::S3, &dk, bucket, key);
            dk
        }
        SseRequest::Customer(ck) => {
            let dk = existing.unwrap_or_else(DataKey::generate);
            let kek = Kek::new("sse-c", *ck.as_bytes());
            envelope.mode = SseMode::C;
            envelope.kek_id = kek.id().to_owned();
            envelope.sealed_key = envelope::seal_key(&kek, SseMode::C, &dk, bucket, key);
            envelope.key_check = Some(envelope::customer_key_check(ck.as_bytes()));
            customer = Some(ck);
            dk
        }
        SseRequest::Kms {
            key_id,
            context,
            bucket_key,
        } => {
            let user = context
                .as_deref()
                .map(crate::kms::parse_context_header)
                .transpose()?
                .unwrap_or_default();
            let key_id = key_id.unwrap_or_else(|| keys.kms.default_key_id.clone());
            // Boxed: the KMS exchange's future would make every new object's future several KiB larger.
            let (dk, w) =
                Box::pin(
                    keys.kms
                        .protect(&key_id, &user, bucket_key.unwrap_or(false), existing, bucket, key),
                )
                .await?;
            envelope.mode = SseMode::Kms;
            envelope.kek_id = w.key_arn;
            envelope.sealed_key = w.sealed;
            envelope.bucket_key = w.bucket_key;
            envelope.context = super::kms::context_to_store(&user);
            dk
        }
    };
    Ok(NewObject {
        envelope,
        data_key,
        customer,
    })
}

/// Rewrite the backend request for an encrypted PutObject: envelope header, ciphertext length, no plaintext
/// checksums (the gateway verified them; they would not match the ciphertext).
pub fn encrypt_request(
    obj: &NewObject,
    headers: &mut HeaderMap,
    plaintext_len: u64,
    body: Body,
    metrics: &std::sync::Arc<Metrics>,
) -> Body {
    let body = encrypt_part(obj, 0, headers, plaintext_len, body, metrics);
    // After encrypt_part, which strips every backend-only header a client may have sent.
    headers.insert(
        ENVELOPE_HEADER,
        HeaderValue::from_str(&obj.envelope.encode()).expect("envelope is ASCII"),
    );
    body
}

/// Encrypt a request body as stream `part` (0 for a single PUT, 1..=10000 for multipart parts).
pub fn encrypt_part(
    obj: &NewObject,
    part: u32,
    headers: &mut HeaderMap,
    plaintext_len: u64,
    body: Body,
    metrics: &std::sync::Arc<Metrics>,
) -> Body {
    strip_backend_only(headers);
    headers.remove("content-md5");
    let c = ciphertext_len(plaintext_len);
    headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(c));
    let sealer = StreamSealer::new(&obj.data_key, obj.envelope.nonce_prefix, part, plaintext_len);
    seal(obj, sealer, c, body, metrics)
}

/// `body` sealed by `sealer` (a stream, or a run of one), `size` bytes of ciphertext, metered.
pub fn seal(obj: &NewObject, sealer: StreamSealer, size: u64, body: Body, metrics: &std::sync::Arc<Metrics>) -> Body {
    let meter = Box::new(metrics.stream_meter(obj.envelope.mode.label(), true));
    crate::body::boxed(TransformBody::new(body, sealer, Some(size), meter))
}

/// The client's response: the ETag in its client form and the SSE headers S3 would send.
pub fn respond(obj: &NewObject, mut resp: Response<Body>) -> Response<Body> {
    let h = resp.headers_mut();
    if let Some(etag) = h
        .get(http::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(|e| client_etag(e, true))
        && let Ok(v) = HeaderValue::from_str(&etag)
    {
        h.insert(http::header::ETAG, v);
    }
    strip_backend_only(h);
    if resp.status().is_success() {
        add_sse_headers(resp.headers_mut(), &obj.envelope, obj.customer.as_ref());
    }
    resp
}
