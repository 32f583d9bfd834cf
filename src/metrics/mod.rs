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
    CounterVec, Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};
use tokio::net::TcpListener;

use crate::body::{Body, full};
use crate::s3::operation::Operation;

mod process;
pub mod readiness;
pub mod request;

pub struct Metrics {
    pub registry: Registry,
    // Traffic and latency.
    pub requests: IntCounterVec,
    pub errors: IntCounterVec,
    pub request_duration: HistogramVec,
    pub time_to_first_byte: HistogramVec,
    pub in_flight: IntGauge,
    pub aborted: IntCounterVec,
    pub open_connections: IntGauge,
    pub client_bytes: IntCounterVec,
    // Encryption.
    pub plaintext_bytes: IntCounterVec,
    pub ciphertext_bytes: IntCounterVec,
    pub crypto_seconds: CounterVec,
    pub authentication_failures: IntCounter,
    // Backend.
    pub backend_request_duration: HistogramVec,
    pub backend_errors: IntCounterVec,
    pub backend_up: IntGauge,
    // Security.
    pub sigv4_failures: IntCounterVec,
    pub tls_handshakes: IntCounter,
    pub tls_handshake_failures: IntCounter,
    pub connections_rejected: IntCounter,
    pub connections_timed_out: IntCounter,
    pub certificate_expiry: prometheus::Gauge,
    // KMS.
    pub kms_requests: IntCounterVec,
    pub kms_request_duration: HistogramVec,
    pub kms_cache: IntCounterVec,
    pub kms_up: IntGauge,
    // Policy.
    pub policy_decisions: IntCounterVec,
    /// The statement Sids used as `rule` labels so far (bounded by [`MAX_SID_LABELS`]).
    policy_rules: std::sync::Mutex<std::collections::HashSet<String>>,
    /// The series every request of an operation touches, resolved once: by [`Operation`] index.
    ops: Box<[OpSeries]>,
    /// `client_bytes_total{direction="upload"}` and `{direction="download"}`.
    pub upload_bytes: IntCounter,
    pub download_bytes: IntCounter,
    /// Set once the listener and certificates are up.
    pub ready: AtomicBool,
    /// Set on SIGTERM/SIGINT: `/readyz` answers 503 from then on, whatever the probes say.
    pub draining: AtomicBool,
}

const PREFIX: &str = "s3_sse_proxy";

/// At most this many distinct statement Sids become `rule` labels; later ones, and Sids longer than
/// [`MAX_SID_LABEL_LEN`] or with other characters than `[A-Za-z0-9_.-]`, are counted as `other`.
pub const MAX_SID_LABELS: usize = 100;
pub const MAX_SID_LABEL_LEN: usize = 64;

/// Latency buckets (seconds) for requests and backend calls.
const LATENCY: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

fn counter(r: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).expect("valid metric");
    r.register(Box::new(c.clone())).expect("unique metric name");
    c
}

fn counters(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(c.clone())).expect("unique metric name");
    c
}

fn gauge(r: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).expect("valid metric");
    r.register(Box::new(g.clone())).expect("unique metric name");
    g
}

fn histograms(r: &Registry, name: &str, help: &str, labels: &[&str], buckets: &[f64]) -> HistogramVec {
    let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets.to_vec()), labels).expect("valid metric");
    r.register(Box::new(h.clone())).expect("unique metric name");
    h
}

/// The series one operation's requests touch, resolved once per operation at start (a `with_label_values` per
/// use hashes the labels and takes the family's lock). 3xx answers and aborted responses are rare and looked up
/// when they happen.
pub struct OpSeries {
    /// `requests_total` for 2xx, 4xx and 5xx.
    requests: [IntCounter; 3],
    pub request_duration: Histogram,
    pub time_to_first_byte: Histogram,
    pub backend_request_duration: Histogram,
    pub backend_errors: IntCounter,
}

impl OpSeries {
    fn of(
        op: Operation,
        requests: &IntCounterVec,
        request_duration: &HistogramVec,
        time_to_first_byte: &HistogramVec,
        backend_request_duration: &HistogramVec,
        backend_errors: &IntCounterVec,
    ) -> Self {
        let op = op.as_str();
        Self {
            requests: ["2xx", "4xx", "5xx"].map(|class| requests.with_label_values(&[op, class])),
            request_duration: request_duration.with_label_values(&[op]),
            time_to_first_byte: time_to_first_byte.with_label_values(&[op]),
            backend_request_duration: backend_request_duration.with_label_values(&[op]),
            backend_errors: backend_errors.with_label_values(&[op]),
        }
    }

