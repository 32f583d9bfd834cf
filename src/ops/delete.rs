//! DeleteObject (and the part layout that belonged to the object) and DeleteBucket (and the gateway's records in
//! it, when they are all that is left).

use http::Response;

use super::ReqCtx;
use crate::body::Body;
use crate::bucket_state::RESERVED_PREFIX;
use crate::error::S3Error;
use crate::response;
use crate::sse::multipart::layout_key;

pub async fn delete_object(mut ctx: ReqCtx<'_>) -> Result<Response<Body>, S3Error> {
    let mut headers = ctx.forwarded_headers();
    super::conditional::translate_if_match(&ctx, &mut headers).await?;
    let body = ctx.take_body();
    let resp = ctx.send_as_is(headers, body).await?;
    if resp.status().is_success() && ctx.req.query_param("versionId").is_none() {
        // Best effort: a stale layout is never used (it names the object's ETag).
        let _ = ctx.buckets.delete(ctx.op(), ctx.bucket(), &layout_key(ctx.key())).await;
    }
    Ok(response::pass_through(resp))
}

/// If the bucket holds nothing but the gateway's own records, remove them so the backend can delete it;
/// otherwise leave everything for the backend to answer BucketNotEmpty.
pub async fn delete_bucket(ctx: ReqCtx<'_>) -> Result<Response<Body>, S3Error> {
    let (op, bucket) = (ctx.op(), ctx.bucket());
    if let Some((keys, next)) = ctx.buckets.list_page(op, bucket, "", 1000, None).await?
        && next.is_none()
        && keys.iter().all(|k| k.key.starts_with(RESERVED_PREFIX))
    {
        for k in keys {
            let _ = ctx.buckets.delete(op, bucket, &k.key).await?;
        }
        ctx.buckets.forget_adoption(bucket);
    }
    super::forward::handle(ctx).await
}
