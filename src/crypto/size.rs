//! Sizes and ranges: the ciphertext size is an exact function of the plaintext size (and the reverse), so HEAD,
//! GET, `Content-Range` and listings are rewritten without asking the backend anything.
//!
//! One stream (an object written in one PUT, or one multipart part): `n = max(1, ceil(p / S))` segments,
//! `c = p + 16·n`. A multipart object whose parts (all but the last) are whole multiples of `S` has exactly the
//! same layout as one stream of its concatenated plaintext, so the same formulas hold for it.

use super::{SEGMENT_SIZE as S, TAG_SIZE as T};

/// Number of segments of a stream of `p` plaintext bytes (an empty stream still has one, empty, final segment).
pub fn segments(p: u64) -> u64 {
    p.div_ceil(S).max(1)
}

pub fn ciphertext_len(p: u64) -> u64 {
    p + T * segments(p)
}

/// The plaintext size of a stream of `c` ciphertext bytes, or `None` if no plaintext size produces `c`.
pub fn plaintext_len(c: u64) -> Option<u64> {
    let n = c.div_ceil(S + T).max(1);
    let p = c.checked_sub(T * n)?;
    (ciphertext_len(p) == c).then_some(p)
}

/// A plaintext byte range mapped onto the whole segments that hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentSpan {
    /// First and last segment index (inclusive).
    pub first: u64,
    pub last: u64,
    /// Ciphertext byte range to fetch, `start..=end`.
    pub cipher_start: u64,
    pub cipher_end: u64,
    /// Plaintext bytes to drop from the first segment, and to emit in all.
    pub skip: u64,
    pub take: u64,
}

/// Map plaintext bytes `start..=end` of a stream of `total` plaintext bytes. Requires `start <= end < total`.
pub fn span(start: u64, end: u64, total: u64) -> SegmentSpan {
    debug_assert!(start <= end && end < total);
    let first = start / S;
    let last = end / S;
    let cipher_start = first * (S + T);
    // Saturating: for a stored size near `u64::MAX` (a backend's claim), the end of the last segment would overflow;
    // the stream's own end is the bound then. Found by `fuzz/range`.
    let cipher_end = (ciphertext_len(total) - 1).min((last + 1).saturating_mul(S + T) - 1);
    SegmentSpan {
        first,
        last,
        cipher_start,
        cipher_end,
        skip: start - first * S,
        take: end - start + 1,
    }
}

/// The whole segments holding plaintext `start..=end` (end open = to the end), as a backend `Range` value.
///
/// `start` and `end` are the client's `Range`, not yet checked against any size: saturating, a range beyond what
/// a `u64` of ciphertext can hold asks for bytes past the end (the backend answers 416, as S3 does).
pub fn ciphertext_range(start: u64, end: Option<u64>) -> String {
    let first = (start / S).saturating_mul(S + T);
    match end {
        Some(e) => {
            let last = (e / S + 1).checked_mul(S + T).map_or(u64::MAX, |end| end - 1);
            format!("bytes={first}-{last}")
        }
        None => format!("bytes={first}-"),
    }
}

/// One part stream to read: its part number (0 = single PUT), ciphertext size, and what to take from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartRead {
    pub part: u32,
    pub cipher_total: u64,
    /// First and last segment index to open.
    pub first: u64,
    pub last: u64,
    /// Plaintext bytes to drop from the first segment, and to emit in all.
    pub skip: u64,
    pub take: u64,
    /// Ciphertext bytes of this part that the read consumes.
    pub feed: u64,
}

/// A read of an object made of one or more streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadPlan {
    pub plain_total: u64,
    /// Plaintext range served (inclusive); `None` for the whole object.
    pub range: Option<(u64, u64)>,
    /// Ciphertext bytes to fetch, `cipher_start..=cipher_end`, over the concatenated streams.
    pub cipher_start: u64,
    pub cipher_end: u64,
    pub parts: Vec<PartRead>,
}

/// Why a read cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanError {
    /// A stream's ciphertext length that no plaintext length produces.
    CiphertextLength(u64),
    /// A range outside the object (callers resolve ranges against [`plaintext_total`] first).
    Range { start: u64, end: u64, total: u64 },
    /// Streams whose sizes add up to more than a `u64` holds (a corrupt or hostile layout record).
    TooLarge,
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::CiphertextLength(c) => write!(f, "ciphertext length {c} fits no plaintext"),
            Self::Range { start, end, total } => write!(f, "range {start}-{end} outside {total} bytes"),
            Self::TooLarge => write!(f, "the streams' sizes add up to more than 2^64 bytes"),
        }
    }
}

/// The plaintext size of an object made of `parts` (part number, ciphertext size).
pub fn plaintext_total(parts: &[(u32, u64)]) -> Option<u64> {
    parts
        .iter()
        .try_fold(0u64, |sum, &(_, c)| sum.checked_add(plaintext_len(c)?))
}

