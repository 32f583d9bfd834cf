//! What s3s-fs keeps on disk, read where s3s-fs 0.14 offers no API: whether a key names an object (a regular file,
//! not a directory), the ETag it recorded for it, and the write preconditions (`If-Match`, `If-None-Match`) that
//! compare against that ETag. It writes only the ETag of an object the fast PUT path stored ([`super::put`]).

use std::fs::Metadata;
use std::io;
use std::path::{Path, PathBuf};

use md5::{Digest as _, Md5};
use s3s::dto::ETagCondition;
use s3s::{S3ErrorCode, S3Result, s3_error};
use s3s_fs::ObjectPlaces;

/// The longest file name (in bytes) the file systems s3s-fs runs on take.
const NAME_MAX: usize = 255;

/// s3s-fs's root, resolved as s3s-fs resolves it.
pub(super) struct Store {
    root: PathBuf,
}

impl Store {
    pub(super) fn new(root: PathBuf) -> Store {
        Store { root }
    }

    /// s3s-fs's root directory.
    pub(super) fn root(&self) -> &Path {
        &self.root
    }

    /// The two places of `bucket/key`: its file in the bucket's tree, or beside the tree when the tree cannot hold
    /// it as a file (`a` beside `a/b`, a key ending in `/`; vendor/s3s-fs/VENDORED.md).
    pub(super) fn places(&self, bucket: &str, key: &str) -> S3Result<ObjectPlaces> {
        ObjectPlaces::new(&self.root, bucket, key).map_err(|e| s3_error!(e, InvalidArgument, "key outside its bucket"))
    }

    /// s3s-fs's record of an object's ETag and checksums (`save_internal_info`).
    fn internal_info_path(&self, bucket: &str, key: &str) -> PathBuf {
        self.root.join(s3s_fs::object_file_name(bucket, key, ".internal.json"))
    }

    /// A temporary file in s3s-fs's root (so that it renames into any bucket), outside every bucket.
    pub(super) fn temp_path(&self, unique: &str) -> PathBuf {
        self.root.join(format!(".embedded-put.{unique}.part"))
    }

    /// Record `etag` as the ETag of the object `bucket/key` in s3s-fs's record of it, which s3s-fs then answers
    /// on HEAD, GET and its own conditional checks.
    pub(super) async fn record_etag(&self, bucket: &str, key: &str, etag: &str) -> S3Result<()> {
        let path = self.internal_info_path(bucket, key);
        let mut info: serde_json::Map<String, serde_json::Value> = match tokio::fs::read(&path).await {
            Ok(json) => serde_json::from_slice(&json).map_err(|e| s3_error!(e, InternalError))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => serde_json::Map::new(),
            Err(e) => return Err(s3_error!(e, InternalError)),
        };
        info.insert("e_tag".to_owned(), etag.into());
        let tmp = self.temp_path(&format!("{}.etag", etag));
        let json = serde_json::to_vec(&info).map_err(|e| s3_error!(e, InternalError))?;
        tokio::fs::write(&tmp, json)
            .await
            .map_err(|e| s3_error!(e, InternalError))?;
        tokio::fs::rename(&tmp, &path)
            .await
            .map_err(|e| s3_error!(e, InternalError))
    }

    /// 400 KeyTooLongError for a key with a `/`-separated segment over 255 bytes: each segment is a directory or
    /// file name under the bucket's directory, and no file system takes a longer name. S3 takes any key of up to
    /// 1024 bytes (which s3s refuses beyond); mapping such segments to other names would have to keep listings in
    /// the client's key order, so the embedded backend refuses them instead (docs/aws-differences.md).
    pub(super) fn storable(key: &str) -> S3Result<()> {
        if key.split('/').any(|segment| segment.len() > NAME_MAX) {
            return Err(s3_error!(
                KeyTooLongError,
                "Your key is too long: the embedded backend takes at most 255 bytes between two '/'"
            ));
        }
        Ok(())
    }

