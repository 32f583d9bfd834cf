//! A request's life, phase by phase. This module calls the stages and owns none of them:
//!
//! accept (TLS, in `accept`) → authenticate (`auth`) → classify (`s3::operation`) → policy → transform body
//! (`body`) → sign + forward (`backend`) → transform response → meter (`metrics`, always, exactly once).

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
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
use crate::policy::{self as iam, Decision, Policy, PolicyKind, Principal};
use crate::s3::addressing::{self, Target};
use crate::s3::operation::{self, Operation};
use crate::s3::xml::{xml_all, xml_text};

/// Bodies up to this size are verified completely before anything is sent to the backend (so even an empty
/// body that fails a check never reaches it); larger ones stream, with their last bytes held back.
const PREVERIFY_LIMIT: u64 = 64 * 1024;

/// `[limits] max_header_bytes`, counted as on the wire (`name: value\r\n`), before anything else is looked at.
fn check_header_section(headers: &HeaderMap, limits: &crate::config::Limits) -> Result<(), S3Error> {
    let size: usize = headers.iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum();
    if size > limits.max_header_bytes {
        return Err(S3Error::new(
            S3ErrorCode::RequestHeaderSectionTooLarge,
            "Your request header section exceeds the maximum allowed size.",
        ));
    }
    Ok(())
}

/// `[limits] max_object_bytes` for object data, `max_xml_body_bytes` for everything else, on the declared
/// length (the decoded one for aws-chunked), before a byte of the body is read. The body itself can never
/// exceed what it declared: the verifier fails it.
fn check_body_size(op: Operation, declared: Option<u64>, limits: &crate::config::Limits) -> Result<(), S3Error> {
    let len = declared.unwrap_or(0);
    match op {
        Operation::PutObject | Operation::UploadPart if len > limits.max_object_bytes => Err(S3Error::new(
            S3ErrorCode::EntityTooLarge,
            "Your proposed upload exceeds the maximum allowed object size.",
        )),
        Operation::PutObject | Operation::UploadPart => Ok(()),
        _ if len > limits.max_xml_body_bytes => Err(S3Error::new(
            S3ErrorCode::MaxMessageLengthExceeded,
            "Your request was too big.",
        )),
        _ => Ok(()),
    }
}

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
    /// Cache (never authoritative): each bucket's adoption time, which never changes once written.
    pub adopted: dashmap::DashMap<String, i64>,
    /// Cache (never authoritative): each bucket's encryption configuration as read from the backend, reused for
    /// [`BUCKET_CONFIG_TTL`]; a change through this instance replaces it at once, through another within the TTL.
    pub bucket_configs: dashmap::DashMap<String, (Instant, Option<Bytes>)>,
    /// The account id of the principal ARNs of this gateway's credentials.
    pub account_id: String,
    /// `[[policies]]` from the config file, by bucket: evaluated with the stored bucket policy, never removed.
    pub pinned_policies: HashMap<String, Vec<Arc<Policy>>>,
    /// Identity policies attached to credentials in the config (access key id → policy).
    pub identity_policies: HashMap<String, Arc<Policy>>,
    /// Cache (never authoritative): each bucket's stored policy, reused for [`BUCKET_CONFIG_TTL`]; a change
    /// through this instance replaces it at once, through another within the TTL.
    pub bucket_policies: dashmap::DashMap<String, (Instant, Option<Arc<Policy>>)>,
    /// `[limits]`: header and body sizes here, connections and timeouts in `accept`.
    pub request_limits: crate::config::Limits,
}

/// A request body the gateway did not read (it answered an error first) is drained up to this many bytes, so
/// the client sees the error response rather than a reset.
const DRAIN_LIMIT: u64 = 64 * 1024 * 1024;

/// How long a bucket's encryption configuration is reused before it is read from the backend again.
pub const BUCKET_CONFIG_TTL: std::time::Duration = std::time::Duration::from_secs(5);
/// Most bucket configurations cached (the cache is emptied when full).
const BUCKET_CONFIG_CACHE_MAX: usize = 10_000;

/// What the meter phase records about one request.
struct Outcome {
    operation: Operation,
    principal: Option<String>,
}

impl Gateway {
    /// The whole life of one request. Never fails: every error becomes an S3 XML response.
    pub async fn handle<B>(self: Arc<Self>, req: Request<B>, conn: ConnInfo) -> Result<Response<Body>, Infallible>
    where
        B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
        B::Error: Into<crate::body::BoxError>,
    {
        use crate::body::metered::Metered;
        use std::sync::atomic::{AtomicU64, Ordering};
        let started = Instant::now();
        let request_id = new_request_id();
        self.metrics.in_flight.inc();
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let mut outcome = Outcome {
            operation: Operation::Other,
            principal: None,
        };
        // Bytes received: counted as the body is read (whatever reads it).
        let bytes_in = Arc::new(AtomicU64::new(0));
        let (counted, upload) = (
            bytes_in.clone(),
            self.metrics.client_bytes.with_label_values(&["upload"]),
        );
        let req = req.map(|b| {
            let on_data = Box::new(move |n| {
                counted.fetch_add(n, Ordering::Relaxed);
                upload.inc_by(n);
            });
            crate::body::boxed(Metered::new(b.map_err(Into::into).boxed(), on_data, None).drain_on_drop(DRAIN_LIMIT))
        });
        let result = crate::audit::scope(request_id.clone(), self.process(req, conn, &mut outcome)).await;
        let op = outcome.operation.as_str();
        let mut resp = match result {
            Ok(r) => {
                if r.status().is_client_error() || r.status().is_server_error() {
                    self.metrics.errors.with_label_values(&[op, "Backend"]).inc();
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
                    self.metrics.sigv4_failures.with_label_values(&[e.code.as_str()]).inc();
                }
                self.metrics.errors.with_label_values(&[op, e.code.as_str()]).inc();
                e.to_response(&request_id, &path, method == Method::HEAD)
            }
        };
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            resp.headers_mut().insert("x-amz-request-id", v);
        }
        // Meter: always, once. The head now; the duration, byte counts and access log line when the body is over.
        let status = resp.status();
        self.metrics
            .requests
            .with_label_values(&[op, status_class(status.as_u16())])
            .inc();
        self.metrics
            .time_to_first_byte
            .with_label_values(&[op])
            .observe(started.elapsed().as_secs_f64());
        let download = self.metrics.client_bytes.with_label_values(&["download"]);
        let metrics = self.metrics.clone();
        let principal = outcome.principal.unwrap_or_else(|| "-".to_owned());
        let on_done = Box::new(move |bytes_out: u64, complete: bool| {
            metrics.in_flight.dec();
            if !complete {
                metrics.aborted.with_label_values(&[op]).inc();
            }
            metrics
                .request_duration
                .with_label_values(&[op])
                .observe(started.elapsed().as_secs_f64());
            tracing::info!(
                target: "access",
                request_id = %request_id,
                peer = %conn.peer,
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
        Ok(resp.map(|b| crate::body::boxed(Metered::new(b, Box::new(move |n| download.inc_by(n)), Some(on_done)))))
    }

    async fn process(
        &self,
        req: Request<Body>,
        conn: ConnInfo,
        outcome: &mut Outcome,
    ) -> Result<Response<Body>, S3Error> {
        let (parts, body) = req.into_parts();
        check_header_section(&parts.headers, &self.request_limits)?;

        // Classify.
        let target = addressing::resolve(auth::request_host(&parts), parts.uri.path(), &self.virtual_host_domains);
        let query = auth::query_params(&parts);
        addressing::check(&target)?;
        let has_copy_source = parts.headers.contains_key("x-amz-copy-source");
        let op = operation::classify(&parts.method, &target, &query, has_copy_source);
        outcome.operation = op;
        // A browser-based POST upload: the form's fields are the upload's head, its file part the body.
        let (parts, body, target, form) = match op {
            Operation::PostObject => {
                let (form, file) = object::post::read_form(&parts.headers, body).await?;
                let (parts, target) = post_as_put(&parts, &target, &form)?;
                (parts, file, target, Some(form))
            }
            _ => (parts, body, target, None),
        };
        check_sse_headers(op, &parts.headers, conn.secure)?;

        // Authenticate.
        let authed = match &form {
            None => {
                let virtual_bucket = addressing::host_bucket(auth::request_host(&parts), &self.virtual_host_domains);
                auth::authenticate(
                    &parts,
                    &self.credentials,
                    self.limits,
                    virtual_bucket,
                    SystemTime::now(),
                )?
            }
            Some(form) => {
                let (authed, _) =
                    auth::post::authenticate(&form.fields, &self.credentials, self.limits, form.file_len)?;
                let policy = auth::post::field(&form.fields, "policy").unwrap_or_default();
                let bucket = target.bucket.as_deref().unwrap_or_default();
                crate::s3::post_policy::PostPolicy::decode(policy)?.check(
                    &form.fields,
                    bucket,
                    form.file_len,
                    time::OffsetDateTime::now_utc(),
                )?;
                authed
            }
        };
        outcome.principal = Some(authed.credential.display_name().to_owned());
        crate::audit::set_principal(authed.credential.display_name());

        // Policy: bucket policies (stored and pinned) on the request as sent, then the credential's own buckets.
        self.authorize(op, &parts, &target, &query, conn, &authed).await?;

        // The gateway's own objects inside buckets are not the client's to touch.
        let reserved = object::multipart::RESERVED_PREFIX;
        let copy_source = parts
            .headers
            .get("x-amz-copy-source")
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                auth::canonical::percent_decode(v.trim_start_matches('/'))
                    .split_once('/')
                    .map(|(_, k)| k.to_owned())
            });
        if let Some(v) = parts.headers.get("x-amz-copy-source").and_then(|v| v.to_str().ok()) {
            let src = object::copy::parse_copy_source(v)?;
            addressing::check(&Target {
                bucket: Some(src.bucket),
                key: Some(src.key),
            })?;
        }
        if target.key.as_deref().is_some_and(|k| k.starts_with(reserved))
            || copy_source.flatten().is_some_and(|k| k.starts_with(reserved))
        {
            return Err(S3Error::access_denied());
        }

        if let (Some(_), Some(bucket), Some(key)) = (&self.keys, &target.bucket, &target.key) {
            self.check_blocked_encryption(op, &parts.headers, bucket, key, authed.credential.display_name())
                .await?;
        }

        // Transform body: verify and de-frame.
        let declared = authed.body_checks.length;
        check_body_size(op, declared, &self.request_limits)?;
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
        if op == Operation::ListBuckets && !authed.credential.may_access_all_buckets() {
            // A credential limited to some buckets does not learn the names of the others.
            let resp = self
                .send(op, parts.method.clone(), uri, headers, backend_body, body_sent, &slot)
                .await?;
            if !resp.status().is_success() {
                return Ok(self.pass_through(resp));
            }
            let credential = authed.credential.clone();
            return self
                .restate(resp, |xml| {
                    Ok(
                        filter_buckets(&String::from_utf8_lossy(&xml), |b| credential.may_access_bucket(b))
                            .into_bytes(),
                    )
                })
                .await;
        }
        if let (Some(bucket), None) = (&target.bucket, &target.key)
            && matches!(
                op,
                Operation::PutBucketPolicy
                    | Operation::GetBucketPolicy
                    | Operation::DeleteBucketPolicy
                    | Operation::GetBucketPolicyStatus
            )
        {
            return self.bucket_policy(op, bucket, backend_body).await;
        }
        if let (Some(_), Some(bucket), None) = (&self.keys, &target.bucket, &target.key) {
            match op {
                Operation::ListObjects | Operation::ListObjectsV2 | Operation::ListObjectVersions => {
                    let adopted = self.adoption_time(op, bucket, false).await?;
                    let resp = self
                        .send(op, parts.method.clone(), uri, headers, backend_body, body_sent, &slot)
                        .await?;
                    if !resp.status().is_success() {
                        return Ok(self.pass_through(resp));
                    }
                    return self.restate(resp, |xml| object::listing::rewrite(&xml, adopted)).await;
                }
                Operation::DeleteBucket => self.delete_reserved_objects(op, bucket).await?,
                Operation::PutBucketEncryption | Operation::GetBucketEncryption | Operation::DeleteBucketEncryption => {
                    return self.bucket_encryption(op, bucket, backend_body).await;
                }
                _ => {}
            }
        }
        let post_response = |resp: Response<Body>| match (&form, &target.bucket) {
            (Some(f), Some(bucket)) => f.respond(bucket, &post_location(&parts, bucket, &f.key), resp),
            _ => resp,
        };
        let (Some(keys), Some(bucket), Some(key)) = (&self.keys, &target.bucket, &target.key) else {
            let resp = self
                .send(op, parts.method.clone(), uri, headers, backend_body, body_sent, &slot)
                .await?;
            return Ok(post_response(self.pass_through(resp)));
        };
        match op {
            Operation::PutObject | Operation::PostObject => {
                self.adoption_time(op, bucket, true).await?;
                let sse = self.sse_for_write(op, &parts.headers, bucket).await?;
                let obj = object::put::new_object(keys, sse, bucket, key).await?;
                let len = declared.ok_or_else(|| {
                    S3Error::new(
                        S3ErrorCode::MissingContentLength,
                        "You must provide the Content-Length HTTP header.",
                    )
                })?;
                let body = object::put::encrypt_request(&obj, &mut headers, len, backend_body, &self.metrics);
                let resp = self
                    .send(op, parts.method.clone(), uri, headers, body, body_sent, &slot)
                    .await?;
                Ok(post_response(object::put::respond(&obj, self.pass_through(resp))))
            }
            Operation::CreateMultipartUpload
            | Operation::UploadPart
            | Operation::UploadPartCopy
            | Operation::CompleteMultipartUpload
            | Operation::ListParts
            | Operation::AbortMultipartUpload => {
                self.multipart(
                    keys,
                    op,
                    &parts,
                    bucket,
                    key,
                    headers,
                    backend_body,
                    body_sent,
                    &slot,
                    declared,
                )
                .await
            }
            Operation::CopyObject => self.copy_object(keys, op, &parts, bucket, key, headers).await,
            Operation::GetObject | Operation::HeadObject => {
                // partNumber is resolved by the gateway (part layout); the backend gets a byte range instead.
                let query = remove_query_param(parts.uri.query(), "partNumber");
                let uri = self.backend.uri_for(&target, Some(&query)).map_err(S3Error::internal)?;
                let fetch = Fetcher {
                    gw: self,
                    op,
                    uri,
                    bucket,
                };
                object::get::get_object(keys, &fetch, &parts, bucket, key, headers, &self.metrics).await
            }
            Operation::DeleteObject => {
                let resp = self
                    .send(op, parts.method.clone(), uri, headers, backend_body, body_sent, &slot)
                    .await?;
                if resp.status().is_success() && parts.uri.query().is_none_or(|q| !q.contains("versionId")) {
                    // Best effort: a stale layout is never used (it names the object's ETag).
                    let layout = object::multipart::layout_key(key);
                    if let Ok(uri) = self.internal_uri(bucket, &layout, None) {
                        let _ = self.send_bodiless(op, Method::DELETE, uri, HeaderMap::new()).await;
                    }
                }
                Ok(self.pass_through(resp))
            }
            _ => {
                let resp = self
                    .send(op, parts.method.clone(), uri, headers, backend_body, body_sent, &slot)
                    .await?;
                Ok(self.pass_through(resp))
            }
        }
    }

