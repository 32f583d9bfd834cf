//! The embedded backend: s3s-fs (a real S3 server that verifies SigV4) run in-process on loopback, plain HTTP.
//! Used by the no-setup quick start and by the `fs-backend` subcommand the tests start as a separate process.

use std::net::SocketAddr;
use std::path::Path;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use s3s::auth::SimpleAuth;
use s3s::dto::*;
use s3s::service::S3ServiceBuilder;
use s3s::{S3, S3Request, S3Response, S3Result};
use s3s_fs::FileSystem;
use tokio::net::TcpListener;

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
    let mut b = S3ServiceBuilder::new(Embedded(fs));
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

/// s3s-fs, with listings that honour `encoding-type=url`: s3s-fs 0.14 echoes `<EncodingType>url</EncodingType>`
/// but sends keys as they are, so an SDK that asked for it (boto3 and aws-cli always do) decodes `a+b` to `a b`
/// and `c%2Bd` to `c+d`: it lists objects under names that are not theirs.
struct Embedded(FileSystem);

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
                    self.0.$op(req).await
                }
            )*
            $($own)*
        }
    };
}

impl_s3! {
        create_bucket(CreateBucketInput) -> CreateBucketOutput;
        copy_object(CopyObjectInput) -> CopyObjectOutput;
        delete_bucket(DeleteBucketInput) -> DeleteBucketOutput;
        delete_object(DeleteObjectInput) -> DeleteObjectOutput;
        delete_objects(DeleteObjectsInput) -> DeleteObjectsOutput;
        get_bucket_location(GetBucketLocationInput) -> GetBucketLocationOutput;
        get_object(GetObjectInput) -> GetObjectOutput;
        head_bucket(HeadBucketInput) -> HeadBucketOutput;
        head_object(HeadObjectInput) -> HeadObjectOutput;
        list_buckets(ListBucketsInput) -> ListBucketsOutput;
        put_object(PutObjectInput) -> PutObjectOutput;
        create_multipart_upload(CreateMultipartUploadInput) -> CreateMultipartUploadOutput;
        upload_part(UploadPartInput) -> UploadPartOutput;
        upload_part_copy(UploadPartCopyInput) -> UploadPartCopyOutput;
        list_parts(ListPartsInput) -> ListPartsOutput;
        complete_multipart_upload(CompleteMultipartUploadInput) -> CompleteMultipartUploadOutput;
        abort_multipart_upload(AbortMultipartUploadInput) -> AbortMultipartUploadOutput;
    {

    async fn list_objects(&self, req: S3Request<ListObjectsInput>) -> S3Result<S3Response<ListObjectsOutput>> {
        let url = wants_url(req.input.encoding_type.as_ref());
        let mut resp = self.0.list_objects(req).await?;
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
        let mut resp = self.0.list_objects_v2(req).await?;
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
