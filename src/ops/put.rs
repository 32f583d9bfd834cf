//! PutObject (and PostObject's object): the SSE the write gets, a fresh data key, and the verified body
//! encrypted as a stream on its way to the backend.

use http::Response;

use super::ReqCtx;
use crate::body::Body;
use crate::crypto::envelope::ChecksumPlace;
use crate::error::S3Error;
use crate::response;
use crate::sse::checksum::StoredChecksum;
use crate::sse::request::SseRequest;
use crate::sse::{Keys, bucket_default, new_object};

pub async fn put_object(mut ctx: ReqCtx<'_>, keys: &Keys) -> Result<Response<Body>, S3Error> {
    let (op, bucket, key) = (ctx.op(), ctx.bucket().to_owned(), ctx.key().to_owned());
    ctx.buckets.adoption_time(op, &bucket, true).await?;
    let sse = sse_for_write(&ctx).await?;
    let mut obj = new_object::new_object(keys, sse, &bucket, &key).await?;
    let mut headers = ctx.forwarded_headers();
    super::conditional::translate_if_match(&ctx, &mut headers).await?;
    let body = ctx.take_body();
    // The plaintext's checksum: in the envelope when it is known before the object is sent (a checksum header,
    // or a body read whole), else in a record once the object is stored.
    let slot = body.checksum.clone();
    let known = slot.get().or_else(|| body.claimed_checksum.clone());
    obj.envelope.checksum = Some(match &known {
        Some(c) => ChecksumPlace::Inline(StoredChecksum::of_body(c).seal(&obj.data_key)),
        None => ChecksumPlace::Record,
    });
    let resp = if body.length_bounds().is_some() {
        // A POST form's file, whose length is known only at its end.
        super::post_in_parts::put(&ctx, headers, body, Some(&obj)).await?
    } else {
        let (len, metrics) = (body.length()?, ctx.metrics);
        let body = body.map(|b| new_object::encrypt_request(&obj, &mut headers, len, b, metrics));
        response::pass_through(ctx.send_as_is(headers, body).await?)
    };
    let checksum = slot.get();
    if resp.status().is_success()
        && known.is_none()
        && let Some(c) = &checksum
    {
        let sealed = StoredChecksum::of_body(c).seal(&obj.data_key);
        super::checksum::write_record(ctx.buckets, op, &bucket, &key, resp.headers(), sealed).await;
    }
    let mut resp = new_object::respond(&obj, resp);
    if resp.status().is_success()
        && let Some(c) = checksum
    {
        StoredChecksum::of_body(&c).add_headers(resp.headers_mut());
    }
    Ok(resp)
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