    /// Readiness probes, run periodically: the backend answers (any status below 500 to a signed `GET /`) and the
    /// KMS answers a DescribeKey of the default key (any answer but "unavailable"). Sets `backend_up`/`kms_up`.
    pub async fn probe(&self) {
        let t = Target {
            bucket: None,
            key: None,
        };
        let backend_up = match self.backend.uri_for(&t, None) {
            Ok(uri) => {
                let call = self
                    .backend
                    .send(Method::GET, uri, HeaderMap::new(), crate::body::empty());
                matches!(
                    tokio::time::timeout(self.backend.response_timeout, call).await,
                    Ok(Ok(r)) if r.status().as_u16() < 500
                )
            }
            Err(_) => false,
        };
        self.metrics.backend_up.set(i64::from(backend_up));
        let kms_up = match &self.keys {
            None => true,
            Some(k) => {
                use crate::kms::{Kms, KmsError};
                !matches!(
                    k.kms.client.describe(&k.kms.default_key_id).await,
                    Err(KmsError::Unavailable(_) | KmsError::Other(_))
                )
            }
        };
        self.metrics.kms_up.set(i64::from(kms_up));
        if !backend_up || !kms_up {
            tracing::warn!(backend_up, kms_up, "readiness probe failed");
        }
    }

    /// When the gateway began writing to `bucket` (unix ms, backend clock): every object listed with a
    /// later or equal LastModified was written through the gateway, hence encrypted. With `create`, the marker
    /// is written if absent (conditional PUT: the first writer's time wins).
    async fn adoption_time(&self, op: Operation, bucket: &str, create: bool) -> Result<Option<i64>, S3Error> {
        if let Some(t) = self.adopted.get(bucket) {
            return Ok(Some(*t));
        }
        let key = object::listing::ADOPTED_KEY;
        let t = Target {
            bucket: Some(bucket.to_owned()),
            key: None,
        };
        let q = format!("list-type=2&max-keys=1&prefix={}", auth::canonical::uri_encode(key));
        for attempt in 0..2 {
            // The marker's LastModified as a listing states it (same precision as the entries it is compared with).
            let list = self.backend.uri_for(&t, Some(&q)).map_err(S3Error::internal)?;
            let resp = self.send_bodiless(op, Method::GET, list, HeaderMap::new()).await?;
            if !resp.status().is_success() {
                // No such bucket, or access denied: the request itself will report it.
                return Ok(None);
            }
            let text = String::from_utf8_lossy(&read_small(resp).await?).into_owned();
            let listed = xml_all(&text, "Contents")
                .iter()
                .filter(|c| xml_text(c, "Key").as_deref() == Some(key))
                .find_map(|c| xml_text(c, "LastModified"));
            if let Some(lm) = listed {
                let t = object::listing::iso_millis(&lm).ok_or_else(|| S3Error::internal("adoption marker time"))?;
                self.adopted.insert(bucket.to_owned(), t);
                return Ok(Some(t));
            }
            if !create || attempt == 1 {
                return Ok(None);
            }
            let (_tx, rx) = tokio::sync::watch::channel(true);
            let mut h = HeaderMap::new();
            h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(0));
            h.insert(http::header::IF_NONE_MATCH, HeaderValue::from_static("*"));
            let uri = self.internal_uri(bucket, key, None)?;
            let put = self
                .send(
                    op,
                    Method::PUT,
                    uri,
                    h,
                    crate::body::empty(),
                    rx,
                    &FailureSlot::default(),
                )
                .await?;
            if !put.status().is_success() && put.status() != http::StatusCode::PRECONDITION_FAILED {
                return Ok(None);
            }
        }
        Ok(None)
    }

    /// Re-wrap data keys in `bucket` under `prefix`, object data untouched (a metadata-only server-side copy of
    /// each object onto itself): with `kms_key = None`, every SSE-S3 object not sealed under the active KEK; with
    /// `Some(key)`, every SSE-KMS object not under that KMS key (keeping its bucket-key setting and context).
    /// Idempotent, so an interrupted run is resumed by running it again. Returns (examined, re-wrapped).
    pub async fn rekey_bucket(&self, bucket: &str, prefix: &str, kms_key: Option<&str>) -> Result<(u64, u64), S3Error> {
        use crate::crypto::envelope::SseMode;
        use crate::kms::Kms;
        let op = Operation::CopyObject;
        let keys = self.keys.as_ref().ok_or_else(|| S3Error::internal("SSE is disabled"))?;
        let (mode, active) = match kms_key {
            None => (SseMode::S3, keys.keyring.active().id().to_owned()),
            Some(k) => {
                let info = keys.kms.client.describe(k).await.map_err(|e| e.to_s3())?;
                if !info.enabled {
                    return Err(crate::kms::KmsError::Disabled(info.arn).to_s3());
                }
                (SseMode::Kms, info.arn)
            }
        };
        let t = Target {
            bucket: Some(bucket.to_owned()),
            key: None,
        };
        let (mut examined, mut rewrapped, mut token) = (0u64, 0u64, None::<String>);
        loop {
            let mut q = format!(
                "list-type=2&max-keys=1000&prefix={}",
                auth::canonical::uri_encode(prefix)
            );
            if let Some(t) = &token {
                q.push_str(&format!("&continuation-token={}", auth::canonical::uri_encode(t)));
            }
            let resp = self
                .send_bodiless(
                    op,
                    Method::GET,
                    self.backend.uri_for(&t, Some(&q)).map_err(S3Error::internal)?,
                    HeaderMap::new(),
                )
                .await?;
            if !resp.status().is_success() {
                return Err(S3Error::internal(format!(
                    "listing {bucket}: backend status {}",
                    resp.status()
                )));
            }
            let text = String::from_utf8_lossy(&read_small(resp).await?).into_owned();
            for raw in xml_all(&text, "Key") {
                let key = quick_xml::escape::unescape(&raw)
                    .map_err(S3Error::internal)?
                    .into_owned();
                if key.starts_with(object::multipart::RESERVED_PREFIX) {
                    continue;
                }
                examined += 1;
                let head = self
                    .send_bodiless(
                        op,
                        Method::HEAD,
                        self.internal_uri(bucket, &key, None)?,
                        HeaderMap::new(),
                    )
                    .await?;
                let Some(env) = object::envelope_of(head.headers())? else {
                    continue;
                };
                if env.mode != mode || env.kek_id == active {
                    continue;
                }
                let source = format!(
                    "/{}/{}",
                    auth::canonical::uri_encode(bucket),
                    auth::canonical::uri_encode_path(&key)
                );
                let mut h = HeaderMap::new();
                h.insert(
                    "x-amz-copy-source",
                    HeaderValue::from_str(&source).map_err(S3Error::internal)?,
                );
                let (mut parts, ()) = Request::builder()
                    .method(Method::PUT)
                    .uri("/")
                    .body(())
                    .expect("static")
                    .into_parts();
                parts.headers = h.clone();
                if mode == SseMode::S3 {
                    parts
                        .headers
                        .insert("x-amz-server-side-encryption", HeaderValue::from_static("AES256"));
                } else {
                    let h = &mut parts.headers;
                    h.insert("x-amz-server-side-encryption", HeaderValue::from_static("aws:kms"));
                    h.insert(
                        "x-amz-server-side-encryption-aws-kms-key-id",
                        HeaderValue::from_str(&active).map_err(S3Error::internal)?,
                    );
                    if env.bucket_key.is_some() {
                        h.insert(
                            "x-amz-server-side-encryption-bucket-key-enabled",
                            HeaderValue::from_static("true"),
                        );
                    }
                    if let Some(ctx) = &env.context {
                        let ctx = crate::kms::context_header(
                            &serde_json::from_slice(ctx).map_err(|_| S3Error::internal("stored context"))?,
                        );
                        h.insert(
                            "x-amz-server-side-encryption-context",
                            HeaderValue::from_str(&ctx).map_err(S3Error::internal)?,
                        );
                    }
                }
                let resp = self.copy_object(keys, op, &parts, bucket, &key, h).await?;
                if !resp.status().is_success() {
                    return Err(S3Error::internal(format!(
                        "re-wrapping {bucket}/{key}: status {}",
                        resp.status()
                    )));
                }
                rewrapped += 1;
                println!("re-wrapped {bucket}/{key}: {} -> {active}", env.kek_id);
            }
            token = xml_text(&text, "NextContinuationToken");
            if xml_text(&text, "IsTruncated").as_deref() != Some("true") || token.is_none() {
                return Ok((examined, rewrapped));
            }
        }
    }

    /// Rewrite a just-completed SSE-S3 multipart object whose parts are not whole segments as one segment stream
    /// (same data key, fresh nonce prefix), so its size is derivable from listings. Returns the new backend ETag.
    async fn realign(
        &self,
        keys: &Keys,
        op: Operation,
        bucket: &str,
        key: &str,
        env: &crate::crypto::envelope::Envelope,
    ) -> Result<String, S3Error> {
        let src = object::copy::CopySource {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            version_id: None,
        };
        let source = self.read_source(keys, op, &src, &HeaderMap::new(), None).await?;
        if !source.status().is_success() {
            return Err(S3Error::internal(format!("reading back: status {}", source.status())));
        }
        let len = content_length_of(source.headers())?;
        let mut headers = HeaderMap::new();
        for (n, v) in source.headers() {
            if n.as_str().starts_with("x-amz-meta-") || object::copy::COPIED_HEADERS.contains(&n.as_str()) {
                headers.append(n.clone(), v.clone());
            }
        }
        let dk = object::open_data_key(keys, env, None, bucket, key).await?;
        let mut obj = object::put::reseal(keys, crate::s3::sse::SseRequest::S3, dk, env, bucket, key).await?;
        obj.envelope.nonce_prefix = crate::crypto::segment::NoncePrefix::generate();
        obj.envelope.multipart = false;
        let body = object::put::encrypt_request(&obj, &mut headers, len, source.into_body(), &self.metrics);
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let uri = self.internal_uri(bucket, key, None)?;
        let resp = self
            .send(op, Method::PUT, uri, headers, body, rx, &FailureSlot::default())
            .await?;
        if !resp.status().is_success() {
            return Err(S3Error::internal(format!("rewriting: status {}", resp.status())));
        }
        let etag = header_str(resp.headers(), "etag").unwrap_or("").to_owned();
        let layout = self.internal_uri(bucket, &object::multipart::layout_key(key), None)?;
        let _ = self.send_bodiless(op, Method::DELETE, layout, HeaderMap::new()).await;
        Ok(etag)
    }

    /// The bucket's default-encryption configuration, kept in the backend by the gateway.
    async fn bucket_encryption(&self, op: Operation, bucket: &str, body: Body) -> Result<Response<Body>, S3Error> {
        use object::bucket_encryption::{CONFIG_KEY, DEFAULT_CONFIG, validate};
        let uri = self.internal_uri(bucket, CONFIG_KEY, None)?;
        let xml_response = |xml: Bytes| {
            let mut r = Response::new(full(xml));
            r.headers_mut()
                .insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
            r
        };
        let resp = match op {
            Operation::PutBucketEncryption => {
                let xml = crate::body::collect_limited(body, SMALL_OBJECT_LIMIT)
                    .await
                    .map_err(|()| S3Error::new(S3ErrorCode::MalformedXML, "The XML you provided was too large."))?;
                validate(&xml)?;
                let (_tx, rx) = tokio::sync::watch::channel(true);
                let mut h = HeaderMap::new();
                h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(xml.len()));
                self.send(op, Method::PUT, uri, h, full(xml), rx, &FailureSlot::default())
                    .await?
            }
            Operation::DeleteBucketEncryption => self.send_bodiless(op, Method::DELETE, uri, HeaderMap::new()).await?,
            _ => self.send_bodiless(op, Method::GET, uri, HeaderMap::new()).await?,
        };
        if op != Operation::GetBucketEncryption {
            self.bucket_configs.remove(bucket);
        }
        let status = resp.status();
        if status.is_success() && op == Operation::GetBucketEncryption {
            return Ok(xml_response(read_small(resp).await?));
        }
        if status == http::StatusCode::NOT_FOUND {
            // No configuration object: the bucket itself may be missing, which S3 reports as NoSuchBucket.
            if !self.bucket_exists(op, bucket).await? {
                return Err(no_such_bucket());
            }
            return Ok(match op {
                Operation::GetBucketEncryption => xml_response(Bytes::from_static(DEFAULT_CONFIG.as_bytes())),
                _ => {
                    let mut r = Response::new(crate::body::empty());
                    *r.status_mut() = http::StatusCode::NO_CONTENT;
                    r
                }
            });
        }
        if !status.is_success() {
            return Ok(self.pass_through(resp));
        }
        let mut r = Response::new(crate::body::empty());
        *r.status_mut() = if op == Operation::DeleteBucketEncryption {
            http::StatusCode::NO_CONTENT
        } else {
            http::StatusCode::OK
        };
        Ok(r)
    }

    /// S3's `BlockedEncryptionTypes`: in a bucket that blocks SSE-C, a write that asks for SSE-C (by any of its
    /// headers, before they are checked) is refused before a byte reaches the backend. Reads, and copies *from*
    /// SSE-C objects, are not writes that ask for SSE-C. The setting is read from the backend on each such write,
    /// so every instance enforces the latest one.
    async fn check_blocked_encryption(
        &self,
        op: Operation,
        headers: &HeaderMap,
        bucket: &str,
        key: &str,
        principal: &str,
    ) -> Result<(), S3Error> {
        use object::bucket_encryption::{blocks_sse_c, sse_c_blocked};
        let action = match op {
            // AWS names CopyObject's own action in this message.
            Operation::CopyObject => "s3:CopyObject",
            Operation::PutObject
            | Operation::PostObject
            | Operation::CreateMultipartUpload
            | Operation::UploadPart
            | Operation::UploadPartCopy => "s3:PutObject",
            _ => return Ok(()),
        };
        let asks_for_sse_c = headers
            .keys()
            .any(|n| n.as_str().starts_with("x-amz-server-side-encryption-customer-"));
        if !asks_for_sse_c {
            return Ok(());
        }
        match self.bucket_config(op, bucket).await? {
            Some(config) if blocks_sse_c(&config) => Err(sse_c_blocked(principal, action, bucket, key)),
            _ => Ok(()),
        }
    }

    /// The bucket's stored encryption configuration (`None`: none, or no such bucket), cached for
    /// [`BUCKET_CONFIG_TTL`].
    async fn bucket_config(&self, op: Operation, bucket: &str) -> Result<Option<Bytes>, S3Error> {
        if let Some(e) = self.bucket_configs.get(bucket)
            && e.0.elapsed() < BUCKET_CONFIG_TTL
        {
            return Ok(e.1.clone());
        }
        let config = self
            .get_small(op, bucket, object::bucket_encryption::CONFIG_KEY)
            .await?;
        if self.bucket_configs.len() >= BUCKET_CONFIG_CACHE_MAX {
            self.bucket_configs.clear();
        }
        self.bucket_configs
            .insert(bucket.to_owned(), (Instant::now(), config.clone()));
        Ok(config)
    }

    /// The SSE a write gets: what its headers ask for, completed by the bucket's default encryption (read only
    /// when the request leaves something to the default).
    async fn sse_for_write(
        &self,
        op: Operation,
        headers: &HeaderMap,
        bucket: &str,
    ) -> Result<crate::s3::sse::SseRequest, S3Error> {
        use crate::s3::sse::SseRequest;
        let requested = crate::s3::sse::parse(headers)?;
        if matches!(requested, SseRequest::S3 | SseRequest::Customer(_)) {
            return Ok(requested);
        }
        let config = self.bucket_config(op, bucket).await?;
        Ok(object::bucket_encryption::apply_default(config.as_deref(), requested))
    }

    /// Before DeleteBucket: if the bucket holds nothing but the gateway's own objects, remove them so the
    /// backend can delete it; otherwise leave everything for the backend to answer BucketNotEmpty.
    async fn delete_reserved_objects(&self, op: Operation, bucket: &str) -> Result<(), S3Error> {
        let t = Target {
            bucket: Some(bucket.to_owned()),
            key: None,
        };
        let uri = self
            .backend
            .uri_for(&t, Some("list-type=2&max-keys=1000"))
            .map_err(S3Error::internal)?;
        let resp = self.send_bodiless(op, Method::GET, uri, HeaderMap::new()).await?;
        if !resp.status().is_success() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&read_small(resp).await?).into_owned();
        let keys: Vec<String> = xml_all(&text, "Key")
            .into_iter()
            .map(|k| k.replace("&amp;", "&"))
            .collect();
        let reserved = object::multipart::RESERVED_PREFIX;
        if keys.iter().any(|k| !k.starts_with(reserved)) || xml_text(&text, "IsTruncated").as_deref() == Some("true") {
            return Ok(());
        }
        for k in keys {
            let uri = self.internal_uri(bucket, &k, None)?;
            let _ = self.send_bodiless(op, Method::DELETE, uri, HeaderMap::new()).await?;
        }
        self.adopted.remove(bucket);
        Ok(())
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
        use std::sync::atomic::{AtomicU64, Ordering};
        let started = Instant::now();
        // When the backend last took a piece of the body (milliseconds since `started`).
        let progress = Arc::new(AtomicU64::new(0));
        let taken = progress.clone();
        let on_data = Box::new(move |_| taken.store(millis_since(started), Ordering::Relaxed));
        let body = crate::body::boxed(crate::body::metered::Metered::new(body, on_data, None));
        let send = self.backend.send(method, uri, headers, body);
        let timeout = self.backend.response_timeout;
        let deadline = async {
            // The response timeout counts from the end of the upload, not its start; during the upload, from the
            // last time the backend took a piece of the body (a backend that stops reading must not hang us).
            let limit = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
            while !*body_sent.borrow() {
                if millis_since(started).saturating_sub(progress.load(Ordering::Relaxed)) >= limit {
                    return;
                }
                if let Ok(Err(_)) =
                    tokio::time::timeout(std::time::Duration::from_millis(250), body_sent.changed()).await
                {
                    break; // the body is gone: count from now
                }
            }
            tokio::time::sleep(timeout).await;
        };
        let resp = tokio::select! {
            r = send => r,
            () = deadline => Err(backend::BackendError::Timeout(timeout)),
        };
        self.metrics
            .backend_request_duration
            .with_label_values(&[op.as_str()])
            .observe(started.elapsed().as_secs_f64());
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
}

