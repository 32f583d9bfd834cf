//! Rewriting of S3 listing responses that pass through the gateway.
//!
//! The backend stores ciphertext, so the `Size` and `ETag` it reports for each object (or part) describe
//! the ciphertext. [`rewrite`] streams a ListObjects (V1), ListObjectsV2, ListObjectVersions or ListParts
//! response body through quick-xml and, for every listed object, version or part, asks the caller what the
//! client should see ([`EntryRewrite`]). It also drops the entries the gateway keeps for itself (keys under a
//! hidden prefix) and lowers `KeyCount` accordingly. [`replace_upload_id`] swaps a backend upload id for the
//! one the client knows.
//!
//! This module never invents data: sizes and ETags come from the caller's decision, an entry the caller
//! keeps is written back exactly as the backend sent it, and everything else in the document (declaration,
//! namespaces, element order, `Owner`, `StorageClass`, `IsTruncated`, continuation tokens, ...) is copied
//! through event by event. It does no I/O; input that is not well-formed XML of the expected shape is an
//! error, never a guess.

use std::ops::Range;

use quick_xml::escape::escape;
use quick_xml::events::{BytesRef, BytesStart, BytesText, Event};
use quick_xml::reader::Reader;
use quick_xml::writer::Writer;

/// What the gateway knows about one listed object, decided by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryView<'a> {
    /// The key text as found in the XML, after XML unescaping. In `encoding-type=url` listings it is still
    /// URL-encoded. Empty for ListParts parts.
    pub key: &'a str,
    /// `LastModified` as found (empty if absent).
    pub last_modified: &'a str,
    /// The ETag as in the XML, with its quotes (`&quot;` decoded), e.g. `"d41d8cd98f00b204e9800998ecf8427e"`.
    /// Empty if absent.
    pub etag: &'a str,
    /// `Size` as reported by the backend (the ciphertext size).
    pub size: u64,
}

/// The caller's decision for one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryRewrite {
    /// Write the entry back unchanged.
    Keep,
    /// Replace the text of `Size` and `ETag` (every occurrence among the entry's direct children). `etag` is
    /// already quoted, e.g. `"\"abc-1\""`; it is XML-escaped on output. An entry without an `ETag` element
    /// does not get one.
    Rewrite { size: u64, etag: String },
    /// Remove the entry (ignored for ListParts parts, which are never hidden).
    Hide,
}

#[derive(Debug, thiserror::Error)]
pub enum ListingError {
    #[error("xml: {0}")]
    Xml(String),
}

fn malformed(msg: impl Into<String>) -> ListingError {
    ListingError::Xml(msg.into())
}

fn xml_err(e: impl std::fmt::Display) -> ListingError {
    ListingError::Xml(e.to_string())
}

