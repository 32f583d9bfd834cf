//! Multipart uploads, encrypted part by part with no state outside the backend:
//!
//! - CreateMultipartUpload makes the object's envelope (stored as the upload's metadata, so it ends up on the
//!   final object) and hands the client an upload ID that carries it: `<backend id>~s3sp1~<base64url(envelope)>`.
//!   Any gateway instance can then encrypt any part: the sealed key is in every request, and only the gateway's
//!   keyring (or the client's SSE-C key) opens it.
//! - Each part is its own segment stream with its own key (HKDF of the data key and the part number).
//! - CompleteMultipartUpload records the part layout (ciphertext size of each part) in a sidecar object,
//!   `.s3-sse-proxy/layout/<sha256(key)>[/<sha256(version id)>]`, tagged with the completed object's backend
//!   ETag, because backends do not reliably serve part boundaries after completion. Reads need it to know where
//!   each part's stream starts. In a versioned bucket every version has its own.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use sha2::{Digest, Sha256};

use super::{Keys, open_data_key};
use crate::bucket_state::RESERVED_PREFIX;
use crate::crypto::envelope::{self, Envelope, SseMode};
use crate::crypto::keys::DataKey;
use crate::crypto::size::plaintext_len;
use crate::error::{S3Error, S3ErrorCode};
use crate::sse::checksum::UploadChecksum;
use crate::sse::request::CustomerKey;

const TOKEN_MARK: &str = "~s3sp1~";

pub fn upload_token(backend_id: &str, env: &Envelope) -> String {
    format!("{backend_id}{TOKEN_MARK}{}", B64URL.encode(env.encode()))
}

/// The upload ID of an upload that keeps a checksum: `<upload_token>~<UploadChecksum::token>`
/// (e.g. `…~CRC32.COMPOSITE`). Upload IDs without it (from earlier versions) keep none.
pub fn upload_token_with_checksum(backend_id: &str, env: &Envelope, checksum: UploadChecksum) -> String {
    format!("{}~{}", upload_token(backend_id, env), checksum.token())
}

/// The checksum an upload keeps, from its client upload ID.
pub fn upload_checksum(client_id: &str) -> Option<UploadChecksum> {
    let (_, token) = client_id.split_once(TOKEN_MARK)?;
    let (_, checksum) = token.split_once('~')?;
    UploadChecksum::from_token(checksum)
}

/// Split a client upload ID into the backend's ID and the envelope (absent for uploads not started here).
pub fn parse_upload_id(client_id: &str) -> Result<(String, Option<Envelope>), S3Error> {
    let Some((backend, token)) = client_id.split_once(TOKEN_MARK) else {
        return Ok((client_id.to_owned(), None));
    };
    let no_such = || S3Error::standard(S3ErrorCode::NoSuchUpload);
    let envelope = token.split_once('~').map_or(token, |(e, _)| e);
    let text = B64URL.decode(envelope).map_err(|_| no_such())?;
    let text = String::from_utf8(text).map_err(|_| no_such())?;
    let env = Envelope::decode(&text).map_err(|_| no_such())?;
    Ok((backend.to_owned(), Some(env)))
}

/// The data key of an upload, opened for UploadPart / UploadPartCopy with the part's SSE-C key, under S3's rules
/// for parts: an SSE-C upload needs its key on every part, and a part with another key is a mismatch (400), not
/// a denied read (403).
pub async fn open_part_key(
    keys: &Keys,
    upload: &Envelope,
    customer: Option<&CustomerKey>,
    bucket: &str,
    key: &str,
) -> Result<DataKey, S3Error> {
    check_upload_key(upload, customer, true)?;
    open_data_key(keys, upload, customer, bucket, key).await
}

