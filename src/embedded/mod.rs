//! The embedded backend: s3s-fs (a real S3 server that verifies SigV4). The no-setup quick start calls it in
//! process (no socket: [`Service::call`]); the `fs-backend` subcommand, which the tests start as a separate
//! process, serves the same service on loopback, plain HTTP ([`serve`]).

mod body;
mod listing;
mod locks;
mod put;
mod store;
mod tagging;
mod uploads;

use std::net::SocketAddr;
use std::path::Path;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use s3s::auth::SimpleAuth;
use s3s::dto::*;
use s3s::service::S3ServiceBuilder;
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};
use s3s_fs::FileSystem;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::net::TcpListener;
use tokio_util::io::ReaderStream;

use crate::secret::SecretString;
use listing::{complete_entries, owner, url_encode, url_encode_entries, wants_url};
use locks::KeyLocks;
use store::Store;

/// The embedded backend's S3 service: s3s-fs over `root` (see [`Embedded`]), SigV4 required. One service, two
/// ways to reach it: [`serve`] puts it on a socket (the `fs-backend` subcommand), and the quick start's gateway
/// calls it in process ([`Service::call`]), with no socket at all.
#[derive(Clone)]
pub struct Service(s3s::service::S3Service);

pub fn service(root: &Path, access_key_id: &str, secret: &SecretString) -> Result<Service, String> {
    std::fs::create_dir_all(root).map_err(|e| format!("creating {}: {e}", root.display()))?;
    let fs = FileSystem::new(root).map_err(|e| format!("embedded backend: {e:?}"))?;
    // The root as s3s-fs resolves it (FileSystem::new), for the GET path below.
    let root = std::env::current_dir()
        .and_then(|d| d.join(root).canonicalize())
        .map_err(|e| format!("embedded backend: {}: {e}", root.display()))?;
    let mut b = S3ServiceBuilder::new(Embedded {
        fs,
        store: Store::new(root),
        locks: KeyLocks::default(),
    });
    b.set_auth(SimpleAuth::from_single(access_key_id, secret.expose()));
    Ok(Service(b.build()))
}

impl Service {
    /// One request, handled in process: the request's body chunks go to s3s as they are (no copy, no framing),
    /// and the response's body comes back as s3s produces it. What HTTP would do to the answer is done here: a
    /// HEAD's answer loses its body, and a body whose length is known gets its `Content-Length`.
    pub async fn call(
        &self,
        req: http::Request<crate::body::Body>,
    ) -> Result<http::Response<crate::body::Body>, String> {
        let head_request = req.method() == http::Method::HEAD;
        let resp = to_the_end(&self.0, req.map(s3s::Body::http_body))
            .await
            .map_err(|e| format!("embedded backend: {e:?}"))?;
        let resp = with_s3_message(resp);
        // An answer to a HEAD has no body on the wire (s3s writes its error document anyway; HTTP drops it).
        let mut resp = if head_request {
            resp.map(|_| crate::body::empty())
        } else {
            resp.map(crate::body::boxed)
        };
        let len = http_body::Body::size_hint(resp.body()).exact();
        let bodiless = matches!(resp.status().as_u16(), 204 | 304) || resp.status().is_informational();
        if let (Some(len), false, false) = (
            len,
            head_request || bodiless,
            resp.headers().contains_key(http::header::CONTENT_LENGTH),
        ) {
            resp.headers_mut()
                .insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(len));
        }
        Ok(resp)
    }
}

/// One request, on a task of its own that runs to its end whatever becomes of the caller: a client that goes
/// away (a gateway killed mid-request, a dropped connection, a request future dropped in process) no longer cuts
/// an operation between its steps. s3s-fs's writes are several steps each (CompleteMultipartUpload: the upload's
/// record deleted, the object's metadata saved, the parts copied into the object's file, the file put in place);
/// cut between two, a Complete left the upload gone and no object, and the key's earlier object with the new
/// object's metadata.
async fn to_the_end(
    service: &s3s::service::S3Service,
    req: s3s::HttpRequest,
) -> Result<s3s::HttpResponse, s3s::HttpError> {
    let service = service.clone();
    tokio::spawn(async move { service.call(req).await })
        .await
        .unwrap_or_else(|e| Err(s3s::HttpError::new(Box::new(e))))
}

