//! GetObject and HeadObject: find the envelope in the backend's response, open the data key, and decrypt only
//! the segments the client's range needs; sizes, `Content-Range` and the ETag are restored to the client's view.
//! Objects without an envelope (written before the gateway) are served as they are.
//!
//! Conditional headers compare client-visible ETags, so the gateway evaluates them itself after a HEAD.

use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use http_body_util::BodyExt;

use std::sync::Arc;

use http::Uri;

use super::ReqCtx;
use crate::backend::upstream::Upstream;
use crate::body::transform::TransformBody;
use crate::body::{Body, empty};
use crate::bucket_state::BucketState;
use crate::crypto::envelope::{Envelope, SseMode};
use crate::crypto::size::{ReadPlan, ciphertext_range, plaintext_len, plaintext_total, plan_read};
use crate::crypto::stream::{ChainOpener, StreamOpener};
use crate::error::{S3Error, S3ErrorCode};
use crate::metrics::Metrics;
use crate::response::pass_through;
use crate::s3::headers::X_AMZ_VERSION_ID;
use crate::s3::operation::Operation;
use crate::s3::range::{self, ByteRange};
use crate::s3::request::{header_str, parse_part_number, remove_query_param};
use crate::sse::request::{self as sse, CustomerKey};
use crate::sse::{Keys, add_sse_headers, client_etag, multipart, open_data_key, strip_backend_only};

/// Where GetObject and HeadObject read from: the object's backend URI (with its version), and the bucket's
/// records (a multipart object's part layout). Copies read their source through the same path.
pub struct ObjectRead<'a> {
    pub upstream: &'a Upstream,
    /// The reader came without credentials: it may not open SSE-KMS objects (the KMS acts for an identity).
    pub anonymous: bool,
    pub buckets: &'a BucketState,
    pub metrics: &'a Arc<Metrics>,
    pub op: Operation,
    pub uri: Uri,
    pub bucket: &'a str,
}

impl ObjectRead<'_> {
    fn check_identity(&self, env: &Envelope) -> Result<(), S3Error> {
        if self.anonymous && env.mode == SseMode::Kms {
            return Err(crate::sse::request::kms_needs_identity());
        }
        Ok(())
    }

    async fn fetch(&self, method: Method, headers: HeaderMap) -> Result<Response<Body>, S3Error> {
        self.upstream.call(self.op, method, self.uri.clone(), headers).await
    }
}

/// GetObject / HeadObject. partNumber is resolved by the gateway (part layout); the backend gets a byte range.
pub async fn get_object(ctx: ReqCtx<'_>, keys: &Keys) -> Result<Response<Body>, S3Error> {
    let query = remove_query_param(ctx.req.raw_query(), "partNumber");
    let read = ObjectRead {
        upstream: ctx.upstream,
        anonymous: ctx.anonymous(),
        buckets: ctx.buckets,
        metrics: ctx.metrics,
        op: ctx.op(),
        uri: ctx.uri_with_query(&query)?,
        bucket: ctx.bucket(),
    };
    read_object(keys, &read, &ctx.req.parts, ctx.key(), ctx.forwarded_headers()).await
}

/// Plan a read of the client's `range` across `parts` (part number, ciphertext size).
fn plan(parts: &[(u32, u64)], range: Option<ByteRange>) -> Result<ReadPlan, S3Error> {
    let total =
        plaintext_total(parts).ok_or_else(|| S3Error::internal("a part's ciphertext length fits no plaintext"))?;
    let resolved = range
        .map(|r| range::resolve(r, total).map_err(|()| invalid_range()))
        .transpose()?;
    plan_read(parts, resolved).map_err(|e| S3Error::internal(e.to_string()))
}

/// The parts of an encrypted object: `[(0, C)]` for one PUT, else the recorded layout (checked against the ETag).
async fn object_parts(
    gw: &ObjectRead<'_>,
    env: &crate::crypto::envelope::Envelope,
    h: &HeaderMap,
    key: &str,
    cipher_total: u64,
) -> Result<Vec<(u32, u64)>, S3Error> {
    if !env.multipart {
        return Ok(vec![(0, cipher_total)]);
    }
    let (layout, _) = read_layout(gw.buckets, gw.op, gw.bucket, key, env, h, cipher_total).await?;
    Ok(layout
        .part_numbers
        .iter()
        .copied()
        .zip(layout.part_sizes.iter().copied())
        .collect())
}

