//! The envelope: a sealed data key and everything a read needs, stored with the object as backend user metadata
//! (`x-amz-meta-s3sp`). The data key is sealed with AES-256-GCM under a key-encryption key (SSE-S3 master key,
//! SSE-C customer key, or an SSE-KMS bucket key; without a bucket key SSE-KMS stores the KMS ciphertext blob). The seal's AAD binds format version, mode,
//! KEK id, bucket and key, so a sealed key moved to another object name does not open.
//!
//! Text form (US-ASCII, `;`-separated `name=value`, version first):
//! `v=1;s=1;m=<S3|C|KMS>;k=<kek id, percent-encoded>;n=<nonce prefix b64>;d=<sealed key b64>[;h=<SSE-C key check
//! b64>][;b=<SSE-KMS bucket key blob b64>][;c=<SSE-KMS encryption context JSON b64>][;l=m]` (`l=m`: multipart
//! layout). For SSE-KMS, `k` is the KMS key ARN and `d` the KMS ciphertext blob of the data key — or, with a
//! bucket key (`b`), the data key sealed (as for SSE-S3) under the bucket key that `b` decrypts to.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::keys::{DataKey, Kek};
use super::segment::{NONCE_PREFIX_LEN, NoncePrefix};
use super::{CryptoError, SUITE_AES256GCM_64K, VERSION};

/// The backend metadata header that carries the envelope (`x-amz-meta-` + this name).
pub const METADATA_NAME: &str = "s3sp";

/// Which S3 encryption mode protects the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SseMode {
    /// `x-amz-server-side-encryption: AES256` — the gateway's own master keys.
    S3,
    /// SSE-C — the customer's key, never stored.
    C,
    /// `aws:kms` — a KMS-generated data key.
    Kms,
}

impl SseMode {
    fn as_str(self) -> &'static str {
        match self {
            Self::S3 => "S3",
            Self::C => "C",
            Self::Kms => "KMS",
        }
    }
    /// The mode as S3 names it (metric labels, logs).
    pub fn label(self) -> &'static str {
        match self {
            Self::S3 => "SSE-S3",
            Self::C => "SSE-C",
            Self::Kms => "SSE-KMS",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        match s {
            "S3" => Some(Self::S3),
            "C" => Some(Self::C),
            "KMS" => Some(Self::Kms),
            _ => None,
        }
    }
}

/// A sealed data key (public: it is ciphertext).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedKey(pub Vec<u8>);

/// Everything stored with an encrypted object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub mode: SseMode,
    pub kek_id: String,
    pub nonce_prefix: NoncePrefix,
    pub sealed_key: SealedKey,
    /// SSE-C only: salt ‖ HMAC-SHA256(customer key, label ‖ salt), to tell a wrong key from a tampered object.
    pub key_check: Option<Vec<u8>>,
    /// SSE-KMS with a bucket key: the KMS ciphertext blob of the bucket key that seals the data key.
    pub bucket_key: Option<Vec<u8>>,
    /// SSE-KMS: the client's encryption context (canonical JSON), beyond the default `aws:s3:arn`.
    pub context: Option<Vec<u8>>,
    /// Written by a multipart upload: one segment stream per part, located by the layout record.
    pub multipart: bool,
    /// Where the plaintext's stored checksum is (envelope text version 2); `None`: the object has none.
    pub checksum: Option<ChecksumPlace>,
}

/// Where an object's stored checksum (sealed, see [`super::checksum`]) is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChecksumPlace {
    /// In the envelope itself: known before the object was sent (a checksum header, or a body small enough
    /// to be read whole first).
    Inline(Vec<u8>),
    /// In the object's checksum record, written once the object is stored (a trailer checksum, or one the
    /// gateway computed, of a body that streamed).
    Record,
}

/// Envelope text version 2: version 1 plus the checksum field `x`.
const VERSION_WITH_CHECKSUM: &str = "2";

const SEAL_LABEL: &[u8] = b"s3-sse-proxy/v1/data-key";
const KEY_CHECK_LABEL: &[u8] = b"s3-sse-proxy/v1/sse-c-key-check";
const SEAL_NONCE_LEN: usize = 12;

