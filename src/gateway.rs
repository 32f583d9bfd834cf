//! A request's life, phase by phase. This module calls the phases and owns none of them:
//!
//! accept (TLS, in `accept`) → classify (`s3::request`) → authenticate (`auth`) → policy (`authorize`) →
//! verify body (`body::verify`) → dispatch to the operation's handler (`ops`: transform, sign + forward through
//! `backend::upstream`, transform response; a write of several steps on a task of its own, to its end) → meter
//! (`metrics::request`, always, exactly once).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::{Method, Request, Response};

use crate::auth::{self, AuthLimits, Authenticated, Credential, CredentialStore};
use crate::authorize::Authorizer;
use crate::backend::upstream::Upstream;
use crate::body::Body;
use crate::body::verify::{ClientBody, check_declared};
use crate::bucket_state::BucketState;
use crate::error::{S3Error, S3ErrorCode};
use crate::metrics::Metrics;
use crate::metrics::request::RequestMeter;
use crate::ops::post::PostForm;
use crate::ops::{self, ReqCtx};
use crate::s3::addressing;
use crate::s3::request::{self, S3Request};
use crate::sse::{self, Keys};

pub use crate::s3::request::ConnInfo;

/// What SIGHUP reloads from the config file: who the clients are, what they may do, what they may cost. Swapped
/// whole, so that a request sees one version from its first phase to its last.
pub struct Settings {
    pub credentials: CredentialStore,
    pub authorizer: Authorizer,
    /// `[limits]`: header and body sizes here; connections and timeouts in `accept`.
    pub limits: crate::config::Limits,
}

pub struct Gateway {
    pub upstream: Arc<Upstream>,
    pub buckets: BucketState,
    /// The reloadable settings in force.
    pub settings: ArcSwap<Settings>,
    pub auth_limits: AuthLimits,
    /// Encryption keys; `None` runs the gateway as a verifying pass-through proxy (SSE off).
    pub keys: Option<Keys>,
    pub metrics: Arc<Metrics>,
    /// The virtual-host domains buckets may be addressed under.
    pub virtual_host_domains: Vec<String>,
    /// Each write running to its end on a task of its own holds a receiver: shutdown waits for them as for the
    /// connections, whose clients may have left them.
    pub writes_in_flight: tokio::sync::watch::Sender<()>,
}

impl Gateway {
    /// The whole life of one request. Never fails: every error becomes an S3 XML response.
    pub async fn handle<B>(self: Arc<Self>, req: Request<B>, conn: ConnInfo) -> Result<Response<Body>, Infallible>
    where
        B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
        B::Error: Into<crate::body::BoxError>,
    {
        let mut meter = RequestMeter::start(&self.metrics, conn, &req);
        let req = meter.count_upload(req);
        let may_leave_body = req.version() < http::Version::HTTP_2 && has_body(req.headers());
        let result = crate::audit::scope(meter.request_id(), self.process(req, conn, &mut meter)).await;
        let mut resp = meter.finish(result);
        // An error may leave the request's body unread (refused before it was needed). The client may send it
        // all the same (botocore does after an unanswered `Expect: 100-continue`): on a kept-alive connection
        // its bytes would be read as the next request. The connection ends with the answer instead, as S3's do.
        if may_leave_body && (resp.status().is_client_error() || resp.status().is_server_error()) {
            resp.headers_mut()
                .insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
        }
        Ok(resp)
    }

