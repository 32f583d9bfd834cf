//! The multipart operations: CreateMultipartUpload, UploadPart, UploadPartCopy, CompleteMultipartUpload,
//! ListParts, AbortMultipartUpload. Upload IDs carry the envelope (`sse::multipart`); each part is encrypted as
//! its own stream; Complete records the part layout, and rewrites an object whose parts are not whole segments
//! as one stream so that listings can state its size (SSE-C ones when Complete carries the key).

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response};

use super::ReqCtx;
use super::copy::{copy_result, put_encrypted, read_source, strip_copy_headers};
use crate::auth::canonical::uri_encode;
use crate::auth::checksum::{ChecksumAlgorithm, Checksummer};
use crate::backend::upstream::Outbound;
use crate::body::Body;
use crate::body::verify::BodyChecksum;
use crate::crypto::envelope::{ChecksumPlace, Envelope, SseMode};
use crate::error::{S3Error, S3ErrorCode};
use crate::response::listing::{self, EntryRewrite, replace_leaf};
use crate::response::{self, SMALL_LIMIT};
use crate::s3::copy_source::{COPIED_HEADERS, CopySource};
use crate::s3::request::{content_length_of, header_str, replace_query_param};
use crate::s3::xml::{xml_all, xml_text};
use crate::sse::checksum::{ChecksumType, StoredChecksum, UploadChecksum};
use crate::sse::multipart::{
    Layout, backend_part_etags, check_upload_key, open_part_key, parse_upload_id, pending_layout_key, upload_checksum,
    upload_token_with_checksum, version_layout_key,
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
    /// The checksum the upload keeps (`None`: an upload ID from before checksums were kept).
    checksum: Option<UploadChecksum>,
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
        let checksum = envelope.as_ref().and_then(|_| upload_checksum(&client_id));
        Ok(Self {
            client_id,
            backend_id,
            envelope,
            customer,
            checksum,
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
    let checksum = UploadChecksum::from_create(&ctx.req.parts.headers)?;
    let mut obj = new_object::new_object(keys, sse, &bucket, &key).await?;
    obj.envelope.multipart = true;
    // The object's checksum is made at Complete, after the object: it is kept in a record.
    obj.envelope.checksum = Some(ChecksumPlace::Record);
    let mut headers = ctx.forwarded_headers();
    // The checksum headers choose the plaintext's checksum: the gateway's to keep, not the backend's.
    strip_backend_only(&mut headers);
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
        let client_id = upload_token_with_checksum(&backend_id, &obj.envelope, checksum);
        listing::replace_upload_id(&xml, &backend_id, &client_id).map_err(S3Error::internal)
    })
    .await?;
    let mut resp = new_object::respond(&obj, resp);
    checksum.add_headers(resp.headers_mut());
    Ok(resp)
}