/// Bodiless backend requests for the object handlers to the request's own URI, and the gateway's own small
/// objects in the same bucket.
struct Fetcher<'a> {
    gw: &'a Gateway,
    op: Operation,
    uri: Uri,
    bucket: &'a str,
}

impl object::get::Fetch for Fetcher<'_> {
    async fn fetch(&self, method: Method, headers: HeaderMap) -> Result<Response<Incoming>, S3Error> {
        self.gw.send_bodiless(self.op, method, self.uri.clone(), headers).await
    }

    async fn fetch_small(&self, key: &str) -> Result<Option<Bytes>, S3Error> {
        self.gw.get_small(self.op, self.bucket, key).await
    }
}

/// Gateway-internal objects and XML documents are small; anything larger is refused.
const SMALL_OBJECT_LIMIT: usize = 4 * 1024 * 1024;

impl Gateway {
    async fn send_bodiless(
        &self,
        op: Operation,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
    ) -> Result<Response<Incoming>, S3Error> {
        let (_tx, rx) = tokio::sync::watch::channel(true);
        self.send(
            op,
            method,
            uri,
            headers,
            crate::body::empty(),
            rx,
            &FailureSlot::default(),
        )
        .await
    }

    fn internal_uri(&self, bucket: &str, key: &str, query: Option<&str>) -> Result<Uri, S3Error> {
        let t = Target {
            bucket: Some(bucket.to_owned()),
            key: Some(key.to_owned()),
        };
        self.backend.uri_for(&t, query).map_err(S3Error::internal)
    }

