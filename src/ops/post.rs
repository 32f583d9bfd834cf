//! PostObject (AWS "Browser-based uploads using POST"): a `multipart/form-data` body whose fields are the
//! request's head and whose `file` part is the object.
//!
//! The fields before the file are read into memory (at most [`FORM_HEAD_LIMIT`] bytes). An encrypted PUT to the
//! backend needs the file's length up front, and fields may follow the file (AWS's example form has its submit
//! button there; S3 ignores them), so the file's end is only known once it is seen:
//! - A form whose rest after the file part's headers is at most [`BUFFERED_REST_LIMIT`] (5 MiB, the backend's
//!   minimum multipart part size, plus [`TRAILER_CAP`] for what follows the file) is read whole first: the file
//!   ends at the first delimiter and any fields after it are ignored, as S3 ignores them. The memory this holds
//!   is bounded across requests by [`BUFFER_BUDGET`]: a form waits for its share before it is read. Measured
//!   (loopback, embedded backend): 32 such 5 MiB forms at once, gateway peak RSS 114 MB; 32 streamed 6 MiB
//!   files at once, 28 MB. The share is taken before the form's signature is checked (the policy's
//!   `content-length-range` needs the file's length), so unsigned forms can make signed ones wait, not grow memory.
//! - A longer file part is never collected: it streams through the same verify-and-encrypt path as a PutObject
//!   body. Its end is where the first delimiter appears ([`OpenFile`]), so it is known only as the data ends,
//!   and fields after it (at most [`TRAILER_CAP`] bytes with the closing delimiter) are ignored. A backend PUT
//!   needs its length up front, so such a file goes to the backend as a two-part multipart upload
//!   (`post_in_parts`): whole segments first, the short tail once the file's end is known.
//!
//! Hand-written rather than `multer`: multer cannot say at which byte offset the file part's data begins, which
//! is what the length derivation needs.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::BodyExt as _;

use crate::auth::checksum::ChecksumAlgorithm;
use crate::body::{Body, BoxError, full};
use crate::error::{S3Error, S3ErrorCode};
use crate::s3::addressing::{self, Target};
use crate::s3::operation::Operation;
use crate::s3::request::S3Request;
use crate::sse::Keys;

use super::ReqCtx;

/// Most bytes of form data accepted before the file part.
pub const FORM_HEAD_LIMIT: usize = 64 * 1024;

/// Most bytes of form data (further fields, the closing delimiter) expected after the file part.
pub const TRAILER_CAP: u64 = 64 * 1024;

/// A form whose file part (with what follows it) is at most this long is read whole before the upload starts;
/// a longer file part streams, in two backend parts, the first at least 5 MiB (S3's minimum part size).
pub const BUFFERED_REST_LIMIT: u64 = 5 * 1024 * 1024 + TRAILER_CAP;

/// S3's largest POST upload: "The maximum file size that can be uploaded using POST is 5 GB" (one backend part
/// holds nearly all of it, and a part may be at most 5 GiB).
pub const MAX_POST_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// The memory all forms read whole may hold at once, in KiB (64 MiB: twelve forms at the limit).
const BUFFER_BUDGET_KIB: u32 = 64 * 1024;

/// What forms read whole may hold: each takes its size in KiB before reading, and gives it back when its
/// upload's body is dropped.
static BUFFER_BUDGET: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(BUFFER_BUDGET_KIB as usize);

/// Form fields that become request headers of the upload (matched case-insensitively), besides every
/// `x-amz-meta-*` and the SSE fields.
const HEADER_FIELDS: &[&str] = &[
    "cache-control",
    "content-type",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
    "x-amz-storage-class",
    "x-amz-website-redirect-location",
];

/// A POST form's fields and the facts about its file part.
#[derive(Debug)]
pub struct PostForm {
    /// Every field before the file, as sent (names keep their case).
    pub fields: Vec<(String, String)>,
    /// The object key: the `key` field with `${filename}` replaced.
    pub key: String,
    /// Size of the file part's data.
    pub file_len: FileLen,
}

