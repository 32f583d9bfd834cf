//! Operations the gateway passes through unchanged (with SSE off, all of them): the client's request, verified,
//! re-signed and sent on; the backend's answer streamed back. Small documents that S3 accepts only with an
//! integrity value go with a `Content-MD5` the gateway computes, when the client sent a CRC instead.

use bytes::Bytes;
use http::{HeaderValue, Response};

use super::ReqCtx;
use crate::auth::checksum::Md5Hasher;
use crate::backend::upstream::Outbound;
use crate::body::Body;
use crate::error::{S3Error, S3ErrorCode};
use crate::response;

pub async fn handle(mut ctx: ReqCtx<'_>) -> Result<Response<Body>, S3Error> {
    let headers = ctx.forwarded_headers();
    let body = ctx.take_body();
    let resp = ctx.send_as_is(headers, body).await?;
    Ok(match ctx.keys {
        Some(_) => response::pass_through(resp),
        None => response::forward(resp),
    })
}

/// A request whose body is a small document that S3 takes only with `Content-MD5` or a checksum (DeleteObjects,
/// the Object Lock configuration, retention and legal hold): today's SDKs send a CRC (header or trailer) and
/// `x-amz-sdk-checksum-algorithm`, which do not reach the backend (the gateway decodes the client's framing); older
/// backends require `Content-MD5` anyway. The gateway has verified the document already, so it adds the
/// `Content-MD5` of what it forwards.
pub async fn with_content_md5(mut ctx: ReqCtx<'_>) -> Result<Response<Body>, S3Error> {
    let document = read_document(&mut ctx).await?;
    let resp = send_document(&ctx, document).await?;
    Ok(match ctx.keys {
        Some(_) => response::pass_through(resp),
        None => response::forward(resp),
    })
}

/// The client's (verified) small document, read whole.
pub async fn read_document(ctx: &mut ReqCtx<'_>) -> Result<Bytes, S3Error> {
    let body = ctx.take_body();
    let limit = body
        .declared
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(response::SMALL_LIMIT);
    body.read_small(limit, || {
        S3Error::new(S3ErrorCode::MaxMessageLengthExceeded, "Your request was too big.")
    })
    .await
}

/// Send the request on with `document` as its body and that document's `Content-MD5` (in place of the
/// client's, which the gateway has checked against what the client sent).
pub async fn send_document(ctx: &ReqCtx<'_>, document: Bytes) -> Result<http::Response<Body>, S3Error> {
    let mut headers = ctx.forwarded_headers();
    let mut md5 = Md5Hasher::new();
    md5.update(&document);
    headers.insert(
        "content-md5",
        HeaderValue::from_str(&md5.finish()).map_err(S3Error::internal)?,
    );
    headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(document.len()));
    ctx.send_as_is(headers, Outbound::full(document)).await
}
