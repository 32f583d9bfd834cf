//! CopyObject and UploadPartCopy: the pieces that need no I/O. An encrypted source keeps its data key; only
//! the seal changes (a metadata-only server-side copy), because the seal names the object. A plaintext source,
//! and every UploadPartCopy (the part needs the upload's data key), is decrypted and re-encrypted as a stream.

use crate::auth::canonical::percent_decode;
use crate::error::{S3Error, S3ErrorCode};

/// `x-amz-copy-source`: bucket, key, and an optional version id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySource {
    pub bucket: String,
    pub key: String,
    pub version_id: Option<String>,
}

pub fn parse_copy_source(v: &str) -> Result<CopySource, S3Error> {
    let bad = || {
        S3Error::new(
            S3ErrorCode::InvalidArgument,
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey.",
        )
    };
    let (path, query) = v.split_once('?').unwrap_or((v, ""));
    let path = percent_decode(path.trim_start_matches('/'));
    let (bucket, key) = path.split_once('/').ok_or_else(bad)?;
    if bucket.is_empty() || key.is_empty() {
        return Err(bad());
    }
    let version_id = query
        .split('&')
        .find_map(|p| p.strip_prefix("versionId="))
        .map(percent_decode);
    Ok(CopySource {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        version_id,
    })
}

/// Response headers of a source object that S3 copies along with user metadata under `COPY`.
pub const COPIED_HEADERS: &[&str] = &[
    "content-type",
    "content-encoding",
    "content-disposition",
    "content-language",
    "cache-control",
    "expires",
];

pub fn copy_result_xml(element: &str, etag: &str, last_modified: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{element} xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
         <LastModified>{last_modified}</LastModified><ETag>{}</ETag></{element}>",
        crate::error::xml_escape(etag)
    )
}

/// Now, as S3 writes LastModified in XML.
pub fn now_iso() -> String {
    let now = time::OffsetDateTime::now_utc();
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    now.format(&fmt).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_sources_as_clients_send_them() {
        let s = parse_copy_source("/src-bucket/dir/a%20b.txt?versionId=v1").unwrap();
        assert_eq!(
            (s.bucket.as_str(), s.key.as_str(), s.version_id.as_deref()),
            ("src-bucket", "dir/a b.txt", Some("v1"))
        );
        let s = parse_copy_source("src-bucket/k").unwrap();
        assert_eq!(
            (s.bucket.as_str(), s.key.as_str(), s.version_id),
            ("src-bucket", "k", None)
        );
        assert!(parse_copy_source("/only-bucket").is_err());
    }
}
