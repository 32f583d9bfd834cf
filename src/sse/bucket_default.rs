//! Put/Get/DeleteBucketEncryption, answered by the gateway (the backend may not support them and must not be the
//! one enforcing them) and stored in the backend as `.s3-sse-proxy/encryption.xml`, so every instance sees the
//! same setting. As on S3 since 2023, a bucket without a configuration reports SSE-S3 (`AES256`) — which is what
//! the gateway applies to every object written without SSE headers.
//!
//! A rule may also carry S3's `<BlockedEncryptionTypes>` (`SSE-C` or `NONE`): a bucket that blocks SSE-C refuses
//! writes that ask for it with 403 `AccessDenied` (PutObject, CopyObject, CreateMultipartUpload, UploadPart,
//! UploadPartCopy), while its SSE-C objects stay readable. Unlike S3 since April 2026, a bucket without a
//! configuration does not block SSE-C.

use crate::error::{S3Error, S3ErrorCode};
use crate::sse::request::SseRequest;

/// The configuration S3 reports for a bucket that has none.
pub const DEFAULT_CONFIG: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<ServerSideEncryptionConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Rule>\
<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault>\
<BucketKeyEnabled>false</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>";

/// Validate a PutBucketEncryption document; returns it to be stored as given.
pub fn validate(xml: &[u8]) -> Result<(), S3Error> {
    let malformed = || {
        S3Error::new(
            S3ErrorCode::MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema",
        )
    };
    let text = std::str::from_utf8(xml).map_err(|_| malformed())?;
    if !text.contains("<ServerSideEncryptionConfiguration") {
        return Err(malformed());
    }
    let algorithms: Vec<&str> = text
        .split("<SSEAlgorithm>")
        .skip(1)
        .filter_map(|rest| rest.split_once("</SSEAlgorithm>").map(|(a, _)| a.trim()))
        .collect();
    if algorithms.is_empty() {
        return Err(malformed());
    }
    for a in algorithms {
        match a {
            "AES256" => {}
            "aws:kms" => {}
            "aws:kms:dsse" => {
                return Err(S3Error::new(
                    S3ErrorCode::NotImplemented,
                    "Dual-layer SSE-KMS (aws:kms:dsse) is not supported by this gateway; use aws:kms.",
                ));
            }
            _ => {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidArgument,
                    "The encryption method specified is not supported",
                ));
            }
        }
    }
    validate_blocked_types(text)
}

/// The text of the first `<tag>…</tag>` in `text`, trimmed.
fn element<'a>(text: &'a str, tag: &str) -> Option<&'a str> {
    let (_, rest) = text.split_once(&format!("<{tag}>"))?;
    rest.split_once(&format!("</{tag}>")).map(|(v, _)| v.trim())
}

/// What a stored configuration applies to a write, given what the request asked for: a request without SSE
/// headers gets the bucket's default (`AES256`, or `aws:kms` with its `KMSMasterKeyID` and `BucketKeyEnabled`);
/// an `aws:kms` request that does not say whether to use a bucket key follows the bucket's `BucketKeyEnabled`.
/// Without a configuration: SSE-S3, as S3 does since 2023.
pub fn apply_default(config: Option<&[u8]>, requested: SseRequest) -> SseRequest {
    let text = config.and_then(|c| std::str::from_utf8(c).ok()).unwrap_or("");
    let bucket_key = element(text, "BucketKeyEnabled").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    match requested {
        SseRequest::Unspecified => match element(text, "SSEAlgorithm") {
            Some("aws:kms") => SseRequest::Kms {
                key_id: element(text, "KMSMasterKeyID")
                    .filter(|k| !k.is_empty())
                    .map(str::to_owned),
                context: None,
                bucket_key: Some(bucket_key),
            },
            _ => SseRequest::S3,
        },
        SseRequest::Kms {
            key_id,
            context,
            bucket_key: None,
        } => SseRequest::Kms {
            key_id,
            context,
            bucket_key: Some(bucket_key),
        },
        other => other,
    }
}

/// The `<EncryptionType>` values inside `<BlockedEncryptionTypes>` elements.
fn blocked_types(text: &str) -> Vec<&str> {
    text.split("<BlockedEncryptionTypes>")
        .skip(1)
        .filter_map(|rest| rest.split_once("</BlockedEncryptionTypes>").map(|(inner, _)| inner))
        .flat_map(|inner| {
            inner
                .split("<EncryptionType>")
                .skip(1)
                .filter_map(|rest| rest.split_once("</EncryptionType>").map(|(t, _)| t.trim()))
        })
        .collect()
}

/// S3 knows two blocked encryption types: `SSE-C` and `NONE` (nothing blocked).
fn validate_blocked_types(text: &str) -> Result<(), S3Error> {
    if blocked_types(text).iter().all(|t| matches!(*t, "SSE-C" | "NONE")) {
        Ok(())
    } else {
        Err(S3Error::new(
            S3ErrorCode::MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema",
        ))
    }
}

/// Whether a stored configuration blocks SSE-C writes.
pub fn blocks_sse_c(config: &[u8]) -> bool {
    std::str::from_utf8(config).is_ok_and(|text| blocked_types(text).contains(&"SSE-C"))
}

