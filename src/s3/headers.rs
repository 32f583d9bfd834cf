//! The names of the S3 headers the gateway reads in every request, as constants: a lookup by `&str` parses and
//! validates the name before it hashes it, about twice the work of a lookup by a [`HeaderName`].

use http::HeaderName;

pub const X_AMZ_CONTENT_SHA256: HeaderName = HeaderName::from_static("x-amz-content-sha256");
pub const X_AMZ_DATE: HeaderName = HeaderName::from_static("x-amz-date");
pub const X_AMZ_DECODED_CONTENT_LENGTH: HeaderName = HeaderName::from_static("x-amz-decoded-content-length");
pub const X_AMZ_TRAILER: HeaderName = HeaderName::from_static("x-amz-trailer");
pub const X_AMZ_COPY_SOURCE: HeaderName = HeaderName::from_static("x-amz-copy-source");
pub const X_AMZ_VERSION_ID: HeaderName = HeaderName::from_static("x-amz-version-id");
pub const CONTENT_MD5: HeaderName = HeaderName::from_static("content-md5");
