//! Stored checksums at the backend: the record of an object whose checksum was known only after it was sent,
//! and the sealed value of any object wherever it is kept (`sse::checksum` says what they hold).

use bytes::Bytes;
use http::{HeaderMap, Response};

use crate::auth::checksum::ChecksumAlgorithm;
use crate::body::Body;
use crate::response::SMALL_LIMIT;

use crate::bucket_state::BucketState;
use crate::crypto::envelope::{ChecksumPlace, Envelope};
use crate::crypto::keys::DataKey;
use crate::error::S3Error;
use crate::s3::headers::X_AMZ_VERSION_ID;
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
    let (etag, version) = (backend_etag(stored), header_str(stored, X_AMZ_VERSION_ID));
    write_record_at(buckets, op, bucket, key, etag, version, sealed, Vec::new()).await;
}

/// [`write_record`] for the object with backend ETag `etag` (unquoted) and version `version`; `parts`: the sealed
/// checksums of a multipart object's parts, in order (or none).
#[allow(clippy::too_many_arguments)]
pub async fn write_record_at(
    buckets: &BucketState,
    op: Operation,
    bucket: &str,
    key: &str,
    etag: &str,
    version: Option<&str>,
    sealed: Vec<u8>,
    parts: Vec<Vec<u8>>,
) {
    let record = Record {
        etag: etag.to_owned(),
        sealed,
        parts,
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
        Some(ChecksumPlace::Record) => Ok(object_record(buckets, op, bucket, key, object).await?.map(|r| r.sealed)),
    }
}

/// The checksum record of the object the backend describes (`object`: its GET or HEAD headers), if it has one
/// that names it (its backend ETag).
async fn object_record(
    buckets: &BucketState,
    op: Operation,
    bucket: &str,
    key: &str,
    object: &HeaderMap,
) -> Result<Option<Record>, S3Error> {
    let at = record_key(key, header_str(object, X_AMZ_VERSION_ID));
    let Some(text) = buckets.get(op, bucket, &at).await? else {
        return Ok(None);
    };
    let record = std::str::from_utf8(&text).ok().and_then(Record::decode);
    Ok(record.filter(|r| r.etag == backend_etag(object)))
}

/// The checksums of a multipart object's parts, opened with its data key, by part number (`numbers`: the parts
/// in order, as its layout lists them). `None` when its record keeps none.
pub async fn read_parts(
    buckets: &BucketState,
    op: Operation,
    bucket: &str,
    key: &str,
    object: &HeaderMap,
    numbers: &[u32],
    dk: &DataKey,
) -> Result<Option<Vec<StoredChecksum>>, S3Error> {
    let record = object_record(buckets, op, bucket, key, object).await?;
    let Some(record) = record.filter(|r| r.parts.len() == numbers.len()) else {
        return Ok(None);
    };
    record
        .parts
        .iter()
        .zip(numbers)
        .map(|(sealed, n)| StoredChecksum::open_part(dk, *n, sealed))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
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
        parts: Vec::new(),
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

/// An XML answer (CompleteMultipartUploadResult, CopyPartResult, CopyObjectResult) with the backend's checksum elements (of
/// ciphertext) removed and `checksum`'s added after the ETag, with its `ChecksumType` if `with_type`.
pub async fn answer_checksum(
    resp: Response<Body>,
    checksum: Option<&StoredChecksum>,
    with_type: bool,
) -> Result<Response<Body>, S3Error> {
    let (parts, body) = resp.into_parts();
    let xml = crate::body::collect_limited(body, SMALL_LIMIT)
        .await
        .map_err(|()| S3Error::internal("an XML answer too large"))?;
    let mut text = String::from_utf8_lossy(&xml).into_owned();
    for name in ChecksumAlgorithm::ALL
        .iter()
        .map(|a| format!("Checksum{}", a.sdk_name()))
        .chain(["ChecksumType".to_owned()])
    {
        text = remove_elements(&text, &name);
    }
    if let Some(c) = checksum
        && let Some(i) = text.find("</ETag>")
    {
        let name = format!("Checksum{}", c.algorithm.sdk_name());
        let mut add = format!("<{name}>{}</{name}>", c.value);
        if with_type {
            add.push_str(&format!("<ChecksumType>{}</ChecksumType>", c.kind.as_str()));
        }
        text.insert_str(i + "</ETag>".len(), &add);
    }
    let mut parts = parts;
    parts.headers.remove(http::header::CONTENT_LENGTH);
    Ok(Response::from_parts(parts, crate::body::full(text)))
}

/// `xml` without its `<name>…</name>` elements (text-only elements).
pub fn remove_elements(xml: &str, name: &str) -> String {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let Some(j) = rest[i..].find(&close) else { break };
        out.push_str(&rest[..i]);
        rest = &rest[i + j + close.len()..];
    }
    out.push_str(rest);
    out
}