    /// The phases, in the order that decides which error wins when several things are wrong.
    ///
    /// The phases that wait are boxed: inline, their futures made this one 34 KiB, copied whole by every move of
    /// the request's future (into the service's future, into hyper's connection), several times per request.
    async fn process(
        self: &Arc<Self>,
        req: Request<Body>,
        conn: ConnInfo,
        meter: &mut RequestMeter,
    ) -> Result<Response<Body>, S3Error> {
        let settings = self.settings.load_full();
        let (parts, body) = req.into_parts();
        let req = request::classify(parts, &self.virtual_host_domains, settings.limits.max_header_bytes)?;
        meter.operation(req.op);
        let (req, body, form) = Box::pin(ops::post::as_put(req, body)).await?;
        sse::request::check_headers(req.op, &req.parts.headers, conn.secure)?;
        let authed = self.authenticate(&settings.credentials, &req, form.as_ref())?;
        meter.principal(authed.credential.display_name());
        crate::audit::set_principal(authed.credential.display_name());
        let sse = self.keys.as_ref().map(|k| k.rules);
        Box::pin(settings.authorizer.check(&self.buckets, &req, &authed, conn, sse)).await?;
        check_declared(
            req.op,
            &req.parts.method,
            authed.body_checks.length,
            authed.aws_chunked,
            &settings.limits,
        )?;
        let mut checks = authed.body_checks;
        checks.default_checksum = self.keys.is_some();
        let body = Box::pin(ClientBody::verify(body, checks)).await?;
        if self.keys.is_some() && runs_to_its_end(req.op, &req.parts.method, &body) {
            return self.dispatch_to_the_end(req, authed.credential, body, form).await;
        }
        ops::dispatch(self.context(req, authed.credential, body, form)).await
    }

    fn context(&self, req: S3Request, credential: Credential, body: ClientBody, form: Option<PostForm>) -> ReqCtx<'_> {
        ReqCtx {
            upstream: &self.upstream,
            buckets: &self.buckets,
            metrics: &self.metrics,
            keys: self.keys.as_ref(),
            req,
            credential: Some(credential),
            body,
            form,
        }
    }

    /// The handler on a task of its own, which runs to its end even if the client goes away meanwhile (hyper
    /// then drops the request's future): a write the gateway makes in several steps (the backend's, then its own
    /// records: a Complete's layout and checksums, a realignment, a copy's records), cut between two, would leave
    /// an object without what it is read with. S3 too finishes a request it has read.
    async fn dispatch_to_the_end(
        self: &Arc<Self>,
        req: S3Request,
        credential: Credential,
        body: ClientBody,
        form: Option<PostForm>,
    ) -> Result<Response<Body>, S3Error> {
        let gateway = Arc::clone(self);
        let in_flight = self.writes_in_flight.subscribe();
        let run = async move {
            let answer = ops::dispatch(gateway.context(req, credential, body, form)).await;
            drop(in_flight);
            answer
        };
        match tokio::spawn(crate::audit::carried(run)).await {
            Ok(answer) => answer,
            Err(e) => match e.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(_) => Err(S3Error::new(
                    S3ErrorCode::ServiceUnavailable,
                    "The gateway is shutting down.",
                )),
            },
        }
    }

    /// SigV4 / SigV2 in the header or the query, or a browser form's signature and policy.
    fn authenticate(
        &self,
        credentials: &CredentialStore,
        req: &S3Request,
        form: Option<&PostForm>,
    ) -> Result<Authenticated, S3Error> {
        match form {
            None => {
                let host = auth::request_host(&req.parts);
                let virtual_bucket = addressing::host_bucket(host, &self.virtual_host_domains);
                auth::authenticate(
                    &req.parts,
                    credentials,
                    self.auth_limits,
                    virtual_bucket,
                    SystemTime::now(),
                )
            }
            Some(form) => auth::post::verify_form(
                &form.fields,
                form.file_len.range(),
                req.target.bucket.as_deref().unwrap_or_default(),
                credentials,
                self.auth_limits,
            ),
        }
    }

    /// The readiness probe: backend and KMS.
    pub async fn probe(&self) {
        crate::metrics::readiness::probe(self.upstream.backend(), self.keys.as_ref(), &self.metrics).await;
    }
}

/// Whether a request's work runs to its end whatever becomes of its client (SSE on): every write, as the
/// gateway's writes are several steps each, but a PutObject whose body was read whole, which is one (its checksum
/// goes in the envelope). Reads have nothing to finish.
fn runs_to_its_end(op: crate::s3::operation::Operation, method: &Method, body: &ClientBody) -> bool {
    use crate::s3::operation::Operation;
    match (method, op) {
        (&Method::GET | &Method::HEAD, _) => false,
        (_, Operation::PutObject) => !body.read_whole(),
        _ => true,
    }
}

/// Whether an HTTP/1 request has a body (a non-zero `Content-Length`, or a `Transfer-Encoding`).
fn has_body(h: &http::HeaderMap) -> bool {
    h.contains_key(http::header::TRANSFER_ENCODING)
        || h.get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}