/// S3's SSE-C rules for requests on an upload: a part (`part`) of an SSE-C upload needs the key; a key that is
/// given (on a part, CompleteMultipartUpload or ListParts) must be the upload's.
pub fn check_upload_key(upload: &Envelope, customer: Option<&CustomerKey>, part: bool) -> Result<(), S3Error> {
    match (upload.mode, customer) {
        (SseMode::C, None) if part => Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "The multipart upload initiate requested encryption. Subsequent part requests must include the \
             appropriate encryption parameters.",
        )),
        (SseMode::C, Some(ck))
            if !envelope::customer_key_matches(ck.as_bytes(), upload.key_check.as_deref().unwrap_or_default()) =>
        {
            Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "The provided encryption parameters did not match the ones used originally.",
            ))
        }
        (SseMode::S3 | SseMode::Kms, Some(_)) => Err(S3Error::not_applicable_to_object()),
        _ => Ok(()),
    }
}

/// A CompleteMultipartUpload body with the client's part ETags (`<md5>-1`, see UploadPart) turned back into
/// the backend's (`<md5>`). Backend part ETags never contain `-`. An ETag's quotes come however the client's XML
/// writer escapes them (`"`, `&quot;`, or Go's `&#34;` from the AWS SDK for Go: rclone, s5cmd), so each ETag is
/// unescaped before its suffix is looked at, and written back escaped.
pub fn backend_part_etags(xml: &[u8]) -> bytes::Bytes {
    let text = String::from_utf8_lossy(xml);
    let mut out = String::with_capacity(text.len());
    let mut rest: &str = &text;
    while let Some(i) = rest.find("<ETag>") {
        let (head, tail) = rest.split_at(i + "<ETag>".len());
        out.push_str(head);
        let Some(j) = tail.find("</ETag>") else { break };
        let raw = &tail[..j];
        match quick_xml::escape::unescape(raw) {
            Ok(etag) => out.push_str(&crate::error::xml_escape(&backend_part_etag(etag.trim()))),
            // Not valid XML text: the backend refuses the document itself.
            Err(_) => out.push_str(raw),
        }
        rest = &tail[j..];
    }
    out.push_str(rest);
    bytes::Bytes::from(out)
}

/// One part ETag as the client gave it (`"<md5>-1"`, quoted or not) as the backend made it.
fn backend_part_etag(etag: &str) -> String {
    let (quoted, core) = match etag.strip_prefix('"').and_then(|e| e.strip_suffix('"')) {
        Some(core) => (true, core),
        None => (false, etag),
    };
    let core = core.strip_suffix("-1").unwrap_or(core);
    if quoted { format!("\"{core}\"") } else { core.to_owned() }
}

/// Where the layout of `key` is recorded (of its current version where the backend keeps no versions, and of
/// its `null` version).
pub fn layout_key(key: &str) -> String {
    format!(
        "{RESERVED_PREFIX}layout/{}",
        hex::encode(Sha256::digest(key.as_bytes()))
    )
}

/// Where the layout of `key`'s version `version` (the backend's `x-amz-version-id`) is recorded: every version of
/// a multipart object keeps its own, so older versions stay readable. The `null` version's is [`layout_key`]'s.
pub fn version_layout_key(key: &str, version: Option<&str>) -> String {
    match version.filter(|v| *v != "null") {
        Some(v) => format!("{}/{}", layout_key(key), hex::encode(Sha256::digest(v.as_bytes()))),
        None => layout_key(key),
    }
}

/// Where a Complete records its layout before it completes the upload at the backend (docs/format.md §6.3): by
/// the upload's sealed data key, which the completed object's envelope carries and no other upload shares (not
/// under [`layout_key`]: a backend that stores keys as files could then not store that one as a file). A read
/// that finds no layout record of its own (the Complete was cut between the backend's answer and the record: an
/// instance killed, the backend gone) uses this one.
pub fn pending_layout_key(sealed_key: &[u8]) -> String {
    format!(
        "{RESERVED_PREFIX}layout-pending/{}",
        hex::encode(Sha256::digest(sealed_key))
    )
}

