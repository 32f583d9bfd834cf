//! KMS helpers: the gateway's local KMS as an operator manages it (`s3-sse-proxy kms …`, its key file, the
//! `S3_KMS_*` environment of a client script), and small helpers for tests of the KMS implementations.

use std::path::PathBuf;

use super::{BIN, Gateway, gateway_command};

/// `s3-sse-proxy --config <gateway's config> kms ARGS…` (the local KMS's key management).
pub fn kms_admin(gw: &Gateway, args: &[&str]) -> String {
    gateway_command(gw, &[&["kms"], args].concat())
}

/// The gateway's local KMS key file.
pub fn kms_key_file(gw: &Gateway) -> PathBuf {
    gw.dir.path().join("gw/kms-keys.toml")
}

/// Every master key version in the gateway's local KMS key file, as written there (base64 of 32 bytes).
pub fn local_master_keys(gw: &Gateway) -> Vec<String> {
    let text = std::fs::read_to_string(kms_key_file(gw)).expect("reading the local KMS key file");
    let keys: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("versions"))
        .flat_map(|l| l.split('"').skip(1).step_by(2).map(str::to_owned).collect::<Vec<_>>())
        .collect();
    assert!(!keys.is_empty(), "no master keys in {text}");
    keys
}

/// The keys an SSE-KMS script uses: the gateway's default key, a key with an alias, and another key.
pub struct KmsKeys {
    pub default_arn: String,
    pub alias: String,
    pub id: String,
    pub arn: String,
    pub other_id: String,
    pub other_arn: String,
}

impl KmsKeys {
    pub fn env(self, kind: &str) -> Vec<(String, String)> {
        [
            ("S3_KMS_KIND", kind.to_owned()),
            ("S3_KMS_DEFAULT_KEY_ARN", self.default_arn),
            ("S3_KMS_KEY_ALIAS", self.alias),
            ("S3_KMS_KEY_ID", self.id),
            ("S3_KMS_KEY_ARN", self.arn),
            ("S3_KMS_OTHER_KEY_ID", self.other_id),
            ("S3_KMS_OTHER_KEY_ARN", self.other_arn),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

/// Two more keys in `gw`'s local KMS (its default config), made by `kms create-key`, and the environment of a
/// script's SSE-KMS steps (`S3_KMS_*`): besides the keys, `S3_KMS_ADMIN` (the `kms` subcommand against this
/// gateway's config, to disable and enable keys) and `S3_KMS_MASTER_KEY_DIR` (every master key, 32 raw bytes a
/// file, for the check that none reaches the backend).
pub fn local_kms_env(gw: &Gateway) -> Vec<(String, String)> {
    let alias = "alias/clients";
    let id = kms_admin(gw, &["create-key", "--alias", alias]).trim().to_owned();
    let other_id = kms_admin(gw, &["create-key"]).trim().to_owned();
    // One line per key: ARN, state, versions, aliases.
    let listed = kms_admin(gw, &["list"]);
    let arn_where = |pred: &dyn Fn(&str) -> bool| -> String {
        let line = listed
            .lines()
            .find(|l| pred(l))
            .unwrap_or_else(|| panic!("no such key in `kms list`:\n{listed}"));
        line.split('\t').next().unwrap().to_owned()
    };
    let keys = KmsKeys {
        default_arn: arn_where(&|l| l.ends_with("alias/aws/s3")),
        arn: arn_where(&|l| l.split('\t').next().unwrap().ends_with(&format!("key/{id}"))),
        other_arn: arn_where(&|l| l.split('\t').next().unwrap().ends_with(&format!("key/{other_id}"))),
        alias: alias.to_owned(),
        id,
        other_id,
    };
    let master_dir = gw.work_dir();
    for (i, k) in local_master_keys(gw).iter().enumerate() {
        let raw = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, k).expect("base64 master key");
        std::fs::write(master_dir.join(format!("master-{i}")), raw).expect("writing a master key file");
    }
    let mut env = keys.env("local");
    env.push((
        "S3_KMS_ADMIN".into(),
        format!("{BIN} --config {} kms", gw.config_path.display()),
    ));
    env.push(("S3_KMS_MASTER_KEY_DIR".into(), master_dir.display().to_string()));
    env
}

pub fn kms_context(pairs: &[(&str, &str)]) -> s3_sse_proxy::kms::EncryptionContext {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// The error of a result whose success type has no `Debug` (it holds a key).
pub fn kms_error<T>(r: Result<T, s3_sse_proxy::kms::KmsError>) -> s3_sse_proxy::kms::KmsError {
    match r {
        Ok(_) => panic!("expected a KMS error, got a success"),
        Err(e) => e,
    }
}
