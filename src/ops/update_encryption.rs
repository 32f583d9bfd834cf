//! UpdateObjectEncryption (`PUT /bucket/key?encryption`, AWS since January 2026): an SSE-S3 or SSE-KMS object
//! moves to SSE-KMS under the named key, data untouched. Exactly the re-wrap the envelope allows: the object's
//! data key is opened and sealed again under the new KMS key by a metadata-only self-copy at the backend (the
//! same path as `rekey` and CopyObject), so the stored bytes — and with them the backend ETag, hence the client's
//! ETag — stay as they are on every backend whose copy keeps the ETag of unchanged bytes.
//!
//! Never rewrites object data, never accepts SSE-C or plaintext objects (AWS's rule: the source must be SSE-S3
//! or SSE-KMS, the target SSE-KMS), and never acts on a named version (`versionId`): S3 updates that version in
//! place, a backend self-copy would make a new version instead, so such a request is S3's 501 `NotImplemented`.

use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};

use super::ReqCtx;
use crate::body::Body;
use crate::crypto::envelope::{Envelope, SseMode};
use crate::error::{S3Error, S3ErrorCode};
use crate::response::{self, SMALL_LIMIT};
use crate::s3::request::header_str;
use crate::s3::xml::xml_text;
use crate::sse::{Keys, client_etag, envelope_of};

/// The new encryption a request asks for (AWS's `ObjectEncryption` union; only `SSE-KMS` exists).
#[derive(Debug, PartialEq, Eq)]
pub struct NewEncryption {
    pub kms_key: String,
    /// `None`: the request did not say (the bucket's default decides, as for a PutObject).
    pub bucket_key: Option<bool>,
}

fn invalid_request(msg: &'static str) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidRequest, msg)
}

/// Parse the request's `<ObjectEncryption>` document, with AWS's messages.
pub fn parse(xml: &[u8]) -> Result<NewEncryption, S3Error> {
    let malformed = || {
        S3Error::new(
            S3ErrorCode::MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema",
        )
    };
    let text = std::str::from_utf8(xml).map_err(|_| malformed())?;
    if !text.contains("<ObjectEncryption") || !text.contains("</ObjectEncryption>") {
        return Err(malformed());
    }
    let Some(kms) = xml_text(text, "SSE-KMS") else {
        if text.contains("<SSE-C") || text.contains("<DSSE-KMS") {
            return Err(invalid_request(
                "The UpdateObjectEncryption operation doesn't support updating the encryption type to DSSE-KMS or \
                 SSE-C. Modify the request to specify SSE-KMS for the updated encryption type, and then try again.",
            ));
        }
        return Err(invalid_request(
            "Requests that modify an object encryption configuration require a valid new encryption type. Valid \
             values are SSEKMS. Modify the request to specify SSE-KMS for the updated encryption type, and then \
             try again.",
        ));
    };
    let kms_key = xml_text(&kms, "KMSKeyArn")
        .map(|k| k.trim().to_owned())
        .unwrap_or_default();
    if kms_key.is_empty() {
        return Err(invalid_request(
            "Requests that modify an object's encryption type to SSE-KMS require an AWS KMS key Amazon Resource \
             Name (ARN). Modify the request to specify a KMS key ARN, and then try again.",
        ));
    }
    let bucket_key = match xml_text(&kms, "BucketKeyEnabled").as_deref().map(str::trim) {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            return Err(invalid_request(
                "The BucketKeyEnabled value isn't valid. Valid values are true or false. Modify the request to \
                 specify a valid value, and then try again.",
            ));
        }
    };
    Ok(NewEncryption { kms_key, bucket_key })
}

