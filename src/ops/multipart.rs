//! The multipart operations: CreateMultipartUpload, UploadPart, UploadPartCopy, CompleteMultipartUpload,
//! ListParts, AbortMultipartUpload. Upload IDs carry the envelope (`sse::multipart`); each part is encrypted as
//! its own stream; Complete records the part layout, and rewrites an object whose parts are not whole segments
//! as one stream so that listings can state its size (SSE-C ones when Complete carries the key).

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response};

use super::ReqCtx;
use super::copy::{copy_result, put_encrypted, read_source, strip_copy_headers};
use crate::auth::canonical::uri_encode;
use crate::backend::upstream::Outbound;
use crate::body::Body;
use crate::crypto::envelope::{Envelope, SseMode};
use crate::error::{S3Error, S3ErrorCode};
use crate::response::listing::{self, EntryRewrite, replace_leaf};
use crate::response::{self, SMALL_LIMIT};
use crate::s3::copy_source::{COPIED_HEADERS, CopySource};
use crate::s3::request::{content_length_of, header_str, replace_query_param};
use crate::s3::xml::{xml_all, xml_text};
use crate::sse::multipart::{
    Layout, backend_part_etags, check_upload_key, open_part_key, parse_upload_id, upload_token, version_layout_key,
};
use crate::sse::new_object::{self, NewObject};
use crate::sse::request::{CustomerKey, SseRequest};
use crate::sse::{ENVELOPE_HEADER, Keys, add_sse_headers, client_etag, open_data_key, strip_backend_only};

/// An upload named by the request's `uploadId`.
struct Upload {
    /// The upload ID as the client knows it.
    client_id: String,
    backend_id: String,
    /// `None`: an upload not started through the gateway.
    envelope: Option<Envelope>,
    /// The SSE-C key the request carries, if any.
    customer: Option<CustomerKey>,
}

impl Upload {
    fn of(ctx: &ReqCtx<'_>) -> Result<Self, S3Error> {
        let client_id = ctx.req.query_param("uploadId").unwrap_or_default().to_owned();
        let (backend_id, envelope) = match ctx.req.upload_id() {
            Some(parsed) => parsed?.clone(),
            None => parse_upload_id("")?,
        };
        // An upload the gateway did not start takes no SSE headers of its own: they are not looked at.
        let customer = match envelope {
            Some(_) => match crate::sse::request::parse(&ctx.req.parts.headers)? {
                SseRequest::Customer(c) => Some(c),
                _ => None,
            },
            None => None,
        };
        Ok(Self {
            client_id,
            backend_id,
            envelope,
            customer,
        })
    }

    /// The request's backend URI, with the backend's upload ID.
    fn uri(&self, ctx: &ReqCtx<'_>) -> Result<http::Uri, S3Error> {
        ctx.uri_with_query(&replace_query_param(ctx.req.raw_query(), "uploadId", &self.backend_id))
    }

    /// The envelope of an upload that may receive data. A bare backend upload ID (begun before the gateway, or
    /// read from ListMultipartUploads) takes no parts: they must not reach the backend unencrypted.
    fn envelope_for_data(&self) -> Result<&Envelope, S3Error> {
        self.envelope.as_ref().ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::NoSuchUpload,
                "The specified upload was not started through this gateway; parts cannot be added to it.",
            )
        })
    }
}

/// An operation on an upload the gateway did not start: listing, completing and aborting still work, unchanged.
async fn forward_foreign(mut ctx: ReqCtx<'_>, upload: &Upload) -> Result<Response<Body>, S3Error> {
    let headers = ctx.forwarded_headers();
    let body = ctx.take_body();
    let resp = ctx
        .upstream
        .send(ctx.op(), ctx.req.parts.method.clone(), upload.uri(&ctx)?, headers, body)
        .await?;
    Ok(response::pass_through(resp))
}

