//! The storage format's test vectors live in `docs/format.md` (one fenced block with the info string `vectors`);
//! this test loads them and checks each against the crate's public API, so the spec and the code cannot drift.
//! Golden vectors must reproduce exactly; invalid vectors must fail with the error they name. The block's
//! conventions are described in the spec, section "Test vectors".

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use hmac::{Hmac, KeyInit, Mac};
use s3_sse_proxy::crypto::CryptoError;
use s3_sse_proxy::crypto::checksum;
use s3_sse_proxy::crypto::envelope::{self, ChecksumPlace, Envelope, SealedKey, SseMode};
use s3_sse_proxy::crypto::keys::{DataKey, Kek};
use s3_sse_proxy::crypto::kms_blob;
use s3_sse_proxy::crypto::segment::{NONCE_PREFIX_LEN, NoncePrefix, PartCipher};
use s3_sse_proxy::crypto::size::{ciphertext_len, plaintext_len, segments, span};
use s3_sse_proxy::crypto::stream::{StreamOpener, StreamSealer};
use s3_sse_proxy::crypto::{SEGMENT_SIZE, TAG_SIZE};
use s3_sse_proxy::error::S3ErrorCode;
use s3_sse_proxy::keyring::Keyring;
use s3_sse_proxy::kms::kmip::blob::{self as kmip_blob, Blob};
use s3_sse_proxy::sse::multipart::{
    Layout, decode_size, encode_size, layout_key, parse_upload_id, pending_layout_key, size_key, upload_token,
    version_layout_key,
};
use sha2::{Digest, Sha256};

const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/format.md");
const KEY_CHECK_LABEL: &[u8] = b"s3-sse-proxy/v1/sse-c-key-check";

type Check<T> = Result<T, String>;

/// One line of the block.
struct Vector {
    name: String,
    line: usize,
    defect: Option<String>,
    fields: BTreeMap<String, String>,
}

/// Extract and parse the `vectors` block.
fn load() -> Vec<Vector> {
    let doc = std::fs::read_to_string(SPEC).unwrap_or_else(|e| panic!("{SPEC}: {e}"));
    let mut lines = doc.lines().enumerate();
    lines
        .by_ref()
        .find(|(_, l)| l.trim_end() == "```vectors")
        .unwrap_or_else(|| panic!("{SPEC}: no ```vectors block"));
    let mut vectors = Vec::new();
    let mut comment: Option<String> = None;
    let mut closed = false;
    for (i, raw) in lines {
        let line = raw.trim();
        if line.starts_with("```") {
            closed = true;
            break;
        }
        if line.is_empty() {
            comment = None;
            continue;
        }
        if let Some(c) = line.strip_prefix('#') {
            comment = Some(c.trim().to_owned());
            continue;
        }
        let (name, rest) = line
            .split_once('|')
            .unwrap_or_else(|| panic!("format.md line {}: expected `name | fields`", i + 1));
        let mut fields = BTreeMap::new();
        for f in rest.split_whitespace() {
            let (k, v) = f
                .split_once('=')
                .unwrap_or_else(|| panic!("format.md line {}: field {f:?} has no '='", i + 1));
            assert!(
                fields.insert(k.to_owned(), v.to_owned()).is_none(),
                "format.md line {}: field {k} repeated",
                i + 1
            );
        }
        vectors.push(Vector {
            name: name.trim().to_owned(),
            line: i + 1,
            defect: comment.take(),
            fields,
        });
    }
    assert!(closed, "{SPEC}: the vectors block is not closed");
    assert!(!vectors.is_empty(), "{SPEC}: the vectors block is empty");
    vectors
}

/// A vector's fields (its own, then those of its `from` base), recording which of its own were used.
struct Fields<'a> {
    own: &'a BTreeMap<String, String>,
    base: Option<&'a BTreeMap<String, String>>,
    used: RefCell<BTreeSet<String>>,
}

