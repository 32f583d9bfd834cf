//! The SSE request headers, parsed once, with AWS's errors: `x-amz-server-side-encryption` (+ KMS key id,
//! context, bucket key) and the SSE-C triple (algorithm, key, key MD5), also in their `x-amz-copy-source-` form.
//! A customer key is held in a zeroizing type and never appears in an error message or log.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use http::{HeaderMap, HeaderName};
use md5::{Digest, Md5};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{S3Error, S3ErrorCode};
use crate::s3::operation::Operation;

/// An SSE-C customer key (32 bytes), with the base64 MD5 the client sent (echoed back in responses).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct CustomerKey {
    key: [u8; 32],
    #[zeroize(skip)]
    pub key_md5: String,
}

impl CustomerKey {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.key
    }
}

impl fmt::Debug for CustomerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CustomerKey(<redacted>)")
    }
}

/// What the client asked for.
#[derive(Debug, Clone)]
pub enum SseRequest {
    /// No SSE header (the bucket default, else SSE-S3, applies).
    Unspecified,
    /// `AES256`.
    S3,
    /// `aws:kms`.
    Kms {
        key_id: Option<String>,
        context: Option<String>,
        bucket_key: Option<bool>,
    },
    /// SSE-C.
    Customer(CustomerKey),
}

/// Unlike `s3::request::header_str`, a value that is not visible ASCII is present (and invalid), never absent:
/// a garbled SSE header must be refused, not ignored.
fn header<'a>(h: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    h.get(name).map(|v| v.to_str().unwrap_or("\u{0}"))
}

const SSE: HeaderName = HeaderName::from_static("x-amz-server-side-encryption");
const KMS_KEY_ID: HeaderName = HeaderName::from_static("x-amz-server-side-encryption-aws-kms-key-id");
const KMS_CONTEXT: HeaderName = HeaderName::from_static("x-amz-server-side-encryption-context");
const BUCKET_KEY: HeaderName = HeaderName::from_static("x-amz-server-side-encryption-bucket-key-enabled");

/// The names of an SSE-C triple (the object's own, or a copy source's). Constants: a lookup by `&str` parses the
/// name first, and these are looked up in every request.
struct CustomerHeaders {
    algorithm: HeaderName,
    key: HeaderName,
    md5: HeaderName,
}

const CUSTOMER: CustomerHeaders = CustomerHeaders {
    algorithm: HeaderName::from_static("x-amz-server-side-encryption-customer-algorithm"),
    key: HeaderName::from_static("x-amz-server-side-encryption-customer-key"),
    md5: HeaderName::from_static("x-amz-server-side-encryption-customer-key-md5"),
};

const COPY_SOURCE_CUSTOMER: CustomerHeaders = CustomerHeaders {
    algorithm: HeaderName::from_static("x-amz-copy-source-server-side-encryption-customer-algorithm"),
    key: HeaderName::from_static("x-amz-copy-source-server-side-encryption-customer-key"),
    md5: HeaderName::from_static("x-amz-copy-source-server-side-encryption-customer-key-md5"),
};

fn invalid_argument(msg: &'static str) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidArgument, msg)
}

