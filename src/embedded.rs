//! The embedded backend: s3s-fs (a real S3 server that verifies SigV4) run in-process on loopback, plain HTTP.
//! Used by the no-setup quick start and by the `fs-backend` subcommand the tests start as a separate process.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use path_absolutize::Absolutize;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use s3s::auth::SimpleAuth;
use s3s::dto::*;
use s3s::service::S3ServiceBuilder;
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};
use s3s_fs::FileSystem;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::net::TcpListener;
use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};
use tokio_util::io::ReaderStream;

use crate::secret::SecretString;

/// Bind and serve s3s-fs over `root` with SigV4 required; returns the bound address.
pub async fn start(
    root: &Path,
    addr: SocketAddr,
    access_key_id: &str,
    secret: &SecretString,
) -> Result<SocketAddr, String> {
    std::fs::create_dir_all(root).map_err(|e| format!("creating {}: {e}", root.display()))?;
    let fs = FileSystem::new(root).map_err(|e| format!("embedded backend: {e:?}"))?;
    // The root as s3s-fs resolves it (FileSystem::new), for the GET path below.
    let root = std::env::current_dir()
        .and_then(|d| d.join(root).canonicalize())
        .map_err(|e| format!("embedded backend: {}: {e}", root.display()))?;
    let mut b = S3ServiceBuilder::new(Embedded {
        fs,
        root,
        locks: KeyLocks::default(),
    });
    b.set_auth(SimpleAuth::from_single(access_key_id, secret.expose()));
    let service = b.build();
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("embedded backend bind {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let http = Builder::new(TokioExecutor::new());
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            // Headers and a streamed body go out in separate writes: without this, Nagle holds the body until the
            // client's delayed ACK (40 ms) on every GET.
            let _ = tcp.set_nodelay(true);
            let conn = http.serve_connection(TokioIo::new(tcp), service.clone()).into_owned();
            tokio::spawn(async move {
                let _ = conn.await;
            });
        }
    });
    Ok(local)
}

/// s3s-fs, with what S3 promises and s3s-fs 0.14 does not keep:
/// - listings that honour `encoding-type=url`: s3s-fs echoes `<EncodingType>url</EncodingType>` but sends keys as
///   they are, so an SDK that asked for it (boto3 and aws-cli always do) decodes `a+b` to `a b` and `c%2Bd` to
///   `c+d`, and lists objects under names that are not theirs;
/// - atomic overwrites: see [`KeyLocks`];
/// - GETs at disk speed: s3s-fs streams a file 4 KiB per read, each a round trip to tokio's blocking pool, which
///   held every GET to about 50 MB/s at 15–19 CPU seconds per GiB. The body is read 1 MiB at a time instead.
struct Embedded {
    fs: FileSystem,
    /// s3s-fs's root, resolved the same way.
    root: PathBuf,
    locks: KeyLocks,
}

/// Read at most 1 MiB per read of an object's file.
const GET_READ_BYTES: usize = 1 << 20;

/// One lock per object key. s3s-fs overwrites an object in two steps: it renames the data into place, then writes
/// the metadata (where the gateway keeps the object's envelope) as a second file. A second writer, or a reader,
/// between the two pairs one PUT's ciphertext with another's data key: the object no longer opens, and is lost.
/// So writers (PUT, copy, CompleteMultipartUpload, deletes) hold their key's lock exclusively for their whole
/// call, and readers (GET, HEAD, a copy's source) share it while s3s-fs opens the file and reads its metadata; the
/// open file keeps its data when a writer later replaces it. Several keys are always locked in sorted order.
#[derive(Default)]
struct KeyLocks(Mutex<HashMap<ObjectName, Arc<RwLock<()>>>>);

/// (bucket, key)
type ObjectName = (String, String);

/// A held key lock; released on drop.
#[allow(dead_code)] // held for its Drop, never read
enum KeyGuard {
    Read(OwnedRwLockReadGuard<()>),
    Write(OwnedRwLockWriteGuard<()>),
}

