//! DeleteObject (and the part layout and checksum records that belonged to the object), DeleteObjects (with the
//! `Content-MD5` older backends require) and DeleteBucket (and the gateway's records in it, when they are all that
//! is left).

use bytes::Bytes;
use futures_util::future::join_all;
use http::{HeaderMap, Method, Response};

use super::ReqCtx;
use crate::body::Body;
use crate::error::{S3Error, S3ErrorCode};
use crate::response;
use crate::s3::operation::Operation;
use crate::s3::request::header_str;
use crate::sse::checksum;
use crate::sse::multipart::version_layout_key;

pub async fn delete_object(mut ctx: ReqCtx<'_>) -> Result<Response<Body>, S3Error> {
    let mut headers = ctx.forwarded_headers();
    if headers.contains_key(http::header::IF_MATCH) {
        refuse_unless_conditional_deletes(&ctx)?;
    }
    super::conditional::translate_if_match(&ctx, &mut headers).await?;
    let body = ctx.take_body();
    let resp = ctx.send_as_is(headers, body).await?;
    if resp.status().is_success() {
        // What belonged to the deleted object or version goes with it. A DELETE that made a delete marker (the
        // backend names its version) deleted nothing; one of the `null` version did. Best effort: a stale layout
        // is never used (it names its object's ETag).
        let (op, bucket, key) = (ctx.op(), ctx.bucket(), ctx.key());
        let records = |v| (version_layout_key(key, v), checksum::record_key(key, v));
        match (
            ctx.req.query_param("versionId"),
            header_str(resp.headers(), "x-amz-version-id"),
        ) {
            // A bucket without versions: its records have none either.
            (None, None) => {
                let (layout, checksum) = records(None);
                let b = ctx.buckets;
                let _ = tokio::join!(b.delete(op, bucket, &layout), b.delete(op, bucket, &checksum));
            }
            (Some(v), _) | (None, Some(v @ "null")) => {
                let (layout, checksum) = records(Some(v));
                let b = ctx.buckets;
                let _ = tokio::join!(b.purge(op, bucket, &layout), b.purge(op, bucket, &checksum));
            }
            (None, Some(_delete_marker)) => {}
        }
    }
    Ok(response::pass_through(resp))
}

/// DeleteObjects, with the `Content-MD5` older backends and Object Lock buckets require (see
/// [`super::forward::with_content_md5`]). An entry's `ETag` (S3's conditional delete, the entry's `If-Match`) is
/// the client's; where the object's differs from the backend's (a single-PUT encrypted object) it becomes the
/// backend's, after a HEAD, so that the backend still decides each entry itself. Once the backend has answered,
/// the records of the keys it deleted go too (see [`forget_deleted`]).
pub async fn delete_objects(mut ctx: ReqCtx<'_>) -> Result<Response<Body>, S3Error> {
    let document = super::forward::read_document(&mut ctx).await?;
    let document = backend_entry_etags(&ctx, document).await?;
    let resp = super::forward::send_document(&ctx, document).await?;
    if !resp.status().is_success() {
        return Ok(response::pass_through(resp));
    }
    let (op, bucket) = (ctx.op(), ctx.bucket().to_owned());
    let buckets = ctx.buckets;
    let (parts, xml) = {
        let (parts, body) = resp.into_parts();
        let xml = crate::body::collect_limited(body, response::SMALL_LIMIT)
            .await
            .map_err(|()| S3Error::internal("reading the DeleteObjects answer failed or exceeded its limit"))?;
        (parts, xml)
    };
    forget_deleted(buckets, op, &bucket, &String::from_utf8_lossy(&xml)).await;
    Ok(response::restated(parts, xml.to_vec()))
}

/// How many HEADs, or purges of a version's records, of one DeleteObjects request run at once.
const PER_REQUEST_CONCURRENCY: usize = 16;

/// A conditional delete (`If-Match`, an entry's `ETag`) on a backend that would ignore the condition
/// (`[backend] conditional_deletes = false`): 501 NotImplemented, nothing deleted. Checking first and deleting
/// after would not be atomic: another writer can replace the object in between.
fn refuse_unless_conditional_deletes(ctx: &ReqCtx<'_>) -> Result<(), S3Error> {
    if ctx.upstream.backend().conditional_deletes() {
        return Ok(());
    }
    Err(S3Error::new(
        S3ErrorCode::NotImplemented,
        "Conditional deletes (If-Match, or an ETag in a DeleteObjects entry) are not supported: this gateway's \
         backend does not honour them ([backend] conditional_deletes = false), and the gateway does not delete \
         unconditionally in their place.",
    ))
}

