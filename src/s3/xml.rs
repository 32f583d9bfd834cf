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
