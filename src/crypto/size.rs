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
}
