//! Sign: SigV4 with the gateway's own credentials, for the backend (service `s3`, [`Signer::sign_s3`]: our own
//! canonical request over `crate::auth::canonical`'s pieces, with the day's signing key derived once, not per
//! request; byte-equal to aws-sigv4's, which the tests check) and for a remote KMS (service `kms`, aws-sigv4).
//! S3 bodies are never hashed before they are sent (they are streams): by default they go as `UNSIGNED-PAYLOAD`
//! (the gateway has already verified the client's payload); `[backend] payload = "signed"` sends them aws-chunked
//! with chunk signatures, `"trailer"` aws-chunked with a CRC32C trailer (see [`super::chunked`]). Other services
//! get small, whole bodies, whose SHA-256 is signed.

use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwapOption;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::{HeaderValue, Request};

use super::chunked::ChunkSigning;
use crate::auth::canonical;
use crate::secret::{SecretString, SigningKey};

pub struct Signer {
    identity: Identity,
    access_key_id: String,
    secret: SecretString,
    region: String,
    service: &'static str,
    /// The signing key of the last UTC day signed for: four HMACs once a day instead of on every request.
    day_key: ArcSwapOption<DayKey>,
}

struct DayKey {
    date: String,
    /// `date/region/service/aws4_request`.
    scope: String,
    key: SigningKey,
}

/// Headers never signed (aws-sigv4's default exclusions: changed by proxies, or computed by the signing).
const UNSIGNED_HEADERS: [&str; 4] = ["authorization", "user-agent", "x-amzn-trace-id", "transfer-encoding"];

impl Signer {
    /// A signer for the S3 backend.
    pub fn new(access_key_id: String, secret: SecretString, region: String) -> Self {
        Self::for_service("s3", access_key_id, secret, region)
    }

    /// A signer for another AWS service (`kms`, …), used with [`Signer::sign_payload`].
    pub fn for_service(service: &'static str, access_key_id: String, secret: SecretString, region: String) -> Self {
        let creds = Credentials::new(access_key_id.clone(), secret.expose(), None, None, "s3-sse-proxy");
        Self {
            identity: creds.into(),
            access_key_id,
            secret,
            region,
            service,
            day_key: ArcSwapOption::empty(),
        }
    }

    /// Sign an S3 request whose body is `payload`; the path is signed as sent. For the streaming payloads the
    /// caller has set the aws-chunked headers; the result (the request's signature) is the seed of the
    /// chunk-signature chain ([`Signer::chunk_signing`]).
    pub fn sign_s3<B>(&self, req: &mut Request<B>, payload: S3Payload, time: SystemTime) -> Result<String, String> {
        let amz_date = amz_date(time);
        let payload_hash = match payload {
            S3Payload::Unsigned => "UNSIGNED-PAYLOAD",
            S3Payload::Empty => canonical::EMPTY_SHA256,
            S3Payload::SignedChunks => STREAMING_SIGNED,
            S3Payload::UnsignedTrailer => "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        };
        let headers = req.headers_mut();
        headers.insert(
            "x-amz-date",
            HeaderValue::from_str(&amz_date).map_err(|e| e.to_string())?,
        );
        headers.insert("x-amz-content-sha256", HeaderValue::from_static(payload_hash));

        let signed = signed_headers(req)?;
        let request = canonical::canonical_request(
            req.method().as_str(),
            req.uri().path(),
            &canonical_query(req.uri().query()),
            &signed,
            payload_hash,
        );
        let day = self.key_of(&amz_date[..8]);
        let seed_signature =
            canonical::signature(&day.key, &canonical::string_to_sign(&amz_date, &day.scope, &request));
        let mut authorization = String::with_capacity(256);
        authorization.push_str("AWS4-HMAC-SHA256 Credential=");
        authorization.push_str(&self.access_key_id);
        authorization.push('/');
        authorization.push_str(&day.scope);
        authorization.push_str(", SignedHeaders=");
        for (i, &(name, _)) in signed.iter().enumerate() {
            if i > 0 {
                authorization.push(';');
            }
            authorization.push_str(name);
        }
        authorization.push_str(", Signature=");
        authorization.push_str(&seed_signature);
        req.headers_mut().insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_str(&authorization).map_err(|e| e.to_string())?,
        );
        Ok(seed_signature)
    }

    /// What signs the chunks of a body sent at `time` whose request's signature is `seed_signature`.
    pub fn chunk_signing(&self, time: SystemTime, seed_signature: String) -> ChunkSigning {
        ChunkSigning {
            identity: self.identity.clone(),
            region: self.region.clone(),
            time,
            seed_signature,
        }
    }

    /// The signing key of `date` (`YYYYMMDD`), derived on the first request of the day.
    fn key_of(&self, date: &str) -> Arc<DayKey> {
        if let Some(day) = self.day_key.load_full().filter(|d| d.date == date) {
            return day;
        }
        let day = Arc::new(DayKey {
            date: date.to_owned(),
            scope: canonical::scope(date, &self.region, self.service),
            key: canonical::signing_key(&self.secret, date, &self.region, self.service),
        });
        self.day_key.store(Some(day.clone()));
        day
    }

