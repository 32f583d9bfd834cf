//! Listings (ListObjects, ListObjectsV2, ListObjectVersions) in the client's terms: plaintext sizes and client
//! ETags for the objects the gateway encrypted, computed from the listing alone (no per-object request; the one
//! exception, multipart objects with odd parts completed without their SSE-C key, read a size record, and only in
//! buckets that hold one), and the gateway's own objects hidden.
//!
//! Which entries are encrypted? Every object written through the gateway is encrypted (SSE-S3 at least, as S3
//! does since 2023). Before its first write into a bucket the gateway writes an adoption marker
//! (`.s3-sse-proxy/adopted`); entries whose LastModified is not earlier than the marker's were written through
//! the gateway.
//!
//! Also ListBuckets: a credential limited to some buckets does not learn the names of the others. Entries whose size fits no ciphertext layout are left as they are, whatever their time.

use std::collections::HashMap;

use futures_util::{StreamExt, stream};
use http::{Method, Response};

use super::ReqCtx;
use crate::body::Body;
use crate::bucket_state::RESERVED_PREFIX;
use crate::crypto::size::plaintext_len;
use crate::error::S3Error;
use crate::response::listing::{self, EntryRewrite, EntryView};
use crate::response::{self, filter_buckets};
use crate::s3::operation::Operation;
use crate::s3::request::remove_query_param;
use crate::s3::xml::{iso_millis, xml_text};
use crate::sse::client_etag;

/// ListBuckets, without the buckets the credential may not access.
pub async fn list_buckets(mut ctx: ReqCtx<'_>) -> Result<Response<Body>, S3Error> {
    let Some(credential) = ctx.credential.clone().filter(|c| !c.may_access_all_buckets()) else {
        return super::forward::handle(ctx).await;
    };
    let headers = ctx.forwarded_headers();
    let body = ctx.take_body();
    let resp = ctx.send_as_is(headers, body).await?;
    if !resp.status().is_success() {
        return Ok(response::pass_through(resp));
    }
    response::restate(resp, |xml| {
        Ok(filter_buckets(&String::from_utf8_lossy(&xml), |b| credential.may_access_bucket(b)).into_bytes())
    })
    .await
}

/// How many times a listing page is asked for again because the gateway's records took places in it.
const REFILLS: usize = 3;
/// How many pages made only of records a listing walks through (a full page each) before it answers one.
const WALKS: usize = 20;

