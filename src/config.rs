//! Typed, validated configuration (TOML). Loading never logs a secret.
//!
//! Two ways to run: with no `--config`, the embedded quick start (an in-process s3s-fs backend under
//! `--data-dir`); with `--config FILE`, against any S3-compatible backend. See `config/*.toml`. Either way, every
//! setting can also come from an `S3_SSE_PROXY_<SECTION>_<FIELD>` environment variable ([`env`]), which wins
//! over the file.

pub mod env;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::secret::SecretString;

/// The whole configuration file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// HTTPS listener for S3 traffic. There is no plain-HTTP S3 listener.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Plain-HTTP listener for `/metrics`, `/healthz`, `/readyz`.
    #[serde(default = "default_metrics_listen")]
    pub metrics_listen: SocketAddr,
    /// Where generated certificates, credentials and (embedded) backend data live.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    #[serde(default)]
    pub tls: TlsConfig,
    pub backend: BackendConfig,
    #[serde(default)]
    pub s3: S3Config,
    #[serde(default)]
    pub sse: SseConfig,
    #[serde(default)]
    pub kms: KmsConfig,
    /// Client credentials the gateway verifies SigV4 against.
    #[serde(default)]
    pub credentials: Vec<CredentialConfig>,
    /// Bucket policies pinned by the operator: evaluated with the bucket's own policy, not removable through the
    /// S3 API. A malformed one stops the gateway from starting.
    #[serde(default)]
    pub policies: Vec<PinnedPolicyConfig>,
    #[serde(default)]
    pub limits: Limits,
}

/// `[limits]`: what one client may cost the gateway. Every field has a safe default; see README "Limits".
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Open client connections at most; one more is accepted and closed at once (counted in
    /// `s3_sse_proxy_connections_rejected_total`), so the process never holds more sockets than this.
    pub max_connections: usize,
    /// Largest request header section (names, values and their separators) answered normally; larger gets
    /// 400 RequestHeaderSectionTooLarge, and more than four times this (the HTTP parser's buffer) a bare 431.
    pub max_header_bytes: usize,
    /// Time a client has to complete the TLS handshake.
    pub tls_handshake_timeout_secs: u64,
    /// Time a client has to send a request's whole header section, including the wait for the next request on
    /// a kept-alive HTTP/1.1 connection (slowloris).
    pub header_read_timeout_secs: u64,
    /// A connection on which the client neither sends nor reads a byte for this long, while the gateway is
    /// not working on a request for it (or while it will not read the response), is closed. A request body
    /// that stalls this long fails with 400 RequestTimeout.
    pub idle_timeout_secs: u64,
    /// Largest PutObject and UploadPart body (AWS: 5 GiB); larger gets 400 EntityTooLarge.
    pub max_object_bytes: u64,
    /// Largest body of every other request (XML: CompleteMultipartUpload, DeleteObjects, configurations);
    /// larger gets 400 MaxMessageLengthExceeded. Bucket policies have their own 20 KB limit, as at AWS.
    pub max_xml_body_bytes: u64,
    /// On SIGTERM/SIGINT: how long requests already under way may still take before the process exits (new
    /// connections are refused and `/readyz` answers 503 from the signal on).
    pub drain_timeout_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            max_header_bytes: 16 * 1024,
            tls_handshake_timeout_secs: 10,
            header_read_timeout_secs: 30,
            idle_timeout_secs: 120,
            max_object_bytes: 5 * 1024 * 1024 * 1024,
            max_xml_body_bytes: 4 * 1024 * 1024,
            drain_timeout_secs: 30,
        }
    }
}