    /// Sign a request whose whole body is `payload` (its SHA-256 is part of the signature).
    pub fn sign_payload<B>(&self, req: &mut Request<B>, payload: &[u8]) -> Result<(), String> {
        self.sign_at(
            req,
            SigningSettings::default(),
            SignableBody::Bytes(payload),
            SystemTime::now(),
        )
        .map(drop)
    }

    /// Sign at `time`; the request's signature.
    fn sign_at<B>(
        &self,
        req: &mut Request<B>,
        settings: SigningSettings,
        body: SignableBody<'_>,
        time: SystemTime,
    ) -> Result<String, String> {
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name(self.service)
            .time(time)
            .settings(settings)
            .build()
            .expect("all signing params set");
        let headers: Vec<(&str, &str)> = req
            .headers()
            .iter()
            .filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str(), v)))
            .collect();
        let uri = req.uri().to_string();
        let signable =
            SignableRequest::new(req.method().as_str(), &uri, headers.into_iter(), body).map_err(|e| e.to_string())?;
        let (instructions, signature) = sign(signable, &params.into()).map_err(|e| e.to_string())?.into_parts();
        instructions.apply_to_request_http1x(req);
        Ok(signature)
    }
}

/// SigV4's `x-amz-date`: `YYYYMMDDTHHMMSSZ`, UTC (written digit by digit: `format!` was 0.7 % of a small
/// request's CPU).
fn amz_date(time: SystemTime) -> String {
    fn digits(s: &mut String, n: u32, width: u32) {
        for i in (0..width).rev() {
            s.push(char::from(b'0' + (n / 10u32.pow(i) % 10) as u8));
        }
    }
    let t = time::OffsetDateTime::from(time);
    let mut s = String::with_capacity(16);
    digits(&mut s, t.year().clamp(0, 9999).unsigned_abs(), 4);
    digits(&mut s, u32::from(u8::from(t.month())), 2);
    digits(&mut s, u32::from(t.day()), 2);
    s.push('T');
    digits(&mut s, u32::from(t.hour()), 2);
    digits(&mut s, u32::from(t.minute()), 2);
    digits(&mut s, u32::from(t.second()), 2);
    s.push('Z');
    s
}

/// The signed headers, sorted by name, each with its values as SigV4 canonicalises them (spaces trimmed and
/// folded, several values joined by `,`): every header the request has but [`UNSIGNED_HEADERS`] and values that
/// are not visible ASCII, and `host` (from the URI: the host alone on the scheme's default port) when it has none.
fn signed_headers<B>(req: &Request<B>) -> Result<Vec<(&str, String)>, String> {
    let mut signed: Vec<(&str, String)> = Vec::with_capacity(req.headers().keys_len() + 1);
    for name in req.headers().keys() {
        if UNSIGNED_HEADERS.contains(&name.as_str()) {
            continue;
        }
        let values = req.headers().get_all(name).iter().filter_map(|v| v.to_str().ok());
        if let Some(values) = canonical::join_header_values(values, push_trimmed) {
            signed.push((name.as_str(), values));
        }
    }
    if !req.headers().contains_key(http::header::HOST) {
        let uri = req.uri();
        let host = uri.host().ok_or("a backend request without a host")?;
        let default_port = match uri.scheme_str() {
            Some("https") => 443,
            _ => 80,
        };
        let host = match uri.port_u16() {
            Some(port) if port != default_port => format!("{host}:{port}"),
            _ => host.to_owned(),
        };
        signed.push(("host", host));
    }
    signed.sort_unstable_by(|a, b| a.0.cmp(b.0));
    Ok(signed)
}

/// S3's header value canonicalisation: leading and trailing spaces trimmed, runs of spaces folded into one (only
/// spaces: S3 leaves tabs and other white space as they are).
fn push_trimmed(out: &mut String, value: &str) {
    for (i, word) in value.split(' ').filter(|w| !w.is_empty()).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
    }
}

/// The canonical query of a request the gateway sends: decoded as a form (`+` is a space, as aws-sigv4 and the
/// backends read it), then as the client's.
fn canonical_query(query: Option<&str>) -> String {
    canonical::canonical_query(query.map(|q| q.replace('+', "%20")).as_deref(), None)
}

/// The `x-amz-content-sha256` of a body sent with chained chunk signatures.
pub const STREAMING_SIGNED: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";

