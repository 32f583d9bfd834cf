//! Authenticate: who sent this request, and what must its body satisfy?
//!
//! Verifies SigV4 in every form modern clients send (Authorization header, presigned query; payload literal,
//! unsigned, aws-chunked signed/unsigned with trailers), SigV2 ([`sigv2`], when `[s3] sigv2` allows it) and the
//! signed policy of a browser POST upload ([`post`]) against the gateway's own credential store, with
//! constant-time comparisons. Never logs a secret, a signing key or a signature input that contains one.

pub mod canonical;
pub mod checksum;
pub mod chunked;
pub mod credentials;
pub mod post;
pub mod sigv2;

use std::time::SystemTime;

use base64::Engine;
use http::HeaderName;
use http::request::Parts;
use time::OffsetDateTime;

use crate::body::verify::BodyChecks;
use crate::error::{S3Error, S3ErrorCode};
use crate::s3::headers::{CONTENT_MD5, X_AMZ_CONTENT_SHA256, X_AMZ_DATE, X_AMZ_DECODED_CONTENT_LENGTH, X_AMZ_TRAILER};
use canonical::{canonical_query, canonical_request, canonical_uri, string_to_sign};
use checksum::{ChecksumAlgorithm, ct_eq};
use chunked::{ChunkSigningContext, ChunkedDecoder, ChunkedMode};
pub use credentials::{Credential, CredentialStore};

/// How the request was authenticated (for logs, metrics and policy conditions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthType {
    Header,
    Presigned,
    /// A browser-based POST upload: the form's policy was signed.
    Post,
    /// No credentials at all: allowed only where a bucket policy grants everyone (`"Principal": "*"`).
    Anonymous,
}

impl AuthType {
    /// The `s3:authType` condition key's value.
    pub fn policy_value(self) -> &'static str {
        match self {
            Self::Header => "REST-HEADER",
            Self::Presigned => "REST-QUERY-STRING",
            Self::Post => "POST",
            // S3 evaluates an unsigned request as a REST request like any other.
            Self::Anonymous => "REST-HEADER",
        }
    }
}

/// Which signature the request carried (`s3:signatureversion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureVersion {
    /// AWS4-HMAC-SHA256.
    V4,
    /// The legacy HMAC-SHA1 `AWS` scheme.
    V2,
}

/// A verified request's identity, and the checks its body still has to pass.
pub struct Authenticated {
    pub credential: Credential,
    pub auth_type: AuthType,
    pub signature_version: SignatureVersion,
    pub body_checks: BodyChecks,
    /// The body is aws-chunked framed (framing is removed before the backend sees it).
    pub aws_chunked: bool,
}

/// Limits that authentication enforces, from config.
#[derive(Debug, Clone, Copy)]
pub struct AuthLimits {
    pub max_clock_skew_secs: u64,
    pub max_presign_expiry_secs: u64,
    /// Accept Signature Version 2 (`[s3] sigv2`).
    pub sigv2: bool,
}

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The parsed `Credential=AK/date/region/service/aws4_request` plus the rest of an auth form.
struct SignedParts<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_credential<'a>(cred: &'a str, err: &S3Error) -> Result<(&'a str, &'a str, &'a str, &'a str), S3Error> {
    let parts: Vec<&str> = cred.split('/').collect();
    match parts.as_slice() {
        [ak, date, region, service, "aws4_request"] if !ak.is_empty() => Ok((ak, date, region, service)),
        _ => Err(err.clone()),
    }
}

fn header_malformed(msg: &'static str) -> S3Error {
    S3Error::new(S3ErrorCode::AuthorizationHeaderMalformed, msg)
}

fn query_malformed(msg: impl Into<std::borrow::Cow<'static, str>>) -> S3Error {
    S3Error::new(S3ErrorCode::AuthorizationQueryParametersError, msg)
}