impl Fields<'_> {
    fn opt(&self, k: &str) -> Option<&str> {
        self.used.borrow_mut().insert(k.to_owned());
        self.own
            .get(k)
            .or_else(|| self.base.and_then(|b| b.get(k)))
            .map(String::as_str)
    }
    fn str(&self, k: &str) -> Check<&str> {
        self.opt(k).ok_or_else(|| format!("missing field {k}"))
    }
    fn u64(&self, k: &str) -> Check<u64> {
        self.str(k)?.parse().map_err(|_| format!("{k} is not a number"))
    }
    fn u32(&self, k: &str) -> Check<u32> {
        self.str(k)?.parse().map_err(|_| format!("{k} is not a number"))
    }
    fn hex(&self, k: &str) -> Check<Vec<u8>> {
        hex::decode(self.str(k)?).map_err(|_| format!("{k} is not hex"))
    }
    fn hex_n<const N: usize>(&self, k: &str) -> Check<[u8; N]> {
        self.hex(k)?.try_into().map_err(|_| format!("{k} must be {N} bytes"))
    }
    fn list(&self, k: &str) -> Check<Vec<u64>> {
        self.str(k)?
            .split(',')
            .map(|s| s.parse().map_err(|_| format!("{k}: {s:?} is not a number")))
            .collect()
    }
    fn dk(&self) -> Check<DataKey> {
        Ok(DataKey::from_bytes(self.hex_n("dk")?))
    }
    fn prefix(&self) -> Check<NoncePrefix> {
        Ok(NoncePrefix(self.hex_n::<NONCE_PREFIX_LEN>("prefix")?))
    }
    fn mode(&self) -> Check<SseMode> {
        match self.str("mode")? {
            "S3" => Ok(SseMode::S3),
            "C" => Ok(SseMode::C),
            "KMS" => Ok(SseMode::Kms),
            m => Err(format!("unknown mode {m}")),
        }
    }
    fn flag(&self, k: &str) -> Check<bool> {
        match self.str(k)? {
            "0" => Ok(false),
            "1" => Ok(true),
            v => Err(format!("{k} must be 0 or 1, not {v}")),
        }
    }
    fn unused(&self) -> Vec<String> {
        let used = self.used.borrow();
        self.own.keys().filter(|k| !used.contains(*k)).cloned().collect()
    }
}

/// How an invalid vector must fail.
#[derive(Debug, PartialEq)]
enum Failure {
    Crypto(CryptoError),
    KeyMismatch,
    NoSuchUpload,
    NoParse,
}

impl From<CryptoError> for Failure {
    fn from(e: CryptoError) -> Self {
        Self::Crypto(e)
    }
}

fn expected(f: &Fields<'_>) -> Check<Option<(String, Option<String>)>> {
    let Some(e) = f.own.get("expect") else {
        return Ok(None);
    };
    f.used.borrow_mut().insert("expect".into());
    let why = f.own.get("why").cloned();
    if why.is_some() {
        f.used.borrow_mut().insert("why".into());
    }
    if (e == "Malformed") != why.is_some() {
        return Err("`why` is required with expect=Malformed, and only with it".into());
    }
    Ok(Some((e.clone(), why)))
}

fn failure_matches(got: &Failure, expect: &str, why: Option<&str>) -> bool {
    match (got, expect) {
        (Failure::Crypto(CryptoError::Authentication), "Authentication") => true,
        (Failure::Crypto(CryptoError::UnknownKek), "UnknownKek") => true,
        (Failure::Crypto(CryptoError::Malformed(detail)), "Malformed") => why == Some(&detail.replace(' ', "-")),
        (Failure::KeyMismatch, "mismatch") | (Failure::NoSuchUpload, "NoSuchUpload") | (Failure::NoParse, "none") => {
            true
        }
        _ => false,
    }
}

/// `P(i) = i mod 251` for object offsets `start..end`.
fn pattern(start: u64, end: u64) -> Vec<u8> {
    (start..end).map(|i| (i % 251) as u8).collect()
}

