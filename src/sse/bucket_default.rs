//! Put/Get/DeleteBucketEncryption, answered by the gateway (the backend may not support them and must not be the
//! one enforcing them) and stored in the backend as `.s3-sse-proxy/encryption.xml`, so every instance sees the
//! same setting. As on S3 since 2023, a bucket without a configuration reports SSE-S3 (`AES256`) — which is what
//! the gateway applies to every object written without SSE headers.
//!
//! A rule may also carry S3's `<BlockedEncryptionTypes>` (`SSE-C` or `NONE`): a bucket that blocks SSE-C refuses
//! writes that ask for it with 403 `AccessDenied` (PutObject, CopyObject, CreateMultipartUpload, UploadPart,
//! UploadPartCopy), while its SSE-C objects stay readable. With `[sse] block_sse_c_by_default` (as S3 does for new
//! buckets since April 2026) SSE-C is blocked unless the configuration says `NONE`, and GetBucketEncryption
//! reports the block; without it (the default), only a stored `SSE-C` blocks.

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
            // `aws:kms:dsse` included: refused as PutObject refuses it, nothing stored.
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

/// Whether a bucket with this stored configuration (or none) blocks SSE-C writes: a stored `SSE-C` blocks, a
/// stored `NONE` allows; otherwise `by_default` decides.
pub fn blocks_sse_c(config: Option<&[u8]>, by_default: bool) -> bool {
    let text = config.and_then(|c| std::str::from_utf8(c).ok()).unwrap_or("");
    let types = blocked_types(text);
    if types.contains(&"SSE-C") {
        true
    } else if types.contains(&"NONE") {
        false
    } else {
        by_default
    }
}

/// The GetBucketEncryption answer for a bucket with this stored configuration (or none): the stored document, or
/// S3's default rule; when SSE-C is blocked only by default, with the `<BlockedEncryptionTypes>` S3 shows for it.
pub fn reported(config: Option<&[u8]>, by_default: bool) -> Vec<u8> {
    let doc = config.unwrap_or(DEFAULT_CONFIG.as_bytes());
    let implicit = by_default
        && std::str::from_utf8(doc)
            .is_ok_and(|text| blocked_types(text).is_empty() && !text.contains("<BlockedEncryptionTypes"));
    match std::str::from_utf8(doc) {
        Ok(text) if implicit => text
            .replacen(
                "</Rule>",
                "<BlockedEncryptionTypes><EncryptionType>SSE-C</EncryptionType></BlockedEncryptionTypes></Rule>",
                1,
            )
            .into_bytes(),
        _ => doc.to_vec(),
    }
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
        assert_eq!(
            validate(dsse.as_bytes()).unwrap_err().code,
            S3ErrorCode::InvalidArgument
        );
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
        let none = with("<EncryptionType>NONE</EncryptionType>");
        assert!(validate(none.as_bytes()).is_ok());
        // An `EncryptionType` outside `BlockedEncryptionTypes` blocks nothing.
        let stray = DEFAULT_CONFIG.replace("</Rule>", "<EncryptionType>SSE-C</EncryptionType></Rule>");
        let empty = with("");
        // (configuration, blocked without the switch, blocked with `block_sse_c_by_default`)
        let cases: [(Option<&str>, bool, bool); 6] = [
            (None, false, true),
            (Some(DEFAULT_CONFIG), false, true),
            (Some(&blocked), true, true),
            (Some(&none), false, false),
            (Some(&empty), false, true),
            (Some(&stray), false, true),
        ];
        for (config, off, on) in cases {
            let config = config.map(str::as_bytes);
            assert_eq!(blocks_sse_c(config, false), off, "{config:?}");
            assert_eq!(blocks_sse_c(config, true), on, "{config:?}");
        }
        let other = with("<EncryptionType>SSE-KMS</EncryptionType>");
        assert_eq!(validate(other.as_bytes()).unwrap_err().code, S3ErrorCode::MalformedXML);
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

    /// GetBucketEncryption states a block that comes only from `block_sse_c_by_default`, in the place S3's
    /// schema gives it (after `BucketKeyEnabled`), and leaves a stored choice as stored.
    #[test]
    fn reported_configuration() {
        let implicit = DEFAULT_CONFIG.replace(
            "</Rule>",
            "<BlockedEncryptionTypes><EncryptionType>SSE-C</EncryptionType></BlockedEncryptionTypes></Rule>",
        );
        assert_eq!(reported(None, false), DEFAULT_CONFIG.as_bytes());
        assert_eq!(reported(None, true), implicit.as_bytes());
        assert_eq!(reported(Some(DEFAULT_CONFIG.as_bytes()), true), implicit.as_bytes());
        let none = DEFAULT_CONFIG.replace(
            "</Rule>",
            "<BlockedEncryptionTypes><EncryptionType>NONE</EncryptionType></BlockedEncryptionTypes></Rule>",
        );
        assert_eq!(reported(Some(none.as_bytes()), true), none.as_bytes());
        assert_eq!(reported(Some(implicit.as_bytes()), false), implicit.as_bytes());
        let kms = DEFAULT_CONFIG.replace("AES256", "aws:kms");
        assert_eq!(reported(Some(kms.as_bytes()), false), kms.as_bytes());
    }
}
