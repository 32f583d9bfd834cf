//! Segments: each 64 KiB of plaintext (less for the last one of a part) sealed with AES-256-GCM (aws-lc-rs).
//!
//! - Per part a key: `K_part = HKDF-SHA256(ikm = data key, salt = "", info = "s3-sse-proxy/v1/segment" ‖
//!   be32(part))`, part 0 for objects written in one PUT, 1..=10000 for multipart parts. Moving a segment to
//!   another part or object changes its key.
//! - Nonce (12 bytes) = per-object random prefix (7) ‖ be32(segment index within the part) ‖ final flag (1 = the
//!   part's last segment). Reordering, truncation and appending are detected.
//! - AAD = `[VERSION, SUITE]`, so a segment cannot be read under another format version or suite.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};

use super::keys::DataKey;
use super::{CryptoError, SUITE_AES256GCM_64K, VERSION};

pub const NONCE_PREFIX_LEN: usize = 7;

/// The per-object random nonce prefix (public, stored in the envelope).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoncePrefix(pub [u8; NONCE_PREFIX_LEN]);

impl NoncePrefix {
    pub fn generate() -> Self {
        let mut p = [0u8; NONCE_PREFIX_LEN];
        aws_lc_rs::rand::fill(&mut p).expect("system RNG");
        Self(p)
    }
}

const AAD: [u8; 2] = [VERSION, SUITE_AES256GCM_64K];

/// Seals and opens the segments of one part of one object.
pub struct PartCipher {
    key: LessSafeKey,
    prefix: NoncePrefix,
}

impl PartCipher {
    pub fn new(data_key: &DataKey, prefix: NoncePrefix, part: u32) -> Self {
        let info = [b"s3-sse-proxy/v1/segment".as_slice(), &part.to_be_bytes()].concat();
        let prk = Salt::new(HKDF_SHA256, &[]).extract(data_key.as_bytes());
        let info_refs = [info.as_slice()];
        let okm = prk
            .expand(&info_refs, &AES_256_GCM)
            .expect("AES-256 key length is a valid HKDF output length");
        Self {
            key: LessSafeKey::new(UnboundKey::from(okm)),
            prefix,
        }
    }

    fn nonce(&self, index: u32, last: bool) -> Nonce {
        let mut n = [0u8; 12];
        n[..NONCE_PREFIX_LEN].copy_from_slice(&self.prefix.0);
        n[7..11].copy_from_slice(&index.to_be_bytes());
        n[11] = u8::from(last);
        Nonce::assume_unique_for_key(n)
    }

    /// Encrypt `buf` (one segment of plaintext) in place and append the tag.
    pub fn seal(&self, index: u32, last: bool, buf: &mut Vec<u8>) {
        self.key
            .seal_in_place_append_tag(self.nonce(index, last), Aad::from(AAD), buf)
            .expect("AES-GCM sealing cannot fail for segment-sized input");
    }

    /// Authenticate and decrypt one segment (ciphertext ‖ tag) in place; returns the plaintext length.
    pub fn open(&self, index: u32, last: bool, buf: &mut [u8]) -> Result<usize, CryptoError> {
        self.key
            .open_in_place(self.nonce(index, last), Aad::from(AAD), buf)
            .map(|p| p.len())
            .map_err(|_| CryptoError::Authentication)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher(part: u32) -> PartCipher {
        PartCipher::new(&DataKey::from_bytes([7; 32]), NoncePrefix([1, 2, 3, 4, 5, 6, 7]), part)
    }

    #[test]
    fn round_trip_and_every_binding() {
        let c = cipher(0);
        let mut buf = b"hello segment".to_vec();
        c.seal(3, false, &mut buf);
        assert_eq!(buf.len(), 13 + 16);
        let sealed = buf.clone();
        let n = c.open(3, false, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"hello segment");
        // Wrong index, wrong final flag, wrong part, flipped bit: all fail.
        assert_eq!(c.open(4, false, &mut sealed.clone()), Err(CryptoError::Authentication));
        assert_eq!(c.open(3, true, &mut sealed.clone()), Err(CryptoError::Authentication));
        assert_eq!(
            cipher(1).open(3, false, &mut sealed.clone()),
            Err(CryptoError::Authentication)
        );
        let mut t = sealed.clone();
        t[0] ^= 1;
        assert_eq!(c.open(3, false, &mut t), Err(CryptoError::Authentication));
    }
}