/// Apply the byte alterations of an invalid vector, in the documented order.
fn alter(mut ct: Vec<u8>, f: &Fields<'_>) -> Check<Vec<u8>> {
    let own = |k: &str| {
        f.used.borrow_mut().insert(k.to_owned());
        f.own.get(k)
    };
    if let Some(v) = own("flip") {
        let (off, mask) = v.split_once(':').ok_or("flip=<offset>:<hex mask>")?;
        let off: usize = off.parse().map_err(|_| "flip offset")?;
        let mask = u8::from_str_radix(mask, 16).map_err(|_| "flip mask")?;
        *ct.get_mut(off).ok_or("flip offset past the end")? ^= mask;
    }
    if let Some(v) = own("swap") {
        let (i, j) = v.split_once(':').ok_or("swap=<i>:<j>")?;
        let (i, j): (usize, usize) = (i.parse().map_err(|_| "swap")?, j.parse().map_err(|_| "swap")?);
        let seg = (SEGMENT_SIZE + TAG_SIZE) as usize;
        let mut segs: Vec<Vec<u8>> = ct.chunks(seg).map(<[u8]>::to_vec).collect();
        if i.max(j) >= segs.len() {
            return Err("swap: no such segment".into());
        }
        segs.swap(i, j);
        ct = segs.concat();
    }
    if let Some(v) = own("truncate") {
        let n: usize = v.parse().map_err(|_| "truncate")?;
        if n >= ct.len() {
            return Err("truncate must shorten".into());
        }
        ct.truncate(n);
    }
    if let Some(v) = own("append") {
        ct.extend(hex::decode(v).map_err(|_| "append is not hex")?);
    }
    Ok(ct)
}

fn seal_stream(dk: &DataKey, prefix: NoncePrefix, part: u32, pt: &[u8], chunk: usize) -> Check<Vec<u8>> {
    let mut s = StreamSealer::new(dk, prefix, part, pt.len() as u64);
    let mut out = Vec::new();
    for c in pt.chunks(chunk) {
        s.push(c, &mut out).map_err(|e| format!("seal: {e}"))?;
    }
    s.finish(&mut out).map_err(|e| format!("seal: {e}"))?;
    Ok(out.concat())
}

/// Open a whole stream of `total` stored bytes from `bytes` (which may be fewer), as GET does.
fn open_stream(dk: &DataKey, prefix: NoncePrefix, part: u32, total: u64, bytes: &[u8]) -> Result<Vec<u8>, Failure> {
    let p = plaintext_len(total);
    let last = p.map_or(0, |p| segments(p) - 1);
    let mut o = StreamOpener::new(dk, prefix, part, total, 0, last, 0, p.unwrap_or(0))?;
    let mut out = Vec::new();
    for c in bytes.chunks(4096) {
        o.push(c, &mut out)?;
    }
    o.finish()?;
    Ok(out.concat())
}

/// The stored bytes a golden vector stands for: `ct`, or (when only a digest is given) what the sealer produced.
fn check_ct(f: &Fields<'_>, produced: &[u8]) -> Check<()> {
    if f.opt("ct").is_some() {
        if hex::encode(produced) != f.str("ct")? {
            return Err(format!("ct differs: got {}", hex::encode(produced)));
        }
        return Ok(());
    }
    if produced.len() as u64 != f.u64("ct_len")? {
        return Err(format!("ct_len differs: got {}", produced.len()));
    }
    let digest = hex::encode(Sha256::digest(produced));
    if digest != f.str("ct_sha256")? {
        return Err(format!("ct_sha256 differs: got {digest}"));
    }
    if let Some(tail) = f.opt("ct_tail") {
        let got = hex::encode(&produced[produced.len().saturating_sub(tail.len() / 2)..]);
        if got != tail {
            return Err(format!("ct_tail differs: got {got}"));
        }
    }
    Ok(())
}

fn eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Check<()> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}"))
    }
}

