//! A request's life, phase by phase. This module calls the stages and owns none of them:
//!
//! accept (TLS, in `accept`) → authenticate (`auth`) → classify (`s3::operation`) → policy → transform body
//! (`body`) → sign + forward (`backend`) → transform response → meter (`metrics`, always, exactly once).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use http::{HeaderMap, HeaderValue, Method, Request, Response, Uri};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use crate::auth::{self, AuthLimits, CredentialStore};
use crate::backend::{self, Backend};
use crate::body::verify::{FailureSlot, VerifiedBody};
use crate::body::{Body, full};
use crate::error::{S3Error, S3ErrorCode};
use crate::metrics::Metrics;
use crate::object::{self, Keys};
use crate::s3::addressing;
use crate::s3::operation::{self, Operation};

/// Bodies up to this size are verified completely before anything is sent to the backend (so even an empty
/// body that fails a check never reaches it); larger ones stream, with their last bytes held back.
const PREVERIFY_LIMIT: u64 = 64 * 1024;

/// Per-connection facts the pipeline needs.
#[derive(Debug, Clone, Copy)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    /// The request arrived over TLS. Always true today (there is no plain listener); checked anyway.
    pub secure: bool,
}

pub struct Gateway {
    pub backend: Arc<Backend>,
    pub credentials: CredentialStore,
    pub limits: AuthLimits,
    pub virtual_host_domains: Vec<String>,
    pub metrics: Arc<Metrics>,
    /// Encryption keys; `None` runs the gateway as a verifying pass-through proxy (SSE off).
    pub keys: Option<Keys>,
}

/// What the meter phase records about one request.
struct Outcome {
    operation: Operation,
    principal: Option<String>,
}

