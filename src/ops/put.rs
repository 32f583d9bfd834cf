//! PutObject (and PostObject's object): the SSE the write gets, a fresh data key, and the verified body
//! encrypted as a stream on its way to the backend.

use http::Response;

use super::ReqCtx;
use crate::body::Body;
use crate::error::S3Error;
use crate::response;
use crate::sse::request::SseRequest;
use crate::sse::{Keys, bucket_default, new_object};

pub async fn put_object(mut ctx: ReqCtx<'_>, keys: &Keys) -> Result<Response<Body>, S3Error> {
    let (op, bucket, key) = (ctx.op(), ctx.bucket().to_owned(), ctx.key().to_owned());
    ctx.buckets.adoption_time(op, &bucket, true).await?;
    let sse = sse_for_write(&ctx).await?;
    let obj = new_object::new_object(keys, sse, &bucket, &key).await?;
    let mut headers = ctx.forwarded_headers();
    super::conditional::translate_if_match(&ctx, &mut headers).await?;
    let body = ctx.take_body();
    let len = body.length()?;
    let metrics = ctx.metrics;
    let body = body.map(|b| new_object::encrypt_request(&obj, &mut headers, len, b, metrics));
    let resp = ctx.send_as_is(headers, body).await?;
    Ok(new_object::respond(&obj, response::pass_through(resp)))
}

/// The SSE a write gets: what its headers ask for, completed by the bucket's default encryption (read only
/// when the request leaves something to the default).
pub async fn sse_for_write(ctx: &ReqCtx<'_>) -> Result<SseRequest, S3Error> {
    let requested = crate::sse::request::parse(&ctx.req.parts.headers)?;
    if matches!(requested, SseRequest::S3 | SseRequest::Customer(_)) {
        return Ok(requested);
    }
    let config = ctx.buckets.encryption(ctx.op(), ctx.bucket()).await?;
    let sse = bucket_default::apply_default(config.as_deref(), requested);
    if ctx.anonymous() && matches!(sse, SseRequest::Kms { .. }) {
        // The bucket's default is SSE-KMS, which needs the caller's identity.
        return Err(crate::sse::request::kms_needs_identity());
    }
    Ok(sse)
}