/// Run one vector. Golden vectors return their stored bytes (if any), for the vectors derived `from` them.
#[allow(
    clippy::too_many_lines,
    reason = "one vector runner: every field of docs/format.md in order"
)]
fn run(
    op: &str,
    f: &Fields<'_>,
    expect: Option<&(String, Option<String>)>,
    base_bytes: Option<&[u8]>,
) -> Check<Option<Vec<u8>>> {
    // Invalid vectors: compute the outcome, then compare with the expectation.
    let outcome: Result<(), Failure> = match (op, expect) {
        ("size", None) => {
            let c = f.u64("c")?;
            match f.str("p")? {
                "none" => eq("plaintext_len", plaintext_len(c), None)?,
                _ => {
                    let p = f.u64("p")?;
                    eq("ciphertext_len", ciphertext_len(p), c)?;
                    eq("plaintext_len", plaintext_len(c), Some(p))?;
                }
            }
            return Ok(None);
        }
        ("span", None) => {
            let s = span(f.u64("start")?, f.u64("end")?, f.u64("total")?);
            eq("first", s.first, f.u64("first")?)?;
            eq("last", s.last, f.u64("last")?)?;
            eq("cipher_start", s.cipher_start, f.u64("cipher_start")?)?;
            eq("cipher_end", s.cipher_end, f.u64("cipher_end")?)?;
            eq("skip", s.skip, f.u64("skip")?)?;
            eq("take", s.take, f.u64("take")?)?;
            return Ok(None);
        }
        ("segment", None) => {
            let c = PartCipher::new(&f.dk()?, f.prefix()?, f.u32("part")?);
            let (index, last) = (f.u32("index")?, f.flag("final")?);
            let pt = f.hex("pt")?;
            let mut buf = pt.clone();
            c.seal(index, last, &mut buf);
            eq("ct", hex::encode(&buf), f.str("ct")?.to_owned())?;
            let n = c.open(index, last, &mut buf).map_err(|e| format!("open: {e}"))?;
            eq("opened", &buf[..n], &pt[..])?;
            return Ok(Some(f.hex("ct")?));
        }
        ("segment", Some(_)) => {
            let mut ct = alter(base_bytes.ok_or("needs from=")?.to_vec(), f)?;
            let c = PartCipher::new(&f.dk()?, f.prefix()?, f.u32("part")?);
            c.open(f.u32("index")?, f.flag("final")?, &mut ct)
                .map(drop)
                .map_err(Failure::from)
        }
        ("stream", None) => {
            let (dk, prefix, part) = (f.dk()?, f.prefix()?, f.u32("part")?);
            let len = f.u64("len")?;
            let pt = pattern(0, len);
            let ct = seal_stream(&dk, prefix, part, &pt, pt.len().max(1))?;
            check_ct(f, &ct)?;
            for chunk in [1, 1000, 65536 + 7] {
                eq("sealed in chunks", &seal_stream(&dk, prefix, part, &pt, chunk)?, &ct)?;
            }
            let opened = open_stream(&dk, prefix, part, ct.len() as u64, &ct).map_err(|e| format!("open: {e:?}"))?;
            eq("opened", opened == pt, true)?;
            return Ok(Some(ct));
        }
        ("stream", Some(_)) => {
            let ct = alter(base_bytes.ok_or("needs from=")?.to_vec(), f)?;
            let total = match f.own.get("declared") {
                Some(_) => f.u64("declared")?,
                None => ct.len() as u64,
            };
            open_stream(&f.dk()?, f.prefix()?, f.u32("part")?, total, &ct).map(drop)
        }
        ("range", None) => {
            let ct = base_bytes.ok_or("needs from=")?;
            let (total, start, end) = (f.u64("len")?, f.u64("start")?, f.u64("end")?);
            let s = span(start, end, total);
            let mut o = StreamOpener::new(
                &f.dk()?,
                f.prefix()?,
                f.u32("part")?,
                ct.len() as u64,
                s.first,
                s.last,
                s.skip,
                s.take,
            )
            .map_err(|e| format!("opener: {e}"))?;
            let mut out = Vec::new();
            for c in ct[s.cipher_start as usize..=s.cipher_end as usize].chunks(777) {
                o.push(c, &mut out).map_err(|e| format!("open: {e}"))?;
            }
            o.finish().map_err(|e| format!("open: {e}"))?;
            eq("range", hex::encode(out.concat()), f.str("pt")?.to_owned())?;
            eq(
                "range is the pattern",
                hex::encode(pattern(start, end + 1)),
                f.str("pt")?.to_owned(),
            )?;
            return Ok(None);
        }
        ("parts", _) => {
            let (dk, prefix) = (f.dk()?, f.prefix()?);
            let sizes = f.list("sizes")?;
            let numbers: Vec<u64> = match f.opt("numbers") {
                Some(_) => f.list("numbers")?,
                None => (1..=sizes.len() as u64).collect(),
            };
            eq("one number per part", numbers.len(), sizes.len())?;
            let numbers: Vec<u32> = numbers
                .into_iter()
                .map(|n| u32::try_from(n).map_err(|_| "part number"))
                .collect::<Result<_, _>>()?;
            let stored = match expect {
                None => {
                    let mut ct = Vec::new();
                    let mut off = 0;
                    for (&size, &n) in sizes.iter().zip(&numbers) {
                        ct.extend(seal_stream(&dk, prefix, n, &pattern(off, off + size), 65536)?);
                        off += size;
                    }
                    check_ct(f, &ct)?;
                    let listed = match f.str("listed")? {
                        "none" => None,
                        _ => Some(f.u64("listed")?),
                    };
                    eq("listed size", plaintext_len(ct.len() as u64), listed)?;
                    ct
                }
                Some(_) => alter(base_bytes.ok_or("needs from=")?.to_vec(), f)?,
            };
            let mut result = Ok(());
            let (mut off, mut plain_off) = (0usize, 0u64);
            for (&size, &n) in sizes.iter().zip(&numbers) {
                let c = ciphertext_len(size) as usize;
                let part = stored.get(off..off + c).ok_or("stored bytes shorter than the parts")?;
                match open_stream(&dk, prefix, n, c as u64, part) {
                    Ok(p) if expect.is_none() => eq("part plaintext", p == pattern(plain_off, plain_off + size), true)?,
                    Ok(_) => {}
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
                off += c;
                plain_off += size;
            }
            if expect.is_none() {
                result.map_err(|e| format!("open: {e:?}"))?;
                return Ok(Some(stored));
            }
            result
        }
        ("seal-key", None) => {
            let kek = Kek::new(f.str("kek_id")?, f.hex_n("kek")?);
            let (mode, dk) = (f.mode()?, f.dk()?);
            let (bucket, key) = (f.str("bucket")?, f.str("key")?);
            let sealed = envelope::seal_key_with_nonce(&kek, mode, &dk, bucket, key, f.hex_n("nonce")?);
            eq("sealed", hex::encode(&sealed.0), f.str("sealed")?.to_owned())?;
            let opened = envelope::open_key(&kek, mode, &sealed, bucket, key).map_err(|e| format!("open_key: {e}"))?;
            eq("opened data key", opened == dk, true)?;
            return Ok(Some(sealed.0));
        }
        ("seal-key", Some(_)) => {
            let sealed = SealedKey(alter(base_bytes.ok_or("needs from=")?.to_vec(), f)?);
            let kek = Kek::new(f.str("kek_id")?, f.hex_n("kek")?);
            envelope::open_key(&kek, f.mode()?, &sealed, f.str("bucket")?, f.str("key")?)
                .map(drop)
                .map_err(Failure::from)
        }
        ("checksum", None) => {
            let (dk, part) = (f.dk()?, f.str("part")?.parse::<u32>().map_err(|_| "part")?);
            let text = String::from_utf8(f.hex("pt")?).map_err(|_| "pt is not UTF-8")?;
            let sealed = checksum::seal_checksum_with_nonce(&dk, part, &text, f.hex_n("nonce")?);
            eq("sealed", hex::encode(&sealed), f.str("sealed")?.to_owned())?;
            let opened = checksum::open_checksum(&dk, part, &sealed).map_err(|e| format!("open: {e}"))?;
            eq("opened", opened, text)?;
            return Ok(Some(sealed));
        }
        ("checksum", Some(_)) => {
            let sealed = alter(base_bytes.ok_or("needs from=")?.to_vec(), f)?;
            let part = f.str("part")?.parse::<u32>().map_err(|_| "part")?;
            checksum::open_checksum(&f.dk()?, part, &sealed)
                .map(drop)
                .map_err(Failure::from)
        }
        ("kms-blob", _) => {
            let master = Kek::new(f.str("key_id")?, f.hex_n("master")?);
            let ctx: BTreeMap<String, String> = serde_json::from_str(f.str("ctx")?).map_err(|e| format!("ctx: {e}"))?;
            let pairs = || ctx.iter().map(|(k, v)| (k.as_str(), v.as_str()));
            let blob = match base_bytes {
                None => {
                    let version: u32 = f.str("version")?.parse().map_err(|_| "version")?;
                    let blob = kms_blob::seal(&master, version, &f.hex("pt")?, pairs(), f.hex_n("nonce")?);
                    eq("blob", hex::encode(&blob), f.str("blob")?.to_owned())?;
                    let h = kms_blob::header(&blob).map_err(|e| format!("header: {e}"))?;
                    eq("header", (h.key_id.as_str(), h.version), (master.id(), version))?;
                    blob
                }
                Some(b) => alter(b.to_vec(), f)?,
            };
            let opened = kms_blob::open(&master, &blob, pairs());
            if expect.is_none() {
                let pt = opened.map_err(|e| format!("open: {e}"))?;
                eq("opened", hex::encode(pt.as_slice()), f.str("pt")?.to_owned())?;
                return Ok(Some(blob));
            }
            opened.map(drop).map_err(Failure::from)
        }
        ("kmip-blob", _) => {
            // The KMIP server's AES-256-GCM, played here by aws-lc-rs with the vector's `master` key.
            use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
            let master = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &f.hex("master")?).map_err(|_| "master")?);
            let ctx: BTreeMap<String, String> = serde_json::from_str(f.str("ctx")?).map_err(|e| format!("ctx: {e}"))?;
            let pairs = || ctx.iter().map(|(k, v)| (k.as_str(), v.as_str()));
            let blob = match base_bytes {
                None => {
                    let (uid, iv, pt) = (f.str("uid")?, f.hex_n::<12>("iv")?, f.hex("pt")?);
                    let mut sealed = pt.clone();
                    master
                        .seal_in_place_append_tag(
                            Nonce::assume_unique_for_key(iv),
                            Aad::from(kmip_blob::aad(uid, pairs())),
                            &mut sealed,
                        )
                        .map_err(|_| "seal")?;
                    let (ciphertext, tag) = sealed.split_at(pt.len());
                    let blob = Blob {
                        uid,
                        iv: &iv,
                        ciphertext,
                        tag,
                    }
                    .encode();
                    eq("blob", hex::encode(&blob), f.str("blob")?.to_owned())?;
                    let parsed = Blob::parse(&blob).ok_or("parse")?;
                    eq("parsed uid and iv", (parsed.uid, parsed.iv), (uid, &iv[..]))?;
                    blob
                }
                Some(b) => alter(b.to_vec(), f)?,
            };
            let Some(b) = Blob::parse(&blob) else {
                if expect.is_none() {
                    return Err("blob does not parse".into());
                }
                return match expect {
                    Some((want, _)) if want == "none" => Ok(None),
                    _ => Err(format!("does not parse; expected {expect:?}")),
                };
            };
            let mut buf = [b.ciphertext, b.tag].concat();
            let iv: [u8; 12] = b.iv.try_into().map_err(|_| "iv length")?;
            let opened = master
                .open_in_place(
                    Nonce::assume_unique_for_key(iv),
                    Aad::from(kmip_blob::aad(b.uid, pairs())),
                    &mut buf,
                )
                .map(hex::encode)
                .map_err(|_| Failure::Crypto(CryptoError::Authentication));
            if expect.is_none() {
                eq("opened", opened.map_err(|_| "open")?, f.str("pt")?.to_owned())?;
                return Ok(Some(blob));
            }
            opened.map(drop)
        }
        ("key-check", _) => {
            let ck: [u8; 32] = f.hex_n("customer_key")?;
            let check = f.hex("check")?;
            if expect.is_none() {
                let salt = check.get(..16).ok_or("check shorter than its salt")?;
                let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&ck).map_err(|_| "hmac key")?;
                mac.update(KEY_CHECK_LABEL);
                mac.update(salt);
                let mut want = salt.to_vec();
                want.extend_from_slice(&mac.finalize().into_bytes());
                eq("check", hex::encode(&want), hex::encode(&check))?;
                eq(
                    "customer_key_matches",
                    envelope::customer_key_matches(&ck, &check),
                    true,
                )?;
                return Ok(Some(check));
            }
            if envelope::customer_key_matches(&ck, &check) {
                Ok(())
            } else {
                Err(Failure::KeyMismatch)
            }
        }
        ("envelope", None) => {
            let env = Envelope {
                mode: f.mode()?,
                kek_id: f.str("kek_id")?.to_owned(),
                nonce_prefix: f.prefix()?,
                sealed_key: SealedKey(f.hex("sealed")?),
                key_check: f.opt("check").map(|_| f.hex("check")).transpose()?,
                bucket_key: f.opt("bucket_key").map(|_| f.hex("bucket_key")).transpose()?,
                context: f.opt("context").map(|c| c.as_bytes().to_vec()),
                multipart: f.opt("layout").is_some_and(|l| l == "m"),
                checksum: match f.opt("checksum") {
                    None => None,
                    Some("r") => Some(ChecksumPlace::Record),
                    Some(_) => Some(ChecksumPlace::Inline(f.hex("checksum")?)),
                },
            };
            let text = f.str("text")?;
            eq("encode", env.encode().as_str(), text)?;
            eq("decode", Envelope::decode(text).map_err(|e| e.to_string())?, env)?;
            return Ok(None);
        }
        ("envelope", Some(_)) => Envelope::decode(f.str("text")?).map(drop).map_err(Failure::from),
        ("object", _) => {
            let r = open_object(f)?;
            if expect.is_none() {
                let pt = r.map_err(|e| format!("object: {e:?}"))?;
                eq("object plaintext", hex::encode(pt), f.str("pt")?.to_owned())?;
                return Ok(Some(f.hex("ct")?));
            }
            r.map(drop)
        }
        ("upload-id", None) => {
            let env = Envelope::decode(f.str("envelope")?).map_err(|e| e.to_string())?;
            let backend_id = f.str("backend_id")?;
            let id = f.str("id")?;
            eq("token", upload_token(backend_id, &env).as_str(), id)?;
            let (b, e) = parse_upload_id(id).map_err(|e| format!("parse: {}", e.message))?;
            eq("backend id", b.as_str(), backend_id)?;
            eq("envelope", e, Some(env))?;
            return Ok(None);
        }
        ("upload-id", Some(_)) => match parse_upload_id(f.str("id")?) {
            Ok(_) => Ok(()),
            Err(e) if e.code == S3ErrorCode::NoSuchUpload => Err(Failure::NoSuchUpload),
            Err(e) => return Err(format!("unexpected error {:?}", e.code)),
        },
        ("layout-key", None) => {
            let computed = match (f.opt("version"), f.opt("sealed")) {
                (None, None) => layout_key(f.str("key")?),
                (Some(v), None) => version_layout_key(f.str("key")?, Some(v)),
                (None, Some(_)) => pending_layout_key(&f.hex("sealed")?),
                (Some(_), Some(_)) => return Err("a layout key has a version or a sealed key, not both".into()),
            };
            eq("layout key", computed.as_str(), f.str("layout_key")?)?;
            return Ok(None);
        }
        ("layout", None) => {
            let text = f.str("text")?;
            let l = Layout::decode(text).ok_or("layout does not parse")?;
            eq("etag", l.etag.as_str(), f.str("etag")?)?;
            eq("sizes", &l.part_sizes, &f.list("sizes")?)?;
            eq("plaintext sizes", l.plaintext_sizes(), Some(f.list("plain")?))?;
            eq("encode", l.encode().as_str(), text)?;
            return Ok(None);
        }
        ("layout", Some(_)) => match Layout::decode(f.str("text")?) {
            Some(_) => Ok(()),
            None => Err(Failure::NoParse),
        },
        ("size-key", None) => {
            let computed = size_key(f.str("key")?, f.str("etag")?);
            eq("size key", computed.as_str(), f.str("size_key")?)?;
            return Ok(None);
        }
        ("size-record", None) => {
            let text = f.str("text")?;
            eq("size", decode_size(text), Some(f.u64("size")?))?;
            eq("encode", encode_size(f.u64("size")?).as_str(), text)?;
            return Ok(None);
        }
        ("size-record", Some(_)) => match decode_size(f.str("text")?) {
            Some(_) => Ok(()),
            None => Err(Failure::NoParse),
        },
        (op, None) => return Err(format!("unknown golden op {op}")),
        (op, Some(_)) => return Err(format!("op {op} has no invalid vectors")),
    };
    let (want, why) = expect.ok_or("golden vector produced no check")?;
    match outcome {
        Ok(()) => Err(format!("succeeded; expected {want}")),
        Err(got) if failure_matches(&got, want, why.as_deref()) => Ok(None),
        Err(got) => Err(format!(
            "failed with {got:?}; expected {want} {}",
            why.as_deref().unwrap_or("")
        )),
    }
}