fn parse_authorization(value: &str) -> Result<SignedParts<'_>, S3Error> {
    let malformed = header_malformed("The authorization header is malformed.");
    let rest = value.strip_prefix(ALGORITHM).ok_or_else(|| {
        if value.starts_with("AWS ") {
            sigv2::not_supported()
        } else {
            header_malformed("The authorization header is malformed; the algorithm is not AWS4-HMAC-SHA256.")
        }
    })?;
    let (mut cred, mut sh, mut sig) = (None, None, None);
    for item in rest.split(',') {
        let item = item.trim();
        if let Some(v) = item.strip_prefix("Credential=") {
            cred = Some(v);
        } else if let Some(v) = item.strip_prefix("SignedHeaders=") {
            sh = Some(v);
        } else if let Some(v) = item.strip_prefix("Signature=") {
            sig = Some(v);
        } else if !item.is_empty() {
            return Err(malformed);
        }
    }
    let (Some(cred), Some(sh), Some(sig)) = (cred, sh, sig) else {
        return Err(malformed);
    };
    let (access_key_id, date, region, service) = parse_credential(cred, &malformed)?;
    Ok(SignedParts {
        access_key_id,
        date,
        region,
        service,
        signed_headers: sh.split(';').collect(),
        signature: sig,
    })
}

/// `YYYYMMDDTHHMMSSZ`, the only form SigV4 accepts (read by hand: `time`'s format parser was 0.7 % of a small
/// request's CPU).
pub(crate) fn parse_amz_date(s: &str) -> Option<OffsetDateTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter()
            .try_fold(0u32, |n, &d| d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0')))
    };
    let year = i32::try_from(num(0..4)?).ok()?;
    let month = time::Month::try_from(u8::try_from(num(4..6)?).ok()?).ok()?;
    let date = time::Date::from_calendar_date(year, month, u8::try_from(num(6..8)?).ok()?).ok()?;
    let hms = |r| num(r).and_then(|n| u8::try_from(n).ok());
    let t = time::Time::from_hms(hms(9..11)?, hms(11..13)?, hms(13..15)?).ok()?;
    Some(time::PrimitiveDateTime::new(date, t).assume_utc())
}

pub(crate) fn header_str(parts: &Parts, name: impl http::header::AsHeaderName) -> Option<&str> {
    crate::s3::request::header_str(&parts.headers, name)
}

/// The query's `name=value` pairs, decoded.
pub fn query_params(parts: &Parts) -> Vec<(String, String)> {
    parts
        .uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (canonical::percent_decode(k), canonical::percent_decode(v))
        })
        .collect()
}

/// The host the client addressed (HTTP/1 `Host`, HTTP/2 `:authority`).
pub fn request_host(parts: &Parts) -> Option<&str> {
    header_str(parts, http::header::HOST).or_else(|| parts.uri.authority().map(|a| a.as_str()))
}

fn canonical_headers<'a>(parts: &Parts, signed: &[&'a str]) -> Result<Vec<(&'a str, String)>, S3Error> {
    let mut out = Vec::with_capacity(signed.len());
    for &name in signed {
        if name.is_empty() || name.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(header_malformed("SignedHeaders must be lowercase header names."));
        }
        let value = if name == "host" {
            request_host(parts).map(str::to_owned)
        } else {
            let values = parts.headers.get_all(name).into_iter();
            let values = values.map(|v| String::from_utf8_lossy(v.as_bytes()));
            canonical::join_header_values(values, canonical::push_canonical_header_value)
        };
        // A signed header that is absent is signed as empty; the signature then decides.
        out.push((name, value.unwrap_or_default()));
    }
    Ok(out)
}

