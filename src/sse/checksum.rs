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

use crate::auth::checksum::ChecksumAlgorithm;
use crate::body::verify::BodyChecksum;
use crate::bucket_state::RESERVED_PREFIX;
use crate::crypto::checksum::{open_checksum, seal_checksum};
use crate::crypto::keys::DataKey;
use crate::error::S3Error;
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
        match s {
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
        seal_checksum(dk, 0, &self.text())
    }

    pub fn open(dk: &DataKey, sealed: &[u8]) -> Result<Self, S3Error> {
        let text = open_checksum(dk, 0, sealed).map_err(|e| S3Error::internal(format!("stored checksum: {e}")))?;
        Self::parse(&text).ok_or_else(|| S3Error::internal("stored checksum: malformed text"))
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

/// A checksum record: `v=1;etag=<backend ETag, unquoted>;x=<b64 sealed checksum>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub etag: String,
    pub sealed: Vec<u8>,
}

impl Record {
    pub fn encode(&self) -> String {
        format!("v=1;etag={};x={}", self.etag, B64.encode(&self.sealed))
    }

    pub fn decode(s: &str) -> Option<Self> {
        let rest = s.trim().strip_prefix("v=1;etag=")?;
        let (etag, sealed) = rest.split_once(";x=")?;
        Some(Self {
            etag: etag.to_owned(),
            sealed: B64.decode(sealed).ok()?,
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
        assert_eq!(StoredChecksum::parse("MD5 FULL_OBJECT a"), None);
        let r = Record {
            etag: "abc".into(),
            sealed: vec![1, 2, 3],
        };
        assert_eq!(Record::decode(&r.encode()), Some(r));
        assert_eq!(Record::decode("v=2;etag=a;x=AQID"), None);
    }

    #[test]
    fn records_of_versions_are_apart() {
        assert_eq!(record_key("k", None), record_key("k", Some("null")));
        assert_ne!(record_key("k", None), record_key("k", Some("v1")));
        assert!(record_key("k", Some("v1")).starts_with(&record_key("k", None)));
    }
}
