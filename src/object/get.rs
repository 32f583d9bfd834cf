//! GetObject and HeadObject: find the envelope in the backend's response, open the data key, and decrypt only
//! the segments the client's range needs; sizes, `Content-Range` and the ETag are restored to the client's view.
//! Objects without an envelope (written before the gateway) are served as they are.
//!
//! Conditional headers compare client-visible ETags, so the gateway evaluates them itself after a HEAD.

use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::{Keys, add_sse_headers, client_etag, envelope_of, multipart, open_data_key, strip_backend_only};
use crate::body::transform::TransformBody;
use crate::body::{Body, empty};
use crate::crypto::size::{plaintext_len, span};
use crate::crypto::stream::{ChainOpener, StreamOpener};
use crate::crypto::{SEGMENT_SIZE, TAG_SIZE};
use crate::error::{S3Error, S3ErrorCode};
use crate::s3::range::{self, ByteRange};
use crate::s3::sse::{self, SseRequest};

/// What the handlers need from the gateway: bodiless requests to the object, and small gateway objects.
pub trait Fetch {
    fn fetch(
        &self,
        method: Method,
        headers: HeaderMap,
    ) -> impl std::future::Future<Output = Result<Response<Incoming>, S3Error>> + Send;
    /// GET a small object of the gateway's own (same bucket); `None` if it does not exist.
    fn fetch_small(&self, key: &str)
    -> impl std::future::Future<Output = Result<Option<bytes::Bytes>, S3Error>> + Send;
}

/// One part stream to read: its part number (0 = single PUT), ciphertext size, and what to take from it.
struct PartRead {
    part: u32,
    cipher_total: u64,
    first: u64,
    last: u64,
    skip: u64,
    take: u64,
    /// Ciphertext bytes of this part that the read consumes.
    feed: u64,
}

struct ReadPlan {
    plain_total: u64,
    /// Plaintext range served (inclusive); `None` for the whole object.
    range: Option<(u64, u64)>,
    cipher_start: u64,
    cipher_end: u64,
    parts: Vec<PartRead>,
}

/// Plan a read of plaintext `range` across `parts` (part number, ciphertext size).
fn plan(parts: &[(u32, u64)], range: Option<ByteRange>) -> Result<ReadPlan, S3Error> {
    let mut sizes = Vec::with_capacity(parts.len());
    for &(_, c) in parts {
        sizes.push(
            plaintext_len(c).ok_or_else(|| S3Error::internal(format!("ciphertext length {c} fits no plaintext")))?,
        );
    }
    let total: u64 = sizes.iter().sum();
    let (start, end) = match range {
        Some(r) => range::resolve(r, total).map_err(|()| invalid_range())?,
        None if total == 0 => (0, 0),
        None => (0, total - 1),
    };
    let whole = range.is_none();
    let (mut plain_off, mut cipher_off) = (0u64, 0u64);
    let mut reads = Vec::new();
    let (mut cipher_start, mut cipher_end) = (None, 0);
    for (&(part, c), &p) in parts.iter().zip(&sizes) {
        let overlaps = p > 0 && start < plain_off + p && end >= plain_off;
        if whole && p == 0 {
            cipher_start.get_or_insert(cipher_off);
            cipher_end = cipher_off + c - 1;
            reads.push(PartRead {
                part,
                cipher_total: c,
                first: 0,
                last: 0,
                skip: 0,
                take: 0,
                feed: c,
            });
        } else if overlaps {
            let (ls, le) = (start.max(plain_off) - plain_off, end.min(plain_off + p - 1) - plain_off);
            let sp = span(ls, le, p);
            cipher_start.get_or_insert(cipher_off + sp.cipher_start);
            cipher_end = cipher_off + sp.cipher_end;
            let feed = sp.cipher_end - sp.cipher_start + 1;
            reads.push(PartRead {
                part,
                cipher_total: c,
                first: sp.first,
                last: sp.last,
                skip: sp.skip,
                take: sp.take,
                feed,
            });
        }
        plain_off += p;
        cipher_off += c;
    }
    Ok(ReadPlan {
        plain_total: total,
        range: (!whole).then_some((start, end)),
        cipher_start: cipher_start.unwrap_or(0),
        cipher_end,
        parts: reads,
    })
}

