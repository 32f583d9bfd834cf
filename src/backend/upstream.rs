//! Upstream: every request the gateway sends to the backend, for a client or for itself, goes through
//! [`Upstream::send`]: one place for the response timeout (counted from the end of the upload), the backend metrics,
//! and the rule that a failed client-body check wins over whatever the backend answered.
//!
//! Never decides anything about S3 semantics: callers read the status.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{HeaderMap, HeaderValue, Method, Response, Uri};
use tokio::sync::watch;

use super::{Backend, BackendError};
use crate::auth::checksum::Md5Hasher;
use crate::body::verify::{ClientBody, FailureSlot};
use crate::body::{Body, metered::Metered};
use crate::bucket_state::TtlCache;
use crate::config::BackendPayload;
use crate::error::{S3Error, S3ErrorCode};
use crate::metrics::Metrics;
use crate::s3::addressing::Target;
use crate::s3::operation::Operation;

/// The backend, as the gateway's handlers use it.
pub struct Upstream {
    backend: Arc<Backend>,
    metrics: Arc<Metrics>,
    /// Whether each bucket's Object Lock is enabled (asked only when [`Backend::lock_needs_trailer`]).
    object_lock: TtlCache<bool>,
}

/// A backend request's body, and what tells when it has been sent.
pub struct Outbound {
    body: Body,
    progress: Progress,
    failure: Option<FailureSlot>,
}

enum Progress {
    /// Nothing left to stream (bodiless, or the gateway's own record held in memory): the response timeout runs
    /// from now.
    Sent,
    /// A client's body read whole before it is sent (a small one): the timeout runs from now too, but it is
    /// object data from a client (which an Object Lock bucket takes only with a checksum).
    Whole,
    /// Streamed by the gateway itself (a copy's source): the timeout runs from the backend's last read.
    Streamed,
    /// A client's body: the timeout runs from its end (or from the backend's last read while it flows).
    Watched(watch::Receiver<bool>),
}

impl Outbound {
    pub fn empty() -> Self {
        Self::full(Bytes::new())
    }

    pub fn full(bytes: impl Into<Bytes>) -> Self {
        Self {
            body: crate::body::full(bytes),
            progress: Progress::Sent,
            failure: None,
        }
    }

    /// A body the gateway produces itself, of unknown duration.
    pub fn stream(body: Body) -> Self {
        Self {
            body,
            progress: Progress::Streamed,
            failure: None,
        }
    }
}

impl From<ClientBody> for Outbound {
    fn from(c: ClientBody) -> Self {
        Self {
            body: c.body,
            progress: c.sent.map_or(Progress::Whole, Progress::Watched),
            failure: Some(c.failure),
        }
    }
}

