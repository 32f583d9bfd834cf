//! Stored checksums: the checksum of the plaintext that S3 keeps with every object (the client's
//! `x-amz-checksum-*`, header or trailer, verified; or a CRC64NVME the gateway computed) and answers on GET and HEAD
//! with `x-amz-checksum-mode: ENABLED` and in GetObjectAttributes. Never the backend's, which describe ciphertext.
//!
//! The value is sealed under the object's data key (`crypto::checksum`) and kept in the envelope when it was known
//! before the object was sent, otherwise in a record written after it (`.s3-sse-proxy/checksum/…`, bound to the
//! object's backend ETag). docs/format.md §5.7. The records are read and written by `ops::checksum`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::{HeaderMap, HeaderValue};
use sha2::{Digest as _, Sha256};

use crate::auth::checksum::{ChecksumAlgorithm, Checksummer, combine_crc};
use crate::body::verify::BodyChecksum;
use crate::bucket_state::RESERVED_PREFIX;
use crate::crypto::checksum::{open_checksum, seal_checksum};
use crate::crypto::keys::DataKey;
use crate::error::{S3Error, S3ErrorCode};
use crate::s3::request::header_str;

/// S3's `x-amz-checksum-type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChecksumType {
    /// A checksum of the whole object's bytes.
    FullObject,
    /// A checksum of the parts' checksums, `…-N` (multipart uploads).
    Composite,
}

impl ChecksumType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FullObject => "FULL_OBJECT",
            Self::Composite => "COMPOSITE",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "FULL_OBJECT" => Some(Self::FullObject),
            "COMPOSITE" => Some(Self::Composite),
            _ => None,
        }
    }
}

/// An object's checksum as S3 answers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredChecksum {
    pub algorithm: ChecksumAlgorithm,
    pub kind: ChecksumType,
    /// Base64 of the digest (`…-N` for a composite one).
    pub value: String,
}

impl StoredChecksum {
    /// The checksum of a body stored as one stream.
    pub fn of_body(b: &BodyChecksum) -> Self {
        Self {
            algorithm: b.algorithm,
            kind: ChecksumType::FullObject,
            value: b.value.clone(),
        }
    }

    /// The sealed text: `<ALGORITHM> <TYPE> <value>`, e.g. `CRC64NVME FULL_OBJECT AAAAAAAAAAA=`.
    fn text(&self) -> String {
        format!("{} {} {}", self.algorithm.sdk_name(), self.kind.as_str(), self.value)
    }

    fn parse(text: &str) -> Option<Self> {
        let mut fields = text.split(' ');
        let algorithm = ChecksumAlgorithm::from_sdk_name(fields.next()?)?;
        let kind = ChecksumType::parse(fields.next()?)?;
        let value = fields.next()?.to_owned();
        fields.next().is_none().then_some(Self { algorithm, kind, value })
    }

    /// `x-amz-checksum-<algorithm>` and `x-amz-checksum-type`, as S3 answers GET, HEAD and writes.
    pub fn add_headers(&self, h: &mut HeaderMap) {
        if let Ok(v) = HeaderValue::from_str(&self.value) {
            h.insert(self.algorithm.header_name(), v);
            h.insert("x-amz-checksum-type", HeaderValue::from_static(self.kind.as_str()));
        }
    }

    /// Sealed under the object's data key, for its envelope or record.
    pub fn seal(&self, dk: &DataKey) -> Vec<u8> {
        self.seal_part(dk, 0)
    }

    pub fn open(dk: &DataKey, sealed: &[u8]) -> Result<Self, S3Error> {
        Self::open_part(dk, 0, sealed)
    }

    /// Sealed as the checksum of part `part` of a multipart upload (0: the whole object).
    pub fn seal_part(&self, dk: &DataKey, part: u32) -> Vec<u8> {
        seal_checksum(dk, part, &self.text())
    }

    pub fn open_part(dk: &DataKey, part: u32, sealed: &[u8]) -> Result<Self, S3Error> {
        let text = open_checksum(dk, part, sealed).map_err(|e| S3Error::internal(format!("stored checksum: {e}")))?;
        Self::parse(&text).ok_or_else(|| S3Error::internal("stored checksum: malformed text"))
    }
}

