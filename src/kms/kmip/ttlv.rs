//! KMIP's binary encoding, TTLV (tag, type, length, value; KMIP 1.x §9.1), sans-IO: items borrow from the
//! buffer they were decoded from, and encode into a buffer sized exactly beforehand ([`Item::encoded_len`]), so a
//! request or response holding a data key lives in one zeroizing buffer and is never copied by reallocation.
//!
//! Every item is `tag(3) ‖ type(1) ‖ be32 length ‖ value ‖ zero padding to a multiple of 8`. The decoder is
//! strict about lengths (fixed-size types must have their size, a structure must be filled exactly by its
//! items) and bounds nesting; it never panics on any input.

use std::fmt;

/// A TTLV item: a tag and its value.
#[derive(Clone, PartialEq, Eq)]
pub struct Item<'a> {
    pub tag: u32,
    pub value: Value<'a>,
}

/// The values of the ten KMIP 1.x item types.
#[derive(Clone, PartialEq, Eq)]
pub enum Value<'a> {
    Structure(Vec<Item<'a>>),
    Integer(i32),
    LongInteger(i64),
    /// Big-endian two's complement, a multiple of 8 bytes (the wire form, kept as is).
    BigInteger(&'a [u8]),
    Enumeration(u32),
    Boolean(bool),
    TextString(&'a str),
    ByteString(&'a [u8]),
    /// Seconds since the Unix epoch.
    DateTime(i64),
    /// Seconds.
    Interval(u32),
}

/// Byte strings are not printed: they may be key material.
impl fmt::Debug for Item<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06X}=", self.tag)?;
        match &self.value {
            Value::Structure(items) => f.debug_list().entries(items).finish(),
            Value::Integer(v) => write!(f, "Integer({v})"),
            Value::LongInteger(v) => write!(f, "LongInteger({v})"),
            Value::BigInteger(b) => write!(f, "BigInteger(<{} bytes>)", b.len()),
            Value::Enumeration(v) => write!(f, "Enumeration({v:#x})"),
            Value::Boolean(v) => write!(f, "Boolean({v})"),
            Value::TextString(s) => write!(f, "TextString({s:?})"),
            Value::ByteString(b) => write!(f, "ByteString(<{} bytes>)", b.len()),
            Value::DateTime(v) => write!(f, "DateTime({v})"),
            Value::Interval(v) => write!(f, "Interval({v})"),
        }
    }
}

/// Why bytes are not a TTLV item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TtlvError {
    #[error("TTLV truncated at byte {0}")]
    Truncated(usize),
    #[error("TTLV item at byte {at}: unknown type {kind:#04x}")]
    UnknownType { at: usize, kind: u8 },
    #[error("TTLV item at byte {at}: length {len} is wrong for its type")]
    BadLength { at: usize, len: u32 },
    #[error("TTLV item at byte {0}: invalid value")]
    BadValue(usize),
    #[error("TTLV nested deeper than {MAX_DEPTH} structures")]
    TooDeep,
    #[error("{0} bytes after the TTLV item")]
    Trailing(usize),
}

/// Deepest nesting the decoder accepts (KMIP messages use about six levels).
pub const MAX_DEPTH: usize = 16;
/// Size of an item's tag, type and length.
pub const HEADER_LEN: usize = 8;

const STRUCTURE: u8 = 0x01;
const INTEGER: u8 = 0x02;
const LONG_INTEGER: u8 = 0x03;
const BIG_INTEGER: u8 = 0x04;
const ENUMERATION: u8 = 0x05;
const BOOLEAN: u8 = 0x06;
const TEXT_STRING: u8 = 0x07;
const BYTE_STRING: u8 = 0x08;
const DATE_TIME: u8 = 0x09;
const INTERVAL: u8 = 0x0A;

fn padded(len: usize) -> usize {
    len.div_ceil(8) * 8
}

impl<'a> Item<'a> {
    pub fn new(tag: u32, value: Value<'a>) -> Self {
        Self { tag, value }
    }
    pub fn structure(tag: u32, items: Vec<Item<'a>>) -> Self {
        Self::new(tag, Value::Structure(items))
    }
    pub fn int(tag: u32, v: i32) -> Self {
        Self::new(tag, Value::Integer(v))
    }
    pub fn enumeration(tag: u32, v: u32) -> Self {
        Self::new(tag, Value::Enumeration(v))
    }
    pub fn text(tag: u32, s: &'a str) -> Self {
        Self::new(tag, Value::TextString(s))
    }
    pub fn bytes(tag: u32, b: &'a [u8]) -> Self {
        Self::new(tag, Value::ByteString(b))
    }