/// The part layout of the multipart object `h` describes (the backend's answer to a HEAD or GET of `key`, whose
/// envelope is `env`, `cipher_total` bytes stored): the record of the version served, or for an object completed
/// before versions had their own (or in a bucket without versions) the key's, used only if it names the object's
/// ETag and size. Failing that, the record its Complete wrote before completing (found by the upload's sealed data
/// key; docs/format.md §6.3), for an object whose Complete was cut before its own record was written: then the
/// `bool` is `true`.
pub async fn read_layout(
    buckets: &BucketState,
    op: Operation,
    bucket: &str,
    key: &str,
    env: &Envelope,
    h: &HeaderMap,
    cipher_total: u64,
) -> Result<(multipart::Layout, bool), S3Error> {
    let etag = header_str(h, "etag").unwrap_or("").trim_matches('"');
    let fits = |l: &multipart::Layout| l.cipher_total() == Some(cipher_total);
    let own = find_layout(buckets, op, bucket, key, header_str(h, X_AMZ_VERSION_ID)).await?;
    let own = own.as_deref().and_then(decode_layout);
    if let Some(layout) = own.as_ref().filter(|l| l.etag == etag && fits(l)) {
        return Ok((layout.clone(), false));
    }
    let pending = multipart::pending_layout_key(&env.sealed_key.0);
    let pending = buckets.get(op, bucket, &pending).await?;
    match (pending.as_deref().and_then(decode_layout), own) {
        (Some(layout), _) if fits(&layout) => {
            let etag = etag.to_owned();
            Ok((multipart::Layout { etag, ..layout }, true))
        }
        (_, None) => Err(S3Error::internal(format!(
            "multipart object {key}: part layout missing"
        ))),
        (_, Some(_)) => Err(S3Error::internal(format!(
            "multipart object {key}: part layout is stale"
        ))),
    }
}

fn decode_layout(text: &[u8]) -> Option<multipart::Layout> {
    std::str::from_utf8(text).ok().and_then(multipart::Layout::decode)
}

/// The layout record of `key`'s version `version` (the backend's `x-amz-version-id`): the version's own, or for an
/// object completed before versions had their own (or in a bucket without versions), the key's.
async fn find_layout(
    buckets: &BucketState,
    op: Operation,
    bucket: &str,
    key: &str,
    version: Option<&str>,
) -> Result<Option<bytes::Bytes>, S3Error> {
    let own = multipart::version_layout_key(key, version);
    let mut text = buckets.get(op, bucket, &own).await?;
    if text.is_none() && own != multipart::layout_key(key) {
        text = buckets.get(op, bucket, &multipart::layout_key(key)).await?;
    }
    Ok(text)
}

/// The client's parts of an encrypted object as (part number, plaintext size), for `partNumber` reads and
/// GetObjectAttributes' `ObjectParts`: a multipart envelope's layout, or the parts an object rewritten at Complete
/// keeps in its layout record (its envelope is one stream; docs/format.md §6.3). `None`: written in one piece (or
/// its record is gone, or belongs to an object since replaced: a record is used only if its ETag is the object's
/// and its parts add up to the object's size).
pub async fn client_parts(
    buckets: &BucketState,
    op: Operation,
    bucket: &str,
    key: &str,
    env: &Envelope,
    h: &HeaderMap,
) -> Result<Option<Vec<(u32, u64)>>, S3Error> {
    let cipher_total = content_length(h).ok_or_else(|| S3Error::internal("backend HEAD without a Content-Length"))?;
    let etag = header_str(h, "etag").unwrap_or("").trim_matches('"');
    let version = header_str(h, X_AMZ_VERSION_ID);
    if env.multipart {
        let (layout, _) = read_layout(buckets, op, bucket, key, env, h, cipher_total).await?;
        let sizes = layout
            .plaintext_sizes()
            .ok_or_else(|| S3Error::internal("a part's ciphertext length fits no plaintext"))?;
        return Ok(Some(layout.part_numbers.into_iter().zip(sizes).collect()));
    }
    let Some(text) = find_layout(buckets, op, bucket, key, version).await? else {
        return Ok(None);
    };
    let Some(layout) = decode_layout(&text) else {
        return Ok(None);
    };
    let (Some(sizes), Some(total)) = (layout.plaintext_sizes(), plaintext_len(cipher_total)) else {
        return Ok(None);
    };
    Ok(
        (layout.etag == etag && multipart::checked_sum(sizes.iter().copied()) == Some(total))
            .then(|| layout.part_numbers.into_iter().zip(sizes).collect()),
    )
}

