//! Payload checksums, computed incrementally as the body streams through.
//!
//! [`Checksummer`] produces the flexible-checksum values S3 exchanges in `x-amz-checksum-*` headers and
//! trailers (CRC32, CRC32C, CRC64NVME, SHA1, SHA256, and since 2025 SHA512, MD5, XXHASH64, XXHASH3 (64-bit) and
//! XXHASH128: base64 of the big-endian digest, xxHash with seed 0); [`Md5Hasher`] produces
//! `Content-MD5` (base64) and [`Sha256Hasher`] produces `x-amz-content-sha256` (lowercase hex).
//!
//! This module is sans-IO and stateless beyond the running digests. It must never buffer a payload (every
//! hasher is fed piece by piece), and values received from a client must never be compared with `==`: use
//! [`ct_eq`], which does not leak where two values first differ.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest as _, Sha256, Sha512};
use subtle::ConstantTimeEq as _;
use xxhash_rust::xxh3::Xxh3;
use xxhash_rust::xxh64::Xxh64;

/// A flexible-checksum algorithm S3 accepts in `x-amz-checksum-*` headers and trailers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
    Sha512,
    Md5,
    XxHash64,
    XxHash3,
    XxHash128,
}

impl ChecksumAlgorithm {
    /// Every algorithm, in a fixed order.
    pub const ALL: [Self; 10] = [
        Self::Crc32,
        Self::Crc32c,
        Self::Crc64Nvme,
        Self::Sha1,
        Self::Sha256,
        Self::Sha512,
        Self::Md5,
        Self::XxHash64,
        Self::XxHash3,
        Self::XxHash128,
    ];

    /// A CRC: the ones whose values of two pieces combine into the value of both (S3's FULL_OBJECT type of a
    /// multipart upload); the digests and xxHashes only make COMPOSITE checksums.
    pub fn is_crc(self) -> bool {
        matches!(self, Self::Crc32 | Self::Crc32c | Self::Crc64Nvme)
    }

    /// The algorithm whose header is named `name` (`x-amz-checksum-crc32`, ...), ignoring ASCII case.
    pub fn from_header_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.header_name().eq_ignore_ascii_case(name))
    }

    /// The algorithm named by an `x-amz-sdk-checksum-algorithm` value (`CRC32`, `CRC32C`, `CRC64NVME`, `SHA1`,
    /// `SHA256`), ignoring ASCII case.
    pub fn from_sdk_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.sdk_name().eq_ignore_ascii_case(name))
    }

    /// The header (and trailer) name carrying this checksum, lowercase.
    pub fn header_name(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
            Self::Sha512 => "x-amz-checksum-sha512",
            Self::Md5 => "x-amz-checksum-md5",
            Self::XxHash64 => "x-amz-checksum-xxhash64",
            Self::XxHash3 => "x-amz-checksum-xxhash3",
            Self::XxHash128 => "x-amz-checksum-xxhash128",
        }
    }

    /// The name used in `x-amz-sdk-checksum-algorithm` and `x-amz-checksum-algorithm`, uppercase.
    pub fn sdk_name(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
            Self::Md5 => "MD5",
            Self::XxHash64 => "XXHASH64",
            Self::XxHash3 => "XXHASH3",
            Self::XxHash128 => "XXHASH128",
        }
    }
}

/// The CRC of `a ‖ b` from the CRCs of `a` and of `b` (base64, as S3 sends them) and the length of `b`: how a
/// FULL_OBJECT checksum of a multipart object is made from its parts' without reading them again. `None` for a SHA
/// (they do not combine) or a value that is not a checksum of `algorithm`.
pub fn combine_crc(algorithm: ChecksumAlgorithm, a: &str, b: &str, b_len: u64) -> Option<String> {
    use crc_fast::CrcAlgorithm;
    let (crc, width) = match algorithm {
        ChecksumAlgorithm::Crc32 => (CrcAlgorithm::Crc32IsoHdlc, 4),
        ChecksumAlgorithm::Crc32c => (CrcAlgorithm::Crc32Iscsi, 4),
        ChecksumAlgorithm::Crc64Nvme => (CrcAlgorithm::Crc64Nvme, 8),
        _ => return None,
    };
    let value = |s: &str| -> Option<u64> {
        let bytes = BASE64.decode(s).ok()?;
        (bytes.len() == width).then(|| bytes.iter().fold(0u64, |v, b| (v << 8) | u64::from(*b)))
    };
    let combined = crc_fast::checksum_combine(crc, value(a)?, value(b)?, b_len);
    Some(if width == 8 {
        BASE64.encode(combined.to_be_bytes())
    } else {
        BASE64.encode((combined as u32).to_be_bytes())
    })
}

