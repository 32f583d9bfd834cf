//! PutBucketEncryption, GetBucketEncryption, DeleteBucketEncryption: answered by the gateway (the backend may
//! not support them and must not be the one enforcing them) and kept in the backend as one of its records
//! ([`ENCRYPTION_KEY`]). What a configuration means is `sse::bucket_default`'s.

use bytes::Bytes;
use http::{Response, StatusCode};

use super::ReqCtx;
use crate::body::Body;
use crate::bucket_state::ENCRYPTION_KEY;
use crate::error::{S3Error, S3ErrorCode};
use crate::response::{self, SMALL_LIMIT};
use crate::s3::operation::Operation;
use crate::sse::bucket_default::{reported, validate};

pub async fn handle(mut ctx: ReqCtx<'_>) -> Result<Response<Body>, S3Error> {
    let (op, bucket) = (ctx.op(), ctx.bucket().to_owned());
    let buckets = ctx.buckets;
    let sse_c_blocked_by_default = ctx.keys.is_some_and(|k| k.rules.block_sse_c_by_default);
    let resp = match op {
        Operation::PutBucketEncryption => {
            let xml = ctx
                .take_body()
                .read_small(SMALL_LIMIT, || {
                    S3Error::new(S3ErrorCode::MalformedXML, "The XML you provided was too large.")
                })
                .await?;
            validate(&xml)?;
            let uri = ctx.upstream.object_uri(&bucket, ENCRYPTION_KEY, None)?;
            ctx.upstream.put_bytes(op, uri, http::HeaderMap::new(), xml).await?
        }
        Operation::DeleteBucketEncryption => buckets.delete(op, &bucket, ENCRYPTION_KEY).await?,
        _ => {
            let uri = ctx.upstream.object_uri(&bucket, ENCRYPTION_KEY, None)?;
            ctx.upstream
                .call(op, http::Method::GET, uri, http::HeaderMap::new())
                .await?
        }
    };
    if op != Operation::GetBucketEncryption {
        buckets.forget_encryption(&bucket);
    }
    let status = resp.status();
    if status.is_success() && op == Operation::GetBucketEncryption {
        let stored = response::read_small(resp).await?;
        return Ok(response::xml(Bytes::from(reported(
            Some(&stored),
            sse_c_blocked_by_default,
        ))));
    }
    if status == StatusCode::NOT_FOUND {
        // No configuration object: the bucket itself may be missing, which S3 reports as NoSuchBucket.
        if !buckets.exists(op, &bucket).await? {
            return Err(S3Error::no_such_bucket());
        }
        return Ok(match op {
            Operation::GetBucketEncryption => response::xml(Bytes::from(reported(None, sse_c_blocked_by_default))),
            _ => response::status(StatusCode::NO_CONTENT),
        });
    }
    if !status.is_success() {
        return Ok(response::pass_through(resp));
    }
    Ok(response::status(if op == Operation::DeleteBucketEncryption {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::OK
    }))
}
