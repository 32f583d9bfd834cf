//! CopyObject, and the source read that UploadPartCopy shares. An encrypted source keeps its data key; only the
//! seal changes (a metadata-only server-side copy at the backend), because the seal names the object. A
//! plaintext source is read and encrypted as a stream.

use std::sync::{Arc, Mutex};

use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};

use super::ReqCtx;
use super::conditional::backend_etag_list;
use super::get::{ObjectRead, read_layout, read_object};
use crate::auth::checksum::{ChecksumAlgorithm, Checksummer};
use crate::backend::upstream::Outbound;
use crate::body::Body;
use crate::crypto::envelope::{ChecksumPlace, Envelope, SseMode};
use crate::error::{S3Error, S3ErrorCode};
use crate::response::{self, listing::replace_leaf};
use crate::s3::copy_source::{COPIED_HEADERS, CopySource, copy_result_xml, now_iso};
use crate::s3::request::{content_length_of, header_str, remove_prefixed};
use crate::sse::checksum::{ChecksumType, StoredChecksum};
use crate::sse::new_object::{self, NewObject};
use crate::sse::{ENVELOPE_HEADER, Keys, add_sse_headers, client_etag, multipart, open_data_key};

/// The largest object CopyObject copies (S3's limit).
const MAX_COPY: u64 = 5 * 1024 * 1024 * 1024;