/// The parts of an encrypted object: `[(0, C)]` for one PUT, else the recorded layout (checked against the ETag).
async fn object_parts(
    gw: &impl Fetch,
    env: &crate::crypto::envelope::Envelope,
    h: &HeaderMap,
    key: &str,
    cipher_total: u64,
) -> Result<Vec<(u32, u64)>, S3Error> {
    if !env.multipart {
        return Ok(vec![(0, cipher_total)]);
    }
    let etag = header(h, "etag").unwrap_or("").trim_matches('"');
    let text = gw
        .fetch_small(&multipart::layout_key(key))
        .await?
        .ok_or_else(|| S3Error::internal(format!("multipart object {key}: part layout missing")))?;
    let layout = std::str::from_utf8(&text)
        .ok()
        .and_then(multipart::Layout::decode)
        .ok_or_else(|| S3Error::internal(format!("multipart object {key}: part layout malformed")))?;
    if layout.etag != etag || layout.part_sizes.iter().sum::<u64>() != cipher_total {
        return Err(S3Error::internal(format!(
            "multipart object {key}: part layout is stale"
        )));
    }
    Ok(layout
        .part_numbers
        .iter()
        .copied()
        .zip(layout.part_sizes.iter().copied())
        .collect())
}

const CONDITIONALS: [&str; 4] = ["if-match", "if-none-match", "if-modified-since", "if-unmodified-since"];

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// `Content-Range: bytes a-b/total` → (a, b, total).
fn content_range(h: &HeaderMap) -> Option<(u64, u64, u64)> {
    let v = header(h, "content-range")?.strip_prefix("bytes ")?;
    let (r, total) = v.split_once('/')?;
    let (a, b) = r.split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?, total.parse().ok()?))
}

fn content_length(h: &HeaderMap) -> Option<u64> {
    header(h, "content-length")?.parse().ok()
}

/// The whole segments holding plaintext `start..=end` (end open = to the end), as a backend `Range`.
fn ciphertext_range(start: u64, end: Option<u64>) -> String {
    let first = start / SEGMENT_SIZE * (SEGMENT_SIZE + TAG_SIZE);
    match end {
        Some(e) => format!(
            "bytes={first}-{}",
            (e / SEGMENT_SIZE + 1) * (SEGMENT_SIZE + TAG_SIZE) - 1
        ),
        None => format!("bytes={first}-"),
    }
}

fn etag_matches(list: &str, etag: &str) -> bool {
    let etag = etag.trim_matches('"');
    list.split(',')
        .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
        .any(|t| t == "*" || t == etag)
}