    /// GET one of the gateway's own small objects; `None` when it does not exist.
    async fn get_small(&self, op: Operation, bucket: &str, key: &str) -> Result<Option<Bytes>, S3Error> {
        let resp = self
            .send_bodiless(op, Method::GET, self.internal_uri(bucket, key, None)?, HeaderMap::new())
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(Some(read_small(resp).await?)),
            http::StatusCode::NOT_FOUND => Ok(None),
            _ => Err(backend_failure(resp, format!("reading {bucket}/{key}")).await),
        }
    }

    /// PUT one of the gateway's own small objects.
    async fn put_small(&self, op: Operation, bucket: &str, key: &str, data: Bytes) -> Result<(), S3Error> {
        let (_tx, rx) = tokio::sync::watch::channel(true);
        let mut h = HeaderMap::new();
        h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(data.len()));
        let uri = self.internal_uri(bucket, key, None)?;
        let resp = self
            .send(op, Method::PUT, uri, h, full(data), rx, &FailureSlot::default())
            .await?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(backend_failure(resp, format!("writing {bucket}/{key}")).await)
        }
    }

    /// Read a small XML response whole, let `edit` restate it, and answer with it.
    async fn restate(
        &self,
        resp: Response<Incoming>,
        edit: impl FnOnce(Bytes) -> Result<Vec<u8>, S3Error>,
    ) -> Result<Response<Body>, S3Error> {
        let (mut rparts, rbody) = resp.into_parts();
        let xml = read_small(Response::from_parts(rparts.clone(), rbody)).await?;
        let out = edit(xml)?;
        backend::strip_hop_by_hop(&mut rparts.headers);
        rparts.headers.remove(http::header::CONTENT_LENGTH);
        Ok(Response::from_parts(rparts, full(out)))
    }

    /// The multipart operations: upload IDs carry the envelope; parts are encrypted; Complete records the layout.
    #[allow(clippy::too_many_arguments)]
    async fn multipart(
        &self,
        keys: &Keys,
        op: Operation,
        parts: &http::request::Parts,
        bucket: &str,
        key: &str,
        mut headers: HeaderMap,
        body: Body,
        body_sent: tokio::sync::watch::Receiver<bool>,
        slot: &FailureSlot,
        declared: Option<u64>,
    ) -> Result<Response<Body>, S3Error> {
        use crate::response::listing::{self, EntryRewrite};
        use object::multipart::{Layout, RESERVED_PREFIX, layout_key, parse_upload_id, upload_token};
        let target = Target {
            bucket: Some(bucket.to_owned()),
            key: Some(key.to_owned()),
        };
        if op == Operation::CreateMultipartUpload {
            self.adoption_time(op, bucket, true).await?;
            let sse = self.sse_for_write(op, &parts.headers, bucket).await?;
            let mut obj = object::put::new_object(keys, sse, bucket, key).await?;
            obj.envelope.multipart = true;
            headers.insert(
                object::ENVELOPE_HEADER,
                HeaderValue::from_str(&obj.envelope.encode()).expect("ASCII"),
            );
            let uri = self
                .backend
                .uri_for(&target, parts.uri.query())
                .map_err(S3Error::internal)?;
            let resp = self
                .send(op, parts.method.clone(), uri, headers, body, body_sent, slot)
                .await?;
            if !resp.status().is_success() {
                return Ok(self.pass_through(resp));
            }
            let resp = self
                .restate(resp, |xml| {
                    let text = String::from_utf8_lossy(&xml);
                    let backend_id = xml_text(&text, "UploadId")
                        .ok_or_else(|| S3Error::internal("CreateMultipartUpload: no UploadId"))?;
                    listing::replace_upload_id(&xml, &backend_id, &upload_token(&backend_id, &obj.envelope))
                        .map_err(S3Error::internal)
                })
                .await?;
            return Ok(object::put::respond(&obj, resp));
        }

        let query: Vec<(String, String)> = auth::query_params(parts);
        let client_id = query
            .iter()
            .find(|(k, _)| k == "uploadId")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let (backend_id, env) = parse_upload_id(&client_id)?;
        let raw_query = replace_query_param(parts.uri.query(), "uploadId", &backend_id);
        let uri = self
            .backend
            .uri_for(&target, Some(&raw_query))
            .map_err(S3Error::internal)?;
        let Some(env) = env else {
            // A bare backend upload ID (begun before the gateway, or read from ListMultipartUploads): parts must
            // not reach the backend unencrypted, so no data goes in; listing, completing and aborting still work.
            if matches!(op, Operation::UploadPart | Operation::UploadPartCopy) {
                return Err(S3Error::new(
                    S3ErrorCode::NoSuchUpload,
                    "The specified upload was not started through this gateway; parts cannot be added to it.",
                ));
            }
            let resp = self
                .send(op, parts.method.clone(), uri, headers, body, body_sent, slot)
                .await?;
            return Ok(self.pass_through(resp));
        };
        let customer = match crate::s3::sse::parse(&parts.headers)? {
            crate::s3::sse::SseRequest::Customer(c) => Some(c),
            _ => None,
        };
        match op {
            Operation::UploadPart => {
                let part = part_number(&query)?;
                let dk = object::multipart::open_part_key(keys, &env, customer.as_ref(), bucket, key).await?;
                let len = declared.ok_or_else(|| {
                    S3Error::new(
                        S3ErrorCode::MissingContentLength,
                        "You must provide the Content-Length HTTP header.",
                    )
                })?;
                let obj = object::put::NewObject {
                    envelope: env,
                    data_key: dk,
                    customer,
                };
                let body = object::put::encrypt_part(&obj, part, &mut headers, len, body, &self.metrics);
                let resp = self
                    .send(op, parts.method.clone(), uri, headers, body, body_sent, slot)
                    .await?;
                let mut resp = self.pass_through(resp);
                if resp.status().is_success() {
                    object::add_sse_headers(resp.headers_mut(), &obj.envelope, obj.customer.as_ref());
                    // The part ETag is an MD5 of ciphertext: marked so clients do not compare it with their MD5.
                    let etag = resp.headers().get(http::header::ETAG).and_then(|v| v.to_str().ok());
                    if let Some(v) = etag
                        .map(|e| object::client_etag(e, true))
                        .and_then(|e| HeaderValue::from_str(&e).ok())
                    {
                        resp.headers_mut().insert(http::header::ETAG, v);
                    }
                }
                Ok(resp)
            }
            Operation::UploadPartCopy => {
                let part = part_number(&query)?;
                let dk = object::multipart::open_part_key(keys, &env, customer.as_ref(), bucket, key).await?;
                let src =
                    object::copy::parse_copy_source(header_str(&parts.headers, "x-amz-copy-source").unwrap_or(""))?;
                let range = header_str(&parts.headers, "x-amz-copy-source-range");
                let source = self.read_source(keys, op, &src, &parts.headers, range).await?;
                if !source.status().is_success() {
                    return Ok(source);
                }
                let len = content_length_of(source.headers())?;
                strip_copy_headers(&mut headers);
                let obj = object::put::NewObject {
                    envelope: env,
                    data_key: dk,
                    customer,
                };
                let body = object::put::encrypt_part(&obj, part, &mut headers, len, source.into_body(), &self.metrics);
                let (_tx, rx) = tokio::sync::watch::channel(false);
                let resp = self.send(op, Method::PUT, uri, headers, body, rx, slot).await?;
                if !resp.status().is_success() {
                    return Ok(self.pass_through(resp));
                }
                Ok(copy_result("CopyPartResult", &resp, &obj))
            }
            Operation::CompleteMultipartUpload => {
                // Complete needs no SSE-C key (S3); one that is given must be the upload's.
                object::multipart::check_upload_key(&env, customer.as_ref(), false)?;
                // The parts the client completes, in order (a small XML document).
                let request_xml = crate::body::collect_limited(body, SMALL_OBJECT_LIMIT)
                    .await
                    .map_err(|()| {
                        slot.take().unwrap_or_else(|| {
                            S3Error::new(
                                S3ErrorCode::InvalidRequest,
                                "The CompleteMultipartUpload body is too large.",
                            )
                        })
                    })?;
                let request_xml = object::multipart::backend_part_etags(&request_xml);
                // The body changed: its length and any digest of it are the gateway's to state now.
                object::strip_backend_only(&mut headers);
                headers.remove("content-md5");
                headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(request_xml.len()));
                let chosen: Vec<u64> = xml_all(&String::from_utf8_lossy(&request_xml), "PartNumber")
                    .iter()
                    .filter_map(|n| n.parse().ok())
                    .collect();
                let uploaded = self.backend_part_sizes(op, &target, &backend_id).await?;
                // Unknown parts: the backend answers InvalidPart itself, and no layout is written.
                let part_sizes: Option<Vec<u64>> = chosen
                    .iter()
                    .map(|n| uploaded.iter().find(|(p, _)| p == n).map(|(_, s)| *s))
                    .collect();
                let (_tx, rx) = tokio::sync::watch::channel(true);
                let resp = self
                    .send(op, parts.method.clone(), uri, headers, full(request_xml), rx, slot)
                    .await?;
                if !resp.status().is_success() {
                    return Ok(self.pass_through(resp));
                }
                let mut layout_result = Ok(());
                let mut resp = self
                    .restate(resp, |xml| {
                        let text = String::from_utf8_lossy(&xml).into_owned();
                        if !text.contains("<Error>") {
                            let etag = xml_text(&text, "ETag")
                                .unwrap_or_default()
                                .replace("&quot;", "")
                                .replace('"', "");
                            layout_result = match part_sizes {
                                Some(part_sizes) if !part_sizes.is_empty() => Err(Layout {
                                    etag,
                                    part_sizes,
                                    part_numbers: chosen.iter().map(|&n| n as u32).collect(),
                                }),
                                _ => Ok(()),
                            };
                        }
                        Ok(xml.to_vec())
                    })
                    .await?;
                if let Err(mut layout) = layout_result {
                    if layout.etag.is_empty() {
                        // Ceph RGW 16 answers CompleteMultipartUpload with an empty <ETag>: ask for the object's.
                        let uri = self.internal_uri(bucket, key, None)?;
                        let head = self.send_bodiless(op, Method::HEAD, uri, HeaderMap::new()).await?;
                        layout.etag = header_str(head.headers(), "etag").unwrap_or("").replace('"', "");
                    }
                    self.put_small(op, bucket, &layout_key(key), Bytes::from(layout.encode()))
                        .await?;
                    // S3's CompleteMultipartUpload answer names SSE-S3 and SSE-KMS, never SSE-C.
                    if env.mode != crate::crypto::envelope::SseMode::C {
                        object::add_sse_headers(resp.headers_mut(), &env, None);
                    }
                    if !layout.is_aligned() && env.mode == crate::crypto::envelope::SseMode::S3 {
                        // Unaligned parts make the listed size underivable: rewrite once as one stream.
                        match self.realign(keys, op, bucket, key, &env).await {
                            Ok(etag) => {
                                let client = object::client_etag(&etag, true);
                                let (rparts, body) = resp.into_parts();
                                let xml = crate::body::collect_limited(body, SMALL_OBJECT_LIMIT)
                                    .await
                                    .map_err(|()| S3Error::internal("CompleteMultipartUpload response"))?;
                                let text = String::from_utf8_lossy(&xml);
                                let old = xml_text(&text, "ETag").unwrap_or_default();
                                let new = crate::error::xml_escape(&client).into_owned();
                                let out =
                                    text.replacen(&format!("<ETag>{old}</ETag>"), &format!("<ETag>{new}</ETag>"), 1);
                                resp = Response::from_parts(rparts, full(out));
                            }
                            Err(e) => {
                                tracing::warn!(bucket, key, error = %e, "realigning an unaligned multipart object failed; it stays readable, its listed size is approximate")
                            }
                        }
                    }
                }
                Ok(resp)
            }
            Operation::ListParts => {
                object::multipart::check_upload_key(&env, customer.as_ref(), false)?;
                let resp = self
                    .send(op, parts.method.clone(), uri, headers, body, body_sent, slot)
                    .await?;
                if !resp.status().is_success() {
                    return Ok(self.pass_through(resp));
                }
                self.restate(resp, |xml| {
                    let xml = listing::replace_upload_id(&xml, &backend_id, &client_id).map_err(S3Error::internal)?;
                    listing::rewrite(&xml, RESERVED_PREFIX, |e| {
                        match crate::crypto::size::plaintext_len(e.size) {
                            Some(p) => EntryRewrite::Rewrite {
                                size: p,
                                etag: e.etag.to_owned(),
                            },
                            None => EntryRewrite::Keep,
                        }
                    })
                    .map_err(S3Error::internal)
                })
                .await
            }
            _ => {
                let resp = self
                    .send(op, parts.method.clone(), uri, headers, body, body_sent, slot)
                    .await?;
                Ok(self.pass_through(resp))
            }
        }
    }

    /// `(part number, ciphertext size)` of every part uploaded so far, from the backend's ListParts.
    async fn backend_part_sizes(
        &self,
        op: Operation,
        target: &Target,
        backend_id: &str,
    ) -> Result<Vec<(u64, u64)>, S3Error> {
        let mut out = Vec::new();
        let mut marker = 0u64;
        loop {
            let q = format!(
                "uploadId={}&part-number-marker={marker}",
                auth::canonical::uri_encode(backend_id)
            );
            let uri = self.backend.uri_for(target, Some(&q)).map_err(S3Error::internal)?;
            let resp = self.send_bodiless(op, Method::GET, uri, HeaderMap::new()).await?;
            if !resp.status().is_success() {
                return Err(S3Error::new(
                    S3ErrorCode::NoSuchUpload,
                    "The specified upload does not exist.",
                ));
            }
            let text = String::from_utf8_lossy(&read_small(resp).await?).into_owned();
            for part in xml_all(&text, "Part") {
                let n = xml_text(&part, "PartNumber").and_then(|n| n.parse().ok());
                let s = xml_text(&part, "Size").and_then(|s| s.parse().ok());
                if let (Some(n), Some(s)) = (n, s) {
                    out.push((n, s));
                }
            }
            match xml_text(&text, "NextPartNumberMarker").and_then(|m| m.parse().ok()) {
                Some(m) if xml_text(&text, "IsTruncated").as_deref() == Some("true") && m > marker => marker = m,
                _ => return Ok(out),
            }
        }
    }
}

