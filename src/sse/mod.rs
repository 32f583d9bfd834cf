//! An object's encryption apart from its bytes (Garage's `encryption.rs`): the SSE request headers
//! ([`request`]), the keys the gateway holds, a new object's envelope and encrypting body ([`new_object`]),
//! stored checksums ([`checksum`]), SSE-KMS ([`kms`]), the bucket default ([`bucket_default`]) and multipart uploads ([`multipart`]); how an
//! object's envelope is found in backend headers, and how the client-visible headers (SSE, ETag) are restored.
//!
//! Never does I/O with the backend: handlers in `ops` fetch, this module decides.

pub mod bucket_default;
pub mod checksum;
pub mod kms;
pub mod multipart;
pub mod new_object;
pub mod request;

use http::{HeaderMap, HeaderValue};

use crate::crypto::envelope::{self, Envelope, SseMode};
use crate::crypto::keys::{DataKey, Kek};
use crate::error::{S3Error, S3ErrorCode};
use crate::keyring::Keyring;
use crate::sse::request::CustomerKey;

/// Backend header carrying the envelope ([`ENVELOPE_METADATA_KEY`] as user metadata).
pub const ENVELOPE_HEADER: http::HeaderName = http::HeaderName::from_static("x-amz-meta-s3sp");
/// The envelope's user-metadata key (what [`ENVELOPE_HEADER`] names after `x-amz-meta-`).
pub const ENVELOPE_METADATA_KEY: &str = "s3sp";

/// The key material the gateway can use to encrypt and decrypt, and the `[sse]` rules it applies.
pub struct Keys {
    pub keyring: Keyring,
    pub kms: kms::SseKms,
    pub rules: SseRules,
}

/// The `[sse]` switches that change what clients may do (see `config::SseConfig`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SseRules {
    /// A bucket whose encryption configuration does not say `NONE` blocks SSE-C writes.
    pub block_sse_c_by_default: bool,
    /// Reads of objects without an envelope are refused.
    pub require_envelope_on_read: bool,
}

/// The envelope of a backend response, if the object is one the gateway encrypted.
pub fn envelope_of(headers: &HeaderMap) -> Result<Option<Envelope>, S3Error> {
    let Some(v) = headers.get(ENVELOPE_HEADER) else {
        return Ok(None);
    };
    let text = v
        .to_str()
        .map_err(|_| S3Error::internal("envelope metadata is not ASCII"))?;
    Envelope::decode(text)
        .map(Some)
        .map_err(|e| S3Error::internal(format!("object envelope: {e}")))
}

impl Keys {
    /// The envelope of an object about to be read (GET, HEAD, a copy's source, GetObjectAttributes). With
    /// `[sse] require_envelope_on_read`, an object without one is refused rather than served as stored: it was
    /// not written through the gateway, so a backend writer may have put it there in place of an encrypted one.
    pub fn envelope_for_read(&self, headers: &HeaderMap, bucket: &str, key: &str) -> Result<Option<Envelope>, S3Error> {
        let env = envelope_of(headers)?;
        if env.is_none() && self.rules.require_envelope_on_read {
            tracing::warn!(
                bucket,
                key,
                "refused a read of an object without the gateway's envelope"
            );
            return Err(not_encrypted_here());
        }
        Ok(env)
    }
}

/// The answer to a read of an object without an envelope under `require_envelope_on_read`: 500, as for any
/// object whose integrity the gateway cannot establish (a tampered envelope or segment is one too), not 403,
/// which would send the client looking for a permission it cannot be given.
pub fn not_encrypted_here() -> S3Error {
    S3Error::new(
        S3ErrorCode::InternalError,
        "The object was not encrypted by this gateway, which is set to serve only objects it encrypted \
         (require_envelope_on_read).",
    )
}