pub async fn create(mut ctx: ReqCtx<'_>, keys: &Keys) -> Result<Response<Body>, S3Error> {
    let (op, bucket, key) = (ctx.op(), ctx.bucket().to_owned(), ctx.key().to_owned());
    ctx.buckets.adoption_time(op, &bucket, true).await?;
    let sse = super::put::sse_for_write(&ctx).await?;
    let mut obj = new_object::new_object(keys, sse, &bucket, &key).await?;
    obj.envelope.multipart = true;
    let mut headers = ctx.forwarded_headers();
    headers.insert(
        ENVELOPE_HEADER,
        HeaderValue::from_str(&obj.envelope.encode()).expect("ASCII"),
    );
    let body = ctx.take_body();
    let resp = ctx.send_as_is(headers, body).await?;
    if !resp.status().is_success() {
        return Ok(response::pass_through(resp));
    }
    let resp = response::restate(resp, |xml| {
        let backend_id = xml_text(&String::from_utf8_lossy(&xml), "UploadId")
            .ok_or_else(|| S3Error::internal("CreateMultipartUpload: no UploadId"))?;
        listing::replace_upload_id(&xml, &backend_id, &upload_token(&backend_id, &obj.envelope))
            .map_err(S3Error::internal)
    })
    .await?;
    Ok(new_object::respond(&obj, resp))
}

pub async fn upload_part(mut ctx: ReqCtx<'_>, keys: &Keys) -> Result<Response<Body>, S3Error> {
    let upload = Upload::of(&ctx)?;
    let env = upload.envelope_for_data()?.clone();
    let part = part_number(&ctx)?;
    if ctx.anonymous() && env.mode == SseMode::Kms {
        return Err(crate::sse::request::kms_needs_identity());
    }
    let dk = open_part_key(keys, &env, upload.customer.as_ref(), ctx.bucket(), ctx.key()).await?;
    let mut headers = ctx.forwarded_headers();
    let body = ctx.take_body();
    let len = body.length()?;
    let obj = NewObject {
        envelope: env,
        data_key: dk,
        customer: upload.customer.clone(),
    };
    let metrics = ctx.metrics;
    let body = body.map(|b| new_object::encrypt_part(&obj, part, &mut headers, len, b, metrics));
    let uri = upload.uri(&ctx)?;
    let resp = ctx
        .upstream
        .send(ctx.op(), ctx.req.parts.method.clone(), uri, headers, body)
        .await?;
    let mut resp = response::pass_through(resp);
    if resp.status().is_success() {
        add_sse_headers(resp.headers_mut(), &obj.envelope, obj.customer.as_ref());
        // The part ETag is an MD5 of ciphertext: marked so clients do not compare it with their MD5.
        let etag = header_str(resp.headers(), "etag").map(|e| client_etag(e, true));
        if let Some(v) = etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
            resp.headers_mut().insert(http::header::ETAG, v);
        }
    }
    Ok(resp)
}

pub async fn upload_part_copy(ctx: ReqCtx<'_>, keys: &Keys) -> Result<Response<Body>, S3Error> {
    let upload = Upload::of(&ctx)?;
    let env = upload.envelope_for_data()?.clone();
    let part = part_number(&ctx)?;
    if ctx.anonymous() && env.mode == SseMode::Kms {
        return Err(crate::sse::request::kms_needs_identity());
    }
    let dk = open_part_key(keys, &env, upload.customer.as_ref(), ctx.bucket(), ctx.key()).await?;
    let src = ctx
        .req
        .copy_source()?
        .cloned()
        .ok_or_else(|| S3Error::internal("UploadPartCopy without a copy source"))?;
    let client = &ctx.req.parts.headers;
    let source = read_source(&ctx, keys, &src, client, header_str(client, "x-amz-copy-source-range")).await?;
    if !source.status().is_success() {
        return Ok(source);
    }
    let len = content_length_of(source.headers())?;
    let mut headers = ctx.forwarded_headers();
    strip_copy_headers(&mut headers);
    let obj = NewObject {
        envelope: env,
        data_key: dk,
        customer: upload.customer.clone(),
    };
    let (source_head, source_body) = source.into_parts();
    let body = new_object::encrypt_part(&obj, part, &mut headers, len, source_body, ctx.metrics);
    let uri = upload.uri(&ctx)?;
    let resp = ctx
        .upstream
        .send(ctx.op(), Method::PUT, uri, headers, Outbound::stream(body))
        .await?;
    if !resp.status().is_success() {
        return Ok(response::pass_through(resp));
    }
    Ok(copy_result("CopyPartResult", &resp, &obj, &source_head.headers))
}

