//! Listings (ListObjects, ListObjectsV2, ListObjectVersions) in the client's terms: plaintext sizes and client
//! ETags for the objects the gateway encrypted, computed from the listing alone (no per-object request), and the
//! gateway's own objects hidden.
//!
//! Which entries are encrypted? Every object written through the gateway is encrypted (SSE-S3 at least, as S3
//! does since 2023). Before its first write into a bucket the gateway writes an adoption marker
//! (`.s3-sse-proxy/adopted`); entries whose LastModified is not earlier than the marker's were written through
//! the gateway. Entries whose size fits no ciphertext layout are left as they are, whatever their time.

use super::client_etag;
use super::multipart::RESERVED_PREFIX;
use crate::crypto::size::plaintext_len;
use crate::error::S3Error;
use crate::response::listing::{self, EntryRewrite, EntryView};

pub const ADOPTED_KEY: &str = ".s3-sse-proxy/adopted";

/// Unix milliseconds of a listing's ISO 8601 LastModified (`2026-11-22T15:12:35.123Z`). The adoption time is
/// read from a listing too, so both sides have the listing's precision.
pub fn iso_millis(s: &str) -> Option<i64> {
    let fmt = time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(s, &fmt)
        .ok()
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
}

fn decide(e: &EntryView<'_>, adopted: Option<i64>) -> EntryRewrite {
    let ours = adopted.is_some_and(|t| iso_millis(e.last_modified).is_some_and(|m| m >= t));
    match (ours, plaintext_len(e.size)) {
        (true, Some(size)) => {
            let multipart = e.etag.trim_matches('"').contains('-');
            EntryRewrite::Rewrite {
                size,
                etag: client_etag(e.etag, !multipart),
            }
        }
        _ => EntryRewrite::Keep,
    }
}

pub fn rewrite(xml: &[u8], adopted: Option<i64>) -> Result<Vec<u8>, S3Error> {
    listing::rewrite(xml, RESERVED_PREFIX, |e| decide(e, adopted)).map_err(S3Error::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view<'a>(lm: &'a str, etag: &'a str, size: u64) -> EntryView<'a> {
        EntryView {
            key: "k",
            last_modified: lm,
            etag,
            size,
        }
    }

    #[test]
    fn only_entries_written_since_adoption_are_restated() {
        let t = iso_millis("2026-11-22T15:00:00.000Z");
        let c = crate::crypto::size::ciphertext_len(1000);
        assert_eq!(
            decide(&view("2026-11-22T15:00:01.000Z", "\"abc\"", c), t),
            EntryRewrite::Rewrite {
                size: 1000,
                etag: "\"abc-1\"".into()
            }
        );
        assert_eq!(
            decide(&view("2026-11-22T14:59:59.999Z", "\"abc\"", c), t),
            EntryRewrite::Keep
        );
        assert_eq!(
            decide(&view("2026-11-22T15:00:01.000Z", "\"abc\"", c), None),
            EntryRewrite::Keep
        );
        // A size no ciphertext can have is never restated.
        assert_eq!(
            decide(&view("2026-11-22T15:00:01.000Z", "\"abc\"", 5), t),
            EntryRewrite::Keep
        );
        // Multipart ETags keep their form.
        assert_eq!(
            decide(&view("2026-11-22T15:00:01.000Z", "\"abc-3\"", c), t),
            EntryRewrite::Rewrite {
                size: 1000,
                etag: "\"abc-3\"".into()
            }
        );
    }
}
