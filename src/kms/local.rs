//! The local KMS: master keys in a key file (TOML, 0600), with ids, aliases, enable/disable and rotation
//! (versions: the newest encrypts, all decrypt). What the embedded quick start uses: no extra process.
//! The running gateway re-reads the file when it changes, so `s3-sse-proxy kms disable …` takes effect at once
//! (for keys not already in the data-key cache).
//!
//! ```toml
//! [[keys]]
//! id = "8c2f…-…"                 # a UUID, as AWS key ids are
//! aliases = ["alias/aws/s3"]
//! enabled = true
//! versions = ["<base64 32 bytes>"] # rotation appends; the last one encrypts
//! ```

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;

use super::{DecryptedKey, EncryptionContext, GeneratedKey, GeneratedKeyBlob, KeyInfo, Kms, KmsError};
use crate::crypto::keys::{DataKey, Kek};
use crate::crypto::kms_blob;
use crate::secret::SecretString;

/// The alias S3 uses for the account's default SSE-KMS key; the quick start creates a key with it.
pub const DEFAULT_ALIAS: &str = "alias/aws/s3";
const ARN_PREFIX: &str = "arn:aws:kms:local:000000000000:";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    #[serde(default)]
    keys: Vec<KeyEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    id: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default = "yes")]
    enabled: bool,
    versions: Vec<SecretString>,
}

fn yes() -> bool {
    true
}

/// One master key: its versions (index + 1 = version number).
struct MasterKey {
    id: String,
    aliases: Vec<String>,
    enabled: bool,
    versions: Vec<Kek>,
}

impl MasterKey {
    fn arn(&self) -> String {
        format!("{ARN_PREFIX}key/{}", self.id)
    }
}

struct Loaded {
    modified: Option<SystemTime>,
    keys: Vec<MasterKey>,
}

pub struct LocalKms {
    path: PathBuf,
    state: RwLock<Loaded>,
}

fn parse(text: &str) -> Result<Vec<MasterKey>, String> {
    let file: KeyFile = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut out: Vec<MasterKey> = Vec::new();
    for e in file.keys {
        if !valid_id(&e.id) {
            return Err(format!("key id {:?}: use letters, digits and '-'", e.id));
        }
        if e.versions.is_empty() {
            return Err(format!("key {}: no versions", e.id));
        }
        let mut versions = Vec::new();
        for v in &e.versions {
            let raw = zeroize::Zeroizing::new(
                B64.decode(v.expose())
                    .map_err(|_| format!("key {}: a version is not base64", e.id))?,
            );
            let bytes: [u8; 32] = raw
                .as_slice()
                .try_into()
                .map_err(|_| format!("key {}: versions must be 32 bytes", e.id))?;
            versions.push(Kek::new(e.id.clone(), bytes));
        }
        for a in &e.aliases {
            if !valid_alias(a) {
                return Err(format!("alias {a:?}: must be alias/<letters, digits, '/', '_', '-'>"));
            }
            if out.iter().any(|k| k.aliases.contains(a)) {
                return Err(format!("alias {a} names two keys"));
            }
        }
        if out.iter().any(|k| k.id == e.id) {
            return Err(format!("key id {} appears twice", e.id));
        }
        out.push(MasterKey {
            id: e.id,
            aliases: e.aliases,
            enabled: e.enabled,
            versions,
        });
    }
    Ok(out)
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn valid_alias(a: &str) -> bool {
    a.strip_prefix("alias/")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b)))
}

fn render(keys: &[MasterKey]) -> String {
    let mut s = String::from(
        "# Local KMS master keys (SSE-KMS). Keep secret and back up: SSE-KMS objects cannot be read without them.\n\
         # Manage with `s3-sse-proxy kms …`.\n",
    );
    for k in keys {
        let aliases: Vec<String> = k.aliases.iter().map(|a| format!("\"{a}\"")).collect();
        let versions: Vec<String> = k
            .versions
            .iter()
            .map(|v| format!("\"{}\"", B64.encode(v.as_bytes())))
            .collect();
        s.push_str(&format!(
            "\n[[keys]]\nid = \"{}\"\naliases = [{}]\nenabled = {}\nversions = [{}]\n",
            k.id,
            aliases.join(", "),
            k.enabled,
            versions.join(", ")
        ));
    }
    s
}