/// CopyObject: re-seal the source's data key for the destination (metadata-only copy at the backend), or,
/// for a plaintext source, encrypt it on the way.
pub async fn copy_object(ctx: ReqCtx<'_>, keys: &Keys) -> Result<Response<Body>, S3Error> {
    let (op, bucket, key) = (ctx.op(), ctx.bucket(), ctx.key());
    let src = ctx
        .req
        .copy_source()?
        .cloned()
        .ok_or_else(|| S3Error::internal("CopyObject without a copy source"))?;
    let client = &ctx.req.parts.headers;
    let mut headers = ctx.forwarded_headers();
    // The destination's If-Match names the client's ETag; the backend decides on its own, atomically.
    super::conditional::translate_if_match(&ctx, &mut headers).await?;
    ctx.buckets.adoption_time(op, bucket, true).await?;
    let sse = super::put::sse_for_write(&ctx).await?;
    let src_customer = crate::sse::request::parse_copy_source(client)?;
    let replace = header_str(client, "x-amz-metadata-directive").is_some_and(|d| d.eq_ignore_ascii_case("REPLACE"));
    let head = ctx
        .upstream
        .call(op, Method::HEAD, source_uri(&ctx, &src)?, HeaderMap::new())
        .await?;
    match head.status() {
        s if s.is_success() => {}
        StatusCode::NOT_FOUND if src.version_id.is_some() => return Err(S3Error::no_such_version()),
        StatusCode::BAD_REQUEST if src.version_id.is_some() => return Err(S3Error::invalid_version_id()),
        StatusCode::NOT_FOUND => return Err(S3Error::no_such_key()),
        StatusCode::FORBIDDEN => return Err(S3Error::access_denied()),
        s => return Err(S3Error::internal(format!("copy source HEAD: backend status {s}"))),
    }
    refuse_unchanged_self_copy(&ctx, &src, replace)?;
    if content_length_of(head.headers()).is_ok_and(|c| c > crate::crypto::size::ciphertext_len(MAX_COPY)) {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120",
        ));
    }
    if !replace {
        // Under COPY, S3 carries the source's metadata and content headers over.
        let client_meta: Vec<_> = headers.keys().filter(|n| is_copied(n.as_str())).cloned().collect();
        for n in client_meta {
            headers.remove(n);
        }
        for (n, v) in head.headers() {
            if is_copied(n.as_str()) && *n != ENVELOPE_HEADER {
                headers.append(n.clone(), v.clone());
            }
        }
    }

    let Some(src_env) = keys.envelope_for_read(head.headers(), &src.bucket, &src.key)? else {
        // A plaintext source: stream it through the encryptor.
        if src_customer.is_some() {
            return Err(S3Error::not_applicable_to_object());
        }
        return copy_plaintext_source(&ctx, keys, sse, &src, headers).await;
    };

    // An encrypted source: same data key, new seal (bound to the destination's name and mode).
    if ctx.anonymous() && src_env.mode == SseMode::Kms {
        return Err(crate::sse::request::kms_needs_identity());
    }
    let dk = open_data_key(keys, &src_env, src_customer.as_ref(), &src.bucket, &src.key).await?;
    let recomputed = recompute_checksum(&ctx, keys, &src, &src_env, head.headers(), &dk).await?;
    let mut obj = new_object::reseal(keys, sse, dk, &src_env, bucket, key).await?;
    if let Some(c) = &recomputed {
        obj.envelope.checksum = Some(ChecksumPlace::Inline(c.seal(&obj.data_key)));
    }
    let layout = match src_env.multipart {
        true => Some(source_layout(&ctx, &src, &src_env, head.headers(), &obj.envelope).await?),
        false => None,
    };
    // Copy-source conditions compare client ETags; the backend knows only its own (`<md5>` for `<md5>-1`).
    if !src_env.multipart {
        for name in ["x-amz-copy-source-if-match", "x-amz-copy-source-if-none-match"] {
            if let Some(v) = header_str(&headers, name).map(backend_etag_list) {
                headers.insert(name, HeaderValue::from_str(&v).map_err(S3Error::internal)?);
            }
        }
    }
    headers.insert("x-amz-metadata-directive", HeaderValue::from_static("REPLACE"));
    headers.insert(
        ENVELOPE_HEADER,
        HeaderValue::from_str(&obj.envelope.encode()).expect("ASCII"),
    );
    headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(0));
    let resp = ctx.upstream.call(op, Method::PUT, ctx.uri()?, headers).await?;
    if !resp.status().is_success() {
        if layout.is_some() && resp.status().is_client_error() {
            // Refused: no object has this copy's envelope.
            super::multipart::forget_pending_layout(&ctx, &obj.envelope).await;
        }
        return Ok(response::pass_through(resp));
    }
    let mut backend_etag = None;
    let mut resp = response::restate(resp, |xml| {
        replace_leaf(&xml, b"ETag", |etag| {
            backend_etag = Some(etag.trim_matches('"').to_owned());
            Some(client_etag(etag, true))
        })
        .map_err(S3Error::internal)
    })
    .await?;
    name_versions(&ctx, head.headers(), &mut resp, backend_etag.as_deref()).await?;
    if let (None, Some(ChecksumPlace::Record), Some(etag)) = (&recomputed, &src_env.checksum, &backend_etag) {
        // The source's record, under the same data key, is the copy's too.
        let sealed =
            super::checksum::sealed_of(ctx.buckets, op, &src.bucket, &src.key, &src_env, head.headers()).await?;
        if let Some(sealed) = sealed {
            let version = header_str(resp.headers(), "x-amz-version-id");
            super::checksum::write_record_at(ctx.buckets, op, bucket, key, etag, version, sealed, Vec::new()).await;
        }
    }
    if let (Some(l), Some(etag)) = (layout, backend_etag) {
        let new_layout = multipart::Layout { etag, ..l };
        if !new_layout.is_aligned() {
            super::multipart::record_size(&ctx, &new_layout).await;
        }
        let version = header_str(resp.headers(), "x-amz-version-id");
        super::multipart::record_layout(&ctx, &obj.envelope, version, &new_layout).await?;
    }
    add_sse_headers(resp.headers_mut(), &obj.envelope, obj.customer.as_ref());
    match &recomputed {
        Some(c) => super::checksum::answer_checksum(resp, Some(c), true).await,
        None => Ok(resp),
    }
}

/// The layout of a multipart source (`h`: its HEAD), recorded first for the copy (`dest`: its envelope), a
/// multipart object too: should the copy be cut before its own record, a read finds this one.
async fn source_layout(
    ctx: &ReqCtx<'_>,
    src: &CopySource,
    src_env: &Envelope,
    h: &HeaderMap,
    dest: &Envelope,
) -> Result<multipart::Layout, S3Error> {
    let total = content_length_of(h)?;
    let (layout, _) = read_layout(ctx.buckets, ctx.op(), &src.bucket, &src.key, src_env, h, total).await?;
    super::multipart::record_pending_layout(ctx, dest, &layout).await?;
    Ok(layout)
}