/// An incremental flexible checksum; [`Checksummer::finish`] gives the value as S3 sends it.
#[derive(Clone)]
pub struct Checksummer {
    algorithm: ChecksumAlgorithm,
    state: ChecksumState,
}

#[derive(Clone)]
enum ChecksumState {
    Crc(crc_fast::Digest),
    Sha1(Sha1),
    Sha256(Sha256),
    Sha512(Sha512),
    Md5(Md5),
    XxHash64(Xxh64),
    /// XXHASH3 (64-bit) and XXHASH128: one state, two ways to finish.
    XxHash3(Box<Xxh3>),
}

impl Checksummer {
    pub fn new(algorithm: ChecksumAlgorithm) -> Self {
        use crc_fast::CrcAlgorithm;
        let state = match algorithm {
            ChecksumAlgorithm::Crc32 => ChecksumState::Crc(crc_fast::Digest::new(CrcAlgorithm::Crc32IsoHdlc)),
            ChecksumAlgorithm::Crc32c => ChecksumState::Crc(crc_fast::Digest::new(CrcAlgorithm::Crc32Iscsi)),
            ChecksumAlgorithm::Crc64Nvme => ChecksumState::Crc(crc_fast::Digest::new(CrcAlgorithm::Crc64Nvme)),
            ChecksumAlgorithm::Sha1 => ChecksumState::Sha1(Sha1::new()),
            ChecksumAlgorithm::Sha256 => ChecksumState::Sha256(Sha256::new()),
            ChecksumAlgorithm::Sha512 => ChecksumState::Sha512(Sha512::new()),
            ChecksumAlgorithm::Md5 => ChecksumState::Md5(Md5::new()),
            ChecksumAlgorithm::XxHash64 => ChecksumState::XxHash64(Xxh64::new(0)),
            ChecksumAlgorithm::XxHash3 | ChecksumAlgorithm::XxHash128 => ChecksumState::XxHash3(Box::new(Xxh3::new())),
        };
        Self { algorithm, state }
    }

    pub fn algorithm(&self) -> ChecksumAlgorithm {
        self.algorithm
    }

    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            ChecksumState::Crc(d) => d.update(data),
            ChecksumState::Sha1(d) => d.update(data),
            ChecksumState::Sha256(d) => d.update(data),
            ChecksumState::Sha512(d) => d.update(data),
            ChecksumState::Md5(d) => d.update(data),
            ChecksumState::XxHash64(d) => d.update(data),
            ChecksumState::XxHash3(d) => d.update(data),
        }
    }

    /// Base64 (standard alphabet, padded) of the big-endian checksum: 4 bytes for the CRC32 variants, 8 for
    /// CRC64NVME, XXHASH64 and XXHASH3, 16 for MD5 and XXHASH128, 20 for SHA1, 32 for SHA256, 64 for SHA512.
    pub fn finish(self) -> String {
        match self.state {
            ChecksumState::Crc(d) => {
                let value = d.finalize();
                if self.algorithm == ChecksumAlgorithm::Crc64Nvme {
                    BASE64.encode(value.to_be_bytes())
                } else {
                    // A 32-bit CRC is returned in the low half of the u64.
                    BASE64.encode((value as u32).to_be_bytes())
                }
            }
            ChecksumState::Sha1(d) => BASE64.encode(d.finalize()),
            ChecksumState::Sha256(d) => BASE64.encode(d.finalize()),
            ChecksumState::Sha512(d) => BASE64.encode(d.finalize()),
            ChecksumState::Md5(d) => BASE64.encode(d.finalize()),
            ChecksumState::XxHash64(d) => BASE64.encode(d.digest().to_be_bytes()),
            ChecksumState::XxHash3(d) if self.algorithm == ChecksumAlgorithm::XxHash128 => {
                BASE64.encode(d.digest128().to_be_bytes())
            }
            ChecksumState::XxHash3(d) => BASE64.encode(d.digest().to_be_bytes()),
        }
    }
}