/// Verify the request head. Body checks come back in [`Authenticated::body_checks`]. `virtual_bucket` is the
/// bucket when the Host name addressed it (SigV2 signs it as part of the resource).
pub fn authenticate(
    parts: &Parts,
    store: &CredentialStore,
    limits: AuthLimits,
    virtual_bucket: Option<&str>,
    now: SystemTime,
) -> Result<Authenticated, S3Error> {
    let now = OffsetDateTime::from(now);
    let query = query_params(parts);
    let q = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());

    if let Some(form) = sigv2::detect(parts, &q)? {
        if !limits.sigv2 {
            return Err(sigv2::not_supported());
        }
        return authenticate_v2(parts, store, limits, &form, virtual_bucket, &query, now);
    }

    if let Some(auth) = header_str(parts, http::header::AUTHORIZATION) {
        return authenticate_header(parts, store, limits, auth, now);
    }
    if q("X-Amz-Algorithm").is_some() {
        return authenticate_presigned(parts, store, limits, &query, now);
    }

    if ["X-Amz-Credential", "X-Amz-Signature", "AWSAccessKeyId", "Signature"]
        .iter()
        .any(|name| q(name).is_some())
    {
        // Half a signature is no signature, and not an anonymous request either.
        return Err(S3Error::new(
            S3ErrorCode::AuthorizationQueryParametersError,
            "Query-string authentication requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, \
             X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
        ));
    }
    anonymous(parts)
}

/// A request without credentials, as S3 takes it: an anonymous principal, which the policy phase allows only
/// where a bucket policy grants everyone; its body is checked as an unsigned one (length, `Content-MD5`,
/// `x-amz-checksum-*`). A body that claims chunk signatures has no key to check them with: refused.
fn anonymous(parts: &Parts) -> Result<Authenticated, S3Error> {
    let payload = header_str(parts, X_AMZ_CONTENT_SHA256).unwrap_or("UNSIGNED-PAYLOAD");
    if payload.starts_with("STREAMING-AWS4-HMAC-SHA256") {
        return Err(S3Error::access_denied_msg("A signed payload needs a signed request."));
    }
    let (body_checks, aws_chunked) = body_checks(parts, payload, None)?;
    Ok(Authenticated {
        credential: Credential::anonymous(),
        auth_type: AuthType::Anonymous,
        signature_version: SignatureVersion::V4,
        body_checks,
        aws_chunked,
    })
}

/// SigV4 in the `Authorization` header.
fn authenticate_header(
    parts: &Parts,
    store: &CredentialStore,
    limits: AuthLimits,
    auth: &str,
    now: OffsetDateTime,
) -> Result<Authenticated, S3Error> {
    let sp = parse_authorization(auth)?;
    let amz_date = header_str(parts, X_AMZ_DATE)
        .ok_or_else(|| S3Error::access_denied_msg("AWS authentication requires a valid Date or x-amz-date header"))?;
    let t = parse_amz_date(amz_date)
        .ok_or_else(|| S3Error::access_denied_msg("AWS authentication requires a valid Date or x-amz-date header"))?;
    check_scope(&sp, amz_date, &header_malformed)?;
    let skew = (now - t).abs();
    if skew > time::Duration::seconds(limits.max_clock_skew_secs as i64) {
        return Err(S3Error::new(
            S3ErrorCode::RequestTimeTooSkewed,
            "The difference between the request time and the current time is too large.",
        ));
    }
    if !sp.signed_headers.contains(&"host") {
        return Err(header_malformed("SignedHeaders must include host."));
    }
    let content_sha = header_str(parts, X_AMZ_CONTENT_SHA256).ok_or_else(|| {
        S3Error::new(
            S3ErrorCode::InvalidRequest,
            "Missing required header for this request: x-amz-content-sha256",
        )
    })?;
    let credential = lookup(store, sp.access_key_id)?;
    let key = credential.signing_key(sp.date, sp.region, sp.service);
    let headers = canonical_headers(parts, &sp.signed_headers)?;
    let cr = canonical_request(
        parts.method.as_str(),
        &canonical_uri(parts.uri.path()),
        &canonical_query(parts.uri.query(), None),
        &headers,
        content_sha,
    );
    let scope = canonical::scope(sp.date, sp.region, sp.service);
    let sts = string_to_sign(amz_date, &scope, &cr);
    if !ct_eq(&canonical::signature(&key, &sts), sp.signature) {
        tracing::debug!(access_key_id = sp.access_key_id, canonical_request = %cr, "signature mismatch");
        return Err(S3Error::signature_mismatch());
    }
    let signing = ChunkSigningContext {
        signing_key: key,
        amz_date: amz_date.to_owned(),
        scope,
        seed_signature: sp.signature.to_owned(),
    };
    let (body_checks, aws_chunked) = body_checks(parts, content_sha, Some(signing))?;
    Ok(Authenticated {
        credential,
        auth_type: AuthType::Header,
        signature_version: SignatureVersion::V4,
        body_checks,
        aws_chunked,
    })
}