/// S3's answer to an SSE-C write into a bucket that blocks SSE-C (its message names the requester, the action
/// and the object).
pub fn sse_c_blocked(principal: &str, action: &str, bucket: &str, key: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::AccessDenied,
        format!(
            "User: {principal} is not authorized to perform: {action} on resource: \"arn:aws:s3:::{bucket}/{key}\" \
             because this bucket has blocked upload requests that specify Server Side Encryption with Customer \
             provided keys (SSE-C). Please specify a different server-side encryption type"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_as_aws_documents_them() {
        assert!(validate(DEFAULT_CONFIG.as_bytes()).is_ok());
        let kms = DEFAULT_CONFIG.replace("AES256", "aws:kms");
        assert!(validate(kms.as_bytes()).is_ok());
        let dsse = DEFAULT_CONFIG.replace("AES256", "aws:kms:dsse");
        assert_eq!(validate(dsse.as_bytes()).unwrap_err().code, S3ErrorCode::NotImplemented);
        assert_eq!(validate(b"<x/>").unwrap_err().code, S3ErrorCode::MalformedXML);
        let des = DEFAULT_CONFIG.replace("AES256", "DES");
        assert_eq!(validate(des.as_bytes()).unwrap_err().code, S3ErrorCode::InvalidArgument);
    }

    #[test]
    fn defaults_apply_to_writes_as_s3_applies_them() {
        let kms = |bk: bool| match apply_default(
            Some(
                DEFAULT_CONFIG
                    .replace(
                        "<SSEAlgorithm>AES256</SSEAlgorithm>",
                        "<SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>alias/b</KMSMasterKeyID>",
                    )
                    .replace("<BucketKeyEnabled>false", &format!("<BucketKeyEnabled>{bk}"))
                    .as_bytes(),
            ),
            SseRequest::Unspecified,
        ) {
            SseRequest::Kms { key_id, bucket_key, .. } => (key_id, bucket_key),
            other => panic!("{other:?}"),
        };
        assert_eq!(kms(true), (Some("alias/b".to_owned()), Some(true)));
        assert_eq!(kms(false), (Some("alias/b".to_owned()), Some(false)));
        assert!(matches!(apply_default(None, SseRequest::Unspecified), SseRequest::S3));
        assert!(matches!(
            apply_default(Some(DEFAULT_CONFIG.as_bytes()), SseRequest::Unspecified),
            SseRequest::S3
        ));
        // An explicit request wins; only an unsaid bucket-key choice follows the bucket.
        let with_bk = DEFAULT_CONFIG.replace("<BucketKeyEnabled>false", "<BucketKeyEnabled>true");
        let asked = SseRequest::Kms {
            key_id: Some("k".into()),
            context: None,
            bucket_key: None,
        };
        match apply_default(Some(with_bk.as_bytes()), asked) {
            SseRequest::Kms { key_id, bucket_key, .. } => {
                assert_eq!((key_id.as_deref(), bucket_key), (Some("k"), Some(true)))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            apply_default(Some(with_bk.as_bytes()), SseRequest::S3),
            SseRequest::S3
        ));
    }

    /// `<BlockedEncryptionTypes>` as the PutBucketEncryption API reference states it: valid values `NONE` and
    /// `SSE-C`; only `SSE-C` blocks.
    #[test]
    fn blocked_encryption_types() {
        let with = |types: &str| {
            DEFAULT_CONFIG.replace(
                "</Rule>",
                &format!("<BlockedEncryptionTypes>{types}</BlockedEncryptionTypes></Rule>"),
            )
        };
        let blocked = with("<EncryptionType>SSE-C</EncryptionType>");
        assert!(validate(blocked.as_bytes()).is_ok());
        assert!(blocks_sse_c(blocked.as_bytes()));
        let none = with("<EncryptionType>NONE</EncryptionType>");
        assert!(validate(none.as_bytes()).is_ok());
        assert!(!blocks_sse_c(none.as_bytes()));
        assert!(!blocks_sse_c(DEFAULT_CONFIG.as_bytes()));
        assert!(!blocks_sse_c(with("").as_bytes()));
        let other = with("<EncryptionType>SSE-KMS</EncryptionType>");
        assert_eq!(validate(other.as_bytes()).unwrap_err().code, S3ErrorCode::MalformedXML);
        // An `EncryptionType` outside `BlockedEncryptionTypes` blocks nothing.
        let stray = DEFAULT_CONFIG.replace("</Rule>", "<EncryptionType>SSE-C</EncryptionType></Rule>");
        assert!(!blocks_sse_c(stray.as_bytes()));
        let e = sse_c_blocked("alice", "s3:PutObject", "b", "k/1");
        assert_eq!((e.code, e.code.status().as_u16()), (S3ErrorCode::AccessDenied, 403));
        assert!(
            e.message.starts_with(
                "User: alice is not authorized to perform: s3:PutObject on resource: \"arn:aws:s3:::b/k/1\" because"
            ),
            "{}",
            e.message
        );
    }
}