pub async fn complete(mut ctx: ReqCtx<'_>, keys: &Keys) -> Result<Response<Body>, S3Error> {
    let upload = Upload::of(&ctx)?;
    let Some(env) = upload.envelope.clone() else {
        return forward_foreign(ctx, &upload).await;
    };
    let (op, bucket, key) = (ctx.op(), ctx.bucket().to_owned(), ctx.key().to_owned());
    // Complete needs no SSE-C key (S3); one that is given must be the upload's.
    check_upload_key(&env, upload.customer.as_ref(), false)?;
    let mut headers = ctx.forwarded_headers();
    super::conditional::translate_if_match(&ctx, &mut headers).await?;
    // The parts the client completes, in order (a small XML document).
    let request_xml = ctx
        .take_body()
        .read_small(SMALL_LIMIT, || {
            S3Error::new(
                S3ErrorCode::InvalidRequest,
                "The CompleteMultipartUpload body is too large.",
            )
        })
        .await?;
    let request_xml = backend_part_etags(&request_xml);
    // The body changed: its length and any digest of it are the gateway's to state now.
    strip_backend_only(&mut headers);
    headers.remove("content-md5");
    headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(request_xml.len()));
    let chosen: Vec<u64> = xml_all(&String::from_utf8_lossy(&request_xml), "PartNumber")
        .iter()
        .filter_map(|n| n.parse().ok())
        .collect();
    let uploaded = backend_part_sizes(&ctx, &upload.backend_id).await?;
    // Unknown parts: the backend answers InvalidPart itself, and no layout is written.
    let part_sizes: Option<Vec<u64>> = chosen
        .iter()
        .map(|n| uploaded.iter().find(|(p, _)| p == n).map(|(_, s)| *s))
        .collect();
    let uri = upload.uri(&ctx)?;
    let resp = ctx
        .upstream
        .send(
            op,
            ctx.req.parts.method.clone(),
            uri,
            headers,
            Outbound::full(request_xml),
        )
        .await?;
    if !resp.status().is_success() {
        return Ok(response::pass_through(resp));
    }
    // A backend may answer 200 with an <Error> document (S3 does, for failures late in Complete).
    let mut backend_etag = None;
    let mut is_error = false;
    let mut resp = response::restate(resp, |xml| {
        is_error = String::from_utf8_lossy(&xml).contains("<Error>");
        if !is_error {
            backend_etag = xml_text(&String::from_utf8_lossy(&xml), "ETag")
                .map(|e| e.replace("&quot;", "").replace("&#34;", "").replace('"', ""));
        }
        Ok(xml.to_vec())
    })
    .await?;
    let part_sizes = match part_sizes {
        Some(p) if !p.is_empty() && !is_error => p,
        _ => return Ok(resp),
    };
    let mut layout = Layout {
        etag: backend_etag.unwrap_or_default(),
        part_sizes,
        part_numbers: chosen.iter().map(|&n| n as u32).collect(),
    };
    // In a versioned bucket, the version just made: its layout is its own.
    let version = header_str(resp.headers(), "x-amz-version-id").map(str::to_owned);
    if layout.etag.is_empty() {
        // Ceph RGW 16 answers CompleteMultipartUpload with an empty <ETag>: ask for the object's.
        let q = version.as_ref().map(|v| format!("versionId={}", uri_encode(v)));
        let uri = ctx.upstream.object_uri(&bucket, &key, q.as_deref())?;
        let head = ctx.upstream.call(op, Method::HEAD, uri, HeaderMap::new()).await?;
        layout.etag = header_str(head.headers(), "etag").unwrap_or("").replace('"', "");
        // The client gets the ETag S3 would have answered.
        let (parts, body) = resp.into_parts();
        let xml = crate::body::collect_limited(body, SMALL_LIMIT)
            .await
            .map_err(|()| S3Error::internal("CompleteMultipartUpload response"))?;
        let etag = format!("\"{}\"", layout.etag);
        let out = replace_leaf(&xml, b"ETag", |_| Some(etag.clone())).map_err(S3Error::internal)?;
        resp = Response::from_parts(parts, crate::body::full(out));
    }
    let record = version_layout_key(&key, version.as_deref());
    ctx.buckets
        .put(op, &bucket, &record, Bytes::from(layout.encode()))
        .await?;
    // S3's CompleteMultipartUpload answer names SSE-S3 and SSE-KMS, never SSE-C.
    if env.mode != SseMode::C {
        add_sse_headers(resp.headers_mut(), &env, None);
    }
    // Unaligned parts make the listed size underivable: rewrite once as one stream, when the gateway can open the
    // data key (SSE-C: only with the key, which the SDKs send on Complete when the upload used it).
    if !layout.is_aligned() && (env.mode != SseMode::C || upload.customer.is_some()) {
        match realign(&ctx, keys, &env, version.as_deref()).await {
            Ok((etag, new_version)) => {
                let (mut parts, body) = resp.into_parts();
                if let Some(v) = new_version {
                    parts.headers.insert("x-amz-version-id", v);
                }
                let xml = crate::body::collect_limited(body, SMALL_LIMIT)
                    .await
                    .map_err(|()| S3Error::internal("CompleteMultipartUpload response"))?;
                let out = replace_leaf(&xml, b"ETag", |_| Some(client_etag(&etag, true))).map_err(S3Error::internal)?;
                resp = Response::from_parts(parts, crate::body::full(out));
            }
            Err(e) => {
                tracing::warn!(bucket, key, error = %e, "realigning an unaligned multipart object failed; it stays readable, its listed size is approximate")
            }
        }
    }
    Ok(resp)
}

