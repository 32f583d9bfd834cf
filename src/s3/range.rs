//! The `Range` request header, as S3 reads it: one `bytes=` range (`a-b`, `a-`, `-n`). S3 ignores what it
//! cannot use (multiple ranges, other units, syntax errors) and serves the whole object; an unsatisfiable range
//! is 416 `InvalidRange`.

/// A parsed single range, before the object size is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `a-b` (b inclusive) or `a-` (`end = None`).
    From { start: u64, end: Option<u64> },
    /// `-n`: the last n bytes.
    Suffix(u64),
}

/// `None` means "no usable range: serve the whole object".
pub fn parse(value: &str) -> Option<ByteRange> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.trim().split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        return b.parse().ok().map(ByteRange::Suffix);
    }
    let start = a.parse().ok()?;
    if b.is_empty() {
        return Some(ByteRange::From { start, end: None });
    }
    let end: u64 = b.parse().ok()?;
    (end >= start).then_some(ByteRange::From { start, end: Some(end) })
}

/// Resolve against the object size: `Ok(Some((start, end_inclusive)))`, or `Err(())` when unsatisfiable (416).
/// An empty object has no satisfiable range.
#[allow(clippy::result_unit_err)]
pub fn resolve(r: ByteRange, size: u64) -> Result<(u64, u64), ()> {
    match r {
        ByteRange::From { start, end } => {
            if start >= size {
                return Err(());
            }
            Ok((start, end.map_or(size - 1, |e| e.min(size - 1))))
        }
        ByteRange::Suffix(0) => Err(()),
        ByteRange::Suffix(n) => {
            if size == 0 {
                return Err(());
            }
            Ok((size.saturating_sub(n), size - 1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_s3() {
        assert_eq!(parse("bytes=0-9"), Some(ByteRange::From { start: 0, end: Some(9) }));
        assert_eq!(parse("bytes=5-"), Some(ByteRange::From { start: 5, end: None }));
        assert_eq!(parse("bytes=-10"), Some(ByteRange::Suffix(10)));
        assert_eq!(parse("bytes=0-1,4-5"), None);
        assert_eq!(parse("items=0-1"), None);
        assert_eq!(parse("bytes=9-0"), None);
        assert_eq!(parse("bytes=x-1"), None);
    }

    #[test]
    fn resolves_edges() {
        assert_eq!(
            resolve(
                ByteRange::From {
                    start: 0,
                    end: Some(999)
                },
                10
            ),
            Ok((0, 9))
        );
        assert_eq!(resolve(ByteRange::From { start: 10, end: None }, 10), Err(()));
        assert_eq!(resolve(ByteRange::Suffix(100), 10), Ok((0, 9)));
        assert_eq!(resolve(ByteRange::Suffix(3), 10), Ok((7, 9)));
        assert_eq!(resolve(ByteRange::Suffix(0), 10), Err(()));
        assert_eq!(resolve(ByteRange::From { start: 0, end: None }, 0), Err(()));
    }
}
