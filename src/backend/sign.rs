//! Sign: SigV4 with the gateway's own credentials (aws-sigv4), for the backend (service `s3`) and for a remote
//! KMS (service `kms`). S3 bodies are never hashed before they are sent (they are streams): by default they go as
//! `UNSIGNED-PAYLOAD` (the gateway has already verified the client's payload); `[backend] payload = "signed"`
//! sends them aws-chunked with chunk signatures, `"trailer"` aws-chunked with a CRC32C trailer (see
//! [`super::chunked`]). Other services get small, whole bodies, whose SHA-256 is signed.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings, UriPathNormalizationMode,
    sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::Request;

use super::chunked::ChunkSigning;
use crate::secret::SecretString;

pub struct Signer {
    identity: Identity,
    region: String,
    service: &'static str,
}

impl Signer {
    /// A signer for the S3 backend.
    pub fn new(access_key_id: String, secret: SecretString, region: String) -> Self {
        Self::for_service("s3", access_key_id, secret, region)
    }

    /// A signer for another AWS service (`kms`, …), used with [`Signer::sign_payload`].
    pub fn for_service(service: &'static str, access_key_id: String, secret: SecretString, region: String) -> Self {
        let creds = Credentials::new(access_key_id, secret.expose(), None, None, "s3-sse-proxy");
        Self {
            identity: creds.into(),
            region,
            service,
        }
    }

    /// Sign an S3 request whose body is `payload`; the path is signed as sent. For the streaming payloads the
    /// caller has set the aws-chunked headers; the result is the seed of the chunk-signature chain.
    pub fn sign_s3<B>(
        &self,
        req: &mut Request<B>,
        payload: S3Payload,
        time: SystemTime,
    ) -> Result<ChunkSigning, String> {
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        // S3 signs the path as sent: encoded once, never normalized.
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let body = match payload {
            S3Payload::Unsigned => SignableBody::UnsignedPayload,
            S3Payload::Empty => SignableBody::Bytes(&[]),
            S3Payload::SignedChunks => SignableBody::Precomputed(STREAMING_SIGNED.to_owned()),
            S3Payload::UnsignedTrailer => SignableBody::StreamingUnsignedPayloadTrailer,
        };
        let seed_signature = self.sign_at(req, settings, body, time)?;
        Ok(ChunkSigning {
            identity: self.identity.clone(),
            region: self.region.clone(),
            time,
            seed_signature,
        })
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