/// What a copy of an object onto itself must change, besides `x-amz-metadata-directive: REPLACE` (S3 refuses one
/// that changes nothing; a named source version is another object). A new checksum algorithm is a change too.
const SELF_COPY_CHANGES: [&str; 8] = [
    "x-amz-storage-class",
    "x-amz-website-redirect-location",
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-context",
    "x-amz-server-side-encryption-bucket-key-enabled",
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-checksum-algorithm",
];

fn refuse_unchanged_self_copy(ctx: &ReqCtx<'_>, src: &CopySource, replace: bool) -> Result<(), S3Error> {
    let itself = src.bucket == ctx.bucket() && src.key == ctx.key() && src.version_id.is_none();
    let h = &ctx.req.parts.headers;
    if itself && !replace && !SELF_COPY_CHANGES.iter().any(|n| h.contains_key(*n)) {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "This copy request is illegal because it is trying to copy an object to itself without changing the \
             object's metadata, storage class, website redirect location or encryption attributes.",
        ));
    }
    Ok(())
}

/// The checksum a copy of an encrypted source gets when it cannot be the source's, as S3 computes one for a copy:
/// CopyObject names another algorithm than the source's, or the source keeps none (then CRC64NVME). Computed from
/// the source's plaintext, read once; `None`: the copy keeps the source's (no read), or the source cannot be read
/// here (the copy itself then answers why).
async fn recompute_checksum(
    ctx: &ReqCtx<'_>,
    keys: &Keys,
    src: &CopySource,
    src_env: &crate::crypto::envelope::Envelope,
    head: &HeaderMap,
    dk: &crate::crypto::keys::DataKey,
) -> Result<Option<StoredChecksum>, S3Error> {
    use http_body_util::BodyExt as _;
    let client = &ctx.req.parts.headers;
    let asked = match header_str(client, "x-amz-checksum-algorithm") {
        Some(_) => Some(copy_checksum_algorithm(client)?),
        None => None,
    };
    let stored = match &src_env.checksum {
        Some(_) => super::checksum::read(ctx.buckets, ctx.op(), &src.bucket, &src.key, src_env, head, dk).await?,
        None => None,
    };
    let algorithm = match (asked, &stored) {
        (None, Some(_)) => return Ok(None),
        (Some(a), Some(s)) if s.algorithm == a => return Ok(None),
        (Some(a), _) => a,
        (None, None) => ChecksumAlgorithm::Crc64Nvme,
    };
    let source = read_source(ctx, keys, src, client, None).await?;
    if !source.status().is_success() {
        return Ok(None);
    }
    let mut running = Checksummer::new(algorithm);
    let mut body = source.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| S3Error::internal(format!("reading the copy source: {e}")))?;
        if let Some(data) = frame.data_ref() {
            running.update(data);
        }
    }
    Ok(Some(StoredChecksum {
        algorithm,
        kind: ChecksumType::FullObject,
        value: running.finish(),
    }))
}

