//! `s3-sse-proxy rekey`: re-wrap the data keys of a bucket's objects, object data untouched (a metadata-only
//! server-side copy of each object onto itself, through the same CopyObject handler clients use).
//!
//! With `encrypt_plaintext`, objects stored without the gateway's envelope (from before the gateway, or written
//! behind its back) are encrypted in place under SSE-S3, by the same CopyObject onto itself, which streams a
//! plaintext source through the encryptor; the copy is conditional on the ETag examined, so an object changed in
//! the meantime is left for the next run.
//!
//! Idempotent: an interrupted run is resumed by running it again.

use std::sync::Arc;

use http::{HeaderValue, Method, Request};

use crate::auth::canonical::{uri_encode, uri_encode_path};
use crate::backend::upstream::Upstream;
use crate::body::verify::ClientBody;
use crate::bucket_state::{BucketState, RESERVED_PREFIX};
use crate::crypto::envelope::SseMode;
use crate::error::S3Error;
use crate::kms::Kms;
use crate::metrics::Metrics;
use crate::ops::{ReqCtx, copy};
use crate::s3::operation::Operation;
use crate::sse::{Keys, envelope_of};

/// What a re-key run works with.
pub struct Rekey {
    pub upstream: Arc<Upstream>,
    pub buckets: BucketState,
    pub keys: Keys,
    pub metrics: Arc<Metrics>,
    /// Also encrypt objects without an envelope (SSE-S3 runs only).
    pub encrypt_plaintext: bool,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Done {
    pub examined: u64,
    pub rewrapped: u64,
    pub encrypted: u64,
}

impl Rekey {
    /// With `kms_key = None`, re-wrap every SSE-S3 object under `prefix` not sealed under the active KEK; with
    /// `Some(key)`, every SSE-KMS object not under that KMS key (keeping its bucket-key setting and context).
    /// With `encrypt_plaintext` (and no `kms_key`), also encrypt every object without an envelope.
    pub async fn run(&self, bucket: &str, prefix: &str, kms_key: Option<&str>) -> Result<Done, S3Error> {
        let op = Operation::CopyObject;
        let keys = &self.keys;
        let (mode, active) = match kms_key {
            None => (SseMode::S3, keys.keyring.active().id().to_owned()),
            Some(k) => {
                let info = keys.kms.client.describe(k).await.map_err(|e| e.to_s3())?;
                if !info.enabled {
                    return Err(crate::kms::KmsError::Disabled(info.arn).to_s3());
                }
                (SseMode::Kms, info.arn)
            }
        };
        let (mut done, mut token) = (Done::default(), None::<String>);
        loop {
            let (listed, next) = self
                .buckets
                .list_page(op, bucket, prefix, 1000, token.as_deref())
                .await?
                .ok_or_else(|| S3Error::internal(format!("listing {bucket}: refused by the backend")))?;
            for key in listed.into_iter().map(|k| k.key) {
                if key.starts_with(RESERVED_PREFIX) {
                    continue;
                }
                done.examined += 1;
                let uri = self.upstream.object_uri(bucket, &key, None)?;
                let head = self
                    .upstream
                    .call(op, Method::HEAD, uri, http::HeaderMap::new())
                    .await?;
                let Some(env) = envelope_of(head.headers())? else {
                    if self.encrypt_plaintext && mode == SseMode::S3 && head.status().is_success() {
                        done.encrypted += u64::from(self.encrypt_in_place(bucket, &key, head.headers()).await?);
                    }
                    continue;
                };
                if env.mode != mode || env.kek_id == active {
                    continue;
                }
                let ctx = self.self_copy(bucket, &key, mode, &active, &env)?;
                let resp = copy::copy_object(ctx, keys).await?;
                if !resp.status().is_success() {
                    return Err(S3Error::internal(format!(
                        "re-wrapping {bucket}/{key}: status {}",
                        resp.status()
                    )));
                }
                done.rewrapped += 1;
                println!("re-wrapped {bucket}/{key}: {} -> {active}", env.kek_id);
            }
            match next {
                Some(t) => token = Some(t),
                None => return Ok(done),
            }
        }
    }