/// Plan a read of plaintext `range` (inclusive, already resolved against [`plaintext_total`]; `None`: the whole
/// object) across `parts` (part number, ciphertext size): which segments of which streams to open, and the one
/// ciphertext range that holds them. Empty streams of a whole read are opened too (their tag is checked).
pub fn plan_read(parts: &[(u32, u64)], range: Option<(u64, u64)>) -> Result<ReadPlan, PlanError> {
    let mut sizes = Vec::with_capacity(parts.len());
    let mut cipher_total = 0u64;
    for &(_, c) in parts {
        sizes.push(plaintext_len(c).ok_or(PlanError::CiphertextLength(c))?);
        // Checked once here: every offset below is at most this sum (and the plaintext's is smaller).
        cipher_total = cipher_total.checked_add(c).ok_or(PlanError::TooLarge)?;
    }
    let total: u64 = sizes.iter().sum();
    let (start, end) = match range {
        Some((start, end)) if start > end || end >= total => return Err(PlanError::Range { start, end, total }),
        Some(r) => r,
        None if total == 0 => (0, 0),
        None => (0, total - 1),
    };
    let whole = range.is_none();
    let (mut plain_off, mut cipher_off) = (0u64, 0u64);
    let mut reads = Vec::new();
    let (mut cipher_start, mut cipher_end) = (None, 0);
    for (&(part, c), &p) in parts.iter().zip(&sizes) {
        let overlaps = p > 0 && start < plain_off + p && end >= plain_off;
        if whole && p == 0 {
            cipher_start.get_or_insert(cipher_off);
            cipher_end = cipher_off + c - 1;
            reads.push(PartRead {
                part,
                cipher_total: c,
                first: 0,
                last: 0,
                skip: 0,
                take: 0,
                feed: c,
            });
        } else if overlaps {
            let (ls, le) = (start.max(plain_off) - plain_off, end.min(plain_off + p - 1) - plain_off);
            let sp = span(ls, le, p);
            cipher_start.get_or_insert(cipher_off + sp.cipher_start);
            cipher_end = cipher_off + sp.cipher_end;
            reads.push(PartRead {
                part,
                cipher_total: c,
                first: sp.first,
                last: sp.last,
                skip: sp.skip,
                take: sp.take,
                feed: sp.cipher_end - sp.cipher_start + 1,
            });
        }
        plain_off += p;
        cipher_off += c;
    }
    Ok(ReadPlan {
        plain_total: total,
        range: (!whole).then_some((start, end)),
        cipher_start: cipher_start.unwrap_or(0),
        cipher_end,
        parts: reads,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_around_segment_boundaries_invert() {
        for p in (0..5).chain([
            S - 1,
            S,
            S + 1,
            2 * S - 1,
            2 * S,
            2 * S + 1,
            5 * 1024 * 1024 + 1,
            1 << 30,
        ]) {
            let c = ciphertext_len(p);
            assert_eq!(plaintext_len(c), Some(p), "p = {p}");
        }
        assert_eq!(ciphertext_len(0), 16);
        assert_eq!(ciphertext_len(S), S + 16);
        assert_eq!(ciphertext_len(S + 1), S + 1 + 32);
    }

    #[test]
    fn impossible_ciphertext_sizes_are_rejected() {
        for c in [0, 1, 15, S + 16 + 1, S + 16 + 16] {
            assert_eq!(plaintext_len(c), None, "c = {c}");
        }
    }

    #[test]
    fn every_plaintext_size_inverts_exhaustively_near_boundaries() {
        for base in [0, S, 7 * S] {
            for p in base.saturating_sub(40)..base + 40 {
                assert_eq!(plaintext_len(ciphertext_len(p)), Some(p));
            }
        }
    }

    #[test]
    fn spans_cover_exactly_the_needed_segments() {
        let total = 3 * S + 10;
        let s = span(0, total - 1, total);
        assert_eq!(
            (s.first, s.last, s.cipher_start, s.cipher_end),
            (0, 3, 0, ciphertext_len(total) - 1)
        );
        let s = span(S - 1, S, total);
        assert_eq!((s.first, s.last, s.skip, s.take), (0, 1, S - 1, 2));
        assert_eq!(s.cipher_end, 2 * (S + T) - 1);
        let s = span(total - 1, total - 1, total);
        assert_eq!((s.first, s.last, s.skip, s.take), (3, 3, 9, 1));
        assert_eq!(s.cipher_end, ciphertext_len(total) - 1);
    }

    #[test]
    fn span_of_the_last_byte_of_the_largest_stored_size_does_not_overflow() {
        // fuzz/range's finding: a backend reporting a stored size near u64::MAX, and a range in its last segment.
        let total = plaintext_len(u64::MAX - 1).expect("a valid stored size");
        assert_eq!(ciphertext_len(total), u64::MAX - 1);
        let s = span(total - 1, total - 1, total);
        assert_eq!(s.cipher_end, u64::MAX - 2);
        assert_eq!(
            (s.last, s.skip + s.first * S, s.take),
            (total.div_ceil(S) - 1, total - 1, 1)
        );
        let s = span(0, total - 1, total);
        assert_eq!((s.cipher_start, s.cipher_end), (0, u64::MAX - 2));
    }

    /// Table tests of the read planner: (parts as plaintext sizes, range) → (ciphertext range, per-part reads as
    /// (part, first segment, last segment, skip, take)).
    #[test]
    fn read_plans_cover_exactly_the_segments_a_range_needs() {
        const SEG: u64 = S;
        type Read = (u32, u64, u64, u64, u64);
        type Case<'a> = (&'a [u64], Option<(u64, u64)>, (u64, u64), &'a [Read]);
        let cases: &[Case<'_>] = &[
            // One PUT, whole: every segment of the one stream.
            (&[10], None, (0, 10 + T - 1), &[(0, 0, 0, 0, 10)]),
            // One PUT of two segments, a range inside the second.
            (
                &[SEG + 5],
                Some((SEG + 1, SEG + 3)),
                (S + T, S + T + 5 + T - 1),
                &[(0, 1, 1, 1, 3)],
            ),
            // Two whole-segment parts, a range across the boundary: the last segment of 1, the first of 2.
            (
                &[SEG, SEG],
                Some((SEG - 2, SEG + 1)),
                (0, 2 * (S + T) - 1),
                &[(1, 0, 0, SEG - 2, 2), (2, 0, 0, 0, 2)],
            ),
            // Unaligned parts (5 bytes, then 7): a range in the second only starts after the first's stream.
            (&[5, 7], Some((6, 8)), (5 + T, 5 + T + 7 + T - 1), &[(2, 0, 0, 1, 3)]),
        ];
        for (sizes, range, cipher, reads) in cases {
            let parts: Vec<(u32, u64)> = if sizes.len() == 1 {
                vec![(0, ciphertext_len(sizes[0]))]
            } else {
                (1..).zip(sizes.iter().map(|&p| ciphertext_len(p))).collect()
            };
            let plan = plan_read(&parts, *range).unwrap();
            assert_eq!((plan.cipher_start, plan.cipher_end), *cipher, "{sizes:?} {range:?}");
            let got: Vec<Read> = plan
                .parts
                .iter()
                .map(|r| (r.part, r.first, r.last, r.skip, r.take))
                .collect();
            assert_eq!(&got, reads, "{sizes:?} {range:?}");
            assert_eq!(plan.plain_total, sizes.iter().sum::<u64>());
            assert_eq!(
                plan.parts.iter().map(|r| r.take).sum::<u64>(),
                range.map_or(plan.plain_total, |(a, b)| b - a + 1)
            );
        }
    }

    #[test]
    fn read_plans_refuse_what_no_object_has() {
        assert_eq!(plan_read(&[(0, 5)], None), Err(PlanError::CiphertextLength(5)));
        let c = ciphertext_len(10);
        assert_eq!(
            plan_read(&[(0, c)], Some((3, 10))),
            Err(PlanError::Range {
                start: 3,
                end: 10,
                total: 10
            })
        );
        assert_eq!(plaintext_total(&[(1, c), (2, c)]), Some(20));
        assert_eq!(plaintext_total(&[(1, c), (2, 5)]), None);
        assert_eq!(
            ciphertext_range(S + 1, Some(S + 2)),
            format!("bytes={}-{}", S + T, 2 * (S + T) - 1)
        );
        assert_eq!(ciphertext_range(0, None), "bytes=0-");
    }

    #[test]
    fn ciphertext_ranges_of_the_largest_client_ranges_do_not_wrap() {
        // `Range: bytes=18446744073709551615-` (or an end near u64::MAX) on an encrypted object: the segment
        // offsets exceed u64; they saturate instead of wrapping into a range inside the object.
        assert_eq!(ciphertext_range(u64::MAX, None), format!("bytes={}-", u64::MAX));
        assert_eq!(ciphertext_range(0, Some(u64::MAX)), format!("bytes=0-{}", u64::MAX));
        // Still a well-formed range (first <= last), which no object satisfies: the backend's 416.
        let max = u64::MAX;
        assert_eq!(ciphertext_range(max - 1, Some(max)), format!("bytes={max}-{max}"));
        // The last segment whose end fits a u64 still maps exactly.
        let e = (max / (S + T) - 1) * S;
        assert_eq!(
            ciphertext_range(e, Some(e)),
            format!("bytes={}-{}", e / S * (S + T), (e / S + 1) * (S + T) - 1)
        );
    }

    #[test]
    fn read_plans_refuse_streams_larger_than_a_u64_in_all() {
        // Two streams each near u64::MAX (a layout record could name them): their ciphertext does not fit a u64.
        let c = u64::MAX - 1;
        assert!(plaintext_len(c).is_some());
        assert_eq!(plan_read(&[(1, c), (2, c)], None), Err(PlanError::TooLarge));
        assert_eq!(plan_read(&[(1, c), (2, c)], Some((0, 0))), Err(PlanError::TooLarge));
        assert_eq!(plaintext_total(&[(1, c), (2, c)]), None);
        // Up to u64::MAX in all still plans.
        let half = ciphertext_len(u64::MAX / 2 / (S + T) * S);
        assert!(half <= u64::MAX / 2);
        let plan = plan_read(&[(1, half), (2, half)], Some((0, 0))).unwrap();
        assert_eq!((plan.cipher_start, plan.cipher_end), (0, S + T - 1));
    }
}
