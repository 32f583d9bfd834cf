//! Conditional writes and copies: the client compares its own ETags, the backend only knows its own. A single-PUT
//! encrypted object's client ETag is the backend's marked `-1` (`"<md5>-1"` for `"<md5>"`, see docs/format.md);
//! multipart ETags are the same on both sides. So an `If-Match` of a write (PutObject, CompleteMultipartUpload,
//! DeleteObject) is translated after a HEAD of the object says which kind it is; the backend still evaluates the
//! condition itself, atomically. `If-None-Match: *` needs no translation.

use http::{HeaderMap, HeaderValue, Method, StatusCode};

use super::ReqCtx;
use crate::error::S3Error;
use crate::s3::request::header_str;
use crate::sse::envelope_of;

/// An `If-Match`-style list of client ETags of a single-part encrypted object, as the backend's ETags.
pub fn backend_etag_list(v: &str) -> String {
    v.split(',')
        .map(|t| {
            let t = t.trim();
            let bare = t.trim_start_matches("W/").trim_matches('"');
            if bare == "*" {
                t.to_owned()
            } else {
                format!("\"{}\"", bare.strip_suffix("-1").unwrap_or(bare))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Translate the `If-Match` of a write to the request's object into the backend's ETag. An `If-Match` on a key
/// that does not exist is S3's 404 NoSuchKey.
pub async fn translate_if_match(ctx: &ReqCtx<'_>, headers: &mut HeaderMap) -> Result<(), S3Error> {
    let Some(wanted) = header_str(headers, http::header::IF_MATCH).map(str::to_owned) else {
        return Ok(());
    };
    if wanted.trim() == "*" {
        return Ok(());
    }
    let uri = ctx.upstream.object_uri(ctx.bucket(), ctx.key(), None)?;
    let head = ctx.upstream.call(ctx.op(), Method::HEAD, uri, HeaderMap::new()).await?;
    match head.status() {
        s if s.is_success() => {}
        StatusCode::NOT_FOUND => return Err(S3Error::no_such_key()),
        // Anything else: the backend answers the write itself.
        _ => return Ok(()),
    }
    if envelope_of(head.headers())?.is_some_and(|env| !env.multipart) {
        let v = backend_etag_list(&wanted);
        headers.insert(
            http::header::IF_MATCH,
            HeaderValue::from_str(&v).map_err(S3Error::internal)?,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_etags_of_single_put_objects_name_the_backends() {
        assert_eq!(backend_etag_list("\"abc-1\""), "\"abc\"");
        assert_eq!(backend_etag_list("W/\"abc-1\", *"), "\"abc\", *");
        assert_eq!(backend_etag_list("abc-1"), "\"abc\"");
    }
}
