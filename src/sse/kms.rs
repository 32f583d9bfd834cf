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
//! - A KMS key whose keys the cache has served for `key_check_secs` without any KMS call is asked about once
//!   (DescribeKey) before the cache serves it again: a key disabled or deleted at the KMS stops working on this
//!   instance within that time, for reads and writes, whatever the TTL. Any successful KMS call under the key
//!   counts as such a check. Must never serve a key the KMS has said is disabled; a KMS that cannot be reached
//!   leaves the cache serving (as without the check) and is asked again after the next interval.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;

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
    checks: KeyChecks,
    metrics: Arc<Metrics>,
}

/// When each KMS key (by ARN) was last confirmed usable by the KMS: a successful call under it, or a DescribeKey
/// that found it enabled. One entry per KMS key this instance uses.
struct KeyChecks {
    every: Duration,
    last: DashMap<String, Instant>,
}

impl KeyChecks {
    /// The KMS just confirmed `arn`.
    fn confirmed(&self, arn: &str) {
        self.last.insert(arn.to_owned(), Instant::now());
    }

    /// Whether a cache hit under `arn` must ask the KMS first; when it must, the key counts as checked now, so
    /// that of concurrent requests one asks and the others are served (at most one DescribeKey per key and
    /// interval).
    fn due(&self, arn: &str) -> bool {
        let now = Instant::now();
        let mut due = false;
        self.last
            .entry(arn.to_owned())
            .and_modify(|t| {
                if now.saturating_duration_since(*t) >= self.every {
                    *t = now;
                    due = true;
                }
            })
            .or_insert_with(|| {
                due = true;
                now
            });
        due
    }
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
    /// `key_check`: how long the cache may serve a KMS key's keys before the KMS is asked whether the key is
    /// still enabled.
    pub fn new(
        client: KmsClient,
        default_key_id: String,
        cache: KeyCache,
        key_check: Duration,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            client,
            default_key_id,
            cache,
            checks: KeyChecks {
                every: key_check,
                last: DashMap::new(),
            },
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
        self.call_kms(operation, key_id, object, f, arn_of)
            .await
            .map_err(|e| e.to_s3())
    }

    /// [`Self::call`] with the KMS's own error.
    async fn call_kms<T>(
        &self,
        operation: &'static str,
        key_id: &str,
        object: (&str, &str),
        f: impl Future<Output = Result<T, KmsError>>,
        arn_of: impl Fn(&T) -> &str,
    ) -> Result<T, KmsError> {
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
            Ok(v) => {
                self.checks.confirmed(&used);
                Ok(v)
            }
            Err(e) => {
                tracing::warn!(kms_operation = operation, key_id = %used, error = %e, "KMS call failed");
                if let KmsError::Disabled(named) | KmsError::NotFound(named) = &e {
                    self.forget_key(key_id, named).await;
                }
                Err(e)
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

    /// A cached key, once its KMS key has been confirmed within the check interval.
    async fn cached(
        &self,
        id: &[u8; 32],
        operation: &str,
        object: (&str, &str),
    ) -> Result<Option<cache::Cached>, S3Error> {
        let hit = self.cache.get(id);
        self.metrics
            .kms_cache
            .with_label_values(&[if hit.is_some() { "hit" } else { "miss" }])
            .inc();
        let Some(h) = hit else { return Ok(None) };
        if self.checks.due(&h.key_arn) {
            self.confirm_enabled(&h.key_arn, object).await?;
        }
        crate::audit::key_use(operation, &h.key_arn, object.0, object.1, true, "ok");
        Ok(Some(h))
    }

    /// Ask the KMS whether `arn` is still enabled (DescribeKey). Disabled, gone or denied to this gateway: its
    /// cached keys are dropped and the request is refused as the KMS would refuse it. Unreachable (or an answer
    /// the client could not read): the cache keeps serving, as it would without the check.
    async fn confirm_enabled(&self, arn: &str, object: (&str, &str)) -> Result<(), S3Error> {
        match self
            .call_kms("DescribeKey", arn, object, self.client.describe(arn), |i| &i.arn)
            .await
        {
            Ok(info) if info.enabled => Ok(()),
            Ok(info) => {
                self.forget_key(arn, &info.arn).await;
                Err(KmsError::Disabled(info.arn).to_s3())
            }
            Err(e @ (KmsError::Unavailable(_) | KmsError::Other(_))) => {
                tracing::warn!(key_id = %arn, error = %e, "could not confirm a cached KMS key; serving from the cache");
                Ok(())
            }
            Err(e) => {
                // Refused (gone, disabled, or this gateway denied): nothing of the key is served from here on.
                self.cache.forget_key(arn);
                Err(e.to_s3())
            }
        }
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
        if let Some(hit) = self.cached(&id, "GenerateDataKey", (bucket, key)).await? {
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
        if let Some(hit) = self.cached(&id, "Decrypt", object).await? {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_due_for_a_check_once_per_interval_and_a_kms_answer_counts_as_one() {
        let checks = KeyChecks {
            every: Duration::from_millis(80),
            last: DashMap::new(),
        };
        assert!(checks.due("arn:a"), "never confirmed: due");
        assert!(!checks.due("arn:a"), "claimed by the first caller");
        assert!(checks.due("arn:b"), "keys are checked each on their own");
        std::thread::sleep(Duration::from_millis(100));
        assert!(checks.due("arn:a"), "due again after the interval");
        checks.confirmed("arn:b");
        assert!(!checks.due("arn:b"), "a successful KMS call just confirmed it");
        let always = KeyChecks {
            every: Duration::ZERO,
            last: DashMap::new(),
        };
        assert!(always.due("arn:a") && always.due("arn:a"), "0: every use asks");
    }
}
