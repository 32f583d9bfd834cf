//! Listings as S3 writes them, from s3s-fs's: each entry with its ETag, StorageClass and (where asked) Owner,
//! keys URL-encoded when the client asked for `encoding-type=url`, and ListObjectVersions for a bucket that never
//! had versioning (each object once, as version "null"). It never reads an object's data when s3s-fs recorded its
//! ETag.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use s3s::dto::*;
use sha2::{Digest as _, Sha256};

use super::store::Store;

/// What S3 leaves unencoded in `encoding-type=url` listings: RFC 3986's unreserved characters and `/`.
const URL_ENCODED_KEY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

pub(super) fn url_encode(field: &mut Option<String>) {
    if let Some(v) = field.as_mut() {
        *v = utf8_percent_encode(v, URL_ENCODED_KEY).to_string();
    }
}

pub(super) fn wants_url(encoding: Option<&EncodingType>) -> bool {
    encoding.is_some_and(|e| e.as_str() == EncodingType::URL)
}

/// Encode the keys and prefixes of a listing (the fields the SDKs decode).
pub(super) fn url_encode_entries(contents: &mut Option<Vec<Object>>, prefixes: &mut Option<Vec<CommonPrefix>>) {
    for o in contents.iter_mut().flatten() {
        url_encode(&mut o.key);
    }
    for p in prefixes.iter_mut().flatten() {
        url_encode(&mut p.prefix);
    }
}

/// The owner S3 names in listings: one per access key (the embedded backend has no accounts). The ID has the
/// form of S3's canonical user IDs (64 hex digits).
pub(super) fn owner(access_key_id: Option<&str>) -> Owner {
    let name = access_key_id.unwrap_or("anonymous");
    Owner {
        display_name: Some(name.to_owned()),
        id: Some(hex::encode(Sha256::digest(name.as_bytes()))),
    }
}

/// Give each listed object its ETag (from what s3s-fs recorded), StorageClass, and `owner` if given. An entry
/// whose object vanished since s3s-fs listed it keeps no ETag.
pub(super) async fn complete_entries(
    store: &Store,
    bucket: &str,
    contents: &mut Option<Vec<Object>>,
    owner: Option<&Owner>,
) -> s3s::S3Result<()> {
    let Some(objects) = contents.as_mut() else {
        return Ok(());
    };
    let keys = objects.iter().map(|o| o.key.clone().unwrap_or_default()).collect();
    let etags = store.etags(bucket, keys).await?;
    for (o, etag) in objects.iter_mut().zip(etags) {
        o.e_tag = etag.map(ETag::Strong);
        o.storage_class = Some(ObjectStorageClass::from_static(ObjectStorageClass::STANDARD));
        o.owner = owner.cloned();
    }
    Ok(())
}

/// The ListObjectsV2 request that lists what a ListObjectVersions request asks for: in an unversioned bucket
/// every object has one version, so the key marker is where the listing starts.
pub(super) fn versions_as_v2(input: &ListObjectVersionsInput) -> ListObjectsV2Input {
    ListObjectsV2Input {
        bucket: input.bucket.clone(),
        delimiter: input.delimiter.clone(),
        max_keys: input.max_keys,
        prefix: input.prefix.clone(),
        start_after: input.key_marker.clone().filter(|m| !m.is_empty()),
        ..Default::default()
    }
}

/// A ListObjectVersions answer from the V2 listing (keys not yet URL-encoded, entries complete).
pub(super) fn versions_from_v2(
    input: ListObjectVersionsInput,
    v2: ListObjectsV2Output,
    owner: &Owner,
) -> ListObjectVersionsOutput {
    let versions = v2.contents.map(|objects| {
        objects
            .into_iter()
            .map(|o| ObjectVersion {
                e_tag: o.e_tag,
                is_latest: Some(true),
                key: o.key,
                last_modified: o.last_modified,
                owner: Some(owner.clone()),
                size: o.size,
                storage_class: Some(ObjectVersionStorageClass::from_static(
                    ObjectVersionStorageClass::STANDARD,
                )),
                version_id: Some("null".to_owned()),
                ..Default::default()
            })
            .collect()
    });
    let truncated = v2.is_truncated == Some(true);
    let mut out = ListObjectVersionsOutput {
        common_prefixes: v2.common_prefixes,
        delimiter: input.delimiter,
        encoding_type: input.encoding_type.clone(),
        is_truncated: Some(truncated),
        key_marker: Some(input.key_marker.unwrap_or_default()),
        max_keys: v2.max_keys,
        name: Some(input.bucket),
        next_key_marker: v2.next_continuation_token.filter(|_| truncated),
        next_version_id_marker: truncated.then(|| "null".to_owned()),
        prefix: Some(input.prefix.unwrap_or_default()),
        version_id_marker: Some(input.version_id_marker.unwrap_or_default()),
        versions,
        ..Default::default()
    };
    if wants_url(input.encoding_type.as_ref()) {
        for v in out.versions.iter_mut().flatten() {
            url_encode(&mut v.key);
        }
        for p in out.common_prefixes.iter_mut().flatten() {
            url_encode(&mut p.prefix);
        }
        for f in [
            &mut out.prefix,
            &mut out.delimiter,
            &mut out.key_marker,
            &mut out.next_key_marker,
        ] {
            url_encode(f);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(key: &str) -> Object {
        Object {
            key: Some(key.to_owned()),
            size: Some(3),
            e_tag: Some(ETag::Strong("abc".into())),
            ..Default::default()
        }
    }

    #[test]
    fn a_truncated_listing_of_versions_resumes_after_its_last_key() {
        let input = ListObjectVersionsInput {
            bucket: "b".into(),
            key_marker: Some("a".into()),
            max_keys: Some(2),
            ..Default::default()
        };
        let v2_in = versions_as_v2(&input);
        assert_eq!(v2_in.start_after.as_deref(), Some("a"));
        assert_eq!(v2_in.max_keys, Some(2));
        let v2 = ListObjectsV2Output {
            contents: Some(vec![object("b"), object("c")]),
            is_truncated: Some(true),
            next_continuation_token: Some("c".into()),
            max_keys: Some(2),
            ..Default::default()
        };
        let out = versions_from_v2(input, v2, &owner(Some("AK")));
        let versions = out.versions.unwrap();
        assert_eq!(versions.len(), 2);
        assert!(
            versions
                .iter()
                .all(|v| v.version_id.as_deref() == Some("null") && v.is_latest == Some(true))
        );
        assert_eq!(versions[0].e_tag, Some(ETag::Strong("abc".into())));
        assert_eq!(out.next_key_marker.as_deref(), Some("c"));
        assert_eq!(out.next_version_id_marker.as_deref(), Some("null"));
    }

    #[test]
    fn versions_listed_url_encoded_encode_keys_and_markers() {
        let input = ListObjectVersionsInput {
            bucket: "b".into(),
            encoding_type: Some(EncodingType::from_static(EncodingType::URL)),
            prefix: Some("a b/".into()),
            ..Default::default()
        };
        let v2 = ListObjectsV2Output {
            contents: Some(vec![object("a b/c+d")]),
            ..Default::default()
        };
        let out = versions_from_v2(input, v2, &owner(None));
        assert_eq!(out.versions.unwrap()[0].key.as_deref(), Some("a%20b/c%2Bd"));
        assert_eq!(out.prefix.as_deref(), Some("a%20b/"));
        assert_eq!(out.is_truncated, Some(false));
        assert_eq!(out.next_key_marker, None);
    }
}
