//! A POST form's streamed file stored at the backend. Its end is the form's next delimiter, so its length is
//! known only once its data has ended, and a backend PUT needs the length up front. The file therefore goes to
//! the backend as a two-part multipart upload:
//!
//! 1. part 1: the file's first `P₁` bytes, streamed. `P₁` is whole 64 KiB segments, at least 5 MiB (S3's
//!    smallest part), and less than the shortest the file can be (the form's rest less [`TRAILER_CAP`]);
//! 2. part 2: the rest, at most [`TRAILER_CAP`] plus a segment, read into memory once the file has ended and
//!    every check on it has passed (checksum, the policy's length);
//! 3. Complete. Anything failing before it aborts the upload: no object appears.
//!
//! Encrypted, the two parts carry one segment stream (part key 0, indices continuing from part 1 into part 2,
//! only the last segment final): the stored bytes are exactly what a PutObject of the file stores, so the object
//! reads, lists and copies as one (its envelope is not multipart and it has no layout record). Only its backend
//! ETag shows S3's `-2` suffix.

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};

use super::ReqCtx;
use super::post::TRAILER_CAP;
use crate::auth::canonical::uri_encode;
use crate::backend::upstream::Outbound;
use crate::body::Body;
use crate::body::split::{Rest, split_at};
use crate::body::verify::ClientBody;
use crate::crypto::stream::StreamSealer;
use crate::crypto::{SEGMENT_SIZE, size::ciphertext_len};
use crate::error::S3Error;
use crate::response;
use crate::s3::request::header_str;
use crate::s3::xml::xml_text;
use crate::sse::new_object::{self, NewObject};
use crate::sse::{ENVELOPE_HEADER, strip_backend_only};

/// Most plaintext part 2 can hold: what part 1 left of the file (less than a segment past the shortest file),
/// and the form's rest the file may take up.
const TAIL_LIMIT: usize = (TRAILER_CAP + 2 * SEGMENT_SIZE) as usize;

/// Store the form's file (`body`, of a length known only at its end) as `headers` ask, encrypted as `obj` when
/// there is one. Answers as the backend answered a PutObject: the object's ETag and version, or its error.
pub async fn put(
    ctx: &ReqCtx<'_>,
    mut headers: HeaderMap,
    body: ClientBody,
    obj: Option<&NewObject>,
) -> Result<Response<Body>, S3Error> {
    let (min, _) = body
        .length_bounds()
        .ok_or_else(|| S3Error::internal("a POST file of known length"))?;
    // Whole segments, fewer bytes than the file certainly has: part 2 is never empty.
    let head_len = (min - 1) / SEGMENT_SIZE * SEGMENT_SIZE;
    headers.remove(http::header::CONTENT_LENGTH);
    headers.remove("content-md5");
    strip_backend_only(&mut headers);
    if let Some(obj) = obj {
        headers.insert(
            ENVELOPE_HEADER,
            HeaderValue::from_str(&obj.envelope.encode()).expect("envelope is ASCII"),
        );
    }
    let uri = ctx.upstream.object_uri(ctx.bucket(), ctx.key(), Some("uploads"))?;
    let created = ctx
        .upstream
        .send(ctx.op(), Method::POST, uri, headers, Outbound::empty())
        .await?;
    if !created.status().is_success() {
        return Ok(response::pass_through(created));
    }
    let xml = response::read_small(created).await?;
    let upload_id = xml_text(&String::from_utf8_lossy(&xml), "UploadId")
        .ok_or_else(|| S3Error::internal("CreateMultipartUpload: no UploadId"))?;
    let stored = store(ctx, &upload_id, body, obj, head_len).await;
    if !stored.as_ref().is_ok_and(|r| r.status().is_success()) {
        abort(ctx, &upload_id).await;
    }
    stored
}

/// The two parts and the Complete that makes them the object.
async fn store(
    ctx: &ReqCtx<'_>,
    upload_id: &str,
    body: ClientBody,
    obj: Option<&NewObject>,
    head_len: u64,
) -> Result<Response<Body>, S3Error> {
    let ClientBody { body, failure, .. } = body;
    let (head, rest) = split_at(body, head_len);
    let first = u32::try_from(head_len / SEGMENT_SIZE).map_err(S3Error::internal)?;
    let (head, head_size) = match obj {
        Some(obj) => {
            let sealer = StreamSealer::run(&obj.data_key, obj.envelope.nonce_prefix, 0, 0, head_len, false)
                .map_err(S3Error::internal)?;
            let size = head_len + u64::from(first) * crate::crypto::TAG_SIZE;
            (new_object::seal(obj, sealer, size, head, ctx.metrics), size)
        }
        None => (head, head_len),
    };
    let part1 = upload_part(ctx, upload_id, 1, head_size, Outbound::stream(head)).await;
    if let Some(e) = failure.take() {
        return Err(e);
    }
    let etag1 = match part1? {
        Ok(etag) => etag,
        Err(backend_error) => return Ok(backend_error),
    };
    let Rest { leftover, body } = rest
        .await
        .map_err(|_| failure.take().unwrap_or_else(S3Error::incomplete_body))?;
    let more = crate::body::collect_limited(body, TAIL_LIMIT)
        .await
        .map_err(|()| failure.take().unwrap_or_else(S3Error::incomplete_body))?;
    let mut tail = BytesMut::from(&leftover[..]);
    tail.extend_from_slice(&more);
    let tail = match obj {
        Some(obj) => {
            let mut sealer = StreamSealer::run(
                &obj.data_key,
                obj.envelope.nonce_prefix,
                0,
                first,
                tail.len() as u64,
                true,
            )
            .map_err(S3Error::internal)?;
            let mut out = Vec::new();
            sealer.push(&tail, &mut out).map_err(S3Error::internal)?;
            sealer.finish(&mut out).map_err(S3Error::internal)?;
            debug_assert_eq!(
                out.iter().map(Bytes::len).sum::<usize>() as u64 + head_size,
                ciphertext_len(head_len + tail.len() as u64)
            );
            Bytes::from(out.concat())
        }
        None => tail.freeze(),
    };
    let etag2 = match upload_part(ctx, upload_id, 2, tail.len() as u64, Outbound::full(tail)).await? {
        Ok(etag) => etag,
        Err(backend_error) => return Ok(backend_error),
    };
    complete(ctx, upload_id, [etag1, etag2]).await
}

