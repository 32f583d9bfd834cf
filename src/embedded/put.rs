//! PutObject of the gateway's ciphertext at disk speed.
//!
//! s3s-fs computes the MD5 of every PUT body for its ETag: over half the CPU of a large PUT, and what held the
//! embedded backend to about 300 MB/s, below what the gateway encrypts (BENCHMARKS.md, "Embedded backend PUT").
//! An object that carries the gateway's envelope is, in S3's terms, an encrypted object, and S3 gives those an ETag
//! that is not an MD5 (SSE-KMS, SSE-C). So such a PUT gets a random ETag (unique per write, which is all the
//! gateway's ETags and conditional requests need) and its body goes to disk in 1 MiB writes, hashed by nobody.
//! Every other PUT (a plaintext object, a `Content-MD5` or a checksum to verify, a directory key, a body of at most
//! [`SMALL_BODY`] bytes, whose MD5 costs less than the extra steps below) is s3s-fs's own.
//!
//! The fast path keeps s3s-fs's files as s3s-fs writes them: the body goes to a temporary file first; only when it
//! arrived whole does s3s-fs store the object's metadata through an empty PutObject, the body is renamed over the
//! empty file that PUT made, and the ETag replaces s3s-fs's in its record. The caller holds the key's exclusive lock
//! throughout, so no reader meets the steps in between.

use std::path::PathBuf;

use bytes::Bytes;
use futures_util::StreamExt as _;
use s3s::dto::{ETag, PutObjectInput, PutObjectOutput, StreamingBlob};
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};
use s3s_fs::FileSystem;

use super::store::Store;
use crate::sse::ENVELOPE_METADATA_KEY;

/// Bytes per write of a PUT body to its file.
const WRITE_BYTES: usize = 1 << 20;

/// Bodies of at most this many bytes go to s3s-fs's own PUT: their MD5 costs less than the fast path's extra
/// file-system steps (BENCHMARKS.md, "4 KiB after the fixes").
const SMALL_BODY: i64 = 128 << 10;

/// Whether the fast path takes this PUT: the gateway's ciphertext, larger than [`SMALL_BODY`] or of unknown length,
/// with nothing for s3s-fs to verify.
pub(super) fn takes(input: &PutObjectInput) -> bool {
    input
        .metadata
        .as_ref()
        .is_some_and(|m| m.contains_key(ENVELOPE_METADATA_KEY))
        && input.content_length.is_none_or(|l| l > SMALL_BODY)
        && input.content_md5.is_none()
        && input.checksum_algorithm.is_none()
        && input.checksum_crc32.is_none()
        && input.checksum_crc32c.is_none()
        && input.checksum_crc64nvme.is_none()
        && input.checksum_sha1.is_none()
        && input.checksum_sha256.is_none()
        && !input.key.ends_with('/')
}

/// Store the object of `req` (which [`takes`] accepted) under its key; call it under the key's exclusive lock.
pub(super) async fn put(
    fs: &FileSystem,
    store: &Store,
    mut req: S3Request<PutObjectInput>,
) -> S3Result<S3Response<PutObjectOutput>> {
    let body = req.input.body.take().ok_or_else(|| s3_error!(IncompleteBody))?;
    let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
    let places = store.places(&bucket, &key)?;
    store.bucket(&bucket).await?;
    let tmp = TempFile(store.temp_path(&random_hex()));
    let written = write_body(body, &tmp.0).await?;
    if req
        .input
        .content_length
        .is_some_and(|l| u64::try_from(l).ok() != Some(written))
    {
        return Err(s3_error!(IncompleteBody, "the body ended before its Content-Length"));
    }

    // Preconditions were checked under the lock; s3s-fs must not check them against the empty object it writes.
    req.input.if_match = None;
    req.input.if_none_match = None;
    req.input.content_length = Some(0);
    req.input.body = Some(StreamingBlob::from(s3s::Body::from(Bytes::new())));
    let mut resp = fs.put_object(req).await?;

    places
        .place(&tmp.0, &key)
        .await
        .map_err(|e| s3_error!(e, InternalError, "storing the object"))?;
    let etag = random_hex();
    store.record_etag(&bucket, &key, &etag).await?;
    resp.output.e_tag = Some(ETag::Strong(etag));
    Ok(resp)
}