/// How long a form's file is, as far as it is known before its data is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileLen {
    /// Read whole: exactly this long.
    Exact(u64),
    /// Streamed: it ends at the first delimiter, which the form's length places between these bounds.
    Between { min: u64, max: u64 },
}

impl FileLen {
    pub fn range(self) -> std::ops::RangeInclusive<u64> {
        match self {
            Self::Exact(n) => n..=n,
            Self::Between { min, max } => min..=max,
        }
    }
}

fn malformed(msg: &'static str) -> S3Error {
    S3Error::new(S3ErrorCode::MalformedPOSTRequest, msg)
}

fn too_large_head() -> S3Error {
    S3Error::new(
        S3ErrorCode::MaxPostPreDataLengthExceededError,
        "Your POST request fields preceding the upload file were too large.",
    )
}

fn not_well_formed() -> S3Error {
    malformed("The body of your POST request is not well-formed multipart/form-data.")
}

/// The `boundary` parameter of a `multipart/form-data` Content-Type.
pub fn boundary(headers: &HeaderMap) -> Option<String> {
    let ct = headers.get(http::header::CONTENT_TYPE)?.to_str().ok()?;
    let mut params = ct.split(';');
    if !params.next()?.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_owned())
            .filter(|b| !b.is_empty() && b.len() <= 70)
    })
}

/// Where parsing the form's head got to.
enum Parsed {
    NeedMore,
    /// The file part's headers ended at `data_start`; `filename` from its Content-Disposition.
    File {
        fields: Vec<(String, String)>,
        filename: String,
        data_start: usize,
    },
}

/// `name` and `filename` of a part's `Content-Disposition: form-data; name="..."; filename="..."`.
fn disposition(headers: &str) -> Option<(String, Option<String>)> {
    let line = headers.split("\r\n").find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case("content-disposition").then_some(v)
    })?;
    let mut params = line.split(';');
    if !params.next()?.trim().eq_ignore_ascii_case("form-data") {
        return None;
    }
    let (mut name, mut filename) = (None, None);
    for p in params {
        let Some((k, v)) = p.split_once('=') else { continue };
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v)
            .to_owned();
        match k.trim().to_ascii_lowercase().as_str() {
            "name" => name = Some(v),
            "filename" => filename = Some(v),
            _ => {}
        }
    }
    Some((name?, filename))
}

/// Parse the form up to the file part's data. Pure; called again with more data on [`Parsed::NeedMore`].
fn parse_head(buf: &[u8], boundary: &str) -> Result<Parsed, S3Error> {
    let dash = format!("--{boundary}");
    let delimiter = format!("\r\n--{boundary}");
    if buf.len() < dash.len() + 2 {
        return Ok(Parsed::NeedMore);
    }
    if !buf.starts_with(dash.as_bytes()) || &buf[dash.len()..dash.len() + 2] != b"\r\n" {
        return Err(not_well_formed());
    }
    let mut pos = dash.len() + 2;
    let mut fields = Vec::new();
    loop {
        let Some(h_end) = memchr::memmem::find(&buf[pos..], b"\r\n\r\n") else {
            return Ok(Parsed::NeedMore);
        };
        let headers = std::str::from_utf8(&buf[pos..pos + h_end]).map_err(|_| not_well_formed())?;
        let (name, filename) = disposition(headers).ok_or_else(not_well_formed)?;
        let value_start = pos + h_end + 4;
        if name.eq_ignore_ascii_case("file") {
            return Ok(Parsed::File {
                fields,
                filename: filename.unwrap_or_default(),
                data_start: value_start,
            });
        }
        let Some(v_len) = memchr::memmem::find(&buf[value_start..], delimiter.as_bytes()) else {
            return Ok(Parsed::NeedMore);
        };
        let value = std::str::from_utf8(&buf[value_start..value_start + v_len]).map_err(|_| not_well_formed())?;
        fields.push((name, value.to_owned()));
        let after = value_start + v_len + delimiter.len();
        if buf.len() < after + 2 {
            return Ok(Parsed::NeedMore);
        }
        match &buf[after..after + 2] {
            b"\r\n" => pos = after + 2,
            b"--" => {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidArgument,
                    "POST requires exactly one file upload per request.",
                ));
            }
            _ => return Err(not_well_formed()),
        }
    }
}