pub async fn upload_part(mut ctx: ReqCtx<'_>, keys: &Keys) -> Result<Response<Body>, S3Error> {
    let upload = Upload::of(&ctx)?;
    let env = upload.envelope_for_data()?.clone();
    let part = part_number(&ctx)?;
    if ctx.anonymous() && env.mode == SseMode::Kms {
        return Err(crate::sse::request::kms_needs_identity());
    }
    let checksum = upload
        .checksum
        .map(|c| PartChecksum::start(c, &ctx.req.parts.headers))
        .transpose()?;
    let dk = open_part_key(keys, &env, upload.customer.as_ref(), ctx.bucket(), ctx.key()).await?;
    let mut headers = ctx.forwarded_headers();
    let body = ctx.take_body();
    let len = body.length()?;
    let slot = body.checksum.clone();
    let obj = NewObject {
        envelope: env,
        data_key: dk,
        customer: upload.customer.clone(),
    };
    let metrics = ctx.metrics;
    let body = body.map(|b| {
        let b = match &checksum {
            Some(c) => c.tap(b),
            None => b,
        };
        new_object::encrypt_part(&obj, part, &mut headers, len, b, metrics)
    });
    let uri = upload.uri(&ctx)?;
    let resp = ctx
        .upstream
        .send(ctx.op(), ctx.req.parts.method.clone(), uri, headers, body)
        .await?;
    let mut resp = response::pass_through(resp);
    if resp.status().is_success() {
        strip_backend_only(resp.headers_mut());
        if let Some(c) = &checksum
            && let Some(answer) = c.keep(&ctx, &upload, &obj, part, slot.get(), resp.headers()).await?
        {
            answer.add_headers(resp.headers_mut());
            resp.headers_mut().remove("x-amz-checksum-type");
        }
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
    // A copied part carries no checksum of its own: the upload's is computed from the source's plaintext.
    let checksum = upload
        .checksum
        .map(|c| PartChecksum::start(c, &HeaderMap::new()))
        .transpose()?;
    let source_body = match &checksum {
        Some(c) => c.tap(source_body),
        None => source_body,
    };
    let body = new_object::encrypt_part(&obj, part, &mut headers, len, source_body, ctx.metrics);
    let uri = upload.uri(&ctx)?;
    let resp = ctx
        .upstream
        .send(ctx.op(), Method::PUT, uri, headers, Outbound::stream(body))
        .await?;
    if !resp.status().is_success() {
        return Ok(response::pass_through(resp));
    }
    let answer = match &checksum {
        Some(c) => c.keep(&ctx, &upload, &obj, part, None, resp.headers()).await?,
        None => None,
    };
    let result = copy_result("CopyPartResult", &resp, &obj, &source_head.headers);
    match answer {
        Some(a) => super::checksum::answer_checksum(result, Some(&a), false).await,
        None => Ok(result),
    }
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
    let client_xml = ctx
        .take_body()
        .read_small(SMALL_LIMIT, || {
            S3Error::new(
                S3ErrorCode::InvalidRequest,
                "The CompleteMultipartUpload body is too large.",
            )
        })
        .await?;
    let listed = listed_parts(&String::from_utf8_lossy(&client_xml));
    // The parts' checksums describe plaintext: the gateway checks them; the backend's would describe ciphertext.
    let request_xml = Bytes::from(strip_part_checksums(&backend_part_etags(&client_xml)));
    // The body changed: its length and any digest of it are the gateway's to state now.
    strip_backend_only(&mut headers);
    headers.remove("content-md5");
    headers.remove("x-amz-mp-object-size");
    headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(request_xml.len()));
    let chosen: Vec<u64> = listed.iter().map(|p| p.number).collect();
    let uploaded = match backend_parts(&ctx, &upload.backend_id).await {
        Err(e) if e.code == S3ErrorCode::NoSuchUpload => {
            return already_completed(&ctx, keys, &upload, &env).await?.ok_or(e);
        }
        done => done?,
    };
    // Unknown parts: the backend answers InvalidPart itself, and no layout is written.
    let chosen_parts: Option<Vec<&BackendPart>> = chosen
        .iter()
        .map(|n| uploaded.iter().find(|p| u64::from(p.number) == *n))
        .collect();
    let layout = chosen_parts.as_ref().filter(|ps| !ps.is_empty()).map(|ps| Layout {
        etag: String::new(),
        part_sizes: ps.iter().map(|p| p.size).collect(),
        part_numbers: ps.iter().map(|p| p.number).collect(),
    });
    check_object_size(&ctx.req.parts.headers, chosen_parts.as_deref())?;
    let checksum = match chosen_parts.as_deref() {
        Some(parts) => complete_checksum(&ctx, keys, &upload, &env, &listed, parts).await?,
        None => None,
    };
    // The layout goes first where a read finds it: a Complete cut after the backend's (an instance killed, the
    // backend gone) still leaves a readable object, and a retry of it records the layout as its own.
    if let Some(layout) = &layout {
        record_pending_layout(&ctx, &env, layout).await?;
    }
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
    if resp.status() == http::StatusCode::NOT_FOUND
        && let Some(done) = already_completed(&ctx, keys, &upload, &env).await?
    {
        return Ok(done);
    }
    if !resp.status().is_success() {
        return Ok(response::pass_through(resp));
    }
    // A backend may answer 200 with an <Error> document (S3 does, for failures late in Complete).
    let mut backend_etag = None;
    let mut is_error = false;
    let mut resp = response::restate(resp, |xml| {
        is_error = String::from_utf8_lossy(&xml).contains("<Error>");
        if !is_error {
            backend_etag = xml_text(&String::from_utf8_lossy(&xml), "ETag").map(|e| listed_etag(&e));
        }
        Ok(xml.to_vec())
    })
    .await?;
    let mut layout = match layout {
        Some(l) if !is_error => l,
        _ => return Ok(resp),
    };
    layout.etag = backend_etag.unwrap_or_default();
    let parts_done: Vec<u32> = uploaded.iter().map(|p| p.number).collect();
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
    let mut stored_as = (layout.etag.clone(), version.clone());
    record_layout(&ctx, &env, version.as_deref(), &layout).await?;
    // S3's CompleteMultipartUpload answer names SSE-S3 and SSE-KMS, never SSE-C.
    if env.mode != SseMode::C {
        add_sse_headers(resp.headers_mut(), &env, None);
    }
    // Unaligned parts make the listed size underivable: rewritten, or the size recorded.
    if !layout.is_aligned() {
        (resp, stored_as) = unaligned(&ctx, keys, &upload, &layout, resp, stored_as).await?;
    }
    if let Some((_, sealed, part_sealed)) = &checksum {
        let (etag, version) = &stored_as;
        let (sealed, part_sealed) = (sealed.clone(), part_sealed.clone());
        let version = version.as_deref();
        super::checksum::write_record_at(ctx.buckets, op, &bucket, &key, etag, version, sealed, part_sealed).await;
    }
    if upload.checksum.is_some() {
        super::checksum::purge_part_records(ctx.buckets, op, &bucket, &key, &upload.backend_id, &parts_done).await;
    }
    super::checksum::answer_checksum(resp, checksum.as_ref().map(|(c, _, _)| c), true).await
}

