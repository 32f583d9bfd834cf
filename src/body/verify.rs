//! The request-body verifier: removes aws-chunked framing and checks every integrity claim the client made
//! (chunk and trailer signatures, `x-amz-content-sha256`, `Content-MD5`, `x-amz-checksum-*`, the declared length).
//!
//! It must never let a body that fails a check complete at the backend: the most recent data is always held back,
//! and the last bytes are released only once every check at EOF has passed. On failure the stream ends with an
//! error, which makes hyper abort the backend request before its last byte.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::sync::watch;

use super::{Body, BoxError};
use crate::auth::checksum::{ChecksumAlgorithm, Checksummer, Md5Hasher, Sha256Hasher, ct_eq};
use crate::auth::chunked::{ChunkEvent, ChunkedDecoder, ChunkedError};
use crate::error::{S3Error, S3ErrorCode};

/// Everything the body must satisfy, gathered by authentication from the request head.
#[derive(Default)]
pub struct BodyChecks {
    /// aws-chunked framing to strip (and chunk signatures to check).
    pub chunked: Option<ChunkedDecoder>,
    /// Literal `x-amz-content-sha256` (lowercase hex).
    pub sha256: Option<String>,
    /// `Content-MD5` (base64).
    pub content_md5: Option<String>,
    /// `x-amz-checksum-*` header: algorithm and base64 value.
    pub header_checksum: Option<(ChecksumAlgorithm, String)>,
    /// Algorithm announced by `x-amz-trailer` (its value arrives in the aws-chunked trailer).
    pub trailer_checksum: Option<ChecksumAlgorithm>,
    /// Decoded length the client declared (`Content-Length` or `x-amz-decoded-content-length`).
    pub length: Option<u64>,
    /// Set when `length` is only an upper bound and the body is at least this long: a POST form's streamed
    /// file, whose end its own reader finds (`ops::post`).
    pub length_min: Option<u64>,
    /// Compute the CRC64NVME that S3 stores for a body without a checksum of its own. Only the encrypting
    /// handlers store it (with the object they encrypt): a pass-through backend computes its own.
    pub default_checksum: bool,
}

/// The plaintext checksum of a verified body: the one the client sent (header or trailer), verified; or, when
/// it sent none, a CRC64NVME the gateway computed (as S3 stores for every new object). Set once the body has
/// passed every check; handlers store it with the object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BodyChecksum {
    pub algorithm: ChecksumAlgorithm,
    /// Base64 of the big-endian digest, as S3 sends it.
    pub value: String,
    /// The client sent it (S3 answers it on the write); otherwise the gateway computed it.
    pub from_client: bool,
}

/// Where a verified body's [`BodyChecksum`] appears.
#[derive(Clone, Default)]
pub struct ChecksumSlot(Arc<std::sync::OnceLock<BodyChecksum>>);

impl ChecksumSlot {
    /// The body's checksum, once the body has been read to its end and verified.
    pub fn get(&self) -> Option<BodyChecksum> {
        self.0.get().cloned()
    }
}

/// Incremental state of the checks while the body streams.
struct Running {
    sha256: Option<(Sha256Hasher, String)>,
    md5: Option<(Md5Hasher, String)>,
    header_checksum: Option<(Checksummer, String, ChecksumAlgorithm)>,
    trailer_checksum: Option<(Checksummer, ChecksumAlgorithm)>,
    /// CRC64NVME of a body that carries no checksum of its own.
    computed: Option<Checksummer>,
    checksum: ChecksumSlot,
    length: Option<u64>,
    /// `length` is an upper bound only.
    bounded: bool,
    seen: u64,
}

impl Running {
    fn new(c: &mut BodyChecks) -> Self {
        let own = c.header_checksum.is_some() || c.trailer_checksum.is_some();
        Self {
            computed: (!own && c.default_checksum).then(|| Checksummer::new(ChecksumAlgorithm::Crc64Nvme)),
            checksum: ChecksumSlot::default(),
            sha256: c.sha256.take().map(|v| (Sha256Hasher::new(), v)),
            md5: c.content_md5.take().map(|v| (Md5Hasher::new(), v)),
            header_checksum: c.header_checksum.take().map(|(a, v)| (Checksummer::new(a), v, a)),
            trailer_checksum: c.trailer_checksum.map(|a| (Checksummer::new(a), a)),
            length: c.length,
            bounded: c.length_min.is_some(),
            seen: 0,
        }
    }

