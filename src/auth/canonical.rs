//! SigV4's pure pieces: canonical URI, query and headers, the canonical request, the string to sign and the
//! signing key. No I/O, no clock; tested against AWS's documented examples.

use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::{Digest, Sha256};

use crate::secret::{SecretString, SigningKey};

/// Everything but SigV4's unreserved characters (`A-Za-z0-9-_.~`) is percent-encoded.
const SIGV4_QUERY: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
/// As above, but `/` separates path segments.
const SIGV4_PATH: &AsciiSet = &SIGV4_QUERY.remove(b'/');

pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex32(&Sha256::digest(data).into())
}

/// Lowercase hex of a 32-byte digest (`hex::encode` goes through a `char` iterator; this writes into one buffer).
fn hex32(bytes: &[u8; 32]) -> String {
    let mut out = [0u8; 64];
    hex::encode_to_slice(bytes, &mut out).expect("64 hex digits for 32 bytes");
    std::str::from_utf8(&out).expect("hex is ASCII").to_owned()
}

/// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
pub fn signing_key(secret: &SecretString, date: &str, region: &str, service: &str) -> SigningKey {
    let mut k_secret = zeroize::Zeroizing::new(format!("AWS4{}", secret.expose()).into_bytes());
    let k_date = zeroize::Zeroizing::new(hmac_sha256(&k_secret, date.as_bytes()));
    zeroize::Zeroize::zeroize(&mut *k_secret);
    let k_region = zeroize::Zeroizing::new(hmac_sha256(&*k_date, region.as_bytes()));
    let k_service = zeroize::Zeroizing::new(hmac_sha256(&*k_region, service.as_bytes()));
    SigningKey::from_bytes(hmac_sha256(&*k_service, b"aws4_request"))
}

/// Lowercase hex HMAC of the string to sign.
pub fn signature(key: &SigningKey, string_to_sign: &str) -> String {
    hex32(&hmac_sha256(key.as_bytes(), string_to_sign.as_bytes()))
}

pub fn uri_encode_path(decoded: &str) -> String {
    utf8_percent_encode(decoded, SIGV4_PATH).collect()
}

pub fn uri_encode(decoded: &str) -> String {
    utf8_percent_encode(decoded, SIGV4_QUERY).collect()
}

/// [`uri_encode`] appended to `out`.
pub fn push_uri_encoded(out: &mut String, decoded: &str) {
    out.extend(utf8_percent_encode(decoded, SIGV4_QUERY));
}

/// [`uri_encode_path`] appended to `out`.
pub fn push_uri_encoded_path(out: &mut String, decoded: &str) {
    out.extend(utf8_percent_encode(decoded, SIGV4_PATH));
}

pub fn percent_decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// S3's canonical URI: the path decoded once and encoded once (S3 does not normalize `.` or `//`).
pub fn canonical_uri(raw_path: &str) -> String {
    if raw_path.is_empty() {
        return "/".to_owned();
    }
    uri_encode_path(&percent_decode(raw_path))
}

/// Query pairs decoded once, re-encoded, sorted by name then value. `skip` names a parameter left out
/// (`X-Amz-Signature` for presigned URLs).
pub fn canonical_query(raw_query: Option<&str>, skip: Option<&str>) -> String {
    let mut pairs: Vec<(String, String)> = raw_query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (uri_encode(&percent_decode(k)), uri_encode(&percent_decode(v)))
        })
        .filter(|(k, _)| skip.is_none_or(|s| k != s))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Trim a header value and fold runs of spaces into one, as SigV4 asks.
pub fn canonical_header_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    push_canonical_header_value(&mut out, v);
    out
}

/// A header's values canonicalised by `canonical` and joined by `,`, as SigV4 signs a header sent several times;
/// `None` when there is none.
pub fn join_header_values(
    values: impl IntoIterator<Item = impl AsRef<str>>,
    canonical: impl Fn(&mut String, &str),
) -> Option<String> {
    let mut joined: Option<String> = None;
    for v in values {
        let v = v.as_ref();
        let out = match &mut joined {
            Some(out) => {
                out.push(',');
                out
            }
            None => joined.insert(String::with_capacity(v.len())),
        };
        canonical(out, v);
    }
    joined
}

/// [`canonical_header_value`] appended to `out`, without an allocation of its own.
pub fn push_canonical_header_value(out: &mut String, v: &str) {
    for (i, word) in v.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
    }
}

/// The canonical request. `headers` are the signed headers in order, each `(lowercase name, canonical value)`.
pub fn canonical_request(
    method: &str,
    canonical_uri: &str,
    canonical_query: &str,
    headers: &[(impl AsRef<str>, String)],
    payload_hash: &str,
) -> String {
    let mut s = String::with_capacity(256);
    s.push_str(method);
    s.push('\n');
    s.push_str(canonical_uri);
    s.push('\n');
    s.push_str(canonical_query);
    s.push('\n');
    for (name, value) in headers {
        s.push_str(name.as_ref());
        s.push(':');
        s.push_str(value);
        s.push('\n');
    }
    s.push('\n');
    for (i, (name, _)) in headers.iter().enumerate() {
        if i > 0 {
            s.push(';');
        }
        s.push_str(name.as_ref());
    }
    s.push('\n');
    s.push_str(payload_hash);
    s
}