const CONDITIONALS: [&str; 4] = ["if-match", "if-none-match", "if-modified-since", "if-unmodified-since"];

/// `Content-Range: bytes a-b/total` → (a, b, total).
fn content_range(h: &HeaderMap) -> Option<(u64, u64, u64)> {
    let v = header_str(h, "content-range")?.strip_prefix("bytes ")?;
    let (r, total) = v.split_once('/')?;
    let (a, b) = r.split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?, total.parse().ok()?))
}

fn content_length(h: &HeaderMap) -> Option<u64> {
    header_str(h, "content-length")?.parse().ok()
}

fn etag_matches(list: &str, etag: &str) -> bool {
    let etag = etag.trim_matches('"');
    list.split(',')
        .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
        .any(|t| t == "*" || t == etag)
}

fn http_date(h: &HeaderMap, name: &str) -> Option<std::time::SystemTime> {
    header_str(h, name).and_then(httpdate_parse)
}

fn httpdate_parse(s: &str) -> Option<std::time::SystemTime> {
    let fmt = time::format_description::well_known::Rfc2822;
    time::OffsetDateTime::parse(&s.replace("GMT", "+0000"), &fmt)
        .ok()
        .map(Into::into)
}

/// RFC 7232 order, as S3 applies it: `Err(412 | 304)` when a condition stops the request.
fn check_conditions(
    req: &HeaderMap,
    etag: &str,
    last_modified: Option<std::time::SystemTime>,
) -> Result<(), StatusCode> {
    if let Some(m) = header_str(req, "if-match") {
        if !etag_matches(m, etag) {
            return Err(StatusCode::PRECONDITION_FAILED);
        }
    } else if let (Some(t), Some(lm)) = (http_date(req, "if-unmodified-since"), last_modified)
        && lm > t
    {
        return Err(StatusCode::PRECONDITION_FAILED);
    }
    if let Some(m) = header_str(req, "if-none-match") {
        if etag_matches(m, etag) {
            return Err(StatusCode::NOT_MODIFIED);
        }
    } else if let (Some(t), Some(lm)) = (http_date(req, "if-modified-since"), last_modified)
        && lm <= t
    {
        return Err(StatusCode::NOT_MODIFIED);
    }
    Ok(())
}

fn visible_etag(h: &HeaderMap, encrypted: bool) -> String {
    client_etag(header_str(h, "etag").unwrap_or(""), encrypted)
}

/// What a GetObject or HeadObject asks for, read from its head.
struct ReadRequest {
    is_head: bool,
    customer: Option<CustomerKey>,
    /// The client's range; for `partNumber`, the part's plaintext bytes once the HEAD has located them.
    range: Option<ByteRange>,
    part_number: Option<u32>,
    /// The object's number of parts, once the HEAD has read the layout (asked with `partNumber`).
    parts_count: Option<usize>,
    conditional: bool,
    /// `x-amz-checksum-mode: ENABLED`: the stored checksum is answered for a whole-object read.
    checksum_mode: bool,
}

impl ReadRequest {
    fn of(parts: &Parts) -> Result<Self, S3Error> {
        let is_head = parts.method == Method::HEAD;
        let customer = sse::customer_for_read(&parts.headers)?;
        let range = if is_head {
            None
        } else {
            header_str(&parts.headers, "range").and_then(range::parse)
        };
        let query = crate::auth::query_params(parts);
        let part_number = parse_part_number(query.iter().find(|(k, _)| k == "partNumber").map(|(_, v)| v.as_str()))?;
        let conditional = CONDITIONALS.iter().any(|h| parts.headers.contains_key(*h));
        Ok(Self {
            is_head,
            customer,
            range,
            part_number,
            parts_count: None,
            conditional,
            checksum_mode: crate::sse::checksum::wanted(&parts.headers),
        })
    }

    /// S3 answers the stored checksum only when asked, and only for the whole object.
    fn answers_checksum(&self) -> bool {
        self.checksum_mode && self.range.is_none() && self.part_number.is_none()
    }

    /// A HEAD first when the answer depends on the object's size or client ETag before the data is fetched.
    fn needs_head(&self) -> bool {
        self.is_head
            || self.conditional
            || self.part_number.is_some()
            || matches!(self.range, Some(ByteRange::Suffix(_)))
    }
}

