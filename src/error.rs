//! One error type for everything a client can be told: S3 code, HTTP status and XML body.
//!
//! Every variant of [`S3ErrorCode`] maps exhaustively to a status, so an unmapped error does not compile. Messages
//! never contain a secret (keys, signatures' inputs, customer keys).

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};

use crate::body::{Body, full};

/// The S3 error codes this gateway produces itself (backend errors pass through verbatim).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3ErrorCode {
    AccessDenied,
    AuthorizationHeaderMalformed,
    AuthorizationQueryParametersError,
    BadDigest,
    /// 409: a concurrent write or delete of the same key won while a conditional write was in progress.
    ConditionalRequestConflict,
    EntityTooLarge,
    EntityTooSmall,
    IncompleteBody,
    InternalError,
    InvalidAccessKeyId,
    InvalidArgument,
    InvalidBucketName,
    InvalidDigest,
    InvalidEncryptionAlgorithmError,
    InvalidPart,
    InvalidPartNumber,
    InvalidPolicyDocument,
    InvalidRange,
    InvalidRequest,
    KmsDisabled,
    KmsNotFound,
    MalformedPolicy,
    MalformedPOSTRequest,
    MalformedTrailerError,
    MalformedXML,
    MaxMessageLengthExceeded,
    MaxPostPreDataLengthExceededError,
    MissingContentLength,
    MissingSecurityHeader,
    NoSuchBucket,
    NoSuchBucketPolicy,
    NoSuchKey,
    NoSuchUpload,
    NoSuchVersion,
    NotImplemented,
    PreconditionFailed,
    RequestHeaderSectionTooLarge,
    RequestTimeTooSkewed,
    RequestTimeout,
    ServiceUnavailable,
    SignatureDoesNotMatch,
    SlowDown,
    XAmzContentSHA256Mismatch,
}

impl S3ErrorCode {
    /// The codes a backend answers about the client's own bucket or object when the gateway reads or writes its
    /// records there: passed on as the backend said them, never turned into an InternalError.
    pub fn from_backend(code: &str) -> Option<Self> {
        Some(match code {
            "AccessDenied" => Self::AccessDenied,
            "InvalidBucketName" => Self::InvalidBucketName,
            "NoSuchBucket" => Self::NoSuchBucket,
            "NoSuchKey" => Self::NoSuchKey,
            "NoSuchVersion" => Self::NoSuchVersion,
            "InvalidArgument" => Self::InvalidArgument,
            "InvalidRequest" => Self::InvalidRequest,
            // A condition of the client's request, kept on the gateway's own write for it: the client's answer.
            "PreconditionFailed" => Self::PreconditionFailed,
            "ConditionalRequestConflict" => Self::ConditionalRequestConflict,
            _ => return None,
        })
    }