fn random_key(id: &str) -> Kek {
    let mut b = [0u8; 32];
    aws_lc_rs::rand::fill(&mut b).expect("system RNG");
    let k = Kek::new(id, b);
    zeroize::Zeroize::zeroize(&mut b);
    k
}

fn new_key_id() -> String {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).expect("system RNG");
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

fn read(path: &Path) -> Result<Loaded, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("KMS key file {}: {e}", path.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::warn!(path = %path.display(), "KMS key file is readable by group or others; chmod 600 it");
    }
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).map_err(|e| format!("KMS key file {}: {e}", path.display()))?,
    );
    let keys = parse(&text).map_err(|e| format!("KMS key file {}: {e}", path.display()))?;
    Ok(Loaded {
        modified: meta.modified().ok(),
        keys,
    })
}

/// Administration of the key file (the `kms` subcommand). Each call rewrites the file atomically.
pub mod admin {
    use super::*;

    /// Create the key file with one key aliased [`DEFAULT_ALIAS`] if it does not exist.
    pub fn create_if_missing(path: &Path) -> Result<(), String> {
        if path.exists() {
            return Ok(());
        }
        let id = new_key_id();
        let key = MasterKey {
            versions: vec![random_key(&id)],
            id,
            aliases: vec![DEFAULT_ALIAS.to_owned()],
            enabled: true,
        };
        crate::keyring::write_private_file(path, &render(&[key]))
    }

    fn update<T>(path: &Path, f: impl FnOnce(&mut Vec<MasterKey>) -> Result<T, String>) -> Result<T, String> {
        let mut loaded = read(path)?;
        let out = f(&mut loaded.keys)?;
        let text = zeroize::Zeroizing::new(render(&loaded.keys));
        parse(&text)?;
        crate::keyring::write_private_file(path, &text)?;
        Ok(out)
    }

    fn find<'a>(keys: &'a mut [MasterKey], key_id: &str) -> Result<&'a mut MasterKey, String> {
        let i = resolve(keys, key_id).ok_or_else(|| format!("no key {key_id}"))?;
        Ok(&mut keys[i])
    }

    /// A new key (optionally with an alias); returns its id.
    pub fn create_key(path: &Path, alias: Option<&str>) -> Result<String, String> {
        if let Some(a) = alias
            && !valid_alias(a)
        {
            return Err(format!("alias {a:?}: must be alias/<letters, digits, '/', '_', '-'>"));
        }
        update(path, |keys| {
            let id = new_key_id();
            keys.push(MasterKey {
                versions: vec![random_key(&id)],
                id: id.clone(),
                aliases: alias.map(str::to_owned).into_iter().collect(),
                enabled: true,
            });
            Ok(id)
        })
    }

    pub fn set_enabled(path: &Path, key_id: &str, enabled: bool) -> Result<(), String> {
        update(path, |keys| {
            find(keys, key_id)?.enabled = enabled;
            Ok(())
        })
    }

    /// Add a key version; new blobs use it, old blobs still open. Returns the new version number.
    pub fn rotate(path: &Path, key_id: &str) -> Result<u32, String> {
        update(path, |keys| {
            let k = find(keys, key_id)?;
            let v = random_key(&k.id);
            k.versions.push(v);
            Ok(k.versions.len() as u32)
        })
    }

    /// Point `alias` at `key_id` (moving it if it named another key).
    pub fn set_alias(path: &Path, alias: &str, key_id: &str) -> Result<(), String> {
        if !valid_alias(alias) {
            return Err(format!(
                "alias {alias:?}: must be alias/<letters, digits, '/', '_', '-'>"
            ));
        }
        update(path, |keys| {
            let i = resolve(keys, key_id).ok_or_else(|| format!("no key {key_id}"))?;
            for k in keys.iter_mut() {
                k.aliases.retain(|a| a != alias);
            }
            keys[i].aliases.push(alias.to_owned());
            Ok(())
        })
    }

    /// One line per key: id, state, versions, aliases (no key material).
    pub fn list(path: &Path) -> Result<Vec<String>, String> {
        Ok(read(path)?
            .keys
            .iter()
            .map(|k| {
                format!(
                    "{}\t{}\tversions={}\t{}",
                    k.arn(),
                    if k.enabled { "Enabled" } else { "Disabled" },
                    k.versions.len(),
                    k.aliases.join(",")
                )
            })
            .collect())
    }
}

