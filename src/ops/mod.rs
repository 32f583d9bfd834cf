//! The S3 operations, one file per family named in S3's words (as Garage's `src/api/s3/`), and [`dispatch`]:
//! the one `match` from [`Operation`] to a handler.
//!
//! Handlers get everything through a [`ReqCtx`]: the backend ([`Upstream`]), the gateway's records in buckets
//! ([`BucketState`]), the keys, the classified request and its verified body. They never import the gateway.

pub mod attributes;
pub mod bucket_encryption;
pub mod bucket_policy;
pub mod checksum;
pub mod conditional;
pub mod copy;
pub mod delete;
pub mod forward;
pub mod get;
pub mod list;
pub mod multipart;
pub mod post;
pub mod post_in_parts;
pub mod put;
pub mod update_encryption;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use http::{HeaderMap, Response, Uri};

use crate::auth::Credential;
use crate::backend::upstream::{Outbound, Upstream};
use crate::body::Body;
use crate::body::verify::ClientBody;
use crate::bucket_state::BucketState;
use crate::error::{S3Error, S3ErrorCode};
use crate::metrics::Metrics;
use crate::s3::operation::Operation;
use crate::s3::request::S3Request;
use crate::sse::Keys;

/// What a handler works with.
pub struct ReqCtx<'a> {
    pub upstream: &'a Upstream,
    pub buckets: &'a BucketState,
    pub metrics: &'a Arc<Metrics>,
    /// `None`: the gateway runs as a verifying pass-through proxy (SSE off).
    pub keys: Option<&'a Keys>,
    pub req: S3Request,
    /// `None` for the gateway's own maintenance requests (`rekey`).
    pub credential: Option<Credential>,
    pub body: ClientBody,
    /// A browser POST upload's form (PostObject only).
    pub form: Option<post::PostForm>,
}

impl ReqCtx<'_> {
    pub fn op(&self) -> Operation {
        self.req.op
    }

    /// Whether the request came without credentials (a bucket policy let everyone in).
    pub fn anonymous(&self) -> bool {
        self.credential.as_ref().is_some_and(Credential::is_anonymous)
    }

    /// The request's bucket (every handler but ListBuckets' and forward's is dispatched with one).
    pub fn bucket(&self) -> &str {
        self.req.target.bucket.as_deref().unwrap_or_default()
    }

    /// The request's key (object handlers are dispatched with one).
    pub fn key(&self) -> &str {
        self.req.target.key.as_deref().unwrap_or_default()
    }

    /// The client's headers that go on to the backend.
    pub fn forwarded_headers(&self) -> HeaderMap {
        crate::backend::forwarded_headers(&self.req.parts.headers, self.body.declared)
    }

    /// The backend URI of the request's own target, with the client's query.
    pub fn uri(&self) -> Result<Uri, S3Error> {
        self.upstream.uri(&self.req.target, self.req.raw_query())
    }

    /// The request's own backend URI with another raw query.
    pub fn uri_with_query(&self, raw_query: &str) -> Result<Uri, S3Error> {
        self.upstream.uri(&self.req.target, Some(raw_query))
    }

    /// Send the request on as the client made it (method, target, query, its headers), with `body`.
    pub async fn send_as_is(&self, headers: HeaderMap, body: impl Into<Outbound>) -> Result<Response<Body>, S3Error> {
        self.upstream
            .send(self.op(), self.req.parts.method.clone(), self.uri()?, headers, body)
            .await
    }

    /// Take the client's body (the context keeps an empty one).
    pub fn take_body(&mut self) -> ClientBody {
        std::mem::replace(&mut self.body, ClientBody::empty())
    }
}

/// Whether the request names an object subresource that cannot work on ciphertext.
fn refused_on_ciphertext(ctx: &ReqCtx<'_>) -> bool {
    crate::s3::operation::REFUSED_ON_CIPHERTEXT
        .iter()
        .any(|name| ctx.req.query_param(name).is_some())
}