/// The `partNumber` of an UploadPart / UploadPartCopy.
fn part_number(query: &[(String, String)]) -> Result<u32, S3Error> {
    query
        .iter()
        .find(|(k, _)| k == "partNumber")
        .and_then(|(_, v)| v.parse().ok())
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive",
            )
        })
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn content_length_of(h: &HeaderMap) -> Result<u64, S3Error> {
    header_str(h, "content-length")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| S3Error::internal("source object without a Content-Length"))
}

/// An `If-Match`-style list of client ETags of a single-part encrypted object, as the backend's ETags.
fn backend_etag_list(v: &str) -> String {
    v.split(',')
        .map(|t| {
            let t = t.trim();
            let bare = t.trim_start_matches("W/").trim_matches('"');
            if bare == "*" {
                t.to_owned()
            } else {
                format!("\"{}\"", bare.strip_suffix("-1").unwrap_or(bare))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The XML answer to a copy that the gateway performed as a PUT (re-encryption): S3's result document with the
/// client ETag, and the destination's SSE headers.
fn copy_result(element: &str, put: &Response<Incoming>, obj: &object::put::NewObject) -> Response<Body> {
    let etag = object::client_etag(header_str(put.headers(), "etag").unwrap_or(""), true);
    let mut out = Response::new(full(object::copy::copy_result_xml(
        element,
        &etag,
        &object::copy::now_iso(),
    )));
    out.headers_mut()
        .insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    object::add_sse_headers(out.headers_mut(), &obj.envelope, obj.customer.as_ref());
    out
}

/// Headers of a copy request that have no place on the PUT that re-encrypts it.
fn strip_copy_headers(h: &mut HeaderMap) {
    let names: Vec<_> = h
        .keys()
        .filter(|n| n.as_str().starts_with("x-amz-copy-source"))
        .cloned()
        .collect();
    for n in names {
        h.remove(n);
    }
    h.remove("x-amz-metadata-directive");
}

impl Gateway {
    /// The plaintext of a copy source (or a range of it), whatever protects it; SSE-C source keys and copy-source
    /// conditions come from the `x-amz-copy-source-…` headers.
    async fn read_source(
        &self,
        keys: &Keys,
        op: Operation,
        src: &object::copy::CopySource,
        client: &HeaderMap,
        range: Option<&str>,
    ) -> Result<Response<Body>, S3Error> {
        let mut h = HeaderMap::new();
        if let Some(r) = range.and_then(|r| HeaderValue::from_str(r).ok()) {
            h.insert(http::header::RANGE, r);
        }
        for (from, to) in [
            (
                "x-amz-copy-source-server-side-encryption-customer-algorithm",
                "x-amz-server-side-encryption-customer-algorithm",
            ),
            (
                "x-amz-copy-source-server-side-encryption-customer-key",
                "x-amz-server-side-encryption-customer-key",
            ),
            (
                "x-amz-copy-source-server-side-encryption-customer-key-md5",
                "x-amz-server-side-encryption-customer-key-md5",
            ),
            ("x-amz-copy-source-if-match", "if-match"),
            ("x-amz-copy-source-if-none-match", "if-none-match"),
            ("x-amz-copy-source-if-modified-since", "if-modified-since"),
            ("x-amz-copy-source-if-unmodified-since", "if-unmodified-since"),
        ] {
            if let Some(v) = client.get(from) {
                h.insert(to, v.clone());
            }
        }
        let (mut parts, ()) = Request::builder()
            .method(Method::GET)
            .uri("/")
            .body(())
            .expect("static")
            .into_parts();
        parts.headers = h;
        let uri = self.source_uri(src)?;
        let fetch = Fetcher {
            gw: self,
            op,
            uri,
            bucket: &src.bucket,
        };
        let resp = object::get::get_object(
            keys,
            &fetch,
            &parts,
            &src.bucket,
            &src.key,
            HeaderMap::new(),
            &self.metrics,
        )
        .await?;
        if resp.status() == http::StatusCode::PRECONDITION_FAILED || resp.status() == http::StatusCode::NOT_MODIFIED {
            return Err(S3Error::new(
                S3ErrorCode::PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold",
            ));
        }
        Ok(resp)
    }

    /// The backend URI of a copy source (with its version, if any).
    fn source_uri(&self, src: &object::copy::CopySource) -> Result<Uri, S3Error> {
        let t = Target {
            bucket: Some(src.bucket.clone()),
            key: Some(src.key.clone()),
        };
        let q = src
            .version_id
            .as_deref()
            .map(|v| format!("versionId={}", auth::canonical::uri_encode(v)));
        self.backend.uri_for(&t, q.as_deref()).map_err(S3Error::internal)
    }

    /// CopyObject: re-seal the source's data key for the destination (metadata-only copy at the backend), or,
    /// for a plaintext source, encrypt it on the way.
    async fn copy_object(
        &self,
        keys: &Keys,
        op: Operation,
        parts: &http::request::Parts,
        bucket: &str,
        key: &str,
        mut headers: HeaderMap,
    ) -> Result<Response<Body>, S3Error> {
        let src = object::copy::parse_copy_source(header_str(&parts.headers, "x-amz-copy-source").unwrap_or(""))?;
        self.adoption_time(op, bucket, true).await?;
        let sse = self.sse_for_write(op, &parts.headers, bucket).await?;
        let src_customer = crate::s3::sse::parse_copy_source(&parts.headers)?;
        let replace =
            header_str(&parts.headers, "x-amz-metadata-directive").is_some_and(|d| d.eq_ignore_ascii_case("REPLACE"));
        let head_uri = self.source_uri(&src)?;
        let head = self.send_bodiless(op, Method::HEAD, head_uri, HeaderMap::new()).await?;
        match head.status() {
            s if s.is_success() => {}
            http::StatusCode::NOT_FOUND => {
                return Err(S3Error::new(
                    S3ErrorCode::NoSuchKey,
                    "The specified key does not exist.",
                ));
            }
            http::StatusCode::FORBIDDEN => return Err(S3Error::access_denied()),
            s => return Err(S3Error::internal(format!("copy source HEAD: backend status {s}"))),
        }
        const MAX_COPY: u64 = 5 * 1024 * 1024 * 1024;
        if content_length_of(head.headers()).is_ok_and(|c| c > crate::crypto::size::ciphertext_len(MAX_COPY)) {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120",
            ));
        }
        // Under COPY, S3 carries the source's metadata and content headers over.
        let mut meta = HeaderMap::new();
        for (n, v) in head.headers() {
            let name = n.as_str();
            if (name.starts_with("x-amz-meta-") && name != object::ENVELOPE_HEADER)
                || object::copy::COPIED_HEADERS.contains(&name)
            {
                meta.append(n.clone(), v.clone());
            }
        }
        if !replace {
            let client_meta: Vec<_> = headers
                .keys()
                .filter(|n| n.as_str().starts_with("x-amz-meta-") || object::copy::COPIED_HEADERS.contains(&n.as_str()))
                .cloned()
                .collect();
            for n in client_meta {
                headers.remove(n);
            }
            for (n, v) in &meta {
                headers.append(n.clone(), v.clone());
            }
        }
        let dest = Target {
            bucket: Some(bucket.to_owned()),
            key: Some(key.to_owned()),
        };

        let Some(src_env) = object::envelope_of(head.headers())? else {
            // A plaintext source: stream it through the encryptor.
            if src_customer.is_some() {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    "The encryption parameters are not applicable to this object.",
                ));
            }
            let source = self.read_source(keys, op, &src, &parts.headers, None).await?;
            if !source.status().is_success() {
                return Ok(source);
            }
            let len = content_length_of(source.headers())?;
            strip_copy_headers(&mut headers);
            let obj = object::put::new_object(keys, sse, bucket, key).await?;
            let body = object::put::encrypt_request(&obj, &mut headers, len, source.into_body(), &self.metrics);
            let uri = self.backend.uri_for(&dest, None).map_err(S3Error::internal)?;
            let (_tx, rx) = tokio::sync::watch::channel(false);
            let resp = self
                .send(op, Method::PUT, uri, headers, body, rx, &FailureSlot::default())
                .await?;
            if !resp.status().is_success() {
                return Ok(self.pass_through(resp));
            }
            return Ok(copy_result("CopyObjectResult", &resp, &obj));
        };

        // An encrypted source: same data key, new seal (bound to the destination's name and mode).
        let dk = object::open_data_key(keys, &src_env, src_customer.as_ref(), &src.bucket, &src.key).await?;
        let obj = object::put::reseal(keys, sse, dk, &src_env, bucket, key).await?;
        let layout = if src_env.multipart {
            let text = self
                .get_small(op, &src.bucket, &object::multipart::layout_key(&src.key))
                .await?
                .ok_or_else(|| S3Error::internal("copy source: part layout missing"))?;
            Some(
                object::multipart::Layout::decode(&String::from_utf8_lossy(&text))
                    .ok_or_else(|| S3Error::internal("copy source: part layout malformed"))?,
            )
        } else {
            None
        };
        // Copy-source conditions compare client ETags; the backend knows only its own (`<md5>` for `<md5>-1`).
        if !src_env.multipart {
            for name in ["x-amz-copy-source-if-match", "x-amz-copy-source-if-none-match"] {
                if let Some(v) = header_str(&headers, name).map(backend_etag_list) {
                    headers.insert(name, HeaderValue::from_str(&v).map_err(S3Error::internal)?);
                }
            }
        }
        headers.insert("x-amz-metadata-directive", HeaderValue::from_static("REPLACE"));
        headers.insert(
            object::ENVELOPE_HEADER,
            HeaderValue::from_str(&obj.envelope.encode()).expect("ASCII"),
        );
        headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(0));
        let uri = self
            .backend
            .uri_for(&dest, parts.uri.query())
            .map_err(S3Error::internal)?;
        let resp = self.send_bodiless(op, Method::PUT, uri, headers).await?;
        if !resp.status().is_success() {
            return Ok(self.pass_through(resp));
        }
        let mut new_layout = None;
        let mut resp = self
            .restate(resp, |xml| {
                let text = String::from_utf8_lossy(&xml).into_owned();
                let Some(backend_etag) = xml_text(&text, "ETag") else {
                    return Ok(xml.to_vec());
                };
                let raw = backend_etag.replace("&quot;", "").replace('"', "");
                if let Some(l) = &layout {
                    new_layout = Some(object::multipart::Layout {
                        etag: raw.clone(),
                        part_sizes: l.part_sizes.clone(),
                        part_numbers: l.part_numbers.clone(),
                    });
                }
                let client = object::client_etag(&raw, true);
                Ok(text
                    .replacen(
                        &format!("<ETag>{backend_etag}</ETag>"),
                        &format!("<ETag>{}</ETag>", crate::error::xml_escape(&client)),
                        1,
                    )
                    .into_bytes())
            })
            .await?;
        if let Some(l) = new_layout {
            self.put_small(op, bucket, &object::multipart::layout_key(key), Bytes::from(l.encode()))
                .await?;
        }
        object::add_sse_headers(resp.headers_mut(), &obj.envelope, obj.customer.as_ref());
        Ok(resp)
    }
}