    fn update(&mut self, data: &[u8]) -> Result<(), S3Error> {
        self.seen += data.len() as u64;
        if let Some(len) = self.length
            && self.seen > len
        {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "The request body is longer than the declared content length.",
            ));
        }
        if let Some((h, _)) = &mut self.sha256 {
            h.update(data);
        }
        if let Some((h, _)) = &mut self.md5 {
            h.update(data);
        }
        if let Some((h, _, _)) = &mut self.header_checksum {
            h.update(data);
        }
        if let Some((h, _)) = &mut self.trailer_checksum {
            h.update(data);
        }
        if let Some(h) = &mut self.computed {
            h.update(data);
        }
        Ok(())
    }

    fn finish(&mut self, trailer: Option<(ChecksumAlgorithm, String)>) -> Result<(), S3Error> {
        if let Some(len) = self.length
            && self.seen != len
            && !self.bounded
        {
            return Err(S3Error::new(
                S3ErrorCode::IncompleteBody,
                "You did not provide the number of bytes specified by the Content-Length HTTP header.",
            ));
        }
        if let Some((h, expected)) = self.sha256.take()
            && !ct_eq(&h.finish(), &expected)
        {
            return Err(S3Error::new(
                S3ErrorCode::XAmzContentSHA256Mismatch,
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            ));
        }
        if let Some((h, expected)) = self.md5.take()
            && !ct_eq(&h.finish(), &expected)
        {
            return Err(S3Error::standard(S3ErrorCode::BadDigest));
        }
        let mut verified = None;
        if let Some((h, expected, alg)) = self.header_checksum.take() {
            verified = Some((alg, check_checksum(h, &expected, alg)?));
        }
        if let Some((h, alg)) = self.trailer_checksum.take() {
            match trailer {
                Some((got_alg, value)) if got_alg == alg => verified = Some((alg, check_checksum(h, &value, alg)?)),
                _ => {
                    return Err(S3Error::new(
                        S3ErrorCode::MalformedTrailerError,
                        "The request contained trailing data that was not well-formed or did not conform to our \
                         published schema.",
                    ));
                }
            }
        }
        let checksum = match (verified, self.computed.take()) {
            (Some((algorithm, value)), _) => BodyChecksum {
                algorithm,
                value,
                from_client: true,
            },
            (None, Some(h)) => BodyChecksum {
                algorithm: h.algorithm(),
                value: h.finish(),
                from_client: false,
            },
            (None, None) => return Ok(()),
        };
        let _ = self.checksum.0.set(checksum);
        Ok(())
    }
}

/// The verified value, or S3's BadDigest.
fn check_checksum(h: Checksummer, expected: &str, alg: ChecksumAlgorithm) -> Result<String, S3Error> {
    let got = h.finish();
    if ct_eq(&got, expected) {
        Ok(got)
    } else {
        Err(S3Error::new(
            S3ErrorCode::BadDigest,
            format!(
                "The {} you specified did not match the calculated checksum.",
                alg.header_name().trim_start_matches("x-amz-checksum-").to_uppercase()
            ),
        ))
    }
}

pub fn chunked_error(e: ChunkedError) -> S3Error {
    match e {
        ChunkedError::SignatureDoesNotMatch => S3Error::signature_mismatch(),
        ChunkedError::IncompleteBody => S3Error::incomplete_body(),
        ChunkedError::Malformed(why) => S3Error::new(
            S3ErrorCode::InvalidRequest,
            format!("Malformed aws-chunked body: {why}."),
        ),
        ChunkedError::TrailerMismatch(why) => S3Error::new(
            S3ErrorCode::MalformedTrailerError,
            format!("The request contained trailing data that was not well-formed: {why}."),
        ),
    }
}

/// Where a body failure is reported, so the gateway can answer with the precise S3 error even though hyper only
/// tells it that the backend request's body failed.
#[derive(Clone, Default)]
pub struct FailureSlot(Arc<Mutex<Option<S3Error>>>);

impl FailureSlot {
    fn set(&self, e: S3Error) {
        if let Ok(mut g) = self.0.lock() {
            g.get_or_insert(e);
        }
    }
    pub fn take(&self) -> Option<S3Error> {
        self.0.lock().ok().and_then(|mut g| g.take())
    }
}

