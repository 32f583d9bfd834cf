//! AWS Signature Version 2 for S3 ("Signing and Authenticating REST Requests"): the `Authorization: AWS
//! AKID:signature` header and the `AWSAccessKeyId`/`Expires`/`Signature` presigned query, both
//! base64(HMAC-SHA1(secret, StringToSign)). Old SDKs and boto3's default presigned URLs still send it.
//!
//! SigV2 never signs the payload: the body is checked like an unsigned SigV4 one (declared length, Content-MD5,
//! `x-amz-checksum-*`). The string-to-sign is pure and tested against AWS's documented examples. Never logs the
//! signature or the string it was computed over with a secret.

use base64::Engine as _;
use hmac::{Hmac, KeyInit as _, Mac as _};
use http::request::Parts;
use sha1::Sha1;
use time::OffsetDateTime;

use super::checksum::ct_eq;
use super::{AuthLimits, header_str};
use crate::error::{S3Error, S3ErrorCode};
use crate::secret::SecretString;

/// Query parameters that are part of the CanonicalizedResource (sub-resources and response overrides). The
/// list is botocore's (`HmacV1Auth.QSAOfInterest`), a superset of AWS's documented one: a client signs exactly
/// these, so the gateway must include exactly these.
const SUB_RESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "defaultObjectAcl",
    "delete",
    "inventory",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "partNumber",
    "policy",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "select",
    "select-type",
    "storageClass",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

/// Refusal when `[s3] sigv2 = false`, in AWS's words (what S3 answers in regions without SigV2).
pub fn not_supported() -> S3Error {
    S3Error::new(
        S3ErrorCode::InvalidRequest,
        "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
    )
}

/// The request as SigV2 signs it.
pub struct Signable<'a> {
    pub method: &'a str,
    pub content_md5: &'a str,
    pub content_type: &'a str,
    /// The Date header (empty when `x-amz-date` is sent), or `Expires` for a presigned URL.
    pub date: &'a str,
    /// Lowercase `x-amz-*` header names with their values (any order; repeated names allowed).
    pub amz_headers: Vec<(String, String)>,
    /// The bucket when it was addressed by the Host name (virtual-hosted style), else `None`.
    pub virtual_bucket: Option<&'a str>,
    /// The raw (still percent-encoded) request path.
    pub raw_path: &'a str,
    /// The decoded query parameters.
    pub query: &'a [(String, String)],
}

/// StringToSign = Method \n Content-MD5 \n Content-Type \n Date \n CanonicalizedAmzHeaders CanonicalizedResource.
pub fn string_to_sign(s: &Signable<'_>) -> String {
    let mut out = format!("{}\n{}\n{}\n{}\n", s.method, s.content_md5, s.content_type, s.date);
    let mut amz: Vec<(String, Vec<String>)> = Vec::new();
    for (name, value) in &s.amz_headers {
        let value = super::canonical::canonical_header_value(value);
        match amz.iter_mut().find(|(n, _)| n == name) {
            Some((_, vals)) => vals.push(value),
            None => amz.push((name.clone(), vec![value])),
        }
    }
    amz.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, vals) in amz {
        out.push_str(&format!("{name}:{}\n", vals.join(",")));
    }
    if let Some(b) = s.virtual_bucket {
        out.push('/');
        out.push_str(b);
    }
    out.push_str(s.raw_path);
    let mut subs: Vec<&(String, String)> = s
        .query
        .iter()
        .filter(|(k, _)| SUB_RESOURCES.contains(&k.as_str()))
        .collect();
    subs.sort_by(|a, b| a.0.cmp(&b.0));
    for (i, (k, v)) in subs.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(k);
        if !v.is_empty() {
            out.push('=');
            out.push_str(v);
        }
    }
    out
}