pub async fn list_parts(mut ctx: ReqCtx<'_>, keys: &Keys) -> Result<Response<Body>, S3Error> {
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
    let resp = response::restate(resp, |xml| {
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
    .await?;
    // S3 lists each part's checksum of an upload that chose an algorithm (an SSE-C one's with its key only).
    match upload.checksum.filter(|c| c.asked) {
        Some(uc) if env.mode != SseMode::C || upload.customer.is_some() => {
            with_part_checksums(&ctx, keys, &upload, env, uc, resp).await
        }
        _ => Ok(resp),
    }
}

/// A ListParts page with each part's checksum from its record, and the upload's algorithm and type.
async fn with_part_checksums(
    ctx: &ReqCtx<'_>,
    keys: &Keys,
    upload: &Upload,
    env: &Envelope,
    uc: UploadChecksum,
    resp: Response<Body>,
) -> Result<Response<Body>, S3Error> {
    let (parts, body) = resp.into_parts();
    let xml = crate::body::collect_limited(body, SMALL_LIMIT)
        .await
        .map_err(|()| S3Error::internal("ListParts answer too large"))?;
    let text = String::from_utf8_lossy(&xml).into_owned();
    let listed: Vec<(u32, String)> = xml_all(&text, "Part")
        .iter()
        .filter_map(|p| {
            let n = xml_text(p, "PartNumber")?.trim().parse().ok()?;
            let etag = listed_etag(&xml_text(p, "ETag").unwrap_or_default());
            // The client's part ETag is the backend's with `-1`.
            Some((n, etag.strip_suffix("-1").unwrap_or(&etag).to_owned()))
        })
        .collect();
    let (op, bucket, key) = (ctx.op(), ctx.bucket(), ctx.key());
    let dk = open_data_key(keys, env, upload.customer.as_ref(), bucket, key).await?;
    let kept =
        super::checksum::read_part_records(ctx.buckets, op, bucket, key, &upload.backend_id, &listed, &dk).await?;
    let name = format!("Checksum{}", uc.algorithm.sdk_name());
    let mut out = String::with_capacity(text.len() + 64 * listed.len());
    let mut rest = text.as_str();
    let mut values = kept.iter();
    while let Some(i) = rest.find("</Part>") {
        out.push_str(&rest[..i]);
        if let Some(Some(c)) = values.next() {
            out.push_str(&format!("<{name}>{}</{name}>", c.value));
        }
        out.push_str("</Part>");
        rest = &rest[i + "</Part>".len()..];
    }
    out.push_str(rest);
    let head = format!(
        "<ChecksumAlgorithm>{}</ChecksumAlgorithm><ChecksumType>{}</ChecksumType>",
        uc.algorithm.sdk_name(),
        uc.kind.as_str()
    );
    // moto names the root `ListPartsResponse`.
    let end = out
        .find("</ListPartsResult>")
        .or_else(|| out.find("</ListPartsResponse>"));
    if let Some(i) = out.find("<Part>").or(end) {
        out.insert_str(i, &head);
    }
    let mut parts = parts;
    parts.headers.remove(http::header::CONTENT_LENGTH);
    Ok(Response::from_parts(parts, crate::body::full(out)))
}

pub async fn abort(ctx: ReqCtx<'_>) -> Result<Response<Body>, S3Error> {
    let upload = Upload::of(&ctx)?;
    // The parts' checksum records go with the upload.
    let parts: Vec<u32> = match upload.checksum {
        Some(_) => backend_parts(&ctx, &upload.backend_id)
            .await
            .map(|ps| ps.iter().map(|p| p.number).collect())
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let (op, buckets, bucket, key) = (ctx.op(), ctx.buckets, ctx.bucket().to_owned(), ctx.key().to_owned());
    let resp = forward_foreign(ctx, &upload).await?;
    if resp.status().is_success() && !parts.is_empty() {
        super::checksum::purge_part_records(buckets, op, &bucket, &key, &upload.backend_id, &parts).await;
    }
    // And the layout an earlier Complete of it recorded before failing.
    if let (true, Some(env)) = (resp.status().is_success(), &upload.envelope) {
        let _ = buckets.purge(op, &bucket, &pending_layout_key(&env.sealed_key.0)).await;
    }
    Ok(resp)
}

/// Before a write that makes a multipart object whose envelope is `env` (a Complete, a copy of one): its layout,
/// without the ETag only the backend's answer tells, where a read finds it should the write be cut before the
/// object's own record (docs/format.md §6.3).
pub async fn record_pending_layout(ctx: &ReqCtx<'_>, env: &Envelope, layout: &Layout) -> Result<(), S3Error> {
    let record = pending_layout_key(&env.sealed_key.0);
    let pending = Layout {
        etag: String::new(),
        ..layout.clone()
    };
    ctx.buckets
        .put(ctx.op(), ctx.bucket(), &record, Bytes::from(pending.encode()))
        .await
}

/// After it: the object's own layout record (of its `version`); then the pending one goes, best effort (a
/// leftover is read only for an object without a record of its own, and names no other object).
pub async fn record_layout(
    ctx: &ReqCtx<'_>,
    env: &Envelope,
    version: Option<&str>,
    layout: &Layout,
) -> Result<(), S3Error> {
    let (op, bucket, key) = (ctx.op(), ctx.bucket(), ctx.key());
    let record = version_layout_key(key, version);
    ctx.buckets
        .put(op, bucket, &record, Bytes::from(layout.encode()))
        .await?;
    forget_pending_layout(ctx, env).await;
    Ok(())
}

/// Remove the layout [`record_pending_layout`] wrote for `env`, best effort.
pub async fn forget_pending_layout(ctx: &ReqCtx<'_>, env: &Envelope) {
    let record = pending_layout_key(&env.sealed_key.0);
    let _ = ctx.buckets.purge(ctx.op(), ctx.bucket(), &record).await;
}

/// A part as CompleteMultipartUpload lists it: its number and the checksums the client states for it.
struct ListedPart {
    number: u64,
    checksums: Vec<(ChecksumAlgorithm, String)>,
}

fn listed_parts(xml: &str) -> Vec<ListedPart> {
    xml_all(xml, "Part")
        .iter()
        .filter_map(|p| {
            let number = xml_text(p, "PartNumber")?.trim().parse().ok()?;
            let checksums = ChecksumAlgorithm::ALL
                .into_iter()
                .filter_map(|a| Some((a, xml_text(p, &format!("Checksum{}", a.sdk_name()))?.trim().to_owned())))
                .collect();
            Some(ListedPart { number, checksums })
        })
        .collect()
}

/// A CompleteMultipartUpload body without the parts' checksums (the client's are of plaintext).
fn strip_part_checksums(xml: &[u8]) -> String {
    let mut text = String::from_utf8_lossy(xml).into_owned();
    for a in ChecksumAlgorithm::ALL {
        text = super::checksum::remove_elements(&text, &format!("Checksum{}", a.sdk_name()));
    }
    text
}

/// `x-amz-mp-object-size` states the object's size: the plaintext's, checked here (the backend's is larger).
fn check_object_size(client: &HeaderMap, parts: Option<&[&BackendPart]>) -> Result<(), S3Error> {
    let Some(stated) = header_str(client, "x-amz-mp-object-size") else {
        return Ok(());
    };
    let stated: u64 = stated.trim().parse().map_err(|_| {
        S3Error::new(
            S3ErrorCode::InvalidArgument,
            "The x-amz-mp-object-size header must be a non-negative integer.",
        )
    })?;
    let Some(parts) = parts else { return Ok(()) };
    // A part size that fits no plaintext: not ours to judge here (the backend's listing).
    let Some(sizes) = parts
        .iter()
        .map(|p| crate::crypto::size::plaintext_len(p.size))
        .collect::<Option<Vec<u64>>>()
    else {
        return Ok(());
    };
    // Checked: the sizes are the backend's word; past u64::MAX in all, no stated size matches.
    let size = crate::sse::multipart::checked_sum(sizes.into_iter());
    match size {
        Some(size) if size == stated => Ok(()),
        _ => Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            format!(
                "The provided 'x-amz-mp-object-size' header value {stated} does not match the object size {}.",
                size.map_or_else(|| format!("(over {})", u64::MAX), |s| s.to_string())
            ),
        )),
    }
}

/// The object's checksum at CompleteMultipartUpload, and it sealed: the parts' recorded checksums combined as the
/// upload chose, after checking what the client states (each part's, and the whole object's in
/// `x-amz-checksum-<algorithm>`) as S3 checks it. `None`: the object keeps no checksum (an upload ID from before
/// checksums, an SSE-C upload completed without its key, a part record missing); S3 would have one, but never a
/// wrong one is answered.
async fn complete_checksum(
    ctx: &ReqCtx<'_>,
    keys: &Keys,
    upload: &Upload,
    env: &Envelope,
    listed: &[ListedPart],
    parts: &[&BackendPart],
) -> Result<Option<(StoredChecksum, Vec<u8>, Vec<Vec<u8>>)>, S3Error> {
    let Some(uc) = upload.checksum else { return Ok(None) };
    let invalid = |m: String| Err(S3Error::new(S3ErrorCode::InvalidRequest, m));
    let client = &ctx.req.parts.headers;
    let alg_name = uc.algorithm.sdk_name().to_ascii_lowercase();
    if let Some(kind) = header_str(client, "x-amz-checksum-type")
        && !kind.eq_ignore_ascii_case(uc.kind.as_str())
    {
        return invalid(format!(
            "The upload was created using the {} checksum mode. The complete request must use the same checksum mode.",
            uc.kind.as_str()
        ));
    }
    if uc.asked {
        for p in listed {
            match p.checksums.first() {
                None => {
                    return invalid(format!(
                        "The upload was created using a {alg_name} checksum. The complete request must include the \
                         checksum for each part. It was missing for part {} in the request.",
                        p.number
                    ));
                }
                Some((a, _)) if *a != uc.algorithm => {
                    return invalid(format!(
                        "Checksum Type mismatch occurred, expected checksum Type: {alg_name}, actual checksum Type: {}",
                        a.sdk_name().to_ascii_lowercase()
                    ));
                }
                Some(_) => {}
            }
        }
    }
    if env.mode == SseMode::C && upload.customer.is_none() {
        return Ok(None);
    }
    let (op, bucket, key) = (ctx.op(), ctx.bucket(), ctx.key());
    let dk = open_data_key(keys, env, upload.customer.as_ref(), bucket, key).await?;
    let numbered: Vec<(u32, String)> = parts.iter().map(|p| (p.number, p.etag.clone())).collect();
    let kept =
        super::checksum::read_part_records(ctx.buckets, op, bucket, key, &upload.backend_id, &numbered, &dk).await?;
    for (p, k) in listed.iter().zip(&kept) {
        let stated = p.checksums.iter().find(|(a, _)| *a == uc.algorithm);
        if let (Some((_, stated)), Some(k)) = (stated, k)
            && !crate::auth::checksum::ct_eq(stated, &k.value)
        {
            return Err(S3Error::new(
                S3ErrorCode::InvalidPart,
                "One or more of the specified parts could not be found. The part may not have been uploaded, or \
                 the specified entity tag may not match the part's entity tag.",
            ));
        }
    }
    // Each part's, sealed as that part's, for GetObjectAttributes' ObjectParts.
    let part_sealed: Vec<Vec<u8>> = kept
        .iter()
        .zip(parts)
        .filter_map(|(k, p)| Some(k.as_ref()?.seal_part(&dk, p.number)))
        .collect();
    let values: Option<Vec<(String, u64)>> = kept
        .into_iter()
        .zip(parts)
        .map(|(k, p)| Some((k?.value, crate::crypto::size::plaintext_len(p.size)?)))
        .collect();
    let Some(whole) = values.and_then(|v| uc.combine(&v)) else {
        tracing::warn!(
            bucket,
            key,
            "a part's checksum record is missing: the object keeps no checksum"
        );
        return Ok(None);
    };
    if let Some(stated) = header_str(client, uc.algorithm.header_name()) {
        let bare = |v: &str| v.split('-').next().unwrap_or("").to_owned();
        if !crate::auth::checksum::ct_eq(&bare(stated), &bare(&whole.value)) {
            return Err(S3Error::new(
                S3ErrorCode::BadDigest,
                format!(
                    "The {} you specified did not match the calculated checksum.",
                    uc.algorithm.sdk_name()
                ),
            ));
        }
    }
    let sealed = whole.seal(&dk);
    Ok(Some((whole, sealed, part_sealed)))
}

/// A part's checksum in its upload's algorithm: the client's own (header or trailer), verified as the part
/// streams, or computed from the plaintext on its way to the cipher.
struct PartChecksum {
    upload: UploadChecksum,
    /// Computing the upload's algorithm, when the client's checksum (or the verifier's default CRC64NVME) is not
    /// that one.
    tap: Option<Arc<Mutex<Checksummer>>>,
}

impl PartChecksum {
    /// The checksum of a part whose request has headers `client`: S3 refuses a part checksum of another
    /// algorithm than the one the upload chose.
    fn start(upload: UploadChecksum, client: &HeaderMap) -> Result<Self, S3Error> {
        let sent = client_checksum_algorithm(client);
        if let Some(a) = sent
            && upload.asked
            && a != upload.algorithm
        {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                format!(
                    "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
                    upload.algorithm.sdk_name().to_ascii_lowercase(),
                    a.sdk_name().to_ascii_lowercase()
                ),
            ));
        }
        let verified_is_it = sent.unwrap_or(ChecksumAlgorithm::Crc64Nvme) == upload.algorithm;
        Ok(Self {
            upload,
            tap: (!verified_is_it).then(|| Arc::new(Mutex::new(Checksummer::new(upload.algorithm)))),
        })
    }

    /// The part's plaintext, with the upload's algorithm computed on its way if needed.
    fn tap(&self, body: Body) -> Body {
        match &self.tap {
            Some(t) => crate::body::tap_checksum(body, t.clone()),
            None => body,
        }
    }

    /// Once the backend has stored the part (`backend`: its answer's headers): seal and record the part's
    /// checksum, bound to the part's backend ETag. Returns what S3 answers the part with: the client's own
    /// checksum, or the upload's when the client chose it.
    async fn keep(
        &self,
        ctx: &ReqCtx<'_>,
        upload: &Upload,
        obj: &NewObject,
        part: u32,
        verified: Option<BodyChecksum>,
        backend: &HeaderMap,
    ) -> Result<Option<StoredChecksum>, S3Error> {
        let value = match &self.tap {
            Some(t) => t.lock().unwrap_or_else(|p| p.into_inner()).clone().finish(),
            None => match &verified {
                Some(v) => v.value.clone(),
                None => return Ok(None),
            },
        };
        let kept = StoredChecksum {
            algorithm: self.upload.algorithm,
            kind: ChecksumType::FullObject,
            value,
        };
        let etag = header_str(backend, "etag").unwrap_or("").trim_matches('"');
        let (op, bucket, key) = (ctx.op(), ctx.bucket(), ctx.key());
        let sealed = kept.seal_part(&obj.data_key, part);
        super::checksum::write_part_record(ctx.buckets, op, bucket, key, &upload.backend_id, part, etag, sealed)
            .await?;
        Ok(match verified.filter(|v| v.from_client) {
            Some(own) => Some(StoredChecksum::of_body(&own)),
            None => self.upload.asked.then_some(kept),
        })
    }
}