/// CopyObject of a source without an envelope: read it, and encrypt it as a new object on its way back, with the
/// checksum S3 computes for a copy (CopyObject's `x-amz-checksum-algorithm`, else CRC64NVME).
async fn copy_plaintext_source(
    ctx: &ReqCtx<'_>,
    keys: &Keys,
    sse: crate::sse::request::SseRequest,
    src: &CopySource,
    mut headers: HeaderMap,
) -> Result<Response<Body>, S3Error> {
    let (op, bucket, key) = (ctx.op(), ctx.bucket(), ctx.key());
    let client = &ctx.req.parts.headers;
    let source = read_source(ctx, keys, src, client, None).await?;
    if !source.status().is_success() {
        return Ok(source);
    }
    let len = content_length_of(source.headers())?;
    strip_copy_headers(&mut headers);
    let mut obj = new_object::new_object(keys, sse, bucket, key).await?;
    let algorithm = copy_checksum_algorithm(client)?;
    obj.envelope.checksum = Some(ChecksumPlace::Record);
    let running = Arc::new(Mutex::new(Checksummer::new(algorithm)));
    let (source_head, source_body) = source.into_parts();
    let source_body = crate::body::tap_checksum(source_body, running.clone());
    let resp = put_encrypted(ctx, &obj, headers, len, source_body).await?;
    if !resp.status().is_success() {
        return Ok(response::pass_through(resp));
    }
    let checksum = StoredChecksum {
        algorithm,
        kind: ChecksumType::FullObject,
        value: running.lock().unwrap_or_else(|p| p.into_inner()).clone().finish(),
    };
    let sealed = checksum.seal(&obj.data_key);
    super::checksum::write_record(ctx.buckets, op, bucket, key, resp.headers(), sealed).await;
    let result = copy_result("CopyObjectResult", &resp, &obj, &source_head.headers);
    super::checksum::answer_checksum(result, Some(&checksum), true).await
}

/// The versions a backend-side copy's answer names: the one copied (`x-amz-copy-source-version-id`, from the
/// source's HEAD) and the one made (`x-amz-version-id`). Ceph RGW 16 names neither; the version made is then
/// read back, when the source is versioned.
async fn name_versions(
    ctx: &ReqCtx<'_>,
    source: &HeaderMap,
    resp: &mut Response<Body>,
    backend_etag: Option<&str>,
) -> Result<(), S3Error> {
    let source_version = source.get("x-amz-version-id");
    if source_version.is_some_and(|v| v != "null")
        && !resp.headers().contains_key("x-amz-version-id")
        && let Some(etag) = backend_etag
        && let Some(v) = version_written(ctx, etag).await?
    {
        resp.headers_mut().insert("x-amz-version-id", v);
    }
    if let Some(v) = source_version {
        resp.headers_mut()
            .entry("x-amz-copy-source-version-id")
            .or_insert_with(|| v.clone());
    }
    Ok(())
}

/// The version id of the request's object if it is still the one with backend ETag `etag` (what a write just
/// made), from a HEAD.
async fn version_written(ctx: &ReqCtx<'_>, etag: &str) -> Result<Option<HeaderValue>, S3Error> {
    let uri = ctx.upstream.object_uri(ctx.bucket(), ctx.key(), None)?;
    let head = ctx.upstream.call(ctx.op(), Method::HEAD, uri, HeaderMap::new()).await?;
    let same = header_str(head.headers(), "etag").is_some_and(|e| e.trim_matches('"') == etag);
    Ok(head.headers().get("x-amz-version-id").filter(|_| same).cloned())
}

fn is_copied(name: &str) -> bool {
    name.starts_with("x-amz-meta-") || COPIED_HEADERS.contains(&name)
}

/// PUT `plaintext` (`len` bytes, read by the gateway: a copy's source) as the request's object, encrypted.
pub async fn put_encrypted(
    ctx: &ReqCtx<'_>,
    obj: &NewObject,
    mut headers: HeaderMap,
    len: u64,
    plaintext: Body,
) -> Result<Response<Body>, S3Error> {
    let body = new_object::encrypt_request(obj, &mut headers, len, plaintext, ctx.metrics);
    let uri = ctx.upstream.object_uri(ctx.bucket(), ctx.key(), None)?;
    ctx.upstream
        .send(ctx.op(), Method::PUT, uri, headers, Outbound::stream(body))
        .await
}

