//! PutBucketPolicy, GetBucketPolicy, DeleteBucketPolicy, GetBucketPolicyStatus, answered by the gateway and kept
//! in the backend as one of its records ([`POLICY_KEY`]), so every instance enforces the same policy. Pinned
//! policies (from the config file) are not shown or touched here.

use bytes::Bytes;
use http::{Response, StatusCode};

use super::ReqCtx;
use crate::body::Body;
use crate::bucket_state::POLICY_KEY;
use crate::error::{S3Error, S3ErrorCode};
use crate::policy::{self as iam, Policy, PolicyKind};
use crate::response;
use crate::s3::operation::Operation;

pub async fn handle(mut ctx: ReqCtx<'_>) -> Result<Response<Body>, S3Error> {
    let (op, bucket) = (ctx.op(), ctx.bucket().to_owned());
    let buckets = ctx.buckets;
    match op {
        Operation::PutBucketPolicy => {
            let text = ctx
                .take_body()
                .read_small(iam::MAX_POLICY_BYTES, || {
                    S3Error::new(
                        S3ErrorCode::MalformedPolicy,
                        format!("Policy: larger than {} bytes", iam::MAX_POLICY_BYTES),
                    )
                })
                .await?;
            let text = std::str::from_utf8(&text)
                .map_err(|_| S3Error::new(S3ErrorCode::MalformedPolicy, "Policy: not UTF-8"))?;
            let policy =
                Policy::parse(text, PolicyKind::Bucket).map_err(|e| S3Error::new(S3ErrorCode::MalformedPolicy, e.0))?;
            if let Some(r) = policy.foreign_resource(&bucket) {
                return Err(S3Error::new(
                    S3ErrorCode::MalformedPolicy,
                    format!("Policy has invalid resource: {r:?} is not in bucket {bucket}"),
                ));
            }
            // Some backends (s3s-fs) create what a PUT names: the bucket must exist first.
            if !buckets.exists(op, &bucket).await? {
                return Err(S3Error::no_such_bucket());
            }
            let uri = ctx.upstream.object_uri(&bucket, POLICY_KEY, None)?;
            let resp = ctx
                .upstream
                .put_bytes(op, uri, http::HeaderMap::new(), Bytes::copy_from_slice(text.as_bytes()))
                .await?;
            buckets.forget_policy(&bucket);
            if resp.status().is_success() {
                Ok(response::status(StatusCode::NO_CONTENT))
            } else {
                Ok(response::pass_through(resp))
            }
        }
        Operation::DeleteBucketPolicy => {
            let resp = buckets.delete(op, &bucket, POLICY_KEY).await?;
            buckets.forget_policy(&bucket);
            match resp.status() {
                s if s.is_success() => Ok(response::status(StatusCode::NO_CONTENT)),
                StatusCode::NOT_FOUND if !buckets.exists(op, &bucket).await? => Err(S3Error::no_such_bucket()),
                StatusCode::NOT_FOUND => Ok(response::status(StatusCode::NO_CONTENT)),
                _ => Ok(response::pass_through(resp)),
            }
        }
        _ => {
            let Some(text) = buckets.get(op, &bucket, POLICY_KEY).await? else {
                if !buckets.exists(op, &bucket).await? {
                    return Err(S3Error::no_such_bucket());
                }
                return Err(S3Error::new(
                    S3ErrorCode::NoSuchBucketPolicy,
                    "The bucket policy does not exist",
                ));
            };
            if op == Operation::GetBucketPolicy {
                let mut r = Response::new(crate::body::full(text));
                r.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                );
                return Ok(r);
            }
            let policy = Policy::parse(&String::from_utf8_lossy(&text), PolicyKind::Bucket)
                .map_err(|e| S3Error::internal(format!("stored policy of {bucket} does not parse: {e}")))?;
            Ok(response::xml(format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PolicyStatus xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                 <IsPublic>{}</IsPublic></PolicyStatus>",
                policy.is_public()
            )))
        }
    }
}