/// AAD: length-prefixed fields, so no two different tuples encode alike.
fn seal_aad(mode: SseMode, kek_id: &str, bucket: &str, key: &str) -> Vec<u8> {
    let mut aad = vec![VERSION, SUITE_AES256GCM_64K];
    for field in [
        SEAL_LABEL,
        mode.as_str().as_bytes(),
        kek_id.as_bytes(),
        bucket.as_bytes(),
        key.as_bytes(),
    ] {
        aad.extend_from_slice(&(field.len() as u32).to_be_bytes());
        aad.extend_from_slice(field);
    }
    aad
}

fn aead(kek: &Kek) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, kek.as_bytes()).expect("32-byte key"))
}

/// Seal `dk` under `kek` for object `bucket`/`key`: `nonce(12) ‖ ciphertext(32) ‖ tag(16)`.
pub fn seal_key(kek: &Kek, mode: SseMode, dk: &DataKey, bucket: &str, key: &str) -> SealedKey {
    let mut nonce = [0u8; SEAL_NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce).expect("system RNG");
    seal_key_with_nonce(kek, mode, dk, bucket, key, nonce)
}

/// As [`seal_key`] with a given nonce: for test vectors only (a nonce must never repeat under one KEK).
pub fn seal_key_with_nonce(
    kek: &Kek,
    mode: SseMode,
    dk: &DataKey,
    bucket: &str,
    key: &str,
    nonce: [u8; SEAL_NONCE_LEN],
) -> SealedKey {
    let mut buf = dk.as_bytes().to_vec();
    let aad = seal_aad(mode, kek.id(), bucket, key);
    aead(kek)
        .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad.as_slice()), &mut buf)
        .expect("sealing 32 bytes cannot fail");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&buf);
    zeroize::Zeroize::zeroize(&mut buf);
    SealedKey(out)
}

/// Open a sealed data key; fails if the KEK, mode, KEK id, bucket or key differ from sealing time.
pub fn open_key(kek: &Kek, mode: SseMode, sealed: &SealedKey, bucket: &str, key: &str) -> Result<DataKey, CryptoError> {
    if sealed.0.len() != SEAL_NONCE_LEN + 32 + 16 {
        return Err(CryptoError::Malformed("sealed key length"));
    }
    let nonce: [u8; SEAL_NONCE_LEN] = sealed.0[..SEAL_NONCE_LEN].try_into().expect("length checked");
    let mut buf = zeroize::Zeroizing::new(sealed.0[SEAL_NONCE_LEN..].to_vec());
    let aad = seal_aad(mode, kek.id(), bucket, key);
    let plain = aead(kek)
        .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad.as_slice()), &mut buf)
        .map_err(|_| CryptoError::Authentication)?;
    let bytes: [u8; 32] = (&*plain)
        .try_into()
        .map_err(|_| CryptoError::Malformed("data key length"))?;
    Ok(DataKey::from_bytes(bytes))
}

fn key_check_mac(customer_key: &[u8; 32], salt: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(customer_key).expect("any key length");
    mac.update(KEY_CHECK_LABEL);
    mac.update(salt);
    mac.finalize().into_bytes().into()
}

/// SSE-C: `salt(16) ‖ HMAC-SHA256(customer key, label ‖ salt)` — the only trace of the key that is kept.
pub fn customer_key_check(customer_key: &[u8; 32]) -> Vec<u8> {
    let mut salt = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt).expect("system RNG");
    let mut out = salt.to_vec();
    out.extend_from_slice(&key_check_mac(customer_key, &salt));
    out
}

/// Constant-time check of a customer key against a stored [`customer_key_check`].
pub fn customer_key_matches(customer_key: &[u8; 32], check: &[u8]) -> bool {
    if check.len() != 48 {
        return false;
    }
    key_check_mac(customer_key, &check[..16]).ct_eq(&check[16..]).into()
}

const KEK_ID_SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'/')
    .remove(b':');