/// Read the form up to its file part. Returns the form and the file part's data as a body of exactly
/// `file_len` bytes, which fails (with S3's error) if the form does not end as announced.
pub async fn read_form(headers: &HeaderMap, mut body: Body) -> Result<(PostForm, Body), S3Error> {
    let boundary = boundary(headers)
        .ok_or_else(|| malformed("The Content-Type of a POST upload must be multipart/form-data with a boundary."))?;
    let total: u64 = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(S3Error::missing_content_length)?;
    let mut buf = BytesMut::new();
    let (fields, filename, data_start) = loop {
        if let Parsed::File {
            fields,
            filename,
            data_start,
        } = parse_head(&buf, &boundary)?
        {
            if data_start > FORM_HEAD_LIMIT {
                return Err(too_large_head());
            }
            break (fields, filename, data_start);
        }
        if buf.len() > FORM_HEAD_LIMIT {
            return Err(too_large_head());
        }
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(d) = frame.into_data() {
                    buf.extend_from_slice(&d);
                }
            }
            Some(Err(_)) => {
                return Err(S3Error::incomplete_body());
            }
            None => return Err(not_well_formed()),
        }
    };
    let rest_len = total.checked_sub(data_start as u64).ok_or_else(not_well_formed)?;
    if rest_len <= BUFFERED_REST_LIMIT {
        let kib = u32::try_from(total.div_ceil(1024)).unwrap_or(BUFFER_BUDGET_KIB);
        let permit = BUFFER_BUDGET
            .acquire_many(kib.min(BUFFER_BUDGET_KIB))
            .await
            .map_err(|_| S3Error::internal("the POST buffer budget is closed"))?;
        let file = read_small_file(&mut body, buf, data_start, total, &boundary).await?;
        let key = form_key(&fields, &filename)?;
        let form = PostForm {
            fields,
            key,
            file_len: FileLen::Exact(file.len() as u64),
        };
        let held = Held {
            inner: full(file),
            _permit: permit,
        };
        return Ok((form, crate::body::boxed(held)));
    }
    if total > MAX_POST_BYTES {
        return Err(S3Error::new(
            S3ErrorCode::EntityTooLarge,
            "Your proposed upload exceeds the maximum allowed size",
        ));
    }
    // The shortest rest of a form after its file: the delimiter, then `--` (or CRLF and another part).
    let delimiter = format!("\r\n--{boundary}").into_bytes();
    let max = rest_len
        .checked_sub(delimiter.len() as u64 + 2)
        .ok_or_else(not_well_formed)?;
    let min = rest_len - TRAILER_CAP;
    let key = form_key(&fields, &filename)?;
    // The policy's length condition is checked once the file's end is known (the signature and the other
    // conditions before anything is read: an unreadable policy fails there).
    let range = crate::auth::post::field(&fields, "policy")
        .and_then(|p| crate::s3::post_policy::PostPolicy::decode(p).ok())
        .and_then(|p| p.length_range());
    let file = OpenFile {
        inner: body,
        buf: buf.split_off(data_start),
        delimiter,
        emitted: 0,
        state: FileState::Data,
        range,
    };
    let form = PostForm {
        fields,
        key,
        file_len: FileLen::Between { min, max },
    };
    Ok((form, crate::body::boxed(file)))
}

/// The object key: the `key` field with `${filename}` replaced by the file part's file name.
fn form_key(fields: &[(String, String)], filename: &str) -> Result<String, S3Error> {
    Ok(crate::auth::post::field(fields, "key")
        .ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::InvalidArgument,
                "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.",
            )
        })?
        .replace("${filename}", filename.rsplit(['/', '\\']).next().unwrap_or("")))
}

/// A file read whole, holding its share of [`BUFFER_BUDGET`] until the upload is done with it.
struct Held {
    inner: Body,
    _permit: tokio::sync::SemaphorePermit<'static>,
}