/// Where the plaintext size of a multipart object is recorded when listings cannot derive it (its parts are not
/// whole segments and it was not rewritten as one stream at Complete: an SSE-C upload completed without its key):
/// by object key and backend ETag, which every listing kind states (docs/format.md §6.6). One hash of both keeps
/// the name short (the embedded backend keeps a file name of its own per key, at most 255 bytes).
pub fn size_key(key: &str, backend_etag: &str) -> String {
    let mut h = Sha256::new();
    h.update((key.len() as u64).to_be_bytes());
    h.update(key.as_bytes());
    h.update(backend_etag.trim_matches('"').as_bytes());
    format!("{RESERVED_PREFIX}size/{}", hex::encode(h.finalize()))
}

/// A size record's body: `v=1;size=<plaintext size>`.
pub fn encode_size(size: u64) -> String {
    format!("v=1;size={size}")
}

pub fn decode_size(s: &str) -> Option<u64> {
    s.trim().strip_prefix("v=1;size=")?.parse().ok()
}

/// The parts of a completed multipart object: ciphertext size of each, in part order (part numbers 1..=n).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The backend ETag of the object this layout belongs to (a stale layout must not be used).
    pub etag: String,
    pub part_sizes: Vec<u64>,
    /// The part number of each part (S3 allows gaps: parts 1 and 3 make a two-part object).
    pub part_numbers: Vec<u32>,
}

impl Layout {
    /// `v=1;etag=<etag>;parts=<size>*<count>[@<first part number>],...`: runs of equal sizes and consecutive part
    /// numbers; `@n` only where a run does not continue from the previous one (from 1 for the first).
    pub fn encode(&self) -> String {
        // (size, count, first part number)
        let mut runs: Vec<(u64, usize, u32)> = Vec::new();
        for (&s, &num) in self.part_sizes.iter().zip(&self.part_numbers) {
            match runs.last_mut() {
                Some((size, n, first)) if *size == s && *first + *n as u32 == num => *n += 1,
                _ => runs.push((s, 1, num)),
            }
        }
        let mut next = 1;
        let parts: Vec<String> = runs
            .iter()
            .map(|&(s, n, first)| {
                let text = if first == next {
                    format!("{s}*{n}")
                } else {
                    format!("{s}*{n}@{first}")
                };
                next = first + n as u32;
                text
            })
            .collect();
        format!("v=1;etag={};parts={}", self.etag.trim_matches('"'), parts.join(","))
    }

    pub fn decode(s: &str) -> Option<Self> {
        let mut it = s.trim().split(';');
        if it.next()? != "v=1" {
            return None;
        }
        let etag = it.next()?.strip_prefix("etag=")?.to_owned();
        let (mut part_sizes, mut part_numbers) = (Vec::new(), Vec::new());
        let mut next: u32 = 1;
        for run in it.next()?.strip_prefix("parts=")?.split(',') {
            let (size, rest) = run.split_once('*')?;
            let (n, first) = match rest.split_once('@') {
                Some((n, first)) => (n, first.parse().ok()?),
                None => (rest, next),
            };
            let (size, n): (u64, usize) = (size.parse().ok()?, n.parse().ok()?);
            // Checked: a corrupt or hostile record may name any count (found by fuzz/envelope).
            let fits = |total: Option<usize>| total.is_some_and(|t| t <= 10_000);
            if n == 0
                || !fits(part_sizes.len().checked_add(n))
                || first < next
                || !fits((first as usize).checked_add(n - 1))
            {
                return None;
            }
            part_sizes.extend(std::iter::repeat_n(size, n));
            part_numbers.extend(first..first + n as u32);
            next = first + n as u32;
        }
        (it.next().is_none() && !part_sizes.is_empty()).then_some(Self {
            etag,
            part_sizes,
            part_numbers,
        })
    }