/// The algorithm of the checksum a request's body carries, as a header or announced as a trailer.
fn client_checksum_algorithm(h: &HeaderMap) -> Option<ChecksumAlgorithm> {
    let trailer = header_str(h, "x-amz-trailer").and_then(|t| ChecksumAlgorithm::from_header_name(t.trim()));
    trailer.or_else(|| {
        ChecksumAlgorithm::ALL
            .into_iter()
            .find(|a| h.contains_key(a.header_name()))
    })
}

/// An ETag as an XML answer writes it (`"…"`, `&quot;…&quot;` or `&#34;…&#34;`), unquoted.
fn listed_etag(raw: &str) -> String {
    raw.replace("&quot;", "").replace("&#34;", "").replace('"', "")
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

/// A part uploaded so far, as the backend's ListParts describes it.
struct BackendPart {
    /// 1..=10000: S3's part numbers (a listed number outside them is not taken for another by truncation).
    number: u32,
    /// Ciphertext size.
    size: u64,
    /// Unquoted.
    etag: String,
}

/// The answer to a Complete retried after an earlier attempt completed the upload (an instance killed, or the
/// connection lost, before the answer reached the client): the backend knows the upload no more, but the object
/// at the key came from it: its envelope holds the upload's sealed data key, which no other object holds (a
/// realigned object keeps it). S3 answers such a retry with success, from the object as it is stored. `None`: the
/// object is another one, or none (NoSuchUpload stands).
async fn already_completed(
    ctx: &ReqCtx<'_>,
    keys: &Keys,
    upload: &Upload,
    env: &Envelope,
) -> Result<Option<Response<Body>>, S3Error> {
    let (op, bucket, key) = (ctx.op(), ctx.bucket(), ctx.key());
    let head = ctx
        .upstream
        .call(
            op,
            Method::HEAD,
            ctx.upstream.object_uri(bucket, key, None)?,
            HeaderMap::new(),
        )
        .await?;
    let stored = match crate::sse::envelope_of(head.headers()) {
        Ok(Some(e)) if head.status().is_success() && e.sealed_key == env.sealed_key => e,
        _ => return Ok(None),
    };
    if stored.multipart {
        settle_layout(ctx, &stored, head.headers()).await?;
    }
    let etag = client_etag(header_str(head.headers(), "etag").unwrap_or(""), true);
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUploadResult \
         xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Location>{}</Location><Bucket>{}</Bucket>\
         <Key>{}</Key><ETag>{}</ETag></CompleteMultipartUploadResult>",
        crate::error::xml_escape(&response::object_location(&ctx.req.parts, bucket, key)),
        crate::error::xml_escape(bucket),
        crate::error::xml_escape(key),
        crate::error::xml_escape(&etag),
    );
    let mut resp = response::xml(xml);
    if let Some(v) = head.headers().get("x-amz-version-id") {
        resp.headers_mut().insert("x-amz-version-id", v.clone());
    }
    if env.mode != SseMode::C {
        add_sse_headers(resp.headers_mut(), env, None);
    }
    // The checksum, where the gateway can open it (an SSE-C upload's only with the key).
    let checksum = match open_data_key(keys, &stored, upload.customer.as_ref(), bucket, key).await {
        Ok(dk) => super::checksum::read(ctx.buckets, op, bucket, key, &stored, head.headers(), &dk).await?,
        Err(_) => None,
    };
    tracing::info!(
        bucket,
        key,
        "CompleteMultipartUpload retried after the upload completed: answered from the object"
    );
    super::checksum::answer_checksum(resp, checksum.as_ref(), true)
        .await
        .map(Some)
}