impl Envelope {
    /// The metadata value (see the module doc).
    pub fn encode(&self) -> String {
        let version = match self.checksum {
            Some(_) => VERSION_WITH_CHECKSUM.to_owned(),
            None => VERSION.to_string(),
        };
        let mut s = format!(
            "v={version};s={SUITE_AES256GCM_64K};m={};k={};n={};d={}",
            self.mode.as_str(),
            percent_encoding::utf8_percent_encode(&self.kek_id, KEK_ID_SET),
            B64.encode(self.nonce_prefix.0),
            B64.encode(&self.sealed_key.0),
        );
        if let Some(h) = &self.key_check {
            s.push_str(";h=");
            s.push_str(&B64.encode(h));
        }
        if let Some(b) = &self.bucket_key {
            s.push_str(";b=");
            s.push_str(&B64.encode(b));
        }
        if let Some(c) = &self.context {
            s.push_str(";c=");
            s.push_str(&B64.encode(c));
        }
        if self.multipart {
            s.push_str(";l=m");
        }
        match &self.checksum {
            Some(ChecksumPlace::Inline(sealed)) => {
                s.push_str(";x=");
                s.push_str(&B64.encode(sealed));
            }
            Some(ChecksumPlace::Record) => s.push_str(";x=r"),
            None => {}
        }
        s
    }

