//! aws-chunked decoder (`src/auth/chunked.rs`), fed in arbitrary pieces.
//!
//! - `Raw`: any bytes, any mode: the decoder must not panic, never return an empty `Data`, never return data after
//!   `End`, and `decoded_len` must count exactly what it returned.
//! - `Framed`: a correctly framed and signed body built here from arbitrary chunks (with an independent encoder)
//!   must decode to exactly those chunks and trailer; with one byte altered, a signed body either fails or still
//!   decodes to exactly the original data and trailer (a signature never lets a changed payload through).
#![no_main]

use arbitrary::Arbitrary;
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use s3_sse_proxy::auth::canonical::{hmac_sha256, sha256_hex, signing_key};
use s3_sse_proxy::auth::checksum::{ChecksumAlgorithm, Checksummer};
use s3_sse_proxy::auth::chunked::{ChunkEvent, ChunkSigningContext, ChunkedDecoder, ChunkedError, ChunkedMode};
use s3_sse_proxy::secret::SecretString;

const AMZ_DATE: &str = "20130524T000000Z";
const SCOPE: &str = "20130524/us-east-1/s3/aws4_request";
const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
const MODES: [ChunkedMode; 3] = [
    ChunkedMode::SignedChunks,
    ChunkedMode::UnsignedTrailer,
    ChunkedMode::SignedChunksTrailer,
];

/// The structured half of the input (after a first byte with bit 0 set).
#[derive(Debug, Arbitrary)]
struct Framed {
    mode: u8,
    trailer: u8,
    tamper: Option<(u32, u8)>,
    cuts: Vec<u16>,
    chunks: Vec<Vec<u8>>,
}

fn key() -> [u8; 32] {
    let secret = SecretString::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into());
    *signing_key(&secret, "20130524", "us-east-1", "s3").as_bytes()
}

fn context() -> ChunkSigningContext {
    ChunkSigningContext {
        signing_key: s3_sse_proxy::secret::SigningKey::from_bytes(key()),
        amz_date: AMZ_DATE.into(),
        scope: SCOPE.into(),
        seed_signature: SEED.into(),
    }
}

fn algorithm(i: u8) -> ChecksumAlgorithm {
    ChecksumAlgorithm::ALL[usize::from(i) % ChecksumAlgorithm::ALL.len()]
}

fn chunk_signature(previous: &str, data: &[u8]) -> String {
    let sts = format!(
        "AWS4-HMAC-SHA256-PAYLOAD\n{AMZ_DATE}\n{SCOPE}\n{previous}\n{}\n{}",
        sha256_hex(b""),
        sha256_hex(data)
    );
    to_hex(&hmac_sha256(&key(), sts.as_bytes()))
}

fn trailer_signature(previous: &str, canonical: &str) -> String {
    let sts = format!(
        "AWS4-HMAC-SHA256-TRAILER\n{AMZ_DATE}\n{SCOPE}\n{previous}\n{}",
        sha256_hex(canonical.as_bytes())
    );
    to_hex(&hmac_sha256(&key(), sts.as_bytes()))
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The body a client would send: `chunks` (empty ones dropped, as an empty chunk ends the body) in `mode`.
fn encode(mode: ChunkedMode, chunks: &[&[u8]], trailer: Option<(ChecksumAlgorithm, &str)>) -> Vec<u8> {
    let mut body = Vec::new();
    let mut previous = SEED.to_owned();
    for data in chunks.iter().copied().chain([&b""[..]]) {
        if mode.is_signed() {
            let sig = chunk_signature(&previous, data);
            body.extend(format!("{:x};chunk-signature={sig}\r\n", data.len()).into_bytes());
            previous = sig;
        } else {
            body.extend(format!("{:x}\r\n", data.len()).into_bytes());
        }
        if !data.is_empty() {
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        }
    }
    if let Some((alg, value)) = trailer {
        body.extend(format!("{}:{value}\r\n", alg.header_name()).into_bytes());
        if mode.is_signed() {
            let canonical = format!("{}:{value}\n", alg.header_name());
            let sig = trailer_signature(&previous, &canonical);
            body.extend(format!("x-amz-trailer-signature:{sig}\r\n").into_bytes());
        }
    }
    body.extend_from_slice(b"\r\n");
    body
}

type Outcome = Result<(Vec<u8>, Option<(ChecksumAlgorithm, String)>), ChunkedError>;

/// Feed `body` in pieces of the lengths in `cuts` (then the rest at once), as a socket would.
fn run(mut decoder: ChunkedDecoder, body: &[u8], cuts: &[u16]) -> Outcome {
    let mut cuts = cuts.iter().map(|&c| usize::from(c).max(1));
    let mut buf = BytesMut::new();
    let (mut out, mut end, mut pos) = (Vec::new(), None, 0);
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
        let n = cuts.next().unwrap_or(body.len()).min(body.len() - pos);
        buf.extend_from_slice(&body[pos..pos + n]);
        pos += n;
    }
    assert_eq!(
        decoder.decoded_len(),
        out.len() as u64,
        "decoded_len counts what was returned"
    );
    decoder.finish(&buf)?;
    Ok((out, end.expect("finish is Ok only after End")))
}

// Input: a first byte `f`. Bit 0 clear: raw mode; bits 1-2 the mode, bit 3 whether a signing context is given,
// bits 4-6 the declared trailer (7: none), bit 7 byte-by-byte feeding; the rest is the body (so a seed file is
// one byte and a body as a client sends it). Bit 0 set: the rest is a `Framed`.
fuzz_target!(|data: &[u8]| {
    let Some((&f, rest)) = data.split_first() else {
        return;
    };
    if f & 1 == 0 {
        let mode = MODES[usize::from(f >> 1 & 3) % 3];
        let trailer = (f >> 4 & 7 != 7).then(|| algorithm(f >> 4 & 7));
        let decoder = ChunkedDecoder::new(mode, (f & 8 != 0).then(context), trailer);
        let cuts: &[u16] = if f & 0x80 != 0 { &[1; 4096] } else { &[] };
        let _ = run(decoder, rest, cuts);
        return;
    }
    let Ok(Framed {
        mode,
        trailer,
        tamper,
        cuts,
        chunks,
    }) = Framed::arbitrary_take_rest(arbitrary::Unstructured::new(rest))
    else {
        return;
    };
    let mode = MODES[usize::from(mode) % 3];
    let chunks: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).filter(|c| !c.is_empty()).collect();
    let data: Vec<u8> = chunks.concat();
    let alg = algorithm(trailer);
    let value = {
        let mut c = Checksummer::new(alg);
        c.update(&data);
        c.finish()
    };
    let trailer = mode.has_trailer().then_some((alg, value.as_str()));
    let mut body = encode(mode, &chunks, trailer);
    let expected_trailer = trailer.map(|(a, v)| (a, v.to_owned()));
    let decoder = || ChunkedDecoder::new(mode, Some(context()), mode.has_trailer().then_some(alg));
    match tamper {
        None => {
            let (out, got_trailer) = run(decoder(), &body, &cuts).expect("a well-formed body decodes");
            assert_eq!(out, data);
            assert_eq!(got_trailer, expected_trailer);
        }
        Some((at, mask)) if mask != 0 => {
            let i = at as usize % body.len();
            body[i] ^= mask;
            if let Ok((out, got_trailer)) = run(decoder(), &body, &cuts)
                && mode.is_signed()
            {
                assert_eq!(out, data, "a signed body decoded to other data");
                assert_eq!(got_trailer, expected_trailer, "a signed trailer was changed");
            }
        }
        Some(_) => {}
    }
});