    fn value_len(&self) -> usize {
        match &self.value {
            Value::Structure(items) => items.iter().map(Item::encoded_len).sum(),
            Value::Integer(_) | Value::Enumeration(_) | Value::Interval(_) => 4,
            Value::LongInteger(_) | Value::Boolean(_) | Value::DateTime(_) => 8,
            Value::BigInteger(b) | Value::ByteString(b) => b.len(),
            Value::TextString(s) => s.len(),
        }
    }

    /// The size of this item encoded, padding included.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + padded(self.value_len())
    }

    /// Append the encoding to `out`. Reserve [`Self::encoded_len`] first where `out` must not reallocate.
    ///
    /// # Panics
    /// If a length does not fit in 32 bits, or a big integer is not a multiple of 8 bytes (caller bugs).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let (kind, len) = (self.kind(), self.value_len());
        out.extend_from_slice(&self.tag.to_be_bytes()[1..]);
        out.push(kind);
        out.extend_from_slice(&u32::try_from(len).expect("TTLV item under 4 GiB").to_be_bytes());
        match &self.value {
            Value::Structure(items) => items.iter().for_each(|i| i.encode(out)),
            Value::Integer(v) => out.extend_from_slice(&v.to_be_bytes()),
            Value::Enumeration(v) | Value::Interval(v) => out.extend_from_slice(&v.to_be_bytes()),
            Value::LongInteger(v) | Value::DateTime(v) => out.extend_from_slice(&v.to_be_bytes()),
            Value::Boolean(v) => out.extend_from_slice(&u64::from(*v).to_be_bytes()),
            Value::BigInteger(b) => {
                assert!(
                    b.len().is_multiple_of(8),
                    "big integers are padded to 8 bytes by their sign"
                );
                out.extend_from_slice(b);
            }
            Value::ByteString(b) => out.extend_from_slice(b),
            Value::TextString(s) => out.extend_from_slice(s.as_bytes()),
        }
        out.resize(out.len() + padded(len) - len, 0);
    }

    fn kind(&self) -> u8 {
        match &self.value {
            Value::Structure(_) => STRUCTURE,
            Value::Integer(_) => INTEGER,
            Value::LongInteger(_) => LONG_INTEGER,
            Value::BigInteger(_) => BIG_INTEGER,
            Value::Enumeration(_) => ENUMERATION,
            Value::Boolean(_) => BOOLEAN,
            Value::TextString(_) => TEXT_STRING,
            Value::ByteString(_) => BYTE_STRING,
            Value::DateTime(_) => DATE_TIME,
            Value::Interval(_) => INTERVAL,
        }
    }

    /// The first child with `tag` (of a structure; `None` for other types).
    pub fn child(&self, tag: u32) -> Option<&Item<'a>> {
        self.children(tag).next()
    }

    /// The children with `tag`, in order.
    pub fn children(&self, tag: u32) -> impl Iterator<Item = &Item<'a>> {
        let items = match &self.value {
            Value::Structure(items) => items.as_slice(),
            _ => &[],
        };
        items.iter().filter(move |i| i.tag == tag)
    }

    pub fn as_enum(&self) -> Option<u32> {
        match self.value {
            Value::Enumeration(v) => Some(v),
            _ => None,
        }
    }
    pub fn as_int(&self) -> Option<i32> {
        match self.value {
            Value::Integer(v) => Some(v),
            _ => None,
        }
    }
    pub fn as_text(&self) -> Option<&'a str> {
        match self.value {
            Value::TextString(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self.value {
            Value::ByteString(b) => Some(b),
            _ => None,
        }
    }
}

/// The total size of the item whose first [`HEADER_LEN`] bytes are `header` (what to read off the wire).
/// Only a structure can be a message; other types are refused so that a reader never trusts a bogus length.
pub fn message_len(header: &[u8; HEADER_LEN]) -> Result<usize, TtlvError> {
    if header[3] != STRUCTURE {
        return Err(TtlvError::UnknownType { at: 0, kind: header[3] });
    }
    let len = u32::from_be_bytes(header[4..8].try_into().expect("4 bytes"));
    if !len.is_multiple_of(8) {
        return Err(TtlvError::BadLength { at: 0, len });
    }
    Ok(HEADER_LEN + len as usize)
}

/// Decode exactly one item filling all of `buf`.
pub fn decode(buf: &[u8]) -> Result<Item<'_>, TtlvError> {
    let (item, end) = decode_at(buf, 0, 0)?;
    if end != buf.len() {
        return Err(TtlvError::Trailing(buf.len() - end));
    }
    Ok(item)
}

