//! `bench-crypto`: single-thread, in-memory throughput of the object format's crypto (`crypto::segment`,
//! `crypto::stream`) next to its ceiling (raw aws-lc-rs AES-256-GCM on 64 KiB buffers) and to the hashes a
//! gateway might be tempted to compute per object (MD5, SHA-256). Figures and commands: BENCHMARKS.md, "Crypto".
//!
//! Usage: `bench-crypto [--gib N] [--frame-kib K] [--runs R]` (defaults: 1 GiB per run, 1024 KiB body frames,
//! best and median of 10 interleaved runs). It does no I/O and must never be linked into the gateway.

use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use bytes::{Bytes, BytesMut};
use s3_sse_proxy::auth::canonical;
use s3_sse_proxy::auth::checksum::{ChecksumAlgorithm, Checksummer};
use s3_sse_proxy::auth::chunked::{ChunkEvent, ChunkSigningContext, ChunkedDecoder, ChunkedMode};
use s3_sse_proxy::crypto::keys::DataKey;
use s3_sse_proxy::crypto::segment::{NoncePrefix, PartCipher};
use s3_sse_proxy::crypto::size::{ciphertext_len, segments};
use s3_sse_proxy::crypto::stream::{StreamOpener, StreamSealer};
use s3_sse_proxy::crypto::{SEGMENT_SIZE, SUITE_AES256GCM_64K, TAG_SIZE, VERSION};
use sha2::Digest;

const S: usize = SEGMENT_SIZE as usize;
const T: usize = TAG_SIZE as usize;
/// The segment AAD of format version 1, so the raw ceiling authenticates exactly as much as a segment does.
const AAD: [u8; 2] = [VERSION, SUITE_AES256GCM_64K];
const PREFIX: NoncePrefix = NoncePrefix([0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6]);

struct Settings {
    total: usize,
    frame: usize,
    runs: usize,
}

impl Settings {
    fn from_args() -> Result<Self, String> {
        let mut s = Self {
            total: 1 << 30,
            frame: 1 << 20,
            runs: 10,
        };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let value: usize = args
                .next()
                .and_then(|v| v.parse().ok())
                .filter(|&v| v > 0)
                .ok_or_else(|| format!("{flag} needs a positive integer"))?;
            match flag.as_str() {
                "--gib" => s.total = value << 30,
                "--frame-kib" => s.frame = value << 10,
                "--runs" => s.runs = value,
                _ => {
                    return Err(format!(
                        "unknown argument {flag}; usage: bench-crypto [--gib N] [--frame-kib K] [--runs R]"
                    ));
                }
            }
        }
        Ok(s)
    }

    fn segment_count(&self) -> usize {
        self.total / S
    }
}

/// One benchmark: a name and a run that returns the time its timed part took for `Settings::total` bytes.
type Bench<'a> = (&'static str, Box<dyn FnMut() -> Duration + 'a>);

/// Run every benchmark once per round, round after round (so that a slow spell of a shared machine hits all of
/// them alike), and return each one's (best, median) MB/s.
fn run_rounds(settings: &Settings, benches: &mut [Bench<'_>]) -> Vec<(f64, f64)> {
    let mut rates = vec![Vec::with_capacity(settings.runs); benches.len()];
    for _ in 0..settings.runs {
        for (i, (_, run)) in benches.iter_mut().enumerate() {
            rates[i].push(settings.total as f64 / run().as_secs_f64() / 1e6);
        }
    }
    rates
        .into_iter()
        .map(|mut r| {
            r.sort_by(f64::total_cmp);
            (r[r.len() - 1], r[r.len() / 2])
        })
        .collect()
}

fn timed(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

fn raw_key() -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[0x42; 32]).expect("32-byte key"))
}

fn raw_nonce(i: usize) -> Nonce {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&(i as u64).to_be_bytes());
    Nonce::assume_unique_for_key(n)
}