    /// S3's own message for this code: what the client reads when the backend answered it on one of the
    /// gateway's own requests (never the gateway's internal record it was reading or writing), and for the
    /// errors the gateway answers in S3's words.
    pub fn standard_message(self) -> &'static str {
        s3_message(self.as_str()).unwrap_or("The storage backend refused the request.")
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessDenied => "AccessDenied",
            Self::AuthorizationHeaderMalformed => "AuthorizationHeaderMalformed",
            Self::AuthorizationQueryParametersError => "AuthorizationQueryParametersError",
            Self::BadDigest => "BadDigest",
            Self::ConditionalRequestConflict => "ConditionalRequestConflict",
            Self::EntityTooLarge => "EntityTooLarge",
            Self::EntityTooSmall => "EntityTooSmall",
            Self::IncompleteBody => "IncompleteBody",
            Self::InternalError => "InternalError",
            Self::InvalidAccessKeyId => "InvalidAccessKeyId",
            Self::InvalidArgument => "InvalidArgument",
            Self::InvalidBucketName => "InvalidBucketName",
            Self::InvalidDigest => "InvalidDigest",
            Self::InvalidEncryptionAlgorithmError => "InvalidEncryptionAlgorithmError",
            Self::InvalidPart => "InvalidPart",
            Self::InvalidPartNumber => "InvalidPartNumber",
            Self::InvalidPolicyDocument => "InvalidPolicyDocument",
            Self::InvalidRange => "InvalidRange",
            Self::InvalidRequest => "InvalidRequest",
            Self::KmsDisabled => "KMS.DisabledException",
            Self::KmsNotFound => "KMS.NotFoundException",
            Self::MalformedPolicy => "MalformedPolicy",
            Self::MalformedPOSTRequest => "MalformedPOSTRequest",
            Self::MalformedTrailerError => "MalformedTrailerError",
            Self::MalformedXML => "MalformedXML",
            Self::MaxMessageLengthExceeded => "MaxMessageLengthExceeded",
            Self::MaxPostPreDataLengthExceededError => "MaxPostPreDataLengthExceededError",
            Self::MissingContentLength => "MissingContentLength",
            Self::MissingSecurityHeader => "MissingSecurityHeader",
            Self::NoSuchBucket => "NoSuchBucket",
            Self::NoSuchBucketPolicy => "NoSuchBucketPolicy",
            Self::NoSuchKey => "NoSuchKey",
            Self::NoSuchUpload => "NoSuchUpload",
            Self::NoSuchVersion => "NoSuchVersion",
            Self::NotImplemented => "NotImplemented",
            Self::PreconditionFailed => "PreconditionFailed",
            Self::RequestHeaderSectionTooLarge => "RequestHeaderSectionTooLarge",
            Self::RequestTimeTooSkewed => "RequestTimeTooSkewed",
            Self::RequestTimeout => "RequestTimeout",
            Self::ServiceUnavailable => "ServiceUnavailable",
            Self::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            Self::SlowDown => "SlowDown",
            Self::XAmzContentSHA256Mismatch => "XAmzContentSHA256Mismatch",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Self::AccessDenied
            | Self::InvalidAccessKeyId
            | Self::RequestTimeTooSkewed
            | Self::SignatureDoesNotMatch => StatusCode::FORBIDDEN,
            Self::AuthorizationHeaderMalformed
            | Self::AuthorizationQueryParametersError
            | Self::BadDigest
            | Self::EntityTooLarge
            | Self::EntityTooSmall
            | Self::InvalidPolicyDocument
            | Self::MalformedPOSTRequest
            | Self::MaxPostPreDataLengthExceededError
            | Self::IncompleteBody
            | Self::InvalidArgument
            | Self::InvalidBucketName
            | Self::InvalidDigest
            | Self::InvalidEncryptionAlgorithmError
            | Self::InvalidPart
            | Self::InvalidRequest
            | Self::KmsDisabled
            | Self::KmsNotFound
            | Self::MalformedPolicy
            | Self::MalformedTrailerError
            | Self::MalformedXML
            | Self::MaxMessageLengthExceeded
            | Self::MissingSecurityHeader
            | Self::RequestHeaderSectionTooLarge
            | Self::RequestTimeout
            | Self::XAmzContentSHA256Mismatch => StatusCode::BAD_REQUEST,
            Self::MissingContentLength => StatusCode::LENGTH_REQUIRED,
            Self::NoSuchBucket
            | Self::NoSuchBucketPolicy
            | Self::NoSuchKey
            | Self::NoSuchUpload
            | Self::NoSuchVersion => StatusCode::NOT_FOUND,
            Self::InvalidPartNumber | Self::InvalidRange => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::ConditionalRequestConflict => StatusCode::CONFLICT,
            Self::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
            Self::NotImplemented => StatusCode::NOT_IMPLEMENTED,
            Self::ServiceUnavailable | Self::SlowDown => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// S3's message for an error code, as S3 words it (`None` for a code not listed here).
pub fn s3_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "AccessDenied" => "Access Denied",
        "BadDigest" => "The Content-MD5 you specified did not match what we received.",
        "BucketAlreadyExists" => {
            "The requested bucket name is not available. The bucket namespace is shared by all users of the \
             system. Please select a different name and try again."
        }
        "BucketAlreadyOwnedByYou" => {
            "Your previous request to create the named bucket succeeded and you already own it."
        }
        "BucketNotEmpty" => "The bucket you tried to delete is not empty",
        "ConditionalRequestConflict" => {
            "A conflicting conditional operation is currently in progress against this resource. Please try again."
        }
        "EntityTooLarge" => "Your proposed upload exceeds the maximum allowed size",
        "EntityTooSmall" => "Your proposed upload is smaller than the minimum allowed object size.",
        "InternalError" => "We encountered an internal error. Please try again.",
        "InvalidAccessKeyId" => "The AWS Access Key Id you provided does not exist in our records.",
        "InvalidArgument" => "Invalid Argument",
        "InvalidBucketName" => "The specified bucket is not valid.",
        "InvalidDigest" => "The Content-MD5 you specified is not valid.",
        "InvalidPart" => {
            "One or more of the specified parts could not be found.  The part may not have been uploaded, or the \
             specified entity tag may not match the part's entity tag."
        }
        "InvalidPartOrder" => "The list of parts was not in ascending order. Parts must be ordered by part number.",
        "InvalidRange" => "The requested range is not satisfiable",
        "InvalidRequest" => "Invalid Request",
        "KeyTooLongError" => "Your key is too long",
        "MalformedXML" => "The XML you provided was not well-formed or did not validate against our published schema",
        "MethodNotAllowed" => "The specified method is not allowed against this resource.",
        "MissingContentLength" => "You must provide the Content-Length HTTP header.",
        "NoSuchBucket" => "The specified bucket does not exist",
        "NoSuchKey" => "The specified key does not exist.",
        "NoSuchUpload" => {
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been \
             aborted or completed."
        }
        "NoSuchVersion" => "The specified version does not exist.",
        "NotImplemented" => "A header you provided implies functionality that is not implemented",
        "PreconditionFailed" => "At least one of the pre-conditions you specified did not hold",
        "SignatureDoesNotMatch" => {
            "The request signature we calculated does not match the signature you provided. Check your key and \
             signing method."
        }
        "XAmzContentSHA256Mismatch" => "The provided 'x-amz-content-sha256' header does not match what was computed.",
        _ => return None,
    })
}

