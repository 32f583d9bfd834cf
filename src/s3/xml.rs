//! Reading simple XML documents (S3 listings, S3 and AWS error bodies) by element name, without a parser:
//! enough for documents whose elements of interest hold text only.

use crate::error::{S3Error, S3ErrorCode};

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

/// A `<Tagging>` document (a POST form's `tagging` field, a GetObjectTagging answer):
/// `<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag>…` as PutObject's
/// `x-amz-tagging` header (`k=v&…`, URL-encoded).
pub fn tagging_header(xml: &str) -> Result<String, S3Error> {
    let malformed_xml = || {
        S3Error::new(
            S3ErrorCode::MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema",
        )
    };
    let unescape = |s: String| {
        quick_xml::escape::unescape(&s)
            .map(std::borrow::Cow::into_owned)
            .map_err(|_| malformed_xml())
    };
    // The root may carry a namespace (`<Tagging xmlns=…>`, as GetObjectTagging answers).
    if !(xml.contains("<Tagging>") || xml.contains("<Tagging ")) {
        return Err(malformed_xml());
    }
    let set = xml_text(xml, "TagSet").ok_or_else(malformed_xml)?;
    let enc = crate::auth::canonical::uri_encode;
    let mut pairs = Vec::new();
    for tag in xml_all(&set, "Tag") {
        let key = unescape(xml_text(&tag, "Key").ok_or_else(malformed_xml)?)?;
        let value = unescape(xml_text(&tag, "Value").unwrap_or_default())?;
        pairs.push(format!("{}={}", enc(&key), enc(&value)));
    }
    Ok(pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagging_documents_with_or_without_a_namespace() {
        let ns = "<?xml version=\"1.0\"?><Tagging xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><TagSet>\
                  <Tag><Key>a b</Key><Value>x&amp;y</Value></Tag></TagSet></Tagging>";
        assert_eq!(tagging_header(ns).unwrap(), "a%20b=x%26y");
        assert_eq!(tagging_header("<Tagging><TagSet></TagSet></Tagging>").unwrap(), "");
        let e = tagging_header("<TagSet><Tag><Key>a</Key></Tag></TagSet>").unwrap_err();
        assert_eq!(e.code, S3ErrorCode::MalformedXML);
    }
}