impl KeyLocks {
    fn lock_for(&self, bucket: &str, key: &str) -> Arc<RwLock<()>> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // Forget the locks nobody holds, so the map stays the size of the keys in use.
        if map.len() >= 1024 {
            map.retain(|_, l| Arc::strong_count(l) > 1);
        }
        map.entry((bucket.to_owned(), key.to_owned())).or_default().clone()
    }

    /// Lock `keys` (bucket, key, exclusive), in sorted order; a key listed twice is locked once, exclusively if
    /// either asks for it.
    async fn lock(&self, mut keys: Vec<(&str, &str, bool)>) -> Vec<KeyGuard> {
        keys.sort_by(|a, b| (a.0, a.1, !a.2).cmp(&(b.0, b.1, !b.2)));
        keys.dedup_by(|later, first| later.0 == first.0 && later.1 == first.1);
        let mut guards = Vec::with_capacity(keys.len());
        for (bucket, key, exclusive) in keys {
            let l = self.lock_for(bucket, key);
            guards.push(if exclusive {
                KeyGuard::Write(l.write_owned().await)
            } else {
                KeyGuard::Read(l.read_owned().await)
            });
        }
        guards
    }
}

/// The source object of a copy, when it names one in a bucket.
fn copy_source(src: &CopySource) -> Option<(&str, &str)> {
    match src {
        CopySource::Bucket { bucket, key, .. } => Some((bucket, key)),
        _ => None,
    }
}

/// What S3 leaves unencoded in `encoding-type=url` listings: RFC 3986's unreserved characters and `/`.
const URL_ENCODED_KEY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

fn url_encode(field: &mut Option<String>) {
    if let Some(v) = field.as_mut() {
        *v = utf8_percent_encode(v, URL_ENCODED_KEY).to_string();
    }
}

fn wants_url(encoding: Option<&EncodingType>) -> bool {
    encoding.is_some_and(|e| e.as_str() == EncodingType::URL)
}

/// Encode the keys and prefixes of a listing (the fields the SDKs decode).
fn url_encode_entries(contents: &mut Option<Vec<Object>>, prefixes: &mut Option<Vec<CommonPrefix>>) {
    for o in contents.iter_mut().flatten() {
        url_encode(&mut o.key);
    }
    for p in prefixes.iter_mut().flatten() {
        url_encode(&mut p.prefix);
    }
}

/// `impl S3 for Embedded`: the operations listed pass through to s3s-fs unchanged, then the given ones.
/// (`#[async_trait]` must see every method, so the macro writes the whole impl.)
macro_rules! impl_s3 {
    ($($op:ident($input:ty) -> $output:ty;)* { $($own:item)* }) => {
        #[async_trait::async_trait]
        impl S3 for Embedded {
            $(
                async fn $op(&self, req: S3Request<$input>) -> S3Result<S3Response<$output>> {
                    self.fs.$op(req).await
                }
            )*
            $($own)*
        }
    };
}

