use crate::error::*;
use crate::utils::hex;

use s3s::auth::Credentials;
use s3s::crypto::Checksum;
use s3s::crypto::Md5;
use s3s::dto;
use s3s::dto::PartNumber;

use std::env;
use std::ops::Not;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::fs;
use tokio::fs::File;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};

use path_absolutize::Absolutize;
use uuid::Uuid;

#[derive(Debug)]
pub struct FileSystem {
    pub(crate) root: PathBuf,
    tmp_file_counter: AtomicU64,
}

pub(crate) type InternalInfo = serde_json::Map<String, serde_json::Value>;

/// Stores standard object attributes alongside user metadata
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct ObjectAttributes {
    /// User-defined metadata (x-amz-meta-*)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_metadata: Option<dto::Metadata>,

    /// Standard object attributes
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website_redirect_location: Option<String>,
}

impl ObjectAttributes {
    /// Convert expires Timestamp to String for storage
    pub fn set_expires_timestamp(&mut self, expires: Option<dto::Timestamp>) {
        self.expires = expires.and_then(|ts| {
            let mut buf = Vec::new();
            match ts.format(dto::TimestampFormat::DateTime, &mut buf) {
                Ok(()) => Some(String::from_utf8_lossy(&buf).into_owned()),
                Err(_) => None,
            }
        });
    }

    /// Parse expires String back to Timestamp
    pub fn get_expires_timestamp(&self) -> Option<dto::Timestamp> {
        self.expires
            .as_ref()
            .and_then(|s| dto::Timestamp::parse(dto::TimestampFormat::DateTime, s).ok())
    }
}

/// s3-sse-proxy patch (VENDORED.md): the name of a per-object file in the root, `.bucket-<b64 bucket>.object-<b64
/// key><suffix>` as s3s-fs 0.14.1 names it, unless that is longer than a file name may be (255 bytes: from a key of
/// about 150 bytes on, where S3 allows 1024); then `.bucket-<b64 bucket>.object~<hex SHA-256 of the key><suffix>`,
/// at most 222 bytes. `~` is no base64url character, so the two forms never name the same file, and every name
/// s3s-fs 0.14.1 could create keeps its meaning.
#[must_use]
pub fn object_file_name(bucket: &str, key: &str, suffix: &str) -> String {
    const NAME_MAX: usize = 255;
    let encode = |s: &str| base64_simd::URL_SAFE_NO_PAD.encode_to_string(s);
    let name = format!(".bucket-{}.object-{}{suffix}", encode(bucket), encode(key));
    if name.len() <= NAME_MAX {
        return name;
    }
    let key_hash = hex(<s3s::crypto::Sha256 as Checksum>::checksum(key.as_bytes()));
    format!(".bucket-{}.object~{key_hash}{suffix}", encode(bucket))
}

/// s3-sse-proxy patch 2 (VENDORED.md): the directory, in the root, that holds the objects of `bucket` which cannot
/// be files of its tree: a key that is also a prefix of others (`a` beside `a/b`), a key under another's file
/// (`a/b` beside `a`), and a key ending in `/` (a folder marker). S3 stores all of them.
#[must_use]
pub fn beside_dir(root: &Path, bucket: &str) -> PathBuf {
    root.join(format!(".bucket-{}.beside", base64_simd::URL_SAFE_NO_PAD.encode_to_string(bucket)))
}

/// The name of `key`'s file in [`beside_dir`]: base64url of the key while that fits a file name, else `~` and the
/// hex SHA-256 of the key, with the key itself in a file of that name and [`BESIDE_KEY_SUFFIX`].
fn beside_name(key: &str) -> String {
    const NAME_MAX: usize = 255 - BESIDE_KEY_SUFFIX.len();
    let name = base64_simd::URL_SAFE_NO_PAD.encode_to_string(key);
    if name.len() <= NAME_MAX {
        return name;
    }
    format!("~{}", hex(<s3s::crypto::Sha256 as Checksum>::checksum(key.as_bytes())))
}

/// The suffix of the file that names the key of a hashed [`beside_name`].
pub const BESIDE_KEY_SUFFIX: &str = ".key";

/// s3-sse-proxy patch 2: the two places of an object: its file in the bucket's tree (none for a key ending in `/`),
/// and its file beside the tree ([`beside_dir`]).
#[derive(Clone)]
pub struct ObjectPlaces {
    pub tree: Option<PathBuf>,
    pub beside: PathBuf,
}

impl ObjectPlaces {
    pub fn new(root: &Path, bucket: &str, key: &str) -> std::io::Result<Self> {
        let tree = if key.ends_with('/') {
            None
        } else {
            Some(Path::new(bucket).join(key).absolutize_virtually(root)?.into_owned())
        };
        Ok(Self { tree, beside: beside_dir(root, bucket).join(beside_name(key)) })
    }