/// Parse the SSE-C triple named by `names` (the object's own, or a copy source's).
fn customer_key(h: &HeaderMap, names: &CustomerHeaders) -> Result<Option<CustomerKey>, S3Error> {
    let alg = header(h, &names.algorithm);
    let key = header(h, &names.key);
    let md5 = header(h, &names.md5);
    if alg.is_none() && key.is_none() && md5.is_none() {
        return Ok(None);
    }
    let Some(alg) = alg else {
        return Err(invalid_argument(
            "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption \
             algorithm.",
        ));
    };
    if alg != "AES256" {
        return Err(S3Error::new(
            S3ErrorCode::InvalidEncryptionAlgorithmError,
            "The encryption request that you specified is not valid. The valid value is AES256.",
        ));
    }
    let Some(key) = key else {
        return Err(invalid_argument(
            "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate \
             secret key.",
        ));
    };
    let Some(md5) = md5 else {
        return Err(invalid_argument(
            "Requests specifying Server Side Encryption with Customer provided keys must provide the client \
             calculated MD5 of the secret key.",
        ));
    };
    let mut raw = zeroize::Zeroizing::new(
        B64.decode(key)
            .map_err(|_| invalid_argument("The secret key was invalid for the specified algorithm."))?,
    );
    let bytes: [u8; 32] = raw
        .as_slice()
        .try_into()
        .map_err(|_| invalid_argument("The secret key was invalid for the specified algorithm."))?;
    let computed = B64.encode(Md5::digest(bytes));
    raw.zeroize();
    if computed != md5 {
        let mut b = bytes;
        b.zeroize();
        return Err(invalid_argument(
            "The calculated MD5 hash of the key did not match the hash that was provided.",
        ));
    }
    Ok(Some(CustomerKey {
        key: bytes,
        key_md5: computed,
    }))
}

/// The SSE-C key of a request that reads an existing object (GetObject, HeadObject, GetObjectAttributes): the
/// object's encryption is its own, so any other SSE header is refused, as S3 does.
pub fn customer_for_read(h: &HeaderMap) -> Result<Option<CustomerKey>, S3Error> {
    match parse(h)? {
        SseRequest::Unspecified => Ok(None),
        SseRequest::Customer(c) => Ok(Some(c)),
        _ => Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            "x-amz-server-side-encryption header is not supported for this operation.",
        )),
    }
}

/// The destination / object SSE request of a PUT, POST, Create, Copy, GET or HEAD.
pub fn parse(h: &HeaderMap) -> Result<SseRequest, S3Error> {
    let customer = customer_key(h, &CUSTOMER)?;
    let sse = header(h, &SSE);
    let kms_headers = h.contains_key(KMS_KEY_ID) || h.contains_key(KMS_CONTEXT);
    match (sse, customer) {
        (Some(_), Some(_)) => Err(invalid_argument(
            "Server Side Encryption with Customer provided key is incompatible with the encryption method specified",
        )),
        // SSE-KMS's own headers without `aws:kms` (none, AES256, or with SSE-C): S3 refuses them, nothing is
        // stored.
        (None | Some("AES256"), _) if kms_headers => Err(invalid_argument(
            "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption \
                 : aws:kms",
        )),
        (None, Some(c)) => Ok(SseRequest::Customer(c)),
        (None, None) => Ok(SseRequest::Unspecified),
        (Some("AES256"), None) => Ok(SseRequest::S3),
        (Some("aws:kms"), None) => Ok(SseRequest::Kms {
            key_id: header(h, &KMS_KEY_ID).map(str::to_owned),
            context: header(h, &KMS_CONTEXT).map(str::to_owned),
            bucket_key: header(h, &BUCKET_KEY).map(|v| v.eq_ignore_ascii_case("true")),
        }),
        // Any other value, `aws:kms:dsse` (dual-layer SSE-KMS, not offered here) included: S3's answer to an
        // encryption method it does not support (400, nothing written).
        (Some(_), None) => Err(invalid_argument("The encryption method specified is not supported")),
    }
}

/// The SSE-C key of a copy source (`x-amz-copy-source-server-side-encryption-customer-*`).
pub fn parse_copy_source(h: &HeaderMap) -> Result<Option<CustomerKey>, S3Error> {
    customer_key(h, &COPY_SOURCE_CUSTOMER)
}

/// Request headers that carry SSE parameters: never forwarded to the backend.
/// S3's answer to SSE-KMS without a signed request: the KMS acts for an identity, and there is none.
pub fn kms_needs_identity() -> S3Error {
    invalid_argument(
        "Requests specifying Server Side Encryption with AWS KMS managed keys require AWS Signature Version 4.",
    )
}

