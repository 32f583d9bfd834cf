//! Streaming state machines over byte slices: plaintext → sealed segments ([`StreamSealer`]) and sealed segments →
//! authenticated plaintext ([`StreamOpener`]). Each holds at most one segment; neither does I/O.
//!
//! The opener never returns a byte of a segment before that segment's tag has been verified.

use bytes::{Bytes, BytesMut};

use super::keys::DataKey;
use super::segment::{NoncePrefix, PartCipher};
use super::size::segments;
use super::{CryptoError, SEGMENT_SIZE, TAG_SIZE};

const S: usize = SEGMENT_SIZE as usize;
const T: usize = TAG_SIZE as usize;

/// Encrypts one stream (an object or a part) of a known plaintext length, or a run of its segments.
pub struct StreamSealer {
    cipher: PartCipher,
    buf: Vec<u8>,
    index: u32,
    /// The run's first segment index.
    first: u32,
    last_index: u64,
    /// The run ends the stream (its last segment is sealed as final).
    ends: bool,
    done: bool,
    /// Declared plaintext length, and how much has been pushed: more or less is an error, never a short seal.
    declared: u64,
    pushed: u64,
}

impl StreamSealer {
    pub fn new(dk: &DataKey, prefix: NoncePrefix, part: u32, plaintext_len: u64) -> Self {
        Self::run(dk, prefix, part, 0, plaintext_len, true).expect("a whole stream is a valid run")
    }

    /// Segments `first..` of a stream: `len` plaintext bytes that end the stream (`ends`: its last segment is
    /// the final one), or that are whole segments followed by more (none sealed as final; the rest is sealed by
    /// another run from the next index). One stream cut into runs is stored exactly as if sealed in one go.
    pub fn run(
        dk: &DataKey,
        prefix: NoncePrefix,
        part: u32,
        first: u32,
        len: u64,
        ends: bool,
    ) -> Result<Self, CryptoError> {
        let count = if ends {
            segments(len)
        } else if len > 0 && len.is_multiple_of(SEGMENT_SIZE) {
            // One past the run: no segment of it is the stream's last.
            len / SEGMENT_SIZE + 1
        } else {
            return Err(CryptoError::Malformed(
                "a run that does not end the stream must be whole segments",
            ));
        };
        let last_index = u64::from(first) + count - 1;
        if last_index > u64::from(u32::MAX) {
            return Err(CryptoError::Malformed("segment index beyond the format's range"));
        }
        let mut sealer = Self {
            cipher: PartCipher::new(dk, prefix, part),
            buf: Vec::new(),
            index: first,
            first,
            last_index,
            ends,
            done: false,
            declared: len,
            pushed: 0,
        };
        sealer.buf = Vec::with_capacity(sealer.segment_capacity());
        Ok(sealer)
    }

    /// What the segment at `index` takes, sealed: a small object's one segment needs no 64 KiB buffer.
    fn segment_capacity(&self) -> usize {
        let before = u64::from(self.index - self.first) * SEGMENT_SIZE;
        self.declared.saturating_sub(before).min(SEGMENT_SIZE) as usize + T
    }

    fn seal_buffered(&mut self, out: &mut Vec<Bytes>) {
        let last = u64::from(self.index) == self.last_index;
        let mut seg = std::mem::take(&mut self.buf);
        self.cipher.seal(self.index, last, &mut seg);
        out.push(Bytes::from(seg));
        self.done = last;
        self.index += 1;
        if !last {
            self.buf = Vec::with_capacity(self.segment_capacity());
        }
    }