fn http_date(h: &HeaderMap, name: &str) -> Option<std::time::SystemTime> {
    header(h, name).and_then(httpdate_parse)
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
    if let Some(m) = header(req, "if-match") {
        if !etag_matches(m, etag) {
            return Err(StatusCode::PRECONDITION_FAILED);
        }
    } else if let (Some(t), Some(lm)) = (http_date(req, "if-unmodified-since"), last_modified)
        && lm > t
    {
        return Err(StatusCode::PRECONDITION_FAILED);
    }
    if let Some(m) = header(req, "if-none-match") {
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
    client_etag(header(h, "etag").unwrap_or(""), encrypted)
}

/// GetObject / HeadObject.
pub async fn get_object(
    keys: &Keys,
    gw: &impl Fetch,
    parts: &Parts,
    bucket: &str,
    key: &str,
    base_headers: HeaderMap,
    metrics: &std::sync::Arc<crate::metrics::Metrics>,
) -> Result<Response<Body>, S3Error> {
    let is_head = parts.method == Method::HEAD;
    let customer = match sse::parse(&parts.headers)? {
        SseRequest::Unspecified => None,
        SseRequest::Customer(c) => Some(c),
        _ => {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                "x-amz-server-side-encryption header is not supported for this operation.",
            ));
        }
    };
    let mut client_range = if is_head {
        None
    } else {
        header(&parts.headers, "range").and_then(range::parse)
    };
    let part_number: Option<u32> = crate::auth::query_params(parts)
        .iter()
        .find(|(k, _)| k == "partNumber")
        .map(|(_, v)| v.parse().ok().filter(|n| (1..=10_000).contains(n)))
        .map(|n| {
            n.ok_or_else(|| {
                S3Error::new(
                    S3ErrorCode::InvalidArgument,
                    "Part number must be an integer between 1 and 10000, inclusive",
                )
            })
        })
        .transpose()?;
    let mut parts_count: Option<usize> = None;
    let mut headers = base_headers;
    for h in CONDITIONALS.iter().chain(&["range"]) {
        headers.remove(*h);
    }
    let conditional = CONDITIONALS.iter().any(|h| parts.headers.contains_key(*h));

    // A HEAD first when the answer depends on the object's size or client ETag before the data is fetched.
    let mut known_plain: Option<bool> = None;
    let mut known_size: Option<u64> = None;
    if is_head || conditional || part_number.is_some() || matches!(client_range, Some(ByteRange::Suffix(_))) {
        let head = gw.fetch(Method::HEAD, headers.clone()).await?;
        if !head.status().is_success() {
            return Ok(pass_through(head));
        }
        let env = envelope_of(head.headers())?;
        let lm = http_date(head.headers(), "last-modified");
        if let Err(status) = check_conditions(&parts.headers, &visible_etag(head.headers(), env.is_some()), lm) {
            return Ok(condition_response(status, head.headers(), env.is_some()));
        }
        // partNumber: the part's plaintext bytes, located with the part layout.
        if let Some(n) = part_number {
            let (range, count) = match (&env, content_length(head.headers())) {
                (Some(e), Some(c)) => {
                    let layout = object_parts(gw, e, head.headers(), key, c).await?;
                    let sizes: Vec<u64> = layout.iter().filter_map(|&(_, c)| plaintext_len(c)).collect();
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
            parts_count = Some(count);
            client_range = range.filter(|(a, b)| b > a).map(|(a, b)| ByteRange::From {
                start: a,
                end: Some(b - 1),
            });
        }
        if is_head {
            let mut r = head_response(keys, gw, head, bucket, key, customer.as_ref()).await?;
            if let (Some(count), Some(ByteRange::From { start, end: Some(end) })) = (parts_count, client_range) {
                let total = content_length(r.headers()).unwrap_or(0);
                let h = r.headers_mut();
                h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(end - start + 1));
                h.insert(
                    http::header::CONTENT_RANGE,
                    HeaderValue::from_str(&format!("bytes {start}-{end}/{total}")).expect("ASCII"),
                );
                h.insert("x-amz-mp-parts-count", HeaderValue::from(count));
                *r.status_mut() = StatusCode::PARTIAL_CONTENT;
            } else if let Some(count) = parts_count {
                r.headers_mut().insert("x-amz-mp-parts-count", HeaderValue::from(count));
            }
            return Ok(r);
        }
        known_plain = Some(env.is_none());
        known_size =
            content_length(head.headers()).and_then(|c| if env.is_some() { plaintext_len(c) } else { Some(c) });
    }

    // Ask the backend for whole segments (or, for a plaintext object, exactly what the client asked).
    let range_header = match (client_range, known_plain) {
        (None, _) => None,
        (Some(r), Some(true)) => header(&parts.headers, "range")
            .map(str::to_owned)
            .filter(|_| r != ByteRange::Suffix(0)),
        (Some(ByteRange::From { start, end }), _) => Some(ciphertext_range(start, end)),
        (Some(ByteRange::Suffix(n)), _) => match known_size.map(|p| range::resolve(ByteRange::Suffix(n), p)) {
            Some(Ok((s, e))) => Some(ciphertext_range(s, Some(e))),
            _ => return Err(invalid_range()),
        },
    };
    let mut req_headers = headers.clone();
    if let Some(r) = &range_header {
        req_headers.insert("range", HeaderValue::from_str(r).expect("ASCII"));
    }
    let resp = gw.fetch(Method::GET, req_headers).await?;
    if resp.status() == StatusCode::RANGE_NOT_SATISFIABLE && known_plain != Some(true) {
        // The translated range starts past the ciphertext, so the client's range starts past the plaintext.
        return Err(invalid_range());
    }
    if !resp.status().is_success() {
        return Ok(pass_through(resp));
    }
    let Some(env) = envelope_of(resp.headers())? else {
        if customer.is_some() {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "The encryption parameters are not applicable to this object.",
            ));
        }
        if range_header.is_some() && known_plain != Some(true) {
            // A plaintext object fetched with a translated range: fetch what the client asked for.
            let mut h = headers;
            if let Some(r) = header(&parts.headers, "range") {
                h.insert("range", HeaderValue::from_str(r).expect("was a header"));
            }
            return Ok(pass_through(gw.fetch(Method::GET, h).await?));
        }
        return Ok(pass_through(resp));
    };

    let cipher_total = match resp.status() {
        StatusCode::PARTIAL_CONTENT => content_range(resp.headers()).map(|(_, _, t)| t),
        _ => content_length(resp.headers()),
    }
    .ok_or_else(|| S3Error::internal("backend response without a usable length"))?;
    let (got_start, got_end) = match content_range(resp.headers()) {
        Some((a, b, _)) => (a, b),
        None => (0, cipher_total.saturating_sub(1)),
    };
    let data_key = open_data_key(keys, &env, customer.as_ref(), bucket, key).await?;
    let parts_layout = object_parts(gw, &env, resp.headers(), key, cipher_total).await?;
    let plan = plan(&parts_layout, client_range)?;
    // The speculative fetch assumed one stream; a multipart range may need other bytes (start or end).
    let resp = if plan.cipher_start != got_start || got_end < plan.cipher_end {
        let mut h = headers.clone();
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
    add_sse_headers(h, &env, customer.as_ref());
    if let Some(count) = parts_count {
        h.insert("x-amz-mp-parts-count", HeaderValue::from(count));
    }
    let body = TransformBody::new(
        rbody.map_err(Into::into).boxed(),
        ChainOpener::new(openers),
        Some(take),
        Box::new(metrics.stream_meter(env.mode.label(), false)),
    );
    Ok(Response::from_parts(rparts, crate::body::boxed(body)))
}