/// `[[policies]]`: a bucket policy from a file or inline.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinnedPolicyConfig {
    pub bucket: String,
    /// A JSON policy file (relative paths are relative to the working directory).
    pub file: Option<PathBuf>,
    /// The JSON policy itself.
    pub policy: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain. Absent: a CA and server certificate are generated under `data_dir/tls/`.
    pub cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendConfig {
    /// `embedded` (s3s-fs, called in process: no socket) or `s3` (any S3-compatible endpoint).
    #[serde(default)]
    pub kind: BackendKind,
    /// e.g. `https://s3.eu-west-1.amazonaws.com`, `http://127.0.0.1:9000`. Required for `kind = "s3"`.
    pub endpoint: Option<String>,
    #[serde(default = "default_region")]
    pub region: String,
    /// Backend credentials; `S3_SSE_PROXY_BACKEND_ACCESS_KEY_ID` / `..._SECRET_ACCESS_KEY` override.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<SecretString>,
    /// Extra PEM CA bundle to trust for an HTTPS backend (webpki roots are always trusted).
    pub ca_file: Option<PathBuf>,
    /// `path` (`endpoint/bucket/key`, works everywhere) or `virtual` (`bucket.endpoint/key`).
    #[serde(default)]
    pub addressing: Addressing,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    /// Time allowed for the backend's response headers once the request body is sent.
    #[serde(default = "default_response_timeout")]
    pub response_timeout_secs: u64,
    /// How request bodies are signed for the backend: `unsigned` (`UNSIGNED-PAYLOAD`), `signed` (aws-chunked
    /// with chunk signatures) or `trailer` (aws-chunked with a CRC32C trailer).
    #[serde(default)]
    pub payload: BackendPayload,
    /// Object data written into a bucket whose Object Lock is enabled goes as `trailer` (a CRC32C of the
    /// ciphertext), whatever `payload` says: S3 refuses those writes without an integrity value, and the
    /// client's `Content-MD5` describes the plaintext. `false` for backends that neither need it nor accept the
    /// trailer (Ceph RGW 16). Only for `kind = "s3"`: the embedded backend has no Object Lock.
    #[serde(default = "default_true")]
    pub object_lock_checksum: bool,
    /// The backend honours `If-Match` on DeleteObject and an entry's `ETag` in DeleteObjects. `false` for
    /// backends that ignore them (Ceph RGW 16, moto): the gateway then refuses such deletes with 501
    /// NotImplemented instead of deleting unconditionally; it never emulates them with a check-then-delete,
    /// which is not atomic.
    #[serde(default = "default_true")]
    pub conditional_deletes: bool,
}