    /// Where the object is read: its tree file if that is a regular file, else the file beside the tree (which may
    /// not exist either).
    #[must_use]
    pub fn current(&self) -> &Path {
        self.tree_file().unwrap_or(&self.beside)
    }

    /// The object's tree file, if it is a regular file there (not a directory, not missing).
    #[must_use]
    pub fn tree_file(&self) -> Option<&Path> {
        self.tree.as_deref().filter(|t| std::fs::metadata(t).is_ok_and(|m| m.is_file()))
    }

    /// Move the finished file `tmp` into the object's place: its tree file where the tree allows a file there, else
    /// beside the tree; the other place is emptied, so a key is only ever in one. Call it under the key's lock.
    ///
    /// One trip to the blocking pool for all its steps (each `tokio::fs` call is one).
    pub async fn place(&self, tmp: &Path, key: &str) -> std::io::Result<PathBuf> {
        let (places, tmp, key) = (self.clone(), tmp.to_owned(), key.to_owned());
        blocking(move || places.place_blocking(&tmp, &key)).await
    }

    fn place_blocking(&self, tmp: &Path, key: &str) -> std::io::Result<PathBuf> {
        use std::io::ErrorKind::{AlreadyExists, DirectoryNotEmpty, IsADirectory, NotADirectory};
        if let Some(tree) = &self.tree {
            let parent = match tree.parent() {
                Some(dir) => std::fs::create_dir_all(dir),
                None => Ok(()),
            };
            match parent {
                Ok(()) => match std::fs::rename(tmp, tree) {
                    Ok(()) => {
                        self.remove_beside()?;
                        return Ok(tree.clone());
                    }
                    Err(e) if matches!(e.kind(), IsADirectory | DirectoryNotEmpty) => {}
                    Err(e) => return Err(e),
                },
                // A file where the tree needs a directory (`a` when placing `a/b`).
                Err(e) if matches!(e.kind(), NotADirectory | AlreadyExists) => {}
                Err(e) => return Err(e),
            }
        }
        if let Some(dir) = self.beside.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let name = self.beside.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with('~') {
            std::fs::write(key_file(&self.beside), key)?;
        }
        std::fs::rename(tmp, &self.beside)?;
        Ok(self.beside.clone())
    }

    /// Remove the object from both places; whether there was one.
    pub async fn remove(&self) -> std::io::Result<bool> {
        let places = self.clone();
        blocking(move || {
            let mut removed = false;
            if let Some(tree) = places.tree_file() {
                removed |= remove_file_if_exists(tree)?;
            }
            removed |= places.remove_beside()?;
            Ok(removed)
        })
        .await
    }

    fn remove_beside(&self) -> std::io::Result<bool> {
        let removed = remove_file_if_exists(&self.beside)?;
        if removed {
            remove_file_if_exists(&key_file(&self.beside))?;
        }
        Ok(removed)
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> std::io::Result<T> + Send + 'static) -> std::io::Result<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(std::io::Error::other(e)),
    }
}

fn key_file(beside: &Path) -> PathBuf {
    let mut name = beside.as_os_str().to_owned();
    name.push(BESIDE_KEY_SUFFIX);
    PathBuf::from(name)
}