/// The checksum a multipart upload keeps: the one CreateMultipartUpload chose (`x-amz-checksum-algorithm`,
/// `x-amz-checksum-type`), or S3's default, a FULL_OBJECT CRC64NVME. Each part's is kept in a record as the part
/// is uploaded; CompleteMultipartUpload checks what the client lists against them and combines them (a checksum
/// of the parts' checksums, `…-N`, for COMPOSITE; the CRC of the whole for FULL_OBJECT).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UploadChecksum {
    pub algorithm: ChecksumAlgorithm,
    pub kind: ChecksumType,
    /// The client chose it: S3 then answers it on CreateMultipartUpload and the parts, and Complete must list
    /// every part's.
    pub asked: bool,
}

impl UploadChecksum {
    const DEFAULT: Self = Self {
        algorithm: ChecksumAlgorithm::Crc64Nvme,
        kind: ChecksumType::FullObject,
        asked: false,
    };

    /// The upload's checksum as CreateMultipartUpload's headers choose it, with S3's errors for the
    /// combinations it refuses.
    pub fn from_create(h: &HeaderMap) -> Result<Self, S3Error> {
        let invalid = |m: String| Err(S3Error::new(S3ErrorCode::InvalidRequest, m));
        let kind = header_str(h, "x-amz-checksum-type");
        let Some(name) = header_str(h, "x-amz-checksum-algorithm") else {
            return match kind {
                Some(_) => invalid(
                    "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.".into(),
                ),
                None => Ok(Self::DEFAULT),
            };
        };
        let Some(algorithm) = ChecksumAlgorithm::from_sdk_name(name) else {
            return invalid(
                "Checksum algorithm provided is unsupported. Please try again with any of the valid types: \
                 [CRC32, CRC32C, CRC64NVME, SHA1, SHA256, SHA512, MD5, XXHASH64, XXHASH3, XXHASH128]"
                    .into(),
            );
        };
        let kind = match kind {
            None if algorithm == ChecksumAlgorithm::Crc64Nvme => ChecksumType::FullObject,
            None => ChecksumType::Composite,
            Some(k) => match ChecksumType::parse(k) {
                Some(k) => k,
                None => return invalid("Value for x-amz-checksum-type header is invalid.".into()),
            },
        };
        let combines = match kind {
            ChecksumType::FullObject => algorithm.is_crc(),
            ChecksumType::Composite => algorithm != ChecksumAlgorithm::Crc64Nvme,
        };
        if !combines {
            return invalid(format!(
                "The {} checksum type cannot be used with the {} checksum algorithm.",
                kind.as_str(),
                algorithm.sdk_name().to_ascii_lowercase()
            ));
        }
        Ok(Self {
            algorithm,
            kind,
            asked: true,
        })
    }

    /// How the upload ID carries it: `<ALGORITHM>.<TYPE>`, and `.d` for S3's default (docs/format.md §5.7).
    pub fn token(self) -> String {
        let d = if self.asked { "" } else { ".d" };
        format!("{}.{}{d}", self.algorithm.sdk_name(), self.kind.as_str())
    }

    pub fn from_token(s: &str) -> Option<Self> {
        let mut f = s.split('.');
        let algorithm = ChecksumAlgorithm::from_sdk_name(f.next()?)?;
        let kind = ChecksumType::parse(f.next()?)?;
        let asked = match f.next() {
            None => true,
            Some("d") => false,
            Some(_) => return None,
        };
        f.next().is_none().then_some(Self { algorithm, kind, asked })
    }

    /// `x-amz-checksum-algorithm` and `x-amz-checksum-type`, as S3 answers CreateMultipartUpload (only when the
    /// client chose them).
    pub fn add_headers(self, h: &mut HeaderMap) {
        if self.asked {
            h.insert(
                "x-amz-checksum-algorithm",
                HeaderValue::from_static(self.algorithm.sdk_name()),
            );
            h.insert("x-amz-checksum-type", HeaderValue::from_static(self.kind.as_str()));
        }
    }

    /// The object's checksum from its parts' (base64 values of this upload's algorithm, with the parts'
    /// plaintext lengths, in part order). `None` if a value is not of this algorithm.
    pub fn combine(self, parts: &[(String, u64)]) -> Option<StoredChecksum> {
        let value = match self.kind {
            ChecksumType::Composite => {
                let mut h = Checksummer::new(self.algorithm);
                for (v, _) in parts {
                    h.update(&B64.decode(v).ok()?);
                }
                format!("{}-{}", h.finish(), parts.len())
            }
            ChecksumType::FullObject => {
                let ((first, _), rest) = parts.split_first()?;
                let mut whole = first.clone();
                for (v, len) in rest {
                    whole = combine_crc(self.algorithm, &whole, v, *len)?;
                }
                whole
            }
        };
        Some(StoredChecksum {
            algorithm: self.algorithm,
            kind: self.kind,
            value,
        })
    }
}

