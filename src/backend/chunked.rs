//! The body the gateway sends to a backend in the streaming payload modes (`[backend] payload`): the plain
//! body re-framed as `aws-chunked`, either with chained chunk signatures (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`,
//! signed with aws-sigv4's `sign_chunk`) or unsigned with an `x-amz-checksum-crc32c` trailer
//! (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`).
//!
//! Chunks are [`CHUNK_SIZE`] bytes (the last one shorter), so the encoded length is known from the decoded length
//! before the first byte is sent ([`encoded_len`]). This adapter must never hold more than one chunk: it is a
//! stream, like every other body stage.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::SystemTime;

use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::{Bytes, BytesMut};
use http_body::{Frame, SizeHint};

use crate::auth::checksum::{ChecksumAlgorithm, Checksummer};
use crate::body::{Body, BoxError};

/// Decoded bytes per chunk. AWS requires at least 8 KiB for every chunk but the last.
pub const CHUNK_SIZE: usize = 64 * 1024;

/// The trailer sent in the trailer mode.
pub const TRAILER_ALGORITHM: ChecksumAlgorithm = ChecksumAlgorithm::Crc32c;

const SIGNATURE_EXTENSION: &str = ";chunk-signature=";
/// Lowercase hex of an HMAC-SHA256.
const SIGNATURE_HEX_LEN: u64 = 64;
/// Base64 of a 4-byte CRC32C.
const CRC32C_BASE64_LEN: u64 = 8;

/// What the chunk-signature chain needs: the request's signing inputs and its seed signature.
pub struct ChunkSigning {
    pub identity: Identity,
    pub region: String,
    pub time: SystemTime,
    pub seed_signature: String,
}

/// How the chunks are framed.
enum Framing {
    Signed { signing: ChunkSigning, previous: String },
    Trailer(Checksummer),
}

/// The `aws-chunked` length of a `decoded`-byte body.
pub fn encoded_len(decoded: u64, signed: bool) -> u64 {
    let chunk = CHUNK_SIZE as u64;
    let frame = |n: u64| -> u64 {
        let size_line = format!("{n:x}").len() as u64;
        let ext = if signed {
            SIGNATURE_EXTENSION.len() as u64 + SIGNATURE_HEX_LEN
        } else {
            0
        };
        size_line + ext + 2 + n + 2
    };
    let full = decoded / chunk;
    let rest = decoded % chunk;
    let data_chunks = full * frame(chunk) + if rest > 0 { frame(rest) } else { 0 };
    let last = if signed {
        // `0;chunk-signature=<sig>\r\n\r\n`
        1 + SIGNATURE_EXTENSION.len() as u64 + SIGNATURE_HEX_LEN + 2 + 2
    } else {
        // `0\r\n` `x-amz-checksum-crc32c:<b64>\r\n` `\r\n`
        3 + TRAILER_ALGORITHM.header_name().len() as u64 + 1 + CRC32C_BASE64_LEN + 2 + 2
    };
    data_chunks + last
}

/// `inner` (exactly `decoded_len` bytes) as an `aws-chunked` body.
pub struct AwsChunkedBody {
    inner: Body,
    pending: BytesMut,
    framing: Option<Framing>,
    inner_done: bool,
    remaining: u64,
}

impl AwsChunkedBody {
    /// Chunks with chained signatures, seeded by the request's signature.
    pub fn signed(inner: Body, decoded_len: u64, signing: ChunkSigning) -> Self {
        let previous = signing.seed_signature.clone();
        Self::new(inner, decoded_len, Framing::Signed { signing, previous })
    }

    /// Unsigned chunks followed by an `x-amz-checksum-crc32c` trailer.
    pub fn with_trailer(inner: Body, decoded_len: u64) -> Self {
        Self::new(
            inner,
            decoded_len,
            Framing::Trailer(Checksummer::new(TRAILER_ALGORITHM)),
        )
    }