impl Gateway {
    /// The whole life of one request. Never fails: every error becomes an S3 XML response.
    pub async fn handle(self: Arc<Self>, req: Request<Incoming>, conn: ConnInfo) -> Result<Response<Body>, Infallible> {
        let started = Instant::now();
        let request_id = new_request_id();
        self.metrics.in_flight.inc();
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let mut outcome = Outcome {
            operation: Operation::Other,
            principal: None,
        };
        let result = self.process(req, conn, &mut outcome).await;
        let mut resp = match result {
            Ok(r) => r,
            Err(e) => {
                if matches!(
                    e.code,
                    S3ErrorCode::SignatureDoesNotMatch
                        | S3ErrorCode::InvalidAccessKeyId
                        | S3ErrorCode::RequestTimeTooSkewed
                        | S3ErrorCode::AuthorizationHeaderMalformed
                        | S3ErrorCode::AuthorizationQueryParametersError
                ) {
                    self.metrics.sigv4_failures.with_label_values(&[e.code.as_str()]).inc();
                }
                e.to_response(&request_id, &path, method == Method::HEAD)
            }
        };
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            resp.headers_mut().insert("x-amz-request-id", v);
        }
        // Meter: always, once.
        let status = resp.status();
        let op = outcome.operation.as_str();
        self.metrics.in_flight.dec();
        self.metrics
            .requests
            .with_label_values(&[op, status_class(status.as_u16())])
            .inc();
        self.metrics
            .request_duration
            .with_label_values(&[op])
            .observe(started.elapsed().as_secs_f64());
        tracing::info!(
            target: "access",
            request_id = %request_id,
            peer = %conn.peer,
            principal = outcome.principal.as_deref().unwrap_or("-"),
            operation = op,
            method = %method,
            status = status.as_u16(),
            duration_ms = started.elapsed().as_millis() as u64,
        );
        Ok(resp)
    }

    async fn process(
        &self,
        req: Request<Incoming>,
        conn: ConnInfo,
        outcome: &mut Outcome,
    ) -> Result<Response<Body>, S3Error> {
        let (parts, body) = req.into_parts();

        // Classify.
        let target = addressing::resolve(auth::request_host(&parts), parts.uri.path(), &self.virtual_host_domains);
        let query = auth::query_params(&parts);
        let has_copy_source = parts.headers.contains_key("x-amz-copy-source");
        let op = operation::classify(&parts.method, &target, &query, has_copy_source);
        outcome.operation = op;
        check_sse_headers(op, &parts.headers, conn.secure)?;

        // Authenticate.
        let authed = auth::authenticate(&parts, &self.credentials, self.limits, SystemTime::now())?;
        outcome.principal = Some(authed.credential.display_name().to_owned());

        // Policy.
        if let Some(bucket) = &target.bucket
            && !authed.credential.may_access_bucket(bucket)
        {
            return Err(S3Error::access_denied());
        }
        if let Some(src) = parts.headers.get("x-amz-copy-source").and_then(|v| v.to_str().ok()) {
            let src = auth::canonical::percent_decode(src.trim_start_matches('/'));
            let src_bucket = src.split('/').next().unwrap_or("");
            if !authed.credential.may_access_bucket(src_bucket) {
                return Err(S3Error::access_denied());
            }
        }

        // Transform body: verify and de-frame.
        let declared = authed.body_checks.length;
        let sends_body = declared.is_some_and(|n| n > 0) || authed.aws_chunked;
        if !sends_body && matches!(parts.method, Method::PUT | Method::POST) && declared.is_none() {
            return Err(S3Error::new(
                S3ErrorCode::MissingContentLength,
                "You must provide the Content-Length HTTP header.",
            ));
        }
        let slot = FailureSlot::default();
        let (verified, body_sent) =
            VerifiedBody::new(body.map_err(Into::into).boxed(), authed.body_checks, slot.clone());
        let backend_body: Body = if declared.is_none_or(|n| n <= PREVERIFY_LIMIT) {
            let limit = usize::try_from(declared.unwrap_or(0)).unwrap_or(usize::MAX);
            match Limited::new(verified, limit).collect().await {
                Ok(c) => full(c.to_bytes()),
                Err(e) => {
                    return Err(slot.take().unwrap_or_else(|| {
                        tracing::debug!(error = %e, "request body rejected");
                        S3Error::new(S3ErrorCode::IncompleteBody, "The request body terminated unexpectedly.")
                    }));
                }
            }
        } else {
            verified.boxed()
        };

        // Transform body (encryption) or response (decryption), sign and forward.
        let uri = self
            .backend
            .uri_for(&target, parts.uri.query())
            .map_err(S3Error::internal)?;
        let mut headers = backend::forwarded_headers(&parts.headers, declared);
        let (Some(keys), Some(bucket), Some(key)) = (&self.keys, &target.bucket, &target.key) else {
            let resp = self
                .send(op, parts.method.clone(), uri, headers, backend_body, body_sent, &slot)
                .await?;
            return Ok(self.pass_through(resp));
        };
        match op {
            Operation::PutObject => {
                let obj = object::put::new_object(keys, crate::s3::sse::parse(&parts.headers)?, bucket, key)?;
                let len = declared.ok_or_else(|| {
                    S3Error::new(
                        S3ErrorCode::MissingContentLength,
                        "You must provide the Content-Length HTTP header.",
                    )
                })?;
                let body = object::put::encrypt_request(&obj, &mut headers, len, backend_body, self.on_crypto_error());
                let resp = self
                    .send(op, parts.method.clone(), uri, headers, body, body_sent, &slot)
                    .await?;
                Ok(object::put::respond(&obj, self.pass_through(resp)))
            }
            Operation::GetObject | Operation::HeadObject => {
                let fetch = Fetcher { gw: self, op, uri };
                object::get::get_object(keys, &fetch, &parts, bucket, key, headers, || self.on_crypto_error()).await
            }
            _ => {
                let resp = self
                    .send(op, parts.method.clone(), uri, headers, backend_body, body_sent, &slot)
                    .await?;
                Ok(self.pass_through(resp))
            }
        }
    }

    /// Sign and send one backend request. Body failures (a client check that failed) win over backend errors.
    #[allow(clippy::too_many_arguments)]
    async fn send(
        &self,
        op: Operation,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Body,
        mut body_sent: tokio::sync::watch::Receiver<bool>,
        slot: &FailureSlot,
    ) -> Result<Response<Incoming>, S3Error> {
        let send = self.backend.send(method, uri, headers, body);
        let timeout = self.backend.response_timeout;
        let deadline = async {
            // The response timeout counts from the end of the upload, not its start.
            let _ = body_sent.wait_for(|sent| *sent).await;
            tokio::time::sleep(timeout).await;
        };
        let resp = tokio::select! {
            r = send => r,
            () = deadline => Err(backend::BackendError::Timeout(timeout)),
        };
        // A backend may answer before reading the whole body; a failed client check still wins.
        if let Some(body_error) = slot.take() {
            return Err(body_error);
        }
        resp.map_err(|e| {
            self.metrics.backend_errors.with_label_values(&[op.as_str()]).inc();
            tracing::warn!(operation = op.as_str(), error = %e, "backend unavailable");
            S3Error::new(
                S3ErrorCode::ServiceUnavailable,
                "The storage backend is unavailable. Please try again.",
            )
        })
    }

    /// Stream a backend response back, minus hop-by-hop headers.
    fn pass_through(&self, resp: Response<Incoming>) -> Response<Body> {
        let (mut rparts, rbody) = resp.into_parts();
        backend::strip_hop_by_hop(&mut rparts.headers);
        Response::from_parts(rparts, rbody.map_err(Into::into).boxed())
    }

    /// What happens when a segment fails authentication or a stream is cut: a tamper signal, never silent.
    fn on_crypto_error(&self) -> crate::body::transform::OnError {
        let m = self.metrics.clone();
        Box::new(move |e| {
            m.authentication_failures.inc();
            tracing::error!(error = %e, "object data failed authentication; stream aborted");
        })
    }
}