/// What the HEAD before the data told.
#[derive(Default)]
struct Known {
    /// The object is stored in plaintext (written before the gateway).
    plain: Option<bool>,
    /// Its plaintext size.
    size: Option<u64>,
}

/// The HEAD's outcome: the answer itself (HEAD, a condition, an error), or what the GET needs to know.
enum HeadFirst {
    Answered(Response<Body>),
    Known(Known),
}

/// Read `key` as `parts` asks (method, SSE-C key, Range, partNumber, conditionals), decrypted.
pub async fn read_object(
    keys: &Keys,
    gw: &ObjectRead<'_>,
    parts: &Parts,
    key: &str,
    base_headers: HeaderMap,
) -> Result<Response<Body>, S3Error> {
    let mut want = ReadRequest::of(parts)?;
    let mut headers = base_headers;
    for h in CONDITIONALS.iter().chain(&["range"]) {
        headers.remove(*h);
    }
    let known = if want.needs_head() {
        match head_first(keys, gw, parts, key, &headers, &mut want).await? {
            HeadFirst::Answered(r) => return Ok(r),
            HeadFirst::Known(k) => k,
        }
    } else {
        Known::default()
    };

    let range_header = backend_range(&want, &known, parts)?;
    let mut req_headers = headers.clone();
    if let Some(r) = &range_header {
        req_headers.insert("range", HeaderValue::from_str(r).expect("ASCII"));
    }
    let resp = gw.fetch(Method::GET, req_headers).await?;
    if resp.status() == StatusCode::RANGE_NOT_SATISFIABLE && known.plain != Some(true) {
        // The translated range starts past the ciphertext, so the client's range starts past the plaintext.
        return Err(invalid_range());
    }
    if !resp.status().is_success() {
        return Ok(pass_through(resp));
    }
    let Some(env) = keys.envelope_for_read(resp.headers(), gw.bucket, key)? else {
        if want.customer.is_some() {
            return Err(S3Error::not_applicable_to_object());
        }
        if range_header.is_some() && known.plain != Some(true) {
            // A plaintext object fetched with a translated range: fetch what the client asked for.
            let mut h = headers;
            if let Some(r) = header_str(&parts.headers, "range") {
                h.insert("range", HeaderValue::from_str(r).expect("was a header"));
            }
            return Ok(pass_through(gw.fetch(Method::GET, h).await?));
        }
        return Ok(pass_through(resp));
    };
    open_stream(keys, gw, key, &want, env, resp, headers).await
}

/// The HEAD before the data: conditions, the part a `partNumber` names, and HeadObject's whole answer.
async fn head_first(
    keys: &Keys,
    gw: &ObjectRead<'_>,
    parts: &Parts,
    key: &str,
    headers: &HeaderMap,
    want: &mut ReadRequest,
) -> Result<HeadFirst, S3Error> {
    let head = gw.fetch(Method::HEAD, headers.clone()).await?;
    if !head.status().is_success() {
        if !want.is_head {
            // A HEAD's error has no body; a GET's carries S3's code (NoSuchKey, NoSuchVersion, …): ask the
            // backend the client's own question. (Should the object have appeared in between, its bytes are not
            // passed on: the HEAD's answer stands.)
            let get = gw.fetch(Method::GET, headers.clone()).await?;
            if !get.status().is_success() {
                return Ok(HeadFirst::Answered(pass_through(get)));
            }
        }
        return Ok(HeadFirst::Answered(pass_through(head)));
    }
    let env = keys.envelope_for_read(head.headers(), gw.bucket, key)?;
    let lm = http_date(head.headers(), "last-modified");
    if let Err(status) = check_conditions(&parts.headers, &visible_etag(head.headers(), env.is_some()), lm) {
        return Ok(HeadFirst::Answered(condition_response(
            status,
            head.headers(),
            env.is_some(),
        )));
    }
    // partNumber: the part's plaintext bytes, located with the part layout.
    if let Some(n) = want.part_number {
        let (range, count) = match (&env, content_length(head.headers())) {
            (Some(e), Some(c)) => {
                let sizes: Vec<u64> = match client_parts(gw.buckets, gw.op, gw.bucket, key, e, head.headers()).await? {
                    Some(parts) => parts.into_iter().map(|(_, s)| s).collect(),
                    None => plaintext_len(c).into_iter().collect(),
                };
                let idx = n as usize - 1;
                if idx >= sizes.len() {
                    return Err(invalid_part_number());
                }
                let start: u64 = sizes[..idx].iter().sum();
                (Some((start, start + sizes[idx])), sizes.len())
            }
            // One part: the whole object.
            _ if n == 1 => (None, 1),
            _ => return Err(invalid_part_number()),
        };
        want.parts_count = Some(count);
        want.range = range.filter(|(a, b)| b > a).map(|(a, b)| ByteRange::From {
            start: a,
            end: Some(b - 1),
        });
    }
    if want.is_head {
        let mut r = head_response(keys, gw, head, key, want).await?;
        if let (Some(count), Some(ByteRange::From { start, end: Some(end) })) = (want.parts_count, want.range) {
            let total = content_length(r.headers()).unwrap_or(0);
            let h = r.headers_mut();
            h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(end - start + 1));
            h.insert(
                http::header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes {start}-{end}/{total}")).expect("ASCII"),
            );
            h.insert("x-amz-mp-parts-count", HeaderValue::from(count));
            *r.status_mut() = StatusCode::PARTIAL_CONTENT;
        } else if let Some(count) = want.parts_count {
            r.headers_mut().insert("x-amz-mp-parts-count", HeaderValue::from(count));
        }
        return Ok(HeadFirst::Answered(r));
    }
    Ok(HeadFirst::Known(Known {
        plain: Some(env.is_none()),
        size: content_length(head.headers()).and_then(|c| if env.is_some() { plaintext_len(c) } else { Some(c) }),
    }))
}