/// Whether a GET or HEAD asked for the stored checksum (`x-amz-checksum-mode: ENABLED`).
pub fn wanted(request: &HeaderMap) -> bool {
    header_str(request, "x-amz-checksum-mode").is_some_and(|v| v.eq_ignore_ascii_case("ENABLED"))
}

/// Where the checksum record of `key`'s version `version` lives (no version, or `null`: the key's own).
pub fn record_key(key: &str, version: Option<&str>) -> String {
    let base = format!(
        "{RESERVED_PREFIX}checksum/{}",
        hex::encode(Sha256::digest(key.as_bytes()))
    );
    match version.filter(|v| *v != "null") {
        Some(v) => format!("{base}/{}", hex::encode(Sha256::digest(v.as_bytes()))),
        None => base,
    }
}

/// Where the checksum of part `part` of the upload `backend_upload_id` of `key` is kept until Complete:
/// `.s3-sse-proxy/parts/<sha256(key ‖ 0x00 ‖ upload)>/<part>`, apart from the objects' records (a file-system
/// backend cannot hold a key that is also a prefix of others) and short (s3s-fs keeps a file named after the
/// bucket and key). DeleteBucket removes what is left.
pub fn part_record_key(key: &str, backend_upload_id: &str, part: u32) -> String {
    let upload = Sha256::new()
        .chain_update(key.as_bytes())
        .chain_update([0])
        .chain_update(backend_upload_id.as_bytes())
        .finalize();
    format!("{RESERVED_PREFIX}parts/{}/{part}", hex::encode(upload))
}

/// A checksum record: `v=1;etag=<backend ETag, unquoted>;x=<b64 sealed checksum>`, and for a multipart object
/// `;p=<b64 sealed>,…`: each part's checksum in part order, sealed as that part's (GetObjectAttributes' ObjectParts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub etag: String,
    pub sealed: Vec<u8>,
    pub parts: Vec<Vec<u8>>,
}

impl Record {
    pub fn encode(&self) -> String {
        let mut out = format!("v=1;etag={};x={}", self.etag, B64.encode(&self.sealed));
        if !self.parts.is_empty() {
            let parts: Vec<String> = self.parts.iter().map(|p| B64.encode(p)).collect();
            out.push_str(";p=");
            out.push_str(&parts.join(","));
        }
        out
    }