fn data_key() -> DataKey {
    DataKey::from_bytes(std::array::from_fn(|i| i as u8))
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// The segments of one stream of `total` pattern bytes, each sealed by `PartCipher` as the sealer would.
fn sealed_segments(cipher: &PartCipher, total: usize) -> Vec<Vec<u8>> {
    let n = segments(total as u64) as usize;
    let plain = pattern(S);
    (0..n)
        .map(|i| {
            let mut seg = Vec::with_capacity(S + T);
            seg.extend_from_slice(&plain[..S.min(total - i * S)]);
            cipher.seal(i as u32, i + 1 == n, &mut seg);
            seg
        })
        .collect()
}

#[allow(clippy::too_many_lines, reason = "the benchmark's table, row by row")]
fn main() -> std::process::ExitCode {
    let settings = match Settings::from_args() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(2);
        }
    };
    let (total, n, frame_len) = (settings.total, settings.segment_count(), settings.frame);
    println!(
        "bench-crypto: {} MiB of plaintext per run, {} interleaved runs, body frames of {} KiB, one thread",
        total >> 20,
        settings.runs,
        frame_len >> 10
    );

    // Ceiling: raw AES-256-GCM on one reused 64 KiB buffer (cache-hot, as `openssl speed` measures).
    let key = raw_key();
    let mut seal_buf = pattern(S);
    let mut open_in = pattern(S);
    let open_tag = key
        .seal_in_place_separate_tag(raw_nonce(0), Aad::from(AAD), &mut open_in)
        .expect("seal");
    let mut open_out = vec![0u8; S];

    // The format's segment cipher on a reused buffer: HKDF part key, nonce, AAD, tag appended.
    let dk = data_key();
    let cipher = PartCipher::new(&dk, PREFIX, 0);
    let mut seg = Vec::with_capacity(S + T);
    seg.extend_from_slice(&pattern(S));

    // Opening consumes the ciphertext, so the two in-place openers go once through a stream's worth of distinct
    // sealed segments (re-sealed, untimed, before each run): the same memory traffic for both.
    let mut segs = sealed_segments(&cipher, total);
    let mut raw_segs = sealed_segments(&cipher, total);

    // Whole streams, as the gateway runs them: body frames in, sealed segments (or verified plaintext) out, each
    // output dropped once produced (the gateway hands it to the network).
    let frame = pattern(frame_len);
    let mut stream = Vec::with_capacity(ciphertext_len(total as u64) as usize);
    for s in &segs {
        stream.extend_from_slice(s);
    }
    let last = segments(total as u64) - 1;

    // aws-chunked request bodies of the same plaintext, as clients send them: 64 KiB chunks with chained
    // signatures (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), and unsigned chunks with a CRC32 trailer (boto3's default).
    let signed_body = chunked_body(total, true);
    let trailer_body = chunked_body(total, false);

    let mut benches: Vec<Bench<'_>> = vec![
        (
            "aws-lc-rs AES-256-GCM seal, one 64 KiB buffer (hot)",
            Box::new(|| {
                timed(|| {
                    for i in 0..n {
                        let tag = key
                            .seal_in_place_separate_tag(raw_nonce(i), Aad::from(AAD), &mut seal_buf)
                            .expect("seal");
                        black_box(&tag);
                    }
                })
            }),
        ),
        (
            "aws-lc-rs AES-256-GCM open, one 64 KiB buffer (hot)",
            Box::new(|| {
                timed(|| {
                    for _ in 0..n {
                        key.open_separate_gather(
                            raw_nonce(0),
                            Aad::from(AAD),
                            &open_in,
                            open_tag.as_ref(),
                            &mut open_out,
                        )
                        .expect("open");
                        black_box(&open_out);
                    }
                })
            }),
        ),
        (
            "PartCipher::seal, one 64 KiB segment (hot)",
            Box::new(|| {
                timed(|| {
                    for i in 0..n {
                        cipher.seal(i as u32, false, &mut seg);
                        seg.truncate(S);
                    }
                    black_box(&seg);
                })
            }),
        ),
        (
            "PartCipher::open, a stream's 64 KiB segments in place",
            Box::new(|| {
                for (i, s) in segs.iter_mut().enumerate() {
                    s.truncate(S.min(total - i * S));
                    cipher.seal(i as u32, i + 1 == n, s);
                }
                timed(|| {
                    for (i, s) in segs.iter_mut().enumerate() {
                        black_box(cipher.open(i as u32, i + 1 == n, s).expect("segment opens"));
                    }
                })
            }),
        ),
        (
            "aws-lc-rs AES-256-GCM open, as many 64 KiB buffers in place",
            Box::new(|| {
                for (i, s) in raw_segs.iter_mut().enumerate() {
                    s.truncate(S.min(total - i * S));
                    key.seal_in_place_append_tag(raw_nonce(i), Aad::from(AAD), s)
                        .expect("seal");
                }
                timed(|| {
                    for (i, s) in raw_segs.iter_mut().enumerate() {
                        black_box(key.open_in_place(raw_nonce(i), Aad::from(AAD), s).expect("open"));
                    }
                })
            }),
        ),
        (
            "StreamSealer, one stream, body frames in",
            Box::new(|| {
                let mut produced: Vec<Bytes> = Vec::new();
                let mut sealed = 0usize;
                let d = timed(|| {
                    let mut sealer = StreamSealer::new(&dk, PREFIX, 0, total as u64);
                    let mut left = total;
                    while left > 0 {
                        let take = left.min(frame.len());
                        sealer.push(&frame[..take], &mut produced).expect("declared length");
                        sealed += produced.drain(..).map(|b| b.len()).sum::<usize>();
                        left -= take;
                    }
                    sealer.finish(&mut produced).expect("declared length");
                    sealed += produced.drain(..).map(|b| b.len()).sum::<usize>();
                });
                assert_eq!(sealed as u64, ciphertext_len(total as u64), "sealed size");
                d
            }),
        ),
        (
            "StreamOpener, one stream, body frames in",
            Box::new(|| {
                let mut produced: Vec<Bytes> = Vec::new();
                let mut opened = 0usize;
                let d = timed(|| {
                    let mut opener = StreamOpener::new(&dk, PREFIX, 0, stream.len() as u64, 0, last, 0, total as u64)
                        .expect("stream size");
                    for chunk in stream.chunks(frame_len) {
                        opener.push(chunk, &mut produced).expect("stream opens");
                        opened += produced.drain(..).map(|b| b.len()).sum::<usize>();
                    }
                    opener.finish().expect("stream complete");
                });
                assert_eq!(opened, total, "opened size");
                d
            }),
        ),
        (
            "aws-chunked decode, signed 64 KiB chunks (SigV4 chunk verifier)",
            Box::new(|| timed(|| decode_chunked(&signed_body, ChunkedMode::SignedChunks, frame_len, total))),
        ),
        (
            "aws-chunked decode, unsigned + CRC32 trailer (verified)",
            Box::new(|| timed(|| decode_chunked(&trailer_body, ChunkedMode::UnsignedTrailer, frame_len, total))),
        ),
        // What a per-object MD5 (a plaintext ETag) or SHA-256 would cost, over the same body frames.
        (
            "MD5 (md-5)",
            Box::new(|| {
                timed(|| {
                    let mut h = md5::Md5::new();
                    for start in (0..total).step_by(frame.len()) {
                        h.update(&frame[..frame.len().min(total - start)]);
                    }
                    black_box(h.finalize());
                })
            }),
        ),
        // The stored checksum the gateway computes when a client sends none (docs/format.md §5.7).
        (
            "CRC64NVME (crc-fast, the stored default checksum)",
            Box::new(|| {
                timed(|| {
                    let mut h = Checksummer::new(ChecksumAlgorithm::Crc64Nvme);
                    for start in (0..total).step_by(frame.len()) {
                        h.update(&frame[..frame.len().min(total - start)]);
                    }
                    black_box(h.finish());
                })
            }),
        ),
        (
            "SHA-256 (sha2)",
            Box::new(|| {
                timed(|| {
                    let mut h = sha2::Sha256::new();
                    for start in (0..total).step_by(frame.len()) {
                        h.update(&frame[..frame.len().min(total - start)]);
                    }
                    black_box(h.finalize());
                })
            }),
        ),
    ];
    let results = run_rounds(&settings, &mut benches);
    let names: Vec<&str> = benches.iter().map(|(name, _)| *name).collect();
    drop(benches);

    println!("{:<62} {:>9} {:>9}", "", "MB/s best", "median");
    for (name, (best, median)) in names.iter().zip(&results) {
        println!("{name:<62} {best:>9.0} {median:>9.0}");
    }
    let best = |i: usize| results[i].0;
    let harmonic = |a: f64, b: f64| 2.0 / (1.0 / a + 1.0 / b);
    println!();
    println!("ratios of best runs (1.00 = raw aws-lc-rs AES-256-GCM):");
    for (what, r) in [
        ("PartCipher seal / raw seal (hot)", best(2) / best(0)),
        ("PartCipher open / raw open (same memory)", best(3) / best(4)),
        ("StreamSealer / raw seal (hot)", best(5) / best(0)),
        ("StreamOpener / raw open (hot)", best(6) / best(1)),
        (
            "stream seal+open / raw seal+open (harmonic means)",
            harmonic(best(5), best(6)) / harmonic(best(0), best(1)),
        ),
    ] {
        println!("  {what:<60} {r:.2}");
    }
    std::process::ExitCode::SUCCESS
}

