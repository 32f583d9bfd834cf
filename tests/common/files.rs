//! What the backend holds: s3s-fs keeps `bucket/key` as a plain file under its root and user metadata in a side
//! file, so tests read those files directly.

use std::path::{Path, PathBuf};

use super::Backend;

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Every regular file under `root`, recursively.
pub fn all_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(t) if t.is_file() => out.push(p),
                _ => {}
            }
        }
    }
    out.sort();
    out
}

/// The files under `root` whose content contains `needle`.
pub fn files_containing(root: &Path, needle: &[u8]) -> Vec<PathBuf> {
    all_files(root)
        .into_iter()
        .filter(|p| std::fs::read(p).is_ok_and(|d| contains(&d, needle)))
        .collect()
}

/// The backend's metadata side file of `bucket/key` (s3s-fs's naming).
pub fn metadata_file(b: &Backend, bucket: &str, key: &str) -> PathBuf {
    use base64::Engine as _;
    let b64url = |d: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d);
    b.root.join(format!(
        ".bucket-{}.object-{}.metadata.json",
        b64url(bucket.as_bytes()),
        b64url(key.as_bytes())
    ))
}