impl HttpBody for Held {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A form whose rest after the file part's headers is at most [`BUFFERED_REST_LIMIT`] bytes: read to its end,
/// so the file ends at the first delimiter and any fields after it are ignored, as S3 ignores them.
async fn read_small_file(
    body: &mut Body,
    mut buf: BytesMut,
    data_start: usize,
    total: u64,
    boundary: &str,
) -> Result<Bytes, S3Error> {
    buf.reserve(usize::try_from(total).unwrap_or(0).saturating_sub(buf.len()));
    while (buf.len() as u64) < total {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(d) = frame.into_data() {
                    buf.extend_from_slice(&d);
                }
            }
            Some(Err(_)) | None => return Err(S3Error::incomplete_body()),
        }
    }
    if buf.len() as u64 != total || body.frame().await.is_some() {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "The request body is longer than the declared content length.",
        ));
    }
    let rest = buf.split_off(data_start).freeze();
    let delimiter = format!("\r\n--{boundary}");
    let end = memchr::memmem::find(&rest, delimiter.as_bytes()).ok_or_else(not_well_formed)?;
    match rest.get(end + delimiter.len()..end + delimiter.len() + 2) {
        Some(b"--" | b"\r\n") => Ok(rest.slice(..end)),
        _ => Err(not_well_formed()),
    }
}

impl PostForm {
    /// The request head the upload is made with: the form's header-like fields as headers, `tagging` as
    /// `x-amz-tagging` and the `x-amz-checksum-*` fields as the checksum headers (checked as the file streams).
    pub fn headers(&self) -> Result<HeaderMap, S3Error> {
        let mut h = HeaderMap::new();
        for (name, value) in &self.fields {
            let lower = name.to_ascii_lowercase();
            let (header, value) = if lower == "acl" {
                ("x-amz-acl".to_owned(), value.clone())
            } else if lower == "tagging" {
                ("x-amz-tagging".to_owned(), crate::s3::xml::tagging_header(value)?)
            } else if HEADER_FIELDS.contains(&lower.as_str())
                || lower.starts_with("x-amz-meta-")
                || crate::sse::request::is_sse_header(&lower)
                || ChecksumAlgorithm::from_header_name(&lower).is_some()
            {
                (lower, value.clone())
            } else {
                continue;
            };
            if let (Ok(n), Ok(v)) = (HeaderName::try_from(header), HeaderValue::from_str(&value)) {
                h.append(n, v);
            }
        }
        Ok(h)
    }

    fn field(&self, name: &str) -> Option<&str> {
        crate::auth::post::field(&self.fields, name)
    }

    /// Turn the backend's PutObject answer into PostObject's: 204 by default, 200 or 201 (with a PostResponse
    /// document) per `success_action_status`, or a 303 to `success_action_redirect`. Errors pass unchanged.
    pub fn respond(&self, bucket: &str, location: &str, resp: Response<Body>) -> Response<Body> {
        if !resp.status().is_success() {
            return resp;
        }
        let (mut parts, _) = resp.into_parts();
        let etag = parts
            .headers
            .get(http::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        parts.headers.remove(http::header::CONTENT_LENGTH);
        let enc = crate::auth::canonical::uri_encode;
        if let Some(url) = self.field("success_action_redirect").or_else(|| self.field("redirect"))
            && (url.starts_with("http://") || url.starts_with("https://"))
        {
            let sep = if url.contains('?') { '&' } else { '?' };
            let target = format!(
                "{url}{sep}bucket={}&key={}&etag={}",
                enc(bucket),
                enc(&self.key),
                enc(&etag)
            );
            if let Ok(v) = HeaderValue::from_str(&target) {
                parts.status = StatusCode::SEE_OTHER;
                parts.headers.insert(http::header::LOCATION, v);
                return Response::from_parts(parts, crate::body::empty());
            }
        }
        if let Ok(v) = HeaderValue::from_str(location) {
            parts.headers.insert(http::header::LOCATION, v);
        }
        match self.field("success_action_status") {
            Some("200") => {
                parts.status = StatusCode::OK;
                Response::from_parts(parts, crate::body::empty())
            }
            Some("201") => {
                let esc = |s: &str| quick_xml::escape::escape(s).into_owned();
                let xml = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>{}</Location><Bucket>{}</Bucket>\
                     <Key>{}</Key><ETag>{}</ETag></PostResponse>",
                    esc(location),
                    esc(bucket),
                    esc(&self.key),
                    esc(&etag)
                );
                parts.status = StatusCode::CREATED;
                parts
                    .headers
                    .insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
                Response::from_parts(parts, full(xml))
            }
            _ => {
                parts.status = StatusCode::NO_CONTENT;
                Response::from_parts(parts, crate::body::empty())
            }
        }
    }
}