/// Bodiless backend requests for the object handlers (HEAD, GET) to the request's own URI.
struct Fetcher<'a> {
    gw: &'a Gateway,
    op: Operation,
    uri: Uri,
}

impl object::get::Fetch for Fetcher<'_> {
    async fn fetch(&self, method: Method, headers: HeaderMap) -> Result<Response<Incoming>, S3Error> {
        let (_tx, rx) = tokio::sync::watch::channel(true);
        self.gw
            .send(
                self.op,
                method,
                self.uri.clone(),
                headers,
                crate::body::empty(),
                rx,
                &FailureSlot::default(),
            )
            .await
    }
}

/// SSE-C keys must never travel in clear (S3 answers 400 InvalidRequest). Checked here, at the one place that
/// classifies requests, even though the only S3 listener is HTTPS. Operations whose SSE support is not built yet
/// refuse SSE headers rather than forward a customer key or store an object unencrypted.
pub fn check_sse_headers(op: Operation, headers: &HeaderMap, secure: bool) -> Result<(), S3Error> {
    let sse_c = headers.keys().any(|n| {
        let n = n.as_str();
        n.starts_with("x-amz-server-side-encryption-customer-")
            || n.starts_with("x-amz-copy-source-server-side-encryption-customer-")
    });
    if sse_c && !secure {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure \
             connection.",
        ));
    }
    let any_sse = headers.keys().any(|n| crate::s3::sse::is_sse_header(n.as_str()));
    if any_sse && !matches!(op, Operation::PutObject | Operation::GetObject | Operation::HeadObject) {
        return Err(S3Error::new(
            S3ErrorCode::NotImplemented,
            format!(
                "Server-side encryption headers are not supported for {} yet.",
                op.as_str()
            ),
        ));
    }
    if headers.contains_key(object::ENVELOPE_HEADER) {
        return Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            format!(
                "The metadata header {} is reserved by the gateway.",
                object::ENVELOPE_HEADER
            ),
        ));
    }
    Ok(())
}

fn status_class(status: u16) -> &'static str {
    match status {
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

fn new_request_id() -> String {
    let mut b = [0u8; 8];
    aws_lc_rs::rand::fill(&mut b).expect("system RNG");
    hex::encode_upper(b)
}