async fn head_response(
    keys: &Keys,
    gw: &impl Fetch,
    head: Response<Incoming>,
    bucket: &str,
    key: &str,
    customer: Option<&crate::s3::sse::CustomerKey>,
) -> Result<Response<Body>, S3Error> {
    let (mut rparts, _) = head.into_parts();
    let Some(env) = envelope_of(&rparts.headers)? else {
        if customer.is_some() {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "The encryption parameters are not applicable to this object.",
            ));
        }
        return Ok(Response::from_parts(rparts, empty()));
    };
    // HEAD checks the SSE-C key exactly as GET does.
    drop(open_data_key(keys, &env, customer, bucket, key).await?);
    let c = content_length(&rparts.headers).unwrap_or(0);
    let p = plan(&object_parts(gw, &env, &rparts.headers, key, c).await?, None)?.plain_total;
    restate_object_headers(&mut rparts.headers, p);
    add_sse_headers(&mut rparts.headers, &env, customer);
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
        let mut r = S3Error::new(
            S3ErrorCode::PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold",
        )
        .to_response("", "", false);
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
    S3Error::new(S3ErrorCode::InvalidRange, "The requested range is not satisfiable")
}

fn pass_through(resp: Response<Incoming>) -> Response<Body> {
    let (mut parts, body) = resp.into_parts();
    crate::backend::strip_hop_by_hop(&mut parts.headers);
    strip_backend_only(&mut parts.headers);
    Response::from_parts(parts, body.map_err(Into::into).boxed())
}