/// `[backend] payload`: see [`crate::backend::sign`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendPayload {
    /// `UNSIGNED-PAYLOAD`: every S3 implementation accepts it.
    #[default]
    Unsigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: the backend can verify every chunk against the gateway's key.
    Signed,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER` with `x-amz-checksum-crc32c` (not Ceph RGW 16).
    Trailer,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    #[default]
    Embedded,
    S3,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Addressing {
    #[default]
    Path,
    Virtual,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    /// Domains for virtual-hosted-style requests: `bucket.<domain>`. Path style always works.
    #[serde(default)]
    pub virtual_host_domains: Vec<String>,
    /// Longest accepted presigned URL lifetime (AWS: 7 days).
    #[serde(default = "default_max_presign")]
    pub max_presign_expiry_secs: u64,
    /// Allowed clock skew between client and gateway (AWS: 15 minutes).
    #[serde(default = "default_skew")]
    pub max_clock_skew_secs: u64,
    /// The account id in the principal ARNs of this gateway's credentials
    /// (`arn:aws:iam::<account_id>:user/<display name or access key id>`), as bucket policies name them.
    #[serde(default = "default_account_id")]
    pub account_id: String,
    /// Accept AWS Signature Version 2 (header and presigned forms, and SigV2-signed POST policies). On by
    /// default: boto3's presigned URLs are SigV2 unless the client asks for `s3v4`.
    #[serde(default = "default_true")]
    pub sigv2: bool,
}

fn default_true() -> bool {
    true
}

fn default_account_id() -> String {
    "000000000000".to_owned()
}

impl Default for S3Config {
    fn default() -> Self {
        Self {
            virtual_host_domains: Vec::new(),
            max_presign_expiry_secs: default_max_presign(),
            max_clock_skew_secs: default_skew(),
            account_id: default_account_id(),
            sigv2: true,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SseConfig {
    /// `false` runs the gateway as a verifying, re-signing pass-through (no encryption at all).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// SSE-S3 key file (TOML). Default: `<data_dir>/keyring.toml`, generated (0600) on first start.
    pub keyring: Option<PathBuf>,
    /// As AWS does for new buckets since April 2026: SSE-C writes are refused (403) in a bucket whose encryption
    /// configuration does not explicitly allow them (`<BlockedEncryptionTypes>` `NONE`). Off by default: an
    /// existing gateway's clients may rely on SSE-C (AWS too left buckets of accounts with SSE-C data alone).
    #[serde(default)]
    pub block_sse_c_by_default: bool,
    /// GET, HEAD and copies of an object without the gateway's envelope are refused (500) instead of served as
    /// stored, so a backend writer cannot substitute plaintext of their choice. Off by default: buckets with
    /// objects from before the gateway (migrate them first with `rekey --encrypt-plaintext`).
    #[serde(default)]
    pub require_envelope_on_read: bool,
}

impl Default for SseConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            keyring: None,
            block_sse_c_by_default: false,
            require_envelope_on_read: false,
        }
    }
}

/// SSE-KMS: which key management service makes and opens data keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KmsConfig {
    /// `local` (master keys in `key_file`; the default), `aws` (the AWS KMS API at `endpoint`) or `kmip` (a KMIP
    /// server at `endpoint`, authenticated with `client_cert`/`client_key`).
    #[serde(default)]
    pub kind: KmsKind,
    /// The key used when a request asks for `aws:kms` without a key id (AWS uses `aws/s3`).
    #[serde(default = "default_kms_key")]
    pub default_key_id: String,
    /// `local`: the key file. Default `<data_dir>/kms-keys.toml`, created (0600) with one key aliased
    /// `alias/aws/s3` on first start.
    pub key_file: Option<PathBuf>,
    /// `aws`: e.g. `https://kms.eu-west-1.amazonaws.com`. `http://` is accepted for loopback addresses only.
    /// `kmip`: `host:port`, e.g. `kms.example.com:5696`.
    pub endpoint: Option<String>,
    #[serde(default = "default_region")]
    pub region: String,
    /// `aws`: credentials; `S3_SSE_PROXY_KMS_ACCESS_KEY_ID` / `..._SECRET_ACCESS_KEY` override.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<SecretString>,
    /// `aws`: extra PEM CA bundle to trust. `kmip`: the CAs to trust for the server (instead of the webpki roots).
    pub ca_file: Option<PathBuf>,
    /// `kmip`: the gateway's PEM client certificate (chain) and private key.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    /// `kmip`: the name the server's certificate must carry; default the endpoint's host.
    pub server_name: Option<String>,
    /// `aws`, `kmip`: time allowed for one KMS call.
    #[serde(default = "default_kms_timeout")]
    pub timeout_secs: u64,
    /// How long a decrypted data key or bucket key is reused without asking the KMS (0 = never).
    #[serde(default = "default_kms_cache_ttl")]
    pub cache_ttl_secs: u64,
    /// Most keys kept in that cache.
    #[serde(default = "default_kms_cache_entries")]
    pub cache_max_entries: usize,
    /// How long the cache serves a KMS key's keys before asking the KMS (DescribeKey) whether the key is still
    /// enabled: a key disabled at the KMS stops working on this instance within this time (0 = ask at every use).
    #[serde(default = "default_kms_key_check")]
    pub key_check_secs: u64,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KmsKind {
    #[default]
    Local,
    Aws,
    Kmip,
}

impl Default for KmsConfig {
    fn default() -> Self {
        Self {
            kind: KmsKind::Local,
            default_key_id: default_kms_key(),
            key_file: None,
            endpoint: None,
            region: default_region(),
            access_key_id: None,
            secret_access_key: None,
            ca_file: None,
            client_cert: None,
            client_key: None,
            server_name: None,
            timeout_secs: default_kms_timeout(),
            cache_ttl_secs: default_kms_cache_ttl(),
            cache_max_entries: default_kms_cache_entries(),
            key_check_secs: default_kms_key_check(),
        }
    }
}