/// An error answered to the client as S3 XML.
#[derive(Debug, Clone)]
pub struct S3Error {
    pub code: S3ErrorCode,
    pub message: Cow<'static, str>,
}

impl S3Error {
    pub fn new(code: S3ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// `code` with S3's own message for it ([`s3_message`]).
    pub fn standard(code: S3ErrorCode) -> Self {
        Self::new(code, code.standard_message())
    }

    pub fn missing_content_length() -> Self {
        Self::standard(S3ErrorCode::MissingContentLength)
    }

    /// The client's body ended (or broke off) before it said it would.
    pub fn incomplete_body() -> Self {
        Self::new(S3ErrorCode::IncompleteBody, "The request body terminated unexpectedly.")
    }

    pub fn not_applicable_to_object() -> Self {
        Self::new(
            S3ErrorCode::InvalidRequest,
            "The encryption parameters are not applicable to this object.",
        )
    }

    pub fn no_such_bucket() -> Self {
        Self::standard(S3ErrorCode::NoSuchBucket)
    }

    pub fn no_such_key() -> Self {
        Self::standard(S3ErrorCode::NoSuchKey)
    }

    pub fn no_such_version() -> Self {
        Self::standard(S3ErrorCode::NoSuchVersion)
    }

    pub fn invalid_version_id() -> Self {
        Self::new(S3ErrorCode::InvalidArgument, "Invalid version id specified")
    }

    pub fn precondition_failed() -> Self {
        Self::standard(S3ErrorCode::PreconditionFailed)
    }

    pub fn access_denied() -> Self {
        Self::standard(S3ErrorCode::AccessDenied)
    }

    pub fn signature_mismatch() -> Self {
        Self::standard(S3ErrorCode::SignatureDoesNotMatch)
    }

    pub fn internal(reason: impl fmt::Display) -> Self {
        tracing::error!(%reason, "internal error");
        Self::standard(S3ErrorCode::InternalError)
    }

    /// The S3 XML error response (`HEAD` responses carry no body, as S3's do not).
    pub fn to_response(&self, request_id: &str, resource: &str, is_head: bool) -> Response<Body> {
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message>\
             <Resource>{}</Resource><RequestId>{}</RequestId></Error>",
            self.code.as_str(),
            xml_escape(&self.message),
            xml_escape(resource),
            xml_escape(request_id),
        );
        let body = if is_head {
            full(Bytes::new())
        } else {
            full(Bytes::from(xml))
        };
        let mut resp = Response::new(body);
        *resp.status_mut() = self.code.status();
        let h = resp.headers_mut();
        h.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
        if let Ok(v) = HeaderValue::from_str(request_id) {
            h.insert("x-amz-request-id", v);
        }
        resp
    }
}

impl fmt::Display for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for S3Error {}

pub fn xml_escape(s: &str) -> Cow<'_, str> {
    quick_xml::escape::escape(s)
}

impl S3Error {
    pub fn access_denied_msg(msg: &'static str) -> Self {
        Self::new(S3ErrorCode::AccessDenied, msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_xml_names_code_and_request_id() {
        let e = S3Error::new(S3ErrorCode::SignatureDoesNotMatch, "a <b>");
        let resp = e.to_response("RID1", "/b/k", false);
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        assert_eq!(resp.headers()["x-amz-request-id"], "RID1");
    }

    #[test]
    fn a_backends_conditional_write_errors_reach_the_client_as_the_same_s3_errors() {
        for (code, status) in [
            ("ConditionalRequestConflict", StatusCode::CONFLICT),
            ("PreconditionFailed", StatusCode::PRECONDITION_FAILED),
        ] {
            let mapped = S3ErrorCode::from_backend(code).expect("a code the client gets as it is");
            assert_eq!(mapped.as_str(), code);
            let resp = S3Error::new(mapped, "x").to_response("RID", "/b/k", false);
            assert_eq!(resp.status(), status, "{code}");
        }
    }
}