/// What a request without credentials may not ask for: SSE-KMS (it needs an identity for the KMS) and SSE-C (the
/// gateway takes customer keys only from callers it knows).
pub fn check_anonymous(headers: &HeaderMap) -> Result<(), S3Error> {
    let kms = header(headers, &SSE).is_some_and(|v| v.starts_with("aws:kms"))
        || headers.contains_key(KMS_KEY_ID)
        || headers.contains_key(KMS_CONTEXT);
    if kms {
        return Err(kms_needs_identity());
    }
    if headers
        .keys()
        .any(|n| n.as_str().contains("server-side-encryption-customer-"))
    {
        return Err(S3Error::access_denied_msg(
            "Requests with customer-provided encryption keys need credentials.",
        ));
    }
    Ok(())
}

pub fn is_sse_header(name: &str) -> bool {
    name.starts_with("x-amz-server-side-encryption") || name.starts_with("x-amz-copy-source-server-side-encryption")
}

/// SSE-C keys must never travel in clear (S3 answers 400 InvalidRequest). Checked where requests are
/// classified, even though the only S3 listener is HTTPS. Operations whose SSE support is not built yet refuse
/// SSE headers rather than forward a customer key or store an object unencrypted; clients may not set the
/// gateway's envelope header.
pub fn check_headers(op: Operation, headers: &HeaderMap, secure: bool) -> Result<(), S3Error> {
    let sse_c = headers.keys().any(|n| {
        let n = n.as_str();
        n.starts_with("x-amz-server-side-encryption-customer-")
            || n.starts_with("x-amz-copy-source-server-side-encryption-customer-")
    });
    if sse_c && !secure {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure \
             connection.",
        ));
    }
    let any_sse = headers.keys().any(|n| is_sse_header(n.as_str()));
    let sse_ops = [
        Operation::PutObject,
        Operation::PostObject,
        Operation::GetObject,
        Operation::HeadObject,
        Operation::GetObjectAttributes,
        Operation::CreateMultipartUpload,
        Operation::UploadPart,
        Operation::UploadPartCopy,
        Operation::CopyObject,
        Operation::CompleteMultipartUpload,
        Operation::ListParts,
        Operation::AbortMultipartUpload,
    ];
    if any_sse && !sse_ops.contains(&op) {
        return Err(S3Error::new(
            S3ErrorCode::NotImplemented,
            format!(
                "Server-side encryption headers are not supported for {} yet.",
                op.as_str()
            ),
        ));
    }
    if headers.contains_key(super::ENVELOPE_HEADER) {
        return Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            format!(
                "The metadata header {} is reserved by the gateway.",
                super::ENVELOPE_HEADER
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn h(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        m
    }

    fn code(r: Result<SseRequest, S3Error>) -> &'static str {
        r.err().map_or("ok", |e| e.code.as_str())
    }

    #[test]
    fn sse_c_headers_as_aws_checks_them() {
        let key = B64.encode([7u8; 32]);
        let md5 = B64.encode(Md5::digest([7u8; 32]));
        let alg = ("x-amz-server-side-encryption-customer-algorithm", "AES256");
        let k = ("x-amz-server-side-encryption-customer-key", key.as_str());
        let m = ("x-amz-server-side-encryption-customer-key-md5", md5.as_str());
        assert!(matches!(parse(&h(&[alg, k, m])), Ok(SseRequest::Customer(_))));
        assert_eq!(code(parse(&h(&[k, m]))), "InvalidArgument");
        assert_eq!(code(parse(&h(&[alg, m]))), "InvalidArgument");
        assert_eq!(code(parse(&h(&[alg, k]))), "InvalidArgument");
        let short = B64.encode([7u8; 16]);
        assert_eq!(
            code(parse(&h(&[
                alg,
                ("x-amz-server-side-encryption-customer-key", &short),
                m
            ]))),
            "InvalidArgument"
        );
        let bad_md5 = B64.encode(Md5::digest([8u8; 32]));
        assert_eq!(
            code(parse(&h(&[
                alg,
                k,
                ("x-amz-server-side-encryption-customer-key-md5", &bad_md5)
            ]))),
            "InvalidArgument"
        );
        assert_eq!(
            code(parse(&h(&[
                ("x-amz-server-side-encryption-customer-algorithm", "AES128"),
                k,
                m
            ]))),
            "InvalidEncryptionAlgorithmError"
        );
        assert_eq!(
            code(parse(&h(&[alg, k, m, ("x-amz-server-side-encryption", "AES256")]))),
            "InvalidArgument"
        );
        let e = parse(&h(&[alg, ("x-amz-server-side-encryption-customer-key", &short), m])).unwrap_err();
        assert!(!e.message.contains(&short));
    }

    #[test]
    fn sse_values() {
        assert!(matches!(
            parse(&h(&[("x-amz-server-side-encryption", "AES256")])),
            Ok(SseRequest::S3)
        ));
        assert!(matches!(
            parse(&h(&[("x-amz-server-side-encryption", "aws:kms")])),
            Ok(SseRequest::Kms { .. })
        ));
        for unsupported in ["DES", "aws:kms:dsse", "aws:kms ", "AES-256", ""] {
            let e = parse(&h(&[("x-amz-server-side-encryption", unsupported)])).unwrap_err();
            assert_eq!(
                (e.code.as_str(), e.code.status().as_u16(), e.message.as_ref()),
                (
                    "InvalidArgument",
                    400,
                    "The encryption method specified is not supported"
                ),
                "{unsupported:?}"
            );
        }
        assert!(matches!(parse(&HeaderMap::new()), Ok(SseRequest::Unspecified)));
    }
}

