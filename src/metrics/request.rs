//! The meter phase of one request (Pingora's `logging`): counters, time to first byte, bytes each way, and the
//! access log line, recorded exactly once, when the response body is over (or dropped), whatever happened.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response};
use http_body_util::BodyExt;

use super::Metrics;
use crate::body::metered::Metered;
use crate::body::{Body, BoxError};
use crate::error::{S3Error, S3ErrorCode};
use crate::s3::operation::Operation;
use crate::s3::request::ConnInfo;

/// A request body the gateway did not read (it answered an error first) is drained up to this many bytes, so
/// the client sees the error response rather than a reset.
const DRAIN_LIMIT: u64 = 64 * 1024 * 1024;

/// What the meter knows of one request so far.
pub struct RequestMeter {
    metrics: Arc<Metrics>,
    conn: ConnInfo,
    started: Instant,
    request_id: String,
    method: Method,
    path: String,
    bytes_in: Arc<AtomicU64>,
    operation: Operation,
    principal: Option<String>,
}

impl RequestMeter {
    pub fn start<B>(metrics: &Arc<Metrics>, conn: ConnInfo, req: &Request<B>) -> Self {
        metrics.in_flight.inc();
        Self {
            metrics: metrics.clone(),
            conn,
            started: Instant::now(),
            request_id: new_request_id(),
            method: req.method().clone(),
            path: req.uri().path().to_owned(),
            bytes_in: Arc::new(AtomicU64::new(0)),
            operation: Operation::Other,
            principal: None,
        }
    }

    /// The request with its body counted as it is read (whatever reads it), and drained if nobody does.
    pub fn count_upload<B>(&self, req: Request<B>) -> Request<Body>
    where
        B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
        B::Error: Into<BoxError>,
    {
        let (counted, upload) = (self.bytes_in.clone(), self.metrics.upload_bytes.clone());
        req.map(|b| {
            let on_data = Box::new(move |n| {
                counted.fetch_add(n, Ordering::Relaxed);
                upload.inc_by(n);
            });
            crate::body::boxed(Metered::new(b.map_err(Into::into).boxed(), on_data, None).drain_on_drop(DRAIN_LIMIT))
        })
    }

    pub fn request_id(&self) -> String {
        self.request_id.clone()
    }

    pub fn operation(&mut self, op: Operation) {
        self.operation = op;
    }

    pub fn principal(&mut self, name: &str) {
        self.principal = Some(name.to_owned());
    }

    /// The response the client gets: an error as S3 XML; the request id on every answer; the head counted now,
    /// the duration, bytes and access log line when the body is over.
    pub fn finish(self, result: Result<Response<Body>, S3Error>) -> Response<Body> {
        let operation = self.operation;
        let op = operation.as_str();
        let metrics = self.metrics;
        let mut resp = match result {
            Ok(r) => {
                if r.status().is_client_error() || r.status().is_server_error() {
                    metrics.errors.with_label_values(&[op, "Backend"]).inc();
                }
                r
            }
            Err(e) => {
                if matches!(
                    e.code,
                    S3ErrorCode::SignatureDoesNotMatch
                        | S3ErrorCode::InvalidAccessKeyId
                        | S3ErrorCode::RequestTimeTooSkewed
                        | S3ErrorCode::AuthorizationHeaderMalformed
                        | S3ErrorCode::AuthorizationQueryParametersError
                ) {
                    metrics.sigv4_failures.with_label_values(&[e.code.as_str()]).inc();
                }
                metrics.errors.with_label_values(&[op, e.code.as_str()]).inc();
                e.to_response(&self.request_id, &self.path, self.method == Method::HEAD)
            }
        };
        if let Ok(v) = HeaderValue::from_str(&self.request_id) {
            resp.headers_mut().insert("x-amz-request-id", v);
        }
        let status = resp.status();
        let series = metrics.op(operation);
        series.count(&metrics, operation, status.as_u16());
        let started = self.started;
        series.time_to_first_byte.observe(started.elapsed().as_secs_f64());
        let download = metrics.download_bytes.clone();
        let principal = self.principal.unwrap_or_else(|| "-".to_owned());
        let (request_id, method, bytes_in, peer) = (self.request_id, self.method, self.bytes_in, self.conn.peer);
        let on_done = Box::new(move |bytes_out: u64, complete: bool| {
            metrics.in_flight.dec();
            if !complete {
                metrics.aborted.with_label_values(&[op]).inc();
            }
            metrics
                .op(operation)
                .request_duration
                .observe(started.elapsed().as_secs_f64());
            tracing::info!(
                target: "access",
                request_id = %request_id,
                peer = %peer,
                principal = %principal,
                operation = op,
                method = %method,
                status = status.as_u16(),
                bytes_in = bytes_in.load(Ordering::Relaxed),
                bytes_out,
                complete,
                duration_ms = started.elapsed().as_millis() as u64,
            );
        });
        resp.map(|b| crate::body::boxed(Metered::new(b, Box::new(move |n| download.inc_by(n)), Some(on_done))))
    }
}

/// 16 uppercase hex digits, unique per request. Not a secret (every response carries it), so it comes from
/// fastrand's thread-local generator: a call to the system RNG per request was 1.4 % of a small request's CPU.
fn new_request_id() -> String {
    let mut out = [0u8; 16];
    hex::encode_to_slice(fastrand::u64(..).to_be_bytes(), &mut out).expect("16 hex digits for 8 bytes");
    out.make_ascii_uppercase();
    std::str::from_utf8(&out).expect("hex is ASCII").to_owned()
}