/// ListObjects, ListObjectsV2, ListObjectVersions: plaintext sizes and client ETags, reserved keys hidden.
///
/// Hidden records take places of the page's `max-keys` at the backend (they sort early: `.` comes before digits
/// and letters), and a bucket may hold more of them than a page. A page that shows nothing of the client's and
/// ends among the records is walked past: the listing goes on from where it ended (the backend's own next
/// marker or token), a full page at a time. A page with records in it is asked for again from the same place
/// with room for them (`max-keys` plus what was hidden, at most S3's 1000), and answered with the client's own
/// `MaxKeys`.
pub async fn list_objects(ctx: ReqCtx<'_>) -> Result<Response<Body>, S3Error> {
    let (op, bucket) = (ctx.op(), ctx.bucket());
    let adopted = ctx.buckets.adoption_time(op, bucket, false).await?;
    let headers = ctx.forwarded_headers();
    let asked: u64 = ctx
        .req
        .query_param("max-keys")
        .and_then(|m| m.parse().ok())
        .unwrap_or(MAX_KEYS)
        .min(MAX_KEYS);
    let mut max_keys = asked;
    let mut from = ctx.req.raw_query().unwrap_or("").to_owned();
    let (mut walks, mut refills) = (0, 0);
    loop {
        let query = format!("{}&max-keys={max_keys}", remove_query_param(Some(&from), "max-keys"));
        let uri = ctx.uri_with_query(query.trim_start_matches('&'))?;
        let resp = ctx.upstream.call(op, Method::GET, uri, headers.clone()).await?;
        if !resp.status().is_success() {
            return Ok(response::pass_through(resp));
        }
        let (parts, body) = resp.into_parts();
        let xml = crate::body::collect_limited(body, response::SMALL_LIMIT)
            .await
            .map_err(|()| S3Error::internal("reading a listing failed or exceeded its limit"))?;
        let leaking = leaking_prefixes(&ctx, &xml).await?;
        let truncated = xml_text(&String::from_utf8_lossy(&xml), "IsTruncated").as_deref() == Some("true");
        let (entries, last) = listing::entries_and_last(&xml).map_err(S3Error::internal)?;
        let recorded = recorded_sizes(&ctx, &xml, adopted).await?;
        let (mut out, hidden) =
            listing::rewrite_counting(&xml, RESERVED_PREFIX, &leaking, |e| decide(e, adopted, &recorded))
                .map_err(S3Error::internal)?;
        let shown = entries - hidden.min(entries);
        if shown == 0
            && truncated
            && walks < WALKS
            && let Some(next) = last
                .filter(|k| k.starts_with(RESERVED_PREFIX))
                .and_then(|k| continue_after(op, &from, &xml, &k))
        {
            // Nothing of the client's: walk on past the records.
            (from, max_keys, walks) = (next, MAX_KEYS, walks + 1);
            continue;
        }
        // A page that shows more than the client asked for (after a walk, or with records inside it): from
        // the same place, with room for exactly this page's records.
        let over = shown > asked;
        // A truncated page holds `max_keys` entries, `hidden` of them records.
        let short = hidden > 0 && truncated && shown < asked && max_keys < MAX_KEYS;
        if (over || short) && refills < REFILLS {
            (max_keys, refills) = ((asked + hidden).min(MAX_KEYS), refills + 1);
            continue;
        }
        if max_keys != asked {
            out = listing::replace_leaf(&out, b"MaxKeys", |_| Some(asked.to_string())).map_err(S3Error::internal)?;
        }
        if walks > 0 {
            out = echo_request(&ctx, out)?;
        }
        return Ok(response::restated(parts, out));
    }
}

/// A page answered after a walk echoes where the walk went on from, not where the client asked to start: make it
/// echo the client's own parameters, as S3 does. ListObjectsV2 shows `ContinuationToken` and `StartAfter` only
/// when they were sent; ListObjects' `Marker` and ListObjectVersions' `KeyMarker` and `VersionIdMarker` are always
/// there (empty when not sent). With `encoding-type=url` the echoed key (`StartAfter`, `Marker`, `KeyMarker`) is
/// URL-encoded, like the listed keys.
fn echo_request(ctx: &ReqCtx<'_>, xml: Vec<u8>) -> Result<Vec<u8>, S3Error> {
    // (element, query parameter) pairs: always echoed, and echoed only when sent.
    type Echoes = &'static [(&'static str, &'static str)];
    let (always, sent_only): (Echoes, Echoes) = match ctx.op() {
        Operation::ListObjectsV2 => (
            &[],
            &[
                ("ContinuationToken", "continuation-token"),
                ("StartAfter", "start-after"),
            ],
        ),
        Operation::ListObjectVersions => (
            &[("KeyMarker", "key-marker"), ("VersionIdMarker", "version-id-marker")],
            &[],
        ),
        _ => (&[("Marker", "marker")], &[]),
    };
    let url = ctx.req.query_param("encoding-type") == Some("url");
    let theirs = |param: &str| {
        ctx.req.query_param(param).map(|v| match url {
            // S3 encodes the key markers; a token or version id is echoed as it is.
            true if !matches!(param, "continuation-token" | "version-id-marker") => {
                crate::auth::canonical::uri_encode(v)
            }
            _ => v.to_owned(),
        })
    };
    let mut out = xml;
    for (element, param) in always {
        let value = theirs(param).unwrap_or_default();
        out = listing::set_root_leaf(&out, element, Some(&value)).map_err(S3Error::internal)?;
    }
    for (element, param) in sent_only {
        out = listing::set_root_leaf(&out, element, theirs(param).as_deref()).map_err(S3Error::internal)?;
    }
    Ok(out)
}

