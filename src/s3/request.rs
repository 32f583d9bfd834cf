//! Classify: a request's head turned once into what every later phase reads: the operation, the bucket and key
//! it addresses, its decoded query, and its copy source. Also the request vocabulary the handlers share (header
//! values, `partNumber`, query edits for the backend).

use std::net::SocketAddr;

use http::HeaderMap;
use http::request::Parts;

use crate::auth::canonical::{percent_decode, uri_encode};
use crate::crypto::envelope::Envelope;
use crate::error::{S3Error, S3ErrorCode};
use crate::s3::addressing::{self, Target};
use crate::s3::copy_source::{CopySource, parse_copy_source};
use crate::s3::operation::{self, Operation};

/// Per-connection facts the pipeline needs.
#[derive(Debug, Clone, Copy)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    /// The request arrived over TLS. Always true today (there is no plain listener); checked anyway.
    pub secure: bool,
}

/// A classified request head.
pub struct S3Request {
    pub op: Operation,
    pub parts: Parts,
    pub target: Target,
    /// The query's `name=value` pairs, decoded.
    pub query: Vec<(String, String)>,
    /// `x-amz-copy-source`, parsed once (its error is reported by the policy phase, after authentication).
    copy_source: Option<Result<CopySource, S3Error>>,
    /// `uploadId`, parsed once: the backend's upload ID and the envelope it carries (`sse::multipart`).
    upload_id: Option<Result<(String, Option<Envelope>), S3Error>>,
}

/// `[limits] max_header_bytes`, counted as on the wire (`name: value\r\n`), before anything else is looked at.
fn check_header_section(headers: &HeaderMap, max_header_bytes: usize) -> Result<(), S3Error> {
    let size: usize = headers.iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum();
    if size > max_header_bytes {
        return Err(S3Error::new(
            S3ErrorCode::RequestHeaderSectionTooLarge,
            "Your request header section exceeds the maximum allowed size.",
        ));
    }
    Ok(())
}

/// Classify a request head.
pub fn classify(parts: Parts, domains: &[String], max_header_bytes: usize) -> Result<S3Request, S3Error> {
    check_header_section(&parts.headers, max_header_bytes)?;
    let target = addressing::resolve(crate::auth::request_host(&parts), parts.uri.path(), domains);
    let query = crate::auth::query_params(&parts);
    addressing::check(&target)?;
    let copy_source = parts
        .headers
        .get(super::headers::X_AMZ_COPY_SOURCE)
        .map(|v| v.to_str().map_or_else(|_| parse_copy_source(""), parse_copy_source));
    let op = operation::classify(&parts.method, &target, &query, copy_source.is_some());
    let upload_id = query
        .iter()
        .find(|(k, _)| k == "uploadId")
        .map(|(_, v)| crate::sse::multipart::parse_upload_id(v));
    Ok(S3Request {
        op,
        parts,
        target,
        query,
        copy_source,
        upload_id,
    })
}

impl S3Request {
    /// The same request with another head and target (a POST form's PutObject).
    pub fn with_head(self, parts: Parts, target: Target) -> Self {
        Self { parts, target, ..self }
    }

    /// The copy source, if the request names one; a malformed one is the client's error.
    pub fn copy_source(&self) -> Result<Option<&CopySource>, S3Error> {
        match &self.copy_source {
            None => Ok(None),
            Some(Ok(src)) => Ok(Some(src)),
            Some(Err(e)) => Err(e.clone()),
        }
    }

    /// The upload the request names (`uploadId`): the backend's ID, and the envelope of an upload begun through
    /// the gateway. An upload ID that names no upload is the client's error (NoSuchUpload).
    pub fn upload_id(&self) -> Option<Result<&(String, Option<Envelope>), S3Error>> {
        self.upload_id.as_ref().map(|r| r.as_ref().map_err(Clone::clone))
    }

    pub fn header(&self, name: impl http::header::AsHeaderName) -> Option<&str> {
        header_str(&self.parts.headers, name)
    }

    /// A decoded query parameter.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// `partNumber`: absent, or an integer 1..=10000 (else S3's InvalidArgument).
    pub fn part_number(&self) -> Result<Option<u32>, S3Error> {
        parse_part_number(self.query_param("partNumber"))
    }

    /// The raw query as the client sent it.
    pub fn raw_query(&self) -> Option<&str> {
        self.parts.uri.query()
    }
}

/// A `partNumber` value: an integer 1..=10000, else S3's InvalidArgument.
pub fn parse_part_number(value: Option<&str>) -> Result<Option<u32>, S3Error> {
    value
        .map(|v| {
            v.parse().ok().filter(|n| (1..=10_000).contains(n)).ok_or_else(|| {
                S3Error::new(
                    S3ErrorCode::InvalidArgument,
                    "Part number must be an integer between 1 and 10000, inclusive",
                )
            })
        })
        .transpose()
}

pub fn header_str(h: &HeaderMap, name: impl http::header::AsHeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Remove every header whose name starts with `prefix`.
pub fn remove_prefixed(h: &mut HeaderMap, prefix: &str) {
    let names: Vec<_> = h.keys().filter(|n| n.as_str().starts_with(prefix)).cloned().collect();
    for n in names {
        h.remove(n);
    }
}

/// A backend response's `Content-Length`.
pub fn content_length_of(h: &HeaderMap) -> Result<u64, S3Error> {
    header_str(h, http::header::CONTENT_LENGTH)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| S3Error::internal("source object without a Content-Length"))
}

/// The raw query without one parameter.
pub fn remove_query_param(raw: Option<&str>, name: &str) -> String {
    raw.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty() && percent_decode(p.split_once('=').map_or(*p, |(k, _)| k)) != name)
        .collect::<Vec<_>>()
        .join("&")
}

/// The raw query with one parameter's value replaced (re-encoded).
pub fn replace_query_param(raw: Option<&str>, name: &str, value: &str) -> String {
    raw.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, _)) if percent_decode(k) == name => format!("{k}={}", uri_encode(value)),
            _ => p.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_edits_touch_only_the_named_parameter() {
        let raw = Some("partNumber=2&uploadId=a%2Bb&x=1");
        assert_eq!(remove_query_param(raw, "partNumber"), "uploadId=a%2Bb&x=1");
        assert_eq!(
            replace_query_param(raw, "uploadId", "c+d"),
            "partNumber=2&uploadId=c%2Bd&x=1"
        );
    }
}
