//! The policy document of a browser-based POST upload (AWS "Creating a POST policy"): its expiration and the
//! conditions every form field must meet. Pure: the form's fields go in, S3's error comes out.
//!
//! Rules, as S3 applies them: the policy must not have expired; each condition must hold (exact match, `eq`,
//! `starts-with`, where an empty prefix also admits a form without the field, `content-length-range`); and every
//! form field except the file, the policy, the signature
//! fields and `x-ignore-*` must be named by some condition.

use base64::Engine as _;
use serde_json::Value;
use time::OffsetDateTime;

use crate::error::{S3Error, S3ErrorCode};

/// One condition of the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `{"field": "v"}` or `["eq", "$field", "v"]` (field name lowercase, without `$`).
    Eq(String, String),
    /// `["starts-with", "$field", "prefix"]`.
    StartsWith(String, String),
    /// `["content-length-range", min, max]`.
    ContentLengthRange(u64, u64),
}

/// The `content-length-range` condition on a file of `len` bytes, in S3's words.
pub fn check_length(min: u64, max: u64, len: u64) -> Result<(), S3Error> {
    if len > max {
        return Err(S3Error::new(
            S3ErrorCode::EntityTooLarge,
            "Your proposed upload exceeds the maximum allowed size",
        ));
    }
    if len < min {
        return Err(S3Error::new(
            S3ErrorCode::EntityTooSmall,
            "Your proposed upload is smaller than the minimum allowed size",
        ));
    }
    Ok(())
}

/// A decoded policy document.
#[derive(Debug)]
pub struct PostPolicy {
    pub expiration: OffsetDateTime,
    pub conditions: Vec<Condition>,
}

/// Fields no condition has to name: the file, the policy itself and the signature.
const UNCOVERED_FIELDS: &[&str] = &["file", "policy", "x-amz-signature", "signature", "awsaccesskeyid"];

fn invalid(msg: &str) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidPolicyDocument, format!("Invalid Policy: {msg}"))
}

fn denied(msg: String) -> S3Error {
    S3Error::new(S3ErrorCode::AccessDenied, format!("Invalid according to Policy: {msg}"))
}

fn field_name(v: &Value) -> Option<String> {
    v.as_str()
        .and_then(|s| s.strip_prefix('$'))
        .map(str::to_ascii_lowercase)
}