pub async fn list_parts(mut ctx: ReqCtx<'_>) -> Result<Response<Body>, S3Error> {
    let upload = Upload::of(&ctx)?;
    let Some(env) = &upload.envelope else {
        return forward_foreign(ctx, &upload).await;
    };
    check_upload_key(env, upload.customer.as_ref(), false)?;
    let headers = ctx.forwarded_headers();
    let body = ctx.take_body();
    let uri = upload.uri(&ctx)?;
    let resp = ctx
        .upstream
        .send(ctx.op(), ctx.req.parts.method.clone(), uri, headers, body)
        .await?;
    if !resp.status().is_success() {
        return Ok(response::pass_through(resp));
    }
    response::restate(resp, |xml| {
        let xml = listing::replace_upload_id(&xml, &upload.backend_id, &upload.client_id).map_err(S3Error::internal)?;
        listing::rewrite(
            &xml,
            crate::bucket_state::RESERVED_PREFIX,
            |e| match crate::crypto::size::plaintext_len(e.size) {
                Some(p) => EntryRewrite::Rewrite {
                    size: p,
                    etag: e.etag.to_owned(),
                },
                None => EntryRewrite::Keep,
            },
        )
        .map_err(S3Error::internal)
    })
    .await
}

pub async fn abort(ctx: ReqCtx<'_>) -> Result<Response<Body>, S3Error> {
    let upload = Upload::of(&ctx)?;
    forward_foreign(ctx, &upload).await
}

/// The `partNumber` of an UploadPart / UploadPartCopy (required).
fn part_number(ctx: &ReqCtx<'_>) -> Result<u32, S3Error> {
    ctx.req.part_number()?.ok_or_else(|| {
        S3Error::new(
            S3ErrorCode::InvalidArgument,
            "Part number must be an integer between 1 and 10000, inclusive",
        )
    })
}

/// `(part number, ciphertext size)` of every part uploaded so far, from the backend's ListParts.
async fn backend_part_sizes(ctx: &ReqCtx<'_>, backend_id: &str) -> Result<Vec<(u64, u64)>, S3Error> {
    let mut out = Vec::new();
    let mut marker = 0u64;
    loop {
        let q = format!(
            "uploadId={}&part-number-marker={marker}",
            crate::auth::canonical::uri_encode(backend_id)
        );
        let resp = ctx
            .upstream
            .call(ctx.op(), Method::GET, ctx.uri_with_query(&q)?, HeaderMap::new())
            .await?;
        if !resp.status().is_success() {
            return Err(S3Error::new(
                S3ErrorCode::NoSuchUpload,
                "The specified upload does not exist.",
            ));
        }
        let text = String::from_utf8_lossy(&response::read_small(resp).await?).into_owned();
        for part in xml_all(&text, "Part") {
            let n = xml_text(&part, "PartNumber").and_then(|n| n.parse().ok());
            let s = xml_text(&part, "Size").and_then(|s| s.parse().ok());
            if let (Some(n), Some(s)) = (n, s) {
                out.push((n, s));
            }
        }
        match xml_text(&text, "NextPartNumberMarker").and_then(|m| m.parse().ok()) {
            Some(m) if xml_text(&text, "IsTruncated").as_deref() == Some("true") && m > marker => marker = m,
            _ => return Ok(out),
        }
    }
}