    /// Count one answer of `status`.
    pub fn count(&self, metrics: &Metrics, op: Operation, status: u16) {
        match status {
            200..=299 => self.requests[0].inc(),
            300..=399 => metrics.requests.with_label_values(&[op.as_str(), "3xx"]).inc(),
            400..=499 => self.requests[1].inc(),
            _ => self.requests[2].inc(),
        }
    }
}

impl Metrics {
    #[allow(
        clippy::too_many_lines,
        reason = "one declaration per metric family, in the order of the struct"
    )]
    pub fn new() -> Arc<Self> {
        let r = Registry::new_custom(Some(PREFIX.to_owned()), None).expect("valid prefix");
        let crypto_seconds = CounterVec::new(
            Opts::new(
                "crypto_seconds_total",
                "Time spent sealing and opening object data, by operation (encrypt, decrypt)",
            ),
            &["operation"],
        )
        .expect("valid metric");
        r.register(Box::new(crypto_seconds.clone()))
            .expect("unique metric name");
        let certificate_expiry = prometheus::Gauge::new(
            "tls_certificate_expiry_timestamp_seconds",
            "When the serving certificate expires (Unix time)",
        )
        .expect("valid metric");
        r.register(Box::new(certificate_expiry.clone()))
            .expect("unique metric name");
        r.register(Box::new(process::ProcessCollector::new()))
            .expect("unique metric name");
        let requests = counters(
            &r,
            "requests_total",
            "S3 requests by operation and HTTP status class",
            &["operation", "status_class"],
        );
        let request_duration = histograms(
            &r,
            "request_duration_seconds",
            "Time from request head to the last response byte, by operation",
            &["operation"],
            LATENCY,
        );
        let time_to_first_byte = histograms(
            &r,
            "time_to_first_byte_seconds",
            "Time from request head to response head, by operation",
            &["operation"],
            LATENCY,
        );
        let backend_request_duration = histograms(
            &r,
            "backend_request_duration_seconds",
            "Time from sending a backend request to its response head, by operation",
            &["operation"],
            LATENCY,
        );
        let backend_errors = counters(
            &r,
            "backend_errors_total",
            "Backend requests that failed without a response, by operation",
            &["operation"],
        );
        let client_bytes = counters(
            &r,
            "client_bytes_total",
            "Body bytes received from (upload) and sent to (download) clients, whatever the operation",
            &["direction"],
        );
        let ops = Operation::ALL
            .iter()
            .map(|&op| {
                OpSeries::of(
                    op,
                    &requests,
                    &request_duration,
                    &time_to_first_byte,
                    &backend_request_duration,
                    &backend_errors,
                )
            })
            .collect();
        let (upload_bytes, download_bytes) = (
            client_bytes.with_label_values(&["upload"]),
            client_bytes.with_label_values(&["download"]),
        );
        let m = Self {
            requests,
            errors: counters(
                &r,
                "errors_total",
                "S3 error responses by operation and S3 error code (`Backend` for errors the backend answered)",
                &["operation", "code"],
            ),
            request_duration,
            time_to_first_byte,
            in_flight: gauge(&r, "requests_in_flight", "Requests being handled"),
            aborted: counters(
                &r,
                "responses_aborted_total",
                "Responses whose body did not complete (client gone, backend cut, or a stream aborted on a tag failure)",
                &["operation"],
            ),
            open_connections: gauge(
                &r,
                "open_connections",
                "Client connections open (after the TLS handshake)",
            ),
            client_bytes,
            plaintext_bytes: counters(
                &r,
                "plaintext_bytes_total",
                "Object plaintext bytes into the cipher (upload: encrypted) or out of it (download: decrypted), by SSE mode",
                &["direction", "sse_mode"],
            ),
            ciphertext_bytes: counters(
                &r,
                "ciphertext_bytes_total",
                "Object ciphertext bytes out of the cipher (upload) or into it (download), by SSE mode",
                &["direction", "sse_mode"],
            ),
            crypto_seconds,
            authentication_failures: counter(
                &r,
                "authentication_tag_failures_total",
                "Object segments or streams that failed AES-GCM authentication (tampering or truncation signal)",
            ),
            backend_request_duration,
            backend_errors,
            backend_up: gauge(&r, "backend_up", "1 if the backend answered the last readiness probe"),
            sigv4_failures: counters(
                &r,
                "sigv4_failures_total",
                "Rejected authentications by S3 error code",
                &["reason"],
            ),
            tls_handshakes: counter(&r, "tls_handshakes_total", "Completed TLS handshakes"),
            tls_handshake_failures: counter(&r, "tls_handshake_failures_total", "Failed or timed-out TLS handshakes"),
            connections_rejected: counter(
                &r,
                "connections_rejected_total",
                "Connections closed at accept because [limits] max_connections were open",
            ),
            connections_timed_out: counter(
                &r,
                "connections_timed_out_total",
                "Connections closed by [limits] idle_timeout_secs (no bytes moved while the client owed some)",
            ),
            certificate_expiry,
            kms_requests: counters(
                &r,
                "kms_requests_total",
                "Calls to the KMS by operation and result (ok or error kind)",
                &["operation", "result"],
            ),
            kms_request_duration: histograms(
                &r,
                "kms_request_duration_seconds",
                "KMS call latency by operation",
                &["operation"],
                &[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ],
            ),
            kms_cache: counters(
                &r,
                "kms_key_cache_lookups_total",
                "Data-key and bucket-key cache lookups by result (hit or miss)",
                &["result"],
            ),
            kms_up: gauge(&r, "kms_up", "1 if the KMS answered the last readiness probe"),
            policy_decisions: counters(
                &r,
                "policy_decisions_total",
                "Authorization decisions (allow, deny) by deciding rule: a policy statement's Sid, `unnamed` (a \
                 statement without Sid), `allowed-buckets` (the credential's own permission), `implicit` (no bucket)",
                &["decision", "rule"],
            ),
            policy_rules: std::sync::Mutex::new(std::collections::HashSet::new()),
            registry: r,
            ops,
            upload_bytes,
            download_bytes,
            ready: AtomicBool::new(false),
            draining: AtomicBool::new(false),
        };
        m.zero_series();
        Arc::new(m)
    }

    /// The series of `op`'s requests.
    pub fn op(&self, op: Operation) -> &OpSeries {
        &self.ops[op as usize]
    }

    /// Create the series alerts and ratios divide by at zero, so that `rate()` sees their first increment.
    fn zero_series(&self) {
        use crate::error::S3ErrorCode;
        // Requests by class, the latency histograms and backend errors have a series per operation from the
        // start (`OpSeries`): the dashboard's latency panels have one before the first request.
        for op in Operation::ALL {
            // The error breakdown: the two 5xx codes the alerts name.
            for code in [S3ErrorCode::InternalError, S3ErrorCode::ServiceUnavailable] {
                self.errors.with_label_values(&[op.as_str(), code.as_str()]);
            }
        }
        for code in [
            S3ErrorCode::SignatureDoesNotMatch,
            S3ErrorCode::InvalidAccessKeyId,
            S3ErrorCode::RequestTimeTooSkewed,
            S3ErrorCode::AuthorizationHeaderMalformed,
            S3ErrorCode::AuthorizationQueryParametersError,
        ] {
            self.sigv4_failures.with_label_values(&[code.as_str()]);
        }
        for decision in ["allow", "deny"] {
            self.policy_decisions.with_label_values(&[decision, "allowed-buckets"]);
        }
        for operation in ["encrypt", "decrypt"] {
            self.crypto_seconds.with_label_values(&[operation]);
        }
        for op in ["GenerateDataKey", "Encrypt", "Decrypt", "DescribeKey"] {
            // The latency histogram too: the dashboard's KMS panel has a series before the first KMS call.
            self.kms_request_duration.with_label_values(&[op]);
            for result in [
                "ok",
                "NotFound",
                "Disabled",
                "AccessDenied",
                "InvalidCiphertext",
                "Unavailable",
                "Other",
            ] {
                self.kms_requests.with_label_values(&[op, result]);
            }
        }
        for result in ["hit", "miss"] {
            self.kms_cache.with_label_values(&[result]);
        }
        for direction in ["upload", "download"] {
            for mode in ["SSE-S3", "SSE-C", "SSE-KMS"] {
                self.plaintext_bytes.with_label_values(&[direction, mode]);
                self.ciphertext_bytes.with_label_values(&[direction, mode]);
            }
        }
    }

    /// Count one policy decision. `sid` is the deciding statement's Sid (bounded, see [`MAX_SID_LABELS`]).
    pub fn policy_decision(&self, allowed: bool, rule: &str, from_statement: bool) {
        let label = if !from_statement {
            rule
        } else {
            let ok = rule.len() <= MAX_SID_LABEL_LEN
                && rule.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
            let mut seen = self.policy_rules.lock().unwrap_or_else(|e| e.into_inner());
            if ok && (seen.contains(rule) || (seen.len() < MAX_SID_LABELS && seen.insert(rule.to_owned()))) {
                rule
            } else {
                "other"
            }
        };
        let decision = if allowed { "allow" } else { "deny" };
        self.policy_decisions.with_label_values(&[decision, label]).inc();
    }

    fn render(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        buf
    }

    /// The meter of one object stream being sealed (`upload`) or opened (`download`) under `sse_mode`.
    pub fn stream_meter(self: &Arc<Self>, sse_mode: &str, upload: bool) -> StreamMeter {
        let direction = if upload { "upload" } else { "download" };
        StreamMeter {
            plaintext: self.plaintext_bytes.with_label_values(&[direction, sse_mode]),
            ciphertext: self.ciphertext_bytes.with_label_values(&[direction, sse_mode]),
            seconds: self
                .crypto_seconds
                .with_label_values(&[if upload { "encrypt" } else { "decrypt" }]),
            tag_failures: self.authentication_failures.clone(),
            upload,
        }
    }
}

