//! Transform response: what the backend said, restated in the client's terms (plaintext sizes, client ETags,
//! the gateway's own objects hidden). One rule for passing a backend response through.

pub mod listing;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};

use crate::body::{Body, full};
use crate::error::S3Error;

/// Gateway-internal objects and XML documents are small; anything larger is refused.
pub const SMALL_LIMIT: usize = 4 * 1024 * 1024;

/// A backend response streamed back as it is, minus hop-by-hop headers and what only the backend should see
/// (the envelope, the ciphertext's checksums).
pub fn pass_through(resp: Response<Body>) -> Response<Body> {
    let (mut parts, body) = resp.into_parts();
    crate::backend::strip_hop_by_hop(&mut parts.headers);
    crate::sse::strip_backend_only(&mut parts.headers);
    Response::from_parts(parts, body)
}

/// With SSE off the backend holds the client's own bytes: its response goes back whole but for hop-by-hop
/// headers (its checksums describe the client's data).
pub fn forward(resp: Response<Body>) -> Response<Body> {
    let (mut parts, body) = resp.into_parts();
    crate::backend::strip_hop_by_hop(&mut parts.headers);
    Response::from_parts(parts, body)
}

/// Read a small backend body whole (bounded).
pub async fn read_small(resp: Response<Body>) -> Result<Bytes, S3Error> {
    crate::body::collect_limited(resp.into_body(), SMALL_LIMIT)
        .await
        .map_err(|()| S3Error::internal("reading a small backend response failed or exceeded its limit"))
}

/// Read a small XML response whole, let `edit` restate it, and answer with it.
pub async fn restate(
    resp: Response<Body>,
    edit: impl FnOnce(Bytes) -> Result<Vec<u8>, S3Error>,
) -> Result<Response<Body>, S3Error> {
    let (parts, body) = resp.into_parts();
    let xml = crate::body::collect_limited(body, SMALL_LIMIT)
        .await
        .map_err(|()| S3Error::internal("reading a small backend response failed or exceeded its limit"))?;
    let out = edit(xml)?;
    Ok(restated(parts, out))
}

/// A backend answer's head with a body the gateway wrote in place of the backend's (see [`restate`]).
pub fn restated(mut parts: http::response::Parts, body: Vec<u8>) -> Response<Body> {
    crate::backend::strip_hop_by_hop(&mut parts.headers);
    crate::sse::strip_backend_only(&mut parts.headers);
    parts.headers.remove(http::header::CONTENT_LENGTH);
    Response::from_parts(parts, full(body))
}

/// The gateway's own answer: an XML document.
/// The object's URL as S3 reports it in `Location` (PostObject, CompleteMultipartUpload): path-style, on the
/// host the client addressed.
pub fn object_location(parts: &http::request::Parts, bucket: &str, key: &str) -> String {
    format!(
        "https://{}/{}/{}",
        crate::auth::request_host(parts).unwrap_or("localhost"),
        crate::auth::canonical::uri_encode(bucket),
        crate::auth::canonical::uri_encode_path(key)
    )
}

pub fn xml(doc: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(full(doc.into()));
    r.headers_mut()
        .insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    r
}

/// The gateway's own answer without a body.
pub fn status(code: StatusCode) -> Response<Body> {
    let mut r = Response::new(crate::body::empty());
    *r.status_mut() = code;
    r
}

/// A ListAllMyBucketsResult without the `<Bucket>` entries whose name `keep` rejects.
pub fn filter_buckets(xml: &str, keep: impl Fn(&str) -> bool) -> String {
    use crate::s3::xml::xml_text;
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(i) = rest.find("<Bucket>") {
        out.push_str(&rest[..i]);
        let Some(j) = rest[i..].find("</Bucket>") else { break };
        let entry = &rest[i..i + j + "</Bucket>".len()];
        let name =
            xml_text(entry, "Name").map(|n| quick_xml::escape::unescape(&n).map(|c| c.into_owned()).unwrap_or(n));
        if name.as_deref().is_some_and(&keep) {
            out.push_str(entry);
        }
        rest = &rest[i + j + "</Bucket>".len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_lists_keep_only_allowed_names() {
        let xml = "<ListAllMyBucketsResult><Owner><ID>o</ID></Owner><Buckets><Bucket><Name>only-this</Name>\
                   <CreationDate>d</CreationDate></Bucket><Bucket><Name>victim</Name><CreationDate>d</CreationDate>\
                   </Bucket></Buckets></ListAllMyBucketsResult>";
        let out = filter_buckets(xml, |b| b == "only-this");
        assert!(
            out.contains("<Name>only-this</Name>") && !out.contains("victim"),
            "{out}"
        );
        assert!(out.contains("<Owner><ID>o</ID></Owner>") && out.ends_with("</Buckets></ListAllMyBucketsResult>"));
    }
}