impl std::fmt::Debug for Checksummer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checksummer")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// Incremental MD5 for `Content-MD5`: [`Md5Hasher::finish`] gives base64 of the 16-byte digest.
#[derive(Clone, Default)]
pub struct Md5Hasher(Md5);

impl Md5Hasher {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    pub fn finish(self) -> String {
        BASE64.encode(self.0.finalize())
    }
}

/// Incremental SHA-256 for `x-amz-content-sha256`: [`Sha256Hasher::finish`] gives lowercase hex.
#[derive(Clone, Default)]
pub struct Sha256Hasher(Sha256);

impl Sha256Hasher {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    pub fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

/// Constant-time string equality: the time taken depends on the lengths, never on where the contents differ.
pub fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHECK: &[u8] = b"123456789";

    fn one_shot(algorithm: ChecksumAlgorithm, data: &[u8]) -> String {
        let mut c = Checksummer::new(algorithm);
        c.update(data);
        c.finish()
    }

    #[test]
    fn crc_check_values() {
        assert_eq!(
            one_shot(ChecksumAlgorithm::Crc32, CHECK),
            BASE64.encode(0xCBF4_3926u32.to_be_bytes())
        );
        assert_eq!(one_shot(ChecksumAlgorithm::Crc32, CHECK), "y/Q5Jg==");
        assert_eq!(
            one_shot(ChecksumAlgorithm::Crc32c, CHECK),
            BASE64.encode(0xE306_9283u32.to_be_bytes())
        );
        assert_eq!(
            one_shot(ChecksumAlgorithm::Crc64Nvme, CHECK),
            BASE64.encode(0xAE8B_1486_0A79_9888u64.to_be_bytes())
        );
        // Empty input: every CRC of nothing is 0 for these reflected/xor-out parameterisations.
        assert_eq!(one_shot(ChecksumAlgorithm::Crc32, b""), "AAAAAA==");
        assert_eq!(one_shot(ChecksumAlgorithm::Crc32c, b""), "AAAAAA==");
        assert_eq!(one_shot(ChecksumAlgorithm::Crc64Nvme, b""), "AAAAAAAAAAA=");
    }