/// The backend `Range` of the GET: whole segments (or, for a plaintext object, exactly what the client asked).
fn backend_range(want: &ReadRequest, known: &Known, parts: &Parts) -> Result<Option<String>, S3Error> {
    Ok(match (want.range, known.plain) {
        (None, _) => None,
        (Some(r), Some(true)) => header_str(&parts.headers, "range")
            .map(str::to_owned)
            .filter(|_| r != ByteRange::Suffix(0)),
        (Some(ByteRange::From { start, end }), _) => Some(ciphertext_range(start, end)),
        (Some(ByteRange::Suffix(n)), _) => match known.size.map(|p| range::resolve(ByteRange::Suffix(n), p)) {
            Some(Ok((s, e))) => Some(ciphertext_range(s, Some(e))),
            _ => return Err(invalid_range()),
        },
    })
}

/// An encrypted object's GET: open the data key, plan the read over its parts (fetching other bytes if the
/// speculative range missed them), and answer with the decrypting body.
async fn open_stream(
    keys: &Keys,
    gw: &ObjectRead<'_>,
    key: &str,
    want: &ReadRequest,
    env: Envelope,
    resp: Response<Body>,
    headers: HeaderMap,
) -> Result<Response<Body>, S3Error> {
    let bucket = gw.bucket;
    let cipher_total = match resp.status() {
        StatusCode::PARTIAL_CONTENT => content_range(resp.headers()).map(|(_, _, t)| t),
        _ => content_length(resp.headers()),
    }
    .ok_or_else(|| S3Error::internal("backend response without a usable length"))?;
    let (got_start, got_end) = match content_range(resp.headers()) {
        Some((a, b, _)) => (a, b),
        None => (0, cipher_total.saturating_sub(1)),
    };
    gw.check_identity(&env)?;
    let data_key = open_data_key(keys, &env, want.customer.as_ref(), bucket, key).await?;
    let stored_checksum = match want.answers_checksum() {
        true => super::checksum::read(gw.buckets, gw.op, bucket, key, &env, resp.headers(), &data_key).await?,
        false => None,
    };
    let parts_layout = object_parts(gw, &env, resp.headers(), key, cipher_total).await?;
    let plan = plan(&parts_layout, want.range)?;
    // The speculative fetch assumed one stream; a multipart range may need other bytes (start or end).
    let resp = if plan.cipher_start != got_start || got_end < plan.cipher_end {
        let mut h = headers;
        let r = format!("bytes={}-{}", plan.cipher_start, plan.cipher_end);
        h.insert("range", HeaderValue::from_str(&r).expect("ASCII"));
        let again = gw.fetch(Method::GET, h).await?;
        if !again.status().is_success() {
            return Ok(pass_through(again));
        }
        again
    } else {
        resp
    };
    let mut openers = Vec::with_capacity(plan.parts.len());
    for r in &plan.parts {
        let o = StreamOpener::new(
            &data_key,
            env.nonce_prefix,
            r.part,
            r.cipher_total,
            r.first,
            r.last,
            r.skip,
            r.take,
        )
        .map_err(|e| S3Error::internal(format!("{bucket}/{key}: {e}")))?;
        openers.push((o, r.feed));
    }
    drop(data_key);
    let take: u64 = plan.parts.iter().map(|r| r.take).sum();

    let (mut rparts, rbody) = resp.into_parts();
    restate_object_headers(&mut rparts.headers, take);
    let h = &mut rparts.headers;
    match plan.range {
        Some((start, end)) => {
            rparts.status = StatusCode::PARTIAL_CONTENT;
            let v = format!("bytes {start}-{end}/{}", plan.plain_total);
            h.insert(http::header::CONTENT_RANGE, HeaderValue::from_str(&v).expect("ASCII"));
        }
        None => {
            rparts.status = StatusCode::OK;
            h.remove(http::header::CONTENT_RANGE);
        }
    }
    add_sse_headers(h, &env, want.customer.as_ref());
    if let Some(count) = want.parts_count {
        h.insert("x-amz-mp-parts-count", HeaderValue::from(count));
    }
    if let Some(c) = stored_checksum {
        c.add_headers(h);
    }
    // The head waits for the first segment: a first segment that fails authentication (or a backend that fails
    // before it) is still a 500, not a 200 cut short; so is a later segment that came in the same backend read.
    // Failures after the head is sent cut the connection.
    let body = TransformBody::new(
        rbody.map_err(Into::into).boxed(),
        ChainOpener::new(openers),
        Some(take),
        Box::new(gw.metrics.stream_meter(env.mode.label(), false)),
    )
    .first_output()
    .await
    .map_err(|e| S3Error::internal(format!("{bucket}/{key}: first segment: {e}")))?;
    Ok(Response::from_parts(rparts, crate::body::boxed(body)))
}