/// SigV4 in the query (a presigned URL: `X-Amz-Algorithm` and the other parameters in `query`).
fn authenticate_presigned(
    parts: &Parts,
    store: &CredentialStore,
    limits: AuthLimits,
    query: &[(String, String)],
    now: OffsetDateTime,
) -> Result<Authenticated, S3Error> {
    let q = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let alg = q("X-Amz-Algorithm").unwrap_or_default();
    if alg != ALGORITHM {
        return Err(query_malformed("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\""));
    }
    let missing = || {
        query_malformed(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, \
             X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
        )
    };
    let (Some(cred), Some(amz_date), Some(expires), Some(sh), Some(sig)) = (
        q("X-Amz-Credential"),
        q("X-Amz-Date"),
        q("X-Amz-Expires"),
        q("X-Amz-SignedHeaders"),
        q("X-Amz-Signature"),
    ) else {
        return Err(missing());
    };
    let malformed = query_malformed("Error parsing the X-Amz-Credential parameter.");
    let (access_key_id, date, region, service) = parse_credential(cred, &malformed)?;
    let sp = SignedParts {
        access_key_id,
        date,
        region,
        service,
        signed_headers: sh.split(';').collect(),
        signature: sig,
    };
    let t = parse_amz_date(amz_date)
        .ok_or_else(|| query_malformed("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""))?;
    check_scope(&sp, amz_date, &|m| query_malformed(m))?;
    let expires: u64 = expires
        .parse()
        .map_err(|_| query_malformed("X-Amz-Expires should be a number"))?;
    if expires == 0 {
        return Err(query_malformed("X-Amz-Expires must be non-negative"));
    }
    if expires > limits.max_presign_expiry_secs {
        return Err(query_malformed(format!(
            "X-Amz-Expires must be less than a week (in seconds) that is; the maximum expires is {}",
            limits.max_presign_expiry_secs
        )));
    }
    if t - now > time::Duration::seconds(limits.max_clock_skew_secs as i64) {
        return Err(S3Error::access_denied_msg("Request is not valid yet"));
    }
    if now > t + time::Duration::seconds(expires as i64) {
        return Err(S3Error::access_denied_msg("Request has expired"));
    }
    let credential = lookup(store, access_key_id)?;
    let key = credential.signing_key(date, region, service);
    let headers = canonical_headers(parts, &sp.signed_headers)?;
    let payload = header_str(parts, X_AMZ_CONTENT_SHA256).unwrap_or("UNSIGNED-PAYLOAD");
    let cr = canonical_request(
        parts.method.as_str(),
        &canonical_uri(parts.uri.path()),
        &canonical_query(parts.uri.query(), Some("X-Amz-Signature")),
        &headers,
        payload,
    );
    let scope = canonical::scope(date, region, service);
    let sts = string_to_sign(amz_date, &scope, &cr);
    if !ct_eq(&canonical::signature(&key, &sts), sig) {
        tracing::debug!(access_key_id, canonical_request = %cr, "presigned signature mismatch");
        return Err(S3Error::signature_mismatch());
    }
    let (body_checks, aws_chunked) = body_checks(parts, payload, None)?;
    Ok(Authenticated {
        credential,
        auth_type: AuthType::Presigned,
        signature_version: SignatureVersion::V4,
        body_checks,
        aws_chunked,
    })
}

/// SigV2: check the time, the key and the signature; the body is then checked as an unsigned one.
fn authenticate_v2(
    parts: &Parts,
    store: &CredentialStore,
    limits: AuthLimits,
    form: &sigv2::Form<'_>,
    virtual_bucket: Option<&str>,
    query: &[(String, String)],
    now: OffsetDateTime,
) -> Result<Authenticated, S3Error> {
    let (access_key_id, signature, auth_type) = match form {
        sigv2::Form::Header {
            access_key_id,
            signature,
        } => (*access_key_id, *signature, AuthType::Header),
        sigv2::Form::Presigned {
            access_key_id,
            signature,
            ..
        } => (*access_key_id, *signature, AuthType::Presigned),
    };
    sigv2::check_time(parts, form, limits, now)?;
    let credential = lookup(store, access_key_id)?;
    let sts = sigv2::request_string_to_sign(parts, form, virtual_bucket, query, None);
    // A path-style bucket request (`/bucket`): AWS's rule signs the path as sent, botocore signs `/bucket/`.
    let bucket_only = virtual_bucket.is_none() && parts.uri.path().len() > 1 && !parts.uri.path()[1..].contains('/');
    let matches = sigv2::verify(credential.secret(), &sts, signature)
        || bucket_only && {
            let with_slash = format!("{}/", parts.uri.path());
            let sts = sigv2::request_string_to_sign(parts, form, virtual_bucket, query, Some(&with_slash));
            sigv2::verify(credential.secret(), &sts, signature)
        };
    if !matches {
        tracing::debug!(access_key_id, "SigV2 signature mismatch");
        return Err(S3Error::signature_mismatch());
    }
    let payload = header_str(parts, X_AMZ_CONTENT_SHA256).unwrap_or("UNSIGNED-PAYLOAD");
    if payload.starts_with("STREAMING-") {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "aws-chunked payloads need Signature Version 4.",
        ));
    }
    let (body_checks, aws_chunked) = body_checks(parts, payload, None)?;
    Ok(Authenticated {
        credential,
        auth_type,
        signature_version: SignatureVersion::V2,
        body_checks,
        aws_chunked,
    })
}

