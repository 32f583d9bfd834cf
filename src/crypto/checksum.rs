//! A stored checksum of an object's plaintext, sealed under the object's data key: a CRC or SHA of the plaintext
//! lets whoever holds it confirm a guess about the data, so the backend only ever sees it encrypted. Opened only
//! by a reader that can open the data key (the same keyring, SSE-C key or KMS grant the data needs).
//!
//! `K_ck = HKDF-SHA256(DK, salt "", info "s3-sse-proxy/v1/checksum" ‖ be32(part))`, then
//! `sealed = nonce(12, random) ‖ AES-256-GCM(K_ck, nonce, AAD = 01 01, text) ‖ tag`. Part 0 is the whole object;
//! parts 1..=10000 are reserved for multipart parts. The text is opaque here (`src/sse/checksum.rs` gives it
//! meaning). Spec and vectors: docs/format.md §5.7.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};

use super::keys::DataKey;
use super::{CryptoError, SUITE_AES256GCM_64K, VERSION};

const LABEL: &[u8] = b"s3-sse-proxy/v1/checksum";
const AAD: [u8; 2] = [VERSION, SUITE_AES256GCM_64K];
/// Longest text sealed (an algorithm name, a type and a base64 SHA-256 fit with room to spare).
pub const MAX_TEXT: usize = 128;

fn checksum_key(dk: &DataKey, part: u32) -> LessSafeKey {
    let info = [LABEL, &part.to_be_bytes()].concat();
    let prk = Salt::new(HKDF_SHA256, &[]).extract(dk.as_bytes());
    let info_refs = [info.as_slice()];
    let okm = prk
        .expand(&info_refs, &AES_256_GCM)
        .expect("AES-256 key length is a valid HKDF output length");
    LessSafeKey::new(UnboundKey::from(okm))
}

/// Seal `text` as the checksum of stream `part` (0: the whole object) of the object whose data key is `dk`.
pub fn seal_checksum(dk: &DataKey, part: u32, text: &str) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce).expect("system RNG");
    seal_checksum_with_nonce(dk, part, text, nonce)
}

/// As [`seal_checksum`] with a given nonce: for test vectors only.
pub fn seal_checksum_with_nonce(dk: &DataKey, part: u32, text: &str, nonce: [u8; NONCE_LEN]) -> Vec<u8> {
    let mut buf = text.as_bytes().to_vec();
    checksum_key(dk, part)
        .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(AAD), &mut buf)
        .expect("sealing a short text cannot fail");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&buf);
    out
}

/// Open a sealed checksum of stream `part`; fails unless it was sealed under this data key for this part.
pub fn open_checksum(dk: &DataKey, part: u32, sealed: &[u8]) -> Result<String, CryptoError> {
    if sealed.len() < NONCE_LEN + 16 || sealed.len() > NONCE_LEN + MAX_TEXT + 16 {
        return Err(CryptoError::Malformed("sealed checksum length"));
    }
    let nonce: [u8; NONCE_LEN] = sealed[..NONCE_LEN].try_into().expect("length checked");
    let mut buf = sealed[NONCE_LEN..].to_vec();
    let text = checksum_key(dk, part)
        .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(AAD), &mut buf)
        .map_err(|_| CryptoError::Authentication)?;
    String::from_utf8(text.to_vec()).map_err(|_| CryptoError::Malformed("checksum text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_only_under_its_data_key_and_part() {
        let dk = DataKey::from_bytes([7; 32]);
        let sealed = seal_checksum(&dk, 0, "CRC32 FULL_OBJECT AAAAAA==");
        assert_eq!(open_checksum(&dk, 0, &sealed).unwrap(), "CRC32 FULL_OBJECT AAAAAA==");
        assert_eq!(open_checksum(&dk, 1, &sealed), Err(CryptoError::Authentication));
        let other = DataKey::from_bytes([8; 32]);
        assert_eq!(open_checksum(&other, 0, &sealed), Err(CryptoError::Authentication));
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(open_checksum(&dk, 0, &flipped), Err(CryptoError::Authentication));
        assert!(matches!(
            open_checksum(&dk, 0, &sealed[..20]),
            Err(CryptoError::Malformed(_))
        ));
    }

    #[test]
    fn fresh_nonce_each_time() {
        let dk = DataKey::from_bytes([7; 32]);
        assert_ne!(seal_checksum(&dk, 0, "x"), seal_checksum(&dk, 0, "x"));
    }
}