/// The query that lists on from where the page `xml` (which ended with `last`) ended: the backend's own next
/// marker or token, which names an entry that exists (some backends mishandle markers that do not).
fn continue_after(op: Operation, query: &str, xml: &[u8], last: &str) -> Option<String> {
    let text = String::from_utf8_lossy(xml);
    let set = |q: &str, name: &str, value: &str| {
        let q = remove_query_param(Some(q), name);
        format!("{q}&{name}={}", crate::auth::canonical::uri_encode(value))
    };
    let url = xml_text(&text, "EncodingType").as_deref() == Some("url");
    let decoded = |v: String| {
        let v = quick_xml::escape::unescape(&v).ok()?.into_owned();
        Some(match url {
            true => percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned(),
            false => v,
        })
    };
    match op {
        Operation::ListObjectsV2 => {
            let token = decoded(xml_text(&text, "NextContinuationToken")?)?;
            Some(set(
                &remove_query_param(Some(query), "start-after"),
                "continuation-token",
                &token,
            ))
        }
        Operation::ListObjectVersions => {
            let key = decoded(xml_text(&text, "NextKeyMarker")?)?;
            let version = xml_text(&text, "NextVersionIdMarker").and_then(decoded);
            let q = set(query, "key-marker", &key);
            Some(match version {
                Some(v) => set(&q, "version-id-marker", &v),
                None => remove_query_param(Some(&q), "version-id-marker"),
            })
        }
        // ListObjects: NextMarker with a delimiter, else the last key.
        _ => {
            let marker = xml_text(&text, "NextMarker")
                .and_then(decoded)
                .unwrap_or_else(|| last.to_owned());
            Some(set(query, "marker", &marker))
        }
    }
}

/// The common prefixes of a listing page that the gateway's records made (`.s3-` with delimiter `-`, `.` with
/// delimiter `.`: prefixes of [`RESERVED_PREFIX`]) and under which the client has nothing: hidden like the
/// records. At most a few per page, each checked with one or two one-entry listings.
async fn leaking_prefixes(ctx: &ReqCtx<'_>, xml: &[u8]) -> Result<Vec<String>, S3Error> {
    let versions = ctx.op() == Operation::ListObjectVersions;
    let mut leaking = Vec::new();
    for p in listing::common_prefixes(xml).map_err(S3Error::internal)? {
        let made_by_records = !p.is_empty() && RESERVED_PREFIX.starts_with(&p) && p != RESERVED_PREFIX;
        if made_by_records
            && !ctx
                .buckets
                .holds_client_entries(ctx.op(), ctx.bucket(), &p, versions)
                .await?
        {
            leaking.push(p);
        }
    }
    Ok(leaking)
}

/// S3's largest (and default) page.
const MAX_KEYS: u64 = 1000;

/// A listing entry: (key as listed, ETag as listed).
type Entry = (String, String);
/// Recorded plaintext sizes, by entry.
type Recorded = HashMap<Entry, u64>;

/// How many size records a listing page reads at once.
const LOOKUPS: usize = 16;

