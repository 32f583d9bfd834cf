//! The request head: SigV4 `Authorization` header and presigned-query verification (`src/auth/mod.rs`, with the
//! body checks it derives from `x-amz-content-sha256`, `Content-MD5`, `x-amz-checksum-*`, `x-amz-trailer`), bucket
//! addressing, operation classification, SSE headers and `x-amz-copy-source`.
//!
//! Requests are built from arbitrary parts. Half of them are signed correctly here (with the crate's public
//! canonical-request functions and the test credential) so that the fuzzer reaches what lies behind the
//! signature check; `tamper` then changes the signature by one character, which must always be refused.
#![no_main]

use std::time::{Duration, SystemTime};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use s3_sse_proxy::auth::canonical::{
    canonical_header_value, canonical_query, canonical_request, canonical_uri, signature, signing_key, string_to_sign,
};
use s3_sse_proxy::auth::{AuthLimits, CredentialStore, authenticate, query_params, request_host};
use s3_sse_proxy::config::CredentialConfig;
use s3_sse_proxy::secret::SecretString;

const ACCESS_KEY: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const AMZ_DATE: &str = "20130524T000000Z";
/// 2013-05-24T00:00:00Z.
const EPOCH_SECS: u64 = 1_369_353_600;
const METHODS: [&str; 6] = ["GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS"];
const HEADER_NAMES: [&str; 16] = [
    "host",
    "x-amz-date",
    "x-amz-content-sha256",
    "content-md5",
    "content-length",
    "x-amz-decoded-content-length",
    "x-amz-trailer",
    "x-amz-checksum-crc32",
    "x-amz-checksum-sha256",
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-server-side-encryption-customer-key",
    "x-amz-server-side-encryption-customer-key-md5",
    "x-amz-copy-source",
    "range",
];
const PAYLOADS: [&str; 6] = [
    "UNSIGNED-PAYLOAD",
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
];

#[derive(Debug, Arbitrary)]
enum HeaderName {
    Known(u8),
    Other(String),
}

#[derive(Debug, Arbitrary)]
enum Auth {
    /// Whatever the fuzzer puts in the headers and query.
    AsIs,
    /// A correct `Authorization` header over `host`, `x-amz-date` and the chosen headers.
    Header {
        signed: Vec<u8>,
        payload: u8,
        tamper: Option<u8>,
    },
    /// A correct presigned query signing `host`.
    Presigned { expires: String, tamper: Option<u8> },
}

#[derive(Debug, Arbitrary)]
struct Input {
    method: u8,
    host: String,
    path: String,
    query: String,
    headers: Vec<(HeaderName, String)>,
    auth: Auth,
    clock_offset_secs: i32,
}

fn store() -> CredentialStore {
    CredentialStore::new([CredentialConfig {
        access_key_id: ACCESS_KEY.into(),
        secret_access_key: SecretString::new(SECRET.into()),
        display_name: None,
        allowed_buckets: vec!["*".into()],
        policy: None,
        policy_file: None,
    }])
}

fn build(method: &str, uri: &str, headers: &[(String, String)]) -> Option<http::request::Parts> {
    let mut b = http::Request::builder().method(method).uri(uri);
    for (n, v) in headers {
        b = b.header(n.as_str(), v.as_str());
    }
    b.body(()).ok().map(|r| r.into_parts().0)
}

