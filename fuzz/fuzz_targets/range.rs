//! `Range` header parsing and resolution (`src/s3/range.rs`) and the plaintext → ciphertext segment span it maps
//! to (`src/crypto/size.rs`).
//!
//! Properties: a resolved range lies inside the object; its span covers it with whole segments inside the stored
//! ciphertext; a range written back as `bytes=a-b` parses to itself; sizes round-trip (`plaintext_len ∘
//! ciphertext_len = id`); the read planner (`plan_read`) over the object as one stream, and as two parts split
//! at the range's start, emits exactly the range and fetches ciphertext inside the stored bytes.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use s3_sse_proxy::crypto::size::{
    ciphertext_len, ciphertext_range, plaintext_len, plaintext_total, plan_read, segments, span,
};
use s3_sse_proxy::crypto::{SEGMENT_SIZE, TAG_SIZE};
use s3_sse_proxy::s3::range::{ByteRange, parse, resolve};

#[derive(Debug, Arbitrary)]
struct Input {
    /// The object's stored (ciphertext) size, as a backend reports it.
    stored: u64,
    start: u64,
    end: Option<u64>,
    suffix: bool,
    /// Last, so that it takes the rest of the input: a seed is 26 bytes of numbers and a header value.
    header: String,
}

fuzz_target!(|input: Input| {
    let Some(size) = plaintext_len(input.stored) else {
        return;
    };
    assert_eq!(ciphertext_len(size), input.stored);

    let generated = if input.suffix {
        format!("bytes=-{}", input.start)
    } else {
        match input.end {
            Some(e) => format!("bytes={}-{e}", input.start),
            None => format!("bytes={}-", input.start),
        }
    };
    let expected = match (input.suffix, input.end) {
        (true, _) => Some(ByteRange::Suffix(input.start)),
        (false, Some(e)) if e < input.start => None,
        (false, end) => Some(ByteRange::From {
            start: input.start,
            end,
        }),
    };
    assert_eq!(parse(&generated), expected, "{generated}");
    // The speculative backend range of a GET, from the client's range before any size is known: well-formed.
    if let Some(ByteRange::From { start, end }) = expected {
        let backend = ciphertext_range(start, end);
        let (a, b) = backend
            .strip_prefix("bytes=")
            .and_then(|r| r.split_once('-'))
            .expect("bytes=a-[b]");
        let a: u64 = a.parse().expect("a number");
        assert!(b.is_empty() || b.parse::<u64>().is_ok_and(|b| a <= b), "{backend}");
        assert_eq!(
            a,
            (start / SEGMENT_SIZE).saturating_mul(SEGMENT_SIZE + TAG_SIZE),
            "{backend}"
        );
    }

    for header in [input.header.as_str(), generated.as_str()] {
        let Some(r) = parse(header) else { continue };
        let Ok((start, end)) = resolve(r, size) else {
            continue;
        };
        assert!(start <= end && end < size, "{header} on {size}: {start}-{end}");
        let s = span(start, end, size);
        assert!(s.first <= s.last && s.last < segments(size));
        assert_eq!(s.cipher_start, s.first * (SEGMENT_SIZE + TAG_SIZE));
        assert!(s.cipher_start <= s.cipher_end && s.cipher_end < input.stored);
        assert_eq!(s.take, end - start + 1);
        assert_eq!(s.first * SEGMENT_SIZE + s.skip, start);
        assert!(s.skip < SEGMENT_SIZE);

        let one = [(0u32, input.stored)];
        let plan = plan_read(&one, Some((start, end))).expect("a resolved range plans");
        assert_eq!(plan.parts.iter().map(|p| p.take).sum::<u64>(), end - start + 1);
        assert!(plan.cipher_start <= plan.cipher_end && plan.cipher_end < input.stored);
        if input.stored > u64::MAX / 4 {
            continue; // two streams' ciphertext would not fit a u64
        }
        let two = [(1u32, ciphertext_len(start)), (2, ciphertext_len(size - start))];
        assert_eq!(plaintext_total(&two), Some(size));
        let plan = plan_read(&two, Some((start, end))).expect("a resolved range plans over parts");
        assert_eq!(plan.parts.iter().map(|p| p.take).sum::<u64>(), end - start + 1);
        assert!(plan.cipher_end < ciphertext_len(start) + ciphertext_len(size - start));
    }
});