    /// The object `bucket/key`'s file and its metadata; NoSuchKey when the key names nothing (a directory of the
    /// tree is no object: `dir` when `dir/f` exists and `dir` was never written), NoSuchBucket without the bucket.
    pub(super) async fn object_file(&self, bucket: &str, key: &str) -> S3Result<(PathBuf, Metadata)> {
        let places = self.places(bucket, key)?;
        for path in places.tree.into_iter().chain([places.beside]) {
            match tokio::fs::metadata(&path).await {
                Ok(m) if m.is_file() => return Ok((path, m)),
                Ok(_) => {}
                // InvalidFilename: a segment longer than a file name, which [`Store::storable`] kept from being
                // stored.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory | io::ErrorKind::InvalidFilename
                    ) => {}
                Err(e) => return Err(s3_error!(e, InternalError)),
            }
        }
        self.bucket(bucket).await?;
        Err(s3_error!(NoSuchKey))
    }

    /// NoSuchUpload unless `upload_id` names an upload s3s-fs has open (its `.upload-<uuid>.json`). s3s-fs itself
    /// answers AccessDenied for a completed or aborted upload, lists no parts for it, and InvalidRequest for an ID
    /// that is no UUID; S3 answers 404 NoSuchUpload to all of them, which is what clients retrying a Complete or an
    /// Abort look for.
    pub(super) async fn upload(&self, upload_id: &str) -> S3Result<()> {
        let is_uuid = upload_id.len() == 36 && upload_id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
        if is_uuid
            && tokio::fs::try_exists(self.root.join(format!(".upload-{upload_id}.json")))
                .await
                .unwrap_or(false)
        {
            return Ok(());
        }
        Err(s3s::S3Error::with_message(
            s3s::S3ErrorCode::NoSuchUpload,
            crate::error::s3_message("NoSuchUpload").unwrap_or_default(),
        ))
    }

    /// NoSuchBucket unless `bucket` exists.
    pub(super) async fn bucket(&self, bucket: &str) -> S3Result<()> {
        match tokio::fs::metadata(self.root.join(bucket)).await {
            Ok(m) if m.is_dir() => Ok(()),
            _ => Err(s3_error!(NoSuchBucket)),
        }
    }

    /// Whether `bucket` holds an object: a file anywhere under its directory or beside it (the empty directories
    /// that deleted objects leave behind do not count).
    pub(super) async fn holds_objects(&self, bucket: &str) -> S3Result<bool> {
        let mut dirs = vec![self.root.join(bucket), s3s_fs::beside_dir(&self.root, bucket)];
        tokio::task::spawn_blocking(move || {
            while let Some(dir) = dirs.pop() {
                let entries = match std::fs::read_dir(dir) {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                for entry in entries {
                    let entry = entry?;
                    if entry.file_type()?.is_dir() {
                        dirs.push(entry.path());
                    } else {
                        return Ok(true);
                    }
                }
            }
            Ok(false)
        })
        .await
        .map_err(|e| s3_error!(e, InternalError))?
        .map_err(|e: io::Error| s3_error!(e, InternalError))
    }

    /// The ETag (unquoted) of each key of `bucket`, `None` for a key that has no object; one trip to the blocking
    /// pool for a whole listing.
    pub(super) async fn etags(&self, bucket: &str, keys: Vec<String>) -> S3Result<Vec<Option<String>>> {
        let store = Store::new(self.root.clone());
        let bucket = bucket.to_owned();
        tokio::task::spawn_blocking(move || keys.iter().map(|k| store.etag_blocking(&bucket, k).ok()).collect())
            .await
            .map_err(|e| s3_error!(e, InternalError))
    }

    /// The ETag s3s-fs recorded when it wrote the object; the MD5 of its file (as s3s-fs's HEAD does) only for an
    /// object written without that record.
    fn etag_blocking(&self, bucket: &str, key: &str) -> io::Result<String> {
        let recorded = std::fs::read(self.internal_info_path(bucket, key))
            .ok()
            .and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok())
            .and_then(|info| info.get("e_tag")?.as_str().map(str::to_owned));
        if let Some(etag) = recorded {
            return Ok(etag);
        }
        let places = self.places(bucket, key).map_err(|_| io::ErrorKind::InvalidInput)?;
        let mut file = std::fs::File::open(places.current())?;
        let mut md5 = Md5::new();
        let mut buf = vec![0; 1 << 20];
        loop {
            match io::Read::read(&mut file, &mut buf)? {
                0 => return Ok(hex::encode(md5.finalize())),
                n => md5.update(&buf[..n]),
            }
        }
    }

    /// Check a write's `If-Match` / `If-None-Match` against the object as it is now. Call it under the key's
    /// exclusive lock, so that nothing changes the object between the check and the write.
    pub(super) async fn check_write(
        &self,
        bucket: &str,
        key: &str,
        if_match: Option<&ETagCondition>,
        if_none_match: Option<&ETagCondition>,
    ) -> S3Result<()> {
        if if_match.is_none() && if_none_match.is_none() {
            return Ok(());
        }
        let current = match self.object_file(bucket, key).await {
            Ok(_) => self.etags(bucket, vec![key.to_owned()]).await?.pop().flatten(),
            Err(e) if *e.code() == S3ErrorCode::NoSuchKey => None,
            Err(e) => return Err(e),
        };
        write_precondition(current.as_deref(), if_match, if_none_match)
    }
}

