//! ListMultipartUploads, which s3s-fs 0.14 does not implement (it answered 501 NotImplemented, so `aws s3api
//! list-multipart-uploads`, `rclone cleanup` and scripts that abort stale uploads failed on the quick start).
//!
//! s3s-fs's own record of an upload (`.upload-<id>.json`) names neither bucket nor key, so each upload that
//! CreateMultipartUpload opens is recorded here too, in the root, as `.embedded-upload-<id>.json` (bucket, key,
//! initiation time, initiator, and the tags its object gets at Complete), and forgotten at Complete and Abort. A listing reads these records, keeps the
//! uploads s3s-fs still has open, and pages them as S3 does: by key, then by initiation time; `prefix`,
//! `delimiter` (common prefixes), `key-marker` with `upload-id-marker`, `max-uploads` (at most 1000),
//! `encoding-type=url`.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use s3s::dto::*;
use s3s::{S3Result, s3_error};
use serde_json::json;

use super::listing::{owner, url_encode, wants_url};
use super::store::Store;

/// The most uploads one page lists (S3's limit and default).
const MAX_UPLOADS: usize = 1000;

/// One open upload, as recorded at CreateMultipartUpload.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Recorded {
    key: String,
    upload_id: String,
    /// Unix milliseconds.
    initiated: u64,
    initiator: Option<String>,
}

fn record_path(root: &std::path::Path, upload_id: &str) -> PathBuf {
    root.join(format!(".embedded-upload-{upload_id}.json"))
}

/// Record the upload `upload_id` just opened for `bucket/key` by `access_key`.
pub(super) async fn remember(
    store: &Store,
    bucket: &str,
    key: &str,
    upload_id: &str,
    access_key: Option<&str>,
    tags: &super::tagging::Tags,
) -> S3Result<()> {
    let initiated = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let record =
        json!({"bucket": bucket, "key": key, "initiated_ms": initiated, "initiator": access_key, "tags": tags});
    let json = serde_json::to_vec(&record).map_err(|e| s3_error!(e, InternalError))?;
    tokio::fs::write(record_path(store.root(), upload_id), json)
        .await
        .map_err(|e| s3_error!(e, InternalError, "recording the upload"))
}

/// The tags CreateMultipartUpload named for the upload's object (none if it named none, or the record is gone).
pub(super) async fn tags_of(store: &Store, upload_id: &str) -> super::tagging::Tags {
    let Ok(bytes) = tokio::fs::read(record_path(store.root(), upload_id)).await else {
        return Vec::new();
    };
    serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| serde_json::from_value(v["tags"].clone()).ok())
        .unwrap_or_default()
}

/// Forget the upload `upload_id` (completed or aborted). Best effort: a record whose upload s3s-fs no longer has
/// open is never listed.
pub(super) async fn forget(store: &Store, upload_id: &str) {
    let _ = tokio::fs::remove_file(record_path(store.root(), upload_id)).await;
}

/// Every recorded upload of `bucket` that s3s-fs still has open, sorted by key, then initiation time.
async fn open_uploads(store: &Store, bucket: &str) -> S3Result<Vec<Recorded>> {
    let mut dir = tokio::fs::read_dir(store.root())
        .await
        .map_err(|e| s3_error!(e, InternalError))?;
    let mut found = Vec::new();
    while let Some(entry) = dir.next_entry().await.map_err(|e| s3_error!(e, InternalError))? {
        let name = entry.file_name();
        let Some(id) = name
            .to_str()
            .and_then(|n| n.strip_prefix(".embedded-upload-"))
            .and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        let Ok(bytes) = tokio::fs::read(entry.path()).await else {
            continue;
        };
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            continue;
        };
        if v["bucket"].as_str() != Some(bucket) || store.upload(id).await.is_err() {
            continue;
        }
        let Some(key) = v["key"].as_str() else { continue };
        found.push(Recorded {
            key: key.to_owned(),
            upload_id: id.to_owned(),
            initiated: v["initiated_ms"].as_u64().unwrap_or(0),
            initiator: v["initiator"].as_str().map(str::to_owned),
        });
    }
    found.sort_by(|a, b| (&a.key, a.initiated, &a.upload_id).cmp(&(&b.key, b.initiated, &b.upload_id)));
    Ok(found)
}

