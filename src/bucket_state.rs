//! What the gateway keeps in client buckets under [`RESERVED_PREFIX`] (the adoption marker, the default
//! encryption, the bucket policy, multipart part layouts), read and written through [`Upstream`], and the caches
//! in front of them.
//!
//! The caches are never authoritative: each entry is reread after [`CACHE_TTL`], and a change through this
//! instance replaces it at once (through another, within the TTL). Nothing here is state the gateway depends on
//! between requests: any instance serves any request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dashmap::DashMap;
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use crate::auth::canonical::uri_encode;
use crate::backend::upstream::{self, Outbound, Upstream};
use crate::error::S3Error;
use crate::policy::{Policy, PolicyKind};
use crate::response::read_small;
use crate::s3::operation::Operation;
use crate::s3::xml::{xml_all, xml_text};

/// Reserved key prefix for the gateway's own objects inside client buckets; hidden from and closed to clients.
pub const RESERVED_PREFIX: &str = ".s3-sse-proxy/";
/// When the gateway began writing to the bucket (its LastModified; empty object).
pub const ADOPTED_KEY: &str = ".s3-sse-proxy/adopted";
/// The bucket's default-encryption configuration (the XML as the client sent it).
pub const ENCRYPTION_KEY: &str = ".s3-sse-proxy/encryption.xml";
/// The bucket's policy (the document as the client sent it).
pub const POLICY_KEY: &str = ".s3-sse-proxy/policy.json";
/// Present once the bucket holds a multipart object whose listed size needs its size record
/// ([`crate::sse::multipart::size_key`]): listings of other buckets look up nothing.
pub const SIZE_RECORDS_KEY: &str = ".s3-sse-proxy/size-records";

/// How long a bucket's encryption configuration or policy is reused before it is read from the backend again.
pub const CACHE_TTL: Duration = Duration::from_secs(5);
/// Most entries a cache holds (it is emptied when full).
const CACHE_MAX: usize = 10_000;

/// A per-bucket cache whose entries expire after [`CACHE_TTL`].
pub struct TtlCache<V> {
    entries: DashMap<String, (Instant, V)>,
}

impl<V: Clone> Default for TtlCache<V> {
    fn default() -> Self {
        Self {
            entries: DashMap::new(),
        }
    }
}

impl<V: Clone> TtlCache<V> {
    pub fn get(&self, bucket: &str) -> Option<V> {
        self.entries
            .get(bucket)
            .filter(|e| e.0.elapsed() < CACHE_TTL)
            .map(|e| e.1.clone())
    }

    pub fn insert(&self, bucket: &str, value: V) {
        if self.entries.len() >= CACHE_MAX {
            self.entries.clear();
        }
        self.entries.insert(bucket.to_owned(), (Instant::now(), value));
    }

    pub fn forget(&self, bucket: &str) {
        self.entries.remove(bucket);
    }
}

/// The gateway's records in client buckets.
pub struct BucketState {
    upstream: Arc<Upstream>,
    /// Each bucket's adoption time, which never changes once written.
    adopted: DashMap<String, i64>,
    encryption: TtlCache<Option<Bytes>>,
    policies: TtlCache<Option<Arc<Policy>>>,
    /// Whether the bucket holds size records ([`SIZE_RECORDS_KEY`]).
    size_records: TtlCache<bool>,
}

/// One key of a listing, with what the gateway needs of it.
pub struct ListedKey {
    pub key: String,
    pub last_modified: Option<String>,
}

impl BucketState {
    pub fn new(upstream: Arc<Upstream>) -> Self {
        Self {
            upstream,
            adopted: DashMap::new(),
            encryption: TtlCache::default(),
            policies: TtlCache::default(),
            size_records: TtlCache::default(),
        }
    }

    /// GET one of the gateway's own small objects; `None` when it does not exist.
    pub async fn get(&self, op: Operation, bucket: &str, key: &str) -> Result<Option<Bytes>, S3Error> {
        let uri = self.upstream.object_uri(bucket, key, None)?;
        let resp = self.upstream.call(op, Method::GET, uri, HeaderMap::new()).await?;
        match resp.status() {
            s if s.is_success() => Ok(Some(read_small(resp).await?)),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(upstream::failure(resp, format!("reading {bucket}/{key}")).await),
        }
    }