/// Client request body → verified, de-framed body. Holds back the newest data until the checks pass.
pub struct VerifiedBody {
    inner: Body,
    /// Boxed, as `running` is: the body is moved several times on its way into the backend's request (into the
    /// limit, the collector, a box), and inline these two made it 1.8 KiB.
    decoder: Option<Box<ChunkedDecoder>>,
    buf: BytesMut,
    running: Box<Running>,
    /// The aws-chunked end (and its trailer) was seen and checked.
    chunked_end: bool,
    ready: VecDeque<Bytes>,
    verified: bool,
    failed: bool,
    slot: FailureSlot,
    /// Told when the body ends, for a streamed body (`ClientBody::sent`).
    sent: Option<watch::Sender<bool>>,
    length: Option<u64>,
}

impl VerifiedBody {
    pub fn new(inner: Body, mut checks: BodyChecks, slot: FailureSlot) -> Self {
        Self {
            inner,
            decoder: checks.chunked.take().map(Box::new),
            buf: BytesMut::new(),
            running: Box::new(Running::new(&mut checks)),
            chunked_end: false,
            ready: VecDeque::new(),
            verified: false,
            failed: false,
            slot,
            sent: None,
            length: checks.length,
        }
    }

    /// A receiver that turns `true` once the body has ended (verified or failed): the backend's response timeout
    /// starts then, not before a long upload has finished.
    fn watch_end(&mut self) -> watch::Receiver<bool> {
        let (sent, rx) = watch::channel(false);
        self.sent = Some(sent);
        rx
    }

    fn ended(&self) {
        if let Some(sent) = &self.sent {
            let _ = sent.send(true);
        }
    }

    fn fail(&mut self, e: S3Error) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.failed = true;
        self.ready.clear();
        self.slot.set(e.clone());
        self.ended();
        Poll::Ready(Some(Err(Box::new(e))))
    }

    /// Accept one frame of raw client data; produce decoded data into `ready`.
    fn accept(&mut self, data: Bytes) -> Result<(), S3Error> {
        let Some(decoder) = &mut self.decoder else {
            self.running.update(&data)?;
            if !data.is_empty() {
                self.ready.push_back(data);
            }
            return Ok(());
        };
        if self.chunked_end {
            return Err(chunked_error(ChunkedError::Malformed("data after the final chunk")));
        }
        self.buf.extend_from_slice(&data);
        loop {
            match decoder.decode(&mut self.buf).map_err(chunked_error)? {
                ChunkEvent::Data(d) => {
                    self.running.update(&d)?;
                    if !d.is_empty() {
                        self.ready.push_back(d);
                    }
                }
                ChunkEvent::NeedMore => return Ok(()),
                ChunkEvent::End { trailer } => {
                    self.running.finish(trailer)?;
                    self.chunked_end = true;
                    return Ok(());
                }
            }
        }
    }

    /// The client's body ended: run every EOF check.
    fn at_eof(&mut self) -> Result<(), S3Error> {
        match &self.decoder {
            Some(decoder) => decoder.finish(&self.buf).map_err(chunked_error),
            None => self.running.finish(None),
        }
    }
}

