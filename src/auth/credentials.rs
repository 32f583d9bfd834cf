//! The gateway's own credential store: access key id → secret, display name, allowed buckets.
//! Immutable once built (SIGHUP builds a new one from the config file and swaps it in whole); secrets never leave
//! this module except to derive keys.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::CredentialConfig;
use crate::secret::SecretString;

#[derive(Debug, Clone)]
pub struct Credential(Arc<CredentialConfig>);

impl Credential {
    /// The caller of a request without credentials: no access key, no bucket of its own (only bucket policies
    /// that grant everyone let it in), named `anonymous` in logs and metrics.
    pub fn anonymous() -> Self {
        Self(Arc::new(CredentialConfig {
            access_key_id: String::new(),
            secret_access_key: SecretString::new(String::new()),
            display_name: Some("anonymous".to_owned()),
            allowed_buckets: Vec::new(),
            policy: None,
            policy_file: None,
        }))
    }

    /// Whether this is the caller of a request without credentials.
    pub fn is_anonymous(&self) -> bool {
        self.0.access_key_id.is_empty()
    }

    pub fn access_key_id(&self) -> &str {
        &self.0.access_key_id
    }
    pub fn display_name(&self) -> &str {
        self.0.display_name.as_deref().unwrap_or(&self.0.access_key_id)
    }
    pub(crate) fn secret(&self) -> &SecretString {
        &self.0.secret_access_key
    }
    /// Whether the credential may touch every bucket (`allowed_buckets` contains `*`).
    pub fn may_access_all_buckets(&self) -> bool {
        self.0.allowed_buckets.iter().any(|p| p == "*")
    }

    /// `*` allows every bucket; `prefix*` allows buckets starting with `prefix`; otherwise an exact name.
    pub fn may_access_bucket(&self, bucket: &str) -> bool {
        self.0.allowed_buckets.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => bucket.starts_with(prefix),
            None => p == bucket,
        })
    }
}

#[derive(Debug, Default)]
pub struct CredentialStore(HashMap<String, Credential>);

impl CredentialStore {
    pub fn new(creds: impl IntoIterator<Item = CredentialConfig>) -> Self {
        Self(
            creds
                .into_iter()
                .map(|c| (c.access_key_id.clone(), Credential(Arc::new(c))))
                .collect(),
        )
    }
    pub fn get(&self, access_key_id: &str) -> Option<Credential> {
        self.0.get(access_key_id).cloned()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_patterns() {
        let c = CredentialStore::new([CredentialConfig {
            access_key_id: "AK".into(),
            secret_access_key: SecretString::new("s".into()),
            display_name: None,
            allowed_buckets: vec!["logs-*".into(), "exact".into()],
            policy: None,
            policy_file: None,
        }]);
        let c = c.get("AK").unwrap();
        assert!(c.may_access_bucket("logs-2026"));
        assert!(c.may_access_bucket("exact"));
        assert!(!c.may_access_bucket("exactly"));
        assert!(!c.may_access_bucket("other"));
    }
}
