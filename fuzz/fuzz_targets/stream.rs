//! The segment format end to end (`src/crypto/segment.rs`, `stream.rs`, `size.rs`): seal a stream, open it whole
//! and by range, in arbitrary pieces; then alter it.
//!
//! Properties: opening what was sealed gives the plaintext back, whole or any range (via `span`, as GET does);
//! one changed byte, a truncation, or opening as another part never yields `Ok` from both `push` and `finish`,
//! and no plaintext of a segment that failed is ever emitted; arbitrary bytes under arbitrary opener parameters
//! never panic and never emit plaintext.
#![no_main]

use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use s3_sse_proxy::crypto::keys::DataKey;
use s3_sse_proxy::crypto::segment::NoncePrefix;
use s3_sse_proxy::crypto::size::{ciphertext_len, span};
use s3_sse_proxy::crypto::stream::{ChainOpener, StreamOpener, StreamSealer};
use s3_sse_proxy::crypto::{CryptoError, SEGMENT_SIZE};

/// Plaintext sizes up to a little over three segments.
const MAX_LEN: u32 = 3 * SEGMENT_SIZE as u32 + 100;

#[derive(Debug, Arbitrary)]
enum Input {
    RoundTrip {
        len: u32,
        seed: u8,
        part: u16,
        cuts: Vec<u32>,
        range: (u32, u32),
        alter: Alter,
    },
    Garbage {
        cipher_total: u64,
        first: u64,
        last: u64,
        skip: u64,
        take: u64,
        part: u32,
        bytes: Vec<u8>,
        chain: bool,
    },
}

#[derive(Debug, Arbitrary)]
enum Alter {
    Nothing,
    Flip { at: u32, mask: u8 },
    Truncate { to: u32 },
    OtherPart,
}

fn key() -> DataKey {
    DataKey::from_bytes(core::array::from_fn(|i| i as u8))
}
const PREFIX: NoncePrefix = NoncePrefix([0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6]);

/// Feed `data` in pieces (lengths from `cuts`, then the rest).
fn feed(data: &[u8], cuts: &[u32], mut push: impl FnMut(&[u8]) -> Result<(), CryptoError>) -> Result<(), CryptoError> {
    let mut pos = 0;
    let mut cuts = cuts.iter().map(|&c| (c as usize % (2 * SEGMENT_SIZE as usize)).max(1));
    while pos < data.len() {
        let n = cuts.next().unwrap_or(data.len()).min(data.len() - pos);
        push(&data[pos..pos + n])?;
        pos += n;
    }
    Ok(())
}

fn open(
    ct: &[u8],
    declared: u64,
    part: u32,
    cuts: &[u32],
    first: u64,
    last: u64,
    skip: u64,
    take: u64,
) -> (Vec<u8>, Result<(), CryptoError>) {
    let mut out: Vec<Bytes> = Vec::new();
    let result = StreamOpener::new(&key(), PREFIX, part, declared, first, last, skip, take).and_then(|mut o| {
        feed(ct, cuts, |d| o.push(d, &mut out))?;
        o.finish()
    });
    (out.concat(), result)
}

fuzz_target!(|input: Input| match input {
    Input::RoundTrip {
        len,
        seed,
        part,
        cuts,
        range,
        alter,
    } => {
        let len = u64::from(len % MAX_LEN);
        let part = u32::from(part);
        let pt: Vec<u8> = (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect();

        let mut sealer = StreamSealer::new(&key(), PREFIX, part, len);
        let mut segments: Vec<Bytes> = Vec::new();
        feed(&pt, &cuts, |d| sealer.push(d, &mut segments)).expect("declared length");
        sealer.finish(&mut segments).expect("declared length");
        let ct = segments.concat();
        assert_eq!(ct.len() as u64, ciphertext_len(len));
        // The sealer refuses to write more than it declared.
        assert!(sealer.push(b"x", &mut segments).is_err());

        let (plain, r) = open(
            &ct,
            ct.len() as u64,
            part,
            &cuts,
            0,
            ct.len().div_ceil(65552) as u64 - 1,
            0,
            len,
        );
        assert_eq!(r, Ok(()));
        assert_eq!(plain, pt);

        if len > 0 {
            let (a, b) = (u64::from(range.0) % len, u64::from(range.1) % len);
            let (start, end) = (a.min(b), a.max(b));
            let s = span(start, end, len);
            let slice = &ct[s.cipher_start as usize..=s.cipher_end as usize];
            let (plain, r) = open(slice, ct.len() as u64, part, &cuts, s.first, s.last, s.skip, s.take);
            assert_eq!(r, Ok(()));
            assert_eq!(plain, &pt[start as usize..=end as usize]);
        }

        let last = ct.len().div_ceil(65552) as u64 - 1;
        let (plain, r) = match alter {
            Alter::Nothing => return,
            Alter::Flip { mask: 0, .. } => return,
            Alter::Flip { at, mask } => {
                let mut bad = ct.clone();
                let i = at as usize % bad.len();
                bad[i] ^= mask;
                let (plain, r) = open(&bad, ct.len() as u64, part, &cuts, 0, last, 0, len);
                // Segments before the altered one may have been emitted; nothing from it or after.
                let good_segments = i / 65552;
                assert!(plain.len() <= good_segments * SEGMENT_SIZE as usize);
                (plain, r)
            }
            Alter::Truncate { to } => {
                let to = to as usize % ct.len();
                open(&ct[..to], ct.len() as u64, part, &cuts, 0, last, 0, len)
            }
            Alter::OtherPart => open(&ct, ct.len() as u64, part ^ 1, &cuts, 0, last, 0, len),
        };
        assert!(r.is_err(), "an altered stream opened");
        assert_eq!(plain, &pt[..plain.len()], "only authentic plaintext is emitted");
    }
    Input::Garbage {
        cipher_total,
        first,
        last,
        skip,
        take,
        part,
        bytes,
        chain,
    } => {
        let mut out = Vec::new();
        match StreamOpener::new(&key(), PREFIX, part, cipher_total, first, last, skip, take) {
            Ok(o) if chain => {
                let mut c = ChainOpener::new(vec![(o, bytes.len() as u64 / 2)]);
                let _ = c.push(&bytes, &mut out);
                let _ = c.finish();
            }
            Ok(mut o) => {
                let _ = o.push(&bytes, &mut out);
                let _ = o.finish();
            }
            Err(_) => {}
        }
        assert!(out.is_empty(), "arbitrary bytes opened");
    }
});
