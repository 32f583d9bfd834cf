//! DeleteObject (and the part layout and checksum records that belonged to the object), DeleteObjects (with the
//! `Content-MD5` older backends require) and DeleteBucket (and the gateway's records in it, when they are all that
//! is left).

use http::Response;

use super::ReqCtx;
use crate::body::Body;
use crate::error::S3Error;
use crate::response;
use crate::s3::request::header_str;
use crate::sse::checksum;
use crate::sse::multipart::version_layout_key;

pub async fn delete_object(mut ctx: ReqCtx<'_>) -> Result<Response<Body>, S3Error> {
    let mut headers = ctx.forwarded_headers();
    super::conditional::translate_if_match(&ctx, &mut headers).await?;
    let body = ctx.take_body();
    let resp = ctx.send_as_is(headers, body).await?;
    if resp.status().is_success() {
        // What belonged to the deleted object or version goes with it. A DELETE that made a delete marker (the
        // backend names its version) deleted nothing; one of the `null` version did. Best effort: a stale layout
        // is never used (it names its object's ETag).
        let (op, bucket, key) = (ctx.op(), ctx.bucket(), ctx.key());
        let records = |v| (version_layout_key(key, v), checksum::record_key(key, v));
        match (
            ctx.req.query_param("versionId"),
            header_str(resp.headers(), "x-amz-version-id"),
        ) {
            // A bucket without versions: its records have none either.
            (None, None) => {
                let (layout, checksum) = records(None);
                let b = ctx.buckets;
                let _ = tokio::join!(b.delete(op, bucket, &layout), b.delete(op, bucket, &checksum));
            }
            (Some(v), _) | (None, Some(v @ "null")) => {
                let (layout, checksum) = records(Some(v));
                let b = ctx.buckets;
                let _ = tokio::join!(b.purge(op, bucket, &layout), b.purge(op, bucket, &checksum));
            }
            (None, Some(_delete_marker)) => {}
        }
    }
    Ok(response::pass_through(resp))
}

/// DeleteObjects, with the `Content-MD5` older backends and Object Lock buckets require (see
/// [`super::forward::with_content_md5`]).
pub async fn delete_objects(ctx: ReqCtx<'_>) -> Result<Response<Body>, S3Error> {
    super::forward::with_content_md5(ctx).await
}

/// If the bucket holds nothing but the gateway's own records (every version of them, in a versioned bucket),
/// remove them so the backend can delete it; otherwise leave everything for the backend to answer BucketNotEmpty.
pub async fn delete_bucket(ctx: ReqCtx<'_>) -> Result<Response<Body>, S3Error> {
    ctx.buckets.purge_if_only_records(ctx.op(), ctx.bucket()).await?;
    super::forward::handle(ctx).await
}
