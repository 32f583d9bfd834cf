//! Start-up: everything `s3-sse-proxy` with no arguments needs, generated once under `--data-dir` and reused:
//! a local CA and server certificate, client credentials (unless given in the environment), and the embedded
//! backend's own credentials. Secret files are created 0600. Nothing secret is printed.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::accept::tls;
use crate::config::CredentialConfig;
use crate::secret::SecretString;

pub const ENV_ACCESS_KEY_ID: &str = "S3_SSE_PROXY_ACCESS_KEY_ID";
pub const ENV_SECRET_ACCESS_KEY: &str = "S3_SSE_PROXY_SECRET_ACCESS_KEY";

/// Paths of the generated TLS material.
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub fn tls_files(data_dir: &Path) -> TlsFiles {
    let d = data_dir.join("tls");
    TlsFiles {
        ca: d.join("ca.pem"),
        cert: d.join("cert.pem"),
        key: d.join("key.pem"),
    }
}

fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(contents)
}

/// Generate the local CA and server certificate unless they exist.
pub fn ensure_tls(data_dir: &Path, extra_names: &[String]) -> Result<TlsFiles, String> {
    let files = tls_files(data_dir);
    if files.cert.exists() && files.key.exists() {
        return Ok(files);
    }
    std::fs::create_dir_all(data_dir.join("tls")).map_err(|e| format!("creating {}: {e}", data_dir.display()))?;
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    names.extend(
        extra_names
            .iter()
            .filter(|n| !names.contains(n))
            .cloned()
            .collect::<Vec<_>>(),
    );
    let (ca, cert, key) = tls::generate_local_ca(&names).map_err(|e| format!("generating certificate: {e}"))?;
    for (path, data, private) in [
        (&files.ca, &ca, false),
        (&files.cert, &cert, false),
        (&files.key, &key, true),
    ] {
        let _ = std::fs::remove_file(path);
        let r = if private {
            write_private(path, data.as_bytes())
        } else {
            std::fs::write(path, data)
        };
        r.map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    Ok(files)
}

#[derive(Deserialize)]
struct StoredKeys {
    access_key_id: String,
    secret_access_key: SecretString,
}

fn random_string(len: usize, alphabet: &[u8]) -> String {
    let mut bytes = vec![0u8; len];
    aws_lc_rs::rand::fill(&mut bytes).expect("system RNG");
    // 256 is a multiple of neither alphabet's size; the bias (<1 bit over 40 chars) does not matter for a
    // random identifier, and the secret's entropy stays above 200 bits.
    bytes
        .iter()
        .map(|b| alphabet[*b as usize % alphabet.len()] as char)
        .collect()
}

/// Load a key pair from `path`, or generate and store one (0600).
pub fn load_or_generate_keys(path: &Path) -> Result<(String, SecretString), String> {
    if let Ok(text) = std::fs::read_to_string(path) {
        let k: StoredKeys = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        return Ok((k.access_key_id, k.secret_access_key));
    }
    let ak = random_string(20, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
    let sk = random_string(40, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
    let text = format!("access_key_id = \"{ak}\"\nsecret_access_key = \"{sk}\"\n");
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    write_private(path, text.as_bytes()).map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok((ak, SecretString::new(sk)))
}

/// The client credential of the quick start: from the environment, else generated once in the data dir.
/// Returns the credential and where its secret can be read (for the printed aws-cli command).
pub fn quickstart_credential(data_dir: &Path) -> Result<(CredentialConfig, String), String> {
    let env_ak = std::env::var(ENV_ACCESS_KEY_ID).ok().filter(|s| !s.is_empty());
    let env_sk = std::env::var(ENV_SECRET_ACCESS_KEY).ok().filter(|s| !s.is_empty());
    let (ak, sk, secret_hint) = match (env_ak, env_sk) {
        (Some(ak), Some(sk)) => (ak, SecretString::new(sk), format!("\"${ENV_SECRET_ACCESS_KEY}\"")),
        (None, None) => {
            let path = data_dir.join("credentials.toml");
            let (ak, sk) = load_or_generate_keys(&path)?;
            (
                ak,
                sk,
                format!(
                    "$(sed -n 's/^secret_access_key = \"\\(.*\\)\"/\\1/p' {})",
                    path.display()
                ),
            )
        }
        _ => {
            return Err(format!(
                "set both {ENV_ACCESS_KEY_ID} and {ENV_SECRET_ACCESS_KEY}, or neither"
            ));
        }
    };
    let cred = CredentialConfig {
        access_key_id: ak,
        secret_access_key: sk,
        display_name: Some("quickstart".to_owned()),
        allowed_buckets: vec!["*".to_owned()],
        policy: None,
        policy_file: None,
    };
    Ok((cred, secret_hint))
}