fn remove_file_if_exists(path: &Path) -> std::io::Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// s3-sse-proxy patch 2: the keys of the objects beside `bucket`'s tree, with their files' metadata.
pub async fn beside_objects(root: &Path, bucket: &str) -> std::io::Result<Vec<(String, std::fs::Metadata)>> {
    let dir = beside_dir(root, bucket);
    let mut iter = match fs::read_dir(&dir).await {
        Ok(iter) => iter,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut objects = Vec::new();
    while let Some(entry) = iter.next_entry().await? {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let key = if name.starts_with('~') {
            if name.ends_with(BESIDE_KEY_SUFFIX) {
                continue;
            }
            match fs::read_to_string(key_file(&entry.path())).await {
                Ok(key) => key,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
        } else {
            let Ok(key) = base64_simd::URL_SAFE_NO_PAD.decode_to_vec(name) else { continue };
            let Ok(key) = String::from_utf8(key) else { continue };
            key
        };
        match entry.metadata().await {
            Ok(m) => objects.push((key, m)),
            // Removed since the directory was read.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(objects)
}

fn clean_old_tmp_files(root: &Path) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => Ok(entries),
        Err(ref io_err) if io_err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(io_err) => Err(io_err),
    }?;
    for entry in entries {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else { continue };
        // See `FileSystem::prepare_file_write`
        if file_name.starts_with(".tmp.") && file_name.ends_with(".internal.part") {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

impl FileSystem {
    pub fn new(root: impl AsRef<Path>) -> Result<Self> {
        let root = env::current_dir()?.join(root).canonicalize()?;
        clean_old_tmp_files(&root)?;
        let tmp_file_counter = AtomicU64::new(0);
        Ok(Self { root, tmp_file_counter })
    }

    pub(crate) fn resolve_abs_path(&self, path: impl AsRef<Path>) -> Result<PathBuf> {
        Ok(path.as_ref().absolutize_virtually(&self.root)?.into_owned())
    }

    pub(crate) fn resolve_upload_part_path(&self, upload_id: Uuid, part_number: PartNumber) -> Result<PathBuf> {
        self.resolve_abs_path(format!(".upload_id-{upload_id}.part-{part_number}"))
    }

    /// resolve object path under the virtual root
    ///
    /// s3-sse-proxy patch 2: the object's current file, in the tree or beside it ([`ObjectPlaces::current`]).
    pub(crate) fn get_object_path(&self, bucket: &str, key: &str) -> Result<PathBuf> {
        Ok(self.object_places(bucket, key)?.current().to_owned())
    }

    /// s3-sse-proxy patch 2: where `bucket/key` may live.
    pub(crate) fn object_places(&self, bucket: &str, key: &str) -> Result<ObjectPlaces> {
        Ok(ObjectPlaces::new(&self.root, bucket, key)?)
    }

    /// resolve bucket path under the virtual root
    pub(crate) fn get_bucket_path(&self, bucket: &str) -> Result<PathBuf> {
        let dir = Path::new(&bucket);
        self.resolve_abs_path(dir)
    }

    /// resolve metadata path under the virtual root (custom format)
    pub(crate) fn get_metadata_path(&self, bucket: &str, key: &str, upload_id: Option<Uuid>) -> Result<PathBuf> {
        let u_ext = upload_id.map(|u| format!(".upload-{u}")).unwrap_or_default();
        // s3-sse-proxy patch: the name from `object_file_name` (was the base64 form at any length).
        self.resolve_abs_path(object_file_name(bucket, key, &format!("{u_ext}.metadata.json")))
    }

    pub(crate) fn get_internal_info_path(&self, bucket: &str, key: &str) -> Result<PathBuf> {
        // s3-sse-proxy patch: the name from `object_file_name` (was the base64 form at any length).
        self.resolve_abs_path(object_file_name(bucket, key, ".internal.json"))
    }

    /// load object attributes from fs (with backward compatibility)
    pub(crate) async fn load_object_attributes(
        &self,
        bucket: &str,
        key: &str,
        upload_id: Option<Uuid>,
    ) -> Result<Option<ObjectAttributes>> {
        let path = self.get_metadata_path(bucket, key, upload_id)?;
        if path.exists().not() {
            return Ok(None);
        }
        let content = fs::read(&path).await?;

        // Try to deserialize as ObjectAttributes first (new format)
        if let Ok(attrs) = serde_json::from_slice::<ObjectAttributes>(&content) {
            return Ok(Some(attrs));
        }

        // Fall back to old format (just user metadata)
        if let Ok(user_metadata) = serde_json::from_slice::<dto::Metadata>(&content) {
            return Ok(Some(ObjectAttributes {
                user_metadata: Some(user_metadata),
                ..Default::default()
            }));
        }

        Ok(None)
    }

    /// save object attributes to fs
    pub(crate) async fn save_object_attributes(
        &self,
        bucket: &str,
        key: &str,
        attrs: &ObjectAttributes,
        upload_id: Option<Uuid>,
    ) -> Result<()> {
        let path = self.get_metadata_path(bucket, key, upload_id)?;
        let content = serde_json::to_vec(attrs)?;
        let mut file_writer = self.prepare_file_write(&path).await?;
        file_writer.writer().write_all(&content).await?;
        file_writer.writer().flush().await?;
        file_writer.done().await?;
        Ok(())
    }

    /// s3-sse-proxy patch 3: remove a deleted object's records (internal info and metadata), if any.
    pub(crate) fn delete_object_records(&self, bucket: &str, key: &str) -> Result<()> {
        for path in [self.get_internal_info_path(bucket, key)?, self.get_metadata_path(bucket, key, None)?] {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// remove metadata from fs
    pub(crate) fn delete_metadata(&self, bucket: &str, key: &str, upload_id: Option<Uuid>) -> Result<()> {
        let path = self.get_metadata_path(bucket, key, upload_id)?;
        std::fs::remove_file(path)?;
        Ok(())
    }

    pub(crate) async fn load_internal_info(&self, bucket: &str, key: &str) -> Result<Option<InternalInfo>> {
        let path = self.get_internal_info_path(bucket, key)?;
        if path.exists().not() {
            return Ok(None);
        }
        let content = fs::read(&path).await?;
        let map = serde_json::from_slice(&content)?;
        Ok(Some(map))
    }

    pub(crate) async fn save_internal_info(&self, bucket: &str, key: &str, info: &InternalInfo) -> Result<()> {
        let path = self.get_internal_info_path(bucket, key)?;
        let content = serde_json::to_vec(info)?;
        let mut file_writer = self.prepare_file_write(&path).await?;
        file_writer.writer().write_all(&content).await?;
        file_writer.writer().flush().await?;
        file_writer.done().await?;
        Ok(())
    }

    /// get md5 sum
    pub(crate) async fn get_md5_sum(&self, bucket: &str, key: &str) -> Result<String> {
        let object_path = self.get_object_path(bucket, key)?;
        let mut file = File::open(&object_path).await?;
        let mut buf = vec![0; 65536];
        let mut md5_hash = Md5::new();
        loop {
            let nread = file.read(&mut buf).await?;
            if nread == 0 {
                break;
            }
            md5_hash.update(&buf[..nread]);
        }
        Ok(hex(md5_hash.finalize()))
    }

    fn get_upload_info_path(&self, upload_id: &Uuid) -> Result<PathBuf> {
        self.resolve_abs_path(format!(".upload-{upload_id}.json"))
    }

    pub(crate) async fn create_upload_id(&self, cred: Option<&Credentials>) -> Result<Uuid> {
        let upload_id = Uuid::new_v4();
        let upload_info_path = self.get_upload_info_path(&upload_id)?;

        let ak: Option<&str> = cred.map(|c| c.access_key.as_str());

        let content = serde_json::to_vec(&ak)?;
        let mut file_writer = self.prepare_file_write(&upload_info_path).await?;
        file_writer.writer().write_all(&content).await?;
        file_writer.writer().flush().await?;
        file_writer.done().await?;

        Ok(upload_id)
    }

    pub(crate) async fn verify_upload_id(&self, cred: Option<&Credentials>, upload_id: &Uuid) -> Result<bool> {
        let upload_info_path = self.get_upload_info_path(upload_id)?;
        if upload_info_path.exists().not() {
            return Ok(false);
        }

        let content = fs::read(&upload_info_path).await?;
        let ak: Option<String> = serde_json::from_slice(&content)?;

        Ok(ak.as_deref() == cred.map(|c| c.access_key.as_str()))
    }

    pub(crate) async fn delete_upload_id(&self, upload_id: &Uuid) -> Result<()> {
        let upload_info_path = self.get_upload_info_path(upload_id)?;
        if upload_info_path.exists() {
            fs::remove_file(&upload_info_path).await?;
        }
        Ok(())
    }

    /// Write to the filesystem atomically.
    /// This is done by first writing to a temporary location and then moving the file.
    pub(crate) async fn prepare_file_write<'a>(&self, path: &'a Path) -> Result<FileWriter<'a>> {
        let tmp_name = format!(".tmp.{}.internal.part", self.tmp_file_counter.fetch_add(1, Ordering::SeqCst));
        let tmp_path = self.resolve_abs_path(tmp_name)?;
        let file = File::create(&tmp_path).await?;
        let writer = BufWriter::new(file);
        Ok(FileWriter {
            tmp_path,
            dest_path: path,
            writer,
            clean_tmp: true,
        })
    }
}

pub(crate) struct FileWriter<'a> {
    tmp_path: PathBuf,
    dest_path: &'a Path,
    writer: BufWriter<File>,
    clean_tmp: bool,
}

impl<'a> FileWriter<'a> {
    pub(crate) fn tmp_path(&self) -> &Path {
        &self.tmp_path
    }

    pub(crate) fn dest_path(&self) -> &'a Path {
        self.dest_path
    }

    pub(crate) fn writer(&mut self) -> &mut BufWriter<File> {
        &mut self.writer
    }

    pub(crate) async fn done(mut self) -> Result<()> {
        if let Some(final_dir_path) = self.dest_path().parent() {
            fs::create_dir_all(&final_dir_path).await?;
        }

        fs::rename(&self.tmp_path, self.dest_path()).await?;
        self.clean_tmp = false;
        Ok(())
    }
}

impl FileWriter<'_> {
    /// s3-sse-proxy patch 2: finish an object's file: into its tree file, or beside the tree ([`ObjectPlaces::place`]).
    pub(crate) async fn done_into(mut self, places: &ObjectPlaces, key: &str) -> Result<PathBuf> {
        let placed = places.place(&self.tmp_path, key).await?;
        self.clean_tmp = false;
        Ok(placed)
    }
}

impl Drop for FileWriter<'_> {
    fn drop(&mut self) {
        if self.clean_tmp {
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}