#[cfg(test)]
mod header_checks {
    use super::*;
    use crate::s3::operation::Operation;
    use http::HeaderValue;

    /// The classifier refuses SSE-C keys on any request that did not arrive over TLS (S3: 400 InvalidRequest,
    /// with S3's message), even though the only S3 listener is HTTPS: for every operation that takes SSE-C
    /// headers, for any one of the three headers, and for the copy-source form.
    #[test]
    fn sse_c_over_plain_http_is_refused_where_requests_are_classified() {
        const INSECURE: &str = "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure \
             connection.";
        let ops = [
            Operation::PutObject,
            Operation::GetObject,
            Operation::HeadObject,
            Operation::CopyObject,
            Operation::CreateMultipartUpload,
            Operation::UploadPart,
            Operation::UploadPartCopy,
            Operation::CompleteMultipartUpload,
        ];
        for name in [
            "x-amz-server-side-encryption-customer-algorithm",
            "x-amz-server-side-encryption-customer-key",
            "x-amz-server-side-encryption-customer-key-md5",
            "x-amz-copy-source-server-side-encryption-customer-algorithm",
            "x-amz-copy-source-server-side-encryption-customer-key",
            "x-amz-copy-source-server-side-encryption-customer-key-md5",
        ] {
            let mut h = HeaderMap::new();
            h.insert(name, HeaderValue::from_static("AES256"));
            for op in ops {
                let e = check_headers(op, &h, false).unwrap_err();
                assert_eq!(
                    (e.code, e.code.status().as_u16(), e.message.as_ref()),
                    (S3ErrorCode::InvalidRequest, 400, INSECURE),
                    "{} with {name} off TLS",
                    op.as_str()
                );
                assert!(
                    check_headers(op, &h, true).is_ok(),
                    "{} with {name} over TLS",
                    op.as_str()
                );
            }
        }
        // Other SSE headers are not refused off TLS (S3 accepts SSE-S3 over plain HTTP).
        let mut s3 = HeaderMap::new();
        s3.insert("x-amz-server-side-encryption", HeaderValue::from_static("AES256"));
        assert!(check_headers(Operation::PutObject, &s3, false).is_ok());
        // Clients may not set the gateway's own envelope header.
        let mut env = HeaderMap::new();
        env.insert(super::super::ENVELOPE_HEADER, HeaderValue::from_static("v=1"));
        assert_eq!(
            check_headers(Operation::PutObject, &env, true).unwrap_err().code,
            S3ErrorCode::InvalidArgument
        );
    }
}