    pub fn decode(s: &str) -> Option<Self> {
        let rest = s.trim().strip_prefix("v=1;etag=")?;
        let (etag, rest) = rest.split_once(";x=")?;
        let (sealed, parts) = match rest.split_once(";p=") {
            Some((sealed, parts)) => (
                sealed,
                parts.split(',').map(|p| B64.decode(p).ok()).collect::<Option<_>>()?,
            ),
            None => (rest, Vec::new()),
        };
        Some(Self {
            etag: etag.to_owned(),
            sealed: B64.decode(sealed).ok()?,
            parts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_record_round_trip() {
        let c = StoredChecksum {
            algorithm: ChecksumAlgorithm::Crc32c,
            kind: ChecksumType::Composite,
            value: "yZRlqg==-3".into(),
        };
        let dk = DataKey::from_bytes([1; 32]);
        assert_eq!(StoredChecksum::open(&dk, &c.seal(&dk)).unwrap(), c);
        assert_eq!(StoredChecksum::parse("CRC32 FULL_OBJECT a b"), None);
        assert_eq!(StoredChecksum::parse("BLAKE3 FULL_OBJECT a"), None);
        let r = Record {
            etag: "abc".into(),
            sealed: vec![1, 2, 3],
            parts: Vec::new(),
        };
        assert_eq!(Record::decode(&r.encode()), Some(r.clone()));
        let with_parts = Record {
            parts: vec![vec![4, 5], vec![6]],
            ..r
        };
        assert_eq!(with_parts.encode(), "v=1;etag=abc;x=AQID;p=BAU=,Bg==");
        assert_eq!(Record::decode(&with_parts.encode()), Some(with_parts));
        assert_eq!(Record::decode("v=1;etag=a;x=AQID;p=!!"), None);
        assert_eq!(Record::decode("v=2;etag=a;x=AQID"), None);
    }

    fn of(alg: ChecksumAlgorithm, data: &[u8]) -> String {
        let mut c = Checksummer::new(alg);
        c.update(data);
        c.finish()
    }

    fn create(alg: Option<&'static str>, kind: Option<&'static str>) -> Result<UploadChecksum, S3Error> {
        let mut h = HeaderMap::new();
        if let Some(a) = alg {
            h.insert("x-amz-checksum-algorithm", HeaderValue::from_static(a));
        }
        if let Some(k) = kind {
            h.insert("x-amz-checksum-type", HeaderValue::from_static(k));
        }
        UploadChecksum::from_create(&h)
    }

    #[test]
    fn an_upload_checksum_is_chosen_as_s3_allows() {
        assert_eq!(create(None, None).unwrap(), UploadChecksum::DEFAULT);
        assert_eq!(create(Some("XXHASH128"), None).unwrap().kind, ChecksumType::Composite);
        let crc32 = create(Some("CRC32"), None).unwrap();
        assert_eq!((crc32.kind, crc32.asked), (ChecksumType::Composite, true));
        assert_eq!(create(Some("crc64nvme"), None).unwrap().kind, ChecksumType::FullObject);
        assert_eq!(
            create(Some("CRC32C"), Some("FULL_OBJECT")).unwrap().kind,
            ChecksumType::FullObject
        );
        for (alg, kind) in [
            (Some("CRC64NVME"), Some("COMPOSITE")),
            (Some("SHA256"), Some("FULL_OBJECT")),
            (Some("BLAKE3"), None),
            (Some("XXHASH64"), Some("FULL_OBJECT")),
            (Some("MD5"), Some("FULL_OBJECT")),
            (Some("CRC32"), Some("WHOLE")),
            (None, Some("COMPOSITE")),
        ] {
            let e = create(alg, kind).unwrap_err();
            assert_eq!(e.code, S3ErrorCode::InvalidRequest, "{alg:?} {kind:?}");
        }
        for c in [UploadChecksum::DEFAULT, crc32] {
            assert_eq!(UploadChecksum::from_token(&c.token()), Some(c));
        }
        assert_eq!(UploadChecksum::from_token("CRC32.COMPOSITE.x"), None);
    }

    #[test]
    fn parts_combine_as_s3_combines_them() {
        let parts: [&[u8]; 3] = [b"first part ", b"second part ", b"last"];
        for alg in [
            ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc32c,
            ChecksumAlgorithm::Crc64Nvme,
        ] {
            let full = UploadChecksum {
                algorithm: alg,
                kind: ChecksumType::FullObject,
                asked: true,
            };
            let values: Vec<_> = parts.iter().map(|p| (of(alg, p), p.len() as u64)).collect();
            assert_eq!(full.combine(&values).unwrap().value, of(alg, &parts.concat()));
        }
        // COMPOSITE: the checksum of the parts' raw checksums, then `-N`.
        let alg = ChecksumAlgorithm::Sha256;
        let composite = UploadChecksum {
            algorithm: alg,
            kind: ChecksumType::Composite,
            asked: true,
        };
        let values: Vec<_> = parts.iter().map(|p| (of(alg, p), p.len() as u64)).collect();
        let raw: Vec<u8> = parts.iter().flat_map(|p| Sha256::digest(p).to_vec()).collect();
        assert_eq!(
            composite.combine(&values).unwrap().value,
            format!("{}-3", B64.encode(Sha256::digest(&raw)))
        );
        // A value of another algorithm does not combine.
        let full = UploadChecksum {
            algorithm: ChecksumAlgorithm::Crc64Nvme,
            kind: ChecksumType::FullObject,
            asked: false,
        };
        assert_eq!(
            full.combine(&[
                (of(ChecksumAlgorithm::Crc32, b"a"), 1),
                (of(ChecksumAlgorithm::Crc32, b"b"), 1)
            ]),
            None
        );
    }

    #[test]
    fn records_of_versions_are_apart() {
        assert_eq!(record_key("k", None), record_key("k", Some("null")));
        assert_ne!(record_key("k", None), record_key("k", Some("v1")));
        assert!(record_key("k", Some("v1")).starts_with(&record_key("k", None)));
    }
}