/// The body's bytes into a new file at `path`; the number written.
///
/// The pieces go to a blocking thread of their own without being copied, in batches of about [`WRITE_BYTES`], one
/// vectored write each, while this task receives the next batch: the body is copied once, by the kernel into the
/// file. (Through a `tokio::fs::File` behind a `BufWriter` every byte was copied twice more in user space: 8 % of
/// the quick start's CPU on a large PUT.) At most [`BATCHES_AHEAD`] batches wait for the writer.
async fn write_body(mut body: StreamingBlob, path: &std::path::Path) -> S3Result<u64> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<Bytes>>(BATCHES_AHEAD);
    let writer = tokio::task::spawn_blocking({
        let path = path.to_owned();
        move || write_batches(&path, rx)
    });
    let mut written = 0u64;
    let (mut batch, mut batched) = (Vec::new(), 0);
    let mut cut = None;
    while let Some(piece) = body.next().await {
        let piece = match piece {
            Ok(piece) => piece,
            Err(e) => {
                cut = Some(s3_error!(IncompleteBody, "the body was cut short: {e}"));
                break;
            }
        };
        written += piece.len() as u64;
        batched += piece.len();
        batch.push(piece);
        if batched >= WRITE_BYTES {
            batched = 0;
            // A send fails only when the writer has stopped on an error, which its result below carries.
            if tx.send(std::mem::take(&mut batch)).await.is_err() {
                break;
            }
        }
    }
    if cut.is_none() && !batch.is_empty() {
        let _ = tx.send(batch).await;
    }
    drop(tx);
    let wrote = writer
        .await
        .map_err(|e| s3_error!(InternalError, "the file writer panicked: {e}"))?;
    if let Some(cut) = cut {
        return Err(cut);
    }
    wrote.map_err(|e| s3_error!(e, InternalError, "writing the object"))?;
    Ok(written)
}

/// Batches waiting for the writer of one PUT: with the one being written and the one being received, the PUT holds
/// at most `BATCHES_AHEAD + 2` batches of about [`WRITE_BYTES`].
const BATCHES_AHEAD: usize = 2;

