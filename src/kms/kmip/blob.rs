//! The KMIP KMS's ciphertext blob: what the server's AES-256-GCM Encrypt returned, with the key's Unique
//! Identifier and the nonce, so that Decrypt can be asked with the same inputs. Pure. Spec and vector:
//! `docs/format.md` §5.6.
//!
//! `blob = 0x01 ‖ be16 len(uid) ‖ uid ‖ u8 len(iv) ‖ iv ‖ ciphertext(32) ‖ tag(16)`, and the AES-GCM additional data
//! `AAD_kmip = "s3-sse-proxy/kmip/v1" ‖ lp(uid) ‖ lp(k₁) ‖ lp(v₁) ‖ …` over the context sorted by key.

use crate::crypto::kms_blob::{append_context, lp};

use super::message::TAG_LEN;

/// Blob format version (first byte).
pub const BLOB_VERSION: u8 = 1;
const LABEL: &[u8] = b"s3-sse-proxy/kmip/v1";
/// The nonce the gateway draws for each Encrypt (GCM's natural size; the server is not asked to choose).
pub const IV_LEN: usize = 12;
/// A blob always wraps a 256-bit data key.
pub const KEY_LEN: usize = 32;

/// A parsed blob, borrowing its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blob<'a> {
    pub uid: &'a str,
    pub iv: &'a [u8],
    pub ciphertext: &'a [u8],
    pub tag: &'a [u8],
}

/// The AES-GCM additional data binding a blob to its key and encryption context.
pub fn aad<'a>(uid: &str, context: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<u8> {
    let mut aad = LABEL.to_vec();
    lp(&mut aad, uid.as_bytes());
    append_context(&mut aad, context);
    aad
}

impl<'a> Blob<'a> {
    /// # Panics
    /// If the uid exceeds 65535 bytes or the iv 255 (the client checks uids; it draws the iv).
    pub fn encode(&self) -> Vec<u8> {
        let uid_len = u16::try_from(self.uid.len()).expect("uid checked by the caller");
        let iv_len = u8::try_from(self.iv.len()).expect("iv drawn by the client");
        let mut out = Vec::with_capacity(4 + self.uid.len() + self.iv.len() + self.ciphertext.len() + self.tag.len());
        out.push(BLOB_VERSION);
        out.extend_from_slice(&uid_len.to_be_bytes());
        out.extend_from_slice(self.uid.as_bytes());
        out.push(iv_len);
        out.extend_from_slice(self.iv);
        out.extend_from_slice(self.ciphertext);
        out.extend_from_slice(self.tag);
        out
    }

    /// Parse a blob; `None` if it is not one (another version, another length, an empty uid or iv).
    pub fn parse(blob: &'a [u8]) -> Option<Self> {
        let (&version, rest) = blob.split_first()?;
        if version != BLOB_VERSION {
            return None;
        }
        let (uid_len, rest) = rest.split_first_chunk::<2>()?;
        let (uid, rest) = rest.split_at_checked(u16::from_be_bytes(*uid_len) as usize)?;
        let (&iv_len, rest) = rest.split_first()?;
        let (iv, rest) = rest.split_at_checked(iv_len as usize)?;
        if rest.len() != KEY_LEN + TAG_LEN {
            return None;
        }
        let (ciphertext, tag) = rest.split_at(KEY_LEN);
        let uid = std::str::from_utf8(uid).ok()?;
        if uid.is_empty() || iv.is_empty() {
            return None;
        }
        Some(Self {
            uid,
            iv,
            ciphertext,
            tag,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_round_trip_and_refuse_what_is_not_one() {
        let b = Blob {
            uid: "42",
            iv: &[9; 12],
            ciphertext: &[7; 32],
            tag: &[5; 16],
        };
        let bytes = b.encode();
        assert_eq!(bytes.len(), 1 + 2 + 2 + 1 + 12 + 32 + 16);
        assert_eq!(&bytes[..6], &[1, 0, 2, b'4', b'2', 12]);
        assert_eq!(Blob::parse(&bytes), Some(b));
        for n in 0..bytes.len() {
            assert_eq!(Blob::parse(&bytes[..n]), None, "truncated to {n}");
        }
        assert_eq!(Blob::parse(&[&bytes[..], &[0]].concat()), None, "a byte appended");
        let mut v2 = bytes.clone();
        v2[0] = 2;
        assert_eq!(Blob::parse(&v2), None);
        assert_eq!(Blob::parse(&[1, 0, 0, 12]), None, "empty uid");
    }

    #[test]
    fn the_aad_binds_uid_and_context_without_ambiguity() {
        let a = aad("1", [("ab", "c")]);
        assert_eq!(a, b"s3-sse-proxy/kmip/v1\0\0\0\x011\0\0\0\x02ab\0\0\0\x01c");
        assert_ne!(a, aad("1", [("a", "bc")]));
        assert_ne!(a, aad("2", [("ab", "c")]));
        assert_eq!(aad("1", [("b", "2"), ("a", "1")]), aad("1", [("a", "1"), ("b", "2")]));
    }
}