/// Where the gateway keeps a bucket's policy (the document as the client sent it).
const POLICY_KEY: &str = ".s3-sse-proxy/policy.json";

impl Gateway {
    /// The Policy phase: every request that names a bucket is evaluated against the bucket's policies (pinned
    /// and stored) as S3 does — an explicit Deny refuses; otherwise the credential's `allowed_buckets` (a
    /// boundary no policy widens) decide. A copy is also a read of its source, evaluated against the source's bucket.
    /// Each decision is counted and audited.
    async fn authorize(
        &self,
        op: Operation,
        parts: &http::request::Parts,
        target: &Target,
        query: &[(String, String)],
        conn: ConnInfo,
        authed: &auth::Authenticated,
    ) -> Result<(), S3Error> {
        let cred = &authed.credential;
        let principal = Principal::user(&self.account_id, cred.display_name());
        let versioned = query.iter().any(|(k, _)| k == "versionId");
        let action = iam::actions::iam_action(op, versioned);
        let signed_at = header_str(&parts.headers, "x-amz-date")
            .or_else(|| query.iter().find(|(k, _)| k == "X-Amz-Date").map(|(_, v)| v.as_str()))
            .and_then(auth::parse_amz_date);
        let facts = iam::context::Facts {
            principal: &principal,
            username: cred.display_name(),
            userid: cred.access_key_id(),
            peer: conn.peer.ip(),
            secure: conn.secure,
            auth_type: authed.auth_type.policy_value(),
            sigv2: authed.signature_version == auth::SignatureVersion::V2,
            signed_at,
            now: time::OffsetDateTime::now_utc(),
        };
        let mut keys = iam::context::condition_keys(&parts.headers, query, &facts);
        upload_encryption_keys(op, query, &mut keys);
        let identity = self.identity_policies.get(cred.access_key_id());
        let Some(bucket) = &target.bucket else {
            // ListBuckets and the like: only an identity policy has a say.
            let decision = identity.map(|p| {
                p.evaluate(&iam::Request {
                    principal: &principal,
                    action,
                    resource: "arn:aws:s3:::*",
                    keys: &keys,
                })
            });
            let (allowed, rule) = match decision {
                None => (true, None),
                Some(Decision::Allow(sid)) => (true, Some(sid.unwrap_or_else(|| "unnamed".to_owned()))),
                Some(Decision::Deny(sid)) => (false, Some(sid.unwrap_or_else(|| "unnamed".to_owned()))),
                Some(Decision::NoDecision) => (false, None),
            };
            let from_statement = rule.as_deref().is_some_and(|r| r != "unnamed");
            self.record_decision(
                &principal,
                action,
                "*",
                allowed,
                rule.as_deref().unwrap_or("implicit"),
                from_statement,
            );
            return if allowed { Ok(()) } else { Err(S3Error::access_denied()) };
        };
        let resource = iam::actions::resource_arn(bucket, target.key.as_deref());
        self.decide(op, &principal, action, &resource, bucket, &keys, cred)
            .await?;
        if let Some(v) = header_str(&parts.headers, "x-amz-copy-source") {
            let src = object::copy::parse_copy_source(v)?;
            let action = if src.version_id.is_some() {
                "s3:GetObjectVersion"
            } else {
                "s3:GetObject"
            };
            let resource = iam::actions::resource_arn(&src.bucket, Some(&src.key));
            self.decide(op, &principal, action, &resource, &src.bucket, &keys, cred)
                .await?;
        }
        Ok(())
    }