/// Decode the item at `at`; its value and the offset after its padding.
fn decode_at(buf: &[u8], at: usize, depth: usize) -> Result<(Item<'_>, usize), TtlvError> {
    let header = buf.get(at..at + HEADER_LEN).ok_or(TtlvError::Truncated(at))?;
    let tag = u32::from_be_bytes([0, header[0], header[1], header[2]]);
    let kind = header[3];
    let len32 = u32::from_be_bytes(header[4..8].try_into().expect("4 bytes"));
    let len = len32 as usize;
    let start = at + HEADER_LEN;
    let end = start.checked_add(padded(len)).ok_or(TtlvError::Truncated(at))?;
    if end > buf.len() {
        return Err(TtlvError::Truncated(at));
    }
    let v = &buf[start..start + len];
    let bad_len = || TtlvError::BadLength { at, len: len32 };
    let fixed = |n: usize| if len == n { Ok(()) } else { Err(bad_len()) };
    let value = match kind {
        STRUCTURE => {
            if depth >= MAX_DEPTH {
                return Err(TtlvError::TooDeep);
            }
            if !len.is_multiple_of(8) {
                return Err(bad_len());
            }
            let mut items = Vec::new();
            let mut pos = start;
            while pos < start + len {
                let (item, next) = decode_at(&buf[..start + len], pos, depth + 1)?;
                items.push(item);
                pos = next;
            }
            Value::Structure(items)
        }
        INTEGER => {
            fixed(4)?;
            Value::Integer(i32::from_be_bytes(v.try_into().expect("4 bytes")))
        }
        ENUMERATION => {
            fixed(4)?;
            Value::Enumeration(u32::from_be_bytes(v.try_into().expect("4 bytes")))
        }
        INTERVAL => {
            fixed(4)?;
            Value::Interval(u32::from_be_bytes(v.try_into().expect("4 bytes")))
        }
        LONG_INTEGER => {
            fixed(8)?;
            Value::LongInteger(i64::from_be_bytes(v.try_into().expect("8 bytes")))
        }
        DATE_TIME => {
            fixed(8)?;
            Value::DateTime(i64::from_be_bytes(v.try_into().expect("8 bytes")))
        }
        BOOLEAN => {
            fixed(8)?;
            match u64::from_be_bytes(v.try_into().expect("8 bytes")) {
                0 => Value::Boolean(false),
                1 => Value::Boolean(true),
                _ => return Err(TtlvError::BadValue(at)),
            }
        }
        BIG_INTEGER => {
            if !len.is_multiple_of(8) {
                return Err(bad_len());
            }
            Value::BigInteger(v)
        }
        TEXT_STRING => Value::TextString(std::str::from_utf8(v).map_err(|_| TtlvError::BadValue(at))?),
        BYTE_STRING => Value::ByteString(v),
        kind => return Err(TtlvError::UnknownType { at, kind }),
    };
    Ok((Item { tag, value }, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spec's notation: hex bytes with `|` between fields.
    fn spec(s: &str) -> Vec<u8> {
        hex::decode(s.replace(['|', ' '], "")).unwrap()
    }

    fn encoded(item: &Item<'_>) -> Vec<u8> {
        let mut out = Vec::with_capacity(item.encoded_len());
        item.encode(&mut out);
        assert_eq!(out.len(), item.encoded_len());
        out
    }

    /// KMIP 1.4 §9.1.2, "Examples": every type, tag 420020 (Compromise Date, as the spec uses it).
    #[test]
    fn the_spec_examples_encode_and_decode() {
        const T: u32 = 0x42_0020;
        let big = spec("00 00 00 00 03 FD 35 EB 6B C2 DF 46 18 08 00 00");
        let examples = [
            (Item::int(T, 8), "42 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 00"),
            (
                Item::new(T, Value::LongInteger(123_456_789_000_000_000)),
                "42 00 20 | 03 | 00 00 00 08 | 01 B6 9B 4B A5 74 92 00",
            ),
            // 1234567890000000000000000000
            (
                Item::new(T, Value::BigInteger(&big)),
                "42 00 20 | 04 | 00 00 00 10 | 00 00 00 00 03 FD 35 EB 6B C2 DF 46 18 08 00 00",
            ),
            (
                Item::enumeration(T, 255),
                "42 00 20 | 05 | 00 00 00 04 | 00 00 00 FF 00 00 00 00",
            ),
            (
                Item::new(T, Value::Boolean(true)),
                "42 00 20 | 06 | 00 00 00 08 | 00 00 00 00 00 00 00 01",
            ),
            (
                Item::text(T, "Hello World"),
                "42 00 20 | 07 | 00 00 00 0B | 48 65 6C 6C 6F 20 57 6F 72 6C 64 00 00 00 00 00",
            ),
            (
                Item::bytes(T, &[1, 2, 3]),
                "42 00 20 | 08 | 00 00 00 03 | 01 02 03 00 00 00 00 00",
            ),
            // Friday, March 14, 2008, 11:56:40 GMT
            (
                Item::new(T, Value::DateTime(0x47DA_67F8)),
                "42 00 20 | 09 | 00 00 00 08 | 00 00 00 00 47 DA 67 F8",
            ),
            // 10 days
            (
                Item::new(T, Value::Interval(864_000)),
                "42 00 20 | 0A | 00 00 00 04 | 00 0D 2F 00 00 00 00 00",
            ),
            (
                Item::structure(T, vec![Item::enumeration(0x42_0004, 254), Item::int(0x42_0005, 255)]),
                "42 00 20 | 01 | 00 00 00 20 | 42 00 04 | 05 | 00 00 00 04 | 00 00 00 FE 00 00 00 00 | \
                 42 00 05 | 02 | 00 00 00 04 | 00 00 00 FF 00 00 00 00",
            ),
        ];
        for (item, hex) in examples {
            let bytes = spec(hex);
            assert_eq!(encoded(&item), bytes, "{item:?}");
            assert_eq!(decode(&bytes).unwrap(), item, "{hex}");
        }
    }

    #[test]
    fn structures_are_searched_by_tag() {
        let bytes = spec(
            "42 00 20 | 01 | 00 00 00 20 | 42 00 04 | 05 | 00 00 00 04 | 00 00 00 FE 00 00 00 00 | \
             42 00 05 | 02 | 00 00 00 04 | 00 00 00 FF 00 00 00 00",
        );
        let s = decode(&bytes).unwrap();
        assert_eq!(s.child(0x42_0004).and_then(Item::as_enum), Some(254));
        assert_eq!(s.child(0x42_0005).and_then(Item::as_int), Some(255));
        assert_eq!(s.child(0x42_0005).and_then(Item::as_enum), None, "wrong type");
        assert!(s.child(0x42_0006).is_none());
        let hdr: [u8; 8] = bytes[..8].try_into().unwrap();
        assert_eq!(message_len(&hdr), Ok(40));
    }

    #[test]
    fn malformed_items_are_refused() {
        let cases: [(&str, TtlvError); 9] = [
            ("42 00 20 | 02 | 00 00 00 04 | 00 00 00 08", TtlvError::Truncated(0)),
            (
                "42 00 20 | 02 | 00 00 00 05 | 00 00 00 08 00 00 00 00",
                TtlvError::BadLength { at: 0, len: 5 },
            ),
            (
                "42 00 20 | 06 | 00 00 00 08 | 00 00 00 00 00 00 00 02",
                TtlvError::BadValue(0),
            ),
            (
                "42 00 20 | 07 | 00 00 00 01 | FF 00 00 00 00 00 00 00",
                TtlvError::BadValue(0),
            ),
            (
                "42 00 20 | 0B | 00 00 00 00",
                TtlvError::UnknownType { at: 0, kind: 0x0B },
            ),
            (
                "42 00 20 | 04 | 00 00 00 04 | 00 00 00 01 00 00 00 00",
                TtlvError::BadLength { at: 0, len: 4 },
            ),
            // A structure whose length cuts its child short.
            (
                "42 00 20 | 01 | 00 00 00 08 | 42 00 04 | 05 | 00 00 00 04 | 00 00 00 FE 00 00 00 00",
                TtlvError::Truncated(8),
            ),
            (
                "42 00 20 | 05 | 00 00 00 04 | 00 00 00 FF 00 00 00 00 | 00",
                TtlvError::Trailing(1),
            ),
            // A length near 4 GiB must not overflow or allocate.
            ("42 00 20 | 08 | FF FF FF FF | 00", TtlvError::Truncated(0)),
        ];
        for (hex, want) in cases {
            assert_eq!(decode(&spec(hex)).unwrap_err(), want, "{hex}");
        }
        let mut deep = Vec::new();
        for _ in 0..=MAX_DEPTH {
            deep = spec(&format!("42 00 20 | 01 | {:08X}", deep.len()))
                .into_iter()
                .chain(deep)
                .collect();
        }
        assert_eq!(decode(&deep).unwrap_err(), TtlvError::TooDeep);
        assert!(message_len(&spec("42 00 20 | 02 | 00 00 00 04").try_into().unwrap()).is_err());
        assert!(message_len(&spec("42 00 7B | 01 | 00 00 00 09").try_into().unwrap()).is_err());
    }

    #[test]
    fn byte_strings_are_not_printed() {
        let item = Item::structure(0x42_0079, vec![Item::bytes(0x42_00C2, b"secret key bytes")]);
        let shown = format!("{item:?}");
        assert!(shown.contains("<16 bytes>") && !shown.contains("secret"), "{shown}");
    }
}
