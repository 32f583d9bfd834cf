//! The gateway's own credential store: access key id → secret, display name, allowed buckets.
//! Immutable once built (SIGHUP builds a new one from the config file and swaps it in whole); secrets never leave
//! this module except to derive keys.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwapOption;

use crate::config::CredentialConfig;
use crate::secret::{SecretString, SigningKey};

#[derive(Debug, Clone)]
pub struct Credential(Arc<Entry>);

#[derive(Debug)]
struct Entry {
    config: CredentialConfig,
    /// The SigV4 signing key of the last scope (`date/region/service`) seen: clients sign every request of a day
    /// with the same one, and deriving it costs four HMACs. Lock-free, so it is no point of contention.
    signing_key: ArcSwapOption<(Scope, SigningKey)>,
}

impl Entry {
    fn new(config: CredentialConfig) -> Self {
        Self {
            config,
            signing_key: ArcSwapOption::empty(),
        }
    }
}

impl Credential {
    /// The caller of a request without credentials: no access key, no bucket of its own (only bucket policies
    /// that grant everyone let it in), named `anonymous` in logs and metrics.
    pub fn anonymous() -> Self {
        Self(Arc::new(Entry::new(CredentialConfig {
            access_key_id: String::new(),
            secret_access_key: SecretString::new(String::new()),
            display_name: Some("anonymous".to_owned()),
            allowed_buckets: Vec::new(),
            policy: None,
            policy_file: None,
        })))
    }

    /// Whether this is the caller of a request without credentials.
    pub fn is_anonymous(&self) -> bool {
        self.0.config.access_key_id.is_empty()
    }

    pub fn access_key_id(&self) -> &str {
        &self.0.config.access_key_id
    }
    pub fn display_name(&self) -> &str {
        self.0
            .config
            .display_name
            .as_deref()
            .unwrap_or(&self.0.config.access_key_id)
    }
    pub(crate) fn secret(&self) -> &SecretString {
        &self.0.config.secret_access_key
    }

    /// The SigV4 signing key for `date/region/service`, derived once per scope and then reused.
    pub(crate) fn signing_key(&self, date: &str, region: &str, service: &str) -> SigningKey {
        let cached = self.0.signing_key.load();
        if let Some((scope, key)) = cached.as_deref()
            && scope.is(date, region, service)
        {
            return key.clone();
        }
        let key = super::canonical::signing_key(self.secret(), date, region, service);
        let scope = Scope([date.to_owned(), region.to_owned(), service.to_owned()]);
        self.0.signing_key.store(Some(Arc::new((scope, key.clone()))));
        key
    }
    /// Whether the credential may touch every bucket (`allowed_buckets` contains `*`).
    pub fn may_access_all_buckets(&self) -> bool {
        self.0.config.allowed_buckets.iter().any(|p| p == "*")
    }

    /// `*` allows every bucket; `prefix*` allows buckets starting with `prefix`; otherwise an exact name.
    pub fn may_access_bucket(&self, bucket: &str) -> bool {
        self.0.config.allowed_buckets.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => bucket.starts_with(prefix),
            None => p == bucket,
        })
    }
}

/// A signing key's date, region and service.
#[derive(Debug)]
struct Scope([String; 3]);

impl Scope {
    fn is(&self, date: &str, region: &str, service: &str) -> bool {
        self.0 == [date, region, service]
    }
}

#[derive(Debug, Default)]
pub struct CredentialStore(HashMap<String, Credential>);

impl CredentialStore {
    pub fn new(creds: impl IntoIterator<Item = CredentialConfig>) -> Self {
        Self(
            creds
                .into_iter()
                .map(|c| (c.access_key_id.clone(), Credential(Arc::new(Entry::new(c)))))
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

    /// The credential `AK` with secret `s` and these bucket patterns.
    fn credential(allowed_buckets: &[&str]) -> Credential {
        let store = CredentialStore::new([CredentialConfig {
            access_key_id: "AK".into(),
            secret_access_key: SecretString::new("s".into()),
            display_name: None,
            allowed_buckets: allowed_buckets.iter().map(|&b| b.to_owned()).collect(),
            policy: None,
            policy_file: None,
        }]);
        store.get("AK").unwrap()
    }

    #[test]
    fn bucket_patterns() {
        let c = credential(&["logs-*", "exact"]);
        assert!(c.may_access_bucket("logs-2026"));
        assert!(c.may_access_bucket("exact"));
        assert!(!c.may_access_bucket("exactly"));
        assert!(!c.may_access_bucket("other"));
    }

    #[test]
    fn the_cached_signing_key_follows_the_scope() {
        let c = credential(&[]);
        let derived = |d, r, s| *super::super::canonical::signing_key(c.secret(), d, r, s).as_bytes();
        for (d, r, s) in [
            ("20260101", "us-east-1", "s3"),
            ("20260101", "us-east-1", "s3"),
            ("20260102", "us-east-1", "s3"),
            ("20260102", "eu-west-1", "s3"),
            ("20260102", "eu-west-1", "sts"),
            // The same characters split otherwise are another scope.
            ("20260102", "eu-west-1/sts", ""),
            ("20260102", "eu-west-1", "/sts"),
            ("20260101", "us-east-1", "s3"),
        ] {
            assert_eq!(*c.signing_key(d, r, s).as_bytes(), derived(d, r, s), "{d}/{r}/{s}");
        }
    }
}