/// Rewrite a ListObjects (V1), ListObjectsV2, ListObjectVersions or ListParts response body.
///
/// `decide` is called for every `<Contents>` (V1/V2), `<Version>` (ListObjectVersions) and `<Part>`
/// (ListParts; key = "", last_modified = the part's LastModified, etag = part ETag, size = part Size; parts
/// are never hidden).
///
/// Every `<Contents>`/`<Version>`/`<DeleteMarker>`/`<CommonPrefixes>` whose key/prefix starts with
/// `hidden_prefix` is removed without asking `decide` (an empty `hidden_prefix` hides nothing). When the
/// listing has `<EncodingType>url</EncodingType>`, keys are percent-decoded (`+` as space, as the AWS SDKs
/// do) for this comparison only. For ListObjectsV2, every `<KeyCount>` is decreased by the number of removed
/// `Contents` + `CommonPrefixes`.
///
/// Only direct children of the root are entries.
///
/// # Errors
///
/// [`ListingError::Xml`] if the input is not UTF-8, quick-xml rejects it, it ends inside an element, its root is not `ListBucketResult`,
/// `ListVersionsResult` or `ListPartsResult`, an entry passed to `decide` lacks `Key` (objects, versions) or
/// a numeric `Size`, or a `KeyCount` that needs lowering is not a number.
pub fn rewrite(
    xml: &[u8],
    hidden_prefix: &str,
    decide: impl FnMut(&EntryView<'_>) -> EntryRewrite,
) -> Result<Vec<u8>, ListingError> {
    rewrite_counting(xml, hidden_prefix, &[], decide).map(|(out, _)| out)
}

/// [`rewrite`], also hiding the `<CommonPrefixes>` whose (decoded) prefix is one of `hidden_common_prefixes`, and
/// how many entries it hid (of every kind: each took one of the page's `max-keys`).
pub fn rewrite_counting(
    xml: &[u8],
    hidden_prefix: &str,
    hidden_common_prefixes: &[String],
    mut decide: impl FnMut(&EntryView<'_>) -> EntryRewrite,
) -> Result<(Vec<u8>, u64), ListingError> {
    let mut doc = Doc::new(xml)?;
    let hidden = Hidden {
        prefix: hidden_prefix,
        url_encoded: url_encoded_keys(xml)?,
        common_prefixes: hidden_common_prefixes,
    };
    let mut reader = Reader::from_reader(xml);
    let mut listing = None;
    // Whitespace between two children of the root, held back so that it goes away with a removed entry.
    let mut pending_ws: Option<Event<'_>> = None;
    // Where each `KeyCount` text landed in the output, and that text.
    let mut key_counts: Vec<(Range<usize>, String)> = Vec::new();
    let mut removed: u64 = 0;
    let mut hidden_entries: u64 = 0;

    loop {
        let event = reader.read_event().map_err(xml_err)?;
        if doc.depth == 1 {
            let listing = listing.ok_or_else(|| malformed("content before the root element"))?;
            match &event {
                Event::Text(t) if t.iter().all(u8::is_ascii_whitespace) => {
                    doc.flush(&mut pending_ws)?;
                    pending_ws = Some(event);
                    continue;
                }
                Event::Start(s) | Event::Empty(s) => {
                    let name = s.local_name();
                    if let Some(kind) = EntryKind::of(listing, name.as_ref()) {
                        let events = read_element(&mut reader, event)?;
                        match process_entry(kind, &events, &hidden, &mut decide)? {
                            Outcome::Remove => {
                                pending_ws = None;
                                hidden_entries += 1;
                                if kind.counts_in_key_count() {
                                    removed += 1;
                                }
                            }
                            Outcome::Write(rewrite) => {
                                doc.flush(&mut pending_ws)?;
                                doc.write_entry(&events, rewrite.as_ref())?;
                            }
                        }
                        continue;
                    }
                    if listing == Listing::Objects && name.as_ref() == b"KeyCount" && matches!(event, Event::Start(_)) {
                        let events = read_element(&mut reader, event)?;
                        doc.flush(&mut pending_ws)?;
                        key_counts.push(doc.write_leaf_recording_text(&events)?);
                        continue;
                    }
                }
                _ => {}
            }
        }
        doc.flush(&mut pending_ws)?;
        if let Some(root) = doc.pass(event)? {
            listing = Some(Listing::of(root.local_name().as_ref())?);
        }
        if doc.done {
            break;
        }
    }

    let mut out = doc.finish()?;
    if removed > 0 {
        // Back to front, so that earlier ranges stay valid.
        for (range, text) in key_counts.into_iter().rev() {
            let count: u64 = text
                .trim()
                .parse()
                .map_err(|_| malformed(format!("KeyCount {text:?} is not a number")))?;
            let adjusted = count.saturating_sub(removed).to_string();
            out.splice(range, adjusted.into_bytes());
        }
    }
    Ok((out, hidden_entries))
}

/// The `<CommonPrefixes>` of a listing page, decoded (XML entities, and `encoding-type=url`).
pub fn common_prefixes(xml: &[u8]) -> Result<Vec<String>, ListingError> {
    let url = url_encoded_keys(xml)?;
    let text = std::str::from_utf8(xml).map_err(xml_err)?;
    crate::s3::xml::xml_all(text, "CommonPrefixes")
        .iter()
        .filter_map(|cp| crate::s3::xml::xml_text(cp, "Prefix"))
        .map(|raw| {
            let unescaped = quick_xml::escape::unescape(&raw).map_err(xml_err)?.into_owned();
            Ok(if url {
                String::from_utf8_lossy(&percent_decode(&unescaped)).into_owned()
            } else {
                unescaped
            })
        })
        .collect()
}

/// The keys (and common prefixes) of a listing page's entries, decoded, in the page's order.
fn entry_keys(xml: &[u8]) -> Result<Vec<String>, ListingError> {
    let url = url_encoded_keys(xml)?;
    let text = std::str::from_utf8(xml).map_err(xml_err)?;
    let mut keys = Vec::new();
    for (element, field) in [
        ("Contents", "Key"),
        ("Version", "Key"),
        ("DeleteMarker", "Key"),
        ("CommonPrefixes", "Prefix"),
    ] {
        for entry in crate::s3::xml::xml_all(text, element) {
            let raw = crate::s3::xml::xml_text(&entry, field).unwrap_or_default();
            let unescaped = quick_xml::escape::unescape(&raw).map_err(xml_err)?.into_owned();
            keys.push(if url {
                String::from_utf8_lossy(&percent_decode(&unescaped)).into_owned()
            } else {
                unescaped
            });
        }
    }
    Ok(keys)
}

/// How many entries (objects, versions, delete markers, common prefixes) a listing page holds, and the last of
/// them in key order (where the page ends).
pub fn entries_and_last(xml: &[u8]) -> Result<(u64, Option<String>), ListingError> {
    let keys = entry_keys(xml)?;
    Ok((keys.len() as u64, keys.into_iter().max()))
}

/// The document with every `<UploadId>` whose text is `from` saying `to` instead.
pub fn replace_upload_id(xml: &[u8], from: &str, to: &str) -> Result<Vec<u8>, ListingError> {
    replace_leaf(xml, b"UploadId", |text| (text == from).then(|| to.to_owned()))
}

/// The document with the text of every `<element>` leaf (below the root) replaced by what `edit` returns for it
/// (`None`: kept). Everything else is copied as it is.
pub fn replace_leaf(
    xml: &[u8],
    element: &[u8],
    mut edit: impl FnMut(&str) -> Option<String>,
) -> Result<Vec<u8>, ListingError> {
    let mut reader = Reader::from_reader(xml);
    let mut doc = Doc::new(xml)?;
    loop {
        let event = reader.read_event().map_err(xml_err)?;
        if let Event::Start(s) | Event::Empty(s) = &event
            && doc.depth > 0
            && s.local_name().as_ref() == element
        {
            let events = read_element(&mut reader, event)?;
            let inner = inner_events(&events);
            match edit(&leaf_text(&events[0], inner)?) {
                Some(to) => doc.write_leaf(&events[0], &escape(&to))?,
                None => doc.write_all(&events)?,
            }
            continue;
        }
        doc.pass(event)?;
        if doc.done {
            break;
        }
    }
    doc.finish()
}

/// Make the root's `element` child say `value`: its text replaced (a second one dropped), added before the
/// root's end tag where the document has none, or removed for `None`. For the request parameters a listing
/// echoes (`StartAfter`, `ContinuationToken`, `Marker`, ...), which S3 shows exactly as the client sent them.
pub fn set_root_leaf(xml: &[u8], element: &str, value: Option<&str>) -> Result<Vec<u8>, ListingError> {
    let mut reader = Reader::from_reader(xml);
    let mut doc = Doc::new(xml)?;
    let mut written = false;
    loop {
        let event = reader.read_event().map_err(xml_err)?;
        let at_root = doc.depth == 1;
        let is_element = matches!(&event, Event::Start(s) | Event::Empty(s) if at_root && s.local_name().as_ref() == element.as_bytes());
        if is_element {
            let events = read_element(&mut reader, event)?;
            if let Some(v) = value.filter(|_| !written) {
                doc.write_leaf(&events[0], &escape(v))?;
                written = true;
            }
            continue;
        }
        if at_root
            && matches!(event, Event::End(_))
            && !written
            && let Some(v) = value
        {
            let start = BytesStart::new(element);
            doc.write_leaf(&Event::Start(start), &escape(v))?;
            written = true;
        }
        doc.pass(event)?;
        if doc.done {
            break;
        }
    }
    doc.finish()
}

// ---------------------------------------------------------------------------------------------------------
// Document-level bookkeeping: well-formedness checks the reader leaves to us, and the output.

struct Doc {
    out: Writer<Vec<u8>>,
    /// Depth of the reader: 0 outside the root, 1 among the root's children.
    depth: usize,
    root_seen: bool,
    done: bool,
}

impl Doc {
    fn new(xml: &[u8]) -> Result<Self, ListingError> {
        // S3 XML is UTF-8; checking it all here covers text that is only copied through.
        std::str::from_utf8(xml).map_err(|e| malformed(format!("input is not UTF-8: {e}")))?;
        let mut out = Vec::with_capacity(xml.len() + 64);
        // The reader skips a UTF-8 byte order mark; keep it.
        if xml.starts_with(b"\xEF\xBB\xBF") {
            out.extend_from_slice(b"\xEF\xBB\xBF");
        }
        Ok(Self {
            out: Writer::new(out),
            depth: 0,
            root_seen: false,
            done: false,
        })
    }

    /// Check and write one event that is not part of a collected element. Returns the root's start tag when
    /// `event` opens the root element.
    fn pass<'e>(&mut self, event: Event<'e>) -> Result<Option<BytesStart<'e>>, ListingError> {
        let mut root = None;
        match &event {
            Event::Start(s) | Event::Empty(s) if self.depth == 0 => {
                if self.root_seen {
                    return Err(malformed("more than one root element"));
                }
                self.root_seen = true;
                root = Some(s.clone());
            }
            Event::Text(t) if self.depth == 0 && !t.iter().all(u8::is_ascii_whitespace) => {
                return Err(malformed("text outside the root element"));
            }
            Event::GeneralRef(_) | Event::CData(_) if self.depth == 0 => {
                return Err(malformed("text outside the root element"));
            }
            Event::Eof => self.done = true,
            _ => {}
        }
        match &event {
            Event::Start(_) => self.depth += 1,
            Event::End(_) => self.depth = self.depth.saturating_sub(1),
            _ => {}
        }
        self.write(event.borrow())?;
        Ok(root)
    }

    fn finish(self) -> Result<Vec<u8>, ListingError> {
        if self.depth != 0 {
            return Err(malformed("input ends inside an element"));
        }
        if !self.root_seen {
            return Err(malformed("no root element"));
        }
        Ok(self.out.into_inner())
    }

    fn write(&mut self, event: Event<'_>) -> Result<(), ListingError> {
        self.out.write_event(event).map_err(xml_err)
    }

    fn write_all(&mut self, events: &[Event<'_>]) -> Result<(), ListingError> {
        events.iter().try_for_each(|e| self.write(e.borrow()))
    }

    fn flush(&mut self, pending: &mut Option<Event<'_>>) -> Result<(), ListingError> {
        match pending.take() {
            Some(e) => self.write(e),
            None => Ok(()),
        }
    }

    /// Write `<Name ...>escaped_text</Name>`, reusing the start tag (`Start` or `Empty`) `start`.
    fn write_leaf(&mut self, start: &Event<'_>, escaped_text: &str) -> Result<(), ListingError> {
        let (Event::Start(s) | Event::Empty(s)) = start else {
            return Err(malformed("expected a start tag"));
        };
        self.write(Event::Start(s.borrow()))?;
        self.write(Event::Text(BytesText::from_escaped(escaped_text)))?;
        self.write(Event::End(s.to_end()))
    }

    /// Write a collected leaf element unchanged; returns where its content landed in the output, and its
    /// text.
    fn write_leaf_recording_text(&mut self, events: &[Event<'_>]) -> Result<(Range<usize>, String), ListingError> {
        let inner = inner_events(events);
        let text = leaf_text(&events[0], inner)?;
        self.write(events[0].borrow())?;
        let start = self.out.get_ref().len();
        self.write_all(inner)?;
        let end = self.out.get_ref().len();
        if events.len() > 1 {
            self.write(events[events.len() - 1].borrow())?;
        }
        Ok((start..end, text))
    }

    /// Write a collected entry, replacing the `Size` and `ETag` children if `rewrite` says so.
    fn write_entry(&mut self, events: &[Event<'_>], rewrite: Option<&(u64, String)>) -> Result<(), ListingError> {
        let Some((size, etag)) = rewrite else {
            return self.write_all(events);
        };
        if events.len() < 2 {
            return self.write_all(events);
        }
        self.write(events[0].borrow())?;
        let mut i = 1;
        while i + 1 < events.len() {
            let Some(child) = direct_child(events, i)? else {
                self.write(events[i].borrow())?;
                i += 1;
                continue;
            };
            match child.name.as_slice() {
                b"Size" => self.write_leaf(&events[i], &size.to_string())?,
                b"ETag" => self.write_leaf(&events[i], &escape(etag.as_str()))?,
                _ => self.write_all(&events[i..=child.last])?,
            }
            i = child.last + 1;
        }
        self.write(events[events.len() - 1].borrow())?;
        Ok(())
    }
}

/// Read the rest of the element that `first` opens; returns all its events, `first` and the end tag
/// included (just `[first]` for an empty element).
fn read_element<'a>(reader: &mut Reader<&'a [u8]>, first: Event<'a>) -> Result<Vec<Event<'a>>, ListingError> {
    let mut depth = usize::from(matches!(first, Event::Start(_)));
    let mut events = vec![first];
    while depth > 0 {
        let event = reader.read_event().map_err(xml_err)?;
        match &event {
            Event::Start(_) => depth += 1,
            Event::End(_) => depth -= 1,
            Event::Eof => return Err(malformed("input ends inside an element")),
            _ => {}
        }
        events.push(event);
    }
    Ok(events)
}

/// The events between a collected element's start and end tags.
fn inner_events<'e, 'a>(events: &'e [Event<'a>]) -> &'e [Event<'a>] {
    if events.len() >= 2 {
        &events[1..events.len() - 1]
    } else {
        &[]
    }
}

/// The text of a leaf element from its inner events: text, entity and character references, CDATA.
fn leaf_text(start: &Event<'_>, inner: &[Event<'_>]) -> Result<String, ListingError> {
    let mut text = String::new();
    for event in inner {
        match event {
            Event::Text(t) => text.push_str(&t.xml10_content().map_err(xml_err)?),
            Event::GeneralRef(r) => text.push(resolve_reference(r)?),
            Event::CData(c) => text.push_str(&c.decode().map_err(xml_err)?),
            Event::Comment(_) | Event::PI(_) => {}
            _ => {
                let name = match start {
                    Event::Start(s) | Event::Empty(s) => String::from_utf8_lossy(s.name().as_ref()).into_owned(),
                    _ => String::new(),
                };
                return Err(malformed(format!("unexpected markup inside <{name}>")));
            }
        }
    }
    Ok(text)
}

