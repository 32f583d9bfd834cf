//! PutObject: a fresh data key per object, sealed into the envelope; the verified plaintext body is encrypted as
//! a stream of segments on its way to the backend. The backend sees only ciphertext and the sealed key.

use http::{HeaderMap, HeaderValue, Response};

use super::{ENVELOPE_HEADER, Keys, add_sse_headers, client_etag, strip_backend_only};
use crate::body::Body;
use crate::body::transform::{OnError, TransformBody};
use crate::crypto::envelope::{self, Envelope, SealedKey, SseMode};
use crate::crypto::keys::{DataKey, Kek};
use crate::crypto::segment::NoncePrefix;
use crate::crypto::size::ciphertext_len;
use crate::crypto::stream::StreamSealer;
use crate::error::{S3Error, S3ErrorCode};
use crate::s3::sse::{CustomerKey, SseRequest};

/// A new object's encryption: its envelope and data key.
pub struct NewObject {
    pub envelope: Envelope,
    pub data_key: DataKey,
    pub customer: Option<CustomerKey>,
}

/// Choose the mode and make the keys for a new object `bucket`/`key`.
pub fn new_object(keys: &Keys, sse: SseRequest, bucket: &str, key: &str) -> Result<NewObject, S3Error> {
    let data_key = DataKey::generate();
    let (mode, kek, customer) = match sse {
        // Like S3 since 2023: objects without an SSE header are encrypted with SSE-S3.
        SseRequest::Unspecified | SseRequest::S3 => (SseMode::S3, keys.keyring.active().clone(), None),
        SseRequest::Customer(ck) => (SseMode::C, Kek::new("sse-c", *ck.as_bytes()), Some(ck)),
        SseRequest::Kms { .. } => {
            return Err(S3Error::new(
                S3ErrorCode::NotImplemented,
                "SSE-KMS is not supported yet.",
            ));
        }
    };
    let sealed: SealedKey = envelope::seal_key(&kek, mode, &data_key, bucket, key);
    let key_check = customer.as_ref().map(|ck| envelope::customer_key_check(ck.as_bytes()));
    let envelope = Envelope {
        mode,
        kek_id: kek.id().to_owned(),
        nonce_prefix: NoncePrefix::generate(),
        sealed_key: sealed,
        key_check,
        multipart: false,
    };
    Ok(NewObject {
        envelope,
        data_key,
        customer,
    })
}

/// Re-seal an existing object's data key for a new name and (possibly) a new mode: a copy, a rename, a re-key.
pub fn reseal(
    keys: &Keys,
    sse: SseRequest,
    data_key: DataKey,
    source: &Envelope,
    bucket: &str,
    key: &str,
) -> Result<NewObject, S3Error> {
    let fresh = new_object(keys, sse, bucket, key)?;
    let kek = match &fresh.customer {
        Some(ck) => Kek::new("sse-c", *ck.as_bytes()),
        None => keys.keyring.active().clone(),
    };
    let envelope = Envelope {
        sealed_key: envelope::seal_key(&kek, fresh.envelope.mode, &data_key, bucket, key),
        nonce_prefix: source.nonce_prefix,
        multipart: source.multipart,
        ..fresh.envelope.clone()
    };
    Ok(NewObject {
        envelope,
        data_key,
        customer: fresh.customer.clone(),
    })
}

/// Rewrite the backend request for an encrypted PutObject: envelope header, ciphertext length, no plaintext
/// checksums (the gateway verified them; they would not match the ciphertext).
pub fn encrypt_request(
    obj: &NewObject,
    headers: &mut HeaderMap,
    plaintext_len: u64,
    body: Body,
    on_error: OnError,
) -> Body {
    let body = encrypt_part(obj, 0, headers, plaintext_len, body, on_error);
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
    on_error: OnError,
) -> Body {
    strip_backend_only(headers);
    headers.remove("content-md5");
    let c = ciphertext_len(plaintext_len);
    headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(c));
    let sealer = StreamSealer::new(&obj.data_key, obj.envelope.nonce_prefix, part, plaintext_len);
    crate::body::boxed(TransformBody::new(body, sealer, Some(c), on_error))
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