/// The recorded sizes of the page's multipart objects whose stored size does not tell their plaintext size
/// (parts of odd sizes, not rewritten at Complete: docs/format.md §6.6). Only in a bucket that holds such records:
/// then one record read per multipart entry of the page, [`LOOKUPS`] at a time.
async fn recorded_sizes(ctx: &ReqCtx<'_>, xml: &[u8], adopted: Option<i64>) -> Result<Recorded, S3Error> {
    let (op, bucket) = (ctx.op(), ctx.bucket());
    if adopted.is_none() || !ctx.buckets.has_size_records(op, bucket).await? {
        return Ok(Recorded::new());
    }
    let mut wanted = Vec::new();
    listing::rewrite(xml, RESERVED_PREFIX, |e| {
        if ours(e, adopted) && is_multipart(e.etag) {
            wanted.push((e.key.to_owned(), e.etag.to_owned()));
        }
        EntryRewrite::Keep
    })
    .map_err(S3Error::internal)?;
    wanted.sort_unstable();
    wanted.dedup();
    let url = xml_text(&String::from_utf8_lossy(xml), "EncodingType").as_deref() == Some("url");
    let found: Vec<Result<Option<(Entry, u64)>, S3Error>> = stream::iter(wanted)
        .map(|(listed, etag)| async move {
            let key = match url {
                true => percent_encoding::percent_decode_str(&listed.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned(),
                false => listed.clone(),
            };
            let size = ctx.buckets.recorded_size(op, bucket, &key, &etag).await?;
            Ok(size.map(|s| ((listed, etag), s)))
        })
        .buffer_unordered(LOOKUPS)
        .collect()
        .await;
    found.into_iter().filter_map(Result::transpose).collect()
}

/// Written through the gateway (not earlier than the bucket's adoption), hence encrypted if its size fits.
fn ours(e: &EntryView<'_>, adopted: Option<i64>) -> bool {
    adopted.is_some_and(|t| iso_millis(e.last_modified).is_some_and(|m| m >= t))
}

fn is_multipart(etag: &str) -> bool {
    etag.trim_matches('"').contains('-')
}

fn decide(e: &EntryView<'_>, adopted: Option<i64>, recorded: &Recorded) -> EntryRewrite {
    if !ours(e, adopted) {
        return EntryRewrite::Keep;
    }
    let multipart = is_multipart(e.etag);
    let size = match multipart {
        true => recorded
            .get(&(e.key.to_owned(), e.etag.to_owned()))
            .copied()
            .or_else(|| plaintext_len(e.size)),
        false => plaintext_len(e.size),
    };
    match size {
        Some(size) => EntryRewrite::Rewrite {
            size,
            etag: client_etag(e.etag, !multipart),
        },
        None => EntryRewrite::Keep,
    }
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
        let none = Recorded::new();
        assert_eq!(
            decide(&view("2026-11-22T15:00:01.000Z", "\"abc\"", c), t, &none),
            EntryRewrite::Rewrite {
                size: 1000,
                etag: "\"abc-1\"".into()
            }
        );
        assert_eq!(
            decide(&view("2026-11-22T14:59:59.999Z", "\"abc\"", c), t, &none),
            EntryRewrite::Keep
        );
        assert_eq!(
            decide(&view("2026-11-22T15:00:01.000Z", "\"abc\"", c), None, &none),
            EntryRewrite::Keep
        );
        // A size no ciphertext can have is never restated.
        assert_eq!(
            decide(&view("2026-11-22T15:00:01.000Z", "\"abc\"", 5), t, &none),
            EntryRewrite::Keep
        );
        // Multipart ETags keep their form.
        assert_eq!(
            decide(&view("2026-11-22T15:00:01.000Z", "\"abc-3\"", c), t, &none),
            EntryRewrite::Rewrite {
                size: 1000,
                etag: "\"abc-3\"".into()
            }
        );
    }

    #[test]
    fn a_recorded_size_wins_for_its_multipart_key_and_etag_only() {
        let t = iso_millis("2026-11-22T15:00:00.000Z");
        let lm = "2026-11-22T15:00:01.000Z";
        // Parts of odd sizes: the stored size is one no single stream has, or one that states another size.
        let stored = crate::crypto::size::ciphertext_len(5 * 1024 * 1024 + 1) + crate::crypto::size::ciphertext_len(1);
        let recorded: Recorded = [(("k".to_owned(), "\"abc-2\"".to_owned()), 5 * 1024 * 1024 + 2)].into();
        assert_eq!(
            decide(&view(lm, "\"abc-2\"", stored), t, &recorded),
            EntryRewrite::Rewrite {
                size: 5 * 1024 * 1024 + 2,
                etag: "\"abc-2\"".into()
            }
        );
        // Another ETag (the key was written again since): the record is not this object's.
        assert_eq!(
            decide(&view(lm, "\"abd-2\"", stored), t, &recorded),
            match plaintext_len(stored) {
                Some(size) => EntryRewrite::Rewrite {
                    size,
                    etag: "\"abd-2\"".into()
                },
                None => EntryRewrite::Keep,
            }
        );
        // Before adoption: not the gateway's, whatever is recorded.
        assert_eq!(
            decide(&view("2026-11-22T14:00:00.000Z", "\"abc-2\"", stored), t, &recorded),
            EntryRewrite::Keep
        );
    }
}