/// Rewrite a just-completed multipart object (its `version`, in a versioned bucket) whose parts are not whole
/// segments as one segment stream (same data key and envelope, fresh nonce prefix), so its size is derivable
/// from listings. An SSE-C object is read with the key the Complete request carries (already checked against the
/// upload's). Returns the new backend ETag and, in a versioned bucket, the new version, which replaces the
/// multipart one (deleted, with its layout): the client sees one version, as from S3.
async fn realign(
    ctx: &ReqCtx<'_>,
    keys: &Keys,
    env: &Envelope,
    version: Option<&str>,
) -> Result<(String, Option<HeaderValue>), S3Error> {
    let (op, bucket, key) = (ctx.op(), ctx.bucket(), ctx.key());
    let version = version.filter(|v| *v != "null");
    let src = CopySource {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        version_id: version.map(str::to_owned),
    };
    let customer = match env.mode {
        SseMode::C => Upload::of(ctx)?.customer,
        SseMode::S3 | SseMode::Kms => None,
    };
    // The source is read as a copy reads it: an SSE-C key as the copy-source key.
    let mut source_keys = HeaderMap::new();
    for name in [
        "server-side-encryption-customer-algorithm",
        "server-side-encryption-customer-key",
        "server-side-encryption-customer-key-md5",
    ] {
        if let (Some(v), Some(_)) = (ctx.req.parts.headers.get(format!("x-amz-{name}")), &customer) {
            source_keys.insert(
                http::HeaderName::try_from(format!("x-amz-copy-source-{name}")).expect("a header name"),
                v.clone(),
            );
        }
    }
    let source = read_source(ctx, keys, &src, &source_keys, None).await?;
    if !source.status().is_success() {
        return Err(S3Error::internal(format!("reading back: status {}", source.status())));
    }
    let len = content_length_of(source.headers())?;
    let mut headers = HeaderMap::new();
    for (n, v) in source.headers() {
        if n.as_str().starts_with("x-amz-meta-") || COPIED_HEADERS.contains(&n.as_str()) {
            headers.append(n.clone(), v.clone());
        }
    }
    let dk = open_data_key(keys, env, customer.as_ref(), bucket, key).await?;
    // The sealed data key is bound to mode, key-encryption key, bucket and key, none of which changes: the
    // envelope is kept (no KMS call, the SSE-C key check stays), with a fresh nonce prefix for the new stream.
    let mut envelope = env.clone();
    envelope.nonce_prefix = crate::crypto::segment::NoncePrefix::generate();
    envelope.multipart = false;
    let obj = NewObject {
        envelope,
        data_key: dk,
        customer,
    };
    let resp = put_encrypted(ctx, &obj, headers, len, source.into_body()).await?;
    if !resp.status().is_success() {
        return Err(S3Error::internal(format!("rewriting: status {}", resp.status())));
    }
    let etag = header_str(resp.headers(), "etag").unwrap_or("").to_owned();
    let new_version = resp.headers().get("x-amz-version-id").cloned();
    if let Some(old) = version {
        let q = format!("versionId={}", uri_encode(old));
        let uri = ctx.upstream.object_uri(bucket, key, Some(&q))?;
        let deleted = ctx.upstream.call(op, Method::DELETE, uri, HeaderMap::new()).await?;
        if !deleted.status().is_success() {
            tracing::warn!(bucket, key, version = old, status = %deleted.status(), "the multipart version replaced by its realigned copy was not deleted");
        }
    }
    let _ = ctx.buckets.purge(op, bucket, &version_layout_key(key, version)).await;
    Ok((etag, new_version))
}