    fn new(inner: Body, decoded_len: u64, framing: Framing) -> Self {
        let signed = matches!(framing, Framing::Signed { .. });
        Self {
            inner,
            pending: BytesMut::new(),
            framing: Some(framing),
            inner_done: false,
            remaining: encoded_len(decoded_len, signed),
        }
    }

    /// One framed chunk of `data` (empty: the final chunk, with the trailer in the trailer mode).
    fn frame(&mut self, data: &[u8]) -> Result<Bytes, BoxError> {
        let framing = self.framing.as_mut().expect("not finished");
        let mut out = BytesMut::with_capacity(data.len() + 128);
        out.extend_from_slice(format!("{:x}", data.len()).as_bytes());
        match framing {
            Framing::Signed { signing, previous } => {
                let params = v4::SigningParams::builder()
                    .identity(&signing.identity)
                    .region(&signing.region)
                    .name("s3")
                    .time(signing.time)
                    .settings(())
                    .build()
                    .expect("all signing params set");
                let signature = v4::sign_chunk(&Bytes::copy_from_slice(data), previous, &params)?
                    .signature()
                    .to_owned();
                out.extend_from_slice(SIGNATURE_EXTENSION.as_bytes());
                out.extend_from_slice(signature.as_bytes());
                out.extend_from_slice(b"\r\n");
                *previous = signature;
                if data.is_empty() {
                    out.extend_from_slice(b"\r\n");
                }
            }
            Framing::Trailer(sum) => {
                out.extend_from_slice(b"\r\n");
                sum.update(data);
                if data.is_empty() {
                    let value = sum.clone().finish();
                    out.extend_from_slice(format!("{}:{value}\r\n\r\n", TRAILER_ALGORITHM.header_name()).as_bytes());
                }
            }
        }
        if !data.is_empty() {
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
        let out = out.freeze();
        self.remaining = self.remaining.saturating_sub(out.len() as u64);
        Ok(out)
    }
}

impl http_body::Body for AwsChunkedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            if this.framing.is_none() {
                return Poll::Ready(None);
            }
            if this.pending.len() >= CHUNK_SIZE {
                let chunk = this.pending.split_to(CHUNK_SIZE);
                return Poll::Ready(Some(this.frame(&chunk).map(Frame::data)));
            }
            if this.inner_done {
                let chunk = this.pending.split();
                let result = if chunk.is_empty() {
                    let last = this.frame(&[]);
                    this.framing = None;
                    last
                } else {
                    this.frame(&chunk)
                };
                return Poll::Ready(Some(result.map(Frame::data)));
            }
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    // Trailers of the inner body (none are expected) are not forwarded.
                    if let Ok(data) = frame.into_data() {
                        this.pending.extend_from_slice(&data);
                    }
                }
                Some(Err(e)) => {
                    this.framing = None;
                    return Poll::Ready(Some(Err(e)));
                }
                None => this.inner_done = true,
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.framing.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::canonical::signing_key;
    use crate::auth::chunked::{ChunkEvent, ChunkSigningContext, ChunkedDecoder, ChunkedMode};
    use crate::secret::SecretString;
    use aws_credential_types::Credentials;
    use http_body_util::BodyExt as _;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn signing(time: SystemTime) -> ChunkSigning {
        ChunkSigning {
            identity: Credentials::new("AKIDEXAMPLE", SECRET, None, None, "test").into(),
            region: "us-east-1".into(),
            time,
            seed_signature: "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9".into(),
        }
    }

    /// An inner body delivered in uneven frames, so chunk boundaries never match frame boundaries.
    fn inner(data: &[u8]) -> Body {
        let frames: Vec<Result<Frame<Bytes>, BoxError>> = data
            .chunks(10_007)
            .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
            .collect();
        crate::body::boxed(http_body_util::StreamBody::new(futures_util::stream::iter(frames)))
    }

    fn encode(body: AwsChunkedBody) -> (u64, Bytes) {
        let hint = http_body::Body::size_hint(&body).exact().expect("exact size");
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let bytes = rt.block_on(body.collect()).unwrap().to_bytes();
        (hint, bytes)
    }

    /// Decode with the gateway's own verifying decoder; the decoded data.
    fn decode(encoded: &[u8], mode: ChunkedMode, ctx: Option<ChunkSigningContext>) -> Vec<u8> {
        let mut decoder = ChunkedDecoder::new(mode, ctx, mode.has_trailer().then_some(TRAILER_ALGORITHM));
        let mut input = BytesMut::from(encoded);
        let mut out = Vec::new();
        loop {
            match decoder.decode(&mut input).expect("valid aws-chunked") {
                ChunkEvent::Data(d) => out.extend_from_slice(&d),
                ChunkEvent::End { trailer } => {
                    if mode.has_trailer() {
                        let (alg, value) = trailer.expect("a trailer");
                        assert_eq!(alg, TRAILER_ALGORITHM);
                        let mut sum = Checksummer::new(TRAILER_ALGORITHM);
                        sum.update(&out);
                        assert_eq!(value, sum.finish());
                    }
                    break;
                }
                ChunkEvent::NeedMore => panic!("the encoded body is incomplete"),
            }
        }
        decoder.finish(&input).expect("nothing after the end");
        out
    }

    #[test]
    fn signed_chunks_verify_with_the_gateways_decoder() {
        let time = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_369_353_600); // 2013-05-24
        for len in [
            0usize,
            1,
            CHUNK_SIZE - 1,
            CHUNK_SIZE,
            CHUNK_SIZE + 1,
            3 * CHUNK_SIZE + 17,
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let s = signing(time);
            let ctx = ChunkSigningContext {
                signing_key: signing_key(&SecretString::new(SECRET.into()), "20130524", "us-east-1", "s3"),
                amz_date: "20130524T000000Z".into(),
                scope: "20130524/us-east-1/s3/aws4_request".into(),
                seed_signature: s.seed_signature.clone(),
            };
            let (hint, encoded) = encode(AwsChunkedBody::signed(inner(&data), len as u64, s));
            assert_eq!(hint, encoded.len() as u64, "encoded_len for {len} bytes");
            assert_eq!(encoded_len(len as u64, true), encoded.len() as u64);
            let decoded = decode(&encoded, ChunkedMode::SignedChunks, Some(ctx));
            assert_eq!(decoded, data, "{len} bytes");
        }
    }

    #[test]
    fn a_wrong_seed_breaks_the_chain() {
        let time = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_369_353_600);
        let data = vec![7u8; 100];
        let (_, encoded) = encode(AwsChunkedBody::signed(inner(&data), 100, signing(time)));
        let ctx = ChunkSigningContext {
            signing_key: signing_key(&SecretString::new(SECRET.into()), "20130524", "us-east-1", "s3"),
            amz_date: "20130524T000000Z".into(),
            scope: "20130524/us-east-1/s3/aws4_request".into(),
            seed_signature: "0".repeat(64),
        };
        let mut decoder = ChunkedDecoder::new(ChunkedMode::SignedChunks, Some(ctx), None);
        let mut input = BytesMut::from(&encoded[..]);
        let err = loop {
            match decoder.decode(&mut input) {
                Ok(ChunkEvent::Data(_)) => {}
                Ok(other) => panic!("decoded past a bad signature: {other:?}"),
                Err(e) => break e,
            }
        };
        assert_eq!(err, crate::auth::chunked::ChunkedError::SignatureDoesNotMatch);
    }

    #[test]
    fn trailer_chunks_carry_the_crc32c_of_the_body() {
        for len in [0usize, 5, CHUNK_SIZE, 2 * CHUNK_SIZE + 3] {
            let data: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
            let (hint, encoded) = encode(AwsChunkedBody::with_trailer(inner(&data), len as u64));
            assert_eq!(hint, encoded.len() as u64, "encoded_len for {len} bytes");
            assert_eq!(encoded_len(len as u64, false), encoded.len() as u64);
            assert_eq!(decode(&encoded, ChunkedMode::UnsignedTrailer, None), data);
        }
    }
}