impl_s3! {
        create_bucket(CreateBucketInput) -> CreateBucketOutput;
        delete_bucket(DeleteBucketInput) -> DeleteBucketOutput;
        get_bucket_location(GetBucketLocationInput) -> GetBucketLocationOutput;
        head_bucket(HeadBucketInput) -> HeadBucketOutput;
        list_buckets(ListBucketsInput) -> ListBucketsOutput;
        create_multipart_upload(CreateMultipartUploadInput) -> CreateMultipartUploadOutput;
        upload_part(UploadPartInput) -> UploadPartOutput;
        list_parts(ListPartsInput) -> ListPartsOutput;
        abort_multipart_upload(AbortMultipartUploadInput) -> AbortMultipartUploadOutput;
    {

    async fn put_object(&self, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        let _held = self.locks.lock(vec![(&req.input.bucket, &req.input.key, true)]).await;
        self.fs.put_object(req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let _held = self.locks.lock(vec![(&req.input.bucket, &req.input.key, true)]).await;
        self.fs.complete_multipart_upload(req).await
    }

    async fn copy_object(&self, req: S3Request<CopyObjectInput>) -> S3Result<S3Response<CopyObjectOutput>> {
        let mut keys = vec![(req.input.bucket.as_str(), req.input.key.as_str(), true)];
        keys.extend(copy_source(&req.input.copy_source).map(|(b, k)| (b, k, false)));
        let _held = self.locks.lock(keys).await;
        self.fs.copy_object(req).await
    }

    async fn upload_part_copy(&self, req: S3Request<UploadPartCopyInput>) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let keys = copy_source(&req.input.copy_source).map(|(b, k)| (b, k, false));
        let _held = self.locks.lock(keys.into_iter().collect()).await;
        self.fs.upload_part_copy(req).await
    }

    async fn delete_object(&self, req: S3Request<DeleteObjectInput>) -> S3Result<S3Response<DeleteObjectOutput>> {
        let _held = self.locks.lock(vec![(&req.input.bucket, &req.input.key, true)]).await;
        self.fs.delete_object(req).await
    }

    async fn delete_objects(&self, req: S3Request<DeleteObjectsInput>) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let bucket = req.input.bucket.as_str();
        let keys = req.input.delete.objects.iter().map(|o| (bucket, o.key.as_str(), true)).collect();
        let _held = self.locks.lock(keys).await;
        self.fs.delete_objects(req).await
    }

    async fn get_object(&self, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        let _held = self.locks.lock(vec![(&req.input.bucket, &req.input.key, false)]).await;
        // s3s-fs checks the request, the range and the metadata, and opens the file; then its body is replaced by
        // the same bytes read in large reads. Under the key's lock no writer can replace the file in between.
        let path = Path::new(&req.input.bucket).join(&req.input.key);
        let mut resp = self.fs.get_object(req).await?;
        let Some(len) = resp.output.content_length.and_then(|l| u64::try_from(l).ok()) else {
            return Ok(resp);
        };
        // `bytes FIRST-LAST/SIZE` when ranged.
        let first = match resp.output.content_range.as_deref() {
            None => 0,
            Some(r) => r
                .strip_prefix("bytes ")
                .and_then(|r| r.split_once('-'))
                .and_then(|(f, _)| f.parse().ok())
                .ok_or_else(|| s3_error!(InternalError, "unexpected Content-Range {r}"))?,
        };
        let path = path
            .absolutize_virtually(&self.root)
            .map_err(|e| s3_error!(e, InternalError))?
            .into_owned();
        let mut file = tokio::fs::File::open(&path).await.map_err(|e| s3_error!(e, NoSuchKey))?;
        file.seek(std::io::SeekFrom::Start(first))
            .await
            .map_err(|e| s3_error!(e, InternalError))?;
        file.set_max_buf_size(GET_READ_BYTES);
        let body = ReaderStream::with_capacity(file.take(len), GET_READ_BYTES);
        resp.output.body = Some(StreamingBlob::wrap(body));
        Ok(resp)
    }

    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        let _held = self.locks.lock(vec![(&req.input.bucket, &req.input.key, false)]).await;
        self.fs.head_object(req).await
    }

    async fn list_objects(&self, req: S3Request<ListObjectsInput>) -> S3Result<S3Response<ListObjectsOutput>> {
        let url = wants_url(req.input.encoding_type.as_ref());
        let mut resp = self.fs.list_objects(req).await?;
        if url {
            let o = &mut resp.output;
            url_encode_entries(&mut o.contents, &mut o.common_prefixes);
            for f in [&mut o.prefix, &mut o.delimiter, &mut o.marker, &mut o.next_marker] {
                url_encode(f);
            }
        }
        Ok(resp)
    }

    async fn list_objects_v2(&self, req: S3Request<ListObjectsV2Input>) -> S3Result<S3Response<ListObjectsV2Output>> {
        let url = wants_url(req.input.encoding_type.as_ref());
        let mut resp = self.fs.list_objects_v2(req).await?;
        if url {
            let o = &mut resp.output;
            url_encode_entries(&mut o.contents, &mut o.common_prefixes);
            for f in [&mut o.prefix, &mut o.delimiter, &mut o.start_after] {
                url_encode(f);
            }
        }
        Ok(resp)
    }
}
}