/// The gateway's read path for a whole single-PUT object (`sse::open_data_key`, then GET's opener), with a
/// keyring that holds only the vector's KEK. A KEK the keyring lacks is reported as `UnknownKek`.
fn open_object(f: &Fields<'_>) -> Check<Result<Vec<u8>, Failure>> {
    let env = match Envelope::decode(f.str("envelope")?) {
        Ok(e) => e,
        Err(e) => return Ok(Err(e.into())),
    };
    let kek = match env.mode {
        SseMode::C => {
            let ck: [u8; 32] = f.hex_n("customer_key")?;
            if !envelope::customer_key_matches(&ck, env.key_check.as_deref().unwrap_or_default()) {
                return Ok(Err(Failure::KeyMismatch));
            }
            Kek::new(env.kek_id.clone(), ck)
        }
        SseMode::S3 => {
            let id = f.str("kek_id")?;
            let ring = Keyring::from_keys(id, vec![Kek::new(id, f.hex_n("kek")?)])?;
            match ring.get(&env.kek_id) {
                Some(k) => k.clone(),
                None => return Ok(Err(CryptoError::UnknownKek.into())),
            }
        }
        SseMode::Kms => return Err("SSE-KMS objects are not part of format version 1's read path".into()),
    };
    let dk = match envelope::open_key(&kek, env.mode, &env.sealed_key, f.str("bucket")?, f.str("key")?) {
        Ok(dk) => dk,
        Err(e) => return Ok(Err(e.into())),
    };
    let ct = f.hex("ct")?;
    Ok(open_stream(&dk, env.nonce_prefix, 0, ct.len() as u64, &ct))
}

