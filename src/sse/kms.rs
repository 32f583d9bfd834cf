//! SSE-KMS for objects: data keys made and opened by the KMS under the object's encryption context, bucket
//! keys, the data-key cache, and one audit line and metric per key use.
//!
//! - Without a bucket key, the KMS generates each object's data key (`GenerateDataKey`, context
//!   `{"aws:s3:arn": "arn:aws:s3:::bucket/key"}` ∪ the client's context); the envelope keeps the KMS blob.
//! - With a bucket key (`BucketKeyEnabled`, as AWS documents it), the KMS generates a bucket-level key (context
//!   `{"aws:s3:arn": "arn:aws:s3:::bucket"}` ∪ the client's) that is reused for a time window (the cache TTL)
//!   to seal fresh per-object data keys locally; the envelope keeps both. KMS calls drop from one per object
//!   to about one per bucket and key per window.
//! - Decrypted keys are cached by (blob, context) for the same TTL, so a multipart upload or a run of ranged
//!   GETs costs one KMS call.

use std::sync::Arc;
use std::time::Instant;

use crate::crypto::envelope::{self, Envelope, SealedKey, SseMode};
use crate::crypto::keys::{DataKey, Kek};
use crate::error::S3Error;
use crate::kms::cache::{self, KeyCache};
use crate::kms::{EncryptionContext, Kms, KmsClient, KmsError};
use crate::metrics::Metrics;

pub struct SseKms {
    pub client: KmsClient,
    /// The key used when a request names none (AWS: `aws/s3`).
    pub default_key_id: String,
    cache: KeyCache,
    metrics: Arc<Metrics>,
}

/// A data key protected by the KMS: what goes in the envelope.
pub struct Wrapped {
    pub key_arn: String,
    pub sealed: SealedKey,
    pub bucket_key: Option<Vec<u8>>,
}

const ARN_KEY: &str = "aws:s3:arn";

fn object_context(bucket: &str, key: &str, user: &EncryptionContext) -> EncryptionContext {
    let mut c = user.clone();
    c.insert(ARN_KEY.to_owned(), format!("arn:aws:s3:::{bucket}/{key}"));
    c
}

fn bucket_context(bucket: &str, user: &EncryptionContext) -> EncryptionContext {
    let mut c = user.clone();
    c.insert(ARN_KEY.to_owned(), format!("arn:aws:s3:::{bucket}"));
    c
}

/// The client's context stored in an envelope (canonical JSON), read back.
pub fn stored_context(env: &Envelope) -> Result<EncryptionContext, S3Error> {
    match &env.context {
        None => Ok(EncryptionContext::new()),
        Some(json) => serde_json::from_slice(json).map_err(|_| S3Error::internal("envelope encryption context")),
    }
}

/// The client's context as stored in an envelope (`None` when empty).
pub fn context_to_store(user: &EncryptionContext) -> Option<Vec<u8>> {
    (!user.is_empty()).then(|| serde_json::to_vec(user).expect("string map serializes"))
}

impl SseKms {
    pub fn new(client: KmsClient, default_key_id: String, cache: KeyCache, metrics: Arc<Metrics>) -> Self {
        Self {
            client,
            default_key_id,
            cache,
            metrics,
        }
    }

    /// One KMS call, metered and audited.
    async fn call<T>(
        &self,
        operation: &'static str,
        key_id: &str,
        object: (&str, &str),
        f: impl Future<Output = Result<T, KmsError>>,
        arn_of: impl Fn(&T) -> &str,
    ) -> Result<T, S3Error> {
        let started = Instant::now();
        let r = f.await;
        self.metrics
            .kms_request_duration
            .with_label_values(&[operation])
            .observe(started.elapsed().as_secs_f64());
        let result = r.as_ref().map_or_else(KmsError::kind, |_| "ok");
        self.metrics.kms_requests.with_label_values(&[operation, result]).inc();
        let used = r.as_ref().map_or(key_id, &arn_of).to_owned();
        crate::audit::key_use(operation, &used, object.0, object.1, false, result);
        match r {
            Ok(v) => Ok(v),
            Err(e) => {
                tracing::warn!(kms_operation = operation, key_id = %used, error = %e, "KMS call failed");
                if let KmsError::Disabled(named) | KmsError::NotFound(named) = &e {
                    self.forget_key(key_id, named).await;
                }
                Err(e.to_s3())
            }
        }
    }

    /// The KMS says the key a request named `requested` (and the KMS `named`) is disabled or gone: drop its
    /// cached data keys and bucket keys at once, so that no further use of it on this instance is served from the
    /// cache. Cached entries are by ARN; an id or alias is resolved with DescribeKey (still answered for a
    /// disabled key), one call on this rare path.
    async fn forget_key(&self, requested: &str, named: &str) {
        let mut arns = vec![requested.to_owned(), named.to_owned()];
        for id in [requested, named] {
            if !id.contains(":key/")
                && let Ok(info) = self.client.describe(id).await
            {
                arns.push(info.arn);
            }
        }
        arns.sort();
        arns.dedup();
        let dropped: usize = arns.iter().map(|a| self.cache.forget_key(a)).sum();
        if dropped > 0 {
            tracing::info!(key_id = %named, dropped, "dropped the cached keys of a key the KMS refused");
        }
    }

