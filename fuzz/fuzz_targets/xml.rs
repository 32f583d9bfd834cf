//! S3 XML the gateway reads or rewrites: backend listings through the listing rewriter
//! (`src/response/listing.rs`: ListObjects V1/V2, ListObjectVersions, ListParts, with entries kept, rewritten or
//! hidden), `UploadId` replacement, PutBucketEncryption documents (`src/object/bucket_encryption.rs`), the
//! CompleteMultipartUpload body's part ETags (`src/object/multipart.rs`) and the element reader
//! (`src/s3/xml.rs`).
//!
//! Input: one byte choosing the rewrite decisions, then the document. Properties: no panic; what the rewriter
//! writes, it can read again; keeping every entry and hiding nothing changes nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use s3_sse_proxy::sse::bucket_default::{apply_default, blocks_sse_c, validate};
use s3_sse_proxy::bucket_state::RESERVED_PREFIX;
use s3_sse_proxy::sse::multipart::backend_part_etags;
use s3_sse_proxy::response::listing::{EntryRewrite, replace_upload_id, rewrite};
use s3_sse_proxy::sse::request::SseRequest;
use s3_sse_proxy::s3::xml::{xml_all, xml_text};

fuzz_target!(|data: &[u8]| {
    let Some((&seed, xml)) = data.split_first() else {
        return;
    };

    let mut n = 0u32;
    let decide = |e: &s3_sse_proxy::response::listing::EntryView<'_>| {
        n += 1;
        let _ = (e.key, e.last_modified, e.etag, e.size);
        match seed.rotate_left(n) % 3 {
            0 => EntryRewrite::Keep,
            1 => EntryRewrite::Rewrite {
                size: e.size / 2,
                etag: "\"<&'\\\"]]>-1\"".into(),
            },
            _ => EntryRewrite::Hide,
        }
    };
    let hidden = if seed & 0x80 != 0 { RESERVED_PREFIX } else { "" };
    if let Ok(out) = rewrite(xml, hidden, decide) {
        let again = rewrite(&out, "", |_| EntryRewrite::Keep).expect("the rewriter reads what it wrote");
        assert_eq!(again, out, "keeping everything changes nothing");
    }
    if let Ok(out) = replace_upload_id(xml, "upload-1", "upload-1~s3sp1~<&>") {
        replace_upload_id(&out, "x", "y").expect("replace_upload_id reads what it wrote");
    }

    let _ = validate(xml);
    let _ = blocks_sse_c(Some(xml), false);
    let _ = blocks_sse_c(Some(xml), true);
    for requested in [
        SseRequest::Unspecified,
        SseRequest::S3,
        SseRequest::Kms {
            key_id: None,
            context: None,
            bucket_key: None,
        },
    ] {
        let _ = apply_default(Some(xml), requested);
    }

    let fixed = backend_part_etags(xml);
    let text = String::from_utf8_lossy(&fixed);
    let _: Vec<u64> = xml_all(&text, "PartNumber")
        .iter()
        .filter_map(|n| n.parse().ok())
        .collect();
    let text = String::from_utf8_lossy(xml);
    for name in ["Key", "Contents", "UploadId", "ETag", "IsTruncated", "Code", "Message"] {
        let _ = xml_text(&text, name);
    }
});