/// s3s-fs names most errors by their code alone (`<Error><Code>NoSuchKey</Code></Error>`), where S3 always gives
/// a message too (aws-cli prints "Unknown" without one): S3's message is added.
fn with_s3_message(mut resp: http::Response<s3s::Body>) -> http::Response<s3s::Body> {
    if !(resp.status().is_client_error() || resp.status().is_server_error()) {
        return resp;
    }
    let Some(xml) = resp.body().bytes() else {
        return resp;
    };
    let Ok(text) = std::str::from_utf8(&xml) else {
        return resp;
    };
    let (Some(code_end), false) = (text.find("</Code>"), text.contains("<Message>")) else {
        return resp;
    };
    let Some(message) = crate::s3::xml::xml_text(text, "Code").and_then(|c| crate::error::s3_message(&c)) else {
        return resp;
    };
    let (head, tail) = text.split_at(code_end + "</Code>".len());
    let fixed = format!("{head}<Message>{}</Message>{tail}", crate::error::xml_escape(message));
    resp.headers_mut().remove(http::header::CONTENT_LENGTH);
    *resp.body_mut() = s3s::Body::from(fixed);
    resp
}

/// Serve the embedded backend on `addr`, plain HTTP; returns the bound address.
pub async fn serve(service: Service, addr: SocketAddr) -> Result<SocketAddr, String> {
    let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
        let service = service.0.clone();
        async move {
            to_the_end(&service, req.map(s3s::Body::from))
                .await
                .map(with_s3_message)
        }
    });
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
/// - listing entries with ETag, StorageClass and Owner, and ListObjectVersions / GetBucketVersioning as an
///   unversioned S3 bucket answers them (see [`listing`]);
/// - 404 NoSuchKey for a key that names a directory (`dir` when `dir/f` exists), where s3s-fs answers 500;
/// - 404 NoSuchUpload for an upload that was completed, aborted or never existed (s3s-fs: 403 AccessDenied, or an
///   empty ListParts), see [`Store::upload`];
/// - 409 BucketNotEmpty for DeleteBucket of a bucket that holds objects (s3s-fs deleted them with it);
/// - atomic overwrites and conditional writes (`If-Match`, `If-None-Match`): see [`KeyLocks`], [`Store::check_write`];
/// - GETs at disk speed: s3s-fs streams a file 4 KiB per read, each a round trip to tokio's blocking pool, which
///   held every GET to about 50 MB/s at 15–19 CPU seconds per GiB. The body is read 1 MiB at a time instead;
/// - PUTs of the gateway's ciphertext at disk speed, without s3s-fs's MD5 of the body (see [`put`]).
struct Embedded {
    fs: FileSystem,
    /// s3s-fs's files, read where s3s-fs has no API for them.
    store: Store,
    locks: KeyLocks,
}

/// Read at most 1 MiB per read of an object's file.
const GET_READ_BYTES: usize = 1 << 20;