    fn cached(&self, id: &[u8; 32], operation: &str, object: (&str, &str)) -> Option<cache::Cached> {
        let hit = self.cache.get(id);
        self.metrics
            .kms_cache
            .with_label_values(&[if hit.is_some() { "hit" } else { "miss" }])
            .inc();
        if let Some(h) = &hit {
            crate::audit::key_use(operation, &h.key_arn, object.0, object.1, true, "ok");
        }
        hit
    }

    /// Protect a data key for `bucket`/`key` under `key_id`: the KMS generates one when `existing` is `None`
    /// (or wraps `existing`); with `bucket_key`, a (cached) bucket key seals it.
    pub async fn protect(
        &self,
        key_id: &str,
        user: &EncryptionContext,
        bucket_key: bool,
        existing: Option<DataKey>,
        bucket: &str,
        key: &str,
    ) -> Result<(DataKey, Wrapped), S3Error> {
        let object = (bucket, key);
        if bucket_key {
            let bk = self.bucket_key(key_id, user, bucket, key).await?;
            let dk = existing.unwrap_or_else(DataKey::generate);
            let kek = Kek::new(bk.key_arn.clone(), *bk.key.as_bytes());
            let sealed = envelope::seal_key(&kek, SseMode::Kms, &dk, bucket, key);
            return Ok((
                dk,
                Wrapped {
                    key_arn: bk.key_arn,
                    sealed,
                    bucket_key: Some(bk.blob),
                },
            ));
        }
        let ctx = object_context(bucket, key, user);
        let (dk, blob, key_arn) = match existing {
            None => {
                let g = self
                    .call(
                        "GenerateDataKey",
                        key_id,
                        object,
                        self.client.generate_data_key(key_id, &ctx),
                        |g| &g.key_arn,
                    )
                    .await?;
                (g.key, g.blob, g.key_arn)
            }
            Some(dk) => {
                let w = self
                    .call("Encrypt", key_id, object, self.client.encrypt(key_id, &dk, &ctx), |w| {
                        &w.key_arn
                    })
                    .await?;
                (dk, w.blob, w.key_arn)
            }
        };
        self.cache
            .insert(cache::digest(&[b"blob", &blob], &ctx), &dk, &key_arn, &blob);
        Ok((
            dk,
            Wrapped {
                key_arn,
                sealed: SealedKey(blob),
                bucket_key: None,
            },
        ))
    }

    /// The bucket key for writes to `bucket` under `key_id` and `user` context: cached for the TTL.
    async fn bucket_key(
        &self,
        key_id: &str,
        user: &EncryptionContext,
        bucket: &str,
        key: &str,
    ) -> Result<cache::Cached, S3Error> {
        let id = cache::digest(&[b"bucket-key", bucket.as_bytes(), key_id.as_bytes()], user);
        if let Some(hit) = self.cached(&id, "GenerateDataKey", (bucket, key)) {
            return Ok(hit);
        }
        let ctx = bucket_context(bucket, user);
        let g = self
            .call(
                "GenerateDataKey",
                key_id,
                (bucket, key),
                self.client.generate_data_key(key_id, &ctx),
                |g| &g.key_arn,
            )
            .await?;
        self.cache.insert(id, &g.key, &g.key_arn, &g.blob);
        self.cache
            .insert(cache::digest(&[b"blob", &g.blob], &ctx), &g.key, &g.key_arn, &g.blob);
        Ok(cache::Cached {
            key: g.key,
            key_arn: g.key_arn,
            blob: g.blob,
        })
    }

    /// Decrypt a KMS blob made under `ctx` (cached).
    async fn decrypt(
        &self,
        blob: &[u8],
        ctx: &EncryptionContext,
        key_arn: &str,
        object: (&str, &str),
    ) -> Result<DataKey, S3Error> {
        let id = cache::digest(&[b"blob", blob], ctx);
        if let Some(hit) = self.cached(&id, "Decrypt", object) {
            return Ok(hit.key);
        }
        let d = self
            .call("Decrypt", key_arn, object, self.client.decrypt(blob, ctx), |d| {
                &d.key_arn
            })
            .await?;
        self.cache.insert(id, &d.key, &d.key_arn, blob);
        Ok(d.key)
    }

    /// Open the data key of SSE-KMS object `bucket`/`key`.
    pub async fn open(&self, env: &Envelope, bucket: &str, key: &str) -> Result<DataKey, S3Error> {
        let user = stored_context(env)?;
        let object = (bucket, key);
        match &env.bucket_key {
            None => {
                self.decrypt(
                    &env.sealed_key.0,
                    &object_context(bucket, key, &user),
                    &env.kek_id,
                    object,
                )
                .await
            }
            Some(blob) => {
                let bk = self
                    .decrypt(blob, &bucket_context(bucket, &user), &env.kek_id, object)
                    .await?;
                let kek = Kek::new(env.kek_id.clone(), *bk.as_bytes());
                envelope::open_key(&kek, SseMode::Kms, &env.sealed_key, bucket, key)
                    .map_err(|e| S3Error::internal(format!("data key of {bucket}/{key} did not open: {e}")))
            }
        }
    }
}