    /// Feed plaintext; sealed segments are appended to `out` as they complete. More plaintext than declared is
    /// an error (the caller's length check reports it first).
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<Bytes>) -> Result<(), CryptoError> {
        self.pushed += data.len() as u64;
        if self.pushed > self.declared {
            return Err(CryptoError::Malformed("more plaintext than declared"));
        }
        while !data.is_empty() {
            if self.done {
                return Err(CryptoError::Malformed("more plaintext than declared"));
            }
            let n = (S - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.buf.len() == S && u64::from(self.index) < self.last_index {
                self.seal_buffered(out);
            }
        }
        // The last segment is sealed as soon as it is complete; a full last segment is sealed by `finish`.
        Ok(())
    }

    /// End of plaintext: seal the final segment (possibly empty), or check that a run which does not end the
    /// stream was pushed whole.
    pub fn finish(&mut self, out: &mut Vec<Bytes>) -> Result<(), CryptoError> {
        if self.done {
            return Ok(());
        }
        if !self.ends {
            if self.pushed != self.declared || !self.buf.is_empty() {
                return Err(CryptoError::Malformed("less plaintext than declared"));
            }
            self.done = true;
            return Ok(());
        }
        if u64::from(self.index) != self.last_index || self.pushed != self.declared {
            return Err(CryptoError::Malformed("less plaintext than declared"));
        }
        self.seal_buffered(out);
        Ok(())
    }
}

/// Decrypts segments `first..=last` of one stream, emitting `take` bytes after skipping `skip`. Every one of
/// those segments is authenticated, even when no byte of it is emitted (an empty object's only segment).
pub struct StreamOpener {
    cipher: PartCipher,
    buf: BytesMut,
    index: u64,
    /// Last segment the caller needs.
    last: u64,
    /// Index of the stream's final segment and that segment's ciphertext length.
    last_index: u64,
    last_len: usize,
    skip: u64,
    take: u64,
}

impl StreamOpener {
    /// `cipher_total` is the ciphertext length of the whole stream (object or part); the input starts at segment
    /// `first` and must cover segments up to `last`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        dk: &DataKey,
        prefix: NoncePrefix,
        part: u32,
        cipher_total: u64,
        first: u64,
        last: u64,
        skip: u64,
        take: u64,
    ) -> Result<Self, CryptoError> {
        let p = super::size::plaintext_len(cipher_total).ok_or(CryptoError::Malformed("ciphertext length"))?;
        let last_index = segments(p) - 1;
        let last_len = (cipher_total - last_index * (SEGMENT_SIZE + TAG_SIZE)) as usize;
        if first > last || last > last_index {
            return Err(CryptoError::Malformed("segment range outside the stream"));
        }
        let mut opener = Self {
            cipher: PartCipher::new(dk, prefix, part),
            buf: BytesMut::new(),
            index: first,
            last,
            last_index,
            last_len,
            skip,
            take,
        };
        opener.buf = BytesMut::with_capacity(opener.segment_len());
        Ok(opener)
    }

    fn segment_len(&self) -> usize {
        if self.index == self.last_index {
            self.last_len
        } else {
            S + T
        }
    }

    /// Feed ciphertext; verified plaintext is appended to `out`.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<Bytes>) -> Result<(), CryptoError> {
        while !data.is_empty() {
            if self.index > self.last {
                // Bytes beyond the segments asked for (the backend may send a little more): ignored.
                return Ok(());
            }
            let want = self.segment_len();
            let n = (want - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.buf.len() == want {
                let last = self.index == self.last_index;
                let idx = u32::try_from(self.index).map_err(|_| CryptoError::Malformed("segment index"))?;
                let mut seg = std::mem::take(&mut self.buf);
                let plain_len = self.cipher.open(idx, last, &mut seg)?;
                seg.truncate(plain_len);
                let mut plain = seg.freeze();
                let skip = (self.skip as usize).min(plain.len());
                plain = plain.slice(skip..);
                self.skip -= skip as u64;
                let take = (self.take as usize).min(plain.len());
                plain.truncate(take);
                self.take -= take as u64;
                if !plain.is_empty() {
                    out.push(plain);
                }
                self.index += 1;
                if self.index <= self.last {
                    self.buf = BytesMut::with_capacity(self.segment_len());
                }
            }
        }
        Ok(())
    }

    /// End of ciphertext: every segment asked for must have been opened (else: truncated).
    pub fn finish(&self) -> Result<(), CryptoError> {
        if self.index > self.last && self.take == 0 {
            Ok(())
        } else {
            Err(CryptoError::Authentication)
        }
    }
}

