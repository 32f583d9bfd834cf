//! Key management for SSE-KMS: the [`Kms`] trait the gateway asks for data keys, and its implementations, one
//! module each: [`local`] (master keys in a key file: the embedded default), [`aws`] (the AWS KMS JSON API,
//! for AWS KMS and compatible servers) and [`kmip`] (OASIS KMIP over TLS: HSMs and enterprise key managers). The gateway never holds a KMS master key of a remote KMS; with the local
//! KMS the master keys live in the key file, apart from object data.
//!
//! Every call carries an encryption context (string → string); a blob only decrypts with the context it was
//! made with. Errors are [`KmsError`], mapped to the S3 errors AWS returns for SSE-KMS ([`KmsError::to_s3`]).

pub mod aws;
pub mod cache;
pub mod kmip;
pub mod local;

use std::collections::BTreeMap;
use std::future::Future;

use crate::crypto::keys::DataKey;
use crate::error::{S3Error, S3ErrorCode};

/// An encryption context: sorted, so its canonical form is unique.
pub type EncryptionContext = BTreeMap<String, String>;

/// A fresh data key and its KMS-encrypted form.
pub struct GeneratedKey {
    pub key: DataKey,
    pub blob: Vec<u8>,
    /// The key's ARN (what S3 reports in `x-amz-server-side-encryption-aws-kms-key-id`).
    pub key_arn: String,
}

/// A decrypted blob and the KMS key that had encrypted it.
pub struct DecryptedKey {
    pub key: DataKey,
    pub key_arn: String,
}

/// What `describe` tells about a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub key_id: String,
    pub arn: String,
    pub enabled: bool,
}

/// Why the KMS refused or could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KmsError {
    #[error("key not found: {0}")]
    NotFound(String),
    #[error("key disabled: {0}")]
    Disabled(String),
    #[error("access denied: {0}")]
    AccessDenied(String),
    /// The blob is not one this KMS made, was altered, or the context differs.
    #[error("invalid ciphertext")]
    InvalidCiphertext,
    #[error("KMS unavailable: {0}")]
    Unavailable(String),
    #[error("KMS error: {0}")]
    Other(String),
}

impl KmsError {
    /// The S3 error a client sees, as AWS S3 reports KMS failures.
    pub fn to_s3(&self) -> S3Error {
        match self {
            Self::NotFound(id) => S3Error::new(S3ErrorCode::KmsNotFound, format!("Invalid keyId {id}")),
            Self::Disabled(arn) => S3Error::new(S3ErrorCode::KmsDisabled, format!("{arn} is disabled.")),
            Self::AccessDenied(_) | Self::InvalidCiphertext => S3Error::access_denied(),
            Self::Unavailable(_) => S3Error::new(
                S3ErrorCode::ServiceUnavailable,
                "The key management service is unavailable. Please retry.",
            ),
            Self::Other(e) => S3Error::internal(format!("KMS: {e}")),
        }
    }

    /// A short, bounded label for metrics and the audit trail.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "NotFound",
            Self::Disabled(_) => "Disabled",
            Self::AccessDenied(_) => "AccessDenied",
            Self::InvalidCiphertext => "InvalidCiphertext",
            Self::Unavailable(_) => "Unavailable",
            Self::Other(_) => "Other",
        }
    }
}

/// A key management service. Key ids may be a key id, a key ARN, an alias name (`alias/…`) or an alias ARN.
pub trait Kms: Send + Sync {
    /// A fresh 256-bit data key under `key_id`, bound to `context`.
    fn generate_data_key(
        &self,
        key_id: &str,
        context: &EncryptionContext,
    ) -> impl Future<Output = Result<GeneratedKey, KmsError>> + Send;
    /// Encrypt an existing data key under `key_id` (re-wrapping on copy and re-key).
    fn encrypt(
        &self,
        key_id: &str,
        key: &DataKey,
        context: &EncryptionContext,
    ) -> impl Future<Output = Result<GeneratedKeyBlob, KmsError>> + Send;
    /// Decrypt a blob made by `generate_data_key` or `encrypt` with the same context.
    fn decrypt(
        &self,
        blob: &[u8],
        context: &EncryptionContext,
    ) -> impl Future<Output = Result<DecryptedKey, KmsError>> + Send;
    /// Resolve a key id or alias: its ARN and state.
    fn describe(&self, key_id: &str) -> impl Future<Output = Result<KeyInfo, KmsError>> + Send;
}

/// An encrypted data key and the key's ARN.
pub struct GeneratedKeyBlob {
    pub blob: Vec<u8>,
    pub key_arn: String,
}