/// The plaintext of a copy source (or a range of it), whatever protects it; SSE-C source keys and copy-source
/// conditions come from the `x-amz-copy-source-…` headers of `client`.
pub async fn read_source(
    ctx: &ReqCtx<'_>,
    keys: &Keys,
    src: &CopySource,
    client: &HeaderMap,
    range: Option<&str>,
) -> Result<Response<Body>, S3Error> {
    let mut h = HeaderMap::new();
    if let Some(r) = range.and_then(|r| HeaderValue::from_str(r).ok()) {
        h.insert(http::header::RANGE, r);
    }
    for (from, to) in [
        (
            "x-amz-copy-source-server-side-encryption-customer-algorithm",
            "x-amz-server-side-encryption-customer-algorithm",
        ),
        (
            "x-amz-copy-source-server-side-encryption-customer-key",
            "x-amz-server-side-encryption-customer-key",
        ),
        (
            "x-amz-copy-source-server-side-encryption-customer-key-md5",
            "x-amz-server-side-encryption-customer-key-md5",
        ),
        ("x-amz-copy-source-if-match", "if-match"),
        ("x-amz-copy-source-if-none-match", "if-none-match"),
        ("x-amz-copy-source-if-modified-since", "if-modified-since"),
        ("x-amz-copy-source-if-unmodified-since", "if-unmodified-since"),
    ] {
        if let Some(v) = client.get(from) {
            h.insert(to, v.clone());
        }
    }
    let (mut parts, ()) = Request::builder()
        .method(Method::GET)
        .uri("/")
        .body(())
        .expect("static")
        .into_parts();
    parts.headers = h;
    let read = ObjectRead {
        upstream: ctx.upstream,
        anonymous: ctx.anonymous(),
        buckets: ctx.buckets,
        metrics: ctx.metrics,
        op: ctx.op(),
        uri: source_uri(ctx, src)?,
        bucket: &src.bucket,
    };
    let resp = read_object(keys, &read, &parts, &src.key, HeaderMap::new()).await?;
    if resp.status() == StatusCode::PRECONDITION_FAILED || resp.status() == StatusCode::NOT_MODIFIED {
        return Err(S3Error::precondition_failed());
    }
    Ok(resp)
}

/// The backend URI of a copy source (with its version, if any).
fn source_uri(ctx: &ReqCtx<'_>, src: &CopySource) -> Result<http::Uri, S3Error> {
    let q = src
        .version_id
        .as_deref()
        .map(|v| format!("versionId={}", crate::auth::canonical::uri_encode(v)));
    ctx.upstream.object_uri(&src.bucket, &src.key, q.as_deref())
}

/// The XML answer to a copy that the gateway performed as a PUT (re-encryption): S3's result document with the
/// client ETag, and the destination's SSE headers.
/// `source` is the source's read: its `x-amz-version-id` is the answer's `x-amz-copy-source-version-id`, and the
/// PUT's `x-amz-version-id` is the new object's.
pub fn copy_result(element: &str, put: &Response<Body>, obj: &NewObject, source: &HeaderMap) -> Response<Body> {
    let etag = client_etag(header_str(put.headers(), "etag").unwrap_or(""), true);
    let mut out = response::xml(copy_result_xml(element, &etag, &now_iso()));
    let h = out.headers_mut();
    add_sse_headers(h, &obj.envelope, obj.customer.as_ref());
    if let Some(v) = source.get("x-amz-version-id") {
        h.insert("x-amz-copy-source-version-id", v.clone());
    }
    if let Some(v) = put
        .headers()
        .get("x-amz-version-id")
        .filter(|_| element == "CopyObjectResult")
    {
        h.insert("x-amz-version-id", v.clone());
    }
    out
}

/// Headers of a copy request that have no place on the PUT that re-encrypts it.
pub fn strip_copy_headers(h: &mut HeaderMap) {
    remove_prefixed(h, "x-amz-copy-source");
    h.remove("x-amz-metadata-directive");
}

/// The checksum algorithm a copy of a plaintext source gets: CopyObject's `x-amz-checksum-algorithm`, else S3's
/// default, CRC64NVME.
fn copy_checksum_algorithm(client: &HeaderMap) -> Result<ChecksumAlgorithm, S3Error> {
    match header_str(client, "x-amz-checksum-algorithm") {
        None => Ok(ChecksumAlgorithm::Crc64Nvme),
        Some(name) => ChecksumAlgorithm::from_sdk_name(name).ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::InvalidRequest,
                "Checksum algorithm provided is unsupported. Please try again with any of the valid types: \
                 [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]",
            )
        }),
    }
}