/// AWS's refusal of a source object that is not SSE-S3 or SSE-KMS: unencrypted, or SSE-C.
fn unsupported_source(env: Option<&Envelope>) -> S3Error {
    if env.is_some() {
        invalid_request(
            "The UpdateObjectEncryption operation doesn't support source objects with the encryption type \
             DSSE-KMS or SSE-C. Only source objects encrypted with SSE-S3 or SSE-KMS are supported.",
        )
    } else {
        invalid_request(
            "The UpdateObjectEncryption operation doesn't supported unencrypted source objects. Only source \
             objects encrypted with SSE-S3 or SSE-KMS are supported.",
        )
    }
}

/// A request naming a version. S3 re-wraps that version in place, keeping its version id; the backend offers only
/// a self-copy, which makes a new current version and leaves the named one under its old key: reporting success
/// would be a lie. S3's own answer for functionality it does not implement (code and message), before anything is
/// read or written.
fn version_not_implemented() -> S3Error {
    S3Error::new(
        S3ErrorCode::NotImplemented,
        "A header you provided implies functionality that is not implemented.",
    )
}

pub async fn update_object_encryption(mut ctx: ReqCtx<'_>, keys: &Keys) -> Result<Response<Body>, S3Error> {
    let (op, bucket, key) = (ctx.op(), ctx.bucket().to_owned(), ctx.key().to_owned());
    if ctx.anonymous() {
        return Err(crate::sse::request::kms_needs_identity());
    }
    let client = &ctx.req.parts.headers;
    if !client.contains_key("content-md5") && !client.keys().any(|n| n.as_str().starts_with("x-amz-checksum-")) {
        return Err(invalid_request(
            "Missing required header for this request: Content-MD5 OR x-amz-checksum-*",
        ));
    }
    if ctx.req.query_param("versionId").is_some() {
        return Err(version_not_implemented());
    }
    let xml = ctx
        .take_body()
        .read_small(SMALL_LIMIT, || {
            S3Error::new(S3ErrorCode::MalformedXML, "The XML you provided was too large.")
        })
        .await?;
    let new = parse(&xml)?;
    let uri = ctx.upstream.object_uri(&bucket, &key, None)?;
    let head = ctx.upstream.call(op, Method::HEAD, uri, HeaderMap::new()).await?;
    match head.status() {
        s if s.is_success() => {}
        StatusCode::NOT_FOUND => return Err(S3Error::no_such_key()),
        StatusCode::FORBIDDEN => return Err(S3Error::access_denied()),
        s => {
            return Err(S3Error::internal(format!(
                "UpdateObjectEncryption HEAD: backend status {s}"
            )));
        }
    }
    let env = match envelope_of(head.headers())? {
        Some(e) if matches!(e.mode, SseMode::S3 | SseMode::Kms) => e,
        other => return Err(unsupported_source(other.as_ref())),
    };
    let backend_etag = header_str(head.headers(), "etag").unwrap_or_default().to_owned();
    // The self-copy only if the object is still the one examined: a concurrent write wins, nothing is re-wrapped.
    let if_match = client_etag(&backend_etag, true);
    let copy = self_copy_request(&bucket, &key, &new, env.context.as_deref(), &if_match)?;
    let from = env.kek_id.clone();
    let result = super::copy::copy_object(
        ReqCtx {
            upstream: ctx.upstream,
            buckets: ctx.buckets,
            metrics: ctx.metrics,
            keys: ctx.keys,
            req: copy,
            credential: ctx.credential.take(),
            body: crate::body::verify::ClientBody::empty(),
            form: None,
        },
        keys,
    )
    .await;
    let outcome = match &result {
        Ok(r) if r.status().is_success() => "ok",
        Ok(_) => "refused by the backend",
        Err(e) => e.code.as_str(),
    };
    crate::audit::encryption_update(&bucket, &key, &from, &new.kms_key, outcome);
    let resp = result?;
    if resp.status() == StatusCode::PRECONDITION_FAILED {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "The object changed while its encryption was being updated; try again.",
        ));
    }
    if !resp.status().is_success() {
        return Ok(resp);
    }
    let mut out = response::status(StatusCode::OK);
    if let Some(v) = resp.headers().get("x-amz-version-id") {
        out.headers_mut().insert("x-amz-version-id", v.clone());
    }
    Ok(out)
}

