//! Sans-IO decoder for `Content-Encoding: aws-chunked` request bodies, with SigV4 chunk-signature verification.
//!
//! Handles the three streaming payload modes named by `x-amz-content-sha256`:
//! - `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: `hex(size);chunk-signature=<sig>\r\n<data>\r\n` ... then
//!   `0;chunk-signature=<sig>\r\n\r\n`. Each signature chains from the previous one, starting from the seed (the
//!   `Authorization` header's signature).
//! - `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: `hex(size)\r\n<data>\r\n` ... `0\r\n`, then trailer lines
//!   (`x-amz-checksum-<alg>:<base64>\r\n`) and an empty line.
//! - `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: signed chunks, then after `0;chunk-signature=<sig>\r\n` the
//!   trailer lines, `x-amz-trailer-signature:<sig>\r\n` and an empty line.
//!
//! The decoder does no I/O: the caller appends received bytes to a `BytesMut` and calls
//! [`ChunkedDecoder::decode`] until it returns [`ChunkEvent::NeedMore`], then reads more. Decoded data is handed out
//! as it arrives (zero-copy slices of the input), so a chunk is never buffered whole; a chunk's signature is checked
//! when its last byte is consumed, before the piece holding that byte is returned. Earlier pieces of the same chunk
//! have therefore been returned unverified: the caller must not commit the object (it withholds the final byte from
//! the backend) until [`ChunkEvent::End`], and must abort it on any error.
//!
//! This module must never: buffer a whole chunk or an unbounded header/trailer (see the `MAX_*` limits); accept
//! bytes after the end of the body; compare a signature with anything but a constant-time comparison; or print,
//! log or return the signing key.

use bytes::{Buf as _, Bytes, BytesMut};
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};

use crate::auth::checksum::{ChecksumAlgorithm, ct_eq};
use crate::secret::SigningKey;

/// Longest chunk-header line accepted (`hex(size);extensions\r\n`), CRLF included.
pub const MAX_CHUNK_HEADER_LINE: usize = 4096;
/// Largest trailer section accepted (every trailer line and the final empty line, CRLFs included).
pub const MAX_TRAILER_SECTION: usize = 16 * 1024;
/// Largest chunk size accepted; clients use 8 KiB to a few MiB.
pub const MAX_CHUNK_SIZE: u64 = 1 << 30;

/// Hex SHA-256 of the empty string; the fixed fifth line of every chunk string-to-sign.
const EMPTY_SHA256_HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const CHUNK_SIGNATURE_EXTENSION: &str = "chunk-signature";
const TRAILER_SIGNATURE_HEADER: &str = "x-amz-trailer-signature";
const CHECKSUM_HEADER_PREFIX: &str = "x-amz-checksum-";

