//! The condition keys of one request, from its headers, query, connection and authentication: the request as
//! the client sent it (before bucket default encryption or anything else the gateway adds), as S3 evaluates it.

use std::net::IpAddr;

use http::HeaderMap;
use time::OffsetDateTime;

use super::{ConditionKeys, Principal};

/// What the gateway knows about a request beyond its headers and query.
pub struct Facts<'a> {
    pub principal: &'a Principal,
    /// `aws:username`: the credential's display name (else its access key id).
    pub username: &'a str,
    /// `aws:userid`: the access key id.
    pub userid: &'a str,
    pub peer: IpAddr,
    pub secure: bool,
    /// `s3:authType`: REST-HEADER, REST-QUERY-STRING or POST.
    pub auth_type: &'static str,
    /// Signed with SigV2 (`s3:signatureversion` = `AWS`).
    pub sigv2: bool,
    /// `x-amz-date` / `X-Amz-Date` of the signature.
    pub signed_at: Option<OffsetDateTime>,
    pub now: OffsetDateTime,
}

/// Request headers that are condition keys of the same name (`s3:<header>`), when sent. `s3:if-none-match` and
/// `s3:if-match` let a bucket policy require conditional writes (AWS, 2025).
const HEADER_KEYS: [&str; 9] = [
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-content-sha256",
    "x-amz-acl",
    "x-amz-copy-source",
    "x-amz-metadata-directive",
    "if-none-match",
    "if-match",
];

/// Query parameters that are condition keys (`s3:<name>`, ListObjects and friends), when sent.
const QUERY_KEYS: [(&str, &str); 4] = [
    ("prefix", "s3:prefix"),
    ("delimiter", "s3:delimiter"),
    ("max-keys", "s3:max-keys"),
    ("versionId", "s3:versionid"),
];

pub fn condition_keys(headers: &HeaderMap, query: &[(String, String)], f: &Facts<'_>) -> ConditionKeys {
    use time::format_description::well_known::Rfc3339;
    let mut k = ConditionKeys::default();
    for h in HEADER_KEYS {
        if let Some(v) = headers.get(h).and_then(|v| v.to_str().ok()) {
            k.set(&format!("s3:{h}"), v.trim());
        }
    }
    for (param, key) in QUERY_KEYS {
        if let Some((_, v)) = query.iter().find(|(n, _)| n == param) {
            k.set(key, v.as_str());
        }
    }
    k.set("aws:SecureTransport", f.secure.to_string());
    let peer = match f.peer {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(f.peer, IpAddr::V4),
        v4 => v4,
    };
    k.set("aws:SourceIp", peer.to_string());
    k.set("aws:username", f.username);
    k.set("aws:userid", f.userid);
    k.set("aws:PrincipalArn", f.principal.arn.as_str());
    k.set("aws:PrincipalAccount", f.principal.account.as_str());
    k.set("aws:PrincipalType", "User");
    k.set("aws:CurrentTime", f.now.format(&Rfc3339).unwrap_or_default());
    k.set("aws:EpochTime", f.now.unix_timestamp().to_string());
    k.set("s3:authType", f.auth_type);
    k.set("s3:signatureversion", if f.sigv2 { "AWS" } else { "AWS4-HMAC-SHA256" });
    if let Some(t) = f.signed_at {
        k.set("s3:signatureAge", (f.now - t).whole_milliseconds().max(0).to_string());
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn keys_come_from_what_the_client_sent() {
        let p = Principal::user("000000000000", "alice");
        let now = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let f = Facts {
            principal: &p,
            username: "alice",
            userid: "AKIDALICE",
            peer: "::ffff:192.0.2.7".parse().unwrap(),
            secure: true,
            auth_type: "REST-HEADER",
            sigv2: false,
            signed_at: Some(now - time::Duration::seconds(2)),
            now,
        };
        let mut h = HeaderMap::new();
        h.insert("x-amz-server-side-encryption", HeaderValue::from_static("aws:kms"));
        let q = vec![("prefix".to_owned(), "home/".to_owned())];
        let k = condition_keys(&h, &q, &f);
        let one = |n: &str| k.get(n).map(|v| v[0].clone());
        assert_eq!(one("s3:x-amz-server-side-encryption").as_deref(), Some("aws:kms"));
        assert_eq!(
            one("s3:x-amz-server-side-encryption-aws-kms-key-id"),
            None,
            "not sent, not present"
        );
        assert_eq!(one("s3:prefix").as_deref(), Some("home/"));
        assert_eq!(one("s3:delimiter"), None);
        assert_eq!(one("aws:SourceIp").as_deref(), Some("192.0.2.7"));
        assert_eq!(one("aws:SecureTransport").as_deref(), Some("true"));
        assert_eq!(
            one("aws:PrincipalArn").as_deref(),
            Some("arn:aws:iam::000000000000:user/alice")
        );
        assert_eq!(one("aws:EpochTime").as_deref(), Some("1700000000"));
        assert_eq!(one("aws:CurrentTime").as_deref(), Some("2023-11-14T22:13:20Z"));
        assert_eq!(one("s3:signatureAge").as_deref(), Some("2000"));
        assert_eq!(one("s3:authType").as_deref(), Some("REST-HEADER"));
        // Every key the context sets is one a policy may name (and the reverse is checked by the parser).
        for name in k.0.keys() {
            assert!(super::super::KNOWN_KEYS.contains(&name.as_str()), "{name}");
        }
    }
}