/// The object a Complete made (`stored`, the backend's HEAD `h`) as that Complete would have left it, had it not
/// been cut after the backend's: the layout it recorded first becomes the object's own record, and a size record
/// states the size of unaligned parts for listings. Not rewritten as one stream: the first Complete may still be
/// running.
async fn settle_layout(ctx: &ReqCtx<'_>, stored: &Envelope, h: &HeaderMap) -> Result<(), S3Error> {
    let (op, bucket, key) = (ctx.op(), ctx.bucket(), ctx.key());
    let total = content_length_of(h)?;
    let (layout, pending) = super::get::read_layout(ctx.buckets, op, bucket, key, stored, h, total).await?;
    if pending {
        record_layout(ctx, stored, header_str(h, "x-amz-version-id"), &layout).await?;
        if !layout.is_aligned() {
            record_size(ctx, &layout).await;
        }
    }
    Ok(())
}

/// The parts of one ListParts page. A part without a part number S3 could give (1..=10000) or without a size is
/// left out: its number names no part a Complete can choose (the backend refuses those itself).
fn listed_backend_parts(text: &str) -> Vec<BackendPart> {
    xml_all(text, "Part")
        .iter()
        .filter_map(|part| {
            let number = xml_text(part, "PartNumber")?
                .trim()
                .parse()
                .ok()
                .filter(|n| (1..=10_000).contains(n))?;
            let size = xml_text(part, "Size")?.trim().parse().ok()?;
            let etag = listed_etag(&xml_text(part, "ETag").unwrap_or_default());
            Some(BackendPart { number, size, etag })
        })
        .collect()
}