    /// One evaluation: `action` on `resource` in `bucket`.
    #[allow(clippy::too_many_arguments)]
    async fn decide(
        &self,
        op: Operation,
        principal: &Principal,
        action: &str,
        resource: &str,
        bucket: &str,
        keys: &iam::ConditionKeys,
        cred: &auth::Credential,
    ) -> Result<(), S3Error> {
        let mut policies = self.policies_for(op, bucket).await?;
        let identity = self.identity_policies.get(cred.access_key_id()).cloned();
        let has_identity = identity.is_some();
        policies.extend(identity);
        let req = iam::Request {
            principal,
            action,
            resource,
            keys,
        };
        let mut decision = iam::evaluate_all(policies.iter().map(|p| &**p), &req);
        if op == Operation::DeleteObjects && !matches!(decision, Decision::Deny(_)) {
            // Its keys are in the body, not read yet: any Deny of s3:DeleteObject to this caller refuses it whole.
            if let Some(sid) = policies.iter().find_map(|p| p.may_deny(principal, "s3:DeleteObject")) {
                decision = Decision::Deny(sid);
            }
        }
        // `allowed_buckets` is the operator's boundary: a bucket policy can narrow it, never widen it.
        let (allowed, rule, from_statement) = match decision {
            Decision::Deny(sid) => (false, sid, true),
            _ if !cred.may_access_bucket(bucket) => (false, Some("allowed-buckets".to_owned()), false),
            Decision::Allow(sid) => (true, sid, true),
            // With an identity policy, what no statement allows is denied (AWS's implicit deny).
            Decision::NoDecision if has_identity => (false, Some("implicit".to_owned()), false),
            Decision::NoDecision => (true, Some("allowed-buckets".to_owned()), false),
        };
        let rule = rule.unwrap_or_else(|| "unnamed".to_owned());
        self.record_decision(
            principal,
            action,
            resource,
            allowed,
            &rule,
            from_statement && rule != "unnamed",
        );
        if allowed { Ok(()) } else { Err(S3Error::access_denied()) }
    }

    fn record_decision(
        &self,
        principal: &Principal,
        action: &str,
        resource: &str,
        allowed: bool,
        rule: &str,
        from_statement: bool,
    ) {
        self.metrics.policy_decision(allowed, rule, from_statement);
        let decision = if allowed { "allow" } else { "deny" };
        crate::audit::policy_decision(&principal.arn, action, resource, decision, rule);
    }

    /// The pinned policies of `bucket` and its stored one, if any.
    async fn policies_for(&self, op: Operation, bucket: &str) -> Result<Vec<Arc<Policy>>, S3Error> {
        let mut out = self.pinned_policies.get(bucket).cloned().unwrap_or_default();
        out.extend(self.stored_policy(op, bucket).await?);
        Ok(out)
    }

    /// The bucket's stored policy (`None`: none, or no such bucket), cached for [`BUCKET_CONFIG_TTL`]. A stored
    /// document that no longer parses refuses every request to the bucket (500) rather than be half-enforced.
    async fn stored_policy(&self, op: Operation, bucket: &str) -> Result<Option<Arc<Policy>>, S3Error> {
        if let Some(e) = self.bucket_policies.get(bucket)
            && e.0.elapsed() < BUCKET_CONFIG_TTL
        {
            return Ok(e.1.clone());
        }
        let policy = match self.get_small(op, bucket, POLICY_KEY).await? {
            None => None,
            Some(text) => Some(Arc::new(
                Policy::parse(&String::from_utf8_lossy(&text), PolicyKind::Bucket)
                    .map_err(|e| S3Error::internal(format!("stored policy of {bucket} does not parse: {e}")))?,
            )),
        };
        if self.bucket_policies.len() >= BUCKET_CONFIG_CACHE_MAX {
            self.bucket_policies.clear();
        }
        self.bucket_policies
            .insert(bucket.to_owned(), (Instant::now(), policy.clone()));
        Ok(policy)
    }

    /// PutBucketPolicy / GetBucketPolicy / DeleteBucketPolicy / GetBucketPolicyStatus, kept in the backend by
    /// the gateway. Pinned policies are not shown or touched here.
    async fn bucket_policy(&self, op: Operation, bucket: &str, body: Body) -> Result<Response<Body>, S3Error> {
        let uri = self.internal_uri(bucket, POLICY_KEY, None)?;
        let status = |code: http::StatusCode| {
            let mut r = Response::new(crate::body::empty());
            *r.status_mut() = code;
            r
        };
        match op {
            Operation::PutBucketPolicy => {
                let text = crate::body::collect_limited(body, iam::MAX_POLICY_BYTES)
                    .await
                    .map_err(|()| {
                        S3Error::new(
                            S3ErrorCode::MalformedPolicy,
                            format!("Policy: larger than {} bytes", iam::MAX_POLICY_BYTES),
                        )
                    })?;
                let text = std::str::from_utf8(&text)
                    .map_err(|_| S3Error::new(S3ErrorCode::MalformedPolicy, "Policy: not UTF-8"))?;
                let policy = Policy::parse(text, PolicyKind::Bucket)
                    .map_err(|e| S3Error::new(S3ErrorCode::MalformedPolicy, e.0))?;
                if let Some(r) = policy.foreign_resource(bucket) {
                    return Err(S3Error::new(
                        S3ErrorCode::MalformedPolicy,
                        format!("Policy has invalid resource: {r:?} is not in bucket {bucket}"),
                    ));
                }
                // Some backends (s3s-fs) create what a PUT names: the bucket must exist first.
                if !self.bucket_exists(op, bucket).await? {
                    return Err(no_such_bucket());
                }
                let (_tx, rx) = tokio::sync::watch::channel(true);
                let mut h = HeaderMap::new();
                h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(text.len()));
                let resp = self
                    .send(
                        op,
                        Method::PUT,
                        uri,
                        h,
                        full(Bytes::copy_from_slice(text.as_bytes())),
                        rx,
                        &FailureSlot::default(),
                    )
                    .await?;
                self.bucket_policies.remove(bucket);
                if resp.status().is_success() {
                    Ok(status(http::StatusCode::NO_CONTENT))
                } else {
                    Ok(self.pass_through(resp))
                }
            }
            Operation::DeleteBucketPolicy => {
                let resp = self.send_bodiless(op, Method::DELETE, uri, HeaderMap::new()).await?;
                self.bucket_policies.remove(bucket);
                match resp.status() {
                    s if s.is_success() => Ok(status(http::StatusCode::NO_CONTENT)),
                    http::StatusCode::NOT_FOUND if !self.bucket_exists(op, bucket).await? => Err(no_such_bucket()),
                    http::StatusCode::NOT_FOUND => Ok(status(http::StatusCode::NO_CONTENT)),
                    _ => Ok(self.pass_through(resp)),
                }
            }
            _ => {
                let Some(text) = self.get_small(op, bucket, POLICY_KEY).await? else {
                    if !self.bucket_exists(op, bucket).await? {
                        return Err(no_such_bucket());
                    }
                    return Err(S3Error::new(
                        S3ErrorCode::NoSuchBucketPolicy,
                        "The bucket policy does not exist",
                    ));
                };
                if op == Operation::GetBucketPolicy {
                    let mut r = Response::new(full(text));
                    r.headers_mut()
                        .insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                    return Ok(r);
                }
                let policy = Policy::parse(&String::from_utf8_lossy(&text), PolicyKind::Bucket)
                    .map_err(|e| S3Error::internal(format!("stored policy of {bucket} does not parse: {e}")))?;
                let xml = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PolicyStatus xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                     <IsPublic>{}</IsPublic></PolicyStatus>",
                    policy.is_public()
                );
                let mut r = Response::new(full(Bytes::from(xml)));
                r.headers_mut()
                    .insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
                Ok(r)
            }
        }
    }

    /// Whether `bucket` exists at the backend (after a 404 on one of the gateway's own objects in it).
    async fn bucket_exists(&self, op: Operation, bucket: &str) -> Result<bool, S3Error> {
        let t = Target {
            bucket: Some(bucket.to_owned()),
            key: None,
        };
        let uri = self.backend.uri_for(&t, None).map_err(S3Error::internal)?;
        Ok(self
            .send_bodiless(op, Method::HEAD, uri, HeaderMap::new())
            .await?
            .status()
            .is_success())
    }
}