/// S3's conditional writes, given the current object's ETag (`None`: no object): `If-None-Match: *` fails with
/// 412 when an object exists; `If-Match` fails with 404 NoSuchKey when none does and 412 when its ETag differs.
pub(super) fn write_precondition(
    current: Option<&str>,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> S3Result<()> {
    let matches = |c: &ETagCondition, etag: &str| match c {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => e.value() == etag,
    };
    if let Some(c) = if_match {
        let Some(etag) = current else {
            return Err(s3_error!(NoSuchKey, "If-Match: the object does not exist"));
        };
        if !matches(c, etag) {
            return Err(s3_error!(PreconditionFailed, "If-Match: the object's ETag differs"));
        }
    }
    if let (Some(c), Some(etag)) = (if_none_match, current)
        && matches(c, etag)
    {
        return Err(s3_error!(PreconditionFailed, "If-None-Match: the object exists"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use s3s::dto::ETag;

    fn etag(v: &str) -> ETagCondition {
        ETagCondition::ETag(ETag::Strong(v.to_owned()))
    }

    fn code(r: S3Result<()>) -> Option<S3ErrorCode> {
        r.err().map(|e| e.code().clone())
    }

    #[test]
    fn if_none_match_any_fails_only_when_an_object_exists() {
        let any = ETagCondition::Any;
        assert_eq!(code(write_precondition(None, None, Some(&any))), None);
        assert_eq!(
            code(write_precondition(Some("abc"), None, Some(&any))),
            Some(S3ErrorCode::PreconditionFailed)
        );
    }

    #[test]
    fn if_match_wants_an_object_with_that_etag() {
        assert_eq!(
            code(write_precondition(None, Some(&etag("abc")), None)),
            Some(S3ErrorCode::NoSuchKey)
        );
        assert_eq!(code(write_precondition(Some("abc"), Some(&etag("abc")), None)), None);
        assert_eq!(
            code(write_precondition(Some("abc"), Some(&etag("abd")), None)),
            Some(S3ErrorCode::PreconditionFailed)
        );
        assert_eq!(
            code(write_precondition(Some("abc"), Some(&ETagCondition::Any), None)),
            None
        );
    }

    #[tokio::test]
    async fn a_directory_is_no_object_and_a_missing_bucket_is_no_bucket() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("bkt/dir/sub")).unwrap();
        std::fs::write(dir.path().join("bkt/dir/sub/f.bin"), b"x").unwrap();
        let store = Store::new(dir.path().to_owned());
        let err = |r: S3Result<(PathBuf, Metadata)>| r.err().map(|e| e.code().clone());
        assert!(store.object_file("bkt", "dir/sub/f.bin").await.is_ok());
        for key in ["dir", "dir/", "dir/sub", "missing", "dir/sub/f.bin/x"] {
            assert_eq!(
                err(store.object_file("bkt", key).await),
                Some(S3ErrorCode::NoSuchKey),
                "{key}"
            );
        }
        assert_eq!(
            err(store.object_file("nobkt", "k").await),
            Some(S3ErrorCode::NoSuchBucket)
        );
    }

    #[test]
    fn per_object_file_names_fit_in_255_bytes_and_short_ones_stay_as_s3s_fs_named_them() {
        use s3s_fs::object_file_name;
        assert_eq!(
            object_file_name("bkt", "k", ".internal.json"),
            ".bucket-Ymt0.object-aw.internal.json",
            "the name s3s-fs 0.14.1 gave it"
        );
        let bucket = "b".repeat(63);
        let upload = ".upload-0f0e0d0c-0b0a-0908-0706-050403020100.metadata.json";
        let mut names = std::collections::HashSet::new();
        for key in ["k".repeat(150), "k".repeat(151), "é".repeat(512), "k".repeat(1024)] {
            for suffix in [".internal.json", ".metadata.json", upload] {
                let name = object_file_name(&bucket, &key, suffix);
                assert!(name.len() <= NAME_MAX, "{} bytes", name.len());
                assert!(name.ends_with(suffix) && name.starts_with(".bucket-YmJi"), "{name}");
                assert!(names.insert(name), "one name per key and suffix");
            }
        }
    }

    #[test]
    fn a_key_with_a_segment_over_255_bytes_is_key_too_long() {
        let code = |k: &str| Store::storable(k).err().map(|e| e.code().clone());
        assert_eq!(code(&format!("a/{}/b", "s".repeat(255))), None);
        assert_eq!(code(&"k/".repeat(512)), None);
        for key in [
            "s".repeat(256),
            format!("a/{}", "s".repeat(256)),
            format!("{}/b", "é".repeat(128)),
        ] {
            assert_eq!(code(&key), Some(S3ErrorCode::KeyTooLongError), "{key}");
        }
    }

    #[tokio::test]
    async fn a_segment_longer_than_a_file_name_is_no_such_key_not_500() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("bkt")).unwrap();
        let store = Store::new(dir.path().to_owned());
        let err = store
            .object_file("bkt", &format!("a/{}", "s".repeat(300)))
            .await
            .unwrap_err();
        assert_eq!(*err.code(), S3ErrorCode::NoSuchKey);
    }

    #[tokio::test]
    async fn a_bucket_with_only_empty_directories_holds_no_object() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("bkt/a/b")).unwrap();
        let store = Store::new(dir.path().to_owned());
        assert!(!store.holds_objects("bkt").await.unwrap());
        std::fs::write(dir.path().join("bkt/a/b/f"), b"x").unwrap();
        assert!(store.holds_objects("bkt").await.unwrap());
    }

    #[tokio::test]
    async fn the_recorded_etag_is_used_and_the_md5_only_without_one() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("bkt")).unwrap();
        std::fs::write(dir.path().join("bkt/k"), b"hello").unwrap();
        let store = Store::new(dir.path().to_owned());
        let md5_of_hello = "5d41402abc4b2a76b9719d911017c592";
        assert_eq!(
            store.etags("bkt", vec!["k".into(), "none".into()]).await.unwrap(),
            [Some(md5_of_hello.to_owned()), None]
        );
        std::fs::write(store.internal_info_path("bkt", "k"), br#"{"e_tag":"abc-2"}"#).unwrap();
        assert_eq!(
            store.etags("bkt", vec!["k".into()]).await.unwrap(),
            [Some("abc-2".to_owned())]
        );
        let long = format!("d/{}", vec!["k".repeat(250); 4].join("/"));
        let file = dir.path().join("bkt").join(&long);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, b"hello").unwrap();
        store.record_etag("bkt", &long, "def-3").await.unwrap();
        assert_eq!(
            store.etags("bkt", vec![long]).await.unwrap(),
            [Some("def-3".to_owned())]
        );
    }
}
