//! Listings (ListObjects, ListObjectsV2, ListObjectVersions) in the client's terms: plaintext sizes and client
//! ETags for the objects the gateway encrypted, computed from the listing alone (no per-object request), and the
//! gateway's own objects hidden.
//!
//! Which entries are encrypted? Every object written through the gateway is encrypted (SSE-S3 at least, as S3
//! does since 2023). Before its first write into a bucket the gateway writes an adoption marker
//! (`.s3-sse-proxy/adopted`); entries whose LastModified is not earlier than the marker's were written through
//! the gateway.
//!
//! Also ListBuckets: a credential limited to some buckets does not learn the names of the others. Entries whose size fits no ciphertext layout are left as they are, whatever their time.

use http::Response;

use super::ReqCtx;
use crate::body::Body;
use crate::bucket_state::RESERVED_PREFIX;
use crate::crypto::size::plaintext_len;
use crate::error::S3Error;
use crate::response::listing::{self, EntryRewrite, EntryView};
use crate::response::{self, filter_buckets};
use crate::s3::xml::iso_millis;
use crate::sse::client_etag;

/// ListBuckets, without the buckets the credential may not access.
pub async fn list_buckets(mut ctx: ReqCtx<'_>) -> Result<Response<Body>, S3Error> {
    let Some(credential) = ctx.credential.clone().filter(|c| !c.may_access_all_buckets()) else {
        return super::forward::handle(ctx).await;
    };
    let headers = ctx.forwarded_headers();
    let body = ctx.take_body();
    let resp = ctx.send_as_is(headers, body).await?;
    if !resp.status().is_success() {
        return Ok(response::pass_through(resp));
    }
    response::restate(resp, |xml| {
        Ok(filter_buckets(&String::from_utf8_lossy(&xml), |b| credential.may_access_bucket(b)).into_bytes())
    })
    .await
}

/// ListObjects, ListObjectsV2, ListObjectVersions: plaintext sizes and client ETags, reserved keys hidden.
pub async fn list_objects(mut ctx: ReqCtx<'_>) -> Result<Response<Body>, S3Error> {
    let adopted = ctx.buckets.adoption_time(ctx.op(), ctx.bucket(), false).await?;
    let headers = ctx.forwarded_headers();
    let body = ctx.take_body();
    let resp = ctx.send_as_is(headers, body).await?;
    if !resp.status().is_success() {
        return Ok(response::pass_through(resp));
    }
    response::restate(resp, |xml| rewrite(&xml, adopted)).await
}

fn decide(e: &EntryView<'_>, adopted: Option<i64>) -> EntryRewrite {
    let ours = adopted.is_some_and(|t| iso_millis(e.last_modified).is_some_and(|m| m >= t));
    match (ours, plaintext_len(e.size)) {
        (true, Some(size)) => {
            let multipart = e.etag.trim_matches('"').contains('-');
            EntryRewrite::Rewrite {
                size,
                etag: client_etag(e.etag, !multipart),
            }
        }
        _ => EntryRewrite::Keep,
    }
}

pub fn rewrite(xml: &[u8], adopted: Option<i64>) -> Result<Vec<u8>, S3Error> {
    listing::rewrite(xml, RESERVED_PREFIX, |e| decide(e, adopted)).map_err(S3Error::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view<'a>(lm: &'a str, etag: &'a str, size: u64) -> EntryView<'a> {
        EntryView {
            key: "k",
            last_modified: lm,
            etag,
            size,
        }
    }

    #[test]
    fn only_entries_written_since_adoption_are_restated() {
        let t = iso_millis("2026-11-22T15:00:00.000Z");
        let c = crate::crypto::size::ciphertext_len(1000);
        assert_eq!(
            decide(&view("2026-11-22T15:00:01.000Z", "\"abc\"", c), t),
            EntryRewrite::Rewrite {
                size: 1000,
                etag: "\"abc-1\"".into()
            }
        );
        assert_eq!(
            decide(&view("2026-11-22T14:59:59.999Z", "\"abc\"", c), t),
            EntryRewrite::Keep
        );
        assert_eq!(
            decide(&view("2026-11-22T15:00:01.000Z", "\"abc\"", c), None),
            EntryRewrite::Keep
        );
        // A size no ciphertext can have is never restated.
        assert_eq!(
            decide(&view("2026-11-22T15:00:01.000Z", "\"abc\"", 5), t),
            EntryRewrite::Keep
        );
        // Multipart ETags keep their form.
        assert_eq!(
            decide(&view("2026-11-22T15:00:01.000Z", "\"abc-3\"", c), t),
            EntryRewrite::Rewrite {
                size: 1000,
                etag: "\"abc-3\"".into()
            }
        );
    }
}