const CHUNK_DATE: &str = "20130524T000000Z";
const CHUNK_SCOPE: &str = "20130524/us-east-1/s3/aws4_request";

fn chunk_key() -> s3_sse_proxy::secret::SigningKey {
    let secret = s3_sse_proxy::secret::SecretString::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into());
    canonical::signing_key(&secret, "20130524", "us-east-1", "s3")
}

/// An aws-chunked body of `total` pattern bytes in 64 KiB chunks: signed (chained chunk signatures from an
/// all-zero seed) or unsigned with an `x-amz-checksum-crc32` trailer.
fn chunked_body(total: usize, signed: bool) -> Vec<u8> {
    let data = pattern(total);
    let key = chunk_key();
    let mut previous = "0".repeat(64);
    let mut out = Vec::with_capacity(total + total / S * 100 + 200);
    let mut crc = Checksummer::new(ChecksumAlgorithm::Crc32);
    for chunk in data.chunks(S).chain(std::iter::once(&[][..])) {
        if signed {
            let sts = format!(
                "AWS4-HMAC-SHA256-PAYLOAD\n{CHUNK_DATE}\n{CHUNK_SCOPE}\n{previous}\n{}\n{}",
                canonical::EMPTY_SHA256,
                canonical::sha256_hex(chunk)
            );
            previous = canonical::signature(&key, &sts);
            out.extend_from_slice(format!("{:x};chunk-signature={previous}\r\n", chunk.len()).as_bytes());
        } else {
            crc.update(chunk);
            out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        }
        if !chunk.is_empty() {
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
        }
    }
    if !signed {
        out.extend_from_slice(format!("x-amz-checksum-crc32:{}\r\n", crc.finish()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Decode `body` as the gateway does: frames of `frame_len` appended to a buffer, the decoder run until it needs
/// more, the decoded data checksummed (CRC32, trailer mode) and compared with the trailer at the end.
fn decode_chunked(body: &[u8], mode: ChunkedMode, frame_len: usize, total: usize) {
    let ctx = ChunkSigningContext {
        signing_key: chunk_key(),
        amz_date: CHUNK_DATE.into(),
        scope: CHUNK_SCOPE.into(),
        seed_signature: "0".repeat(64),
    };
    let trailer = (!mode.is_signed()).then_some(ChecksumAlgorithm::Crc32);
    let mut decoder = ChunkedDecoder::new(mode, Some(ctx), trailer);
    let mut crc = Checksummer::new(ChecksumAlgorithm::Crc32);
    let mut buf = BytesMut::new();
    let mut decoded = 0usize;
    let mut end = None;
    for frame in body.chunks(frame_len) {
        buf.extend_from_slice(frame);
        loop {
            match decoder.decode(&mut buf).expect("the body decodes") {
                ChunkEvent::Data(d) => {
                    decoded += d.len();
                    if trailer.is_some() {
                        crc.update(&d);
                    }
                }
                ChunkEvent::NeedMore => break,
                ChunkEvent::End { trailer } => {
                    end = Some(trailer);
                    break;
                }
            }
        }
    }
    decoder.finish(&buf).expect("the body is complete");
    assert_eq!(decoded, total, "decoded size");
    if let Some(Some((_, value))) = end {
        assert_eq!(value, crc.finish(), "the CRC32 trailer matches");
    }
}
