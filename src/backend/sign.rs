//! Sign: SigV4 with the gateway's own credentials (aws-sigv4), for the backend (service `s3`) and for a remote
//! KMS (service `kms`). S3 payloads are sent as `UNSIGNED-PAYLOAD`: the gateway has already verified the client's
//! payload, and streaming bodies cannot be hashed before they are sent. Other services get small, whole bodies,
//! whose SHA-256 is signed.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings, UriPathNormalizationMode,
    sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::Request;

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

    /// Sign an S3 request with an unsigned payload; the path is signed as sent.
    pub fn sign<B>(&self, req: &mut Request<B>) {
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        // S3 signs the path as sent: encoded once, never normalized.
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        if let Err(e) = self.sign_with(req, settings, SignableBody::UnsignedPayload) {
            tracing::error!(error = %e, "signing the backend request failed");
        }
    }

    /// Sign a request whose whole body is `payload` (its SHA-256 is part of the signature).
    pub fn sign_payload<B>(&self, req: &mut Request<B>, payload: &[u8]) -> Result<(), String> {
        self.sign_with(req, SigningSettings::default(), SignableBody::Bytes(payload))
    }

    fn sign_with<B>(
        &self,
        req: &mut Request<B>,
        settings: SigningSettings,
        body: SignableBody<'_>,
    ) -> Result<(), String> {
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name(self.service)
            .time(SystemTime::now())
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
        let instructions = sign(signable, &params.into())
            .map_err(|e| e.to_string())?
            .into_parts()
            .0;
        instructions.apply_to_request_http1x(req);
        Ok(())
    }
}