/// Classify's companion for PostObject: the form's fields become the request's head (a PutObject of the form's
/// key), its file part the body. Other requests come back as they are.
pub async fn as_put(req: S3Request, body: Body) -> Result<(S3Request, Body, Option<PostForm>), S3Error> {
    if req.op != Operation::PostObject {
        return Ok((req, body, None));
    }
    let (form, file) = read_form(&req.parts.headers, body).await?;
    let (parts, target) = post_as_put(&req.parts, &req.target, &form)?;
    Ok((req.with_head(parts, target), file, Some(form)))
}

/// PostObject: the form's object stored as a PutObject would be (encrypted when the gateway encrypts), then
/// answered as `success_action_*` asks.
pub async fn post_object(mut ctx: ReqCtx<'_>, keys: Option<&Keys>) -> Result<Response<Body>, S3Error> {
    let form = ctx.form.take();
    let bucket = ctx.bucket().to_owned();
    let location = crate::response::object_location(&ctx.req.parts, &bucket, ctx.key());
    let resp = match keys {
        Some(keys) => super::put::put_object(ctx, keys).await?,
        None if ctx.body.length_bounds().is_some() => {
            let (headers, body) = (ctx.forwarded_headers(), ctx.take_body());
            super::post_in_parts::put(&ctx, headers, body, None).await?
        }
        None => super::forward::handle(ctx).await?,
    };
    Ok(match form {
        Some(f) => f.respond(&bucket, &location, resp),
        None => resp,
    })
}

/// The head of the PutObject a POST form stands for: `PUT /bucket/key` with the form's header-like fields, the
/// client's Host, and the file part's length.
fn post_as_put(
    parts: &http::request::Parts,
    target: &Target,
    form: &PostForm,
) -> Result<(http::request::Parts, Target), S3Error> {
    let bucket = target.bucket.clone().unwrap_or_default();
    let target = Target::object(&bucket, &form.key);
    addressing::check(&target)?;
    if form.key.is_empty() {
        return Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            "User key must have a length greater than 0.",
        ));
    }
    let path = format!(
        "/{}/{}",
        crate::auth::canonical::uri_encode(&bucket),
        crate::auth::canonical::uri_encode_path(&form.key)
    );
    let (mut put, ()) = Request::builder()
        .method(Method::PUT)
        .uri(path)
        .body(())
        .map_err(|_| S3Error::new(S3ErrorCode::InvalidArgument, "Invalid key."))?
        .into_parts();
    put.headers = form.headers()?;
    if let Some(host) = parts.headers.get(http::header::HOST) {
        put.headers.insert(http::header::HOST, host.clone());
    }
    if let FileLen::Exact(n) = form.file_len {
        put.headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(n));
    }
    put.version = parts.version;
    Ok((put, target))
}

/// A streamed file part's data: everything up to the first delimiter. What follows it is the form's rest, at
/// most [`TRAILER_CAP`] bytes, which must continue as a form does (`--` for the closing delimiter, or CRLF and
/// another part) and is otherwise ignored, as S3 ignores fields after the file. The last bytes that could begin
/// a delimiter are held back until the next frame tells. At the end the policy's `content-length-range`, if
/// any, is checked against the file's length; any failure fails the stream, so no object appears.
struct OpenFile {
    inner: Body,
    /// Data not yet given out (at most a frame and the start of a possible delimiter), or, once the file's end
    /// was seen, the form's rest from its delimiter on.
    buf: BytesMut,
    /// `\r\n--boundary`.
    delimiter: Vec<u8>,
    emitted: u64,
    state: FileState,
    range: Option<(u64, u64)>,
}