/// Which aws-chunked framing the request uses, from its `x-amz-content-sha256` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkedMode {
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`
    SignedChunks,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`
    UnsignedTrailer,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`
    SignedChunksTrailer,
}

impl ChunkedMode {
    /// The mode named by an `x-amz-content-sha256` value (exact match), or `None` for anything else, including
    /// the SigV4a `STREAMING-AWS4-ECDSA-P256-SHA256-*` modes, which are not supported.
    pub fn from_content_sha256(value: &str) -> Option<Self> {
        match value {
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" => Some(Self::SignedChunks),
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER" => Some(Self::UnsignedTrailer),
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" => Some(Self::SignedChunksTrailer),
            _ => None,
        }
    }

    /// Whether chunks carry `chunk-signature` extensions that must verify.
    pub fn is_signed(self) -> bool {
        matches!(self, Self::SignedChunks | Self::SignedChunksTrailer)
    }

    /// Whether a trailer section follows the final chunk.
    pub fn has_trailer(self) -> bool {
        matches!(self, Self::UnsignedTrailer | Self::SignedChunksTrailer)
    }
}

/// What the request-level SigV4 verification hands over for checking chunk signatures.
#[derive(Clone, Debug)]
pub struct ChunkSigningContext {
    /// `kSigning` for the request's date, region and service.
    pub signing_key: SigningKey,
    /// The request's `x-amz-date` (`YYYYMMDDTHHMMSSZ`).
    pub amz_date: String,
    /// The credential scope, `YYYYMMDD/region/service/aws4_request`.
    pub scope: String,
    /// The signature of the `Authorization` header (lowercase hex): the seed of the chunk-signature chain.
    pub seed_signature: String,
}

/// One step of decoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChunkEvent {
    /// Decoded payload bytes (never empty).
    Data(Bytes),
    /// Everything available has been consumed; append more input and call `decode` again.
    NeedMore,
    /// The body ended correctly: all signatures verified, the framing is complete and no bytes follow.
    /// `trailer` is the checksum trailer, if one was sent (it always matches the declared `x-amz-trailer`).
    End {
        trailer: Option<(ChecksumAlgorithm, String)>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChunkedError {
    /// A chunk or trailer signature is wrong or missing (or no signing context was given for a signed mode).
    #[error("aws-chunked signature does not match")]
    SignatureDoesNotMatch,
    /// The body ended before the final chunk and trailer were complete.
    #[error("aws-chunked body is incomplete")]
    IncompleteBody,
    /// The framing is invalid: bad chunk size, missing CRLF, line too long, bytes after the end, ...
    #[error("malformed aws-chunked body: {0}")]
    Malformed(&'static str),
    /// The checksum trailer is missing, not the one `x-amz-trailer` declared, or unknown.
    #[error("aws-chunked trailer mismatch: {0}")]
    TrailerMismatch(&'static str),
}

const TRAILING_BYTES: ChunkedError = ChunkedError::Malformed("bytes after the end of the aws-chunked body");

#[derive(Debug)]
enum State {
    /// Expecting a `hex(size)[;ext]*\r\n` line.
    ChunkHeader,
    /// Inside a chunk's data, `remaining` bytes to go (never 0).
    ChunkData { remaining: u64 },
    /// Expecting the CRLF that ends a chunk's data.
    ChunkDataEnd,
    /// After the final chunk of a body without a trailer: expecting the empty line.
    FinalLine,
    /// Reading trailer lines; `used` bytes of the trailer section consumed so far.
    Trailer { used: usize },
    /// `End` has been returned.
    Done,
    /// An error has been returned; it is returned again.
    Failed(ChunkedError),
}

/// Chunk-signature chain state.
struct Signer {
    ctx: ChunkSigningContext,
    /// The last verified signature (the seed at first).
    previous: String,
    /// SHA-256 of the current chunk's data so far.
    chunk_hash: Sha256,
    /// The `chunk-signature` the client sent for the current chunk.
    claimed: String,
}

impl Signer {
    fn new(ctx: ChunkSigningContext) -> Self {
        let previous = ctx.seed_signature.clone();
        Self {
            ctx,
            previous,
            chunk_hash: Sha256::new(),
            claimed: String::new(),
        }
    }

    fn sign(&self, string_to_sign: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(self.ctx.signing_key.as_bytes()).expect("HMAC accepts keys of any length");
        mac.update(string_to_sign.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Checks the current chunk (its data hashed into `chunk_hash`) against `claimed`, then advances the chain.
    fn verify_chunk(&mut self) -> Result<(), ChunkedError> {
        let data_hash = hex::encode(std::mem::take(&mut self.chunk_hash).finalize());
        let sts = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{EMPTY_SHA256_HEX}\n{data_hash}",
            self.ctx.amz_date, self.ctx.scope, self.previous
        );
        let expected = self.sign(&sts);
        if !ct_eq(&expected, &self.claimed) {
            return Err(ChunkedError::SignatureDoesNotMatch);
        }
        self.previous = expected;
        Ok(())
    }

    /// Checks the trailer signature over `canonical` (`name:value\n` per trailer header), chained from the final
    /// chunk's signature.
    fn verify_trailer(&self, canonical: &str, claimed: &str) -> Result<(), ChunkedError> {
        let trailer_hash = hex::encode(Sha256::digest(canonical.as_bytes()));
        let sts = format!(
            "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{}\n{trailer_hash}",
            self.ctx.amz_date, self.ctx.scope, self.previous
        );
        if ct_eq(&self.sign(&sts), claimed) {
            Ok(())
        } else {
            Err(ChunkedError::SignatureDoesNotMatch)
        }
    }
}

/// Incremental aws-chunked decoder; see the module documentation.
pub struct ChunkedDecoder {
    mode: ChunkedMode,
    /// Present iff the mode is signed and a signing context was given.
    signer: Option<Signer>,
    expected_trailer: Option<ChecksumAlgorithm>,
    state: State,
    /// Bytes at the front of the input already searched for a line end (so a line arriving byte by byte is
    /// scanned once, not once per call).
    scanned: usize,
    /// Decoded payload bytes returned so far.
    decoded: u64,
    /// The checksum trailer received so far.
    trailer: Option<(ChecksumAlgorithm, String)>,
    /// The `x-amz-trailer-signature` received so far.
    trailer_signature: Option<String>,
}

impl std::fmt::Debug for ChunkedDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkedDecoder")
            .field("mode", &self.mode)
            .field("expected_trailer", &self.expected_trailer)
            .field("state", &self.state)
            .field("decoded", &self.decoded)
            .finish_non_exhaustive()
    }
}

impl ChunkedDecoder {
    /// `signing` must be `Some` for the signed modes: without it every chunk fails with `SignatureDoesNotMatch`
    /// (fail closed). It is ignored in `UnsignedTrailer` mode. `expected_trailer` is the checksum named by the
    /// request's `x-amz-trailer` header, if any: a trailer mode then requires exactly that trailer, and without it
    /// no checksum trailer is accepted.
    pub fn new(
        mode: ChunkedMode,
        signing: Option<ChunkSigningContext>,
        expected_trailer: Option<ChecksumAlgorithm>,
    ) -> Self {
        let signer = if mode.is_signed() {
            signing.map(Signer::new)
        } else {
            None
        };
        Self {
            mode,
            signer,
            expected_trailer,
            state: State::ChunkHeader,
            scanned: 0,
            decoded: 0,
            trailer: None,
            trailer_signature: None,
        }
    }

    /// Decoded payload bytes returned so far (to compare with `x-amz-decoded-content-length`).
    pub fn decoded_len(&self) -> u64 {
        self.decoded
    }

    /// Consumes as much of `input` as possible and returns the next event.
    ///
    /// Call repeatedly with the same buffer, appending newly received bytes to it after `NeedMore`. An incomplete
    /// header or trailer line stays in `input` until its CRLF arrives; everything else is consumed. `Data` may be
    /// returned before its chunk is complete; a chunk's signature is checked when its last byte is consumed, so
    /// an error can follow data already returned. After an error the decoder is spent: it returns the same error.
    pub fn decode(&mut self, input: &mut BytesMut) -> Result<ChunkEvent, ChunkedError> {
        if let State::Failed(e) = &self.state {
            return Err(e.clone());
        }
        let result = self.step(input);
        if let Err(e) = &result {
            self.state = State::Failed(e.clone());
        }
        result
    }

    /// The input stream ended (EOF) with `leftover` undecoded. Ok only if `End` was already returned and nothing
    /// remains.
    pub fn finish(&self, leftover: &[u8]) -> Result<(), ChunkedError> {
        match &self.state {
            State::Done if leftover.is_empty() => Ok(()),
            State::Done => Err(TRAILING_BYTES),
            State::Failed(e) => Err(e.clone()),
            _ => Err(ChunkedError::IncompleteBody),
        }
    }

    fn step(&mut self, input: &mut BytesMut) -> Result<ChunkEvent, ChunkedError> {
        loop {
            match self.state {
                State::ChunkHeader => {
                    let Some(line) = self.take_line(input, MAX_CHUNK_HEADER_LINE, "chunk header line too long")? else {
                        return Ok(ChunkEvent::NeedMore);
                    };
                    self.on_chunk_header(&line)?;
                }
                State::ChunkData { remaining } => {
                    if input.is_empty() {
                        return Ok(ChunkEvent::NeedMore);
                    }
                    let n = usize::try_from(remaining).map_or(input.len(), |r| r.min(input.len()));
                    let piece = input.split_to(n).freeze();
                    let remaining = remaining - n as u64;
                    if let Some(signer) = &mut self.signer {
                        signer.chunk_hash.update(&piece);
                    }
                    if remaining == 0 {
                        if let Some(signer) = &mut self.signer {
                            signer.verify_chunk()?;
                        }
                        self.state = State::ChunkDataEnd;
                    } else {
                        self.state = State::ChunkData { remaining };
                    }
                    self.decoded += n as u64;
                    return Ok(ChunkEvent::Data(piece));
                }
                State::ChunkDataEnd => {
                    if !take_crlf(input, "chunk data not followed by CRLF")? {
                        return Ok(ChunkEvent::NeedMore);
                    }
                    self.state = State::ChunkHeader;
                }
                State::FinalLine => {
                    if !take_crlf(input, "final chunk not followed by an empty line")? {
                        return Ok(ChunkEvent::NeedMore);
                    }
                    return self.end(input);
                }
                State::Trailer { used } => {
                    let limit = MAX_TRAILER_SECTION - used;
                    let Some(line) = self.take_line(input, limit, "trailer section too long")? else {
                        return Ok(ChunkEvent::NeedMore);
                    };
                    self.state = State::Trailer {
                        used: used + line.len(),
                    };
                    let content = &line[..line.len() - 2];
                    if content.is_empty() {
                        self.check_trailer()?;
                        return self.end(input);
                    }
                    self.on_trailer_line(content)?;
                }
                State::Done => {
                    if !input.is_empty() {
                        return Err(TRAILING_BYTES);
                    }
                    return Ok(ChunkEvent::End {
                        trailer: self.trailer.clone(),
                    });
                }
                State::Failed(ref e) => return Err(e.clone()),
            }
        }
    }

    fn end(&mut self, input: &BytesMut) -> Result<ChunkEvent, ChunkedError> {
        self.state = State::Done;
        if !input.is_empty() {
            return Err(TRAILING_BYTES);
        }
        Ok(ChunkEvent::End {
            trailer: self.trailer.clone(),
        })
    }

    /// Takes one CRLF-terminated line (CRLF included, at most `limit` bytes) off the front of `input`, or returns
    /// `None` if its end has not arrived yet.
    fn take_line(
        &mut self,
        input: &mut BytesMut,
        limit: usize,
        too_long: &'static str,
    ) -> Result<Option<BytesMut>, ChunkedError> {
        let start = self.scanned.min(input.len());
        match input[start..].iter().position(|&b| b == b'\n') {
            Some(i) => {
                let len = start + i + 1;
                if len > limit {
                    return Err(ChunkedError::Malformed(too_long));
                }
                self.scanned = 0;
                let line = input.split_to(len);
                if len < 2 || line[len - 2] != b'\r' {
                    return Err(ChunkedError::Malformed("line not terminated by CRLF"));
                }
                Ok(Some(line))
            }
            None if input.len() >= limit => Err(ChunkedError::Malformed(too_long)),
            None => {
                self.scanned = input.len();
                Ok(None)
            }
        }
    }

    fn on_chunk_header(&mut self, line: &[u8]) -> Result<(), ChunkedError> {
        let line = std::str::from_utf8(&line[..line.len() - 2])
            .ok()
            .filter(|l| l.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b)))
            .ok_or(ChunkedError::Malformed("chunk header is not printable ASCII"))?;
        let (size, signature) = parse_chunk_header(line)?;

        if self.mode.is_signed() {
            let signer = self.signer.as_mut().ok_or(ChunkedError::SignatureDoesNotMatch)?;
            let signature = signature.ok_or(ChunkedError::Malformed("chunk-signature missing"))?;
            if !is_hex_signature(signature) {
                return Err(ChunkedError::Malformed("chunk-signature is not 64 hex digits"));
            }
            signer.claimed.clear();
            signer.claimed.push_str(signature);
        }

        if size > 0 {
            self.state = State::ChunkData { remaining: size };
            return Ok(());
        }
        // The final, empty chunk: its signature covers the empty string.
        if let Some(signer) = &mut self.signer {
            signer.verify_chunk()?;
        }
        self.state = if self.mode.has_trailer() {
            State::Trailer { used: 0 }
        } else {
            State::FinalLine
        };
        Ok(())
    }

    fn on_trailer_line(&mut self, line: &[u8]) -> Result<(), ChunkedError> {
        let line = std::str::from_utf8(line)
            .ok()
            .filter(|l| l.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b)))
            .ok_or(ChunkedError::Malformed("trailer line is not printable ASCII"))?;
        let (name, value) = line
            .split_once(':')
            .ok_or(ChunkedError::Malformed("trailer line without ':'"))?;
        if name.is_empty() || name.bytes().any(|b| b == b' ' || b == b'\t') {
            return Err(ChunkedError::Malformed("bad trailer name"));
        }
        let value = value.trim_matches([' ', '\t']);

        if name.eq_ignore_ascii_case(TRAILER_SIGNATURE_HEADER) {
            if !self.mode.is_signed() {
                return Err(ChunkedError::Malformed("trailer signature in an unsigned body"));
            }
            if self.trailer_signature.is_some() {
                return Err(ChunkedError::Malformed("duplicate trailer signature"));
            }
            if !is_hex_signature(value) {
                return Err(ChunkedError::Malformed("x-amz-trailer-signature is not 64 hex digits"));
            }
            self.trailer_signature = Some(value.to_owned());
            return Ok(());
        }

        let is_checksum = name.len() > CHECKSUM_HEADER_PREFIX.len()
            && name[..CHECKSUM_HEADER_PREFIX.len()].eq_ignore_ascii_case(CHECKSUM_HEADER_PREFIX);
        if !is_checksum {
            return Err(ChunkedError::TrailerMismatch("unexpected trailer header"));
        }
        let algorithm = ChecksumAlgorithm::from_header_name(name)
            .ok_or(ChunkedError::TrailerMismatch("unknown checksum trailer"))?;
        if self.expected_trailer != Some(algorithm) {
            return Err(ChunkedError::TrailerMismatch(
                "checksum trailer not the one x-amz-trailer declared",
            ));
        }
        if self.trailer.is_some() {
            return Err(ChunkedError::Malformed("duplicate checksum trailer"));
        }
        if value.is_empty() {
            return Err(ChunkedError::Malformed("empty checksum trailer"));
        }
        self.trailer = Some((algorithm, value.to_owned()));
        Ok(())
    }

    /// At the end of the trailer section: the declared trailer is present and, if signed, its signature verifies.
    fn check_trailer(&self) -> Result<(), ChunkedError> {
        if self.expected_trailer.is_some() && self.trailer.is_none() {
            return Err(ChunkedError::TrailerMismatch("declared checksum trailer missing"));
        }
        if self.mode.is_signed() {
            let signer = self.signer.as_ref().ok_or(ChunkedError::SignatureDoesNotMatch)?;
            let claimed = self
                .trailer_signature
                .as_deref()
                .ok_or(ChunkedError::SignatureDoesNotMatch)?;
            let canonical = match &self.trailer {
                Some((algorithm, value)) => format!("{}:{value}\n", algorithm.header_name()),
                None => String::new(),
            };
            signer.verify_trailer(&canonical, claimed)?;
        }
        Ok(())
    }
}

/// Takes the two bytes `\r\n` off the front of `input`: `Ok(false)` if they have not all arrived yet.
fn take_crlf(input: &mut BytesMut, error: &'static str) -> Result<bool, ChunkedError> {
    let available = input.len().min(2);
    if input[..available] != b"\r\n"[..available] {
        return Err(ChunkedError::Malformed(error));
    }
    if available < 2 {
        return Ok(false);
    }
    input.advance(2);
    Ok(true)
}

/// Parses `hex(size)[;name[=value]]*` (without the CRLF) into the size and the `chunk-signature` value, if any.
/// Other extensions are ignored.
fn parse_chunk_header(line: &str) -> Result<(u64, Option<&str>), ChunkedError> {
    let (size, extensions) = match line.split_once(';') {
        Some((size, extensions)) => (size, Some(extensions)),
        None => (line, None),
    };
    let size = size.trim_end_matches([' ', '\t']);
    if size.is_empty() || size.len() > 16 || !size.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ChunkedError::Malformed("bad chunk size"));
    }
    let size = u64::from_str_radix(size, 16).map_err(|_| ChunkedError::Malformed("bad chunk size"))?;
    if size > MAX_CHUNK_SIZE {
        return Err(ChunkedError::Malformed("chunk size over the limit"));
    }

    let mut signature = None;
    for extension in extensions.into_iter().flat_map(|e| e.split(';')) {
        let (name, value) = extension.split_once('=').unwrap_or((extension, ""));
        let name = name.trim_matches([' ', '\t']);
        if name.is_empty() {
            return Err(ChunkedError::Malformed("empty chunk extension"));
        }
        if name == CHUNK_SIGNATURE_EXTENSION {
            if signature.is_some() {
                return Err(ChunkedError::Malformed("duplicate chunk-signature"));
            }
            signature = Some(value.trim_matches([' ', '\t']));
        }
    }
    Ok((size, signature))
}

fn is_hex_signature(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::checksum::Checksummer;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const AMZ_DATE: &str = "20130524T000000Z";
    const SCOPE: &str = "20130524/us-east-1/s3/aws4_request";
    const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
    const SIG1: &str = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648";
    const SIG2: &str = "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497";
    const SIG3: &str = "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9";

    // ---- independent helpers (plain HMAC/SHA-256, none of the decoder's code) ----

    fn hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(msg);
        mac.finalize().into_bytes().to_vec()
    }

    fn sha_hex(data: &[u8]) -> String {
        hex::encode(Sha256::digest(data))
    }

    fn derive_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
        let k = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
        let k = hmac(&k, region.as_bytes());
        let k = hmac(&k, service.as_bytes());
        hmac(&k, b"aws4_request").try_into().unwrap()
    }

    fn key() -> [u8; 32] {
        derive_key(SECRET, "20130524", "us-east-1", "s3")
    }

    fn ctx(seed: &str) -> ChunkSigningContext {
        ChunkSigningContext {
            signing_key: SigningKey::from_bytes(key()),
            amz_date: AMZ_DATE.into(),
            scope: SCOPE.into(),
            seed_signature: seed.into(),
        }
    }

    fn chunk_sig(previous: &str, data: &[u8]) -> String {
        let sts = [
            "AWS4-HMAC-SHA256-PAYLOAD",
            AMZ_DATE,
            SCOPE,
            previous,
            &sha_hex(b""),
            &sha_hex(data),
        ]
        .join("\n");
        hex::encode(hmac(&key(), sts.as_bytes()))
    }

    fn trailer_sig(previous: &str, canonical: &str) -> String {
        let sts = [
            "AWS4-HMAC-SHA256-TRAILER",
            AMZ_DATE,
            SCOPE,
            previous,
            &sha_hex(canonical.as_bytes()),
        ]
        .join("\n");
        hex::encode(hmac(&key(), sts.as_bytes()))
    }

    fn signed_frame(data: &[u8], sig: &str) -> Vec<u8> {
        let mut v = format!("{:x};chunk-signature={sig}\r\n", data.len()).into_bytes();
        v.extend_from_slice(data);
        if !data.is_empty() {
            v.extend_from_slice(b"\r\n");
        }
        v
    }

    /// The AWS "Example: PUT Object" chunked upload body, with its published signatures.
    fn aws_example_body() -> Vec<u8> {
        let mut body = signed_frame(&[b'a'; 65536], SIG1);
        body.extend(signed_frame(&[b'a'; 1024], SIG2));
        body.extend(signed_frame(b"", SIG3));
        body.extend_from_slice(b"\r\n");
        body
    }

    type Outcome = Result<(Vec<u8>, Option<(ChecksumAlgorithm, String)>), ChunkedError>;

    /// Feeds `body` cut at `cuts` (lengths of successive pieces; the rest follows in one piece), like a socket.
    fn run(mut decoder: ChunkedDecoder, body: &[u8], cuts: &mut dyn Iterator<Item = usize>) -> Outcome {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut end = None;
        let mut pos = 0;
        loop {
            loop {
                match decoder.decode(&mut buf)? {
                    ChunkEvent::Data(d) => {
                        assert!(!d.is_empty(), "empty Data event");
                        assert!(end.is_none(), "Data after End");
                        out.extend_from_slice(&d);
                    }
                    ChunkEvent::NeedMore => break,
                    ChunkEvent::End { trailer } => {
                        end = Some(trailer);
                        break;
                    }
                }
            }
            if pos == body.len() {
                break;
            }
            let n = cuts.next().unwrap_or(body.len()).clamp(1, body.len() - pos);
            buf.extend_from_slice(&body[pos..pos + n]);
            pos += n;
        }
        decoder.finish(&buf)?;
        assert_eq!(decoder.decoded_len(), out.len() as u64);
        Ok((out, end.expect("finish is Ok only after End")))
    }

    fn run_whole(decoder: ChunkedDecoder, body: &[u8]) -> Outcome {
        run(decoder, body, &mut std::iter::empty())
    }

    /// Deterministic pseudo-random piece lengths in 1..=max.
    fn random_cuts(seed: u64, max: usize) -> impl Iterator<Item = usize> {
        let mut x = seed | 1;
        std::iter::from_fn(move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            Some((x % max as u64) as usize + 1)
        })
    }

    fn split_patterns() -> Vec<Box<dyn Iterator<Item = usize>>> {
        let mut v: Vec<Box<dyn Iterator<Item = usize>>> = vec![Box::new(std::iter::empty())];
        for n in [1usize, 2, 3, 7, 64, 85, 86, 87, 4096, 65535, 65536, 65537, 65630] {
            v.push(Box::new(std::iter::repeat(n)));
        }
        for seed in 1..=8 {
            v.push(Box::new(random_cuts(seed, 300)));
            v.push(Box::new(random_cuts(seed * 7919, 70_000)));
        }
        v
    }

    fn signed() -> ChunkedDecoder {
        ChunkedDecoder::new(ChunkedMode::SignedChunks, Some(ctx(SEED)), None)
    }

    // ---- (1) the published AWS example ----

    #[test]
    fn signing_key_and_published_signatures() {
        // Cross-check of the test helpers against the published chain.
        assert_eq!(chunk_sig(SEED, &[b'a'; 65536]), SIG1);
        assert_eq!(chunk_sig(SIG1, &[b'a'; 1024]), SIG2);
        assert_eq!(chunk_sig(SIG2, b""), SIG3);
    }

    #[test]
    fn aws_example_all_split_patterns() {
        let body = aws_example_body();
        for (i, mut cuts) in split_patterns().into_iter().enumerate() {
            let (data, trailer) = run(signed(), &body, &mut cuts).unwrap_or_else(|e| panic!("pattern {i}: {e}"));
            assert_eq!(data.len(), 66560, "pattern {i}");
            assert!(data.iter().all(|&b| b == b'a'), "pattern {i}");
            assert_eq!(trailer, None);
        }
    }

    #[test]
    fn data_is_streamed_not_buffered() {
        let body = aws_example_body();
        let mut decoder = signed();
        let mut buf = BytesMut::from(&body[..1000]);
        // The header line (88 bytes) is consumed and the rest is handed out at once, before the chunk is complete.
        match decoder.decode(&mut buf).unwrap() {
            ChunkEvent::Data(d) => assert_eq!(d.len(), 1000 - 88),
            other => panic!("{other:?}"),
        }
        assert!(buf.is_empty());
        assert_eq!(decoder.decode(&mut buf).unwrap(), ChunkEvent::NeedMore);
        assert_eq!(decoder.finish(&buf), Err(ChunkedError::IncompleteBody));
    }

    #[test]
    fn end_is_repeated_and_then_finish_ok() {
        let body = aws_example_body();
        let mut decoder = signed();
        let mut buf = BytesMut::from(&body[..]);
        let mut events = 0;
        while decoder.decode(&mut buf).unwrap() != (ChunkEvent::End { trailer: None }) {
            events += 1;
            assert!(events < 10);
        }
        assert_eq!(decoder.decode(&mut buf).unwrap(), ChunkEvent::End { trailer: None });
        assert_eq!(decoder.finish(&buf), Ok(()));
        // Garbage arriving after End.
        buf.extend_from_slice(b"x");
        assert_eq!(decoder.finish(&buf), Err(TRAILING_BYTES));
        assert_eq!(decoder.decode(&mut buf), Err(TRAILING_BYTES));
    }

    // ---- (2) tampering, truncation, framing errors ----

    #[test]
    fn tampered_data_byte() {
        let body = aws_example_body();
        // Chunk 1 data starts after its 88-byte header; chunk 2 data after chunk 1, its CRLF and an 86-byte header.
        for pos in [88, 88 + 30_000, 88 + 65535, 65712, 65712 + 1023] {
            assert_eq!(body[pos], b'a');
            let mut bad = body.clone();
            bad[pos] = b'b';
            for mut cuts in split_patterns().into_iter().take(6) {
                assert_eq!(
                    run(signed(), &bad, &mut cuts),
                    Err(ChunkedError::SignatureDoesNotMatch),
                    "pos {pos}"
                );
            }
        }
    }

    #[test]
    fn bad_chunk_never_returns_its_last_piece() {
        // A chunk that arrives whole is verified before any of it is returned.
        let mut bad = aws_example_body();
        bad[100] = b'b';
        let mut decoder = signed();
        let mut buf = BytesMut::from(&bad[..]);
        assert_eq!(decoder.decode(&mut buf), Err(ChunkedError::SignatureDoesNotMatch));
        // The decoder stays failed.
        assert_eq!(decoder.decode(&mut buf), Err(ChunkedError::SignatureDoesNotMatch));
        assert_eq!(decoder.finish(&buf), Err(ChunkedError::SignatureDoesNotMatch));
    }

    #[test]
    fn tampered_signatures() {
        let body = aws_example_body();
        for sig in [SIG1, SIG2, SIG3] {
            let flipped: String = sig.chars().rev().collect();
            let text = String::from_utf8(body.clone()).unwrap().replace(sig, &flipped);
            assert_eq!(
                run_whole(signed(), text.as_bytes()),
                Err(ChunkedError::SignatureDoesNotMatch)
            );
            let upper = String::from_utf8(body.clone())
                .unwrap()
                .replace(sig, &sig.to_uppercase());
            assert_eq!(
                run_whole(signed(), upper.as_bytes()),
                Err(ChunkedError::SignatureDoesNotMatch)
            );
            let short = String::from_utf8(body.clone()).unwrap().replace(sig, &sig[..63]);
            assert!(matches!(
                run_whole(signed(), short.as_bytes()),
                Err(ChunkedError::Malformed(_))
            ));
        }
        // Wrong seed: the first chunk fails.
        let wrong_seed = ChunkedDecoder::new(ChunkedMode::SignedChunks, Some(ctx(SIG1)), None);
        assert_eq!(run_whole(wrong_seed, &body), Err(ChunkedError::SignatureDoesNotMatch));
        // A signed mode without a signing context fails closed.
        let no_ctx = ChunkedDecoder::new(ChunkedMode::SignedChunks, None, None);
        assert_eq!(run_whole(no_ctx, &body), Err(ChunkedError::SignatureDoesNotMatch));
        let no_ctx = ChunkedDecoder::new(ChunkedMode::SignedChunksTrailer, None, None);
        assert_eq!(
            run_whole(no_ctx, b"0;chunk-signature=0000\r\n\r\n"),
            Err(ChunkedError::SignatureDoesNotMatch)
        );
    }

    #[test]
    fn reordered_and_dropped_chunks() {
        let c1 = signed_frame(&[b'a'; 65536], SIG1);
        let c2 = signed_frame(&[b'a'; 1024], SIG2);
        let c3 = signed_frame(b"", SIG3);
        let body = [c2.clone(), c1.clone(), c3.clone(), b"\r\n".to_vec()].concat();
        assert_eq!(run_whole(signed(), &body), Err(ChunkedError::SignatureDoesNotMatch));
        // Dropping the middle chunk breaks the chain too.
        let body = [c1.clone(), c3.clone(), b"\r\n".to_vec()].concat();
        assert_eq!(run_whole(signed(), &body), Err(ChunkedError::SignatureDoesNotMatch));
        // Replaying a chunk.
        let body = [c1.clone(), c1, c2, c3, b"\r\n".to_vec()].concat();
        assert_eq!(run_whole(signed(), &body), Err(ChunkedError::SignatureDoesNotMatch));
    }

    #[test]
    fn truncated_body_is_incomplete() {
        let body = aws_example_body();
        let mut cut_points: Vec<usize> = (0..body.len()).step_by(997).collect();
        cut_points.extend(body.len() - 200..body.len());
        for cut in cut_points {
            let patterns: Vec<Box<dyn Iterator<Item = usize>>> =
                vec![Box::new(std::iter::empty()), Box::new(random_cuts(3, 50))];
            for mut cuts in patterns {
                assert_eq!(
                    run(signed(), &body[..cut], &mut cuts),
                    Err(ChunkedError::IncompleteBody),
                    "cut {cut}"
                );
            }
        }
    }

    #[test]
    fn trailing_garbage_is_malformed() {
        for garbage in [&b"x"[..], b"\r\n", b"0\r\n\r\n"] {
            let body = [aws_example_body(), garbage.to_vec()].concat();
            for mut cuts in split_patterns().into_iter().take(8) {
                assert_eq!(run(signed(), &body, &mut cuts), Err(TRAILING_BYTES));
            }
        }
    }

    #[test]
    fn framing_errors() {
        let unsigned = || ChunkedDecoder::new(ChunkedMode::UnsignedTrailer, None, None);
        let malformed = |body: &[u8]| match run_whole(unsigned(), body) {
            Err(ChunkedError::Malformed(_)) => {}
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(body)),
        };
        malformed(b"zz\r\n");
        malformed(b"+4\r\nabcd\r\n0\r\n\r\n");
        malformed(b"-4\r\n");
        malformed(b" 4\r\n");
        malformed(b"\r\n");
        malformed(b"4\n");
        malformed(b"40000001\r\n"); // 1 GiB + 1
        malformed(b"10000000000000000\r\n"); // 17 hex digits
        malformed(b"4\r\nabcdX\n");
        malformed(b"4\r\nabcd\n\r");
        malformed(b"4;\r\nabcd\r\n0\r\n\r\n");
        malformed(b"0\r\n\n");
        malformed(b"0\r\nX\r\n\r\n");
        malformed(b"4\x00\r\n");
        // Over-long chunk header, with and without its line end.
        malformed(&[b"4;x=".as_slice(), &[b'y'; MAX_CHUNK_HEADER_LINE], b"\r\n"].concat());
        malformed(&[b"4;x=".as_slice(), &[b'y'; MAX_CHUNK_HEADER_LINE]].concat());
        // Signed mode: chunk-signature missing.
        match run_whole(signed(), b"400\r\n") {
            Err(ChunkedError::Malformed(_)) => {}
            other => panic!("{other:?}"),
        }
        // Exactly at the limit is fine.
        let mut line = b"4;x=".to_vec();
        line.resize(MAX_CHUNK_HEADER_LINE - 2, b'y');
        let body = [line, b"\r\nabcd\r\n0\r\n\r\n".to_vec()].concat();
        assert_eq!(
            run(unsigned(), &body, &mut std::iter::repeat(1)),
            Ok((b"abcd".to_vec(), None))
        );
    }

    #[test]
    fn max_chunk_size_accepted_without_buffering() {
        let header = format!("{MAX_CHUNK_SIZE:x}\r\n");
        let mut decoder = ChunkedDecoder::new(ChunkedMode::UnsignedTrailer, None, None);
        let mut buf = BytesMut::from(header.as_bytes());
        buf.extend_from_slice(b"abc");
        assert_eq!(
            decoder.decode(&mut buf),
            Ok(ChunkEvent::Data(Bytes::from_static(b"abc")))
        );
        assert_eq!(decoder.decode(&mut buf), Ok(ChunkEvent::NeedMore));
        assert_eq!(decoder.finish(&buf), Err(ChunkedError::IncompleteBody));
    }

    #[test]
    fn extra_extensions_ignored_in_signed_mode() {
        let text = String::from_utf8(aws_example_body())
            .unwrap()
            .replace(";chunk-signature=", ";foo=bar; chunk-signature=")
            .replace("10000;", "10000 ;");
        let (data, _) = run_whole(signed(), text.as_bytes()).unwrap();
        assert_eq!(data.len(), 66560);
    }

    // ---- (3) unsigned payload with trailer ----

    fn crc32_b64(data: &[u8]) -> String {
        let mut c = Checksummer::new(ChecksumAlgorithm::Crc32);
        c.update(data);
        c.finish()
    }

    fn payload(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    fn botocore_body(data: &[u8], trailer_line: &str) -> Vec<u8> {
        let mut body = format!("{:x}\r\n", data.len()).into_bytes();
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n0\r\n");
        body.extend_from_slice(trailer_line.as_bytes());
        body.extend_from_slice(b"\r\n");
        body
    }

    fn unsigned(expected: Option<ChecksumAlgorithm>) -> ChunkedDecoder {
        ChunkedDecoder::new(ChunkedMode::UnsignedTrailer, None, expected)
    }

    #[test]
    fn unsigned_trailer_botocore() {
        let data = payload(1024);
        let b64 = crc32_b64(&data);
        let body = botocore_body(&data, &format!("x-amz-checksum-crc32:{b64}\r\n"));
        assert!(body.starts_with(b"400\r\n"));
        assert!(body.ends_with(format!("\r\n0\r\nx-amz-checksum-crc32:{b64}\r\n\r\n").as_bytes()));
        for (i, mut cuts) in split_patterns().into_iter().enumerate() {
            let outcome = run(unsigned(Some(ChecksumAlgorithm::Crc32)), &body, &mut cuts);
            assert_eq!(
                outcome,
                Ok((data.clone(), Some((ChecksumAlgorithm::Crc32, b64.clone())))),
                "pattern {i}"
            );
        }
        // Name case and optional whitespace after ':' are tolerated; the value is trimmed.
        let body = botocore_body(&data, &format!("X-Amz-Checksum-CRC32: {b64} \r\n"));
        let (_, trailer) = run_whole(unsigned(Some(ChecksumAlgorithm::Crc32)), &body).unwrap();
        assert_eq!(trailer, Some((ChecksumAlgorithm::Crc32, b64.clone())));
        // Several chunks, with ignored extensions.
        let mut body = b"3;foo=bar\r\nabc\r\n2\r\nde\r\n".to_vec();
        body.extend_from_slice(format!("0;x\r\nx-amz-checksum-crc32:{}\r\n\r\n", crc32_b64(b"abcde")).as_bytes());
        let (out, trailer) = run_whole(unsigned(Some(ChecksumAlgorithm::Crc32)), &body).unwrap();
        assert_eq!(out, b"abcde");
        assert_eq!(trailer, Some((ChecksumAlgorithm::Crc32, crc32_b64(b"abcde"))));
        // No trailer declared and none sent.
        assert_eq!(
            run_whole(unsigned(None), b"3\r\nabc\r\n0\r\n\r\n"),
            Ok((b"abc".to_vec(), None))
        );
        // Empty body.
        assert_eq!(run_whole(unsigned(None), b"0\r\n\r\n"), Ok((Vec::new(), None)));
    }

    #[test]
    fn unsigned_trailer_mismatches() {
        let data = payload(1024);
        let b64 = crc32_b64(&data);
        let crc32 = botocore_body(&data, &format!("x-amz-checksum-crc32:{b64}\r\n"));
        let mismatch = |r: Outcome| assert!(matches!(r, Err(ChunkedError::TrailerMismatch(_))), "{r:?}");
        // Declared CRC32C, sent CRC32.
        mismatch(run_whole(unsigned(Some(ChecksumAlgorithm::Crc32c)), &crc32));
        // Nothing declared, CRC32 sent.
        mismatch(run_whole(unsigned(None), &crc32));
        // Unknown checksum name, and a non-checksum trailer.
        mismatch(run_whole(
            unsigned(Some(ChecksumAlgorithm::Crc32)),
            &botocore_body(&data, "x-amz-checksum-md5:AAAA\r\n"),
        ));
        mismatch(run_whole(
            unsigned(Some(ChecksumAlgorithm::Crc32)),
            &botocore_body(&data, "x-amz-meta-a:b\r\n"),
        ));
        // Declared but missing.
        mismatch(run_whole(
            unsigned(Some(ChecksumAlgorithm::Crc32)),
            &botocore_body(&data, ""),
        ));
        // Duplicate, empty, signature in unsigned mode, no colon: malformed.
        let malformed = |r: Outcome| assert!(matches!(r, Err(ChunkedError::Malformed(_))), "{r:?}");
        let twice = format!("x-amz-checksum-crc32:{b64}\r\nx-amz-checksum-crc32:{b64}\r\n");
        malformed(run_whole(
            unsigned(Some(ChecksumAlgorithm::Crc32)),
            &botocore_body(&data, &twice),
        ));
        malformed(run_whole(
            unsigned(Some(ChecksumAlgorithm::Crc32)),
            &botocore_body(&data, "x-amz-checksum-crc32:\r\n"),
        ));
        let sig = format!("x-amz-checksum-crc32:{b64}\r\nx-amz-trailer-signature:{SIG1}\r\n");
        malformed(run_whole(
            unsigned(Some(ChecksumAlgorithm::Crc32)),
            &botocore_body(&data, &sig),
        ));
        malformed(run_whole(
            unsigned(Some(ChecksumAlgorithm::Crc32)),
            &botocore_body(&data, "garbage\r\n"),
        ));
        // Missing final CRLF at EOF: incomplete.
        assert_eq!(
            run_whole(unsigned(Some(ChecksumAlgorithm::Crc32)), &crc32[..crc32.len() - 2]),
            Err(ChunkedError::IncompleteBody)
        );
        // Trailer section over the limit, whichever way it arrives.
        let one_long_line = format!("x-amz-checksum-crc32:{}\r\n", "A".repeat(MAX_TRAILER_SECTION));
        let body = botocore_body(&data, &one_long_line);
        for mut cuts in split_patterns().into_iter().take(4) {
            assert_eq!(
                run(unsigned(Some(ChecksumAlgorithm::Crc32)), &body, &mut cuts),
                Err(ChunkedError::Malformed("trailer section too long"))
            );
        }
        // Trailing bytes after the trailer section.
        let body = [crc32.clone(), b"z".to_vec()].concat();
        assert_eq!(
            run_whole(unsigned(Some(ChecksumAlgorithm::Crc32)), &body),
            Err(TRAILING_BYTES)
        );
    }

    // ---- (4) signed chunks with a signed trailer ----

    fn signed_trailer_body(data: &[u8], chunk: usize, trailer_line: &str, sig_override: Option<&str>) -> Vec<u8> {
        let mut body = Vec::new();
        let mut previous = SEED.to_string();
        for part in data.chunks(chunk) {
            let sig = chunk_sig(&previous, part);
            body.extend(signed_frame(part, &sig));
            previous = sig;
        }
        let last = chunk_sig(&previous, b"");
        body.extend(signed_frame(b"", &last));
        body.extend_from_slice(trailer_line.as_bytes());
        let canonical = trailer_line.replace("\r\n", "\n");
        let sig = sig_override.map_or_else(|| trailer_sig(&last, &canonical), str::to_owned);
        if !sig.is_empty() {
            body.extend_from_slice(format!("x-amz-trailer-signature:{sig}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body
    }

    fn signed_trailer(expected: Option<ChecksumAlgorithm>) -> ChunkedDecoder {
        ChunkedDecoder::new(ChunkedMode::SignedChunksTrailer, Some(ctx(SEED)), expected)
    }

    fn crc32c_b64(data: &[u8]) -> String {
        let mut c = Checksummer::new(ChecksumAlgorithm::Crc32c);
        c.update(data);
        c.finish()
    }

    #[test]
    fn signed_trailer_good() {
        let data = payload(20_000);
        let b64 = crc32c_b64(&data);
        let line = format!("x-amz-checksum-crc32c:{b64}\r\n");
        let body = signed_trailer_body(&data, 8192, &line, None);
        for (i, mut cuts) in split_patterns().into_iter().enumerate() {
            let outcome = run(signed_trailer(Some(ChecksumAlgorithm::Crc32c)), &body, &mut cuts);
            assert_eq!(
                outcome,
                Ok((data.clone(), Some((ChecksumAlgorithm::Crc32c, b64.clone())))),
                "pattern {i}"
            );
        }
        // Empty object.
        let b64 = crc32c_b64(b"");
        let body = signed_trailer_body(b"", 8192, &format!("x-amz-checksum-crc32c:{b64}\r\n"), None);
        assert_eq!(
            run_whole(signed_trailer(Some(ChecksumAlgorithm::Crc32c)), &body),
            Ok((Vec::new(), Some((ChecksumAlgorithm::Crc32c, b64))))
        );
    }

    #[test]
    fn signed_trailer_bad() {
        let data = payload(20_000);
        let b64 = crc32c_b64(&data);
        let line = format!("x-amz-checksum-crc32c:{b64}\r\n");
        let expected = Some(ChecksumAlgorithm::Crc32c);

        // Wrong trailer signature.
        let wrong = trailer_sig(SEED, &line.replace("\r\n", "\n"));
        let body = signed_trailer_body(&data, 8192, &line, Some(&wrong));
        assert_eq!(
            run_whole(signed_trailer(expected), &body),
            Err(ChunkedError::SignatureDoesNotMatch)
        );

        // Trailer value altered after signing.
        let good = signed_trailer_body(&data, 8192, &line, None);
        let needle = format!(":{b64}\r\n");
        let at = good.windows(needle.len()).position(|w| w == needle.as_bytes()).unwrap();
        let altered = [
            &good[..at],
            format!(":{}\r\n", crc32c_b64(b"other")).as_bytes(),
            &good[at + needle.len()..],
        ]
        .concat();
        assert_eq!(
            run_whole(signed_trailer(expected), &altered),
            Err(ChunkedError::SignatureDoesNotMatch)
        );

        // Trailer signature missing.
        let body = signed_trailer_body(&data, 8192, &line, Some(""));
        assert_eq!(
            run_whole(signed_trailer(expected), &body),
            Err(ChunkedError::SignatureDoesNotMatch)
        );

        // Data altered: the chunk signature catches it first.
        let mut body = good.clone();
        let pos = body.len() / 2;
        body[pos] ^= 1;
        assert_eq!(
            run_whole(signed_trailer(expected), &body),
            Err(ChunkedError::SignatureDoesNotMatch)
        );

        // Declared trailer differs from the one sent (and signed).
        assert!(matches!(
            run_whole(signed_trailer(Some(ChecksumAlgorithm::Crc32)), &good),
            Err(ChunkedError::TrailerMismatch(_))
        ));

        // Trailer signature not hex.
        let body = signed_trailer_body(&data, 8192, &line, Some(&"g".repeat(64)));
        assert!(matches!(
            run_whole(signed_trailer(expected), &body),
            Err(ChunkedError::Malformed(_))
        ));
    }

    #[test]
    fn mode_names() {
        assert_eq!(
            ChunkedMode::from_content_sha256("STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
            Some(ChunkedMode::SignedChunks)
        );
        assert_eq!(
            ChunkedMode::from_content_sha256("STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
            Some(ChunkedMode::UnsignedTrailer)
        );
        assert_eq!(
            ChunkedMode::from_content_sha256("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"),
            Some(ChunkedMode::SignedChunksTrailer)
        );
        assert_eq!(
            ChunkedMode::from_content_sha256("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"),
            None
        );
        assert_eq!(ChunkedMode::from_content_sha256("UNSIGNED-PAYLOAD"), None);
    }

    #[test]
    fn debug_never_shows_the_key() {
        let decoder = signed();
        let text = format!("{decoder:?} {:?}", ctx(SEED));
        assert!(!text.contains(&hex::encode(key())));
        assert!(text.contains("<redacted>"));
    }
}
