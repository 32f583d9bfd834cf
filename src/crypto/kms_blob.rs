//! The local KMS's ciphertext blob: a data key encrypted under a versioned master key, bound to the encryption
//! context. Pure: the key file and its reloading live in `kms::local`. Spec and vector: `docs/format.md` §8.
//!
//! `blob = 0x01 ‖ u8 len(key id) ‖ key id ‖ be32 master-key version ‖ nonce(12) ‖ AES-256-GCM ciphertext ‖ tag(16)`,
//! AAD = `"s3-sse-proxy/local-kms/v1" ‖ lp(key id) ‖ be32(version) ‖ lp(k₁) ‖ lp(v₁) ‖ …` over the context sorted
//! by key, where `lp(x) = be32(len x) ‖ x`.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

use super::CryptoError;
use super::keys::Kek;

/// Blob format version (first byte).
pub const BLOB_VERSION: u8 = 1;
const LABEL: &[u8] = b"s3-sse-proxy/local-kms/v1";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// `lp(x) = be32(len x) ‖ x`, appended to `out`.
pub fn lp(out: &mut Vec<u8>, x: &[u8]) {
    out.extend_from_slice(&(x.len() as u32).to_be_bytes());
    out.extend_from_slice(x);
}

/// Append an encryption context as `lp(k₁) ‖ lp(v₁) ‖ …`, sorted by key: the same context always gives the
/// same bytes, and two different contexts never do. Shared by the local and the KMIP KMS blobs.
pub fn append_context<'a>(aad: &mut Vec<u8>, context: impl IntoIterator<Item = (&'a str, &'a str)>) {
    let mut pairs: Vec<_> = context.into_iter().collect();
    pairs.sort();
    for (k, v) in pairs {
        lp(aad, k.as_bytes());
        lp(aad, v.as_bytes());
    }
}

fn aad<'a>(key_id: &str, version: u32, context: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<u8> {
    let mut aad = LABEL.to_vec();
    lp(&mut aad, key_id.as_bytes());
    aad.extend_from_slice(&version.to_be_bytes());
    append_context(&mut aad, context);
    aad
}

/// The header of a blob: which master key (id and version) opens it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobHeader {
    pub key_id: String,
    pub version: u32,
}

/// Encrypt `plaintext` under master key `master` (its id is the key id) version `version`, bound to `context`.
pub fn seal<'a>(
    master: &Kek,
    version: u32,
    plaintext: &[u8],
    context: impl IntoIterator<Item = (&'a str, &'a str)>,
    nonce: [u8; NONCE_LEN],
) -> Vec<u8> {
    let id = master.id().as_bytes();
    assert!(id.len() <= 255, "key ids are short");
    let mut out = vec![BLOB_VERSION, id.len() as u8];
    out.extend_from_slice(id);
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&nonce);
    let mut buf = plaintext.to_vec();
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, master.as_bytes()).expect("32-byte key"));
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad(master.id(), version, context)),
        &mut buf,
    )
    .expect("sealing a small buffer cannot fail");
    out.extend_from_slice(&buf);
    zeroize::Zeroize::zeroize(&mut buf);
    out
}

/// Read a blob's header (which master key to use) without opening it.
pub fn header(blob: &[u8]) -> Result<BlobHeader, CryptoError> {
    let (&v, rest) = blob.split_first().ok_or(CryptoError::Malformed("empty blob"))?;
    if v != BLOB_VERSION {
        return Err(CryptoError::Malformed("unsupported blob version"));
    }
    let (&n, rest) = rest.split_first().ok_or(CryptoError::Malformed("blob key id"))?;
    let n = n as usize;
    if rest.len() < n + 4 + NONCE_LEN + TAG_LEN {
        return Err(CryptoError::Malformed("blob too short"));
    }
    let key_id = std::str::from_utf8(&rest[..n])
        .map_err(|_| CryptoError::Malformed("blob key id"))?
        .to_owned();
    let version = u32::from_be_bytes(rest[n..n + 4].try_into().expect("4 bytes"));
    Ok(BlobHeader { key_id, version })
}

/// Open a blob with the master key its header names; fails unless key, version and context are those of sealing.
pub fn open<'a>(
    master: &Kek,
    blob: &[u8],
    context: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<zeroize::Zeroizing<Vec<u8>>, CryptoError> {
    let h = header(blob)?;
    if h.key_id != master.id() {
        return Err(CryptoError::Authentication);
    }
    let body = &blob[2 + h.key_id.len() + 4..];
    let nonce: [u8; NONCE_LEN] = body[..NONCE_LEN].try_into().expect("length checked");
    let mut buf = zeroize::Zeroizing::new(body[NONCE_LEN..].to_vec());
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, master.as_bytes()).expect("32-byte key"));
    let n = key
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(&h.key_id, h.version, context)),
            &mut buf,
        )
        .map_err(|_| CryptoError::Authentication)?
        .len();
    buf.truncate(n);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_open_only_with_their_key_version_and_context() {
        let k = Kek::new("1234abcd-0000-0000-0000-000000000001", [7; 32]);
        let ctx = [("aws:s3:arn", "arn:aws:s3:::b/k"), ("dept", "x")];
        let blob = seal(&k, 3, &[5; 32], ctx, [1; 12]);
        assert_eq!(
            header(&blob).unwrap(),
            BlobHeader {
                key_id: k.id().into(),
                version: 3
            }
        );
        assert_eq!(open(&k, &blob, ctx).unwrap().as_slice(), &[5; 32]);
        // Context order does not matter; its content does.
        assert!(open(&k, &blob, [ctx[1], ctx[0]]).is_ok());
        assert_eq!(open(&k, &blob, [ctx[0]]).unwrap_err(), CryptoError::Authentication);
        assert_eq!(
            open(&k, &blob, [ctx[0], ("dept", "y")]).unwrap_err(),
            CryptoError::Authentication
        );
        let other = Kek::new(k.id(), [8; 32]);
        assert_eq!(open(&other, &blob, ctx).unwrap_err(), CryptoError::Authentication);
        let mut altered = blob.clone();
        let at = 2 + k.id().len() + 3;
        altered[at] ^= 1; // the version
        assert_eq!(open(&k, &altered, ctx).unwrap_err(), CryptoError::Authentication);
        assert!(header(&blob[..20]).is_err());
        let mut v2 = blob.clone();
        v2[0] = 2;
        assert!(header(&v2).is_err());
    }
}