/// One page of a listing: uploads and common prefixes, and where the next page starts (key, upload id).
#[derive(Debug, Default, PartialEq, Eq)]
struct Page {
    uploads: Vec<Recorded>,
    prefixes: Vec<String>,
    next: Option<(String, String)>,
}

/// The page `input` asks for of `all` (sorted as [`open_uploads`] sorts them). Pure.
fn page(all: Vec<Recorded>, input: &ListMultipartUploadsInput) -> Page {
    let prefix = input.prefix.as_deref().unwrap_or("");
    let delimiter = input.delimiter.as_deref().filter(|d| !d.is_empty());
    let max = input
        .max_uploads
        .map_or(MAX_UPLOADS, |m| usize::try_from(m).unwrap_or(0).min(MAX_UPLOADS));
    let key_marker = input.key_marker.as_deref().filter(|m| !m.is_empty());
    let id_marker = input.upload_id_marker.as_deref().filter(|m| !m.is_empty());
    // After the marker: later keys; with an upload-id marker, also the marker key's uploads after that one.
    let start = match (key_marker, id_marker) {
        (None, _) => 0,
        (Some(k), None) => all.partition_point(|u| u.key.as_str() <= k),
        (Some(k), Some(id)) => match all.iter().position(|u| u.key == k && u.upload_id == id) {
            Some(i) => i + 1,
            None => all.partition_point(|u| u.key.as_str() < k || (u.key == k && u.upload_id.as_str() <= id)),
        },
    };
    let mut out = Page::default();
    let mut last: Option<(String, String)> = None;
    let mut taken = 0;
    for u in all.into_iter().skip(start).filter(|u| u.key.starts_with(prefix)) {
        let rolled = delimiter.and_then(|d| {
            let rest = &u.key[prefix.len()..];
            rest.find(d).map(|i| format!("{prefix}{}", &rest[..i + d.len()]))
        });
        if let Some(p) = &rolled
            && out.prefixes.last() == Some(p)
        {
            last = Some((u.key.clone(), u.upload_id.clone()));
            continue;
        }
        if taken == max {
            // More follow: the next page starts after the last one listed (or rolled up).
            out.next = last;
            return out;
        }
        taken += 1;
        last = Some((u.key.clone(), u.upload_id.clone()));
        match rolled {
            Some(p) => out.prefixes.push(p),
            None => out.uploads.push(u),
        }
    }
    out
}