async fn head_response(
    keys: &Keys,
    gw: &ObjectRead<'_>,
    head: Response<Body>,
    key: &str,
    want: &ReadRequest,
) -> Result<Response<Body>, S3Error> {
    let customer = want.customer.as_ref();
    let (mut rparts, _) = head.into_parts();
    let Some(env) = keys.envelope_for_read(&rparts.headers, gw.bucket, key)? else {
        if customer.is_some() {
            return Err(S3Error::not_applicable_to_object());
        }
        return Ok(Response::from_parts(rparts, empty()));
    };
    // HEAD checks the SSE-C key exactly as GET does.
    gw.check_identity(&env)?;
    let data_key = open_data_key(keys, &env, customer, gw.bucket, key).await?;
    let stored_checksum = match want.answers_checksum() {
        true => super::checksum::read(gw.buckets, gw.op, gw.bucket, key, &env, &rparts.headers, &data_key).await?,
        false => None,
    };
    drop(data_key);
    let c = content_length(&rparts.headers).unwrap_or(0);
    let p = plan(&object_parts(gw, &env, &rparts.headers, key, c).await?, None)?.plain_total;
    restate_object_headers(&mut rparts.headers, p);
    add_sse_headers(&mut rparts.headers, &env, customer);
    if let Some(c) = stored_checksum {
        c.add_headers(&mut rparts.headers);
    }
    Ok(Response::from_parts(rparts, empty()))
}

/// An encrypted object's backend headers in the client's terms: client ETag, plaintext length, nothing only the
/// backend should see.
fn restate_object_headers(h: &mut HeaderMap, plain_len: u64) {
    let etag = visible_etag(h, true);
    strip_backend_only(h);
    h.insert(
        http::header::ETAG,
        HeaderValue::from_str(&etag).expect("ETag from a header"),
    );
    h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(plain_len));
}

fn condition_response(status: StatusCode, h: &HeaderMap, encrypted: bool) -> Response<Body> {
    if status == StatusCode::PRECONDITION_FAILED {
        let mut r = S3Error::precondition_failed().to_response("", "", false);
        r.headers_mut().remove("x-amz-request-id");
        return r;
    }
    let mut r = Response::new(empty());
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(&visible_etag(h, encrypted)) {
        r.headers_mut().insert(http::header::ETAG, v);
    }
    if let Some(lm) = h.get("last-modified") {
        r.headers_mut().insert("last-modified", lm.clone());
    }
    r
}

fn invalid_part_number() -> S3Error {
    S3Error::new(
        S3ErrorCode::InvalidPartNumber,
        "The requested partnumber is not satisfiable",
    )
}

fn invalid_range() -> S3Error {
    S3Error::standard(S3ErrorCode::InvalidRange)
}
