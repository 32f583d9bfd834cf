//! SigV4 signing with `aws-sigv4` (independent of the gateway's own verifier): header signatures, presigned
//! URLs, and signed requests to a [`Gateway`].

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http::{Method, Request};

use super::{Creds, Gateway, REGION};

fn settings(location: SignatureLocation, expires_in: Option<Duration>) -> SigningSettings {
    let mut s = SigningSettings::default();
    s.percent_encoding_mode = PercentEncodingMode::Single;
    s.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    s.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    s.signature_location = location;
    s.expires_in = expires_in;
    s
}

fn identity(creds: Creds) -> Identity {
    Credentials::new(creds.ak, creds.sk, None, None, "e2e-tests").into()
}

fn sign_with<B>(
    req: &mut Request<B>,
    creds: Creds,
    time: SystemTime,
    payload: SignableBody<'_>,
    settings: SigningSettings,
) -> String {
    let identity = identity(creds);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name("s3")
        .time(time)
        .settings(settings)
        .build()
        .expect("signing params");
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().expect("ASCII header").to_owned()))
        .collect();
    let uri = req.uri().to_string();
    let signable = SignableRequest::new(
        req.method().as_str(),
        &uri,
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        payload,
    )
    .expect("signable request");
    let (instructions, signature) = sign(signable, &params.into()).expect("signing").into_parts();
    instructions.apply_to_request_http1x(req);
    signature
}

/// Sign `req` in the `Authorization` header (adds `x-amz-date`, `x-amz-content-sha256`, `authorization`).
/// Every header already on the request is signed. Returns the signature (hex).
pub fn sign_request<B>(req: &mut Request<B>, creds: Creds, time: SystemTime, payload: SignableBody<'_>) -> String {
    sign_with(req, creds, time, payload, settings(SignatureLocation::Headers, None))
}

/// A presigned URL for `method url` (UNSIGNED-PAYLOAD, only `host` signed).
pub fn presign(method: Method, url: &str, creds: Creds, time: SystemTime, expires_in: Duration) -> String {
    let mut req = Request::builder().method(method).uri(url).body(()).expect("request");
    sign_with(
        &mut req,
        creds,
        time,
        SignableBody::UnsignedPayload,
        settings(SignatureLocation::QueryParams, Some(expires_in)),
    );
    req.uri().to_string()
}

/// A request to the gateway signed as `creds` with the body's SHA-256 (`content-length` signed too).
pub fn signed(
    gw: &Gateway,
    creds: Creds,
    method: Method,
    path_and_query: &str,
    body: impl Into<Bytes>,
) -> Request<Bytes> {
    signed_with_headers(gw, creds, method, path_and_query, body, &[])
}

/// Like [`signed`], with extra (signed) headers.
pub fn signed_with_headers(
    gw: &Gateway,
    creds: Creds,
    method: Method,
    path_and_query: &str,
    body: impl Into<Bytes>,
    headers: &[(&str, &str)],
) -> Request<Bytes> {
    let body = body.into();
    // S3 wants a Content-Length on every PUT and POST, even an empty one.
    let with_length = !body.is_empty() || method == Method::PUT || method == Method::POST;
    let mut b = Request::builder().method(method).uri(gw.url(path_and_query));
    if with_length {
        b = b.header("content-length", body.len());
    }
    for (n, v) in headers {
        b = b.header(*n, *v);
    }
    let mut req = b.body(body.clone()).expect("request");
    sign_request(&mut req, creds, SystemTime::now(), SignableBody::Bytes(&body));
    req
}