    #[test]
    fn sha_values() {
        let sha256_empty = hex::decode("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855").unwrap();
        assert_eq!(one_shot(ChecksumAlgorithm::Sha256, b""), BASE64.encode(&sha256_empty));
        assert_eq!(
            one_shot(ChecksumAlgorithm::Sha256, b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        let sha1_abc = hex::decode("a9993e364706816aba3e25717850c26c9cd0d89d").unwrap();
        assert_eq!(one_shot(ChecksumAlgorithm::Sha1, b"abc"), BASE64.encode(&sha1_abc));
        assert_eq!(one_shot(ChecksumAlgorithm::Sha1, b""), "2jmj7l5rSw0yVb/vlWAYkK/YBwk=");

        let mut h = Sha256Hasher::new();
        h.update(b"");
        assert_eq!(
            h.finish(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let mut h = Sha256Hasher::new();
        h.update(b"ab");
        h.update(b"c");
        assert_eq!(
            h.finish(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );

        let mut m = Md5Hasher::new();
        assert_eq!(m.clone().finish(), "1B2M2Y8AsgTpgAmY7PhCfg==");
        m.update(b"The quick brown fox ");
        m.update(b"jumps over the lazy dog");
        // 9e107d9d372bb6826bd81d3542a419d6
        assert_eq!(m.finish(), "nhB9nTcrtoJr2B01QqQZ1g==");
    }

    /// The 2025 algorithms, against their published values (xxHash: seed 0, the reference implementation's
    /// sanity values for empty input; SHA-512 and MD5: FIPS 180-4 / RFC 1321 "abc").
    #[test]
    fn newer_algorithm_values() {
        let b64 = |hex_value: &str| BASE64.encode(hex::decode(hex_value).unwrap());
        assert_eq!(one_shot(ChecksumAlgorithm::XxHash64, b""), b64("ef46db3751d8e999"));
        assert_eq!(one_shot(ChecksumAlgorithm::XxHash3, b""), b64("2d06800538d394c2"));
        assert_eq!(
            one_shot(ChecksumAlgorithm::XxHash128, b""),
            b64("99aa06d3014798d86001c324468d497f")
        );
        assert_eq!(
            one_shot(ChecksumAlgorithm::Md5, b"abc"),
            b64("900150983cd24fb0d6963f7d28e17f72")
        );
        assert_eq!(
            one_shot(ChecksumAlgorithm::Sha512, b"abc"),
            b64("ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
                 2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f")
        );
        for a in ChecksumAlgorithm::ALL {
            assert_eq!(ChecksumAlgorithm::from_sdk_name(a.sdk_name()), Some(a));
            assert_eq!(ChecksumAlgorithm::from_header_name(a.header_name()), Some(a));
        }
    }

    #[test]
    fn incremental_equals_one_shot() {
        let data: Vec<u8> = (0..10_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for algorithm in ChecksumAlgorithm::ALL {
            let expected = one_shot(algorithm, &data);
            for piece in [1usize, 3, 7, 64, 1000, 4099] {
                let mut c = Checksummer::new(algorithm);
                for part in data.chunks(piece) {
                    c.update(part);
                }
                assert_eq!(c.finish(), expected, "{algorithm:?} in pieces of {piece}");
            }
            let mut c = Checksummer::new(algorithm);
            c.update(&data[..1]);
            c.update(&[]);
            c.update(&data[1..5000]);
            c.update(&data[5000..]);
            assert_eq!(c.finish(), expected, "{algorithm:?} uneven split");
        }
    }

    #[test]
    fn crcs_combine_as_the_whole() {
        let (a, b) = (b"the first part, ".as_slice(), b"and the second".as_slice());
        let whole = [a, b].concat();
        for alg in [
            ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc32c,
            ChecksumAlgorithm::Crc64Nvme,
        ] {
            let combined = combine_crc(alg, &one_shot(alg, a), &one_shot(alg, b), b.len() as u64);
            assert_eq!(combined, Some(one_shot(alg, &whole)), "{alg:?}");
            // An empty second part changes nothing.
            assert_eq!(
                combine_crc(alg, &one_shot(alg, a), &one_shot(alg, b""), 0),
                Some(one_shot(alg, a))
            );
        }
        let sha = one_shot(ChecksumAlgorithm::Sha256, a);
        assert_eq!(combine_crc(ChecksumAlgorithm::Sha256, &sha, &sha, 1), None);
        // A CRC32 value is not a CRC64NVME one.
        let crc32 = one_shot(ChecksumAlgorithm::Crc32, a);
        assert_eq!(combine_crc(ChecksumAlgorithm::Crc64Nvme, &crc32, &crc32, 1), None);
    }

    #[test]
    fn names() {
        for algorithm in ChecksumAlgorithm::ALL {
            assert_eq!(
                ChecksumAlgorithm::from_header_name(algorithm.header_name()),
                Some(algorithm)
            );
            assert_eq!(
                ChecksumAlgorithm::from_header_name(&algorithm.header_name().to_ascii_uppercase()),
                Some(algorithm)
            );
            assert_eq!(ChecksumAlgorithm::from_sdk_name(algorithm.sdk_name()), Some(algorithm));
            assert_eq!(
                ChecksumAlgorithm::from_sdk_name(&algorithm.sdk_name().to_ascii_lowercase()),
                Some(algorithm)
            );
            assert_eq!(algorithm.header_name(), algorithm.header_name().to_ascii_lowercase());
        }
        assert_eq!(
            ChecksumAlgorithm::from_header_name("X-Amz-Checksum-CRC32C"),
            Some(ChecksumAlgorithm::Crc32c)
        );
        assert_eq!(ChecksumAlgorithm::from_header_name("x-amz-checksum-blake3"), None);
        assert_eq!(ChecksumAlgorithm::from_header_name("x-amz-checksum-crc32 "), None);
        assert_eq!(
            ChecksumAlgorithm::from_sdk_name("crc64nvme"),
            Some(ChecksumAlgorithm::Crc64Nvme)
        );
        assert_eq!(ChecksumAlgorithm::from_sdk_name("BLAKE3"), None);
        assert_eq!(ChecksumAlgorithm::from_sdk_name(""), None);
    }

    #[test]
    fn constant_time_eq() {
        assert!(ct_eq("", ""));
        assert!(ct_eq("y/Q5Jg==", "y/Q5Jg=="));
        assert!(!ct_eq("y/Q5Jg==", "y/Q5Jh=="));
        assert!(!ct_eq("y/Q5Jg==", "y/Q5Jg="));
        assert!(!ct_eq("a", ""));
    }
}