#[test]
fn every_vector_in_the_spec_holds() {
    let vectors = load();
    let by_name: HashMap<&str, &Vector> = vectors.iter().map(|v| (v.name.as_str(), v)).collect();
    assert_eq!(by_name.len(), vectors.len(), "vector names must be unique");
    let mut bytes: HashMap<&str, Vec<u8>> = HashMap::new();
    let mut failures = Vec::new();
    let (mut golden, mut invalid) = (0, 0);
    for v in &vectors {
        let result = (|| -> Check<()> {
            let base = match v.fields.get("from") {
                Some(b) => {
                    let base = by_name.get(b.as_str()).ok_or(format!("from={b}: no such vector"))?;
                    if base.line > v.line || base.fields.contains_key("expect") || base.fields.contains_key("from") {
                        return Err(format!("from={b} must name an earlier golden vector without from="));
                    }
                    Some(*base)
                }
                None => None,
            };
            let f = Fields {
                own: &v.fields,
                base: base.map(|b| &b.fields),
                used: RefCell::new(BTreeSet::from(["op".to_owned(), "from".to_owned()])),
            };
            let op = v.fields.get("op").ok_or("missing op")?;
            if base.is_some_and(|b| b.fields.get("op") != Some(op) && op != "range") {
                return Err("from= must name a vector of the same op (or a stream, for range)".into());
            }
            let expect = expected(&f)?;
            if expect.is_some() && !v.defect.as_deref().is_some_and(|d| d.starts_with("defect:")) {
                return Err("an invalid vector must follow a `# defect: ...` comment".into());
            }
            let base_bytes = match base {
                Some(b) => Some(
                    bytes
                        .get(b.name.as_str())
                        .ok_or(format!("from={}: that vector failed or stores no bytes", b.name))?
                        .as_slice(),
                ),
                None => None,
            };
            let produced = run(op, &f, expect.as_ref(), base_bytes)?;
            let unused = f.unused();
            if !unused.is_empty() {
                return Err(format!("fields not used by op {op}: {unused:?}"));
            }
            if expect.is_some() {
                invalid += 1;
            } else {
                golden += 1;
                if let Some(p) = produced {
                    bytes.insert(v.name.as_str(), p);
                }
            }
            Ok(())
        })();
        if let Err(e) = result {
            failures.push(format!("format.md line {} `{}`: {e}", v.line, v.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} vector(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        golden > 0 && invalid > 0,
        "need golden and invalid vectors: {golden} golden, {invalid} invalid"
    );
    println!("{golden} golden and {invalid} invalid vectors hold");
}
