//! Authenticate a browser-based POST upload: what the client signed is the form's base64 `policy` field, with
//! SigV4 (`x-amz-algorithm`, `x-amz-credential`, `x-amz-date`, `x-amz-signature`: hex HMAC-SHA256 under the
//! derived signing key) or SigV2 (`AWSAccessKeyId`, `signature`: base64 HMAC-SHA1 under the secret).
//! Constant-time comparisons; never logs a signature or a key.

use std::ops::RangeInclusive;

use time::OffsetDateTime;

use super::checksum::{ChecksumAlgorithm, ct_eq};
use super::{ALGORITHM, AuthLimits, AuthType, Authenticated, CredentialStore, SignatureVersion, lookup, sigv2};
use crate::body::verify::BodyChecks;
use crate::error::{S3Error, S3ErrorCode};

/// A form field's value (field names are case-insensitive).
pub fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A browser POST upload's whole authentication: the form's signature, then its policy's conditions against
/// the form (`bucket` is the one the request addressed).
/// `file_len` is the file's length, or the bounds of a length known only once its data ends (the policy's
/// `content-length-range` is then the reader's to check).
pub fn verify_form(
    fields: &[(String, String)],
    file_len: RangeInclusive<u64>,
    bucket: &str,
    store: &CredentialStore,
    limits: AuthLimits,
) -> Result<Authenticated, S3Error> {
    let exact = (file_len.start() == file_len.end()).then_some(*file_len.end());
    let (authed, _) = authenticate(fields, store, limits, file_len)?;
    let policy = field(fields, "policy").unwrap_or_default();
    crate::s3::post_policy::PostPolicy::decode(policy)?.check(fields, bucket, exact, OffsetDateTime::now_utc())?;
    Ok(authed)
}

/// Verify the form's signature over its policy. The body is the file part, `file_len` bytes (or within those
/// bounds), checked as an unsigned payload (the policy's conditions are checked separately, by
/// [`crate::s3::post_policy`]).
pub fn authenticate(
    fields: &[(String, String)],
    store: &CredentialStore,
    limits: AuthLimits,
    file_len: RangeInclusive<u64>,
) -> Result<(Authenticated, Option<OffsetDateTime>), S3Error> {
    let f = |name: &str| field(fields, name);
    let policy = f("policy");
    let (credential, version, signed_at) = if let Some(alg) = f("x-amz-algorithm") {
        if alg != ALGORITHM {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                "Only AWS4-HMAC-SHA256 is supported as x-amz-algorithm.",
            ));
        }
        let (Some(policy), Some(cred), Some(amz_date), Some(sig)) =
            (policy, f("x-amz-credential"), f("x-amz-date"), f("x-amz-signature"))
        else {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                "Bucket POST must contain the fields policy, x-amz-credential, x-amz-date and x-amz-signature.",
            ));
        };
        let bad_credential = || S3Error::new(S3ErrorCode::InvalidArgument, "Invalid x-amz-credential field.");
        let parts: Vec<&str> = cred.split('/').collect();
        let [ak, date, region, service, "aws4_request"] = parts.as_slice() else {
            return Err(bad_credential());
        };
        let t = super::parse_amz_date(amz_date)
            .ok_or_else(|| S3Error::new(S3ErrorCode::InvalidArgument, "Invalid x-amz-date field."))?;
        if *service != "s3" || !amz_date.starts_with(date) || date.len() != 8 || region.is_empty() {
            return Err(bad_credential());
        }
        let credential = lookup(store, ak)?;
        let key = credential.signing_key(date, region, service);
        if !ct_eq(&super::canonical::signature(&key, policy), sig.trim()) {
            return Err(S3Error::signature_mismatch());
        }
        (credential, SignatureVersion::V4, Some(t))
    } else if let Some(ak) = f("AWSAccessKeyId") {
        if !limits.sigv2 {
            return Err(sigv2::not_supported());
        }
        let (Some(policy), Some(sig)) = (policy, f("signature")) else {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                "Bucket POST must contain the fields policy and signature with AWSAccessKeyId.",
            ));
        };
        let credential = lookup(store, ak)?;
        if !sigv2::verify(credential.secret(), policy, sig) {
            return Err(S3Error::signature_mismatch());
        }
        (credential, SignatureVersion::V2, None)
    } else {
        return Err(S3Error::access_denied_msg(
            "Anonymous access is not allowed through this gateway.",
        ));
    };
    let body_checks = BodyChecks {
        length: Some(*file_len.end()),
        length_min: (file_len.start() != file_len.end()).then_some(*file_len.start()),
        header_checksum: form_checksum(fields)?,
        ..BodyChecks::default()
    };
    Ok((
        Authenticated {
            credential,
            auth_type: AuthType::Post,
            signature_version: version,
            body_checks,
            aws_chunked: false,
        },
        signed_at,
    ))
}

/// An `x-amz-checksum-*` field: the file is checked against it as a PutObject body against the header.
fn form_checksum(fields: &[(String, String)]) -> Result<Option<(ChecksumAlgorithm, String)>, S3Error> {
    let mut found = None;
    for (name, value) in fields {
        if let Some(alg) = ChecksumAlgorithm::from_header_name(name)
            && found.replace((alg, value.clone())).is_some()
        {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
            ));
        }
    }
    Ok(found)
}