    /// Every part but the last holds whole segments, and a last part after others is not empty (its one
    /// tag-only segment would be one segment too many): the object then has the layout of one stream, and its
    /// size can be derived from a listing.
    pub fn is_aligned(&self) -> bool {
        let Some(sizes) = self.plaintext_sizes() else {
            return false;
        };
        let n = sizes.len();
        sizes[..n.saturating_sub(1)]
            .iter()
            .all(|&p| p > 0 && p % crate::crypto::SEGMENT_SIZE == 0)
            && (n < 2 || sizes[n - 1] > 0)
    }

    /// Plaintext size of every part, or `None` if a part size fits no plaintext (corrupt layout).
    pub fn plaintext_sizes(&self) -> Option<Vec<u64>> {
        self.part_sizes.iter().map(|&c| plaintext_len(c)).collect()
    }

    /// The object's stored size, the parts' ciphertext sizes added up; `None` if they add up to more than a `u64`
    /// holds (a record names any sizes: corrupt, or written by someone else).
    pub fn cipher_total(&self) -> Option<u64> {
        checked_sum(self.part_sizes.iter().copied())
    }

    /// The object's plaintext size; `None` for a corrupt layout (as [`Self::plaintext_sizes`], or too large).
    pub fn plaintext_total(&self) -> Option<u64> {
        checked_sum(self.plaintext_sizes()?.into_iter())
    }
}

