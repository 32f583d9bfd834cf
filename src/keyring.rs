//! The SSE-S3 keyring: key-encryption keys (KEKs) with ids, read from a TOML key file. One is active for
//! sealing; all of them open. Generated (0600) on first start when absent. Rotation = add a key, make it active,
//! then `s3-sse-proxy rekey` re-wraps data keys without touching object data.
//!
//! File format:
//! ```toml
//! active = "kek-3f2a…"
//! [[keys]]
//! id = "kek-3f2a…"
//! key = "<base64 of 32 random bytes>"
//! ```

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use base64::Engine;
use serde::Deserialize;

use crate::crypto::keys::Kek;
use crate::secret::SecretString;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    active: String,
    keys: Vec<KeyEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    id: String,
    key: SecretString,
}

#[derive(Debug)]
pub struct Keyring {
    active: String,
    keys: HashMap<String, Kek>,
}

impl Keyring {
    pub fn from_keys(active: &str, keys: Vec<Kek>) -> Result<Self, String> {
        let keys: HashMap<String, Kek> = keys.into_iter().map(|k| (k.id().to_owned(), k)).collect();
        if !keys.contains_key(active) {
            return Err(format!("keyring: active key {active:?} is not in the keyring"));
        }
        Ok(Self {
            active: active.to_owned(),
            keys,
        })
    }

    pub fn active(&self) -> &Kek {
        &self.keys[&self.active]
    }

    pub fn get(&self, id: &str) -> Option<&Kek> {
        self.keys.get(id)
    }

    /// Load the key file, or create it with one fresh key if it does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self, String> {
        if !path.exists() {
            let id = new_kek_id();
            let mut key = [0u8; 32];
            aws_lc_rs::rand::fill(&mut key).expect("system RNG");
            let text = format!(
                "# SSE-S3 key-encryption keys. Keep secret; back up: objects cannot be read without them.\n\
                 active = \"{id}\"\n\n[[keys]]\nid = \"{id}\"\nkey = \"{}\"\n",
                base64::engine::general_purpose::STANDARD.encode(key)
            );
            zeroize::Zeroize::zeroize(&mut key);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
            }
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| format!("creating keyring {}: {e}", path.display()))?;
            f.write_all(text.as_bytes())
                .map_err(|e| format!("writing keyring {}: {e}", path.display()))?;
        }
        let meta = std::fs::metadata(path).map_err(|e| format!("keyring {}: {e}", path.display()))?;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "keyring is readable by group or others; chmod 600 it");
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("keyring {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("keyring {}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let file: KeyFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut keys = Vec::new();
        for e in file.keys {
            if e.id.is_empty() || !e.id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
                return Err(format!("key id {:?}: use letters, digits, '-', '_', '.'", e.id));
            }
            let raw = zeroize::Zeroizing::new(
                base64::engine::general_purpose::STANDARD
                    .decode(e.key.expose())
                    .map_err(|_| format!("key {}: not base64", e.id))?,
            );
            let bytes: [u8; 32] = raw
                .as_slice()
                .try_into()
                .map_err(|_| format!("key {}: must be 32 bytes", e.id))?;
            keys.push(Kek::new(e.id, bytes));
        }
        Self::from_keys(&file.active, keys)
    }
}

/// Rotation, step 1: add a fresh key to the key file and make it the active one (rewritten atomically, 0600).
/// Returns the new key's id. Old keys stay: they still open existing objects until `rekey` re-wraps them.
pub fn add_active_key(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("keyring {}: {e}", path.display()))?;
    Keyring::parse(&text).map_err(|e| format!("keyring {}: {e}", path.display()))?;
    let id = new_kek_id();
    let mut key = [0u8; 32];
    aws_lc_rs::rand::fill(&mut key).expect("system RNG");
    let mut out = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with("active") && line.contains('=') && !line.trim_start().starts_with("active_") {
            out.push_str(&format!("active = \"{id}\"\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str(&format!(
        "\n[[keys]]\nid = \"{id}\"\nkey = \"{}\"\n",
        base64::engine::general_purpose::STANDARD.encode(key)
    ));
    zeroize::Zeroize::zeroize(&mut key);
    let checked = Keyring::parse(&out).map_err(|e| format!("keyring rewrite: {e}"))?;
    if checked.active().id() != id {
        return Err("keyring rewrite: could not set the new key active".into());
    }
    let written = write_private_file(path, &out);
    zeroize::Zeroize::zeroize(&mut out);
    written?;
    Ok(id)
}

/// Replace a secret key file atomically: written to a sibling (0600), synced, renamed over `path`.
pub fn write_private_file(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    let tmp = path.with_extension("toml.new");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("replacing {}: {e}", path.display()))
}

pub fn new_kek_id() -> String {
    let mut b = [0u8; 6];
    aws_lc_rs::rand::fill(&mut b).expect("system RNG");
    format!("kek-{}", hex::encode(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keyring_is_private_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k/keyring.toml");
        let a = Keyring::load_or_create(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let b = Keyring::load_or_create(&path).unwrap();
        assert_eq!(a.active().id(), b.active().id());
        assert_eq!(a.active().as_bytes(), b.active().as_bytes());
    }

    #[test]
    fn rotation_adds_an_active_key_and_keeps_the_old_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.toml");
        let old = Keyring::load_or_create(&path).unwrap();
        let id = add_active_key(&path).unwrap();
        let new = Keyring::load_or_create(&path).unwrap();
        assert_eq!(new.active().id(), id);
        assert_eq!(new.get(old.active().id()).unwrap().as_bytes(), old.active().as_bytes());
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn bad_keyrings_are_refused() {
        assert!(Keyring::parse("active = \"x\"\nkeys = []").is_err());
        assert!(Keyring::parse("active = \"x\"\n[[keys]]\nid = \"x\"\nkey = \"c2hvcnQ=\"").is_err());
    }
}