fn millis_since(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl Upstream {
    pub fn new(backend: Arc<Backend>, metrics: Arc<Metrics>) -> Self {
        Self {
            backend,
            metrics,
            object_lock: TtlCache::default(),
        }
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The backend URI of a bucket or an object, with the raw query as the client sent it.
    pub fn uri(&self, target: &Target, raw_query: Option<&str>) -> Result<Uri, S3Error> {
        self.backend.uri_for(target, raw_query).map_err(S3Error::internal)
    }

    pub fn bucket_uri(&self, bucket: &str, raw_query: Option<&str>) -> Result<Uri, S3Error> {
        self.uri(&Target::bucket(bucket), raw_query)
    }

    pub fn object_uri(&self, bucket: &str, key: &str, raw_query: Option<&str>) -> Result<Uri, S3Error> {
        self.uri(&Target::object(bucket, key), raw_query)
    }

    /// A request without a body.
    pub async fn call(
        &self,
        op: Operation,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
    ) -> Result<Response<Body>, S3Error> {
        self.send(op, method, uri, headers, Outbound::empty()).await
    }

    /// PUT a small body the gateway holds in memory, with its `Content-MD5` (which an Object Lock bucket requires).
    pub async fn put_bytes(
        &self,
        op: Operation,
        uri: Uri,
        mut headers: HeaderMap,
        data: Bytes,
    ) -> Result<Response<Body>, S3Error> {
        headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(data.len()));
        let mut md5 = Md5Hasher::new();
        md5.update(&data);
        headers.insert(
            "content-md5",
            HeaderValue::from_str(&md5.finish()).map_err(S3Error::internal)?,
        );
        self.send(op, Method::PUT, uri, headers, Outbound::full(data)).await
    }

    /// Sign and send one backend request. A client body's failure wins over the backend's answer.
    ///
    /// Boxed: the exchange's future (the signer's, the HTTP client's, the deadline's) is about 6 KiB, which would
    /// otherwise sit inline in every caller's future and be copied with it.
    pub fn send(
        &self,
        op: Operation,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        out: impl Into<Outbound>,
    ) -> BoxFuture<'_, Result<Response<Body>, S3Error>> {
        Box::pin(self.exchange(op, method, uri, headers, out.into()))
    }

    async fn exchange(
        &self,
        op: Operation,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        out: Outbound,
    ) -> Result<Response<Body>, S3Error> {
        let Outbound {
            body,
            progress,
            failure,
        } = out;
        let started = Instant::now();
        // When the backend last took a piece of the body (milliseconds since `started`).
        let last_read = Arc::new(AtomicU64::new(0));
        let taken = last_read.clone();
        let on_data = Box::new(move |_| taken.store(millis_since(started), Ordering::Relaxed));
        let body = crate::body::boxed(Metered::new(body, on_data, None));
        let mode = match progress {
            Progress::Watched(_) | Progress::Whole | Progress::Streamed
                if self.streams_into_object_lock(op, &method, &uri).await =>
            {
                BackendPayload::Trailer
            }
            _ => self.backend.payload(),
        };
        let send = self.backend.send_as(method, uri, headers, body, mode);
        let timeout = self.backend.response_timeout;
        let stalled = |limit: Duration| {
            let limit = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
            millis_since(started).saturating_sub(last_read.load(Ordering::Relaxed)) >= limit
        };
        let deadline = async {
            // The response timeout counts from the end of the upload, not its start; during the upload, from the
            // last time the backend took a piece of the body (a backend that stops reading must not hang us).
            match progress {
                Progress::Sent | Progress::Whole => {}
                Progress::Streamed => {
                    while !stalled(timeout) {
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                    return;
                }
                Progress::Watched(mut sent) => {
                    while !*sent.borrow() {
                        if stalled(timeout) {
                            return;
                        }
                        if let Ok(Err(_)) = tokio::time::timeout(Duration::from_millis(250), sent.changed()).await {
                            break; // the body is gone: count from now
                        }
                    }
                }
            }
            tokio::time::sleep(timeout).await;
        };
        // Pinned where they are: `select!` would move each (the send is kilobytes) into a tuple of its own.
        tokio::pin!(send, deadline);
        let resp = tokio::select! {
            r = &mut send => r,
            () = &mut deadline => Err(BackendError::Timeout(timeout)),
        };
        let series = self.metrics.op(op);
        series.backend_request_duration.observe(started.elapsed().as_secs_f64());
        // A backend may answer before reading the whole body; a failed client check still wins.
        if let Some(body_error) = failure.and_then(|f| f.take()) {
            return Err(body_error);
        }
        resp.map_err(|e| {
            series.backend_errors.inc();
            tracing::warn!(operation = op.as_str(), error = %e, "backend unavailable");
            S3Error::new(
                S3ErrorCode::ServiceUnavailable,
                "The storage backend is unavailable. Please try again.",
            )
        })
    }
}

impl Upstream {
    /// Whether a streamed request writes object data into a bucket whose Object Lock is enabled, and so must
    /// go with a checksum of what it sends. In-memory bodies (the gateway's records) carry a `Content-MD5`.
    async fn streams_into_object_lock(&self, op: Operation, method: &Method, uri: &Uri) -> bool {
        use Operation as Op;
        // The PUTs that store object data: the client's, and the gateway's own for a copy, a re-encryption at
        // Complete or an UpdateObjectEncryption (never a legal hold's, retention's or tagging's document).
        let writes_data = matches!(
            op,
            Op::PutObject
                | Op::PostObject
                | Op::UploadPart
                | Op::UploadPartCopy
                | Op::CopyObject
                | Op::CompleteMultipartUpload
                | Op::UpdateObjectEncryption
        );
        if method != Method::PUT || !writes_data || !self.backend.lock_needs_trailer() {
            return false;
        }
        let Some(bucket) = self.backend.object_bucket_of(uri) else {
            return false;
        };
        if let Some(enabled) = self.object_lock.get(&bucket) {
            return enabled;
        }
        let enabled = self.object_lock_enabled(op, &bucket).await;
        self.object_lock.insert(&bucket, enabled);
        enabled
    }

    /// GetObjectLockConfiguration: `ObjectLockEnabled` is `Enabled`. Any failure reads as not enabled (the
    /// write then gets the backend's own answer).
    async fn object_lock_enabled(&self, op: Operation, bucket: &str) -> bool {
        let Ok(uri) = self.bucket_uri(bucket, Some("object-lock")) else {
            return false;
        };
        // Boxed: `send` is what calls this (never for a GET, so the recursion ends here).
        let answer = Box::pin(self.call(op, Method::GET, uri, HeaderMap::new())).await;
        let Ok(resp) = answer else {
            return false;
        };
        if !resp.status().is_success() {
            return false;
        }
        crate::response::read_small(resp).await.is_ok_and(|b| {
            crate::s3::xml::xml_text(&String::from_utf8_lossy(&b), "ObjectLockEnabled").as_deref() == Some("Enabled")
        })
    }
}

/// A backend error on one of the gateway's own reads or writes. A 4xx is the backend's answer about the client's
/// bucket and reaches the client with the backend's code and S3's message for it (`what`, the gateway's own
/// record, goes to the log, not to the client); a 503 stays a 503 (and SlowDown stays SlowDown, so that
/// clients back off and retry); anything else is the gateway's internal error.
pub async fn failure(resp: Response<Body>, what: String) -> S3Error {
    let status = resp.status();
    if status != http::StatusCode::SERVICE_UNAVAILABLE && !status.is_client_error() {
        return S3Error::internal(format!("{what}: backend status {status}"));
    }
    let code = crate::response::read_small(resp)
        .await
        .ok()
        .and_then(|b| crate::s3::xml::xml_text(&String::from_utf8_lossy(&b), "Code"));
    match (status, code.as_deref()) {
        (_, Some("SlowDown")) => S3Error::new(S3ErrorCode::SlowDown, "Please reduce your request rate."),
        (http::StatusCode::SERVICE_UNAVAILABLE, _) => S3Error::new(
            S3ErrorCode::ServiceUnavailable,
            "The storage backend is unavailable. Please try again.",
        ),
        (_, Some(c)) => match S3ErrorCode::from_backend(c) {
            Some(code) => {
                tracing::debug!(code = c, "{what}: the backend answered");
                S3Error::standard(code)
            }
            None => S3Error::internal(format!("{what}: backend status {status} ({c})")),
        },
        _ => S3Error::internal(format!("{what}: backend status {status}")),
    }
}