fn number(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

impl PostPolicy {
    /// Decode the form's `policy` field (base64 JSON).
    pub fn decode(policy_b64: &str) -> Result<Self, S3Error> {
        let json = base64::engine::general_purpose::STANDARD
            .decode(policy_b64.trim())
            .map_err(|_| invalid("Invalid base64 encoding."))?;
        let doc: Value = serde_json::from_slice(&json).map_err(|_| invalid("Invalid JSON."))?;
        let expiration = doc
            .get("expiration")
            .ok_or_else(|| invalid("Policy missing expiration."))?
            .as_str()
            .and_then(|s| OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok())
            .ok_or_else(|| invalid("Invalid 'expiration' value."))?;
        let list = doc
            .get("conditions")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("Policy missing conditions."))?;
        let mut conditions = Vec::with_capacity(list.len());
        for c in list {
            match c {
                Value::Object(m) => {
                    for (k, v) in m {
                        let v = v.as_str().ok_or_else(|| invalid("Invalid simple condition value."))?;
                        conditions.push(Condition::Eq(k.to_ascii_lowercase(), v.to_owned()));
                    }
                }
                Value::Array(a) => {
                    let op = a.first().and_then(Value::as_str).map(str::to_ascii_lowercase);
                    let cond = match (op.as_deref(), a.len()) {
                        (Some("eq"), 3) => field_name(&a[1])
                            .zip(a[2].as_str())
                            .map(|(f, v)| Condition::Eq(f, v.to_owned())),
                        (Some("starts-with"), 3) => field_name(&a[1])
                            .zip(a[2].as_str())
                            .map(|(f, v)| Condition::StartsWith(f, v.to_owned())),
                        (Some("content-length-range"), 3) => number(&a[1])
                            .zip(number(&a[2]))
                            .map(|(min, max)| Condition::ContentLengthRange(min, max)),
                        _ => None,
                    };
                    conditions.push(cond.ok_or_else(|| invalid("Invalid condition in the policy."))?);
                }
                _ => return Err(invalid("Invalid condition in the policy.")),
            }
        }
        Ok(Self { expiration, conditions })
    }

    /// Check the form against the policy. `fields` are the form's fields (names as sent) plus nothing else;
    /// The `content-length-range` condition's bounds, if the policy has one.
    pub fn length_range(&self) -> Option<(u64, u64)> {
        self.conditions.iter().find_map(|c| match c {
            Condition::ContentLengthRange(min, max) => Some((*min, *max)),
            Condition::Eq(..) | Condition::StartsWith(..) => None,
        })
    }

    /// `bucket` is the bucket the request addresses; `file_len` the upload's size, when it is known before its
    /// data is read (else the caller checks it with [`check_length`] once it is). Length violations come
    /// back as 400 EntityTooLarge/EntityTooSmall, everything else as 403 AccessDenied, in S3's words.
    pub fn check(
        &self,
        fields: &[(String, String)],
        bucket: &str,
        file_len: Option<u64>,
        now: OffsetDateTime,
    ) -> Result<(), S3Error> {
        if now > self.expiration {
            return Err(denied("Policy expired.".to_owned()));
        }
        let value = |name: &str| -> Option<&str> {
            if name == "bucket" {
                return Some(bucket);
            }
            fields
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        for c in &self.conditions {
            let ok = match c {
                Condition::Eq(f, v) => value(f) == Some(v.as_str()),
                // AWS: a Content-Type condition may list several prefixes, comma-separated.
                Condition::StartsWith(f, p) if f == "content-type" && p.contains(',') => {
                    value(f).is_some_and(|val| p.split(',').any(|p| val.starts_with(p.trim())))
                }
                // S3: an empty prefix matches any value, none included (a form may leave the field out).
                Condition::StartsWith(f, p) => value(f).map_or(p.is_empty(), |val| val.starts_with(p.as_str())),
                Condition::ContentLengthRange(min, max) => {
                    if let Some(len) = file_len {
                        check_length(*min, *max, len)?;
                    }
                    true
                }
            };
            if !ok {
                return Err(denied(format!("Policy Condition failed: {}", render(c))));
            }
        }
        let covered = |name: &str| {
            self.conditions.iter().any(|c| match c {
                Condition::Eq(f, _) | Condition::StartsWith(f, _) => f.eq_ignore_ascii_case(name),
                Condition::ContentLengthRange(..) => false,
            })
        };
        let extra: Vec<&str> = fields
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| {
                let lower = k.to_ascii_lowercase();
                !UNCOVERED_FIELDS.contains(&lower.as_str()) && !lower.starts_with("x-ignore-") && !covered(k)
            })
            .collect();
        if !extra.is_empty() {
            let list: Vec<String> = extra.iter().map(|k| format!("${}", k.to_ascii_lowercase())).collect();
            return Err(denied(format!("Extra input fields: {}", list.join(", "))));
        }
        Ok(())
    }
}