fn check_scope(sp: &SignedParts<'_>, amz_date: &str, err: &dyn Fn(&'static str) -> S3Error) -> Result<(), S3Error> {
    if sp.service != "s3" {
        return Err(err("The credential scope must name the service 's3'."));
    }
    if !amz_date.starts_with(sp.date) || sp.date.len() != 8 {
        return Err(err("The credential scope date does not match the request date."));
    }
    if sp.region.is_empty() {
        return Err(err("The credential scope must name a region."));
    }
    Ok(())
}

fn lookup(store: &CredentialStore, access_key_id: &str) -> Result<Credential, S3Error> {
    store.get(access_key_id).ok_or_else(|| {
        S3Error::new(
            S3ErrorCode::InvalidAccessKeyId,
            "The AWS Access Key Id you provided does not exist in our records.",
        )
    })
}

fn decoded_length(parts: &Parts, name: HeaderName) -> Result<Option<u64>, S3Error> {
    match header_str(parts, &name) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| S3Error::new(S3ErrorCode::InvalidArgument, format!("Invalid {name} header."))),
    }
}

/// What the body must satisfy, from `x-amz-content-sha256` and the integrity headers.
fn body_checks(
    parts: &Parts,
    content_sha: &str,
    signing: Option<ChunkSigningContext>,
) -> Result<(BodyChecks, bool), S3Error> {
    let mut checks = BodyChecks::default();
    let mode = match content_sha {
        "UNSIGNED-PAYLOAD" => None,
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" => Some(ChunkedMode::SignedChunks),
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" => Some(ChunkedMode::SignedChunksTrailer),
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER" => Some(ChunkedMode::UnsignedTrailer),
        h if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
            checks.sha256 = Some(h.to_ascii_lowercase());
            None
        }
        h if h.starts_with("STREAMING-") => {
            return Err(S3Error::new(
                S3ErrorCode::NotImplemented,
                format!("{h} is not supported."),
            ));
        }
        _ => {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, \
                 STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid \
                 sha256 value.",
            ));
        }
    };
    if let Some(md5) = header_str(parts, CONTENT_MD5) {
        let ok = base64::engine::general_purpose::STANDARD
            .decode(md5)
            .is_ok_and(|d| d.len() == 16);
        if !ok {
            return Err(S3Error::new(
                S3ErrorCode::InvalidDigest,
                "The Content-MD5 you specified was invalid.",
            ));
        }
        checks.content_md5 = Some(md5.to_owned());
    }
    // CompleteMultipartUpload's `x-amz-checksum-*` states the whole object's checksum, not its XML body's: the
    // multipart handler checks it against the parts.
    let completes_upload = parts.method == http::Method::POST
        && parts
            .uri
            .query()
            .is_some_and(|q| q.split('&').any(|p| p.starts_with("uploadId=")));
    for (name, value) in parts.headers.iter().filter(|_| !completes_upload) {
        if let Some(alg) = ChecksumAlgorithm::from_header_name(name.as_str()) {
            let v = value.to_str().unwrap_or("").to_owned();
            if checks.header_checksum.replace((alg, v)).is_some() {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
                ));
            }
        }
    }
    let trailer = match header_str(parts, X_AMZ_TRAILER) {
        None => None,
        Some(t) => Some(ChecksumAlgorithm::from_header_name(t.trim()).ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::InvalidRequest,
                "The value specified in the x-amz-trailer header is not supported",
            )
        })?),
    };
    let Some(mode) = mode else {
        if trailer.is_some() {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "x-amz-trailer requires a STREAMING-*-TRAILER x-amz-content-sha256.",
            ));
        }
        checks.length = decoded_length(parts, http::header::CONTENT_LENGTH)?;
        return Ok((checks, false));
    };
    let length = decoded_length(parts, X_AMZ_DECODED_CONTENT_LENGTH)?;
    if length.is_none() {
        return Err(S3Error::new(
            S3ErrorCode::MissingContentLength,
            "You must provide the Content-Length HTTP header (x-amz-decoded-content-length for aws-chunked).",
        ));
    }
    let needs_trailer = matches!(mode, ChunkedMode::UnsignedTrailer | ChunkedMode::SignedChunksTrailer);
    if needs_trailer != trailer.is_some() && needs_trailer {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "STREAMING-*-TRAILER payloads require an x-amz-trailer header naming a checksum.",
        ));
    }
    let signing = match mode {
        ChunkedMode::UnsignedTrailer => None,
        _ => Some(signing.ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::InvalidRequest,
                "Signed aws-chunked payloads need header authentication.",
            )
        })?),
    };
    checks.chunked = Some(ChunkedDecoder::new(mode, signing, trailer));
    checks.trailer_checksum = trailer;
    checks.length = length;
    Ok((checks, true))
}

#[cfg(test)]
mod tests {
    use super::parse_amz_date;
    use time::macros::format_description;

    /// The hand-read date agrees with `time`'s parser of the same format, on good and bad input alike.
    #[test]
    fn amz_date_reads_as_times_parser_does() {
        let fmt = format_description!("[year][month][day]T[hour][minute][second]Z");
        let reference = |s: &str| time::PrimitiveDateTime::parse(s, fmt).ok().map(|t| t.assume_utc());
        let cases = [
            "20130524T000000Z",
            "20241231T235959Z",
            "20240229T120000Z",
            "20230229T120000Z",
            "20241301T000000Z",
            "20240100T000000Z",
            "20240101T240000Z",
            "20240101T006000Z",
            "20240101T000060Z",
            "20240101 000000Z",
            "20240101T000000",
            "20240101T000000z",
            "2024010T000000ZZ",
            "+2024101T000000Z",
            "2024-101T000000Z",
            "20240101T00000٠Z",
            "",
            "00000101T000000Z",
        ];
        for c in cases {
            assert_eq!(parse_amz_date(c), reference(c), "{c:?}");
        }
        assert!(parse_amz_date("20130524T000000Z").is_some());
        assert!(parse_amz_date("20241301T000000Z").is_none());
    }
}