/// SSE-C's rules for a request on an existing object: a key is required for SSE-C objects (400), must be the
/// right one (403), and is refused for other objects (400).
pub fn check_customer_key(env: &Envelope, customer: Option<&CustomerKey>) -> Result<(), S3Error> {
    match (env.mode, customer) {
        (SseMode::C, None) => Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "The object was stored using a form of Server Side Encryption. The correct parameters must be \
             provided to retrieve the object.",
        )),
        (SseMode::C, Some(ck)) => {
            let check = env.key_check.as_deref().unwrap_or_default();
            if envelope::customer_key_matches(ck.as_bytes(), check) {
                Ok(())
            } else {
                Err(S3Error::access_denied())
            }
        }
        (_, Some(_)) => Err(S3Error::not_applicable_to_object()),
        (_, None) => Ok(()),
    }
}

/// Open an object's data key with what the request supplied. Enforces SSE-C's rules: a key is required for
/// SSE-C objects (400), must be the right one (403), and is refused for other objects (400). SSE-KMS keys come
/// from the KMS (or its cache).
pub async fn open_data_key(
    keys: &Keys,
    env: &Envelope,
    customer: Option<&CustomerKey>,
    bucket: &str,
    key: &str,
) -> Result<DataKey, S3Error> {
    check_customer_key(env, customer)?;
    let kek = match (env.mode, customer) {
        (SseMode::C, Some(ck)) => Kek::new(env.kek_id.clone(), *ck.as_bytes()),
        // Boxed, as in `new_object`: the KMS exchange's future is several KiB.
        (SseMode::Kms, _) => return Box::pin(keys.kms.open(env, bucket, key)).await,
        _ => keys
            .keyring
            .get(&env.kek_id)
            .cloned()
            .ok_or_else(|| S3Error::internal(format!("object sealed under unknown KEK {}", env.kek_id)))?,
    };
    envelope::open_key(&kek, env.mode, &env.sealed_key, bucket, key)
        .map_err(|e| S3Error::internal(format!("data key of {bucket}/{key} did not open: {e}")))
}

/// The client-visible ETag of an encrypted object written in one PUT: the backend's ETag (an MD5 of the
/// ciphertext) marked with `-1`, so clients never take it for the plaintext's MD5 (see docs/format.md, ETags).
pub fn client_etag(backend_etag: &str, encrypted_single_part: bool) -> String {
    let raw = backend_etag.trim_matches('"');
    if encrypted_single_part && !raw.contains('-') {
        format!("\"{raw}-1\"")
    } else {
        format!("\"{raw}\"")
    }
}

/// Response headers that tell the client how its object is protected (as S3 sends them).
pub fn add_sse_headers(h: &mut HeaderMap, env: &Envelope, customer: Option<&CustomerKey>) {
    match env.mode {
        SseMode::S3 => {
            h.insert("x-amz-server-side-encryption", HeaderValue::from_static("AES256"));
        }
        SseMode::C => {
            h.insert(
                "x-amz-server-side-encryption-customer-algorithm",
                HeaderValue::from_static("AES256"),
            );
            if let Some(md5) = customer.and_then(|c| HeaderValue::from_str(&c.key_md5).ok()) {
                h.insert("x-amz-server-side-encryption-customer-key-md5", md5);
            }
        }
        SseMode::Kms => {
            h.insert("x-amz-server-side-encryption", HeaderValue::from_static("aws:kms"));
            if let Ok(v) = HeaderValue::from_str(&env.kek_id) {
                h.insert("x-amz-server-side-encryption-aws-kms-key-id", v);
            }
            if env.bucket_key.is_some() {
                h.insert(
                    "x-amz-server-side-encryption-bucket-key-enabled",
                    HeaderValue::from_static("true"),
                );
            }
            if let Some(v) = env.context.as_ref().and_then(|c| {
                HeaderValue::from_str(&base64::Engine::encode(&base64::engine::general_purpose::STANDARD, c)).ok()
            }) {
                h.insert("x-amz-server-side-encryption-context", v);
            }
        }
    }
}

/// Remove what only the backend should see: the envelope and checksums of the ciphertext.
pub fn strip_backend_only(h: &mut HeaderMap) {
    h.remove(ENVELOPE_HEADER);
    crate::s3::request::remove_prefixed(h, "x-amz-checksum-");
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_envelope_header_is_its_metadata_key_as_a_header() {
        assert_eq!(
            super::ENVELOPE_HEADER.as_str(),
            format!("x-amz-meta-{}", super::ENVELOPE_METADATA_KEY)
        );
    }
}
