//! Stored checksums at the backend: the record of an object whose checksum was known only after it was sent,
//! and the sealed value of any object wherever it is kept (`sse::checksum` says what they hold).

use bytes::Bytes;
use http::HeaderMap;

use crate::bucket_state::BucketState;
use crate::crypto::envelope::{ChecksumPlace, Envelope};
use crate::crypto::keys::DataKey;
use crate::error::S3Error;
use crate::s3::operation::Operation;
use crate::s3::request::header_str;
use crate::sse::checksum::{Record, StoredChecksum, part_record_key, record_key};

/// The backend ETag of a response, unquoted.
fn backend_etag(h: &HeaderMap) -> &str {
    header_str(h, "etag").unwrap_or("").trim_matches('"')
}

/// Write the checksum record of the object the backend just stored (its answer's headers `stored`: ETag and
/// version). Best effort: the object is stored already, and one without its record answers no checksum.
pub async fn write_record(
    buckets: &BucketState,
    op: Operation,
    bucket: &str,
    key: &str,
    stored: &HeaderMap,
    sealed: Vec<u8>,
) {
    let (etag, version) = (backend_etag(stored), header_str(stored, "x-amz-version-id"));
    write_record_at(buckets, op, bucket, key, etag, version, sealed).await;
}

/// [`write_record`] for the object with backend ETag `etag` (unquoted) and version `version`.
pub async fn write_record_at(
    buckets: &BucketState,
    op: Operation,
    bucket: &str,
    key: &str,
    etag: &str,
    version: Option<&str>,
    sealed: Vec<u8>,
) {
    let record = Record {
        etag: etag.to_owned(),
        sealed,
    };
    let at = record_key(key, version);
    if let Err(e) = buckets.put(op, bucket, &at, Bytes::from(record.encode())).await {
        tracing::warn!(%bucket, %key, error = %e, "checksum record not written; the object answers no checksum");
    }
}

/// The sealed checksum of an object as the backend describes it (`object`: its GET or HEAD headers), wherever it
/// is kept. `None`: the object has none, or its record is missing or belongs to another object (a crash between
/// the object and its record, an overwrite racing): S3 answers no checksum for such objects, never a wrong one.
pub async fn sealed_of(
    buckets: &BucketState,
    op: Operation,
    bucket: &str,
    key: &str,
    env: &Envelope,
    object: &HeaderMap,
) -> Result<Option<Vec<u8>>, S3Error> {
    match &env.checksum {
        None => Ok(None),
        Some(ChecksumPlace::Inline(sealed)) => Ok(Some(sealed.clone())),
        Some(ChecksumPlace::Record) => {
            let at = record_key(key, header_str(object, "x-amz-version-id"));
            let Some(text) = buckets.get(op, bucket, &at).await? else {
                return Ok(None);
            };
            let record = std::str::from_utf8(&text).ok().and_then(Record::decode);
            Ok(record.filter(|r| r.etag == backend_etag(object)).map(|r| r.sealed))
        }
    }
}

/// The stored checksum of an object, opened with its data key.
pub async fn read(
    buckets: &BucketState,
    op: Operation,
    bucket: &str,
    key: &str,
    env: &Envelope,
    object: &HeaderMap,
    dk: &DataKey,
) -> Result<Option<StoredChecksum>, S3Error> {
    match sealed_of(buckets, op, bucket, key, env, object).await? {
        Some(sealed) => StoredChecksum::open(dk, &sealed).map(Some),
        None => Ok(None),
    }
}

/// Write the checksum record of part `part` of the upload `backend_id` of `key`, bound to the part's backend ETag
/// (unquoted). Not best effort: an upload whose part records are missing could not keep its checksum, so the part
/// fails (the client retries it) rather than completing without one.
#[allow(clippy::too_many_arguments)]
pub async fn write_part_record(
    buckets: &BucketState,
    op: Operation,
    bucket: &str,
    key: &str,
    backend_id: &str,
    part: u32,
    etag: &str,
    sealed: Vec<u8>,
) -> Result<(), S3Error> {
    let record = Record {
        etag: etag.to_owned(),
        sealed,
    };
    let at = part_record_key(key, backend_id, part);
    buckets.put(op, bucket, &at, Bytes::from(record.encode())).await
}

/// How many part records are read or removed at once.
const PART_RECORDS_AT_ONCE: usize = 16;

/// The checksums of an upload's parts `parts` (number, backend ETag unquoted), in order: each `None` when its
/// record is missing, belongs to another upload of the part (another ETag) or does not open.
pub async fn read_part_records(
    buckets: &BucketState,
    op: Operation,
    bucket: &str,
    key: &str,
    backend_id: &str,
    parts: &[(u32, String)],
    dk: &DataKey,
) -> Result<Vec<Option<StoredChecksum>>, S3Error> {
    let mut out = Vec::with_capacity(parts.len());
    for chunk in parts.chunks(PART_RECORDS_AT_ONCE) {
        let at: Vec<String> = chunk
            .iter()
            .map(|(n, _)| part_record_key(key, backend_id, *n))
            .collect();
        let reads = chunk
            .iter()
            .zip(&at)
            .map(|((n, etag), at)| read_part_record(buckets, op, bucket, at, *n, etag, dk));
        for r in futures_util::future::join_all(reads).await {
            out.push(r?);
        }
    }
    Ok(out)
}

async fn read_part_record(
    buckets: &BucketState,
    op: Operation,
    bucket: &str,
    at: &str,
    part: u32,
    etag: &str,
    dk: &DataKey,
) -> Result<Option<StoredChecksum>, S3Error> {
    let text = buckets.get(op, bucket, at).await?;
    let record = text
        .as_deref()
        .and_then(|t| std::str::from_utf8(t).ok())
        .and_then(Record::decode)
        // A backend whose ListParts names no ETag (s3s-fs) leaves the record unbound: the last write of a part
        // number wins at the backend and in its record alike, except when two uploads of one part race.
        .filter(|r| etag.is_empty() || r.etag == etag);
    Ok(record.and_then(|r| StoredChecksum::open_part(dk, part, &r.sealed).ok()))
}

/// Remove the part records of an upload that is complete or aborted. Best effort: a record left behind is hidden
/// from listings and removed with the bucket.
pub async fn purge_part_records(
    buckets: &BucketState,
    op: Operation,
    bucket: &str,
    key: &str,
    backend_id: &str,
    parts: &[u32],
) {
    for chunk in parts.chunks(PART_RECORDS_AT_ONCE) {
        let keys: Vec<String> = chunk.iter().map(|n| part_record_key(key, backend_id, *n)).collect();
        futures_util::future::join_all(keys.iter().map(|at| buckets.delete(op, bucket, at))).await;
    }
}