impl HttpBody for VerifiedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            if this.failed {
                return Poll::Ready(None);
            }
            // Release data only while something newer is held back, or once everything is verified.
            if this.ready.len() > 1 || (this.verified && !this.ready.is_empty()) {
                let d = this.ready.pop_front().expect("checked non-empty");
                return Poll::Ready(Some(Ok(Frame::data(d))));
            }
            if this.verified {
                return Poll::Ready(None);
            }
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data()
                        && let Err(e) = this.accept(data)
                    {
                        return this.fail(e);
                    }
                }
                Some(Err(e)) => {
                    let msg = format!("client body: {e}");
                    tracing::debug!(%msg, "request body failed");
                    if crate::accept::idle::is_stall(e.as_ref()) {
                        return this.fail(S3Error::new(
                            S3ErrorCode::RequestTimeout,
                            "Your socket connection to the server was not read from or written to within the \
                             timeout period. Idle connections will be closed.",
                        ));
                    }
                    // An adapter below (the POST form's file part) may have said precisely what was wrong.
                    let e = e
                        .downcast_ref::<S3Error>()
                        .cloned()
                        .unwrap_or_else(S3Error::incomplete_body);
                    return this.fail(e);
                }
                None => {
                    if let Err(e) = this.at_eof() {
                        return this.fail(e);
                    }
                    this.verified = true;
                    this.ended();
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed || (self.verified && self.ready.is_empty())
    }

    fn size_hint(&self) -> SizeHint {
        match self.length {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}

/// The checks on a body's declared length, before a byte of it is read: `[limits] max_object_bytes` for object
/// data (a POST form's file included), `max_xml_body_bytes` for everything else (the decoded length for aws-chunked), and a PUT or POST that
/// sends a body must say how long it is. The body itself can never exceed what it declared: the verifier fails it.
pub fn check_declared(
    op: crate::s3::operation::Operation,
    method: &http::Method,
    declared: Option<u64>,
    aws_chunked: bool,
    limits: &crate::config::Limits,
) -> Result<(), S3Error> {
    use crate::s3::operation::Operation;
    let len = declared.unwrap_or(0);
    match op {
        Operation::PutObject | Operation::PostObject | Operation::UploadPart if len > limits.max_object_bytes => {
            return Err(S3Error::new(
                S3ErrorCode::EntityTooLarge,
                "Your proposed upload exceeds the maximum allowed object size.",
            ));
        }
        Operation::PutObject | Operation::PostObject | Operation::UploadPart => {}
        _ if len > limits.max_xml_body_bytes => {
            return Err(S3Error::new(
                S3ErrorCode::MaxMessageLengthExceeded,
                "Your request was too big.",
            ));
        }
        _ => {}
    }
    let sends_body = declared.is_some_and(|n| n > 0) || aws_chunked;
    if !sends_body && matches!(*method, http::Method::PUT | http::Method::POST) && declared.is_none() {
        return Err(S3Error::missing_content_length());
    }
    Ok(())
}

/// Bodies up to this size are verified completely before anything is sent to the backend (so even an empty
/// body that fails a check never reaches it); larger ones stream, with their last bytes held back.
const PREVERIFY_LIMIT: u64 = 64 * 1024;

/// A client's request body as the handlers get it: verified and de-framed, with the length the client declared,
/// where a failed check is reported, and when it has been sent.
pub struct ClientBody {
    pub body: Body,
    pub declared: Option<u64>,
    /// `declared` is only an upper bound, and the body at least this long (a POST form's streamed file).
    pub length_min: Option<u64>,
    /// For a body that streams to the backend: turns `true` once it has ended. `None`: nothing is left to send
    /// (no body, or a small one read whole).
    pub sent: Option<watch::Receiver<bool>>,
    pub failure: FailureSlot,
    /// The plaintext checksum, once the body has passed its checks: already there for a body read whole.
    pub checksum: ChecksumSlot,
    /// The checksum the client's header claims, known before the body is read (the body fails unless it matches).
    pub claimed_checksum: Option<BodyChecksum>,
}

impl ClientBody {
    /// Verify `raw` against `checks`: a small body whole, now; a larger one as it streams.
    pub async fn verify(raw: Body, checks: BodyChecks) -> Result<Self, S3Error> {
        use http_body_util::{BodyExt, Limited};
        let declared = checks.length;
        let length_min = checks.length_min;
        let claimed_checksum = checks.header_checksum.clone().map(|(algorithm, value)| BodyChecksum {
            algorithm,
            value,
            from_client: true,
        });
        let failure = FailureSlot::default();
        let mut verified = VerifiedBody::new(raw, checks, failure.clone());
        let checksum = verified.running.checksum.clone();
        let mut sent = None;
        let body = if length_min.is_none() && declared.is_none_or(|n| n <= PREVERIFY_LIMIT) {
            let limit = usize::try_from(declared.unwrap_or(0)).unwrap_or(usize::MAX);
            match Limited::new(verified, limit).collect().await {
                Ok(c) => super::full(c.to_bytes()),
                Err(e) => {
                    return Err(failure.take().unwrap_or_else(|| {
                        tracing::debug!(error = %e, "request body rejected");
                        S3Error::incomplete_body()
                    }));
                }
            }
        } else {
            sent = Some(verified.watch_end());
            super::boxed(verified)
        };
        Ok(Self {
            body,
            declared,
            length_min,
            sent,
            failure,
            checksum,
            claimed_checksum,
        })
    }

    /// No body (what a handler leaves behind when it takes the client's).
    pub fn empty() -> Self {
        Self {
            body: super::empty(),
            declared: None,
            length_min: None,
            sent: None,
            failure: FailureSlot::default(),
            checksum: ChecksumSlot::default(),
            claimed_checksum: None,
        }
    }

    /// Nothing is left to read from the client: no body, or a small one read whole before the handler.
    pub fn read_whole(&self) -> bool {
        self.sent.is_none()
    }

    /// The declared length, which object data must have.
    pub fn length(&self) -> Result<u64, S3Error> {
        match self.length_min {
            None => self.declared.ok_or_else(S3Error::missing_content_length),
            Some(_) => Err(S3Error::internal("a body of a length known only at its end")),
        }
    }

    /// The bounds of a body whose length is known only at its end (a POST form's streamed file).
    pub fn length_bounds(&self) -> Option<(u64, u64)> {
        self.length_min.zip(self.declared)
    }

    /// The same body, transformed (encrypted) on its way.
    pub fn map(self, f: impl FnOnce(Body) -> Body) -> Self {
        Self {
            body: f(self.body),
            ..self
        }
    }

    /// A small document (XML) read whole; a failed check wins over `too_large`.
    pub async fn read_small(self, limit: usize, too_large: impl FnOnce() -> S3Error) -> Result<Bytes, S3Error> {
        let failure = self.failure;
        super::collect_limited(self.body, limit)
            .await
            .map_err(|()| failure.take().unwrap_or_else(too_large))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::full;
    use http_body_util::BodyExt;

    /// A POST form's file is object data: up to `max_object_bytes`, not the XML bodies' limit.
    #[test]
    fn a_post_file_is_limited_as_object_data() {
        use crate::s3::operation::Operation;
        let limits = crate::config::Limits::default();
        let post = |n: u64| check_declared(Operation::PostObject, &http::Method::POST, Some(n), false, &limits);
        assert!(post(limits.max_xml_body_bytes + 1).is_ok());
        assert!(post(limits.max_object_bytes).is_ok());
        assert_eq!(
            post(limits.max_object_bytes + 1).unwrap_err().code,
            crate::error::S3ErrorCode::EntityTooLarge
        );
        let xml = check_declared(
            Operation::DeleteObjects,
            &http::Method::POST,
            Some(limits.max_xml_body_bytes + 1),
            false,
            &limits,
        );
        assert_eq!(
            xml.unwrap_err().code,
            crate::error::S3ErrorCode::MaxMessageLengthExceeded
        );
    }

    fn sha256_hex(d: &[u8]) -> String {
        let mut h = Sha256Hasher::new();
        h.update(d);
        h.finish()
    }

    async fn run(data: &'static [u8], checks: BodyChecks) -> Result<Bytes, String> {
        let slot = FailureSlot::default();
        let b = VerifiedBody::new(full(data), checks, slot.clone());
        match b.collect().await {
            Ok(c) => Ok(c.to_bytes()),
            Err(_) => Err(slot.take().expect("failure recorded").code.as_str().to_owned()),
        }
    }

    #[tokio::test]
    async fn literal_sha256_is_checked_at_eof() {
        let good = BodyChecks {
            sha256: Some(sha256_hex(b"hello")),
            length: Some(5),
            ..Default::default()
        };
        assert_eq!(run(b"hello", good).await.unwrap(), Bytes::from_static(b"hello"));
        let bad = BodyChecks {
            sha256: Some(sha256_hex(b"hellO")),
            length: Some(5),
            ..Default::default()
        };
        assert_eq!(run(b"hello", bad).await.unwrap_err(), "XAmzContentSHA256Mismatch");
    }

    #[tokio::test]
    async fn short_body_is_incomplete() {
        let c = BodyChecks {
            length: Some(6),
            ..Default::default()
        };
        assert_eq!(run(b"hello", c).await.unwrap_err(), "IncompleteBody");
    }

    #[tokio::test]
    async fn content_md5_mismatch_is_bad_digest() {
        let c = BodyChecks {
            content_md5: Some("XUFAKrxLKna5cZ2REBfFkg==".into()),
            ..Default::default()
        };
        assert_eq!(run(b"hello", c).await.unwrap(), Bytes::from_static(b"hello"));
        let c = BodyChecks {
            content_md5: Some("XUFAKrxLKna5cZ2REBfFkA==".into()),
            ..Default::default()
        };
        assert_eq!(run(b"hello", c).await.unwrap_err(), "BadDigest");
    }
}