/// The `<Object>` entries of a DeleteObjects document whose `<ETag>` needs the backend's form, rewritten so.
async fn backend_entry_etags(ctx: &ReqCtx<'_>, document: Bytes) -> Result<Bytes, S3Error> {
    let text = String::from_utf8_lossy(&document).into_owned();
    let entries = object_entries(&text);
    if entries.iter().all(|e| e.etag.is_none()) {
        return Ok(document);
    }
    refuse_unless_conditional_deletes(ctx)?;
    let mut translated = Vec::with_capacity(entries.len());
    for chunk in entries.chunks(PER_REQUEST_CONCURRENCY) {
        for etag in join_all(chunk.iter().map(|e| entry_backend_etag(ctx, e))).await {
            translated.push(etag?);
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (e, etag) in entries.iter().zip(translated) {
        if let (Some(range), Some(etag)) = (&e.etag_text, etag) {
            out.push_str(&text[at..range.start]);
            out.push_str(&crate::error::xml_escape(&etag));
            at = range.end;
        }
    }
    out.push_str(&text[at..]);
    Ok(Bytes::from(out))
}

/// The backend's ETag for an entry's (`None`: none to translate).
async fn entry_backend_etag(ctx: &ReqCtx<'_>, e: &ObjectEntry) -> Result<Option<String>, S3Error> {
    match (&e.etag, &e.version_id) {
        (Some(etag), None) => backend_etag(ctx, &e.key, etag).await,
        _ => Ok(None),
    }
}

/// The backend's ETag for the client's `etag` of `key` (`None`: the same, or no object: the backend answers).
async fn backend_etag(ctx: &ReqCtx<'_>, key: &str, etag: &str) -> Result<Option<String>, S3Error> {
    let uri = ctx.upstream.object_uri(ctx.bucket(), key, None)?;
    let head = ctx.upstream.call(ctx.op(), Method::HEAD, uri, HeaderMap::new()).await?;
    if !head.status().is_success() {
        return Ok(None);
    }
    Ok(crate::sse::envelope_of(head.headers())?
        .is_some_and(|env| !env.multipart)
        .then(|| super::conditional::backend_etag_list(etag)))
}

/// One `<Object>` of a DeleteObjects document: its key, version and ETag (unescaped), and where the ETag's text is.
struct ObjectEntry {
    key: String,
    version_id: Option<String>,
    etag: Option<String>,
    etag_text: Option<std::ops::Range<usize>>,
}

fn object_entries(xml: &str) -> Vec<ObjectEntry> {
    let unescape = |s: &str| quick_xml::escape::unescape(s).map_or_else(|_| s.to_owned(), |c| c.into_owned());
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = xml[from..].find("<Object>") {
        let start = from + i;
        let Some(len) = xml[start..].find("</Object>") else {
            break;
        };
        let end = start + len;
        let entry = &xml[start..end];
        let etag_text = entry.find("<ETag>").and_then(|o| {
            let s = o + "<ETag>".len();
            entry[s..].find("</ETag>").map(|l| start + s..start + s + l)
        });
        out.push(ObjectEntry {
            key: crate::s3::xml::xml_text(entry, "Key")
                .map(|k| unescape(&k))
                .unwrap_or_default(),
            version_id: crate::s3::xml::xml_text(entry, "VersionId").map(|v| unescape(&v)),
            etag: etag_text.clone().map(|r| unescape(&xml[r])),
            etag_text,
        });
        from = end;
    }
    out
}

/// After DeleteObjects, the part layout and checksum records of each key it deleted (as DeleteObject removes
/// them), best effort and a few at a time: a stale layout is never used (it names its object's ETag), so a
/// failure here costs only space. A deletion that made a delete marker deleted nothing; one of a version
/// deleted that version's records.
async fn forget_deleted(buckets: &crate::bucket_state::BucketState, op: Operation, bucket: &str, answer: &str) {
    let deleted: Vec<(String, Option<String>)> = crate::s3::xml::xml_all(answer, "Deleted")
        .iter()
        .filter(|d| crate::s3::xml::xml_text(d, "DeleteMarker").as_deref() != Some("true"))
        .filter_map(|d| {
            let unescape = |s: String| quick_xml::escape::unescape(&s).map_or(s.clone(), |c| c.into_owned());
            let key = unescape(crate::s3::xml::xml_text(d, "Key")?);
            Some((key, crate::s3::xml::xml_text(d, "VersionId").map(unescape)))
        })
        .collect();
    // Unversioned (the common case): the records of every key in one backend DeleteObjects per 500 keys.
    let (versioned, plain): (Vec<_>, Vec<_>) = deleted.into_iter().partition(|(_, v)| v.is_some());
    let records: Vec<String> = plain
        .iter()
        .flat_map(|(key, _)| [version_layout_key(key, None), checksum::record_key(key, None)])
        .collect();
    if !records.is_empty() {
        let _ = buckets.delete_many(op, bucket, &records).await;
    }
    // A version's records have versions of their own: each purged, a few at a time.
    for chunk in versioned.chunks(PER_REQUEST_CONCURRENCY) {
        join_all(
            chunk
                .iter()
                .map(|(key, v)| forget_version_records(buckets, op, bucket, key, v.as_deref())),
        )
        .await;
    }
}

/// Remove the records of one deleted version, best effort.
async fn forget_version_records(
    buckets: &crate::bucket_state::BucketState,
    op: Operation,
    bucket: &str,
    key: &str,
    version: Option<&str>,
) {
    let (layout, checksum) = (version_layout_key(key, version), checksum::record_key(key, version));
    let _ = tokio::join!(buckets.purge(op, bucket, &layout), buckets.purge(op, bucket, &checksum));
}

/// If the bucket holds nothing but the gateway's own records (every version of them, in a versioned bucket),
/// remove them so the backend can delete it; otherwise leave everything for the backend to answer BucketNotEmpty.
pub async fn delete_bucket(ctx: ReqCtx<'_>) -> Result<Response<Body>, S3Error> {
    ctx.buckets.purge_if_only_records(ctx.op(), ctx.bucket()).await?;
    super::forward::handle(ctx).await
}
