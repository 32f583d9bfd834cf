//! Sign: SigV4 for the backend with the gateway's own credentials (aws-sigv4). Payloads are sent as
//! `UNSIGNED-PAYLOAD`: the gateway has already verified the client's payload, and streaming bodies cannot be
//! hashed before they are sent.

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
}

impl Signer {
    pub fn new(access_key_id: String, secret: SecretString, region: String) -> Self {
        let creds = Credentials::new(access_key_id, secret.expose(), None, None, "s3-sse-proxy-backend");
        Self {
            identity: creds.into(),
            region,
        }
    }

    pub fn sign<B>(&self, req: &mut Request<B>) {
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        // S3 signs the path as sent: encoded once, never normalized.
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name("s3")
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
        let signable = SignableRequest::new(
            req.method().as_str(),
            &uri,
            headers.into_iter(),
            SignableBody::UnsignedPayload,
        )
        .expect("request built from valid parts");
        let instructions = match sign(signable, &params.into()) {
            Ok(out) => out.into_parts().0,
            Err(e) => {
                tracing::error!(error = %e, "signing the backend request failed");
                return;
            }
        };
        instructions.apply_to_request_http1x(req);
    }
}
