//! Object tagging, which s3s-fs 0.14 does not implement: GetObjectTagging and PutObjectTagging answered 501, and
//! the `x-amz-tagging` of a PutObject, CopyObject or CreateMultipartUpload was dropped without a word.
//!
//! An object's tags live next to s3s-fs's own files for it, in its root (`…<object>.tags.json`, named as
//! s3s-fs names its per-object files, so long keys fit), as a JSON list of `[key, value]` pairs in the order
//! given. Every write of the object sets them or removes them (a new object has the tags its write named, or
//! none), as does DeleteObject. S3's limits are checked before anything is stored: at most 10 tags, keys of 1 to
//! 128 characters, values of at most 256, no key twice (400 `InvalidTag`).

use std::path::PathBuf;

use s3s::dto::{Tag, TagSet};
use s3s::{S3Result, s3_error};

use super::store::Store;

/// An object's tags: (key, value) pairs.
pub(super) type Tags = Vec<(String, String)>;

fn path(store: &Store, bucket: &str, key: &str) -> PathBuf {
    store.root().join(s3s_fs::object_file_name(bucket, key, ".tags.json"))
}

fn invalid(message: &str) -> s3s::S3Error {
    s3_error!(InvalidTag, "{message}")
}

/// Check `tags` against S3's limits.
pub(super) fn check(tags: &Tags) -> S3Result<()> {
    if tags.len() > 10 {
        return Err(invalid("Object tags cannot be greater than 10"));
    }
    for (i, (k, v)) in tags.iter().enumerate() {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(invalid("The TagKey you have provided is invalid"));
        }
        if v.chars().count() > 256 {
            return Err(invalid("The TagValue you have provided is invalid"));
        }
        if tags[..i].iter().any(|(other, _)| other == k) {
            return Err(invalid("Cannot provide multiple Tags with the same key"));
        }
    }
    Ok(())
}

/// The tags of an `x-amz-tagging` header (`k1=v1&k2=v2`, URL-encoded), checked.
pub(super) fn from_header(header: Option<&str>) -> S3Result<Tags> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(std::borrow::Cow::into_owned)
            .map_err(|_| invalid("The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates."))
    };
    let mut tags = Tags::new();
    for pair in header.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        tags.push((decode(k)?, decode(v)?));
    }
    check(&tags)?;
    Ok(tags)
}

/// The tags of a PutObjectTagging body, checked.
pub(super) fn from_set(set: &TagSet) -> S3Result<Tags> {
    let tags: Tags = set
        .iter()
        .map(|t| (t.key.clone().unwrap_or_default(), t.value.clone().unwrap_or_default()))
        .collect();
    check(&tags)?;
    Ok(tags)
}

pub(super) fn to_set(tags: Tags) -> TagSet {
    tags.into_iter()
        .map(|(k, v)| Tag {
            key: Some(k),
            value: Some(v),
        })
        .collect()
}

/// The tags of `bucket/key` (none when it has none).
pub(super) async fn read(store: &Store, bucket: &str, key: &str) -> S3Result<Tags> {
    match tokio::fs::read(path(store, bucket, key)).await {
        Ok(json) => serde_json::from_slice(&json).map_err(|e| s3_error!(e, InternalError, "an object's tags")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Tags::new()),
        Err(e) => Err(s3_error!(e, InternalError, "reading an object's tags")),
    }
}

/// Make `tags` the tags of `bucket/key` (none: remove them). Call it under the key's write lock.
pub(super) async fn write(store: &Store, bucket: &str, key: &str, tags: &Tags) -> S3Result<()> {
    let path = path(store, bucket, key);
    if tags.is_empty() {
        return match tokio::fs::remove_file(&path).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(s3_error!(e, InternalError, "removing tags")),
            _ => Ok(()),
        };
    }
    let json = serde_json::to_vec(tags).map_err(|e| s3_error!(e, InternalError))?;
    // Under the key's write lock no other writer uses this name.
    let tmp = store.root().join(s3s_fs::object_file_name(bucket, key, ".tags.tmp"));
    tokio::fs::write(&tmp, json)
        .await
        .map_err(|e| s3_error!(e, InternalError, "writing tags"))?;
    tokio::fs::rename(&tmp, &path)
        .await
        .map_err(|e| s3_error!(e, InternalError, "writing tags"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn the_header_is_url_encoded_pairs() {
        assert_eq!(
            from_header(Some("project=blue%20green&x=1+2&empty=")).unwrap(),
            tags(&[("project", "blue green"), ("x", "1 2"), ("empty", "")])
        );
        assert_eq!(from_header(None).unwrap(), Tags::new());
        assert_eq!(from_header(Some("")).unwrap(), Tags::new());
    }

    #[test]
    fn s3s_limits_are_refused_with_invalid_tag() {
        let eleven: String = (0..11).map(|i| format!("k{i}=v")).collect::<Vec<_>>().join("&");
        for bad in [
            eleven,
            "a=1&a=2".to_owned(),
            format!("{}=v", "k".repeat(129)),
            format!("k={}", "v".repeat(257)),
            "=v".to_owned(),
        ] {
            let e = from_header(Some(&bad)).unwrap_err();
            assert_eq!(e.code().as_str(), "InvalidTag", "{bad}");
        }
        assert!(from_header(Some(&format!("{}={}", "k".repeat(128), "v".repeat(256)))).is_ok());
    }
}