/// Every part uploaded so far, from the backend's ListParts.
async fn backend_parts(ctx: &ReqCtx<'_>, backend_id: &str) -> Result<Vec<BackendPart>, S3Error> {
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
        out.extend(listed_backend_parts(&text));
        match xml_text(&text, "NextPartNumberMarker").and_then(|m| m.parse().ok()) {
            Some(m) if xml_text(&text, "IsTruncated").as_deref() == Some("true") && m > marker => marker = m,
            _ => return Ok(out),
        }
    }
}

/// A completed object whose parts are not whole segments: listings could not derive its size. Rewritten as one
/// stream where the gateway can open the data key (SSE-C: only with the key, which the SDKs send on Complete when
/// the upload used it): the Complete answer then names the new ETag and version, and where the object is now
/// stored (backend ETag, version) is returned. Otherwise, or should the rewrite fail (the object stays readable as
/// it is), its size is recorded for listings.
async fn unaligned(
    ctx: &ReqCtx<'_>,
    keys: &Keys,
    upload: &Upload,
    layout: &Layout,
    resp: Response<Body>,
    stored_as: (String, Option<String>),
) -> Result<(Response<Body>, (String, Option<String>)), S3Error> {
    let Some(env) = &upload.envelope else {
        return Ok((resp, stored_as));
    };
    let rewritten = match env.mode != SseMode::C || upload.customer.is_some() {
        true => match realign(ctx, keys, env, layout, stored_as.1.as_deref()).await {
            Ok(done) => Some(done),
            Err(e) => {
                let (bucket, key) = (ctx.bucket(), ctx.key());
                tracing::warn!(bucket, key, error = %e, "realigning an unaligned multipart object failed; it stays readable, its size is recorded for listings");
                None
            }
        },
        false => None,
    };
    let Some((etag, new_version)) = rewritten else {
        record_size(ctx, layout).await;
        return Ok((resp, stored_as));
    };
    let (mut parts, body) = resp.into_parts();
    let version = new_version.as_ref().and_then(|v| v.to_str().ok()).map(str::to_owned);
    let stored_as = (etag.trim_matches('"').to_owned(), version.or(stored_as.1));
    if let Some(v) = new_version {
        parts.headers.insert("x-amz-version-id", v);
    }
    let xml = crate::body::collect_limited(body, SMALL_LIMIT)
        .await
        .map_err(|()| S3Error::internal("CompleteMultipartUpload response"))?;
    let out = replace_leaf(&xml, b"ETag", |_| Some(client_etag(&etag, true))).map_err(S3Error::internal)?;
    Ok((Response::from_parts(parts, crate::body::full(out)), stored_as))
}