/// The source object of a copy, when it names one in a bucket.
fn copy_source(src: &CopySource) -> Option<(&str, &str)> {
    match src {
        CopySource::Bucket { bucket, key, .. } => Some((bucket, key)),
        _ => None,
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
        get_bucket_location(GetBucketLocationInput) -> GetBucketLocationOutput;
        head_bucket(HeadBucketInput) -> HeadBucketOutput;
        list_buckets(ListBucketsInput) -> ListBucketsOutput;
    {

    /// The embedded backend has one owner, so a bucket that exists is the caller's own: 409
    /// BucketAlreadyOwnedByYou, as S3 answers in every region but us-east-1 (whose legacy answer is 200). s3s-fs
    /// says BucketAlreadyExists, which clients read as a name taken by someone else (rclone fails its mkdir).
    async fn create_bucket(&self, req: S3Request<CreateBucketInput>) -> S3Result<S3Response<CreateBucketOutput>> {
        self.fs.create_bucket(req).await.map_err(|mut e| {
            if *e.code() == s3s::S3ErrorCode::BucketAlreadyExists {
                e.set_code(s3s::S3ErrorCode::BucketAlreadyOwnedByYou);
            }
            e
        })
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        Store::storable(&req.input.key)?;
        let tags = tagging::from_header(req.input.tagging.as_deref())?;
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let access_key = req.credentials.as_ref().map(|c| c.access_key.clone());
        let resp = self.fs.create_multipart_upload(req).await?;
        if let Some(id) = &resp.output.upload_id {
            uploads::remember(&self.store, &bucket, &key, id, access_key.as_deref(), &tags).await?;
        }
        Ok(resp)
    }

    async fn put_object_tagging(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        let i = &req.input;
        let _held = self.locks.lock(vec![(&i.bucket, &i.key, true)]).await;
        self.store.object_file(&i.bucket, &i.key).await?;
        let tags = tagging::from_set(&i.tagging.tag_set)?;
        tagging::write(&self.store, &i.bucket, &i.key, &tags).await?;
        Ok(S3Response::new(PutObjectTaggingOutput::default()))
    }

    async fn get_object_tagging(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        let i = &req.input;
        let _held = self.locks.lock(vec![(&i.bucket, &i.key, false)]).await;
        self.store.object_file(&i.bucket, &i.key).await?;
        let tags = tagging::read(&self.store, &i.bucket, &i.key).await?;
        Ok(S3Response::new(GetObjectTaggingOutput {
            tag_set: tagging::to_set(tags),
            ..Default::default()
        }))
    }

    async fn delete_object_tagging(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        let i = &req.input;
        let _held = self.locks.lock(vec![(&i.bucket, &i.key, true)]).await;
        self.store.object_file(&i.bucket, &i.key).await?;
        tagging::write(&self.store, &i.bucket, &i.key, &Vec::new()).await?;
        Ok(S3Response::new(DeleteObjectTaggingOutput::default()))
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        Ok(S3Response::new(uploads::list(&self.store, req.input).await?))
    }

    async fn upload_part(&self, req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
        if let Err(e) = self.store.upload(&req.input.upload_id).await {
            if let Some(b) = req.input.body {
                body::discard(b).await;
            }
            return Err(e);
        }
        self.fs.upload_part(req).await
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        self.store.upload(&req.input.upload_id).await?;
        let id = req.input.upload_id.clone();
        let resp = self.fs.abort_multipart_upload(req).await?;
        uploads::forget(&self.store, &id).await;
        Ok(resp)
    }

    async fn delete_bucket(&self, req: S3Request<DeleteBucketInput>) -> S3Result<S3Response<DeleteBucketOutput>> {
        // s3s-fs removes the bucket's directory with everything in it.
        self.store.bucket(&req.input.bucket).await?;
        if self.store.holds_objects(&req.input.bucket).await? {
            return Err(s3_error!(BucketNotEmpty, "The bucket you tried to delete is not empty"));
        }
        let beside = s3s_fs::beside_dir(self.store.root(), &req.input.bucket);
        let resp = self.fs.delete_bucket(req).await?;
        match tokio::fs::remove_dir_all(&beside).await {
            Ok(()) => Ok(resp),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(resp),
            Err(e) => Err(s3_error!(e, InternalError)),
        }
    }

    async fn list_parts(&self, req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
        self.store.upload(&req.input.upload_id).await?;
        // s3s-fs lists parts in directory order; S3 lists them by part number.
        let mut resp = self.fs.list_parts(req).await?;
        if let Some(parts) = resp.output.parts.as_mut() {
            parts.sort_by_key(|p| p.part_number);
        }
        Ok(resp)
    }

    async fn put_object(&self, mut req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        let i = &req.input;
        let _held = self.locks.lock(vec![(&i.bucket, &i.key, true)]).await;
        let checked = match Store::storable(&i.key) {
            Ok(()) => {
                self.store
                    .check_write(&i.bucket, &i.key, i.if_match.as_ref(), i.if_none_match.as_ref())
                    .await
            }
            Err(e) => Err(e),
        };
        let checked = checked.and_then(|()| tagging::from_header(req.input.tagging.as_deref()));
        let tags = match checked {
            Ok(tags) => tags,
            Err(e) => {
                if let Some(b) = req.input.body.take() {
                    body::discard(b).await;
                }
                return Err(e);
            }
        };
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let resp = match put::takes(&req.input) {
            true => put::put(&self.fs, &self.store, req).await?,
            false => self.fs.put_object(req).await?,
        };
        tagging::write(&self.store, &bucket, &key, &tags).await?;
        Ok(resp)
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let i = &req.input;
        let _held = self.locks.lock(vec![(&i.bucket, &i.key, true)]).await;
        self.store.upload(&i.upload_id).await?;
        Store::storable(&i.key)?;
        self.store
            .check_write(&i.bucket, &i.key, i.if_match.as_ref(), i.if_none_match.as_ref())
            .await?;
        let (bucket, key, id) = (i.bucket.clone(), i.key.clone(), i.upload_id.clone());
        let tags = uploads::tags_of(&self.store, &id).await;
        let resp = self.fs.complete_multipart_upload(req).await?;
        uploads::forget(&self.store, &id).await;
        tagging::write(&self.store, &bucket, &key, &tags).await?;
        Ok(resp)
    }

    async fn copy_object(&self, req: S3Request<CopyObjectInput>) -> S3Result<S3Response<CopyObjectOutput>> {
        Store::storable(&req.input.key)?;
        let mut keys = vec![(req.input.bucket.as_str(), req.input.key.as_str(), true)];
        keys.extend(copy_source(&req.input.copy_source).map(|(b, k)| (b, k, false)));
        let _held = self.locks.lock(keys).await;
        if let Some((bucket, key)) = copy_source(&req.input.copy_source) {
            self.store.object_file(bucket, key).await?;
        }
        // The destination's conditions (S3, 2025), which s3s's CopyObjectInput does not carry: from the headers.
        let condition = |name: &str| {
            req.headers
                .get(name)
                .map(|v| ETagCondition::parse_http_header(v.as_bytes()))
                .transpose()
                .map_err(|_| s3_error!(InvalidArgument, "malformed {name}"))
        };
        let (if_match, if_none_match) = (condition("if-match")?, condition("if-none-match")?);
        let i = &req.input;
        self.store
            .check_write(&i.bucket, &i.key, if_match.as_ref(), if_none_match.as_ref())
            .await?;
        // S3's TaggingDirective: the source's tags (COPY, the default) or the request's (REPLACE).
        let replace = i.tagging_directive.as_ref().is_some_and(|d| d.as_str() == "REPLACE");
        let tags = match (replace, copy_source(&i.copy_source)) {
            (false, Some((b, k))) => tagging::read(&self.store, b, k).await?,
            _ => tagging::from_header(i.tagging.as_deref())?,
        };
        let (bucket, key) = (i.bucket.clone(), i.key.clone());
        let resp = self.fs.copy_object(req).await?;
        tagging::write(&self.store, &bucket, &key, &tags).await?;
        Ok(resp)
    }

    async fn upload_part_copy(&self, req: S3Request<UploadPartCopyInput>) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let keys = copy_source(&req.input.copy_source).map(|(b, k)| (b, k, false));
        let _held = self.locks.lock(keys.into_iter().collect()).await;
        self.store.upload(&req.input.upload_id).await?;
        if let Some((bucket, key)) = copy_source(&req.input.copy_source) {
            self.store.object_file(bucket, key).await?;
        }
        self.fs.upload_part_copy(req).await
    }

    async fn delete_object(&self, req: S3Request<DeleteObjectInput>) -> S3Result<S3Response<DeleteObjectOutput>> {
        let i = &req.input;
        let _held = self.locks.lock(vec![(&i.bucket, &i.key, true)]).await;
        self.store.check_write(&i.bucket, &i.key, i.if_match.as_ref(), None).await?;
        let (bucket, key) = (i.bucket.clone(), i.key.clone());
        let resp = self.fs.delete_object(req).await?;
        tagging::write(&self.store, &bucket, &key, &Vec::new()).await?;
        Ok(resp)
    }

    /// Each entry's `ETag` is its `If-Match` (S3's conditional deletes): an entry whose object has another ETag
    /// (or none) is not deleted and gets its own `<Error>` (PreconditionFailed, NoSuchKey); the others are.
    async fn delete_objects(
        &self,
        mut req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let bucket = req.input.bucket.clone();
        let keys: Vec<String> = req.input.delete.objects.iter().map(|o| o.key.clone()).collect();
        let _held = self
            .locks
            .lock(keys.iter().map(|k| (bucket.as_str(), k.as_str(), true)).collect())
            .await;
        self.store.bucket(&bucket).await?;
        let mut refused = Vec::new();
        let mut objects = Vec::new();
        // A key no object can have (s3s-fs would answer 500 for the whole request): deleted, as any missing key.
        let mut missing = Vec::new();
        for o in std::mem::take(&mut req.input.delete.objects) {
            if o.e_tag.is_none() && Store::storable(&o.key).is_err() {
                missing.push(DeletedObject {
                    key: Some(o.key),
                    version_id: o.version_id,
                    ..Default::default()
                });
                continue;
            }
            let Some(etag) = o.e_tag.clone() else {
                objects.push(o);
                continue;
            };
            let condition = ETagCondition::ETag(etag);
            match self.store.check_write(&bucket, &o.key, Some(&condition), None).await {
                Ok(()) => objects.push(o),
                Err(e) => refused.push(Error {
                    code: Some(e.code().as_str().to_owned()),
                    key: Some(o.key),
                    message: e.message().map(str::to_owned),
                    version_id: o.version_id,
                }),
            }
        }
        req.input.delete.objects = objects;
        let mut resp = self.fs.delete_objects(req).await?;
        for d in resp.output.deleted.iter().flatten() {
            if let Some(key) = &d.key {
                let _ = tagging::write(&self.store, &bucket, key, &Vec::new()).await;
            }
        }
        if !missing.is_empty() {
            resp.output.deleted.get_or_insert_with(Vec::new).extend(missing);
        }
        if !refused.is_empty() {
            resp.output.errors.get_or_insert_with(Vec::new).extend(refused);
        }
        Ok(resp)
    }

    async fn get_object(&self, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        let _held = self.locks.lock(vec![(&req.input.bucket, &req.input.key, false)]).await;
        let (path, _) = self.store.object_file(&req.input.bucket, &req.input.key).await?;
        // s3s-fs checks the request, the range and the metadata, and opens the file; then its body is replaced by
        // the same bytes read in large reads. Under the key's lock no writer can replace the file in between.
        let tags = tagging::read(&self.store, &req.input.bucket, &req.input.key).await?;
        let mut resp = self.fs.get_object(req).await?;
        if !tags.is_empty() {
            resp.output.tag_count = i32::try_from(tags.len()).ok();
        }
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
        self.store.object_file(&req.input.bucket, &req.input.key).await?;
        self.fs.head_object(req).await
    }

    async fn list_objects(&self, req: S3Request<ListObjectsInput>) -> S3Result<S3Response<ListObjectsOutput>> {
        let url = wants_url(req.input.encoding_type.as_ref());
        let bucket = req.input.bucket.clone();
        let owner = owner(req.credentials.as_ref().map(|c| c.access_key.as_str()));
        let mut resp = self.fs.list_objects(req).await?;
        let o = &mut resp.output;
        complete_entries(&self.store, &bucket, &mut o.contents, Some(&owner)).await?;
        if url {
            url_encode_entries(&mut o.contents, &mut o.common_prefixes);
            for f in [&mut o.prefix, &mut o.delimiter, &mut o.marker, &mut o.next_marker] {
                url_encode(f);
            }
        }
        Ok(resp)
    }

    async fn list_objects_v2(&self, req: S3Request<ListObjectsV2Input>) -> S3Result<S3Response<ListObjectsV2Output>> {
        let url = wants_url(req.input.encoding_type.as_ref());
        let bucket = req.input.bucket.clone();
        let owner = (req.input.fetch_owner == Some(true))
            .then(|| owner(req.credentials.as_ref().map(|c| c.access_key.as_str())));
        let mut resp = self.fs.list_objects_v2(req).await?;
        let o = &mut resp.output;
        complete_entries(&self.store, &bucket, &mut o.contents, owner.as_ref()).await?;
        if url {
            url_encode_entries(&mut o.contents, &mut o.common_prefixes);
            for f in [&mut o.prefix, &mut o.delimiter, &mut o.start_after] {
                url_encode(f);
            }
        }
        Ok(resp)
    }

    async fn list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        let input = req.input.clone();
        let owner = owner(req.credentials.as_ref().map(|c| c.access_key.as_str()));
        let mut v2 = self.fs.list_objects_v2(req.map_input(|i| listing::versions_as_v2(&i))).await?;
        complete_entries(&self.store, &input.bucket, &mut v2.output.contents, None).await?;
        Ok(v2.map_output(|v2| listing::versions_from_v2(input, v2, &owner)))
    }

    async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        // A bucket that never had versioning: an empty VersioningConfiguration.
        self.store.bucket(&req.input.bucket).await?;
        Ok(S3Response::new(GetBucketVersioningOutput::default()))
    }
}
}