/// ListMultipartUploads of `input.bucket` (NoSuchBucket without it).
pub(super) async fn list(store: &Store, input: ListMultipartUploadsInput) -> S3Result<ListMultipartUploadsOutput> {
    store.bucket(&input.bucket).await?;
    let all = open_uploads(store, &input.bucket).await?;
    let page = page(all, &input);
    let url = wants_url(input.encoding_type.as_ref());
    let encode = |s: String| {
        let mut f = Some(s);
        if url {
            url_encode(&mut f);
        }
        f
    };
    let uploads = page
        .uploads
        .into_iter()
        .map(|u| {
            let who = owner(u.initiator.as_deref());
            MultipartUpload {
                initiated: Some(Timestamp::from(
                    SystemTime::UNIX_EPOCH + Duration::from_millis(u.initiated),
                )),
                initiator: Some(Initiator {
                    display_name: who.display_name.clone(),
                    id: who.id.clone(),
                }),
                key: encode(u.key),
                owner: Some(who),
                storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
                upload_id: Some(u.upload_id),
                ..Default::default()
            }
        })
        .collect();
    let prefixes = page
        .prefixes
        .into_iter()
        .map(|p| CommonPrefix { prefix: encode(p) })
        .collect();
    let truncated = page.next.is_some();
    let (next_key, next_id) = page.next.unzip();
    Ok(ListMultipartUploadsOutput {
        bucket: Some(input.bucket),
        common_prefixes: Some(prefixes),
        delimiter: input.delimiter.and_then(encode),
        encoding_type: input.encoding_type,
        is_truncated: Some(truncated),
        key_marker: encode(input.key_marker.unwrap_or_default()),
        max_uploads: Some(input.max_uploads.unwrap_or(MAX_UPLOADS as i32).min(MAX_UPLOADS as i32)),
        next_key_marker: next_key.and_then(encode),
        next_upload_id_marker: next_id,
        prefix: encode(input.prefix.unwrap_or_default()),
        upload_id_marker: Some(input.upload_id_marker.unwrap_or_default()),
        uploads: Some(uploads),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(key: &str, id: &str, t: u64) -> Recorded {
        Recorded {
            key: key.to_owned(),
            upload_id: id.to_owned(),
            initiated: t,
            initiator: None,
        }
    }

    fn input(
        prefix: Option<&str>,
        delimiter: Option<&str>,
        max: Option<i32>,
        km: Option<&str>,
        im: Option<&str>,
    ) -> ListMultipartUploadsInput {
        ListMultipartUploadsInput {
            bucket: "b".to_owned(),
            prefix: prefix.map(str::to_owned),
            delimiter: delimiter.map(str::to_owned),
            max_uploads: max,
            key_marker: km.map(str::to_owned),
            upload_id_marker: im.map(str::to_owned),
            ..Default::default()
        }
    }

    fn all() -> Vec<Recorded> {
        vec![
            up("a", "u2", 1),
            up("a", "u1", 2),
            up("d/x", "u3", 3),
            up("d/y", "u4", 4),
            up("e", "u5", 5),
        ]
    }

    fn keys(p: &Page) -> Vec<(&str, &str)> {
        p.uploads
            .iter()
            .map(|u| (u.key.as_str(), u.upload_id.as_str()))
            .collect()
    }

    #[test]
    fn pages_by_key_then_time_and_resumes_after_the_markers() {
        let p = page(all(), &input(None, None, Some(2), None, None));
        assert_eq!(keys(&p), [("a", "u2"), ("a", "u1")]);
        assert_eq!(p.next, Some(("a".to_owned(), "u1".to_owned())));
        let p = page(all(), &input(None, None, Some(2), Some("a"), Some("u1")));
        assert_eq!(keys(&p), [("d/x", "u3"), ("d/y", "u4")]);
        let p = page(all(), &input(None, None, None, Some("a"), Some("u2")));
        assert_eq!(keys(&p)[0], ("a", "u1"), "the marker key's later uploads");
        let p = page(all(), &input(None, None, None, Some("a"), None));
        assert_eq!(keys(&p)[0], ("d/x", "u3"), "a key marker alone: later keys only");
        assert_eq!(page(all(), &input(None, None, None, None, None)).next, None);
    }

    #[test]
    fn prefix_and_delimiter_roll_keys_up_and_count_once() {
        let p = page(all(), &input(None, Some("/"), None, None, None));
        assert_eq!(keys(&p), [("a", "u2"), ("a", "u1"), ("e", "u5")]);
        assert_eq!(p.prefixes, ["d/"]);
        let p = page(all(), &input(Some("d/"), Some("/"), None, None, None));
        assert_eq!(keys(&p), [("d/x", "u3"), ("d/y", "u4")]);
        let p = page(all(), &input(None, Some("/"), Some(3), None, None));
        assert_eq!((keys(&p).len(), p.prefixes.len()), (2, 1));
        assert_eq!(
            p.next,
            Some(("d/y".to_owned(), "u4".to_owned())),
            "resumes after the rolled-up prefix"
        );
    }
}