    /// Parse a metadata value; any unknown version, suite, mode or field is an error, never a guess.
    pub fn decode(s: &str) -> Result<Self, CryptoError> {
        let (mut v, mut suite, mut m, mut k, mut n, mut d, mut h, mut l) =
            (None, None, None, None, None, None, None, None);
        let (mut b, mut c, mut x) = (None, None, None);
        for field in s.split(';') {
            let (name, value) = field
                .split_once('=')
                .ok_or(CryptoError::Malformed("field without '='"))?;
            let slot = match name {
                "v" => &mut v,
                "s" => &mut suite,
                "m" => &mut m,
                "k" => &mut k,
                "n" => &mut n,
                "d" => &mut d,
                "h" => &mut h,
                "l" => &mut l,
                "b" => &mut b,
                "c" => &mut c,
                "x" => &mut x,
                _ => return Err(CryptoError::Malformed("unknown field")),
            };
            if slot.replace(value).is_some() {
                return Err(CryptoError::Malformed("repeated field"));
            }
        }
        // Version 2 is version 1 with the checksum field, which it must carry.
        match (v, x.is_some()) {
            (Some("1"), false) => {}
            (Some(VERSION_WITH_CHECKSUM), true) => {}
            (Some("1"), true) => return Err(CryptoError::Malformed("unknown field")),
            // A version 2 envelope without the field it exists for is no known version.
            _ => return Err(CryptoError::Malformed("unsupported version")),
        }
        if suite != Some("1") {
            return Err(CryptoError::Malformed("unsupported cipher suite"));
        }
        let mode = m
            .and_then(SseMode::parse)
            .ok_or(CryptoError::Malformed("unknown mode"))?;
        let kek_id = percent_encoding::percent_decode_str(k.ok_or(CryptoError::Malformed("missing kek id"))?)
            .decode_utf8()
            .map_err(|_| CryptoError::Malformed("kek id"))?
            .into_owned();
        let b64 = |x: Option<&str>, what: &'static str| {
            B64.decode(x.ok_or(CryptoError::Malformed(what))?)
                .map_err(|_| CryptoError::Malformed(what))
        };
        let prefix: [u8; NONCE_PREFIX_LEN] = b64(n, "nonce prefix")?
            .try_into()
            .map_err(|_| CryptoError::Malformed("nonce prefix length"))?;
        let sealed = b64(d, "sealed key")?;
        let key_check = h.map(|h| b64(Some(h), "key check")).transpose()?;
        if (mode == SseMode::C) != key_check.is_some() {
            return Err(CryptoError::Malformed("SSE-C key check present iff mode is C"));
        }
        let bucket_key = b.map(|b| b64(Some(b), "bucket key")).transpose()?;
        let context = c.map(|c| b64(Some(c), "encryption context")).transpose()?;
        if mode != SseMode::Kms && (bucket_key.is_some() || context.is_some()) {
            return Err(CryptoError::Malformed("bucket key and context are SSE-KMS fields"));
        }
        let multipart = match l {
            None => false,
            Some("m") => true,
            Some(_) => return Err(CryptoError::Malformed("unknown layout")),
        };
        let checksum = match x {
            None => None,
            Some("r") => Some(ChecksumPlace::Record),
            Some(sealed) => Some(ChecksumPlace::Inline(b64(Some(sealed), "checksum")?)),
        };
        Ok(Self {
            mode,
            kek_id,
            nonce_prefix: NoncePrefix(prefix),
            sealed_key: SealedKey(sealed),
            key_check,
            bucket_key,
            context,
            multipart,
            checksum,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kek() -> Kek {
        Kek::new("kek-1", [9; 32])
    }

    #[test]
    fn seal_binds_object_name_mode_and_kek() {
        let dk = DataKey::from_bytes([5; 32]);
        let sealed = seal_key(&kek(), SseMode::S3, &dk, "bucket", "a/b");
        assert_eq!(open_key(&kek(), SseMode::S3, &sealed, "bucket", "a/b").unwrap(), dk);
        for (b, k) in [("bucket", "a/c"), ("bucket2", "a/b"), ("bucke", "ta/b")] {
            assert_eq!(
                open_key(&kek(), SseMode::S3, &sealed, b, k),
                Err(CryptoError::Authentication)
            );
        }
        assert_eq!(
            open_key(&kek(), SseMode::C, &sealed, "bucket", "a/b"),
            Err(CryptoError::Authentication)
        );
        let other = Kek::new("kek-2", [9; 32]);
        assert_eq!(
            open_key(&other, SseMode::S3, &sealed, "bucket", "a/b"),
            Err(CryptoError::Authentication)
        );
    }

    #[test]
    fn envelope_text_round_trips_and_rejects_the_unknown() {
        let e = Envelope {
            mode: SseMode::C,
            kek_id: "sse-c".into(),
            nonce_prefix: NoncePrefix([1; 7]),
            sealed_key: SealedKey(vec![2; 60]),
            key_check: Some(vec![3; 48]),
            bucket_key: None,
            context: None,
            multipart: true,
            checksum: None,
        };
        assert_eq!(Envelope::decode(&e.encode()).unwrap(), e);
        for place in [ChecksumPlace::Record, ChecksumPlace::Inline(vec![4; 40])] {
            let with = Envelope {
                checksum: Some(place),
                ..e.clone()
            };
            assert!(with.encode().starts_with("v=2;"));
            assert_eq!(Envelope::decode(&with.encode()).unwrap(), with);
            assert!(Envelope::decode(&with.encode().replace("v=2", "v=1")).is_err());
        }
        assert!(Envelope::decode(&format!("{};x=r", e.encode())).is_err());
        assert!(Envelope::decode(&e.encode().replace("v=1", "v=2")).is_err());
        let text = e.encode();
        assert!(Envelope::decode(&text.replace("v=1", "v=2")).is_err());
        assert!(Envelope::decode(&text.replace("s=1", "s=9")).is_err());
        assert!(Envelope::decode(&format!("{text};x=1")).is_err());
        assert!(Envelope::decode(&text.replace(";h=", ";d=")).is_err());
        assert!(
            Envelope::decode(&format!("{text};b=AAAA")).is_err(),
            "bucket key on SSE-C"
        );
        let kms = Envelope {
            mode: SseMode::Kms,
            kek_id: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(),
            key_check: None,
            bucket_key: Some(vec![7; 90]),
            context: Some(br#"{"dept":"x"}"#.to_vec()),
            ..e
        };
        assert_eq!(Envelope::decode(&kms.encode()).unwrap(), kms);
    }

    #[test]
    fn customer_key_check_is_salted_and_exact() {
        let a = customer_key_check(&[1; 32]);
        let b = customer_key_check(&[1; 32]);
        assert_ne!(a, b, "salted");
        assert!(customer_key_matches(&[1; 32], &a));
        assert!(!customer_key_matches(&[2; 32], &a));
    }
}