/// The one `match` from operation to handler. The check order of the phases before it is fixed by the gateway,
/// so the error that wins when several things are wrong does not depend on the operation.
///
/// Each handler's future is boxed on its own: one future holding every handler's state inline was 28 KiB,
/// allocated and copied for every request whatever its operation.
pub fn dispatch(ctx: ReqCtx<'_>) -> BoxFuture<'_, Result<Response<Body>, S3Error>> {
    use Operation as Op;
    let (bucket, key) = (ctx.req.target.bucket.is_some(), ctx.req.target.key.is_some());
    match (ctx.op(), ctx.keys, bucket, key) {
        (Op::ListBuckets, _, _, _) => Box::pin(list::list_buckets(ctx)),
        (Op::PostObject, keys, true, true) => Box::pin(post::post_object(ctx, keys)),
        (
            Op::PutBucketPolicy | Op::GetBucketPolicy | Op::DeleteBucketPolicy | Op::GetBucketPolicyStatus,
            _,
            true,
            false,
        ) => Box::pin(bucket_policy::handle(ctx)),
        (Op::CreateBucket, _, true, false)
            if !crate::s3::addressing::valid_new_bucket_name(ctx.req.target.bucket.as_deref().unwrap_or_default()) =>
        {
            Box::pin(std::future::ready(Err(S3Error::standard(
                S3ErrorCode::InvalidBucketName,
            ))))
        }
        (Op::PutObjectLockConfiguration | Op::PutObjectRetention | Op::PutObjectLegalHold, _, true, _) => {
            Box::pin(forward::with_content_md5(ctx))
        }
        // SSE off: everything else passes through, verified.
        (_, None, _, _) => Box::pin(forward::handle(ctx)),
        (Op::ListObjects | Op::ListObjectsV2 | Op::ListObjectVersions, Some(_), true, false) => {
            Box::pin(list::list_objects(ctx))
        }
        (Op::DeleteBucket, Some(_), true, false) => Box::pin(delete::delete_bucket(ctx)),
        (Op::PutBucketEncryption | Op::GetBucketEncryption | Op::DeleteBucketEncryption, Some(_), true, false) => {
            Box::pin(bucket_encryption::handle(ctx))
        }
        (Op::PutObject, Some(keys), true, true) => Box::pin(put::put_object(ctx, keys)),
        (Op::CopyObject, Some(keys), true, true) => Box::pin(copy::copy_object(ctx, keys)),
        (Op::GetObject | Op::HeadObject, Some(keys), true, true) => Box::pin(get::get_object(ctx, keys)),
        (Op::DeleteObject, Some(_), true, true) => Box::pin(delete::delete_object(ctx)),
        (Op::DeleteObjects, Some(_), true, false) => Box::pin(delete::delete_objects(ctx)),
        (Op::GetObjectAttributes, Some(keys), true, true) => Box::pin(attributes::get_object_attributes(ctx, keys)),
        (Op::CreateMultipartUpload, Some(keys), true, true) => Box::pin(multipart::create(ctx, keys)),
        (Op::UploadPart, Some(keys), true, true) => Box::pin(multipart::upload_part(ctx, keys)),
        (Op::UploadPartCopy, Some(keys), true, true) => Box::pin(multipart::upload_part_copy(ctx, keys)),
        (Op::CompleteMultipartUpload, Some(keys), true, true) => Box::pin(multipart::complete(ctx, keys)),
        (Op::ListParts, Some(keys), true, true) => Box::pin(multipart::list_parts(ctx, keys)),
        (Op::AbortMultipartUpload, Some(_), true, true) => Box::pin(multipart::abort(ctx)),
        (Op::UpdateObjectEncryption, Some(keys), true, true) => {
            Box::pin(update_encryption::update_object_encryption(ctx, keys))
        }
        (Op::Other, Some(_), true, true) if refused_on_ciphertext(&ctx) => {
            Box::pin(std::future::ready(Err(S3Error::new(
                S3ErrorCode::NotImplemented,
                "This operation cannot be performed on objects this gateway encrypts: the backend holds only ciphertext.",
            ))))
        }
        _ => Box::pin(forward::handle(ctx)),
    }
}