/// The CopyObject of `key` onto itself under `new`, conditional on the client ETag `if_match`, keeping the
/// object's encryption context.
fn self_copy_request(
    bucket: &str,
    key: &str,
    new: &NewEncryption,
    context: Option<&[u8]>,
    if_match: &str,
) -> Result<crate::s3::request::S3Request, S3Error> {
    let mut req = crate::rekey::self_copy_request(bucket, key)?;
    let h = &mut req.parts.headers;
    let value = |v: &str| {
        HeaderValue::from_str(v).map_err(|_| S3Error::new(S3ErrorCode::InvalidArgument, "Invalid KMS key id"))
    };
    h.insert("x-amz-server-side-encryption", HeaderValue::from_static("aws:kms"));
    h.insert("x-amz-server-side-encryption-aws-kms-key-id", value(&new.kms_key)?);
    if let Some(b) = new.bucket_key {
        h.insert(
            "x-amz-server-side-encryption-bucket-key-enabled",
            HeaderValue::from_static(if b { "true" } else { "false" }),
        );
    }
    if let Some(ctx) = context {
        h.insert(
            "x-amz-server-side-encryption-context",
            crate::rekey::context_value(ctx)?,
        );
    }
    h.insert("x-amz-copy-source-if-match", value(if_match)?);
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(inner: &str) -> String {
        format!("<ObjectEncryption xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">{inner}</ObjectEncryption>")
    }

    /// The request document as botocore serialises it, and each refusal AWS documents for it.
    #[test]
    fn request_documents_as_aws_reads_them() {
        let ok = doc(
            "<SSE-KMS><KMSKeyArn>arn:aws:kms:r:1:key/k</KMSKeyArn><BucketKeyEnabled>true</BucketKeyEnabled></SSE-KMS>",
        );
        assert_eq!(
            parse(ok.as_bytes()).unwrap(),
            NewEncryption {
                kms_key: "arn:aws:kms:r:1:key/k".into(),
                bucket_key: Some(true)
            }
        );
        let no_bk = doc("<SSE-KMS><KMSKeyArn>k</KMSKeyArn></SSE-KMS>");
        assert_eq!(parse(no_bk.as_bytes()).unwrap().bucket_key, None);
        let cases = [
            (
                doc("<SSE-KMS><BucketKeyEnabled>true</BucketKeyEnabled></SSE-KMS>"),
                "InvalidRequest",
                "require an AWS KMS key",
            ),
            (
                doc("<SSE-KMS><KMSKeyArn> </KMSKeyArn></SSE-KMS>"),
                "InvalidRequest",
                "require an AWS KMS key",
            ),
            (
                doc("<SSE-KMS><KMSKeyArn>k</KMSKeyArn><BucketKeyEnabled>yes</BucketKeyEnabled></SSE-KMS>"),
                "InvalidRequest",
                "BucketKeyEnabled value",
            ),
            (doc("<SSE-C/>"), "InvalidRequest", "to DSSE-KMS or SSE-C"),
            (doc("<SSE-S3/>"), "InvalidRequest", "valid new encryption type"),
            (doc(""), "InvalidRequest", "valid new encryption type"),
            ("<Other/>".to_owned(), "MalformedXML", "not well-formed"),
            (
                "<ObjectEncryption><SSE-KMS>".to_owned(),
                "MalformedXML",
                "not well-formed",
            ),
        ];
        for (d, code, msg) in cases {
            let e = parse(d.as_bytes()).unwrap_err();
            assert_eq!((e.code.as_str(), e.code.status().as_u16()), (code, 400), "{d}");
            assert!(e.message.contains(msg), "{d}: {}", e.message);
        }
        assert_eq!(parse(&[0xff, 0xfe]).unwrap_err().code, S3ErrorCode::MalformedXML);
    }
}