/// Index of the key named by a key id, key ARN, alias name or alias ARN.
fn resolve(keys: &[MasterKey], key_id: &str) -> Option<usize> {
    let name = key_id.strip_prefix(ARN_PREFIX).unwrap_or(key_id);
    if let Some(id) = name.strip_prefix("key/") {
        return keys.iter().position(|k| k.id == id);
    }
    if name.starts_with("alias/") {
        return keys.iter().position(|k| k.aliases.iter().any(|a| a == name));
    }
    keys.iter().position(|k| k.id == name)
}

fn pairs(ctx: &EncryptionContext) -> impl Iterator<Item = (&str, &str)> {
    ctx.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

impl LocalKms {
    /// Open the key file (created with a default key if `create`, as in the quick start).
    pub fn open(path: &Path, create: bool) -> Result<Self, String> {
        if create {
            admin::create_if_missing(path)?;
        }
        Ok(Self {
            path: path.to_owned(),
            state: RwLock::new(read(path)?),
        })
    }

    /// Re-read the key file if it changed since it was loaded; a file that no longer parses keeps the old keys.
    fn refresh(&self) {
        let modified = std::fs::metadata(&self.path).and_then(|m| m.modified()).ok();
        if modified == self.state.read().expect("lock").modified {
            return;
        }
        match read(&self.path) {
            Ok(l) => *self.state.write().expect("lock") = l,
            Err(e) => tracing::error!(error = %e, "KMS key file changed but cannot be used; keeping the old keys"),
        }
    }

    /// Run `f` on the enabled key `key_id` names.
    fn with_key<T>(&self, key_id: &str, f: impl FnOnce(&MasterKey) -> T) -> Result<T, KmsError> {
        self.refresh();
        let state = self.state.read().expect("lock");
        let i = resolve(&state.keys, key_id).ok_or_else(|| KmsError::NotFound(key_id.to_owned()))?;
        let k = &state.keys[i];
        if !k.enabled {
            return Err(KmsError::Disabled(k.arn()));
        }
        Ok(f(k))
    }

    fn seal(&self, key_id: &str, plaintext: &[u8], ctx: &EncryptionContext) -> Result<GeneratedKeyBlob, KmsError> {
        self.with_key(key_id, |k| {
            let mut nonce = [0u8; 12];
            aws_lc_rs::rand::fill(&mut nonce).expect("system RNG");
            let v = k.versions.len();
            GeneratedKeyBlob {
                blob: kms_blob::seal(&k.versions[v - 1], v as u32, plaintext, pairs(ctx), nonce),
                key_arn: k.arn(),
            }
        })
    }
}

impl Kms for LocalKms {
    async fn generate_data_key(&self, key_id: &str, context: &EncryptionContext) -> Result<GeneratedKey, KmsError> {
        let key = DataKey::generate();
        let b = self.seal(key_id, key.as_bytes(), context)?;
        Ok(GeneratedKey {
            key,
            blob: b.blob,
            key_arn: b.key_arn,
        })
    }

    async fn encrypt(
        &self,
        key_id: &str,
        key: &DataKey,
        context: &EncryptionContext,
    ) -> Result<GeneratedKeyBlob, KmsError> {
        self.seal(key_id, key.as_bytes(), context)
    }

    async fn decrypt(&self, blob: &[u8], context: &EncryptionContext) -> Result<DecryptedKey, KmsError> {
        let h = kms_blob::header(blob).map_err(|_| KmsError::InvalidCiphertext)?;
        let opened = self.with_key(&h.key_id, |k| {
            let master = k.versions.get((h.version as usize).wrapping_sub(1))?;
            Some((kms_blob::open(master, blob, pairs(context)), k.arn()))
        })?;
        let (plain, key_arn) = opened.ok_or(KmsError::InvalidCiphertext)?;
        let plain = plain.map_err(|_| KmsError::InvalidCiphertext)?;
        let bytes: [u8; 32] = plain.as_slice().try_into().map_err(|_| KmsError::InvalidCiphertext)?;
        Ok(DecryptedKey {
            key: DataKey::from_bytes(bytes),
            key_arn,
        })
    }

    async fn describe(&self, key_id: &str) -> Result<KeyInfo, KmsError> {
        self.refresh();
        let state = self.state.read().expect("lock");
        let i = resolve(&state.keys, key_id).ok_or_else(|| KmsError::NotFound(key_id.to_owned()))?;
        let k = &state.keys[i];
        Ok(KeyInfo {
            key_id: k.id.clone(),
            arn: k.arn(),
            enabled: k.enabled,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[tokio::test]
    async fn keys_by_id_arn_and_alias_with_disable_and_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kms/keys.toml");
        let kms = LocalKms::open(&path, true).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let c = ctx(&[("aws:s3:arn", "arn:aws:s3:::b/k")]);
        let g = kms.generate_data_key(DEFAULT_ALIAS, &c).await.unwrap();
        let info = kms.describe(DEFAULT_ALIAS).await.unwrap();
        assert_eq!(g.key_arn, info.arn);
        assert!(info.enabled);
        for name in [info.key_id.as_str(), info.arn.as_str(), DEFAULT_ALIAS] {
            assert_eq!(kms.describe(name).await.unwrap(), info, "{name}");
        }
        let d = kms.decrypt(&g.blob, &c).await.unwrap();
        assert_eq!(d.key, g.key);
        assert_eq!(d.key_arn, info.arn);
        // Another context does not open it.
        let other = ctx(&[("aws:s3:arn", "arn:aws:s3:::b/other")]);
        assert_eq!(
            kms.decrypt(&g.blob, &other).await.err(),
            Some(KmsError::InvalidCiphertext)
        );
        // Rotation: old blobs still open, new blobs use the new version.
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(admin::rotate(&path, DEFAULT_ALIAS).unwrap(), 2);
        assert_eq!(kms.decrypt(&g.blob, &c).await.unwrap().key, g.key);
        let g2 = kms.generate_data_key(&info.key_id, &c).await.unwrap();
        assert_eq!(kms_blob::header(&g2.blob).unwrap().version, 2);
        // Disabled: neither new keys nor decryption, with the errors S3 maps.
        std::thread::sleep(std::time::Duration::from_millis(20));
        admin::set_enabled(&path, &info.arn, false).unwrap();
        assert_eq!(
            kms.generate_data_key(DEFAULT_ALIAS, &c).await.err(),
            Some(KmsError::Disabled(info.arn.clone()))
        );
        assert_eq!(
            kms.decrypt(&g.blob, &c).await.err(),
            Some(KmsError::Disabled(info.arn.clone()))
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
        admin::set_enabled(&path, &info.key_id, true).unwrap();
        assert!(kms.decrypt(&g2.blob, &c).await.is_ok());
        // Unknown keys and aliases.
        assert_eq!(
            kms.generate_data_key("alias/none", &c).await.err(),
            Some(KmsError::NotFound("alias/none".into()))
        );
        let id = admin::create_key(&path, Some("alias/team-a")).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let b = kms.generate_data_key("alias/team-a", &c).await.unwrap();
        assert!(b.key_arn.ends_with(&id));
        assert!(
            admin::list(&path)
                .unwrap()
                .iter()
                .all(|l| !l.contains(&B64.encode(g.key.as_bytes())))
        );
    }

    #[test]
    fn bad_key_files_are_refused() {
        assert!(parse("[[keys]]\nid = \"a b\"\nversions = [\"AAAA\"]").is_err());
        assert!(parse("[[keys]]\nid = \"a\"\nversions = []").is_err());
        assert!(parse("[[keys]]\nid = \"a\"\nversions = [\"c2hvcnQ=\"]").is_err());
        let k = B64.encode([1u8; 32]);
        assert!(
            parse(&format!(
                "[[keys]]\nid = \"a\"\naliases = [\"x\"]\nversions = [\"{k}\"]"
            ))
            .is_err()
        );
        assert!(
            parse(&format!(
                "[[keys]]\nid = \"a\"\nversions = [\"{k}\"]\n[[keys]]\nid = \"a\"\nversions = [\"{k}\"]"
            ))
            .is_err()
        );
        assert_eq!(
            parse(&format!("[[keys]]\nid = \"a\"\nversions = [\"{k}\"]"))
                .unwrap()
                .len(),
            1
        );
    }
}