    /// Encrypt the plaintext object `key` in place (SSE-S3), if it is still the one whose HEAD is `head`; `false`
    /// if it changed since.
    async fn encrypt_in_place(&self, bucket: &str, key: &str, head: &http::HeaderMap) -> Result<bool, S3Error> {
        let mut req = self_copy_request(bucket, key)?;
        let h = &mut req.parts.headers;
        h.insert("x-amz-server-side-encryption", HeaderValue::from_static("AES256"));
        if let Some(etag) = head.get("etag") {
            h.insert("x-amz-copy-source-if-match", etag.clone());
        }
        let resp = match copy::copy_object(self.ctx(req), &self.keys).await {
            Err(e) if e.code == crate::error::S3ErrorCode::PreconditionFailed => {
                println!("skipped {bucket}/{key}: it changed while being examined (run again)");
                return Ok(false);
            }
            r => r?,
        };
        if !resp.status().is_success() {
            return Err(S3Error::internal(format!(
                "encrypting {bucket}/{key}: status {}",
                resp.status()
            )));
        }
        println!("encrypted {bucket}/{key} (was stored without the gateway's envelope)");
        Ok(true)
    }

    /// The CopyObject of `key` onto itself under the new key, as a client would send it.
    fn self_copy(
        &self,
        bucket: &str,
        key: &str,
        mode: SseMode,
        active: &str,
        env: &crate::crypto::envelope::Envelope,
    ) -> Result<ReqCtx<'_>, S3Error> {
        let mut req = self_copy_request(bucket, key)?;
        let h = &mut req.parts.headers;
        if mode == SseMode::S3 {
            h.insert("x-amz-server-side-encryption", HeaderValue::from_static("AES256"));
        } else {
            h.insert("x-amz-server-side-encryption", HeaderValue::from_static("aws:kms"));
            h.insert(
                "x-amz-server-side-encryption-aws-kms-key-id",
                HeaderValue::from_str(active).map_err(S3Error::internal)?,
            );
            if env.bucket_key.is_some() {
                h.insert(
                    "x-amz-server-side-encryption-bucket-key-enabled",
                    HeaderValue::from_static("true"),
                );
            }
            if let Some(ctx) = &env.context {
                h.insert("x-amz-server-side-encryption-context", context_value(ctx)?);
            }
        }
        Ok(self.ctx(req))
    }

    /// The gateway's own request `req` (no credential, no body), as the handlers take it.
    fn ctx(&self, req: crate::s3::request::S3Request) -> ReqCtx<'_> {
        ReqCtx {
            upstream: &self.upstream,
            buckets: &self.buckets,
            metrics: &self.metrics,
            keys: Some(&self.keys),
            req,
            credential: None,
            body: ClientBody::empty(),
            form: None,
        }
    }
}

/// A CopyObject of `bucket/key` onto itself, as a client would send it (no SSE headers yet: the caller adds them).
pub fn self_copy_request(bucket: &str, key: &str) -> Result<crate::s3::request::S3Request, S3Error> {
    let path = format!("/{}/{}", uri_encode(bucket), uri_encode_path(key));
    let (mut parts, ()) = Request::builder()
        .method(Method::PUT)
        .uri(&path)
        .body(())
        .map_err(S3Error::internal)?
        .into_parts();
    parts.headers.insert(
        "x-amz-copy-source",
        HeaderValue::from_str(&path).map_err(S3Error::internal)?,
    );
    crate::s3::request::classify(parts, &[], usize::MAX)
}

/// An envelope's stored SSE-KMS encryption context as the `x-amz-server-side-encryption-context` header value.
pub fn context_value(stored: &[u8]) -> Result<HeaderValue, S3Error> {
    let ctx =
        crate::kms::context_header(&serde_json::from_slice(stored).map_err(|_| S3Error::internal("stored context"))?);
    HeaderValue::from_str(&ctx).map_err(S3Error::internal)
}