/// How an S3 request's body is signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum S3Payload {
    /// `UNSIGNED-PAYLOAD`
    Unsigned,
    /// No body: the SHA-256 of the empty string.
    Empty,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`
    SignedChunks,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`
    UnsignedTrailer,
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sigv4::http_request::{PayloadChecksumKind, PercentEncodingMode, UriPathNormalizationMode};
    use std::time::Duration;

    /// The date written digit by digit reads back as the same second, through `time`'s formatter and the
    /// verifier's parser alike.
    #[test]
    fn amz_dates_are_written_as_time_formats_them() {
        let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
        for secs in [
            0,
            1,
            59,
            951_782_400,
            1_369_353_600,
            1_700_000_000,
            1_709_251_199,
            4_102_444_799,
        ] {
            let t = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
            let written = amz_date(t);
            assert_eq!(
                written,
                time::OffsetDateTime::from(t).format(&format).unwrap(),
                "{secs}"
            );
            let read = crate::auth::parse_amz_date(&written).expect("parses");
            assert_eq!(read.unix_timestamp(), secs as i64, "{written}");
        }
    }

    fn signer() -> Signer {
        Signer::new(
            "AKIDEXAMPLE00000001".into(),
            SecretString::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into()),
            "eu-west-3".into(),
        )
    }

    /// What aws-sigv4 signs with the settings the gateway used before it signed S3 requests itself.
    fn aws_sigv4(req: &mut Request<()>, payload: S3Payload, time: SystemTime) -> String {
        let s = signer();
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let body = match payload {
            S3Payload::Unsigned => SignableBody::UnsignedPayload,
            S3Payload::Empty => SignableBody::Bytes(&[]),
            S3Payload::SignedChunks => SignableBody::Precomputed(STREAMING_SIGNED.to_owned()),
            S3Payload::UnsignedTrailer => SignableBody::StreamingUnsignedPayloadTrailer,
        };
        s.sign_at(req, settings, body, time).unwrap()
    }

    fn request(method: &str, uri: &str, headers: &[(&str, &[u8])]) -> Request<()> {
        let mut b = Request::builder().method(method).uri(uri);
        for (n, v) in headers {
            b = b.header(*n, HeaderValue::from_bytes(v).unwrap());
        }
        b.body(()).unwrap()
    }

    /// Byte-equal to aws-sigv4 (the signer every backend accepted) on the requests whose canonical form has a
    /// trap: reserved and non-ASCII characters in key and query, `+` in a query, a query name without a value,
    /// repeated and multi-space header values, a header value that is not visible ASCII (left unsigned), excluded
    /// headers, ports, an empty path, and a date change (the cached day key must follow it).
    #[test]
    fn signs_as_aws_sigv4_does() {
        let cases: Vec<Request<()>> = vec![
            request("GET", "http://127.0.0.1:9000/bkt/a%20b/%C3%A9t%C3%A9%2B%21.txt", &[]),
            request(
                "GET",
                "https://s3.example.com/bkt?list-type=2&prefix=a%2Fb+c&delimiter=%2F&encoding-type=url&start-after=x%2By",
                &[],
            ),
            request(
                "POST",
                "http://localhost:8080/bkt/k?uploads",
                &[("content-type", b"application/xml")],
            ),
            request(
                "PUT",
                "https://s3.example.com:443/bkt/k?partNumber=2&uploadId=abc~def_-.",
                &[
                    ("x-amz-meta-note", b"  two   spaces  here "),
                    ("x-amz-meta-tab", b"a\tb"),
                    ("x-amz-meta-raw", b"caf\xc3\xa9"),
                    ("x-amz-meta-list", b"one"),
                    ("content-length", b"1234"),
                    ("user-agent", b"s3-sse-proxy"),
                    ("transfer-encoding", b"chunked"),
                ],
            ),
            request("HEAD", "http://127.0.0.1:80/", &[("x-amz-meta-list", b"x")]),
            request(
                "DELETE",
                "http://[::1]:9000/bkt/k?versionId=3%2F4",
                &[("host", b"[::1]:9000")],
            ),
        ];
        let mut multi = request("PUT", "http://127.0.0.1:9000/bkt/m", &[]);
        multi
            .headers_mut()
            .append("x-amz-meta-list", HeaderValue::from_static("one"));
        multi
            .headers_mut()
            .append("x-amz-meta-list", HeaderValue::from_static(" two "));
        let payloads = [
            S3Payload::Unsigned,
            S3Payload::Empty,
            S3Payload::SignedChunks,
            S3Payload::UnsignedTrailer,
        ];
        let s = signer();
        let day = Duration::from_secs(86_400);
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_720_000 + 86_399); // 23:59:59 UTC
        for (i, req) in cases.into_iter().chain([multi]).enumerate() {
            for (j, payload) in payloads.into_iter().enumerate() {
                for time in [t0, t0 + Duration::from_secs(1), t0 + day, t0] {
                    let (mut ours, mut theirs) = (req_clone(&req), req_clone(&req));
                    let seed = s.sign_s3(&mut ours, payload, time).unwrap();
                    let want = aws_sigv4(&mut theirs, payload, time);
                    assert_eq!(seed, want, "case {i}, payload {j}");
                    assert_eq!(ours.headers(), theirs.headers(), "case {i}, payload {j}");
                }
            }
        }
    }

    fn req_clone(r: &Request<()>) -> Request<()> {
        let mut c = Request::builder().method(r.method()).uri(r.uri()).body(()).unwrap();
        *c.headers_mut() = r.headers().clone();
        c
    }
}