/// The credential scope: `date/region/service/aws4_request`.
pub fn scope(date: &str, region: &str, service: &str) -> String {
    let mut s = String::with_capacity(date.len() + region.len() + service.len() + 15);
    for part in [date, region, service] {
        s.push_str(part);
        s.push('/');
    }
    s.push_str("aws4_request");
    s
}

pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    let mut s = String::with_capacity(18 + amz_date.len() + scope.len() + 64);
    s.push_str("AWS4-HMAC-SHA256\n");
    s.push_str(amz_date);
    s.push('\n');
    s.push_str(scope);
    s.push('\n');
    s.push_str(&sha256_hex(canonical_request.as_bytes()));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn key() -> SigningKey {
        signing_key(&SecretString::new(SECRET.into()), "20130524", "us-east-1", "s3")
    }

    fn hdr(n: &str, v: &str) -> (String, String) {
        (n.to_owned(), v.to_owned())
    }

    /// AWS S3 docs, "Signature Calculations for the Authorization Header", example: GET Object.
    #[test]
    fn aws_example_get_object() {
        let headers = [
            hdr("host", "examplebucket.s3.amazonaws.com"),
            hdr("range", "bytes=0-9"),
            hdr("x-amz-content-sha256", EMPTY_SHA256),
            hdr("x-amz-date", "20130524T000000Z"),
        ];
        let cr = canonical_request(
            "GET",
            &canonical_uri("/test.txt"),
            &canonical_query(None, None),
            &headers,
            EMPTY_SHA256,
        );
        assert_eq!(
            sha256_hex(cr.as_bytes()),
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
        );
        let sts = string_to_sign("20130524T000000Z", "20130524/us-east-1/s3/aws4_request", &cr);
        assert_eq!(
            signature(&key(), &sts),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    /// AWS S3 docs, example: PUT Object (literal payload hash, URL-encoded key with `$`).
    #[test]
    fn aws_example_put_object() {
        let payload = sha256_hex(b"Welcome to Amazon S3.");
        let headers = [
            hdr("date", "Fri, 24 May 2013 00:00:00 GMT"),
            hdr("host", "examplebucket.s3.amazonaws.com"),
            hdr("x-amz-content-sha256", &payload),
            hdr("x-amz-date", "20130524T000000Z"),
            hdr("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ];
        let cr = canonical_request("PUT", &canonical_uri("/test%24file.text"), "", &headers, &payload);
        let sts = string_to_sign("20130524T000000Z", "20130524/us-east-1/s3/aws4_request", &cr);
        assert_eq!(
            signature(&key(), &sts),
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
        );
    }

    /// AWS S3 docs, example: GET Bucket Lifecycle and List Objects (query canonicalization).
    #[test]
    fn aws_example_list_objects() {
        let headers = [
            hdr("host", "examplebucket.s3.amazonaws.com"),
            hdr("x-amz-content-sha256", EMPTY_SHA256),
            hdr("x-amz-date", "20130524T000000Z"),
        ];
        let q = canonical_query(Some("prefix=J&max-keys=2"), None);
        assert_eq!(q, "max-keys=2&prefix=J");
        let cr = canonical_request("GET", "/", &q, &headers, EMPTY_SHA256);
        let sts = string_to_sign("20130524T000000Z", "20130524/us-east-1/s3/aws4_request", &cr);
        assert_eq!(
            signature(&key(), &sts),
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
        );
        let q = canonical_query(Some("lifecycle"), None);
        let cr = canonical_request("GET", "/", &q, &headers, EMPTY_SHA256);
        let sts = string_to_sign("20130524T000000Z", "20130524/us-east-1/s3/aws4_request", &cr);
        assert_eq!(
            signature(&key(), &sts),
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
        );
    }

    /// AWS S3 docs, "Authenticating Requests: Using Query Parameters", example presigned GET.
    #[test]
    fn aws_example_presigned_get() {
        let q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
        let headers = [hdr("host", "examplebucket.s3.amazonaws.com")];
        let cq = canonical_query(Some(q), Some("X-Amz-Signature"));
        let cr = canonical_request("GET", "/test.txt", &cq, &headers, "UNSIGNED-PAYLOAD");
        let sts = string_to_sign("20130524T000000Z", "20130524/us-east-1/s3/aws4_request", &cr);
        assert_eq!(
            signature(&key(), &sts),
            "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/b/a%20b+c~"), "/b/a%20b%2Bc~");
        assert_eq!(
            canonical_query(Some("b=2&a=&a=1&x%2Fy=%7E"), None),
            "a=&a=1&b=2&x%2Fy=~"
        );
        assert_eq!(canonical_header_value("  a   b \t c "), "a b c");
        assert_eq!(
            join_header_values(["  a   b ", "c", " d\te "], push_canonical_header_value).as_deref(),
            Some("a b,c,d e")
        );
        assert_eq!(
            join_header_values(Vec::<&str>::new(), push_canonical_header_value),
            None
        );
    }
}