fn no_such_bucket() -> S3Error {
    S3Error::new(S3ErrorCode::NoSuchBucket, "The specified bucket does not exist")
}

/// UploadPart, UploadPartCopy and CompleteMultipartUpload carry no SSE headers of their own: their encryption
/// condition keys are those of the upload, as recorded in the upload ID at CreateMultipartUpload (which was
/// evaluated with the headers it was sent with).
fn upload_encryption_keys(op: Operation, query: &[(String, String)], keys: &mut iam::ConditionKeys) {
    use crate::crypto::envelope::SseMode;
    const SSE: &str = "s3:x-amz-server-side-encryption";
    const SSE_C: &str = "s3:x-amz-server-side-encryption-customer-algorithm";
    if !matches!(
        op,
        Operation::UploadPart | Operation::UploadPartCopy | Operation::CompleteMultipartUpload
    ) || keys.get(SSE).is_some()
        || keys.get(SSE_C).is_some()
    {
        return;
    }
    let id = query.iter().find(|(k, _)| k == "uploadId").map(|(_, v)| v.as_str());
    let Some(Ok((_, Some(env)))) = id.map(object::multipart::parse_upload_id) else {
        return;
    };
    match env.mode {
        SseMode::S3 => keys.set(SSE, "AES256"),
        SseMode::Kms => {
            keys.set(SSE, "aws:kms");
            keys.set("s3:x-amz-server-side-encryption-aws-kms-key-id", env.kek_id.as_str());
        }
        SseMode::C => keys.set(SSE_C, "AES256"),
    }
}

/// A backend error on one of the gateway's own reads or writes. A 503 stays a 503 (and SlowDown stays SlowDown,
/// so that clients back off and retry); anything else is the gateway's internal error.
async fn backend_failure(resp: Response<Incoming>, what: String) -> S3Error {
    if resp.status() != http::StatusCode::SERVICE_UNAVAILABLE {
        return S3Error::internal(format!("{what}: backend status {}", resp.status()));
    }
    let code = read_small(resp)
        .await
        .ok()
        .and_then(|b| xml_text(&String::from_utf8_lossy(&b), "Code"));
    if code.as_deref() == Some("SlowDown") {
        S3Error::new(S3ErrorCode::SlowDown, "Please reduce your request rate.")
    } else {
        S3Error::new(
            S3ErrorCode::ServiceUnavailable,
            "The storage backend is unavailable. Please try again.",
        )
    }
}

fn millis_since(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Read a small backend body whole (bounded).
async fn read_small(resp: Response<Incoming>) -> Result<Bytes, S3Error> {
    crate::body::collect_limited(resp.into_body(), SMALL_OBJECT_LIMIT)
        .await
        .map_err(|()| S3Error::internal("reading a small backend response failed or exceeded its limit"))
}

/// A ListAllMyBucketsResult without the `<Bucket>` entries whose name `keep` rejects.
fn filter_buckets(xml: &str, keep: impl Fn(&str) -> bool) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(i) = rest.find("<Bucket>") {
        out.push_str(&rest[..i]);
        let Some(j) = rest[i..].find("</Bucket>") else { break };
        let entry = &rest[i..i + j + "</Bucket>".len()];
        let name =
            xml_text(entry, "Name").map(|n| quick_xml::escape::unescape(&n).map(|c| c.into_owned()).unwrap_or(n));
        if name.as_deref().is_some_and(&keep) {
            out.push_str(entry);
        }
        rest = &rest[i + j + "</Bucket>".len()..];
    }
    out.push_str(rest);
    out
}

/// The raw query without one parameter.
fn remove_query_param(raw: Option<&str>, name: &str) -> String {
    raw.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty() && auth::canonical::percent_decode(p.split_once('=').map_or(*p, |(k, _)| k)) != name)
        .collect::<Vec<_>>()
        .join("&")
}

/// The raw query with one parameter's value replaced (re-encoded).
fn replace_query_param(raw: Option<&str>, name: &str, value: &str) -> String {
    raw.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, _)) if auth::canonical::percent_decode(k) == name => {
                format!("{k}={}", auth::canonical::uri_encode(value))
            }
            _ => p.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// SSE-C keys must never travel in clear (S3 answers 400 InvalidRequest). Checked here, at the one place that
/// classifies requests, even though the only S3 listener is HTTPS. Operations whose SSE support is not built yet
/// refuse SSE headers rather than forward a customer key or store an object unencrypted.
/// The head of the PutObject a POST form stands for: `PUT /bucket/key` with the form's header-like fields, the
/// client's Host, and the file part's length.
fn post_as_put(
    parts: &http::request::Parts,
    target: &Target,
    form: &object::post::PostForm,
) -> Result<(http::request::Parts, Target), S3Error> {
    let bucket = target.bucket.clone().unwrap_or_default();
    let target = Target {
        bucket: Some(bucket.clone()),
        key: Some(form.key.clone()),
    };
    addressing::check(&target)?;
    if form.key.is_empty() {
        return Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            "User key must have a length greater than 0.",
        ));
    }
    let path = format!(
        "/{}/{}",
        auth::canonical::uri_encode(&bucket),
        auth::canonical::uri_encode_path(&form.key)
    );
    let (mut put, ()) = Request::builder()
        .method(Method::PUT)
        .uri(path)
        .body(())
        .map_err(|_| S3Error::new(S3ErrorCode::InvalidArgument, "Invalid key."))?
        .into_parts();
    put.headers = form.headers();
    if let Some(host) = parts.headers.get(http::header::HOST) {
        put.headers.insert(http::header::HOST, host.clone());
    }
    put.headers
        .insert(http::header::CONTENT_LENGTH, HeaderValue::from(form.file_len));
    put.version = parts.version;
    Ok((put, target))
}

/// The object's URL as PostObject reports it (`Location`).
fn post_location(parts: &http::request::Parts, bucket: &str, key: &str) -> String {
    format!(
        "https://{}/{}/{}",
        auth::request_host(parts).unwrap_or("localhost"),
        auth::canonical::uri_encode(bucket),
        auth::canonical::uri_encode_path(key)
    )
}

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
    let sse_ops = [
        Operation::PutObject,
        Operation::PostObject,
        Operation::GetObject,
        Operation::HeadObject,
        Operation::CreateMultipartUpload,
        Operation::UploadPart,
        Operation::UploadPartCopy,
        Operation::CopyObject,
        Operation::CompleteMultipartUpload,
        Operation::ListParts,
        Operation::AbortMultipartUpload,
    ];
    if any_sse && !sse_ops.contains(&op) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_lists_keep_only_allowed_names() {
        let xml = "<ListAllMyBucketsResult><Owner><ID>o</ID></Owner><Buckets><Bucket><Name>only-this</Name>\
                   <CreationDate>d</CreationDate></Bucket><Bucket><Name>victim</Name><CreationDate>d</CreationDate>\
                   </Bucket></Buckets></ListAllMyBucketsResult>";
        let out = filter_buckets(xml, |b| b == "only-this");
        assert!(
            out.contains("<Name>only-this</Name>") && !out.contains("victim"),
            "{out}"
        );
        assert!(out.contains("<Owner><ID>o</ID></Owner>") && out.ends_with("</Buckets></ListAllMyBucketsResult>"));
    }

    /// The classifier refuses SSE-C keys on any request that did not arrive over TLS (S3: 400 InvalidRequest,
    /// with S3's message), even though the only S3 listener is HTTPS: for every operation that takes SSE-C
    /// headers, for any one of the three headers, and for the copy-source form.
    #[test]
    fn sse_c_over_plain_http_is_refused_where_requests_are_classified() {
        const INSECURE: &str = "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure \
             connection.";
        let ops = [
            Operation::PutObject,
            Operation::GetObject,
            Operation::HeadObject,
            Operation::CopyObject,
            Operation::CreateMultipartUpload,
            Operation::UploadPart,
            Operation::UploadPartCopy,
            Operation::CompleteMultipartUpload,
        ];
        for name in [
            "x-amz-server-side-encryption-customer-algorithm",
            "x-amz-server-side-encryption-customer-key",
            "x-amz-server-side-encryption-customer-key-md5",
            "x-amz-copy-source-server-side-encryption-customer-algorithm",
            "x-amz-copy-source-server-side-encryption-customer-key",
            "x-amz-copy-source-server-side-encryption-customer-key-md5",
        ] {
            let mut h = HeaderMap::new();
            h.insert(name, HeaderValue::from_static("AES256"));
            for op in ops {
                let e = check_sse_headers(op, &h, false).unwrap_err();
                assert_eq!(
                    (e.code, e.code.status().as_u16(), e.message.as_ref()),
                    (S3ErrorCode::InvalidRequest, 400, INSECURE),
                    "{} with {name} off TLS",
                    op.as_str()
                );
                assert!(
                    check_sse_headers(op, &h, true).is_ok(),
                    "{} with {name} over TLS",
                    op.as_str()
                );
            }
        }
        // Other SSE headers are not refused off TLS (S3 accepts SSE-S3 over plain HTTP).
        let mut s3 = HeaderMap::new();
        s3.insert("x-amz-server-side-encryption", HeaderValue::from_static("AES256"));
        assert!(check_sse_headers(Operation::PutObject, &s3, false).is_ok());
        // Clients may not set the gateway's own envelope header.
        let mut env = HeaderMap::new();
        env.insert(object::ENVELOPE_HEADER, HeaderValue::from_static("v=1"));
        assert_eq!(
            check_sse_headers(Operation::PutObject, &env, true).unwrap_err().code,
            S3ErrorCode::InvalidArgument
        );
    }
}