/// The tags of the object Complete just made (its `version`), as PutObject's `x-amz-tagging` header.
async fn tags_of(ctx: &ReqCtx<'_>, version: Option<&str>) -> Result<HeaderValue, S3Error> {
    let (op, bucket, key) = (ctx.op(), ctx.bucket(), ctx.key());
    let q = match version {
        Some(v) => format!("tagging&versionId={}", uri_encode(v)),
        None => "tagging".to_owned(),
    };
    let uri = ctx.upstream.object_uri(bucket, key, Some(&q))?;
    let resp = ctx.upstream.call(op, Method::GET, uri, HeaderMap::new()).await?;
    if !resp.status().is_success() {
        return Err(S3Error::internal(format!(
            "reading the tags back: status {}",
            resp.status()
        )));
    }
    let xml = crate::response::read_small(resp).await?;
    let header = crate::s3::xml::tagging_header(&String::from_utf8_lossy(&xml))?;
    HeaderValue::from_str(&header).map_err(S3Error::internal)
}

/// Record the plaintext size of the multipart object `layout` describes, which listings cannot derive from its
/// stored size (docs/format.md §6.6). Best effort: without it, listings state an approximate size.
pub async fn record_size(ctx: &ReqCtx<'_>, layout: &Layout) {
    let (op, bucket, key) = (ctx.op(), ctx.bucket(), ctx.key());
    let Some(size) = layout.plaintext_total() else {
        return;
    };
    if let Err(e) = ctx.buckets.record_size(op, bucket, key, &layout.etag, size).await {
        tracing::warn!(bucket, key, error = %e, "the size of a multipart object with odd parts was not recorded: listings state it approximately");
    }
}