/// Several part streams read back to back (a range across multipart part boundaries): each opener gets exactly
/// its number of ciphertext bytes, in order, and must finish cleanly before the next begins.
pub struct ChainOpener {
    parts: std::collections::VecDeque<(StreamOpener, u64)>,
}

impl ChainOpener {
    /// `parts`: each opener with the number of ciphertext bytes it consumes.
    pub fn new(parts: Vec<(StreamOpener, u64)>) -> Self {
        Self { parts: parts.into() }
    }

    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<Bytes>) -> Result<(), CryptoError> {
        while !data.is_empty() {
            let Some((opener, remaining)) = self.parts.front_mut() else {
                // Bytes past the last needed segment (a backend may send a little more): ignored.
                return Ok(());
            };
            let n = (*remaining).min(data.len() as u64) as usize;
            opener.push(&data[..n], out)?;
            *remaining -= n as u64;
            data = &data[n..];
            if *remaining == 0 {
                opener.finish()?;
                self.parts.pop_front();
            }
        }
        Ok(())
    }

    pub fn finish(&self) -> Result<(), CryptoError> {
        if self.parts.is_empty() {
            Ok(())
        } else {
            Err(CryptoError::Authentication)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::size::{ciphertext_len, span};
    use super::*;

    fn dk() -> DataKey {
        DataKey::from_bytes([3; 32])
    }
    const P: NoncePrefix = NoncePrefix([9; 7]);

    fn seal_all(plain: &[u8], chunk: usize) -> Vec<u8> {
        let mut s = StreamSealer::new(&dk(), P, 0, plain.len() as u64);
        let mut out = Vec::new();
        for c in plain.chunks(chunk.max(1)) {
            s.push(c, &mut out).unwrap();
        }
        s.finish(&mut out).unwrap();
        out.concat()
    }

    fn open_range(ct: &[u8], total: u64, start: u64, end: u64, chunk: usize) -> Result<Vec<u8>, CryptoError> {
        let sp = span(start, end, total);
        let mut o = StreamOpener::new(&dk(), P, 0, ct.len() as u64, sp.first, sp.last, sp.skip, sp.take)?;
        let mut out = Vec::new();
        for c in ct[sp.cipher_start as usize..=sp.cipher_end as usize].chunks(chunk) {
            o.push(c, &mut out)?;
        }
        o.finish()?;
        Ok(out.concat())
    }

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn round_trip_every_size_around_boundaries_and_every_chunking() {
        for n in [0, 1, S - 1, S, S + 1, 2 * S, 2 * S + 7, 3 * S - 1] {
            let plain = data(n);
            for chunk in [1000, S, S + 13, 7 * S] {
                let ct = seal_all(&plain, chunk);
                assert_eq!(ct.len() as u64, ciphertext_len(n as u64));
                if n > 0 {
                    assert_eq!(
                        open_range(&ct, n as u64, 0, n as u64 - 1, 4096).unwrap(),
                        plain,
                        "n={n}"
                    );
                }
            }
        }
    }

    #[test]
    fn sealer_refuses_more_or_less_than_declared() {
        let mut out = Vec::new();
        let mut s = StreamSealer::new(&dk(), P, 0, S as u64);
        s.push(&data(S), &mut out).unwrap();
        assert!(s.push(b"x", &mut out).is_err(), "a byte past a full last segment");
        let mut s = StreamSealer::new(&dk(), P, 0, 10);
        s.push(&data(9), &mut out).unwrap();
        assert!(s.finish(&mut out).is_err(), "one byte short within the last segment");
    }

    #[test]
    fn a_stream_sealed_in_two_runs_is_the_stream_sealed_at_once() {
        for (head_segments, tail) in [(1, 1), (2, S), (3, S + 1), (1, 3 * S - 5)] {
            let plain = data(head_segments * S + tail);
            let mut out = Vec::new();
            let mut head = StreamSealer::run(&dk(), P, 0, 0, (head_segments * S) as u64, false).unwrap();
            for c in plain[..head_segments * S].chunks(1000) {
                head.push(c, &mut out).unwrap();
            }
            head.finish(&mut out).unwrap();
            let next = u32::try_from(head_segments).unwrap();
            let mut rest = StreamSealer::run(&dk(), P, 0, next, tail as u64, true).unwrap();
            rest.push(&plain[head_segments * S..], &mut out).unwrap();
            rest.finish(&mut out).unwrap();
            assert_eq!(out.concat(), seal_all(&plain, S), "{head_segments} + {tail}");
        }
        // A run that does not end the stream is whole segments, pushed whole.
        assert!(StreamSealer::run(&dk(), P, 0, 0, S as u64 + 1, false).is_err());
        assert!(StreamSealer::run(&dk(), P, 0, 0, 0, false).is_err());
        assert!(StreamSealer::run(&dk(), P, 0, u32::MAX, 2, true).is_ok());
        assert!(StreamSealer::run(&dk(), P, 0, u32::MAX, S as u64 + 1, true).is_err());
        let (mut out, mut short) = (
            Vec::new(),
            StreamSealer::run(&dk(), P, 0, 0, 2 * S as u64, false).unwrap(),
        );
        short.push(&data(S + 1), &mut out).unwrap();
        assert!(short.finish(&mut out).is_err(), "a run one segment short");
    }

    #[test]
    fn empty_object_segment_is_authenticated() {
        let ct = seal_all(&[], 1);
        assert_eq!(ct.len(), 16);
        let open = |ct: &[u8]| {
            let mut o = StreamOpener::new(&dk(), P, 0, 16, 0, 0, 0, 0)?;
            let mut out = Vec::new();
            o.push(ct, &mut out)?;
            o.finish().map(|()| out.len())
        };
        assert_eq!(open(&ct), Ok(0));
        let mut t = ct.clone();
        t[3] ^= 1;
        assert_eq!(open(&t), Err(CryptoError::Authentication));
        assert_eq!(open(&ct[..10]), Err(CryptoError::Authentication));
    }

    #[test]
    fn ranges_return_exactly_the_asked_bytes() {
        let n = 3 * S + 100;
        let plain = data(n);
        let ct = seal_all(&plain, S);
        for (a, b) in [
            (0, 0),
            (0, S - 1),
            (S - 1, S),
            (S, 2 * S),
            (n - 1, n - 1),
            (100, n - 1),
            (2 * S + 5, 3 * S + 50),
        ] {
            let got = open_range(&ct, n as u64, a as u64, b as u64, 777).unwrap();
            assert_eq!(got, &plain[a..=b], "range {a}-{b}");
        }
    }

    #[test]
    fn tampering_truncation_reordering_and_trailing_bytes_fail() {
        let n = 2 * S + 10;
        let plain = data(n);
        let ct = seal_all(&plain, S);
        let full = |ct: &[u8]| {
            let last = super::super::size::plaintext_len(ct.len() as u64).map_or(0, |p| segments(p) - 1);
            let mut o = StreamOpener::new(&dk(), P, 0, ct.len() as u64, 0, last, 0, n as u64)?;
            let mut out = Vec::new();
            o.push(ct, &mut out)?;
            o.finish().map(|()| out.concat())
        };
        let mut t = ct.clone();
        t[S + 5] ^= 0x80;
        assert!(full(&t).is_err(), "bit flip");
        // Truncated at a segment boundary: the new "last" segment was not sealed as final.
        assert!(full(&ct[..2 * (S + T)]).is_err(), "truncation");
        // Swapped segments.
        let mut r = ct[S + T..2 * (S + T)].to_vec();
        r.extend_from_slice(&ct[..S + T]);
        r.extend_from_slice(&ct[2 * (S + T)..]);
        assert!(full(&r).is_err(), "reorder");
        // Trailing bytes: the length no longer maps, or the final flag no longer matches.
        let mut a = ct.clone();
        a.extend_from_slice(&[0; 20]);
        assert!(full(&a).is_err(), "appended");
        assert_eq!(full(&ct).unwrap(), plain);
    }
}