#[derive(PartialEq, Eq)]
enum FileState {
    Data,
    Rest,
    Done,
}

fn box_err(e: S3Error) -> BoxError {
    Box::new(e)
}

impl OpenFile {
    /// File data from `buf` that can be given out now (none of it could begin the delimiter).
    fn ready_data(&mut self) -> Option<Bytes> {
        let n = match memchr::memmem::find(&self.buf, &self.delimiter) {
            Some(at) => {
                self.state = FileState::Rest;
                at
            }
            None => self.buf.len().saturating_sub(self.delimiter.len() - 1),
        };
        (n > 0).then(|| {
            self.emitted += n as u64;
            self.buf.split_to(n).freeze()
        })
    }

    /// The form ended: its rest must be a form's, and the file's length within the policy's range.
    fn at_end(&self) -> Result<(), S3Error> {
        if self.state != FileState::Rest {
            return Err(not_well_formed());
        }
        let d = self.delimiter.len();
        if !matches!(self.buf.get(d..d + 2), Some(b"--" | b"\r\n")) {
            return Err(not_well_formed());
        }
        match self.range {
            Some((min, max)) => crate::s3::post_policy::check_length(min, max, self.emitted),
            None => Ok(()),
        }
    }
}

impl HttpBody for OpenFile {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            if this.state == FileState::Done {
                return Poll::Ready(None);
            }
            if this.state == FileState::Data
                && let Some(d) = this.ready_data()
            {
                return Poll::Ready(Some(Ok(Frame::data(d))));
            }
            if this.state == FileState::Rest && this.buf.len() > TRAILER_CAP as usize {
                this.state = FileState::Done;
                return Poll::Ready(Some(Err(box_err(malformed(
                    "The fields after the file are longer than this gateway accepts (64 KiB).",
                )))));
            }
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    if let Ok(d) = frame.into_data() {
                        this.buf.extend_from_slice(&d);
                    }
                }
                Some(Err(e)) => {
                    this.state = FileState::Done;
                    return Poll::Ready(Some(Err(e)));
                }
                None => {
                    let end = this.at_end();
                    this.state = FileState::Done;
                    return Poll::Ready(end.err().map(|e| Err(box_err(e))));
                }
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(boundary: &str, fields: &[(&str, &str)], file: &[u8], after: &str) -> Vec<u8> {
        let mut v = Vec::new();
        for (k, val) in fields {
            v.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{val}\r\n").as_bytes(),
            );
        }
        v.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"dir/a.txt\"\r\n\
                 Content-Type: text/plain\r\n\r\n"
            )
            .as_bytes(),
        );
        v.extend_from_slice(file);
        v.extend_from_slice(after.as_bytes());
        v
    }

    fn headers(boundary: &str, len: usize) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_str(&format!("multipart/form-data; boundary={boundary}")).unwrap(),
        );
        h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
        h
    }

    /// The body in frames of `frame` bytes, to cross every boundary case.
    fn chunked(data: Vec<u8>, frame: usize) -> Body {
        let frames: Vec<Result<Frame<Bytes>, BoxError>> = data
            .chunks(frame)
            .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
            .collect();
        crate::body::boxed(http_body_util::StreamBody::new(futures_util::stream::iter(frames)))
    }

    async fn run(body: Vec<u8>, frame: usize) -> Result<(PostForm, Vec<u8>), S3Error> {
        let h = headers("XyZ", body.len());
        let (f, file) = read_form(&h, chunked(body, frame)).await?;
        let data = file
            .collect()
            .await
            .map_err(|e| e.downcast_ref::<S3Error>().cloned().unwrap())?
            .to_bytes();
        Ok((f, data.to_vec()))
    }

    #[tokio::test]
    async fn fields_then_file_in_any_framing() {
        let file: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let body = form(
            "XyZ",
            &[
                ("key", "up/${filename}"),
                ("Content-Type", "text/plain"),
                ("x-amz-meta-a", "b"),
            ],
            &file,
            "\r\n--XyZ--\r\n",
        );
        for frame in [1, 2, 7, 64, 1000, 100_000] {
            let (f, data) = run(body.clone(), frame).await.unwrap();
            assert_eq!(f.key, "up/a.txt");
            assert_eq!(f.file_len, FileLen::Exact(5000));
            assert_eq!(data, file, "frame {frame}");
            let h = f.headers().unwrap();
            assert_eq!(h.get("content-type").unwrap(), "text/plain");
            assert_eq!(h.get("x-amz-meta-a").unwrap(), "b");
            assert!(h.get("key").is_none());
        }
    }

    const AFTER: &str = "\r\n--XyZ\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\ny\r\n--XyZ--\r\n";

    #[tokio::test]
    async fn a_streamed_file_ends_at_its_delimiter_and_later_fields_are_ignored() {
        let file: Vec<u8> = (0..BUFFERED_REST_LIMIT as usize + 1).map(|i| (i % 253) as u8).collect();
        for after in ["\r\n--XyZ--\r\n", AFTER] {
            for frame in [1000, 4096, 100_000] {
                let body = form("XyZ", &[("key", "k")], &file, after);
                let rest = (file.len() + after.len()) as u64;
                let (f, data) = run(body, frame).await.unwrap();
                assert_eq!(
                    f.file_len,
                    FileLen::Between {
                        min: rest - TRAILER_CAP,
                        max: rest - "\r\n--XyZ--".len() as u64
                    }
                );
                assert!(data == file, "frame {frame}, {} bytes", data.len());
            }
        }
        // What follows the file must continue as a form does.
        for after in ["\r\n--XyZ--\r\nXX", "\r\n--XyZ"] {
            let body = form("XyZ", &[("key", "k")], &file, after);
            let ok = run(body, 4096).await.map(|(_, d)| d.len());
            if after.ends_with("XX") {
                assert_eq!(
                    ok.unwrap(),
                    file.len(),
                    "trailing bytes after the closing delimiter are ignored"
                );
            } else {
                assert_eq!(ok.unwrap_err().code, S3ErrorCode::MalformedPOSTRequest);
            }
        }
        // No delimiter at all, or more than TRAILER_CAP bytes of form after the file.
        let body = form("XyZ", &[("key", "k")], &file, "");
        assert_eq!(
            run(body, 4096).await.unwrap_err().code,
            S3ErrorCode::MalformedPOSTRequest
        );
        let long = format!(
            "\r\n--XyZ\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n{}\r\n--XyZ--\r\n",
            "y".repeat(70_000)
        );
        let body = form("XyZ", &[("key", "k")], &file, &long);
        assert_eq!(
            run(body, 4096).await.unwrap_err().code,
            S3ErrorCode::MalformedPOSTRequest
        );
    }

    #[tokio::test]
    async fn a_streamed_file_is_held_to_the_policys_length_range_at_its_end() {
        use base64::Engine as _;
        let file = vec![5u8; BUFFERED_REST_LIMIT as usize + 10];
        let n = file.len();
        for (lo, hi, want) in [
            (0, n, None),
            (n, n, None),
            (0, n - 1, Some(S3ErrorCode::EntityTooLarge)),
            (n + 1, n + 5, Some(S3ErrorCode::EntityTooSmall)),
        ] {
            let doc =
                format!(r#"{{"expiration":"2030-01-01T00:00:00Z","conditions":[["content-length-range",{lo},{hi}]]}}"#);
            let policy = base64::engine::general_purpose::STANDARD.encode(doc);
            let body = form("XyZ", &[("key", "k"), ("policy", &policy)], &file, AFTER);
            let got = run(body, 65_536).await.err().map(|e| e.code);
            assert_eq!(got, want, "range {lo}..={hi}");
        }
    }

    #[tokio::test]
    async fn parts_after_a_small_file_are_ignored() {
        for frame in [1, 3, 50, 100_000] {
            let body = form("XyZ", &[("key", "k")], b"hello", AFTER);
            let (f, data) = run(body, frame).await.unwrap();
            assert_eq!(
                (f.file_len, data.as_slice()),
                (FileLen::Exact(5), &b"hello"[..]),
                "frame {frame}"
            );
            assert!(f.headers().unwrap().get("x").is_none(), "the late field is not used");
        }
        // The file's data with what follows it: exactly BUFFERED_REST_LIMIT bytes, then one more (streamed).
        let exact = BUFFERED_REST_LIMIT as usize - AFTER.len();
        let file = vec![1u8; exact];
        let (f, data) = run(form("XyZ", &[("key", "k")], &file, AFTER), 4096).await.unwrap();
        assert!(f.file_len == FileLen::Exact(exact as u64) && data == file);
        let body = form("XyZ", &[("key", "k")], &vec![1u8; exact + 1], AFTER);
        let (f, data) = run(body, 4096).await.unwrap();
        assert!(matches!(f.file_len, FileLen::Between { .. }), "streamed");
        assert!(data.len() == exact + 1, "the late field is ignored there too");
        // A small form that is not well-formed after the file, or ends early.
        let body = form("XyZ", &[("key", "k")], b"hello", "\r\n--XyZ");
        assert_eq!(run(body, 4).await.unwrap_err().code, S3ErrorCode::MalformedPOSTRequest);
    }

    #[test]
    fn tagging_and_checksum_fields_become_headers() {
        let f = PostForm {
            fields: vec![
                ("key".into(), "k".into()),
                (
                    "tagging".into(),
                    "<Tagging><TagSet><Tag><Key>a b</Key><Value>x&amp;y</Value></Tag>\
                     <Tag><Key>c</Key><Value></Value></Tag></TagSet></Tagging>"
                        .into(),
                ),
                ("X-Amz-Checksum-CRC32".into(), "AAAAAA==".into()),
                ("x-amz-checksum-algorithm".into(), "CRC32".into()),
            ],
            key: "k".into(),
            file_len: FileLen::Exact(0),
        };
        let h = f.headers().unwrap();
        assert_eq!(h.get("x-amz-tagging").unwrap(), "a%20b=x%26y&c=");
        assert_eq!(h.get("x-amz-checksum-crc32").unwrap(), "AAAAAA==");
        assert!(h.get("tagging").is_none() && h.get("x-amz-checksum-algorithm").is_none());
        for bad in [
            "<Tagging>",
            "<TagSet><Tag><Key>a</Key></Tag></TagSet>",
            "<Tagging><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>",
        ] {
            let f = PostForm {
                fields: vec![("tagging".into(), bad.into())],
                key: "k".into(),
                file_len: FileLen::Exact(0),
            };
            assert_eq!(f.headers().unwrap_err().code, S3ErrorCode::MalformedXML, "{bad}");
        }
    }

    #[tokio::test]
    async fn malformed_forms() {
        let no_file = b"--XyZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--XyZ--\r\n".to_vec();
        assert_eq!(run(no_file, 5).await.unwrap_err().code, S3ErrorCode::InvalidArgument);
        let garbage = b"hello there, this is not a form at all".to_vec();
        assert_eq!(
            run(garbage, 5).await.unwrap_err().code,
            S3ErrorCode::MalformedPOSTRequest
        );
        let no_key = form("XyZ", &[("acl", "private")], b"x", "\r\n--XyZ--\r\n");
        assert_eq!(run(no_key, 5).await.unwrap_err().code, S3ErrorCode::InvalidArgument);
        let big = "a".repeat(FORM_HEAD_LIMIT + 10);
        let huge = form(
            "XyZ",
            &[("key", "k"), ("x-amz-meta-big", &big)],
            b"x",
            "\r\n--XyZ--\r\n",
        );
        assert_eq!(
            run(huge, 4096).await.unwrap_err().code,
            S3ErrorCode::MaxPostPreDataLengthExceededError
        );
    }
}