/// Rewrite a just-completed multipart object (its `version`, in a versioned bucket) whose parts are not whole
/// segments as one segment stream (same data key and envelope, fresh nonce prefix), so its size is derivable
/// from listings. An SSE-C object is read with the key the Complete request carries (already checked against the
/// upload's). Returns the new backend ETag and, in a versioned bucket, the new version, which replaces the
/// multipart one (deleted, with its layout): the client sees one version, as from S3. The client's parts stay in
/// the new object's layout record, under its ETag (GetObjectAttributes' `ObjectParts`, `partNumber` reads).
async fn realign(
    ctx: &ReqCtx<'_>,
    keys: &Keys,
    env: &Envelope,
    layout: &Layout,
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
    // The tags CreateMultipartUpload named stay the object's.
    if header_str(source.headers(), "x-amz-tagging-count").is_some_and(|n| n != "0") {
        headers.insert("x-amz-tagging", tags_of(ctx, version).await?);
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
    let parts = Layout {
        etag: etag.trim_matches('"').to_owned(),
        ..layout.clone()
    };
    let record = version_layout_key(key, new_version.as_ref().and_then(|v| v.to_str().ok()));
    if let Err(e) = ctx.buckets.put(op, bucket, &record, Bytes::from(parts.encode())).await {
        tracing::warn!(bucket, key, error = %e, "the realigned object's part list was not recorded: it answers no ObjectParts");
    }
    Ok((etag, new_version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::size::ciphertext_len;

    fn part(number: u32, size: u64) -> BackendPart {
        BackendPart {
            number,
            size,
            etag: "e".into(),
        }
    }

    fn stating(size: u64) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-amz-mp-object-size", HeaderValue::from(size));
        h
    }

    #[test]
    fn stated_object_sizes_are_checked_against_the_parts_plaintext() {
        let parts = [part(1, ciphertext_len(5 << 20)), part(2, ciphertext_len(7))];
        let parts: Vec<&BackendPart> = parts.iter().collect();
        assert!(check_object_size(&stating((5 << 20) + 7), Some(&parts)).is_ok());
        let e = check_object_size(&stating(5 << 20), Some(&parts)).unwrap_err();
        assert_eq!(e.code, S3ErrorCode::InvalidRequest);
        assert!(check_object_size(&HeaderMap::new(), Some(&parts)).is_ok());
    }

    #[test]
    fn listed_part_numbers_outside_s3s_range_are_left_out() {
        // 4294967297 truncated to u32 would be part 1 (its checksum record, its place in the layout).
        let xml = "<ListPartsResult><Part><PartNumber>4294967297</PartNumber><ETag>\"a\"</ETag><Size>16</Size></Part>\
                   <Part><PartNumber>0</PartNumber><ETag>\"b\"</ETag><Size>16</Size></Part>\
                   <Part><PartNumber>10001</PartNumber><ETag>\"c\"</ETag><Size>16</Size></Part>\
                   <Part><PartNumber>3</PartNumber><ETag>\"d\"</ETag><Size>x</Size></Part>\
                   <Part><PartNumber> 10000 </PartNumber><ETag>\"e\"</ETag><Size>26</Size></Part>\
                   <Part><PartNumber>1</PartNumber><ETag>\"f\"</ETag><Size>17</Size></Part></ListPartsResult>";
        let got: Vec<(u32, u64, String)> = listed_backend_parts(xml)
            .into_iter()
            .map(|p| (p.number, p.size, p.etag))
            .collect();
        assert_eq!(got, [(10_000, 26, "e".to_owned()), (1, 17, "f".to_owned())]);
    }

    #[test]
    fn parts_adding_up_past_u64_match_no_stated_size() {
        // Two parts a backend lists as near u64::MAX each: their plaintext wraps to 2p - 2^64 unchecked, which a
        // client could state; checked, no stated size matches.
        let c = u64::MAX - 1;
        let p = crate::crypto::size::plaintext_len(c).expect("a valid stream size");
        let parts = [part(1, c), part(2, c)];
        let parts: Vec<&BackendPart> = parts.iter().collect();
        let wrapped = p.wrapping_add(p);
        let e = check_object_size(&stating(wrapped), Some(&parts)).unwrap_err();
        assert_eq!(e.code, S3ErrorCode::InvalidRequest);
        assert!(e.message.contains("(over 18446744073709551615)"), "{}", e.message);
    }
}