/// The sum of `sizes`, or `None` if it exceeds `u64::MAX`.
pub fn checked_sum(mut sizes: impl Iterator<Item = u64>) -> Option<u64> {
    sizes.try_fold(0u64, u64::checked_add)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::envelope::{SealedKey, SseMode};
    use crate::crypto::segment::NoncePrefix;

    #[test]
    fn upload_ids_carry_the_envelope() {
        let env = Envelope {
            mode: SseMode::S3,
            kek_id: "kek-1".into(),
            nonce_prefix: NoncePrefix([4; 7]),
            sealed_key: SealedKey(vec![1; 60]),
            key_check: None,
            bucket_key: None,
            context: None,
            multipart: true,
            checksum: None,
        };
        let t = upload_token("abc-123", &env);
        assert_eq!(parse_upload_id(&t).unwrap(), ("abc-123".to_owned(), Some(env.clone())));
        assert_eq!(upload_checksum(&t), None);
        let crc32 = crate::sse::checksum::UploadChecksum::from_token("CRC32.COMPOSITE").unwrap();
        let t = upload_token_with_checksum("abc-123", &env, crc32);
        assert!(t.ends_with("~CRC32.COMPOSITE"), "{t}");
        assert_eq!(parse_upload_id(&t).unwrap(), ("abc-123".to_owned(), Some(env)));
        assert_eq!(upload_checksum(&t), Some(crc32));
        assert_eq!(parse_upload_id("plain").unwrap(), ("plain".to_owned(), None));
        assert_eq!(
            parse_upload_id("x~s3sp1~!!").unwrap_err().code,
            S3ErrorCode::NoSuchUpload
        );
    }

    #[test]
    fn layouts_with_impossible_counts_are_refused() {
        // The input fuzz/envelope found: a count near u64::MAX overflowed the bounds check.
        let text = "v=1;etag=abc-2;parts=65552*1,10*00000000000018446744073709551615;1000k3";
        assert_eq!(Layout::decode(text), None);
        assert_eq!(Layout::decode("v=1;etag=e;parts=1*18446744073709551615"), None);
        assert_eq!(Layout::decode("v=1;etag=e;parts=1*2@4294967295"), None);
        assert_eq!(
            Layout::decode("v=1;etag=e;parts=1*10000").map(|l| l.part_sizes.len()),
            Some(10_000)
        );
        assert_eq!(Layout::decode("v=1;etag=e;parts=1*10001"), None);
    }

    #[test]
    fn layouts_whose_sizes_add_up_past_u64_have_no_total() {
        // Each size is a valid stream (plaintext_len accepts it); together they exceed u64::MAX. Read for a GET,
        // such a record is stale (its total matches no object), never a wrapped total that might match one.
        let big = u64::MAX - 1;
        let text = format!("v=1;etag=e;parts={big}*2");
        let layout = Layout::decode(&text).expect("a well-formed record");
        assert_eq!(layout.cipher_total(), None);
        assert_eq!(layout.plaintext_total(), None);
        assert_eq!(layout.plaintext_sizes().map(|s| s.len()), Some(2));
        // Sizes that wrap to a small total (u64::MAX + 17 = 16) are refused too.
        let layout = Layout::decode(&format!("v=1;etag=e;parts={}*1,17*1", u64::MAX)).expect("well-formed");
        assert_eq!(layout.cipher_total(), None);
        let layout = Layout::decode("v=1;etag=e;parts=65552*2,26*1").expect("well-formed");
        assert_eq!(layout.cipher_total(), Some(2 * 65552 + 26));
        assert_eq!(layout.plaintext_total(), Some(2 * 65536 + 10));
        assert_eq!(checked_sum([u64::MAX, 0].into_iter()), Some(u64::MAX));
        assert_eq!(checked_sum([u64::MAX, 1].into_iter()), None);
    }

    #[test]
    fn complete_bodies_get_backend_part_etags() {
        // As boto3 (`&quot;`), a raw `"`, the AWS SDK for Go (`&#34;`: rclone, s5cmd) and unquoted write them.
        let xml = b"<CompleteMultipartUpload><Part><ETag>&quot;abc-1&quot;</ETag><PartNumber>1</PartNumber></Part>\
<Part><ETag>\"def-1\"</ETag><PartNumber>2</PartNumber></Part><Part><ETag>&#34;jkl-1&#34;</ETag><PartNumber>3</PartNumber>\
</Part><Part><ETag>ghi-1</ETag></Part></CompleteMultipartUpload>";
        let out = backend_part_etags(xml);
        let out = std::str::from_utf8(&out).unwrap();
        let etags: Vec<String> = crate::s3::xml::xml_all(out, "ETag")
            .iter()
            .map(|e| quick_xml::escape::unescape(e).unwrap().into_owned())
            .collect();
        assert_eq!(etags, ["\"abc\"", "\"def\"", "\"jkl\"", "ghi"], "{out}");
        assert!(out.contains("<PartNumber>3</PartNumber>"), "{out}");
    }

    #[test]
    fn layouts_round_trip_run_length_encoded() {
        let l = Layout {
            etag: "abc-3".into(),
            part_sizes: vec![10, 10, 7],
            part_numbers: vec![1, 2, 3],
        };
        assert_eq!(l.encode(), "v=1;etag=abc-3;parts=10*2,7*1");
        assert_eq!(Layout::decode(&l.encode()), Some(l));
        let gaps = Layout {
            etag: "e-3".into(),
            part_sizes: vec![10, 10, 7],
            part_numbers: vec![1, 3, 4],
        };
        assert_eq!(gaps.encode(), "v=1;etag=e-3;parts=10*1,10*1@3,7*1");
        assert_eq!(Layout::decode(&gaps.encode()), Some(gaps));
        assert_eq!(
            Layout::decode("v=1;etag=a;parts=1*2,1*1@2"),
            None,
            "part numbers must increase"
        );
        assert_eq!(Layout::decode("v=2;etag=a;parts=1*1"), None);
        assert_eq!(Layout::decode("v=1;etag=a;parts=1*10001"), None);
        let c = crate::crypto::size::ciphertext_len;
        let five_mib = 5 * 1024 * 1024;
        let l = |sizes: Vec<u64>| Layout {
            etag: "e".into(),
            part_numbers: (1..=sizes.len() as u32).collect(),
            part_sizes: sizes,
        };
        assert!(l(vec![c(five_mib), c(five_mib), c(7)]).is_aligned());
        assert!(!l(vec![c(five_mib + 1), c(1000)]).is_aligned());
        assert!(!l(vec![c(five_mib), c(0)]).is_aligned(), "an empty last part");
        assert!(l(vec![c(0)]).is_aligned(), "one empty part is one stream");
    }
}