/// The configured KMS (enum dispatch: one variant per implementation).
pub enum KmsClient {
    Local(local::LocalKms),
    /// Boxed: the pooled HTTP client makes it large.
    Aws(Box<aws::AwsKms>),
    Kmip(kmip::KmipKms),
}

impl KmsClient {
    /// The implementation's name, for logs and `/readyz`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Local(_) => "local",
            Self::Aws(_) => "aws",
            Self::Kmip(_) => "kmip",
        }
    }
}

impl Kms for KmsClient {
    async fn generate_data_key(&self, key_id: &str, context: &EncryptionContext) -> Result<GeneratedKey, KmsError> {
        match self {
            Self::Local(k) => k.generate_data_key(key_id, context).await,
            Self::Aws(k) => k.generate_data_key(key_id, context).await,
            Self::Kmip(k) => k.generate_data_key(key_id, context).await,
        }
    }
    async fn encrypt(
        &self,
        key_id: &str,
        key: &DataKey,
        context: &EncryptionContext,
    ) -> Result<GeneratedKeyBlob, KmsError> {
        match self {
            Self::Local(k) => k.encrypt(key_id, key, context).await,
            Self::Aws(k) => k.encrypt(key_id, key, context).await,
            Self::Kmip(k) => k.encrypt(key_id, key, context).await,
        }
    }
    async fn decrypt(&self, blob: &[u8], context: &EncryptionContext) -> Result<DecryptedKey, KmsError> {
        match self {
            Self::Local(k) => k.decrypt(blob, context).await,
            Self::Aws(k) => k.decrypt(blob, context).await,
            Self::Kmip(k) => k.decrypt(blob, context).await,
        }
    }
    async fn describe(&self, key_id: &str) -> Result<KeyInfo, KmsError> {
        match self {
            Self::Local(k) => k.describe(key_id).await,
            Self::Aws(k) => k.describe(key_id).await,
            Self::Kmip(k) => k.describe(key_id).await,
        }
    }
}

/// Parse `x-amz-server-side-encryption-context`: base64 of a JSON object whose values are strings.
pub fn parse_context_header(value: &str) -> Result<EncryptionContext, S3Error> {
    use base64::Engine;
    let invalid = || {
        S3Error::new(
            S3ErrorCode::InvalidArgument,
            "The header 'x-amz-server-side-encryption-context' shall be Base64-encoded UTF-8 string holding JSON \
             which represents a string-string map",
        )
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|_| invalid())?;
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&raw).map_err(|_| invalid())?;
    let mut ctx = EncryptionContext::new();
    for (k, v) in map {
        let serde_json::Value::String(v) = v else {
            return Err(invalid());
        };
        if k.starts_with("aws:") {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                "Encryption context keys cannot start with the reserved prefix 'aws:'.",
            ));
        }
        ctx.insert(k, v);
    }
    Ok(ctx)
}

/// The context in the form S3 echoes it (`x-amz-server-side-encryption-context`): base64 of compact JSON.
pub fn context_header(ctx: &EncryptionContext) -> String {
    use base64::Engine;
    let json = serde_json::to_string(ctx).expect("string map serializes");
    base64::engine::general_purpose::STANDARD.encode(json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn context_headers_are_string_maps() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let ctx = parse_context_header(&b64(r#"{"b":"2","a":"1"}"#)).unwrap();
        assert_eq!(
            ctx.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
            ["a=1", "b=2"]
        );
        assert_eq!(context_header(&ctx), b64(r#"{"a":"1","b":"2"}"#));
        for bad in ["not base64!", &b64("[1]"), &b64(r#"{"a":1}"#), &b64("{")] {
            assert_eq!(
                parse_context_header(bad).unwrap_err().code,
                S3ErrorCode::InvalidArgument,
                "{bad}"
            );
        }
        assert!(parse_context_header(&b64(r#"{"aws:s3:arn":"x"}"#)).is_err());
    }

    #[test]
    fn kms_errors_map_to_what_s3_answers() {
        let s = KmsError::Disabled("arn:k".into()).to_s3();
        assert_eq!(
            (s.code.as_str(), s.code.status().as_u16()),
            ("KMS.DisabledException", 400)
        );
        let s = KmsError::NotFound("k".into()).to_s3();
        assert_eq!(
            (s.code.as_str(), s.code.status().as_u16()),
            ("KMS.NotFoundException", 400)
        );
        assert_eq!(KmsError::InvalidCiphertext.to_s3().code.status().as_u16(), 403);
        assert_eq!(KmsError::Unavailable("x".into()).to_s3().code.status().as_u16(), 503);
    }
}