/// A condition as S3 quotes it in an error message.
fn render(c: &Condition) -> String {
    match c {
        Condition::Eq(f, v) => format!("[\"eq\", \"${f}\", {}]", Value::from(v.as_str())),
        Condition::StartsWith(f, v) => format!("[\"starts-with\", \"${f}\", {}]", Value::from(v.as_str())),
        Condition::ContentLengthRange(min, max) => format!("[\"content-length-range\", {min}, {max}]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::parse("2015-12-29T12:00:00Z", &time::format_description::well_known::Rfc3339).unwrap()
    }

    /// The example policy of AWS's "Example: Browser-based upload using HTTP POST (using AWS Signature Version 4)".
    const AWS_EXAMPLE: &str = r#"{ "expiration": "2015-12-30T12:00:00.000Z",
  "conditions": [
    {"bucket": "sigv4examplebucket"},
    ["starts-with", "$key", "user/user1/"],
    {"acl": "public-read"},
    {"success_action_redirect": "http://sigv4examplebucket.s3.amazonaws.com/successful_upload.html"},
    ["starts-with", "$Content-Type", "image/"],
    {"x-amz-meta-uuid": "14365123651274"},
    {"x-amz-server-side-encryption": "AES256"},
    ["starts-with", "$x-amz-meta-tag", ""],
    {"x-amz-credential": "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request"},
    {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
    {"x-amz-date": "20151229T000000Z" }
  ]
}"#;

    fn aws_form() -> Vec<(String, String)> {
        fields(&[
            ("key", "user/user1/${filename}"),
            ("acl", "public-read"),
            (
                "success_action_redirect",
                "http://sigv4examplebucket.s3.amazonaws.com/successful_upload.html",
            ),
            ("Content-Type", "image/jpeg"),
            ("x-amz-meta-uuid", "14365123651274"),
            ("x-amz-server-side-encryption", "AES256"),
            (
                "X-Amz-Credential",
                "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request",
            ),
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Date", "20151229T000000Z"),
            ("x-amz-meta-tag", ""),
            ("Policy", "..."),
            ("X-Amz-Signature", "..."),
        ])
    }

    #[test]
    fn aws_example_form_meets_its_policy() {
        let p = PostPolicy::decode(&b64(AWS_EXAMPLE)).unwrap();
        assert_eq!(p.conditions.len(), 11);
        p.check(&aws_form(), "sigv4examplebucket", Some(10), now()).unwrap();
    }

    #[test]
    fn violations_are_refused_in_s3s_words() {
        let p = PostPolicy::decode(&b64(AWS_EXAMPLE)).unwrap();
        let late = now() + time::Duration::days(2);
        let e = p.check(&aws_form(), "sigv4examplebucket", Some(10), late).unwrap_err();
        assert_eq!(e.message, "Invalid according to Policy: Policy expired.");
        let e = p.check(&aws_form(), "otherbucket", Some(10), now()).unwrap_err();
        assert_eq!(e.code, S3ErrorCode::AccessDenied);
        assert_eq!(
            e.message,
            "Invalid according to Policy: Policy Condition failed: [\"eq\", \"$bucket\", \"sigv4examplebucket\"]"
        );
        let mut f = aws_form();
        f[0].1 = "user/other/x".into();
        let e = p.check(&f, "sigv4examplebucket", Some(10), now()).unwrap_err();
        assert!(
            e.message.contains("[\"starts-with\", \"$key\", \"user/user1/\"]"),
            "{}",
            e.message
        );
        let mut f = aws_form();
        f.push(("x-amz-meta-extra".into(), "1".into()));
        f.push(("x-ignore-me".into(), "1".into()));
        let e = p.check(&f, "sigv4examplebucket", Some(10), now()).unwrap_err();
        assert_eq!(
            e.message,
            "Invalid according to Policy: Extra input fields: $x-amz-meta-extra"
        );
    }

    #[test]
    fn an_empty_starts_with_admits_any_value_and_none() {
        let doc = r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[
            ["starts-with", "$x-amz-server-side-encryption", ""], ["starts-with", "$key", "a/"]]}"#;
        let p = PostPolicy::decode(&b64(doc)).unwrap();
        p.check(&fields(&[("key", "a/1")]), "b", Some(1), now()).unwrap();
        p.check(
            &fields(&[("key", "a/1"), ("x-amz-server-side-encryption", "AES256")]),
            "b",
            Some(1),
            now(),
        )
        .unwrap();
        p.check(
            &fields(&[("key", "a/1"), ("X-Amz-Server-Side-Encryption", "")]),
            "b",
            Some(1),
            now(),
        )
        .unwrap();
        // A non-empty prefix still needs the field.
        let e = p.check(&[], "b", Some(1), now()).unwrap_err();
        assert_eq!(
            e.message,
            "Invalid according to Policy: Policy Condition failed: [\"starts-with\", \"$key\", \"a/\"]"
        );
    }

    #[test]
    fn content_length_range() {
        let doc = r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[["content-length-range", 10, "20"]]}"#;
        let p = PostPolicy::decode(&b64(doc)).unwrap();
        p.check(&[], "b", Some(15), now()).unwrap();
        assert_eq!(
            p.check(&[], "b", Some(21), now()).unwrap_err().code,
            S3ErrorCode::EntityTooLarge
        );
        assert_eq!(
            p.check(&[], "b", Some(9), now()).unwrap_err().code,
            S3ErrorCode::EntityTooSmall
        );
    }

    #[test]
    fn malformed_policies() {
        for doc in [
            "not json",
            r#"{"conditions":[]}"#,
            r#"{"expiration":"tomorrow","conditions":[]}"#,
            r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[["in", "$key", "a"]]}"#,
        ] {
            let e = PostPolicy::decode(&b64(doc)).unwrap_err();
            assert_eq!(e.code, S3ErrorCode::InvalidPolicyDocument, "{doc}");
        }
        assert!(PostPolicy::decode("!!!").is_err());
    }
}