fn default_kms_key() -> String {
    "alias/aws/s3".to_owned()
}
fn default_kms_timeout() -> u64 {
    5
}
fn default_kms_cache_ttl() -> u64 {
    300
}
fn default_kms_cache_entries() -> usize {
    10_000
}
fn default_kms_key_check() -> u64 {
    30
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialConfig {
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    #[serde(default)]
    pub display_name: Option<String>,
    /// Buckets this credential may touch; `["*"]` (the default) means all. A boundary no policy widens.
    #[serde(default = "all_buckets")]
    pub allowed_buckets: Vec<String>,
    /// An identity policy (IAM JSON, no Principal) attached to this credential, inline...
    #[serde(default)]
    pub policy: Option<String>,
    /// ...or from a file. With one, the credential may do only what it (or a bucket policy) allows.
    #[serde(default)]
    pub policy_file: Option<PathBuf>,
}

fn default_listen() -> SocketAddr {
    "127.0.0.1:8443".parse().expect("static address")
}
fn default_metrics_listen() -> SocketAddr {
    "127.0.0.1:9464".parse().expect("static address")
}
pub fn default_data_dir() -> PathBuf {
    PathBuf::from("./s3-sse-proxy-data")
}
fn default_region() -> String {
    "us-east-1".to_owned()
}
fn default_connect_timeout() -> u64 {
    5
}
fn default_response_timeout() -> u64 {
    60
}
fn default_max_presign() -> u64 {
    7 * 24 * 3600
}
fn default_skew() -> u64 {
    15 * 60
}
fn all_buckets() -> Vec<String> {
    vec!["*".to_owned()]
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid config {path}: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("invalid config: {0}")]
    Invalid(String),
    #[error("invalid config: {0}")]
    Env(#[from] env::EnvError),
    #[error("invalid config{file} with the environment's {vars}: {source}")]
    Merged {
        file: String,
        vars: String,
        source: Box<toml::de::Error>,
    },
}

impl ConfigError {
    /// The error for a log line: a parse error keeps its message and line but not the quoted text of the line,
    /// which may hold a secret.
    pub fn without_source_text(self) -> String {
        match self {
            Self::Parse { path, source } => {
                let line = std::fs::read_to_string(&path)
                    .ok()
                    .zip(source.span())
                    .map_or_else(String::new, |(t, s)| {
                        let before = &t.as_bytes()[..s.start.min(t.len())];
                        format!(" at line {}", before.iter().filter(|&&b| b == b'\n').count() + 1)
                    });
                format!("invalid config {}{line}: {}", path.display(), source.message())
            }
            e => e.to_string(),
        }
    }
}

impl Config {
    /// The `[[policies]]`, read and parsed: bucket → policies. Any unreadable or malformed one is an error that
    /// names it.
    pub fn pinned_policies(
        &self,
    ) -> Result<std::collections::HashMap<String, Vec<std::sync::Arc<crate::policy::Policy>>>, ConfigError> {
        use crate::policy::{Policy, PolicyKind};
        let mut out: std::collections::HashMap<_, Vec<_>> = std::collections::HashMap::new();
        for (i, p) in self.policies.iter().enumerate() {
            let text = match (&p.file, &p.policy) {
                (Some(f), None) => std::fs::read_to_string(f).map_err(|source| ConfigError::Read {
                    path: f.clone(),
                    source,
                })?,
                (None, Some(t)) => t.clone(),
                _ => {
                    return Err(ConfigError::Invalid(format!(
                        "policies[{i}] (bucket {}): exactly one of file and policy",
                        p.bucket
                    )));
                }
            };
            let policy = Policy::parse(&text, PolicyKind::Bucket).map_err(|e| {
                ConfigError::Invalid(format!("policies[{i}] (bucket {}): MalformedPolicy: {e}", p.bucket))
            })?;
            if let Some(r) = policy.foreign_resource(&p.bucket) {
                return Err(ConfigError::Invalid(format!(
                    "policies[{i}] (bucket {}): MalformedPolicy: Policy has invalid resource: {r:?}",
                    p.bucket
                )));
            }
            out.entry(p.bucket.clone())
                .or_default()
                .push(std::sync::Arc::new(policy));
        }
        Ok(out)
    }

    /// The credentials' identity policies, read and parsed: access key id → policy. A malformed one is an error
    /// naming the credential.
    pub fn identity_policies(
        &self,
    ) -> Result<std::collections::HashMap<String, std::sync::Arc<crate::policy::Policy>>, ConfigError> {
        use crate::policy::{Policy, PolicyKind};
        let mut out = std::collections::HashMap::new();
        for c in &self.credentials {
            let text = match (&c.policy_file, &c.policy) {
                (None, None) => continue,
                (Some(f), None) => std::fs::read_to_string(f).map_err(|source| ConfigError::Read {
                    path: f.clone(),
                    source,
                })?,
                (None, Some(t)) => t.clone(),
                (Some(_), Some(_)) => {
                    return Err(ConfigError::Invalid(format!(
                        "credentials {}: policy and policy_file are exclusive",
                        c.access_key_id
                    )));
                }
            };
            let policy = Policy::parse(&text, PolicyKind::Identity)
                .map_err(|e| ConfigError::Invalid(format!("credentials {}: MalformedPolicy: {e}", c.access_key_id)))?;
            out.insert(c.access_key_id.clone(), std::sync::Arc::new(policy));
        }
        Ok(out)
    }

    /// The file at `path`, completed and overridden by the process's `S3_SSE_PROXY_*` variables, validated.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::load_effective(Some(path)).map(|(c, _)| c)
    }

    /// The effective configuration: `file` (without one, the quick start's: an embedded backend and every
    /// default), then the process's `S3_SSE_PROXY_*` variables, validated. Also returns the names of the
    /// variables applied.
    pub fn load_effective(file: Option<&Path>) -> Result<(Self, Vec<String>), ConfigError> {
        let vars = std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
        Self::from_sources(file, vars)
    }

    /// [`Config::load_effective`] with the variables given.
    pub fn from_sources(
        file: Option<&Path>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Self, Vec<String>), ConfigError> {
        let text = match file {
            Some(path) => std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?,
            None => "[backend]\nkind = \"embedded\"\n".to_owned(),
        };
        let parse_error = |source| ConfigError::Parse {
            path: file.map_or_else(|| PathBuf::from("(no file)"), Path::to_owned),
            source: Box::new(source),
        };
        let mut table: toml::Table = toml::from_str(&text).map_err(parse_error)?;
        let applied = env::merge(&mut table, vars)?;
        // Without variables, the text itself is deserialized so that errors point at its lines.
        let config: Self = if applied.is_empty() {
            toml::from_str(&text).map_err(parse_error)?
        } else {
            toml::Value::Table(table)
                .try_into()
                .map_err(|source| ConfigError::Merged {
                    file: file.map(|p| format!(" {}", p.display())).unwrap_or_default(),
                    vars: applied.join(", "),
                    source: Box::new(source),
                })?
        };
        config.validate()?;
        Ok((config, applied))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.backend.kind == BackendKind::S3 && self.backend.endpoint.is_none() {
            return Err(ConfigError::Invalid(
                "backend.endpoint is required when backend.kind = \"s3\"".into(),
            ));
        }
        if let Some(e) = &self.backend.endpoint
            && !(e.starts_with("http://") || e.starts_with("https://"))
        {
            return Err(ConfigError::Invalid(format!(
                "backend.endpoint must start with http:// or https://: {e}"
            )));
        }
        if self.kms.kind == KmsKind::Aws {
            let Some(e) = &self.kms.endpoint else {
                return Err(ConfigError::Invalid(
                    "kms.endpoint is required when kms.kind = \"aws\"".into(),
                ));
            };
            let loopback = ["http://127.", "http://localhost:", "http://[::1]:"];
            if !(e.starts_with("https://") || loopback.iter().any(|p| e.starts_with(p))) {
                return Err(ConfigError::Invalid(format!(
                    "kms.endpoint must be https:// (http:// only on loopback): {e}"
                )));
            }
        }
        if self.kms.kind == KmsKind::Kmip {
            match &self.kms.endpoint {
                Some(e) if !e.contains("://") && e.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) => {}
                Some(e) => {
                    return Err(ConfigError::Invalid(format!(
                        "kms.endpoint must be host:port when kms.kind = \"kmip\": {e}"
                    )));
                }
                None => {
                    return Err(ConfigError::Invalid(
                        "kms.endpoint (host:port) is required when kms.kind = \"kmip\"".into(),
                    ));
                }
            }
            if self.kms.client_cert.is_none() || self.kms.client_key.is_none() {
                return Err(ConfigError::Invalid(
                    "kms.client_cert and kms.client_key are required when kms.kind = \"kmip\"".into(),
                ));
            }
        }
        if self.tls.cert.is_some() != self.tls.key.is_some() {
            return Err(ConfigError::Invalid("tls.cert and tls.key go together".into()));
        }
        if self.s3.max_presign_expiry_secs > default_max_presign() {
            return Err(ConfigError::Invalid(
                "s3.max_presign_expiry_secs cannot exceed 604800 (7 days)".into(),
            ));
        }
        if self.s3.account_id.len() != 12 || !self.s3.account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError::Invalid("s3.account_id must be 12 digits".into()));
        }
        let l = &self.limits;
        if l.max_connections == 0
            || l.max_header_bytes < 1024
            || l.tls_handshake_timeout_secs == 0
            || l.header_read_timeout_secs == 0
            || l.idle_timeout_secs == 0
        {
            return Err(ConfigError::Invalid(
                "limits: max_connections and the timeouts must be positive, max_header_bytes at least 1024".into(),
            ));
        }
        self.pinned_policies()?;
        for c in &self.credentials {
            if c.access_key_id.is_empty() || c.secret_access_key.expose().is_empty() {
                return Err(ConfigError::Invalid(
                    "credentials need access_key_id and secret_access_key".into(),
                ));
            }
        }
        Ok(())
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.backend.connect_timeout_secs)
    }
    pub fn response_timeout(&self) -> Duration {
        Duration::from_secs(self.backend.response_timeout_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validated(kms: &str) -> Result<(), String> {
        let text = format!("[backend]\nkind = \"embedded\"\n[kms]\n{kms}");
        let config: Config = toml::from_str(&text).map_err(|e| e.to_string())?;
        config.validate().map_err(|e| e.to_string())
    }

    #[test]
    fn kmip_needs_an_endpoint_and_a_client_certificate() {
        let cert = "client_cert = \"c.pem\"\nclient_key = \"c.key\"\n";
        assert_eq!(
            validated(&format!("kind = \"kmip\"\nendpoint = \"kms.example.com:5696\"\n{cert}")),
            Ok(())
        );
        assert_eq!(
            validated(&format!("kind = \"kmip\"\nendpoint = \"[::1]:5696\"\n{cert}")),
            Ok(())
        );
        for (bad, why) in [
            (format!("kind = \"kmip\"\n{cert}"), "is required"),
            (
                format!("kind = \"kmip\"\nendpoint = \"https://kms:5696\"\n{cert}"),
                "host:port",
            ),
            (
                format!("kind = \"kmip\"\nendpoint = \"kms.example.com\"\n{cert}"),
                "host:port",
            ),
            (
                "kind = \"kmip\"\nendpoint = \"kms:5696\"\nclient_cert = \"c.pem\"\n".into(),
                "client_key",
            ),
        ] {
            let e = validated(&bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn limits_default_safely_and_refuse_zero() {
        let config: Config = toml::from_str("[backend]\nkind = \"embedded\"\n").unwrap();
        assert_eq!(config.limits.max_object_bytes, 5 << 30);
        assert_eq!(config.limits.max_connections, 4096);
        let config: Config =
            toml::from_str("[backend]\nkind = \"embedded\"\n[limits]\nidle_timeout_secs = 0\n").unwrap();
        assert!(config.validate().unwrap_err().to_string().contains("limits"));
        assert!(toml::from_str::<Config>("[backend]\nkind = \"embedded\"\n[limits]\nmax_bodies = 1\n").is_err());
    }
}