/// A new file at `path` holding every batch `rx` receives, in order (on a blocking thread).
fn write_batches(path: &std::path::Path, mut rx: tokio::sync::mpsc::Receiver<Vec<Bytes>>) -> std::io::Result<()> {
    use std::io::{IoSlice, Write as _};
    let mut file = std::fs::File::create(path)?;
    while let Some(batch) = rx.blocking_recv() {
        let mut slices: Vec<IoSlice<'_>> = batch.iter().map(|b| IoSlice::new(b)).collect();
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            match file.write_vectored(rest) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => IoSlice::advance_slices(&mut rest, n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// 16 random bytes as hex: an ETag, or a temporary file's name.
fn random_hex() -> String {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).expect("the system's random source");
    hex::encode(b)
}

/// A temporary file, removed on drop unless renamed away first.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use s3s::dto::{HeadObjectInput, Metadata};

    fn s3_request<T>(input: T) -> S3Request<T> {
        S3Request {
            input,
            method: http::Method::PUT,
            uri: http::Uri::from_static("/bkt/k"),
            headers: http::HeaderMap::new(),
            extensions: http::Extensions::new(),
            credentials: None,
            region: None,
            service: None,
            trailing_headers: None,
        }
    }

    /// A key's records (ETag, checksums) are the object's own: a multipart upload that replaces an object, deleted
    /// or not, answers no checksum of the object before it (s3s-fs kept its record; VENDORED.md, patch 3).
    #[tokio::test]
    async fn a_multipart_object_does_not_answer_the_checksum_of_the_object_before_it() {
        use s3s::dto::{
            ChecksumMode, CompleteMultipartUploadInput, CompletedMultipartUpload, CompletedPart,
            CreateMultipartUploadInput, DeleteObjectInput, UploadPartInput,
        };
        let (dir, fs, _) = setup();
        for delete_first in [true, false] {
            let mut put = request("k", blob(vec![Ok(Bytes::from_static(b"hello\n"))]), 6, false);
            put.input.checksum_crc32 = Some("NjowIA==".into());
            let put = fs.put_object(put).await.unwrap();
            assert_eq!(put.output.checksum_crc32.as_deref(), Some("NjowIA=="));
            if delete_first {
                let input = DeleteObjectInput::builder()
                    .bucket("bkt".into())
                    .key("k".into())
                    .build();
                fs.delete_object(s3_request(input.unwrap())).await.unwrap();
            }
            let input = CreateMultipartUploadInput::builder()
                .bucket("bkt".into())
                .key("k".into())
                .build();
            let upload_id = fs
                .create_multipart_upload(s3_request(input.unwrap()))
                .await
                .unwrap()
                .output
                .upload_id;
            let mut part = UploadPartInput::builder()
                .bucket("bkt".into())
                .key("k".into())
                .upload_id(upload_id.clone().unwrap())
                .part_number(1)
                .build()
                .unwrap();
            part.body = Some(blob(vec![Ok(Bytes::from_static(b"other\n"))]));
            part.content_length = Some(6);
            let e_tag = fs.upload_part(s3_request(part)).await.unwrap().output.e_tag;
            let mut complete = CompleteMultipartUploadInput::builder()
                .bucket("bkt".into())
                .key("k".into())
                .upload_id(upload_id.unwrap())
                .build()
                .unwrap();
            complete.multipart_upload = Some(CompletedMultipartUpload {
                parts: Some(vec![CompletedPart {
                    e_tag,
                    part_number: Some(1),
                    ..Default::default()
                }]),
            });
            fs.complete_multipart_upload(s3_request(complete)).await.unwrap();
            let mut head = HeadObjectInput::builder()
                .bucket("bkt".into())
                .key("k".into())
                .build()
                .unwrap();
            head.checksum_mode = Some(ChecksumMode::from_static(ChecksumMode::ENABLED));
            let head = fs.head_object(s3_request(head)).await.unwrap().output;
            assert_eq!(head.content_length, Some(6));
            assert_eq!(head.checksum_crc32, None, "delete first: {delete_first}");
        }
        let input = DeleteObjectInput::builder()
            .bucket("bkt".into())
            .key("k".into())
            .build();
        fs.delete_object(s3_request(input.unwrap())).await.unwrap();
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".object-"))
            .collect();
        assert_eq!(
            left,
            Vec::<String>::new(),
            "a deleted object's records are removed with it"
        );
    }

    fn request(key: &str, body: StreamingBlob, len: i64, envelope: bool) -> S3Request<PutObjectInput> {
        let mut metadata = Metadata::new();
        if envelope {
            metadata.insert("s3sp".to_owned(), "e".to_owned());
        }
        let mut input = PutObjectInput::builder()
            .bucket("bkt".into())
            .key(key.into())
            .build()
            .unwrap();
        input.metadata = Some(metadata);
        input.content_length = Some(len);
        input.body = Some(body);
        s3_request(input)
    }

    fn blob(pieces: Vec<Result<Bytes, std::io::Error>>) -> StreamingBlob {
        StreamingBlob::wrap(futures_util::stream::iter(pieces))
    }

    fn setup() -> (tempfile::TempDir, FileSystem, Store) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("bkt")).unwrap();
        let root = dir.path().canonicalize().unwrap();
        (dir, FileSystem::new(&root).unwrap(), Store::new(root))
    }

    /// Files in the root that are not s3s-fs's: what a failed PUT could leave behind.
    fn temp_files(root: &std::path::Path) -> Vec<String> {
        std::fs::read_dir(root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".embedded-put"))
            .collect()
    }

    #[test]
    fn only_the_gateways_ciphertext_with_nothing_to_verify_takes_the_fast_path() {
        let input = |envelope| request("k", blob(vec![]), SMALL_BODY + 1, envelope).input;
        assert!(takes(&input(true)));
        let small = request("k", blob(vec![]), SMALL_BODY, true).input;
        assert!(
            !takes(&small),
            "a small body is cheaper to hash than to store the fast way"
        );
        let mut unknown = input(true);
        unknown.content_length = None;
        assert!(takes(&unknown));
        assert!(!takes(&input(false)), "a plaintext object keeps its MD5 ETag");
        let mut md5 = input(true);
        md5.content_md5 = Some("XUFAKrxLKna5cZ2REBfFkg==".into());
        assert!(!takes(&md5), "a Content-MD5 is verified by s3s-fs");
        let mut crc = input(true);
        crc.checksum_crc32 = Some("AAAAAA==".into());
        assert!(!takes(&crc), "a checksum is verified by s3s-fs");
        let mut dir = input(true);
        dir.key = "dir/".into();
        assert!(!takes(&dir));
    }

    #[tokio::test]
    async fn a_whole_body_is_stored_with_its_metadata_and_a_random_etag() {
        stored_with_its_metadata_and_a_random_etag("a/k").await;
    }

    /// s3s-fs names its per-object files by a hash of such a key, and finds the ETag this module recorded there.
    #[tokio::test]
    async fn a_1024_byte_key_is_stored_with_its_metadata_and_a_random_etag() {
        stored_with_its_metadata_and_a_random_etag(&format!(
            "a/{}/{}",
            "é".repeat(127),
            vec!["k".repeat(255); 3].join("/")
        ))
        .await;
    }

    async fn stored_with_its_metadata_and_a_random_etag(key: &str) {
        let (dir, fs, store) = setup();
        let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let pieces = body.chunks(70_000).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        let resp = put(&fs, &store, request(key, blob(pieces), body.len() as i64, true))
            .await
            .unwrap();
        let etag = resp.output.e_tag.unwrap().value().to_owned();
        assert_eq!(etag.len(), 32);
        assert_ne!(etag, hex::encode(<md5::Md5 as md5::Digest>::digest(&body)));
        assert_eq!(std::fs::read(dir.path().join("bkt").join(key)).unwrap(), body);
        assert_eq!(
            store.etags("bkt", vec![key.into()]).await.unwrap(),
            [Some(etag.clone())]
        );

        let head = HeadObjectInput::builder()
            .bucket("bkt".into())
            .key(key.into())
            .build()
            .unwrap();
        let mut req = request(key, blob(vec![]), 0, true).map_input(|_| head);
        req.method = http::Method::HEAD;
        let head = fs.head_object(req).await.unwrap().output;
        assert_eq!(head.e_tag.unwrap().value(), etag, "s3s-fs answers the recorded ETag");
        assert_eq!(head.content_length, Some(body.len() as i64));
        assert_eq!(head.metadata.unwrap().get("s3sp").map(String::as_str), Some("e"));
        assert!(temp_files(dir.path()).is_empty());
    }

    #[tokio::test]
    async fn a_body_cut_short_leaves_the_old_object_and_no_file_behind() {
        let (dir, fs, store) = setup();
        put(
            &fs,
            &store,
            request("k", blob(vec![Ok(Bytes::from_static(b"old"))]), 3, true),
        )
        .await
        .unwrap();
        let old_etag = store.etags("bkt", vec!["k".into()]).await.unwrap();

        let cut = vec![
            Ok(Bytes::from(vec![1u8; 100_000])),
            Err(std::io::Error::other("connection reset")),
        ];
        let err = put(&fs, &store, request("k", blob(cut), 1_000_000, true))
            .await
            .unwrap_err();
        assert_eq!(*err.code(), s3s::S3ErrorCode::IncompleteBody);
        let short = vec![Ok(Bytes::from(vec![1u8; 100_000]))];
        let err = put(&fs, &store, request("k", blob(short), 1_000_000, true))
            .await
            .unwrap_err();
        assert_eq!(*err.code(), s3s::S3ErrorCode::IncompleteBody);

        assert_eq!(std::fs::read(dir.path().join("bkt/k")).unwrap(), b"old");
        assert_eq!(store.etags("bkt", vec!["k".into()]).await.unwrap(), old_etag);
        assert!(temp_files(dir.path()).is_empty());
    }

    #[tokio::test]
    async fn a_file_that_cannot_be_written_is_an_internal_error_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let pieces = (0..40).map(|_| Ok(Bytes::from(vec![7u8; 100_000]))).collect();
        let err = write_body(blob(pieces), &dir.path().join("missing-dir/file"))
            .await
            .unwrap_err();
        assert_eq!(*err.code(), s3s::S3ErrorCode::InternalError);
    }

    #[tokio::test]
    async fn every_piece_lands_in_order_across_batches() {
        let dir = tempfile::tempdir().unwrap();
        let body: Vec<u8> = (0..5_000_000u32).map(|i| (i % 253) as u8).collect();
        let pieces = body.chunks(16_381).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        let path = dir.path().join("f");
        assert_eq!(write_body(blob(pieces), &path).await.unwrap(), body.len() as u64);
        assert_eq!(std::fs::read(&path).unwrap(), body);
    }
}
