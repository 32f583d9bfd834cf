//! Every metric the gateway exports, declared in one place (prefix `s3_sse_proxy_`, base units, `_total` on
//! counters, bounded labels only: never a bucket, key or principal). Also the `/metrics`, `/healthz` and
//! `/readyz` listener.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};
use tokio::net::TcpListener;

use crate::body::{Body, full};

pub struct Metrics {
    pub registry: Registry,
    pub requests: IntCounterVec,
    pub request_duration: HistogramVec,
    pub in_flight: IntGauge,
    pub sigv4_failures: IntCounterVec,
    pub backend_errors: IntCounterVec,
    pub tls_handshakes: IntCounter,
    pub authentication_failures: IntCounter,
    pub tls_handshake_failures: IntCounter,
    pub kms_requests: IntCounterVec,
    pub kms_request_duration: HistogramVec,
    pub kms_cache: IntCounterVec,
    /// Set once the listener and certificates are up.
    pub ready: AtomicBool,
}

const PREFIX: &str = "s3_sse_proxy";

impl Metrics {
    pub fn new() -> Arc<Self> {
        let registry = Registry::new_custom(Some(PREFIX.to_owned()), None).expect("valid prefix");
        let requests = IntCounterVec::new(
            Opts::new("requests_total", "S3 requests by operation and HTTP status class"),
            &["operation", "status_class"],
        )
        .expect("valid metric");
        let request_duration = HistogramVec::new(
            HistogramOpts::new("request_duration_seconds", "Time from request head to response head").buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
            &["operation"],
        )
        .expect("valid metric");
        let in_flight = IntGauge::new("requests_in_flight", "Requests being handled").expect("valid metric");
        let sigv4_failures = IntCounterVec::new(
            Opts::new("sigv4_failures_total", "Rejected authentications by S3 error code"),
            &["reason"],
        )
        .expect("valid metric");
        let backend_errors = IntCounterVec::new(
            Opts::new(
                "backend_errors_total",
                "Backend requests that failed without a response, by operation",
            ),
            &["operation"],
        )
        .expect("valid metric");
        let tls_handshakes = IntCounter::new("tls_handshakes_total", "Completed TLS handshakes").expect("valid metric");
        let tls_handshake_failures =
            IntCounter::new("tls_handshake_failures_total", "Failed or timed-out TLS handshakes")
                .expect("valid metric");
        let authentication_failures = IntCounter::new(
            "authentication_tag_failures_total",
            "Object segments or streams that failed AES-GCM authentication (tampering or truncation signal)",
        )
        .expect("valid metric");
        let kms_requests = IntCounterVec::new(
            Opts::new(
                "kms_requests_total",
                "Calls to the KMS by operation and result (ok or error kind)",
            ),
            &["operation", "result"],
        )
        .expect("valid metric");
        let kms_request_duration = HistogramVec::new(
            HistogramOpts::new("kms_request_duration_seconds", "KMS call latency by operation").buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["operation"],
        )
        .expect("valid metric");
        let kms_cache = IntCounterVec::new(
            Opts::new(
                "kms_key_cache_lookups_total",
                "Data-key and bucket-key cache lookups by result (hit or miss)",
            ),
            &["result"],
        )
        .expect("valid metric");
        for c in [
            Box::new(authentication_failures.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(kms_requests.clone()),
            Box::new(kms_request_duration.clone()),
            Box::new(kms_cache.clone()),
            Box::new(requests.clone()),
            Box::new(request_duration.clone()),
            Box::new(in_flight.clone()),
            Box::new(sigv4_failures.clone()),
            Box::new(backend_errors.clone()),
            Box::new(tls_handshakes.clone()),
            Box::new(tls_handshake_failures.clone()),
        ] {
            registry.register(c).expect("unique metric names");
        }
        Arc::new(Self {
            registry,
            requests,
            request_duration,
            in_flight,
            sigv4_failures,
            backend_errors,
            tls_handshakes,
            authentication_failures,
            tls_handshake_failures,
            kms_requests,
            kms_request_duration,
            kms_cache,
            ready: AtomicBool::new(false),
        })
    }

    fn render(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        buf
    }
}

async fn route(m: Arc<Metrics>, req: Request<hyper::body::Incoming>) -> Result<Response<Body>, Infallible> {
    let (status, body): (StatusCode, Bytes) = match req.uri().path() {
        "/metrics" => (StatusCode::OK, m.render().into()),
        "/healthz" => (StatusCode::OK, Bytes::from_static(b"ok\n")),
        "/readyz" if m.ready.load(Ordering::Relaxed) => (StatusCode::OK, Bytes::from_static(b"ready\n")),
        "/readyz" => (StatusCode::SERVICE_UNAVAILABLE, Bytes::from_static(b"not ready\n")),
        _ => (StatusCode::NOT_FOUND, Bytes::from_static(b"not found\n")),
    };
    let mut resp = Response::new(full(body));
    *resp.status_mut() = status;
    Ok(resp)
}

/// Serve the plain-HTTP metrics listener forever.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let m = metrics.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| route(m.clone(), req));
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tcp), svc)
                .await;
        });
    }
}