/// UploadPart `number`: its ETag, or the backend's error answer.
async fn upload_part(
    ctx: &ReqCtx<'_>,
    upload_id: &str,
    number: u32,
    size: u64,
    body: Outbound,
) -> Result<Result<String, Response<Body>>, S3Error> {
    let q = format!("partNumber={number}&uploadId={}", uri_encode(upload_id));
    let uri = ctx.upstream.object_uri(ctx.bucket(), ctx.key(), Some(&q))?;
    let mut headers = HeaderMap::new();
    headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(size));
    let resp = ctx.upstream.send(ctx.op(), Method::PUT, uri, headers, body).await?;
    if !resp.status().is_success() {
        return Ok(Err(response::pass_through(resp)));
    }
    let etag = header_str(resp.headers(), "etag")
        .ok_or_else(|| S3Error::internal("UploadPart answered no ETag"))?
        .to_owned();
    Ok(Ok(etag))
}

/// CompleteMultipartUpload of the two parts: a PutObject-like answer (status, `ETag`, `x-amz-version-id`).
async fn complete(ctx: &ReqCtx<'_>, upload_id: &str, etags: [String; 2]) -> Result<Response<Body>, S3Error> {
    let (op, bucket, key) = (ctx.op(), ctx.bucket(), ctx.key());
    let esc = |s: &str| quick_xml::escape::escape(s.to_owned()).into_owned();
    let xml = format!(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{}</ETag></Part>\
         <Part><PartNumber>2</PartNumber><ETag>{}</ETag></Part></CompleteMultipartUpload>",
        esc(&etags[0]),
        esc(&etags[1])
    );
    let q = format!("uploadId={}", uri_encode(upload_id));
    let uri = ctx.upstream.object_uri(bucket, key, Some(&q))?;
    let mut headers = HeaderMap::new();
    headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(xml.len()));
    let resp = ctx
        .upstream
        .send(op, Method::POST, uri, headers, Outbound::full(xml))
        .await?;
    if !resp.status().is_success() {
        return Ok(response::pass_through(resp));
    }
    let version = resp.headers().get("x-amz-version-id").cloned();
    let answer = String::from_utf8_lossy(&response::read_small(resp).await?).into_owned();
    // A backend may answer 200 with an <Error> document (S3 does, for failures late in Complete).
    if answer.contains("<Error>") {
        return Err(S3Error::internal(format!(
            "CompleteMultipartUpload of a POST upload failed: {}",
            xml_text(&answer, "Code").unwrap_or_default()
        )));
    }
    let mut etag = xml_text(&answer, "ETag").unwrap_or_default().replace('"', "");
    if etag.is_empty() {
        // Ceph RGW 16 answers CompleteMultipartUpload with an empty <ETag>: ask for the object's.
        let q = version
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .map(|v| format!("versionId={}", uri_encode(v)));
        let uri = ctx.upstream.object_uri(bucket, key, q.as_deref())?;
        let head = ctx.upstream.call(op, Method::HEAD, uri, HeaderMap::new()).await?;
        etag = header_str(head.headers(), "etag").unwrap_or("").replace('"', "");
    }
    let mut out = Response::builder().status(StatusCode::OK);
    if let Ok(v) = HeaderValue::from_str(&format!("\"{etag}\"")) {
        out = out.header(http::header::ETAG, v);
    }
    if let Some(v) = version {
        out = out.header("x-amz-version-id", v);
    }
    out.body(crate::body::empty()).map_err(S3Error::internal)
}

/// Best effort: an upload left behind costs storage until the bucket's lifecycle rule or a later abort.
async fn abort(ctx: &ReqCtx<'_>, upload_id: &str) {
    let q = format!("uploadId={}", uri_encode(upload_id));
    let Ok(uri) = ctx.upstream.object_uri(ctx.bucket(), ctx.key(), Some(&q)) else {
        return;
    };
    match ctx.upstream.call(ctx.op(), Method::DELETE, uri, HeaderMap::new()).await {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => {
            tracing::warn!(status = %r.status(), "a failed POST upload's backend multipart upload was not aborted")
        }
        Err(e) => tracing::warn!(error = %e, "a failed POST upload's backend multipart upload was not aborted"),
    }
}
