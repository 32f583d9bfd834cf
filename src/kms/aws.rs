//! The AWS KMS API: JSON over HTTPS (`X-Amz-Target: TrentService.<Op>`), signed with SigV4 for service `kms`.
//! Works with AWS KMS and compatible servers.

use std::time::Duration;

use super::{DecryptedKey, EncryptionContext, GeneratedKey, GeneratedKeyBlob, KeyInfo, Kms, KmsError};
use crate::crypto::keys::DataKey;
use crate::secret::SecretString;

/// Where the KMS is and how to sign for it.
pub struct AwsKmsSettings {
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    pub ca_pem: Option<Vec<u8>>,
    pub timeout: Duration,
}

pub struct AwsKms {
    #[allow(dead_code)]
    settings: AwsKmsSettings,
}

impl AwsKms {
    pub fn new(settings: AwsKmsSettings) -> Result<Self, String> {
        Ok(Self { settings })
    }
}

impl Kms for AwsKms {
    async fn generate_data_key(&self, _key_id: &str, _context: &EncryptionContext) -> Result<GeneratedKey, KmsError> {
        Err(KmsError::Other("not implemented".into()))
    }
    async fn encrypt(
        &self,
        _key_id: &str,
        _key: &DataKey,
        _context: &EncryptionContext,
    ) -> Result<GeneratedKeyBlob, KmsError> {
        Err(KmsError::Other("not implemented".into()))
    }
    async fn decrypt(&self, _blob: &[u8], _context: &EncryptionContext) -> Result<DecryptedKey, KmsError> {
        Err(KmsError::Other("not implemented".into()))
    }
    async fn describe(&self, _key_id: &str) -> Result<KeyInfo, KmsError> {
        Err(KmsError::Other("not implemented".into()))
    }
}
