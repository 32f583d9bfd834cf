//! Put/Get/DeleteBucketEncryption, answered by the gateway (the backend may not support them and must not be the
//! one enforcing them) and stored in the backend as `.s3-sse-proxy/encryption.xml`, so every instance sees the
//! same setting. As on S3 since 2023, a bucket without a configuration reports SSE-S3 (`AES256`) — which is what
//! the gateway applies to every object written without SSE headers.

use crate::error::{S3Error, S3ErrorCode};

pub const CONFIG_KEY: &str = ".s3-sse-proxy/encryption.xml";

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
            "aws:kms" | "aws:kms:dsse" => {
                return Err(S3Error::new(
                    S3ErrorCode::NotImplemented,
                    "SSE-KMS is not supported by this gateway yet.",
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_as_aws_documents_them() {
        assert!(validate(DEFAULT_CONFIG.as_bytes()).is_ok());
        let kms = DEFAULT_CONFIG.replace("AES256", "aws:kms");
        assert_eq!(validate(kms.as_bytes()).unwrap_err().code, S3ErrorCode::NotImplemented);
        assert_eq!(validate(b"<x/>").unwrap_err().code, S3ErrorCode::MalformedXML);
        let des = DEFAULT_CONFIG.replace("AES256", "DES");
        assert_eq!(validate(des.as_bytes()).unwrap_err().code, S3ErrorCode::InvalidArgument);
    }
}