    /// PUT one of the gateway's own small objects.
    pub async fn put(&self, op: Operation, bucket: &str, key: &str, data: Bytes) -> Result<(), S3Error> {
        let uri = self.upstream.object_uri(bucket, key, None)?;
        let resp = self.upstream.put_bytes(op, uri, HeaderMap::new(), data).await?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(upstream::failure(resp, format!("writing {bucket}/{key}")).await)
        }
    }

    /// DELETE one of the gateway's own objects; the backend's answer as it is.
    pub async fn delete(
        &self,
        op: Operation,
        bucket: &str,
        key: &str,
    ) -> Result<http::Response<crate::body::Body>, S3Error> {
        let uri = self.upstream.object_uri(bucket, key, None)?;
        self.upstream.call(op, Method::DELETE, uri, HeaderMap::new()).await
    }

    /// Delete many of the gateway's own objects (DeleteObjects, quiet, 1000 a request); best effort: the backend's
    /// refusals are ignored, as a DELETE of one is.
    pub async fn delete_many(&self, op: Operation, bucket: &str, keys: &[String]) -> Result<(), S3Error> {
        for chunk in keys.chunks(1000) {
            let mut doc = String::from("<Delete><Quiet>true</Quiet>");
            for k in chunk {
                doc.push_str("<Object><Key>");
                doc.push_str(&crate::error::xml_escape(k));
                doc.push_str("</Key></Object>");
            }
            doc.push_str("</Delete>");
            let data = Bytes::from(doc);
            let mut md5 = crate::auth::checksum::Md5Hasher::new();
            md5.update(&data);
            let mut h = HeaderMap::new();
            h.insert(
                "content-md5",
                HeaderValue::from_str(&md5.finish()).map_err(S3Error::internal)?,
            );
            h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(data.len()));
            let uri = self.upstream.bucket_uri(bucket, Some("delete"))?;
            let resp = self
                .upstream
                .send(op, Method::POST, uri, h, Outbound::full(data))
                .await?;
            let _ = read_small(resp).await;
        }
        Ok(())
    }

    /// Whether `bucket` exists at the backend (after a 404 on one of the gateway's own objects in it).
    pub async fn exists(&self, op: Operation, bucket: &str) -> Result<bool, S3Error> {
        let uri = self.upstream.bucket_uri(bucket, None)?;
        Ok(self
            .upstream
            .call(op, Method::HEAD, uri, HeaderMap::new())
            .await?
            .status()
            .is_success())
    }

    /// One page of a ListObjectsV2 of `bucket` under `prefix` (keys unescaped), and the token of the next page.
    /// `None` when the backend refuses the listing (no such bucket, access denied).
    pub async fn list_page(
        &self,
        op: Operation,
        bucket: &str,
        prefix: &str,
        max_keys: u32,
        token: Option<&str>,
    ) -> Result<Option<(Vec<ListedKey>, Option<String>)>, S3Error> {
        let mut q = format!("list-type=2&max-keys={max_keys}&prefix={}", uri_encode(prefix));
        if let Some(t) = token {
            q.push_str(&format!("&continuation-token={}", uri_encode(t)));
        }
        let uri = self.upstream.bucket_uri(bucket, Some(&q))?;
        let resp = self.upstream.call(op, Method::GET, uri, HeaderMap::new()).await?;
        if !resp.status().is_success() {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&read_small(resp).await?).into_owned();
        let mut keys = Vec::new();
        for entry in xml_all(&text, "Contents") {
            let Some(raw) = xml_text(&entry, "Key") else { continue };
            let key = quick_xml::escape::unescape(&raw)
                .map_err(S3Error::internal)?
                .into_owned();
            keys.push(ListedKey {
                key,
                last_modified: xml_text(&entry, "LastModified"),
            });
        }
        let next = xml_text(&text, "NextContinuationToken")
            .filter(|_| xml_text(&text, "IsTruncated").as_deref() == Some("true"));
        Ok(Some((keys, next)))
    }

    /// One page of a ListObjectVersions of `bucket` under `prefix`: every version and delete marker as (key,
    /// version id), and where the next page starts. `None` when the backend refuses the listing.
    async fn versions_page(
        &self,
        op: Operation,
        bucket: &str,
        prefix: &str,
        from: Option<&(String, String)>,
    ) -> Result<Option<(Vec<(String, String)>, Option<(String, String)>)>, S3Error> {
        let mut q = format!("versions&max-keys=1000&prefix={}", uri_encode(prefix));
        if let Some((key, version)) = from {
            q.push_str(&format!(
                "&key-marker={}&version-id-marker={}",
                uri_encode(key),
                uri_encode(version)
            ));
        }
        let uri = self.upstream.bucket_uri(bucket, Some(&q))?;
        let resp = self.upstream.call(op, Method::GET, uri, HeaderMap::new()).await?;
        if !resp.status().is_success() {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&read_small(resp).await?).into_owned();
        let unescape = |raw: String| {
            quick_xml::escape::unescape(&raw)
                .map(std::borrow::Cow::into_owned)
                .map_err(S3Error::internal)
        };
        let mut entries = Vec::new();
        for entry in xml_all(&text, "Version")
            .into_iter()
            .chain(xml_all(&text, "DeleteMarker"))
        {
            let (Some(key), Some(version)) = (xml_text(&entry, "Key"), xml_text(&entry, "VersionId")) else {
                continue;
            };
            entries.push((unescape(key)?, unescape(version)?));
        }
        let next = match (xml_text(&text, "NextKeyMarker"), xml_text(&text, "NextVersionIdMarker")) {
            (Some(k), Some(v)) if xml_text(&text, "IsTruncated").as_deref() == Some("true") => {
                Some((unescape(k)?, unescape(v)?))
            }
            _ => None,
        };
        Ok(Some((entries, next)))
    }

    /// Whether `bucket` holds anything of the client's under `prefix`, a prefix the gateway's records also fall
    /// under (`.s3-` for `.s3-sse-proxy/…`): an object, or with `versions` a version or delete marker, before or
    /// after the records. Every record's name starts with a lowercase letter after [`RESERVED_PREFIX`], so all
    /// sort before `RESERVED_PREFIX~`. When the backend does not answer, the answer is yes (nothing is hidden).
    pub async fn holds_client_entries(
        &self,
        op: Operation,
        bucket: &str,
        prefix: &str,
        versions: bool,
    ) -> Result<bool, S3Error> {
        let after_records = format!("{RESERVED_PREFIX}~");
        let (list, marker) = if versions {
            ("versions", "key-marker")
        } else {
            ("list-type=2", "start-after")
        };
        for after in [None, Some(after_records.as_str())] {
            let mut q = format!("{list}&max-keys=1&prefix={}", uri_encode(prefix));
            if let Some(a) = after {
                q.push_str(&format!("&{marker}={}", uri_encode(a)));
            }
            let uri = self.upstream.bucket_uri(bucket, Some(&q))?;
            let resp = self.upstream.call(op, Method::GET, uri, HeaderMap::new()).await?;
            if !resp.status().is_success() {
                return Ok(true);
            }
            let text = String::from_utf8_lossy(&read_small(resp).await?).into_owned();
            let keys: Vec<String> = ["Contents", "Version", "DeleteMarker"]
                .iter()
                .flat_map(|e| xml_all(&text, e))
                .filter_map(|e| xml_text(&e, "Key"))
                .collect();
            if keys.iter().any(|k| !k.starts_with(RESERVED_PREFIX)) {
                return Ok(true);
            }
            if keys.is_empty() && after.is_none() {
                return Ok(false);
            }
        }
        Ok(false)
    }

    /// DELETE one version of an object of `bucket` for good.
    async fn delete_version(&self, op: Operation, bucket: &str, key: &str, version: &str) -> Result<(), S3Error> {
        let q = format!("versionId={}", uri_encode(version));
        let uri = self.upstream.object_uri(bucket, key, Some(&q))?;
        let mut resp = self
            .upstream
            .call(op, Method::DELETE, uri.clone(), HeaderMap::new())
            .await?;
        if resp.status() == StatusCode::FORBIDDEN {
            // In an Object Lock bucket the records got its default retention too; GOVERNANCE mode lets the
            // gateway (with s3:BypassGovernanceRetention) remove its own records, COMPLIANCE mode does not.
            let mut h = HeaderMap::new();
            h.insert("x-amz-bypass-governance-retention", HeaderValue::from_static("true"));
            resp = self.upstream.call(op, Method::DELETE, uri, h).await?;
        }
        if resp.status().is_success() || resp.status() == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(upstream::failure(resp, format!("deleting {bucket}/{key} version {version}")).await)
        }
    }

    /// Remove one of the gateway's records with every version and delete marker it has (a plain DELETE in a
    /// versioned bucket would only add a delete marker, and strand the record's versions).
    pub async fn purge(&self, op: Operation, bucket: &str, key: &str) -> Result<(), S3Error> {
        let Some((entries, _)) = self.versions_page(op, bucket, key, None).await? else {
            // A backend without ListObjectVersions keeps no versions either.
            let _ = self.delete(op, bucket, key).await?;
            return Ok(());
        };
        for (k, version) in entries.iter().filter(|(k, _)| k == key) {
            self.delete_version(op, bucket, k, version).await?;
        }
        Ok(())
    }

    /// If every version and delete marker left in `bucket` is one of the gateway's records, remove them all (so
    /// that the backend can delete the bucket) and say so; otherwise touch nothing. Of a bucket that holds more
    /// than `MAX_PAGES` pages of versions, nothing is removed (the client's versions are surely among them).
    pub async fn purge_if_only_records(&self, op: Operation, bucket: &str) -> Result<bool, S3Error> {
        const MAX_PAGES: usize = 10;
        let mut records = Vec::new();
        let mut from = None;
        for _ in 0..MAX_PAGES {
            let Some((entries, next)) = self.versions_page(op, bucket, "", from.as_ref()).await? else {
                return self.purge_unversioned(op, bucket).await;
            };
            if entries.iter().any(|(k, _)| !k.starts_with(RESERVED_PREFIX)) {
                return Ok(false);
            }
            records.extend(entries);
            match next {
                Some(n) => from = Some(n),
                None => {
                    for (key, version) in &records {
                        self.delete_version(op, bucket, key, version).await?;
                    }
                    self.forget_adoption(bucket);
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// [`Self::purge_if_only_records`] for a backend without ListObjectVersions (hence without versions).
    async fn purge_unversioned(&self, op: Operation, bucket: &str) -> Result<bool, S3Error> {
        let Some((keys, None)) = self.list_page(op, bucket, "", 1000, None).await? else {
            return Ok(false);
        };
        if keys.iter().any(|k| !k.key.starts_with(RESERVED_PREFIX)) {
            return Ok(false);
        }
        for k in keys {
            let _ = self.delete(op, bucket, &k.key).await?;
        }
        self.forget_adoption(bucket);
        Ok(true)
    }

    /// When the gateway began writing to `bucket` (unix ms, backend clock): every object listed with a
    /// later or equal LastModified was written through the gateway, hence encrypted. With `create`, the marker
    /// is written if absent (conditional PUT: the first writer's time wins).
    pub async fn adoption_time(&self, op: Operation, bucket: &str, create: bool) -> Result<Option<i64>, S3Error> {
        if let Some(t) = self.adopted.get(bucket) {
            return Ok(Some(*t));
        }
        for attempt in 0..2 {
            // The marker's LastModified as a listing states it (same precision as the entries it is compared with).
            let Some((keys, _)) = self.list_page(op, bucket, ADOPTED_KEY, 1, None).await? else {
                // No such bucket, or access denied: the request itself will report it.
                return Ok(None);
            };
            let listed = keys
                .into_iter()
                .find(|k| k.key == ADOPTED_KEY)
                .and_then(|k| k.last_modified);
            if let Some(lm) = listed {
                let t = crate::s3::xml::iso_millis(&lm).ok_or_else(|| S3Error::internal("adoption marker time"))?;
                self.adopted.insert(bucket.to_owned(), t);
                return Ok(Some(t));
            }
            if !create || attempt == 1 {
                return Ok(None);
            }
            let mut h = HeaderMap::new();
            h.insert(http::header::IF_NONE_MATCH, HeaderValue::from_static("*"));
            let uri = self.upstream.object_uri(bucket, ADOPTED_KEY, None)?;
            let put = self.upstream.put_bytes(op, uri, h, Bytes::new()).await?;
            if !put.status().is_success() && put.status() != StatusCode::PRECONDITION_FAILED {
                return Ok(None);
            }
        }
        Ok(None)
    }

    /// Whether `bucket` holds size records (cached for [`CACHE_TTL`]; once there, they stay).
    pub async fn has_size_records(&self, op: Operation, bucket: &str) -> Result<bool, S3Error> {
        if let Some(known) = self.size_records.get(bucket) {
            return Ok(known);
        }
        let there = self.get(op, bucket, SIZE_RECORDS_KEY).await?.is_some();
        self.size_records.insert(bucket, there);
        Ok(there)
    }

    /// Record the plaintext `size` of the multipart object `key` stored with `backend_etag`, for listings (the
    /// record first, then the bucket's mark that it has some).
    pub async fn record_size(
        &self,
        op: Operation,
        bucket: &str,
        key: &str,
        backend_etag: &str,
        size: u64,
    ) -> Result<(), S3Error> {
        let record = crate::sse::multipart::size_key(key, backend_etag);
        let body = Bytes::from(crate::sse::multipart::encode_size(size));
        self.put(op, bucket, &record, body).await?;
        if self.size_records.get(bucket) != Some(true) {
            self.put(op, bucket, SIZE_RECORDS_KEY, Bytes::new()).await?;
            self.size_records.insert(bucket, true);
        }
        Ok(())
    }

    /// The recorded plaintext size of `key` stored with `backend_etag`, if any.
    pub async fn recorded_size(
        &self,
        op: Operation,
        bucket: &str,
        key: &str,
        backend_etag: &str,
    ) -> Result<Option<u64>, S3Error> {
        let record = crate::sse::multipart::size_key(key, backend_etag);
        Ok(self.get(op, bucket, &record).await?.and_then(|b| {
            std::str::from_utf8(&b)
                .ok()
                .and_then(crate::sse::multipart::decode_size)
        }))
    }

    /// The bucket was deleted: its adoption time goes with it.
    pub fn forget_adoption(&self, bucket: &str) {
        self.adopted.remove(bucket);
        self.size_records.forget(bucket);
    }

    /// The bucket's stored encryption configuration (`None`: none, or no such bucket), cached.
    pub async fn encryption(&self, op: Operation, bucket: &str) -> Result<Option<Bytes>, S3Error> {
        if let Some(c) = self.encryption.get(bucket) {
            return Ok(c);
        }
        let config = self.get(op, bucket, ENCRYPTION_KEY).await?;
        self.encryption.insert(bucket, config.clone());
        Ok(config)
    }

    pub fn forget_encryption(&self, bucket: &str) {
        self.encryption.forget(bucket);
    }

    /// The bucket's stored policy (`None`: none, or no such bucket), cached. A stored document that no longer
    /// parses refuses every request to the bucket (500) rather than be half-enforced.
    pub async fn policy(&self, op: Operation, bucket: &str) -> Result<Option<Arc<Policy>>, S3Error> {
        if let Some(p) = self.policies.get(bucket) {
            return Ok(p);
        }
        let policy = match self.get(op, bucket, POLICY_KEY).await? {
            None => None,
            Some(text) => Some(Arc::new(
                Policy::parse(&String::from_utf8_lossy(&text), PolicyKind::Bucket)
                    .map_err(|e| S3Error::internal(format!("stored policy of {bucket} does not parse: {e}")))?,
            )),
        };
        self.policies.insert(bucket, policy.clone());
        Ok(policy)
    }

    pub fn forget_policy(&self, bucket: &str) {
        self.policies.forget(bucket);
    }
}