/// Counts one stream's bytes on both sides of the cipher and the time spent in it; reports tag failures.
pub struct StreamMeter {
    plaintext: IntCounter,
    ciphertext: IntCounter,
    seconds: prometheus::Counter,
    tag_failures: IntCounter,
    upload: bool,
}

impl crate::body::transform::Meter for StreamMeter {
    fn progress(&self, input: usize, output: usize, spent: std::time::Duration) {
        let (plain, cipher) = if self.upload { (input, output) } else { (output, input) };
        self.plaintext.inc_by(plain as u64);
        self.ciphertext.inc_by(cipher as u64);
        self.seconds.inc_by(spent.as_secs_f64());
    }
    fn failed(&self, e: &crate::crypto::CryptoError) {
        self.tag_failures.inc();
        tracing::error!(error = %e, "object data failed authentication; stream aborted");
    }
}

async fn route(m: Arc<Metrics>, req: Request<hyper::body::Incoming>) -> Result<Response<Body>, Infallible> {
    let (status, body): (StatusCode, Bytes) = match req.uri().path() {
        "/metrics" => (StatusCode::OK, m.render().into()),
        // Liveness: the process serves requests (restart it if not); readiness is `/readyz`.
        "/healthz" | "/livez" => (StatusCode::OK, Bytes::from_static(b"ok\n")),
        "/readyz" if m.draining.load(Ordering::Relaxed) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Bytes::from_static(b"not ready: shutting down\n"),
        ),
        "/readyz" => match (m.ready.load(Ordering::Relaxed), m.backend_up.get(), m.kms_up.get()) {
            (true, 1, 1) => (StatusCode::OK, Bytes::from_static(b"ready\n")),
            (false, _, _) => (
                StatusCode::SERVICE_UNAVAILABLE,
                Bytes::from_static(b"not ready: starting\n"),
            ),
            (_, 0, _) => (
                StatusCode::SERVICE_UNAVAILABLE,
                Bytes::from_static(b"not ready: backend unreachable\n"),
            ),
            _ => (
                StatusCode::SERVICE_UNAVAILABLE,
                Bytes::from_static(b"not ready: KMS unreachable\n"),
            ),
        },
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The series resolved at start are the ones the labels name, for every operation.
    #[test]
    fn each_operation_counts_into_its_own_series() {
        let m = Metrics::new();
        for (i, &op) in Operation::ALL.iter().enumerate() {
            let series = m.op(op);
            for _ in 0..=i {
                series.count(&m, op, 204);
            }
            series.count(&m, op, 304);
            series.count(&m, op, 404);
            series.count(&m, op, 503);
            series.backend_request_duration.observe(0.5);
        }
        for (i, &op) in Operation::ALL.iter().enumerate() {
            let n = |class| m.requests.with_label_values(&[op.as_str(), class]).get();
            assert_eq!(
                (n("2xx"), n("3xx"), n("4xx"), n("5xx")),
                (i as u64 + 1, 1, 1, 1),
                "{op:?}"
            );
            let backend = m.backend_request_duration.with_label_values(&[op.as_str()]);
            assert_eq!(backend.get_sample_count(), 1, "{op:?}");
        }
    }

    /// Every metric the dashboard and the alert rules query, as `name` (histograms: `name_bucket`, …).
    fn queried() -> std::collections::BTreeSet<String> {
        let texts = [
            include_str!("../../grafana/s3-sse-proxy.json"),
            include_str!("../../grafana/alerts.yaml"),
        ];
        let mut names = std::collections::BTreeSet::new();
        for text in texts {
            let mut rest = text;
            while let Some(i) = rest.find("s3_sse_proxy_") {
                let tail = &rest[i..];
                let end = tail
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(tail.len());
                names.insert(tail[..end].to_owned());
                rest = &tail[end..];
            }
        }
        names
    }

    #[test]
    fn every_metric_the_dashboard_and_alerts_query_has_a_series_from_startup() {
        let text = String::from_utf8(Metrics::new().render()).expect("UTF-8");
        let names = queried();
        assert!(names.len() > 10, "found only {names:?} in grafana/");
        let missing: Vec<&String> = names
            .iter()
            .filter(|n| !text.lines().any(|l| !l.starts_with('#') && l.starts_with(n.as_str())))
            .collect();
        assert!(missing.is_empty(), "no series at startup for {missing:?}");
    }
}