/// base64(HMAC-SHA1(secret, data)): the SigV2 signature of a string-to-sign or of a POST policy.
pub fn sign(secret: &SecretString, data: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes any key length");
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether `signature` (base64, as sent) is the SigV2 signature of `data` under `secret`, in constant time.
pub fn verify(secret: &SecretString, data: &str, signature: &str) -> bool {
    ct_eq(&sign(secret, data), signature.trim())
}

/// Which SigV2 form a request uses, and its parts.
pub enum Form<'a> {
    Header {
        access_key_id: &'a str,
        signature: &'a str,
    },
    Presigned {
        access_key_id: &'a str,
        signature: &'a str,
        expires: &'a str,
    },
}

/// The request's SigV2 form, if it is one.
pub fn detect<'a>(parts: &'a Parts, q: &impl Fn(&str) -> Option<&'a str>) -> Result<Option<Form<'a>>, S3Error> {
    if let Some(v) = header_str(parts, http::header::AUTHORIZATION) {
        let Some(rest) = v.strip_prefix("AWS ") else {
            return Ok(None);
        };
        let (ak, sig) = rest
            .split_once(':')
            .filter(|(a, s)| !a.is_empty() && !s.is_empty())
            .ok_or_else(|| {
                S3Error::new(
                    S3ErrorCode::InvalidArgument,
                    "Authorization header is invalid -- one and only one ' ' (space) required",
                )
            })?;
        return Ok(Some(Form::Header {
            access_key_id: ak.trim(),
            signature: sig.trim(),
        }));
    }
    if q("AWSAccessKeyId").is_none() && q("Signature").is_none() {
        return Ok(None);
    }
    match (q("AWSAccessKeyId"), q("Signature"), q("Expires")) {
        (Some(ak), Some(sig), Some(expires)) => Ok(Some(Form::Presigned {
            access_key_id: ak,
            signature: sig,
            expires,
        })),
        _ => Err(S3Error::access_denied_msg(
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters",
        )),
    }
}

/// A SigV2 `Date` or `x-amz-date`: RFC 1123/2822 (`Tue, 27 Mar 2007 19:36:42 +0000` or `... GMT`), or ISO 8601.
pub fn parse_date(s: &str) -> Option<OffsetDateTime> {
    use time::format_description::well_known::Rfc2822;
    let s = s.trim();
    OffsetDateTime::parse(s, &Rfc2822)
        .ok()
        .or_else(|| {
            // RFC 7231's IMF-fixdate ends in "GMT", which RFC 2822 parsers treat as obsolete; read it as +0000.
            s.strip_suffix(" GMT")
                .and_then(|t| OffsetDateTime::parse(&format!("{t} +0000"), &Rfc2822).ok())
        })
        .or_else(|| super::parse_amz_date(s))
}