/// The signature the verifier computes, from the public canonical functions (as a client SDK would sign).
fn sign(parts: &http::request::Parts, signed: &[String], payload: &str, presigned: bool) -> String {
    let headers: Vec<(String, String)> = signed
        .iter()
        .map(|name| {
            let value = if name == "host" {
                request_host(parts).unwrap_or_default().to_owned()
            } else {
                parts
                    .headers
                    .get_all(name.as_str())
                    .iter()
                    .map(|v| canonical_header_value(&String::from_utf8_lossy(v.as_bytes())))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            (name.clone(), value)
        })
        .collect();
    let query = canonical_query(parts.uri.query(), presigned.then_some("X-Amz-Signature"));
    let cr = canonical_request(
        parts.method.as_str(),
        &canonical_uri(parts.uri.path()),
        &query,
        &headers,
        payload,
    );
    let key = signing_key(&SecretString::new(SECRET.into()), "20130524", "us-east-1", "s3");
    signature(
        &key,
        &string_to_sign(AMZ_DATE, "20130524/us-east-1/s3/aws4_request", &cr),
    )
}

fn tampered(sig: &str, t: u8) -> String {
    let mut b = sig.as_bytes().to_vec();
    let i = usize::from(t) % b.len();
    b[i] = if b[i] == b'0' { b'1' } else { b'0' };
    String::from_utf8(b).expect("hex")
}

fuzz_target!(|input: Input| {
    let method = METHODS[usize::from(input.method) % METHODS.len()];
    let mut headers: Vec<(String, String)> = input
        .headers
        .into_iter()
        .map(|(n, v)| match n {
            HeaderName::Known(i) => (HEADER_NAMES[usize::from(i) % HEADER_NAMES.len()].to_owned(), v),
            HeaderName::Other(n) => (n, v),
        })
        .collect();
    headers.insert(0, ("host".into(), input.host));
    let path = if input.path.starts_with('/') {
        input.path
    } else {
        format!("/{}", input.path)
    };
    let mut query = input.query;
    let now =
        SystemTime::UNIX_EPOCH + Duration::from_secs(EPOCH_SECS.saturating_add_signed(input.clock_offset_secs.into()));
    let limits = AuthLimits {
        max_clock_skew_secs: 900,
        max_presign_expiry_secs: 604_800,
        // SigV2 on, as by default: its detection and parsing see the same inputs.
        sigv2: true,
    };
    let mut must_refuse = false;

    let parts = match input.auth {
        Auth::AsIs => build(method, &format!("{path}?{query}"), &headers),
        Auth::Header {
            signed,
            payload,
            tamper,
        } => {
            let payload = PAYLOADS[usize::from(payload) % PAYLOADS.len()];
            headers.retain(|(n, _)| n != "authorization" && n != "x-amz-date" && n != "x-amz-content-sha256");
            headers.push(("x-amz-date".into(), AMZ_DATE.into()));
            headers.push(("x-amz-content-sha256".into(), payload.into()));
            let mut names: Vec<String> = ["host", "x-amz-date", "x-amz-content-sha256"]
                .map(String::from)
                .to_vec();
            names.extend(
                signed
                    .iter()
                    .map(|&i| HEADER_NAMES[usize::from(i) % HEADER_NAMES.len()].to_owned()),
            );
            names.sort();
            names.dedup();
            let Some(unsigned) = build(method, &format!("{path}?{query}"), &headers) else {
                return;
            };
            let mut sig = sign(&unsigned, &names, payload, false);
            if let Some(t) = tamper {
                sig = tampered(&sig, t);
                must_refuse = true;
            }
            headers.push((
                "authorization".into(),
                format!(
                    "AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20130524/us-east-1/s3/aws4_request, SignedHeaders={}, \
                     Signature={sig}",
                    names.join(";")
                ),
            ));
            build(method, &format!("{path}?{query}"), &headers)
        }
        Auth::Presigned { expires, tamper } => {
            headers.retain(|(n, _)| n != "authorization" && n != "x-amz-content-sha256");
            let expires: String = expires.chars().filter(char::is_ascii_alphanumeric).collect();
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(&format!(
                "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={ACCESS_KEY}%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
                 &X-Amz-Date={AMZ_DATE}&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host"
            ));
            let Some(unsigned) = build(method, &format!("{path}?{query}"), &headers) else {
                return;
            };
            let mut sig = sign(&unsigned, &["host".into()], "UNSIGNED-PAYLOAD", true);
            if let Some(t) = tamper {
                sig = tampered(&sig, t);
                must_refuse = true;
            }
            build(method, &format!("{path}?{query}&X-Amz-Signature={sig}"), &headers)
        }
    };
    let Some(parts) = parts else { return };

    match authenticate(&parts, &store(), limits, None, now) {
        Ok(a) => {
            if a.credential.is_anonymous() {
                // Only a request with no trace of authentication is anonymous (a bucket policy decides then); a
                // signed one whose signature did not survive parsing (a `#` in the path makes the query a
                // fragment) is such a request.
                let q = query_params(&parts);
                assert!(
                    !parts.headers.contains_key("authorization"),
                    "a signed request taken as anonymous"
                );
                for name in [
                    "X-Amz-Algorithm",
                    "X-Amz-Credential",
                    "X-Amz-Signature",
                    "AWSAccessKeyId",
                    "Signature",
                ] {
                    assert!(
                        !q.iter().any(|(k, _)| k == name),
                        "a request with {name} taken as anonymous"
                    );
                }
            } else {
                assert!(!must_refuse, "a tampered signature was accepted");
                assert_eq!(a.credential.access_key_id(), ACCESS_KEY);
            }
        }
        Err(e) => {
            let _ = (e.code.status(), e.to_string());
        }
    }

    // The other head parsers see the same request.
    let query = query_params(&parts);
    let target =
        s3_sse_proxy::s3::addressing::resolve(request_host(&parts), parts.uri.path(), &["s3.example.com".into()]);
    let _ = s3_sse_proxy::s3::addressing::check(&target);
    let has_copy = parts.headers.contains_key("x-amz-copy-source");
    let _ = s3_sse_proxy::s3::operation::classify(&parts.method, &target, &query, has_copy);
    let _ = s3_sse_proxy::sse::request::parse(&parts.headers);
    let _ = s3_sse_proxy::sse::request::parse_copy_source(&parts.headers);
    if let Some(v) = parts.headers.get("x-amz-copy-source").and_then(|v| v.to_str().ok()) {
        let _ = s3_sse_proxy::s3::copy_source::parse_copy_source(v);
    }
});