fn resolve_reference(r: &BytesRef<'_>) -> Result<char, ListingError> {
    if let Some(c) = r.resolve_char_ref().map_err(xml_err)? {
        return Ok(c);
    }
    match &**r {
        b"amp" => Ok('&'),
        b"lt" => Ok('<'),
        b"gt" => Ok('>'),
        b"quot" => Ok('"'),
        b"apos" => Ok('\''),
        other => Err(malformed(format!(
            "unknown entity &{};",
            String::from_utf8_lossy(other)
        ))),
    }
}

/// A direct child element of a collected entry.
struct Child {
    /// Local name.
    name: Vec<u8>,
    /// Index of its last event: its end tag, or its only event for an empty element.
    last: usize,
}

/// The text of each direct child of a collected entry, in document order, by local name.
fn children_text(events: &[Event<'_>]) -> Result<Vec<(Vec<u8>, String)>, ListingError> {
    let mut out = Vec::new();
    let mut i = 1;
    while i + 1 < events.len() {
        match direct_child(events, i)? {
            Some(child) => {
                let inner = if child.last > i {
                    &events[i + 1..child.last]
                } else {
                    &[][..]
                };
                let wanted = matches!(
                    child.name.as_slice(),
                    b"Key" | b"Prefix" | b"LastModified" | b"ETag" | b"Size"
                );
                if wanted {
                    out.push((child.name, leaf_text(&events[i], inner)?));
                }
                i = child.last + 1;
            }
            None => i += 1,
        }
    }
    Ok(out)
}

/// If event `i` of a collected entry (known to be at the depth of the entry's children) opens an element,
/// that child.
fn direct_child(events: &[Event<'_>], i: usize) -> Result<Option<Child>, ListingError> {
    match &events[i] {
        Event::Empty(s) => Ok(Some(Child {
            name: s.local_name().as_ref().to_vec(),
            last: i,
        })),
        Event::Start(s) => {
            let mut d = 0usize;
            for (j, e) in events.iter().enumerate().skip(i) {
                match e {
                    Event::Start(_) => d += 1,
                    Event::End(_) => {
                        d -= 1;
                        if d == 0 {
                            return Ok(Some(Child {
                                name: s.local_name().as_ref().to_vec(),
                                last: j,
                            }));
                        }
                    }
                    _ => {}
                }
            }
            Err(malformed("unclosed element"))
        }
        _ => Ok(None),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Listing kinds and entries.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listing {
    /// ListObjects (V1) and ListObjectsV2: `ListBucketResult`.
    Objects,
    /// ListObjectVersions: `ListVersionsResult`.
    Versions,
    /// ListParts: `ListPartsResult` (moto 5 names it `ListPartsResponse`).
    Parts,
}

impl Listing {
    fn of(root: &[u8]) -> Result<Self, ListingError> {
        match root {
            b"ListBucketResult" => Ok(Self::Objects),
            b"ListVersionsResult" => Ok(Self::Versions),
            b"ListPartsResult" | b"ListPartsResponse" => Ok(Self::Parts),
            other => Err(malformed(format!(
                "unexpected root element <{}>",
                String::from_utf8_lossy(other)
            ))),
        }
    }
}

/// The children of the root that are entries, named after their elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntryKind {
    Contents,
    Version,
    DeleteMarker,
    CommonPrefixes,
    Part,
}

impl EntryKind {
    fn of(listing: Listing, name: &[u8]) -> Option<Self> {
        match (listing, name) {
            (Listing::Objects, b"Contents") => Some(Self::Contents),
            (Listing::Objects | Listing::Versions, b"CommonPrefixes") => Some(Self::CommonPrefixes),
            (Listing::Versions, b"Version") => Some(Self::Version),
            (Listing::Versions, b"DeleteMarker") => Some(Self::DeleteMarker),
            (Listing::Parts, b"Part") => Some(Self::Part),
            _ => None,
        }
    }

    fn counts_in_key_count(self) -> bool {
        matches!(self, Self::Contents | Self::CommonPrefixes)
    }

    fn element(self) -> &'static str {
        match self {
            Self::Contents => "Contents",
            Self::Version => "Version",
            Self::DeleteMarker => "DeleteMarker",
            Self::CommonPrefixes => "CommonPrefixes",
            Self::Part => "Part",
        }
    }
}

enum Outcome {
    Remove,
    /// Write the entry, with `(size, etag)` replaced if given.
    Write(Option<(u64, String)>),
}

fn process_entry(
    kind: EntryKind,
    events: &[Event<'_>],
    hidden: &Hidden<'_>,
    decide: &mut impl FnMut(&EntryView<'_>) -> EntryRewrite,
) -> Result<Outcome, ListingError> {
    let children = children_text(events)?;
    let field = |name: &[u8]| children.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let element = kind.element();
    let key = match kind {
        EntryKind::Part => "",
        EntryKind::CommonPrefixes => field(b"Prefix").unwrap_or(""),
        EntryKind::DeleteMarker => field(b"Key").unwrap_or(""),
        EntryKind::Contents | EntryKind::Version => {
            field(b"Key").ok_or_else(|| malformed(format!("<{element}> without <Key>")))?
        }
    };
    if kind != EntryKind::Part && hidden.matches(key) {
        return Ok(Outcome::Remove);
    }
    if kind == EntryKind::CommonPrefixes && hidden.is_hidden_common_prefix(key) {
        return Ok(Outcome::Remove);
    }
    if matches!(kind, EntryKind::DeleteMarker | EntryKind::CommonPrefixes) {
        return Ok(Outcome::Write(None));
    }
    let size_text = field(b"Size").ok_or_else(|| malformed(format!("<{element}> without <Size>")))?;
    let size = size_text
        .trim()
        .parse()
        .map_err(|_| malformed(format!("<{element}> has Size {size_text:?}")))?;
    let view = EntryView {
        key,
        last_modified: field(b"LastModified").unwrap_or(""),
        etag: field(b"ETag").unwrap_or(""),
        size,
    };
    Ok(match decide(&view) {
        EntryRewrite::Keep => Outcome::Write(None),
        EntryRewrite::Rewrite { size, etag } => Outcome::Write(Some((size, etag))),
        EntryRewrite::Hide if kind == EntryKind::Part => Outcome::Write(None),
        EntryRewrite::Hide => Outcome::Remove,
    })
}

/// The hidden-prefix test.
struct Hidden<'p> {
    prefix: &'p str,
    /// Keys in the listing are URL-encoded (`<EncodingType>url</EncodingType>`).
    url_encoded: bool,
    /// Common prefixes (decoded) hidden as a whole.
    common_prefixes: &'p [String],
}

impl Hidden<'_> {
    fn is_hidden_common_prefix(&self, prefix: &str) -> bool {
        let decoded = self.decoded(prefix);
        self.common_prefixes.iter().any(|p| p.as_bytes() == decoded.as_slice())
    }

    fn decoded(&self, key: &str) -> Vec<u8> {
        if self.url_encoded {
            percent_decode(key)
        } else {
            key.as_bytes().to_vec()
        }
    }

    fn matches(&self, key: &str) -> bool {
        if self.prefix.is_empty() {
            return false;
        }
        if self.url_encoded {
            percent_decode(key).starts_with(self.prefix.as_bytes())
        } else {
            key.starts_with(self.prefix)
        }
    }
}

/// Decode `%XX` and `+` (the way the AWS SDKs decode `encoding-type=url` listings); anything malformed is
/// kept as is.
fn percent_decode(encoded: &str) -> Vec<u8> {
    percent_encoding::percent_decode_str(&encoded.replace('+', " ")).collect()
}

/// Whether the root has `<EncodingType>url</EncodingType>`; it may come after the entries, so look first.
fn url_encoded_keys(xml: &[u8]) -> Result<bool, ListingError> {
    const NAME: &[u8] = b"EncodingType";
    if !xml.windows(NAME.len()).any(|w| w == NAME) {
        return Ok(false);
    }
    let mut reader = Reader::from_reader(xml);
    let mut depth = 0usize;
    loop {
        let event = reader.read_event().map_err(xml_err)?;
        match &event {
            Event::Start(s) if depth == 1 && s.local_name().as_ref() == NAME => {
                let events = read_element(&mut reader, event)?;
                let text = leaf_text(&events[0], inner_events(&events))?;
                if text.trim().eq_ignore_ascii_case("url") {
                    return Ok(true);
                }
            }
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Eof => return Ok(false),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_root_leaf_replaces_adds_and_removes_only_the_roots_child() {
        let xml = b"<R><Name>b</Name><StartAfter>walked</StartAfter><Contents><StartAfter>x</StartAfter></Contents>\
                    <StartAfter>again</StartAfter></R>";
        let set = |v| String::from_utf8(set_root_leaf(xml, "StartAfter", v).unwrap()).unwrap();
        assert_eq!(
            set(Some("a&b")),
            "<R><Name>b</Name><StartAfter>a&amp;b</StartAfter><Contents><StartAfter>x</StartAfter></Contents></R>"
        );
        assert_eq!(
            set(None),
            "<R><Name>b</Name><Contents><StartAfter>x</StartAfter></Contents></R>"
        );
        let none = b"<R><Name>b</Name></R>";
        let added = set_root_leaf(none, "ContinuationToken", Some("t")).unwrap();
        assert_eq!(added, b"<R><Name>b</Name><ContinuationToken>t</ContinuationToken></R>");
        assert_eq!(set_root_leaf(none, "ContinuationToken", None).unwrap(), none);
        let empty = set_root_leaf(b"<R><Marker/></R>", "Marker", Some("")).unwrap();
        assert_eq!(empty, b"<R><Marker></Marker></R>");
        assert!(set_root_leaf(b"<R><Marker>", "Marker", None).is_err());
    }

    /// ListObjectsV2 with a delimiter, shaped like the AWS API reference example.
    const LIST_V2: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>example-bucket</Name>
  <Prefix></Prefix>
  <KeyCount>3</KeyCount>
  <MaxKeys>1000</MaxKeys>
  <Delimiter>/</Delimiter>
  <IsTruncated>true</IsTruncated>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
  <Contents>
    <Key>my-image.jpg</Key>
    <LastModified>2009-10-12T17:50:30.000Z</LastModified>
    <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag>
    <ChecksumAlgorithm>CRC32</ChecksumAlgorithm>
    <Size>434262</Size>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
  <Contents>
    <Key>sample.jpg</Key>
    <LastModified>2011-02-26T01:56:20.000Z</LastModified>
    <ETag>"bf1d737a4d46a19f3bced6905cc8b902"</ETag>
    <Size>142891</Size>
    <Owner>
      <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
      <DisplayName>mtd@amazon.com</DisplayName>
    </Owner>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
  <CommonPrefixes>
    <Prefix>photos/</Prefix>
  </CommonPrefixes>
</ListBucketResult>"#;

    /// ListObjects (V1) with a Marker.
    const LIST_V1: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>quotes</Name>
  <Prefix>N</Prefix>
  <Marker>Ned</Marker>
  <NextMarker>Nelson</NextMarker>
  <MaxKeys>40</MaxKeys>
  <IsTruncated>true</IsTruncated>
  <Contents>
    <Key>Nelson</Key>
    <LastModified>2006-01-01T12:00:00.000Z</LastModified>
    <ETag>&quot;828ef3fdfa96f00ad9f27c383fc9ac7f&quot;</ETag>
    <Size>33</Size>
    <StorageClass>STANDARD</StorageClass>
    <Owner>
      <ID>bcaf1ffd86f461ca5fb16fd081034f</ID>
      <DisplayName>webfile</DisplayName>
    </Owner>
  </Contents>
  <Contents>
    <Key>Neo</Key>
    <LastModified>2006-01-01T12:00:00.000Z</LastModified>
    <ETag>&quot;828ef3fdfa96f00ad9f27c383fc9ac7f&quot;</ETag>
    <Size>4</Size>
    <StorageClass>STANDARD</StorageClass>
    <Owner>
      <ID>bcaf1ffd86f461ca5fb16fd081034f</ID>
      <DisplayName>webfile</DisplayName>
    </Owner>
  </Contents>
</ListBucketResult>"#;

    /// ListObjectVersions with versions and a delete marker.
    const LIST_VERSIONS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name>
  <Prefix>my</Prefix>
  <KeyMarker/>
  <VersionIdMarker/>
  <MaxKeys>5</MaxKeys>
  <IsTruncated>false</IsTruncated>
  <Version>
    <Key>my-image.jpg</Key>
    <VersionId>3/L4kqtJl40Nr8X8gdRQBpUMLUo</VersionId>
    <IsLatest>true</IsLatest>
    <LastModified>2009-10-12T17:50:30.000Z</LastModified>
    <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag>
    <Size>434234</Size>
    <StorageClass>STANDARD</StorageClass>
    <Owner>
      <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
      <DisplayName>mtd@amazon.com</DisplayName>
    </Owner>
  </Version>
  <DeleteMarker>
    <Key>my-second-image.jpg</Key>
    <VersionId>03jpff543dhffds434rfdsFDN943fdsFkdmqnh892</VersionId>
    <IsLatest>true</IsLatest>
    <LastModified>2009-11-12T17:50:30.000Z</LastModified>
    <Owner>
      <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
      <DisplayName>mtd@amazon.com</DisplayName>
    </Owner>
  </DeleteMarker>
  <Version>
    <Key>my-second-image.jpg</Key>
    <VersionId>QUpfdndhfd8438MNFDN93jdnJFkdmqnh893</VersionId>
    <IsLatest>false</IsLatest>
    <LastModified>2009-10-10T17:50:30.000Z</LastModified>
    <ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag>
    <Size>166434</Size>
    <StorageClass>STANDARD</StorageClass>
    <Owner>
      <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
      <DisplayName>mtd@amazon.com</DisplayName>
    </Owner>
  </Version>
</ListVersionsResult>"#;

    /// ListParts with two parts.
    const LIST_PARTS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>example-bucket</Bucket>
  <Key>example-object</Key>
  <UploadId>XXBsb2FkIElEIGZvciBlbHZpbmcncyVcdS1tb3ZpZS5tMnRzEEEwbG9hZA</UploadId>
  <Initiator>
    <ID>arn:aws:iam::111122223333:user/some-user-11116a31-17b5-4fb7-9df5-b288870f11xx</ID>
    <DisplayName>umat-user-11116a31-17b5-4fb7-9df5-b288870f11xx</DisplayName>
  </Initiator>
  <Owner>
    <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
    <DisplayName>someName</DisplayName>
  </Owner>
  <StorageClass>STANDARD</StorageClass>
  <PartNumberMarker>1</PartNumberMarker>
  <NextPartNumberMarker>3</NextPartNumberMarker>
  <MaxParts>2</MaxParts>
  <IsTruncated>true</IsTruncated>
  <Part>
    <PartNumber>2</PartNumber>
    <LastModified>2010-11-10T20:48:34.000Z</LastModified>
    <ETag>"7778aef83f66abc1fa1e8477f296d394"</ETag>
    <Size>10485760</Size>
  </Part>
  <Part>
    <PartNumber>3</PartNumber>
    <LastModified>2010-11-10T20:48:33.000Z</LastModified>
    <ETag>"aaaa18db4cc2f85cedef654fccc4a4x8"</ETag>
    <Size>10485760</Size>
  </Part>
</ListPartsResult>"#;

    const CREATE_MULTIPART: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>example-bucket</Bucket>
  <Key>example-object</Key>
  <UploadId>abc</UploadId>
</InitiateMultipartUploadResult>"#;

    /// Every leaf element as (path of local names, text after unescaping), in document order; attributes as
    /// `path@name`.
    fn flatten(xml: &[u8]) -> Vec<(String, String)> {
        let mut reader = Reader::from_reader(xml);
        let mut path: Vec<String> = Vec::new();
        let mut text = String::new();
        let mut had_child = Vec::new();
        let mut out = Vec::new();
        let attrs = |s: &BytesStart<'_>, path: &[String], out: &mut Vec<(String, String)>| {
            for a in s.attributes() {
                let a = a.unwrap();
                let name = String::from_utf8(a.key.as_ref().to_vec()).unwrap();
                let value = String::from_utf8(a.value.to_vec()).unwrap();
                out.push((format!("{}@{name}", path.join("/")), value));
            }
        };
        loop {
            match reader.read_event().unwrap() {
                Event::Start(s) => {
                    if let Some(h) = had_child.last_mut() {
                        *h = true;
                    }
                    path.push(String::from_utf8(s.local_name().as_ref().to_vec()).unwrap());
                    attrs(&s, &path, &mut out);
                    had_child.push(false);
                    text.clear();
                }
                Event::Empty(s) => {
                    if let Some(h) = had_child.last_mut() {
                        *h = true;
                    }
                    path.push(String::from_utf8(s.local_name().as_ref().to_vec()).unwrap());
                    attrs(&s, &path, &mut out);
                    out.push((path.join("/"), String::new()));
                    path.pop();
                }
                Event::Text(t) => text.push_str(&t.xml10_content().unwrap()),
                Event::GeneralRef(r) => text.push(resolve_reference(&r).unwrap()),
                Event::End(_) => {
                    if !had_child.pop().unwrap() {
                        out.push((path.join("/"), std::mem::take(&mut text)));
                    }
                    path.pop();
                    text.clear();
                }
                Event::Eof => return out,
                _ => {}
            }
        }
    }

    fn owned(view: &EntryView<'_>) -> (String, String, String, u64) {
        (view.key.into(), view.last_modified.into(), view.etag.into(), view.size)
    }

    fn s(bytes: &[u8]) -> &str {
        std::str::from_utf8(bytes).unwrap()
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    /// `flatten(before)` with the given (path, occurrence) entries replaced.
    fn expect_changed(before: &str, changes: &[(&str, usize, &str)]) -> Vec<(String, String)> {
        let mut flat = flatten(before.as_bytes());
        for &(path, nth, value) in changes {
            let (_, v) = flat.iter_mut().filter(|(p, _)| p == path).nth(nth).unwrap();
            *v = value.to_string();
        }
        flat
    }

    #[test]
    fn keep_everything_is_byte_identical() {
        for xml in [LIST_V2, LIST_V1, LIST_VERSIONS, LIST_PARTS] {
            let out = rewrite(xml.as_bytes(), ".s3-sse-proxy/", |_| EntryRewrite::Keep).unwrap();
            assert_eq!(s(&out), xml);
        }
    }

    #[test]
    fn v2_rewrites_only_where_decided() {
        let mut seen = Vec::new();
        let out = rewrite(LIST_V2.as_bytes(), ".s3-sse-proxy/", |v| {
            seen.push(owned(v));
            if v.key == "my-image.jpg" {
                EntryRewrite::Rewrite {
                    size: 434200,
                    etag: "\"abc-1\"".into(),
                }
            } else {
                EntryRewrite::Keep
            }
        })
        .unwrap();
        assert_eq!(
            seen,
            vec![
                (
                    "my-image.jpg".into(),
                    "2009-10-12T17:50:30.000Z".into(),
                    "\"fba9dede5f27731c9771645a39863328\"".into(),
                    434262
                ),
                (
                    "sample.jpg".into(),
                    "2011-02-26T01:56:20.000Z".into(),
                    "\"bf1d737a4d46a19f3bced6905cc8b902\"".into(),
                    142891
                ),
            ]
        );
        assert_eq!(
            flatten(&out),
            expect_changed(
                LIST_V2,
                &[
                    ("ListBucketResult/Contents/Size", 0, "434200"),
                    ("ListBucketResult/Contents/ETag", 0, "\"abc-1\""),
                ]
            )
        );
        let out = s(&out);
        assert!(out.contains("<ETag>&quot;abc-1&quot;</ETag>"), "{out}");
        assert!(out.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?>"#));
        assert!(out.contains(r#"<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#));
        // The kept entry is byte-identical.
        let second = &LIST_V2[LIST_V2.find("<Contents>\n    <Key>sample.jpg").unwrap()..];
        let second = &second[..second.find("</Contents>").unwrap()];
        assert!(out.contains(second));
    }

    #[test]
    fn v2_hidden_prefix_and_key_count() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>b</Name>
  <Prefix></Prefix>
  <KeyCount>5</KeyCount>
  <MaxKeys>1000</MaxKeys>
  <Delimiter>/</Delimiter>
  <IsTruncated>false</IsTruncated>
  <Contents>
    <Key>.s3-sse-proxy/uploads/1</Key>
    <LastModified>2024-01-01T00:00:00.000Z</LastModified>
    <ETag>"00"</ETag>
    <Size>1</Size>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
  <Contents>
    <Key>a.txt</Key>
    <LastModified>2024-01-01T00:00:00.000Z</LastModified>
    <ETag>"11"</ETag>
    <Size>100</Size>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
  <Contents>
    <Key>b.txt</Key>
    <LastModified>2024-01-01T00:00:00.000Z</LastModified>
    <ETag>"22"</ETag>
    <Size>200</Size>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
  <CommonPrefixes>
    <Prefix>.s3-sse-proxy/</Prefix>
  </CommonPrefixes>
  <CommonPrefixes>
    <Prefix>photos/</Prefix>
  </CommonPrefixes>
</ListBucketResult>"#;
        let mut asked = Vec::new();
        let out = rewrite(xml.as_bytes(), ".s3-sse-proxy/", |v| {
            asked.push(v.key.to_string());
            if v.key == "b.txt" {
                EntryRewrite::Hide
            } else {
                EntryRewrite::Keep
            }
        })
        .unwrap();
        // Hidden-prefix entries never reach `decide`.
        assert_eq!(asked, ["a.txt", "b.txt"]);
        let flat = flatten(&out);
        let get = |path: &str| -> Vec<&str> {
            flat.iter()
                .filter(|(p, _)| p == path)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        assert_eq!(get("ListBucketResult/Contents/Key"), ["a.txt"]);
        assert_eq!(get("ListBucketResult/CommonPrefixes/Prefix"), ["photos/"]);
        // 5 - (2 Contents + 1 CommonPrefixes)
        assert_eq!(get("ListBucketResult/KeyCount"), ["2"]);
        assert_eq!(get("ListBucketResult/IsTruncated"), ["false"]);
        assert_eq!(get("ListBucketResult/MaxKeys"), ["1000"]);
        // No blank lines left where entries were removed.
        let out = s(&out);
        assert!(!out.contains("\n  \n"), "{out}");
        assert!(out.contains("<KeyCount>2</KeyCount>\n  <MaxKeys>"), "{out}");
        assert!(
            out.ends_with("<Prefix>photos/</Prefix>\n  </CommonPrefixes>\n</ListBucketResult>"),
            "{out}"
        );
    }

    #[test]
    fn key_count_after_the_entries_is_adjusted_too() {
        let xml = "<ListBucketResult><Name>b</Name><Contents><Key>.h/x</Key><Size>1</Size></Contents>\
                   <Contents><Key>y</Key><Size>2</Size></Contents><KeyCount>2</KeyCount></ListBucketResult>";
        let out = rewrite(xml.as_bytes(), ".h/", |_| EntryRewrite::Keep).unwrap();
        assert_eq!(
            s(&out),
            "<ListBucketResult><Name>b</Name>\
             <Contents><Key>y</Key><Size>2</Size></Contents><KeyCount>1</KeyCount></ListBucketResult>"
        );
    }

    #[test]
    fn key_count_written_as_a_character_reference() {
        let xml = "<ListBucketResult><KeyCount>&#50;</KeyCount><Contents><Key>.h/x</Key><Size>1</Size></Contents>\
                   <Contents><Key>y</Key><Size>2</Size></Contents></ListBucketResult>";
        let out = rewrite(xml.as_bytes(), ".h/", |_| EntryRewrite::Keep).unwrap();
        assert_eq!(
            s(&out),
            "<ListBucketResult><KeyCount>1</KeyCount><Contents><Key>y</Key><Size>2</Size></Contents></ListBucketResult>"
        );
    }

    #[test]
    fn empty_hidden_prefix_hides_nothing() {
        let out = rewrite(LIST_V2.as_bytes(), "", |_| EntryRewrite::Keep).unwrap();
        assert_eq!(s(&out), LIST_V2);
    }

    #[test]
    fn v1_with_marker() {
        let mut keys = Vec::new();
        let out = rewrite(LIST_V1.as_bytes(), ".s3-sse-proxy/", |v| {
            keys.push(v.key.to_string());
            assert_eq!(v.etag, "\"828ef3fdfa96f00ad9f27c383fc9ac7f\"");
            EntryRewrite::Rewrite {
                size: v.size - 1,
                etag: format!("\"plain-{}\"", v.key),
            }
        })
        .unwrap();
        assert_eq!(keys, ["Nelson", "Neo"]);
        assert_eq!(
            flatten(&out),
            expect_changed(
                LIST_V1,
                &[
                    ("ListBucketResult/Contents/Size", 0, "32"),
                    ("ListBucketResult/Contents/ETag", 0, "\"plain-Nelson\""),
                    ("ListBucketResult/Contents/Size", 1, "3"),
                    ("ListBucketResult/Contents/ETag", 1, "\"plain-Neo\""),
                ]
            )
        );
        let out = s(&out);
        assert!(out.contains("<Marker>Ned</Marker>\n  <NextMarker>Nelson</NextMarker>"));
        assert!(!out.contains("KeyCount"));
    }

    #[test]
    fn versions_and_delete_markers() {
        let mut seen = Vec::new();
        let out = rewrite(LIST_VERSIONS.as_bytes(), ".s3-sse-proxy/", |v| {
            seen.push(owned(v));
            if v.size == 166434 {
                EntryRewrite::Rewrite {
                    size: 166400,
                    etag: "\"second\"".into(),
                }
            } else {
                EntryRewrite::Keep
            }
        })
        .unwrap();
        // Versions only; the delete marker is not passed to `decide`.
        assert_eq!(
            seen,
            vec![
                (
                    "my-image.jpg".into(),
                    "2009-10-12T17:50:30.000Z".into(),
                    "\"fba9dede5f27731c9771645a39863328\"".into(),
                    434234
                ),
                (
                    "my-second-image.jpg".into(),
                    "2009-10-10T17:50:30.000Z".into(),
                    "\"9b2cf535f27731c974343645a3985328\"".into(),
                    166434
                ),
            ]
        );
        assert_eq!(
            flatten(&out),
            expect_changed(
                LIST_VERSIONS,
                &[
                    ("ListVersionsResult/Version/Size", 1, "166400"),
                    ("ListVersionsResult/Version/ETag", 1, "\"second\""),
                ]
            )
        );

        // Hidden versions and delete markers go away; `Hide` removes a version.
        let hidden = LIST_VERSIONS.replace("my-second-image.jpg", ".s3-sse-proxy/x");
        let out = rewrite(hidden.as_bytes(), ".s3-sse-proxy/", |v| {
            assert_eq!(v.key, "my-image.jpg");
            EntryRewrite::Keep
        })
        .unwrap();
        let flat = flatten(&out);
        assert!(
            !flat
                .iter()
                .any(|(p, _)| p.starts_with("ListVersionsResult/DeleteMarker"))
        );
        let keys: Vec<_> = flat
            .iter()
            .filter(|(p, _)| p.ends_with("/Key"))
            .map(|(_, v)| v)
            .collect();
        assert_eq!(keys, ["my-image.jpg"]);
        assert!(flat.contains(&("ListVersionsResult/KeyMarker".into(), String::new())));
        let out = rewrite(LIST_VERSIONS.as_bytes(), ".s3-sse-proxy/", |_| EntryRewrite::Hide).unwrap();
        let flat = flatten(&out);
        assert!(!flat.iter().any(|(p, _)| p.starts_with("ListVersionsResult/Version/")));
        assert!(
            flat.iter()
                .any(|(p, _)| p.starts_with("ListVersionsResult/DeleteMarker"))
        );
    }

    #[test]
    fn list_parts() {
        let mut seen = Vec::new();
        let out = rewrite(LIST_PARTS.as_bytes(), "", |v| {
            seen.push(owned(v));
            if v.last_modified == "2010-11-10T20:48:34.000Z" {
                EntryRewrite::Rewrite {
                    size: 10485700,
                    etag: "\"p2\"".into(),
                }
            } else {
                // Parts are never hidden.
                EntryRewrite::Hide
            }
        })
        .unwrap();
        assert_eq!(
            seen,
            vec![
                (
                    String::new(),
                    "2010-11-10T20:48:34.000Z".into(),
                    "\"7778aef83f66abc1fa1e8477f296d394\"".into(),
                    10485760
                ),
                (
                    String::new(),
                    "2010-11-10T20:48:33.000Z".into(),
                    "\"aaaa18db4cc2f85cedef654fccc4a4x8\"".into(),
                    10485760
                ),
            ]
        );
        assert_eq!(
            flatten(&out),
            expect_changed(
                LIST_PARTS,
                &[
                    ("ListPartsResult/Part/Size", 0, "10485700"),
                    ("ListPartsResult/Part/ETag", 0, "\"p2\""),
                ]
            )
        );
        // A hidden prefix that every key would match does not touch parts.
        let out = rewrite(LIST_PARTS.as_bytes(), "example", |_| EntryRewrite::Keep).unwrap();
        assert_eq!(s(&out), LIST_PARTS);
        // moto's root element: its parts are rewritten as S3's.
        let moto = LIST_PARTS.replace("ListPartsResult", "ListPartsResponse");
        let out = rewrite(moto.as_bytes(), "", |_| EntryRewrite::Rewrite {
            size: 7,
            etag: "\"p\"".into(),
        })
        .unwrap();
        assert_eq!(s(&out).matches("<Size>7</Size>").count(), 2, "{}", s(&out));
    }

    #[test]
    fn escaped_keys_round_trip() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><KeyCount>3</KeyCount><Contents><Key>a&amp;b&lt;c&gt;.txt</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified><ETag>&quot;e1&quot;</ETag><Size>10</Size></Contents><Contents><Key>q&quot;u&apos;o&#116;e&#x21;</Key><ETag>&quot;e2&quot;</ETag><Size>20</Size></Contents><Contents><Key>x&amp;y/hidden</Key><ETag>&quot;e3&quot;</ETag><Size>30</Size></Contents></ListBucketResult>"#;
        let mut keys = Vec::new();
        let out = rewrite(xml.as_bytes(), "x&y/", |v| {
            keys.push(v.key.to_string());
            EntryRewrite::Rewrite {
                size: v.size / 2,
                etag: format!("\"{}&<>\"", v.etag.trim_matches('"')),
            }
        })
        .unwrap();
        assert_eq!(keys, ["a&b<c>.txt", "q\"u'ote!"]);
        let flat = flatten(&out);
        assert_eq!(
            flat,
            pairs(&[
                ("ListBucketResult@xmlns", "http://s3.amazonaws.com/doc/2006-03-01/"),
                ("ListBucketResult/Name", "b"),
                ("ListBucketResult/KeyCount", "2"),
                ("ListBucketResult/Contents/Key", "a&b<c>.txt"),
                ("ListBucketResult/Contents/LastModified", "2024-01-01T00:00:00.000Z"),
                ("ListBucketResult/Contents/ETag", "\"e1&<>\""),
                ("ListBucketResult/Contents/Size", "5"),
                ("ListBucketResult/Contents/Key", "q\"u'ote!"),
                ("ListBucketResult/Contents/ETag", "\"e2&<>\""),
                ("ListBucketResult/Contents/Size", "10"),
            ])
        );
        let out = s(&out);
        assert!(out.contains("<Key>a&amp;b&lt;c&gt;.txt</Key>"), "{out}");
        assert!(out.contains("<ETag>&quot;e1&amp;&lt;&gt;&quot;</ETag>"), "{out}");
    }

    #[test]
    fn url_encoded_listing() {
        // EncodingType after the entries: the hidden-prefix test must still decode.
        let xml = "<ListBucketResult><Name>b</Name><KeyCount>3</KeyCount>\
                   <Contents><Key>photos%2F2024+a%26b.jpg</Key><ETag>&quot;e&quot;</ETag><Size>5</Size></Contents>\
                   <Contents><Key>.s3-sse-proxy%2Fstate</Key><ETag>&quot;e&quot;</ETag><Size>5</Size></Contents>\
                   <CommonPrefixes><Prefix>.s3-sse-proxy/</Prefix></CommonPrefixes>\
                   <EncodingType>url</EncodingType></ListBucketResult>";
        let mut keys = Vec::new();
        let out = rewrite(xml.as_bytes(), ".s3-sse-proxy/", |v| {
            keys.push(v.key.to_string());
            EntryRewrite::Keep
        })
        .unwrap();
        assert_eq!(keys, ["photos%2F2024+a%26b.jpg"]);
        assert_eq!(
            s(&out),
            "<ListBucketResult><Name>b</Name><KeyCount>1</KeyCount>\
             <Contents><Key>photos%2F2024+a%26b.jpg</Key><ETag>&quot;e&quot;</ETag><Size>5</Size></Contents>\
             <EncodingType>url</EncodingType></ListBucketResult>"
        );
        // Without EncodingType, `%2F` is literal and does not match.
        let plain = xml.replace("<EncodingType>url</EncodingType>", "");
        let out = rewrite(plain.as_bytes(), ".s3-sse-proxy/", |_| EntryRewrite::Keep).unwrap();
        assert!(s(&out).contains(".s3-sse-proxy%2Fstate"));
        assert!(s(&out).contains("<KeyCount>2</KeyCount>"));
        assert_eq!(percent_decode("a%2f%2Fb+c%zz%4"), b"a//b c%zz%4");
    }

    #[test]
    fn empty_and_cdata_children() {
        let xml = "<ListBucketResult><Contents><Key><![CDATA[k<1>]]></Key><ETag/><Size>7</Size></Contents>\
                   </ListBucketResult>";
        let out = rewrite(xml.as_bytes(), "", |v| {
            assert_eq!((v.key, v.etag, v.size), ("k<1>", "", 7));
            EntryRewrite::Rewrite {
                size: 3,
                etag: "\"x\"".into(),
            }
        })
        .unwrap();
        assert_eq!(
            s(&out),
            "<ListBucketResult><Contents><Key><![CDATA[k<1>]]></Key><ETag>&quot;x&quot;</ETag><Size>3</Size>\
             </Contents></ListBucketResult>"
        );
    }

    #[test]
    fn malformed_input_is_an_error() {
        let keep = |_: &EntryView<'_>| EntryRewrite::Keep;
        let cases: &[&str] = &[
            "",
            "   ",
            "not xml",
            &LIST_V2[..LIST_V2.len() / 2],
            &LIST_V2[..LIST_V2.len() - 1],
            "<ListBucketResult><Contents><Key>a</Key><Size>1</Size></ListBucketResult>",
            "<ListBucketResult><Contents><Key>a</Key><Size>1</Size></Contents>",
            "<ListBucketResult></ListBucketResult><ListBucketResult></ListBucketResult>",
            "<ListBucketResult></ListBucketResult>trailing",
            "<ListBucketResult><Contents><Key>a</Key><Size>big</Size></Contents></ListBucketResult>",
            "<ListBucketResult><Contents><Key>a</Key><Size>-1</Size></Contents></ListBucketResult>",
            "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
            "<ListBucketResult><Contents><Key>a</Key></Contents></ListBucketResult>",
            "<ListBucketResult><Contents><Key>a&nbsp;</Key><Size>1</Size></Contents></ListBucketResult>",
            "<ListBucketResult><Contents><Key>a&b</Key><Size>1</Size></Contents></ListBucketResult>",
            "<ListBucketResult><Contents><Key>a<i/></Key><Size>1</Size></Contents></ListBucketResult>",
            "<ListBucketResult><KeyCount>many</KeyCount><Contents><Key>.h/a</Key><Size>1</Size></Contents>\
             </ListBucketResult>",
            "<ListVersionsResult><Version><Key>a</Key></Version></ListVersionsResult>",
            "<ListPartsResult><Part><PartNumber>1</PartNumber></Part></ListPartsResult>",
            "<ListAllMyBucketsResult><Buckets/></ListAllMyBucketsResult>",
            "<Error><Code>NoSuchBucket</Code></Error>",
        ];
        for case in cases {
            let result = rewrite(case.as_bytes(), ".h/", keep);
            assert!(matches!(result, Err(ListingError::Xml(_))), "{case:?} gave {result:?}");
        }
        assert!(rewrite(b"<ListBucketResult>\xFF</ListBucketResult>", "", keep).is_err());
        assert!(replace_upload_id(b"<A><UploadId>abc</A>", "abc", "x").is_err());
        assert!(replace_upload_id(b"<A><UploadId>abc</UploadId>", "abc", "x").is_err());
        assert!(replace_upload_id(b"", "abc", "x").is_err());
    }

    #[test]
    fn truncated_or_damaged_input_never_panics() {
        for xml in [LIST_V2, LIST_V1, LIST_VERSIONS, LIST_PARTS, CREATE_MULTIPART] {
            let bytes = xml.as_bytes();
            for len in 0..bytes.len() {
                let cut = &bytes[..len];
                let result = rewrite(cut, "my", |_| EntryRewrite::Hide);
                // Only cutting trailing whitespace after the root could leave a complete document.
                assert!(result.is_err(), "prefix of {len} bytes accepted");
                let _ = replace_upload_id(cut, "abc", "x");
            }
            for (i, damage) in (0..bytes.len()).zip([b'<', b'>', b'&', b'/', b'"', b'x'].into_iter().cycle()) {
                let mut damaged = bytes.to_vec();
                damaged[i] = damage;
                let _ = rewrite(&damaged, "my", |v| EntryRewrite::Rewrite {
                    size: v.size,
                    etag: v.etag.to_string(),
                });
                let _ = replace_upload_id(&damaged, "abc", "x");
            }
        }
    }

    #[test]
    fn error_message_names_the_problem() {
        let err = rewrite(b"<Error/>", "", |_| EntryRewrite::Keep).unwrap_err();
        assert_eq!(err.to_string(), "xml: unexpected root element <Error>");
    }

    #[test]
    fn replace_upload_id_in_create_multipart_upload() {
        let out = replace_upload_id(CREATE_MULTIPART.as_bytes(), "abc", "client-id&1").unwrap();
        assert_eq!(
            s(&out),
            CREATE_MULTIPART.replace("<UploadId>abc</UploadId>", "<UploadId>client-id&amp;1</UploadId>")
        );
        assert_eq!(
            flatten(&out),
            expect_changed(
                CREATE_MULTIPART,
                &[("InitiateMultipartUploadResult/UploadId", 0, "client-id&1")]
            )
        );
        // Another id is left alone.
        let out = replace_upload_id(CREATE_MULTIPART.as_bytes(), "abd", "x").unwrap();
        assert_eq!(s(&out), CREATE_MULTIPART);
    }

    #[test]
    fn replace_upload_id_in_list_parts() {
        let from = "XXBsb2FkIElEIGZvciBlbHZpbmcncyVcdS1tb3ZpZS5tMnRzEEEwbG9hZA";
        let out = replace_upload_id(LIST_PARTS.as_bytes(), from, "client-upload").unwrap();
        assert_eq!(s(&out), LIST_PARTS.replace(from, "client-upload"));
        // Nested UploadId elements (ListMultipartUploads) are replaced too; escaped text is compared unescaped.
        let xml = "<ListMultipartUploadsResult><Upload><Key>k</Key><UploadId>a&amp;b</UploadId></Upload>\
                   <Upload><UploadId>other</UploadId></Upload></ListMultipartUploadsResult>";
        let out = replace_upload_id(xml.as_bytes(), "a&b", "c").unwrap();
        assert_eq!(
            s(&out),
            "<ListMultipartUploadsResult><Upload><Key>k</Key><UploadId>c</UploadId></Upload>\
             <Upload><UploadId>other</UploadId></Upload></ListMultipartUploadsResult>"
        );
    }

    #[test]
    fn byte_order_mark_and_prefixed_names_survive() {
        let xml = "\u{FEFF}<?xml version=\"1.0\"?><s3:ListBucketResult xmlns:s3=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                   <s3:Contents><s3:Key>k</s3:Key><s3:Size>9</s3:Size></s3:Contents></s3:ListBucketResult>";
        let out = rewrite(xml.as_bytes(), "", |v| {
            assert_eq!((v.key, v.size), ("k", 9));
            EntryRewrite::Rewrite {
                size: 1,
                etag: "\"e\"".into(),
            }
        })
        .unwrap();
        assert_eq!(s(&out), xml.replace("<s3:Size>9</s3:Size>", "<s3:Size>1</s3:Size>"));
    }
}