/// Check the time a SigV2 request claims: a header form's Date within the skew, a presigned URL's Expires in
/// the future and no further than the configured maximum.
pub fn check_time(parts: &Parts, form: &Form<'_>, limits: AuthLimits, now: OffsetDateTime) -> Result<(), S3Error> {
    match form {
        Form::Header { .. } => {
            let date = header_str(parts, "x-amz-date").or_else(|| header_str(parts, "date"));
            let t = date.and_then(parse_date).ok_or_else(|| {
                S3Error::access_denied_msg("AWS authentication requires a valid Date or x-amz-date header")
            })?;
            if (now - t).abs() > time::Duration::seconds(limits.max_clock_skew_secs as i64) {
                return Err(S3Error::new(
                    S3ErrorCode::RequestTimeTooSkewed,
                    "The difference between the request time and the current time is too large.",
                ));
            }
        }
        Form::Presigned { expires, .. } => {
            let expires: i64 = expires
                .parse()
                .map_err(|_| S3Error::access_denied_msg("Invalid date (should be seconds since epoch)"))?;
            let now = now.unix_timestamp();
            if now > expires {
                return Err(S3Error::access_denied_msg("Request has expired"));
            }
            if expires - now > limits.max_presign_expiry_secs as i64 {
                return Err(S3Error::new(
                    S3ErrorCode::AuthorizationQueryParametersError,
                    format!(
                        "Expires must be less than a week (in seconds) that is; the maximum expires is {}",
                        limits.max_presign_expiry_secs
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The string a SigV2 request signed, from its head (`raw_path` overrides the request's path).
pub fn request_string_to_sign(
    parts: &Parts,
    form: &Form<'_>,
    virtual_bucket: Option<&str>,
    query: &[(String, String)],
    raw_path: Option<&str>,
) -> String {
    let date = match form {
        Form::Presigned { expires, .. } => *expires,
        Form::Header { .. } if parts.headers.contains_key("x-amz-date") => "",
        Form::Header { .. } => header_str(parts, "date").unwrap_or(""),
    };
    let amz_headers = parts
        .headers
        .iter()
        .filter(|(n, _)| n.as_str().starts_with("x-amz-"))
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    string_to_sign(&Signable {
        method: parts.method.as_str(),
        content_md5: header_str(parts, "content-md5").unwrap_or("").trim(),
        content_type: header_str(parts, "content-type").unwrap_or("").trim(),
        date: date.trim(),
        amz_headers,
        virtual_bucket,
        raw_path: raw_path.unwrap_or(parts.uri.path()),
        query,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn secret() -> SecretString {
        SecretString::new(SECRET.to_owned())
    }

    fn q(s: &str) -> Vec<(String, String)> {
        s.split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect()
    }

    fn signable<'a>(
        method: &'a str,
        date: &'a str,
        bucket: Option<&'a str>,
        path: &'a str,
        query: &'a [(String, String)],
    ) -> Signable<'a> {
        Signable {
            method,
            content_md5: "",
            content_type: "",
            date,
            amz_headers: vec![],
            virtual_bucket: bucket,
            raw_path: path,
            query,
        }
    }

    /// AWS S3 docs, "Signing and authenticating REST requests", the worked examples (virtual-hosted
    /// `awsexamplebucket1.us-west-1.s3.amazonaws.com`, key AKIAIOSFODNN7EXAMPLE).
    #[test]
    fn aws_documented_examples() {
        let none = q("");
        let get = signable(
            "GET",
            "Tue, 27 Mar 2007 19:36:42 +0000",
            Some("awsexamplebucket1"),
            "/photos/puppy.jpg",
            &none,
        );
        let sts = string_to_sign(&get);
        assert_eq!(
            sts,
            "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/awsexamplebucket1/photos/puppy.jpg"
        );
        assert_eq!(sign(&secret(), &sts), "qgk2+6Sv9/oM7G3qLEjTH1a1l1g=");

        let mut put = signable(
            "PUT",
            "Tue, 27 Mar 2007 21:15:45 +0000",
            Some("awsexamplebucket1"),
            "/photos/puppy.jpg",
            &none,
        );
        put.content_type = "image/jpeg";
        assert_eq!(sign(&secret(), &string_to_sign(&put)), "iqRzw+ileNPu1fhspnRs8nOjjIA=");

        // List: the query holds no sub-resource, so the resource is just the bucket.
        let list_q = q("prefix=photos&max-keys=50&marker=puppy");
        let list = signable(
            "GET",
            "Tue, 27 Mar 2007 19:42:41 +0000",
            Some("awsexamplebucket1"),
            "/",
            &list_q,
        );
        assert_eq!(
            string_to_sign(&list),
            "GET\n\n\nTue, 27 Mar 2007 19:42:41 +0000\n/awsexamplebucket1/"
        );
        assert_eq!(sign(&secret(), &string_to_sign(&list)), "m0WP8eCtspQl5Ahe6L1SozdX9YA=");

        let acl_q = q("acl");
        let acl = signable(
            "GET",
            "Tue, 27 Mar 2007 19:44:46 +0000",
            Some("awsexamplebucket1"),
            "/",
            &acl_q,
        );
        assert_eq!(
            string_to_sign(&acl),
            "GET\n\n\nTue, 27 Mar 2007 19:44:46 +0000\n/awsexamplebucket1/?acl"
        );
        assert_eq!(sign(&secret(), &string_to_sign(&acl)), "82ZHiFIjc+WbcwFKGUVEQspPn+0=");

        // Upload: x-amz-* headers canonicalized (lowercase, sorted, repeated values joined with a comma).
        let mut upload = signable(
            "PUT",
            "Tue, 27 Mar 2007 21:06:08 +0000",
            Some("static.example.com"),
            "/db-backup.dat.gz",
            &none,
        );
        upload.content_md5 = "4gJE4saaMU4BqNR0kLY+lw==";
        upload.content_type = "application/x-download";
        upload.amz_headers = [
            ("x-amz-acl", "public-read"),
            ("x-amz-meta-reviewedby", "joe@example.com"),
            ("x-amz-meta-reviewedby", "jane@example.com"),
            ("x-amz-meta-filechecksum", "0x02661779"),
            ("x-amz-meta-checksumalgorithm", "crc32"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        assert_eq!(
            string_to_sign(&upload),
            "PUT\n4gJE4saaMU4BqNR0kLY+lw==\napplication/x-download\nTue, 27 Mar 2007 21:06:08 +0000\n\
             x-amz-acl:public-read\nx-amz-meta-checksumalgorithm:crc32\nx-amz-meta-filechecksum:0x02661779\n\
             x-amz-meta-reviewedby:joe@example.com,jane@example.com\n/static.example.com/db-backup.dat.gz"
        );
        assert_eq!(
            sign(&secret(), &string_to_sign(&upload)),
            "jtBQa0Aq+DkULFI8qrpwIjGEx0E="
        );

        // ListAllMyBuckets: path style, no bucket.
        let lab = signable("GET", "Wed, 28 Mar 2007 01:29:59 +0000", None, "/", &none);
        assert_eq!(sign(&secret(), &string_to_sign(&lab)), "qGdzdERIC03wnaRNKh6OqZehG9s=");

        // Unicode keys: the path as sent, percent-encoded.
        let uni = signable(
            "GET",
            "Wed, 28 Mar 2007 01:49:49 +0000",
            None,
            "/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re",
            &none,
        );
        assert_eq!(sign(&secret(), &string_to_sign(&uni)), "DNEZGsoieTZ92F3bUfSPQcbGmlM=");
    }

    /// AWS S3 docs, "Query string request authentication alternative" (bucket `johnsmith`): Expires in the Date
    /// slot.
    #[test]
    fn aws_documented_presigned_example() {
        let none = q("");
        let get = signable("GET", "1175139620", Some("johnsmith"), "/photos/puppy.jpg", &none);
        assert_eq!(string_to_sign(&get), "GET\n\n\n1175139620\n/johnsmith/photos/puppy.jpg");
        assert_eq!(sign(&secret(), &string_to_sign(&get)), "NpgCjnDzrM+WFzoENXmpNDUsSn8=");
        assert!(verify(&secret(), &string_to_sign(&get), "NpgCjnDzrM+WFzoENXmpNDUsSn8="));
        assert!(!verify(
            &secret(),
            &string_to_sign(&get),
            "NpgCjnDzrM+WFzoENXmpNDUsSn9="
        ));
    }

    #[test]
    fn sub_resources_are_sorted_and_others_ignored() {
        let query = q("uploadId=abc&partNumber=2&x-id=UploadPart&prefix=p");
        let s = signable("PUT", "d", None, "/b/k", &query);
        assert_eq!(string_to_sign(&s), "PUT\n\n\nd\n/b/k?partNumber=2&uploadId=abc");
    }

    #[test]
    fn dates() {
        let a = parse_date("Tue, 27 Mar 2007 19:36:42 +0000").unwrap();
        let b = parse_date("Tue, 27 Mar 2007 19:36:42 GMT").unwrap();
        let c = parse_date("20070327T193642Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert!(parse_date("yesterday").is_none());
    }
}
