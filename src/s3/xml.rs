//! Reading simple XML documents (S3 listings, S3 and AWS error bodies) by element name, without a parser:
//! enough for documents whose elements of interest hold text only.

/// The text of the first `<name>` element.
pub fn xml_text(xml: &str, name: &str) -> Option<String> {
    xml_all(xml, name).into_iter().next()
}

/// The texts of every `<name>` element, in order.
pub fn xml_all(xml: &str, name: &str) -> Vec<String> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push(after[..j].to_owned());
        rest = &after[j + close.len()..];
    }
    out
}

/// Unix milliseconds of a listing's ISO 8601 LastModified (`2026-11-22T15:12:35.123Z`). The adoption time is
/// read from a listing too, so both sides have the listing's precision.
pub fn iso_millis(s: &str) -> Option<i64> {
    let fmt = time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(s, &fmt)
        .ok()
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
}
