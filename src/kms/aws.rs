//! The AWS KMS API: JSON over HTTPS (`POST /`, `X-Amz-Target: TrentService.<Op>`), signed with SigV4 for
//! service `kms` (payload hash signed). Works with AWS KMS and compatible servers (moto in the tests).
//!
//! Never puts key material in an error, a log line or a `Debug` output: errors carry the KMS's error type and
//! message, or a description of what was malformed, never a response body that could hold a `Plaintext`.
//!
//! Plaintext data keys travel in zeroizing buffers: the request body of `Encrypt`, the whole response body, the
//! base64 `Plaintext` string and its decoded bytes are wiped when dropped. What this cannot reach: the buffers of
//! hyper and rustls (the TLS records and the `Bytes` frames the response arrives in), and serde_json's scratch
//! buffer (only used for strings with escapes, which base64 never has).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use super::{DecryptedKey, EncryptionContext, GeneratedKey, GeneratedKeyBlob, KeyInfo, Kms, KmsError};
use crate::backend::sign::Signer;
use crate::crypto::keys::DataKey;
use crate::s3::xml::xml_text;
use crate::secret::SecretString;

/// Largest KMS response read (real ones are well under 4 KiB).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Longest KMS error message kept in a [`KmsError`].
const MAX_MESSAGE_CHARS: usize = 256;

/// Where the KMS is and how to sign for it.
pub struct AwsKmsSettings {
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    pub ca_pem: Option<Vec<u8>>,
    pub timeout: Duration,
}

/// A client of the AWS KMS API. No `Debug`: it holds the signing credentials.
pub struct AwsKms {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    uri: Uri,
    host: HeaderValue,
    signer: Signer,
    timeout: Duration,
}

impl AwsKms {
    pub fn new(s: AwsKmsSettings) -> Result<Self, String> {
        let uri: Uri = s
            .endpoint
            .parse()
            .map_err(|e| format!("kms endpoint {}: {e}", s.endpoint))?;
        if uri.scheme().is_none() {
            return Err(format!("kms endpoint {}: needs a scheme", s.endpoint));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("kms endpoint {}: needs a host", s.endpoint))?;
        let host = HeaderValue::from_str(authority.as_str()).map_err(|e| format!("kms endpoint: {e}"))?;
        // The API lives at `/`, whatever path the endpoint was written with.
        let uri = Uri::builder()
            .scheme(uri.scheme().cloned().expect("checked above"))
            .authority(authority.clone())
            .path_and_query("/")
            .build()
            .map_err(|e| format!("kms endpoint: {e}"))?;
        Ok(Self {
            client: crate::backend::https_client(s.ca_pem.as_deref(), s.timeout, "kms ca_file")?,
            uri,
            host,
            signer: Signer::for_service("kms", s.access_key_id, s.secret_access_key, s.region),
            timeout: s.timeout,
        })
    }

    /// One KMS API call with a JSON request and response, for administration (the tests create, alias and disable
    /// keys with it). Not for key material: neither request nor response is zeroized.
    #[doc(hidden)]
    pub async fn call(&self, operation: &str, request: &serde_json::Value) -> Result<serde_json::Value, KmsError> {
        let body = Zeroizing::new(serde_json::to_vec(request).map_err(|e| KmsError::Other(e.to_string()))?);
        let response = self.send(operation, body, None).await?;
        if response.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&response).map_err(|e| malformed(operation, &e))
    }

    /// Send one signed call; the response body of a 2xx answer, or the error it maps to. `key_id` names the key
    /// in `NotFound`/`Disabled` errors. The whole exchange, body included, is bounded by the timeout.
    async fn send(
        &self,
        operation: &str,
        body: Zeroizing<Vec<u8>>,
        key_id: Option<&str>,
    ) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        let target = HeaderValue::from_str(&format!("TrentService.{operation}"))
            .map_err(|_| KmsError::Other(format!("invalid operation name {operation:?}")))?;
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(self.uri.clone())
            .header(http::header::HOST, self.host.clone())
            .header(http::header::CONTENT_TYPE, "application/x-amz-json-1.1")
            .header("x-amz-target", target)
            .body(())
            .expect("valid parts");
        self.signer
            .sign_payload(&mut req, &body)
            .map_err(|e| KmsError::Other(format!("signing the KMS request: {e}")))?;
        // The body buffer is zeroized when hyper drops the last reference to it.
        let req = req.map(|()| Full::new(Bytes::from_owner(body)));
        let exchange = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| KmsError::Unavailable(format!("{operation}: {}", error_chain(&e))))?;
            let (parts, incoming) = resp.into_parts();
            let body = read_body(incoming).await?;
            Ok::<_, KmsError>((parts.status, parts.headers, body))
        };
        let (status, headers, body) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| KmsError::Unavailable(format!("{operation}: no answer within {:?}", self.timeout)))??;
        if status.is_success() {
            Ok(body)
        } else {
            Err(error_from(status, &headers, &body, key_id))
        }
    }
}

/// Read a response body into one zeroizing buffer, at most [`MAX_RESPONSE_BYTES`]. The buffer grows by copying
/// into a bigger zeroizing buffer, so no unwiped copy of a plaintext is left behind by reallocation.
async fn read_body(mut body: Incoming) -> Result<Zeroizing<Vec<u8>>, KmsError> {
    let mut buf = Zeroizing::new(Vec::with_capacity(4096));
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| KmsError::Unavailable(format!("reading the KMS response: {}", error_chain(&e))))?;
        let Ok(data) = frame.into_data() else { continue };
        let needed = buf.len() + data.len();
        if needed > MAX_RESPONSE_BYTES {
            return Err(KmsError::Other(format!(
                "KMS response larger than {MAX_RESPONSE_BYTES} bytes"
            )));
        }
        if needed > buf.capacity() {
            let mut bigger = Zeroizing::new(Vec::with_capacity(
                needed.max(2 * buf.capacity()).min(MAX_RESPONSE_BYTES),
            ));
            bigger.extend_from_slice(&buf);
            buf = bigger;
        }
        buf.extend_from_slice(&data);
    }
    Ok(buf)
}

/// An error and its sources, one line (hyper's own message is only "client error (Connect)").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

/// A success response that does not parse. Only the position is kept: serde's message may quote a value.
fn malformed(operation: &str, e: &serde_json::Error) -> KmsError {
    KmsError::Other(format!(
        "malformed {operation} response (line {}, column {})",
        e.line(),
        e.column()
    ))
}

/// The error type and message of a KMS error response: the `X-Amzn-ErrorType` header or the JSON `__type`
/// (or `code`), with any `namespace#` prefix and `:uri` suffix removed. Non-JSON bodies (a proxy's page, or
/// moto's XML for failed signature checks) yield their `<Code>`/`<Message>` if they have them.
fn error_parts(headers: &HeaderMap, body: &[u8]) -> (Option<String>, String) {
    #[derive(Deserialize)]
    struct JsonError {
        #[serde(rename = "__type", alias = "code")]
        kind: Option<String>,
        #[serde(alias = "Message")]
        message: Option<String>,
    }
    let header = headers
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (body_kind, message) = match serde_json::from_slice::<JsonError>(body) {
        Ok(j) => (j.kind, j.message.unwrap_or_default()),
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            (xml_text(&text, "Code"), xml_text(&text, "Message").unwrap_or_default())
        }
    };
    let kind = header.or(body_kind).map(|t| {
        let t = t.rsplit('#').next().unwrap_or_default();
        t.split(':').next().unwrap_or_default().trim().to_owned()
    });
    let mut message: String = message.chars().take(MAX_MESSAGE_CHARS).collect();
    message.truncate(message.trim_end().len());
    (kind.filter(|k| !k.is_empty()), message)
}

/// Map a KMS error response to a [`KmsError`]: by error type first, by HTTP status for types not known here.
fn error_from(status: StatusCode, headers: &HeaderMap, body: &[u8], key_id: Option<&str>) -> KmsError {
    let (kind, message) = error_parts(headers, body);
    let described = match &kind {
        Some(k) if message.is_empty() => k.clone(),
        Some(k) => format!("{k}: {message}"),
        None if message.is_empty() => format!("HTTP {}", status.as_u16()),
        None => format!("HTTP {}: {message}", status.as_u16()),
    };
    match kind.as_deref().unwrap_or("") {
        "NotFoundException" => KmsError::NotFound(key_id.map_or(message, str::to_owned)),
        // KMSInvalidStateException: disabled, pending deletion or import; the key cannot be used either way.
        "DisabledException" | "KMSInvalidStateException" => KmsError::Disabled(
            arn_in(&message)
                .or(key_id)
                .map_or_else(|| described.clone(), str::to_owned),
        ),
        "AccessDeniedException"
        | "UnrecognizedClientException"
        | "IncorrectKeyException"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch"
        | "IncompleteSignature"
        | "MissingAuthenticationToken"
        | "ExpiredTokenException"
        | "AccessDenied" => KmsError::AccessDenied(described),
        k if k.starts_with("InvalidSignature") => KmsError::AccessDenied(described),
        "InvalidCiphertextException" => KmsError::InvalidCiphertext,
        "ThrottlingException" | "KMSInternalException" | "DependencyTimeoutException" | "KeyUnavailableException" => {
            KmsError::Unavailable(described)
        }
        _ if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS => KmsError::Unavailable(described),
        _ if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => KmsError::AccessDenied(described),
        _ => KmsError::Other(described),
    }
}

/// The key ARN AWS puts in a `DisabledException` message ("arn:aws:kms:…:key/… is disabled.").
fn arn_in(message: &str) -> Option<&str> {
    message
        .split_whitespace()
        .find(|w| w.starts_with("arn:"))
        .map(|w| w.trim_end_matches(['.', ',', ';', '\'', '"']))
}

/// Serialize a request into a zeroizing buffer allocated once: `capacity` must bound the output, so that the
/// buffer never reallocates and leaves an unwiped copy of a plaintext behind.
fn json_body<T: Serialize>(request: &T, capacity: usize) -> Result<Zeroizing<Vec<u8>>, KmsError> {
    let mut body = Zeroizing::new(Vec::with_capacity(capacity));
    serde_json::to_writer(&mut *body, request).map_err(|e| KmsError::Other(e.to_string()))?;
    Ok(body)
}

/// An upper bound of a request's JSON size: escapes take at most 6 bytes per input byte (`\u00XX`).
fn json_capacity(strings: &[&str], context: &EncryptionContext) -> usize {
    let text: usize =
        strings.iter().map(|s| s.len()).sum::<usize>() + context.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
    256 + 6 * text + 6 * context.len()
}

fn data_key(plaintext: &SecretString, operation: &str) -> Result<DataKey, KmsError> {
    let raw = Zeroizing::new(
        B64.decode(plaintext.expose())
            .map_err(|_| KmsError::Other(format!("{operation}: Plaintext is not base64")))?,
    );
    let mut bytes: [u8; 32] = raw
        .as_slice()
        .try_into()
        .map_err(|_| KmsError::Other(format!("{operation}: Plaintext is {} bytes, not 32", raw.len())))?;
    let key = DataKey::from_bytes(bytes);
    bytes.zeroize();
    Ok(key)
}

fn blob(b64: &str, operation: &str) -> Result<Vec<u8>, KmsError> {
    B64.decode(b64)
        .map_err(|_| KmsError::Other(format!("{operation}: CiphertextBlob is not base64")))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GenerateDataKeyRequest<'a> {
    key_id: &'a str,
    key_spec: &'static str,
    #[serde(skip_serializing_if = "EncryptionContext::is_empty")]
    encryption_context: &'a EncryptionContext,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EncryptRequest<'a> {
    key_id: &'a str,
    plaintext: &'a str,
    #[serde(skip_serializing_if = "EncryptionContext::is_empty")]
    encryption_context: &'a EncryptionContext,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DecryptRequest<'a> {
    ciphertext_blob: &'a str,
    #[serde(skip_serializing_if = "EncryptionContext::is_empty")]
    encryption_context: &'a EncryptionContext,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeKeyRequest<'a> {
    key_id: &'a str,
}

/// `SecretString` fields: the base64 plaintext is zeroized on drop.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GenerateDataKeyResponse {
    plaintext: SecretString,
    ciphertext_blob: String,
    key_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EncryptResponse {
    ciphertext_blob: String,
    key_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DecryptResponse {
    plaintext: SecretString,
    key_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeKeyResponse {
    key_metadata: KeyMetadata,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyMetadata {
    key_id: String,
    arn: String,
    enabled: Option<bool>,
    key_state: Option<String>,
}

impl Kms for AwsKms {
    async fn generate_data_key(&self, key_id: &str, context: &EncryptionContext) -> Result<GeneratedKey, KmsError> {
        const OP: &str = "GenerateDataKey";
        let request = GenerateDataKeyRequest {
            key_id,
            key_spec: "AES_256",
            encryption_context: context,
        };
        let body = json_body(&request, json_capacity(&[key_id], context))?;
        let response = self.send(OP, body, Some(key_id)).await?;
        let r: GenerateDataKeyResponse = serde_json::from_slice(&response).map_err(|e| malformed(OP, &e))?;
        Ok(GeneratedKey {
            key: data_key(&r.plaintext, OP)?,
            blob: blob(&r.ciphertext_blob, OP)?,
            key_arn: r.key_id,
        })
    }

    async fn encrypt(
        &self,
        key_id: &str,
        key: &DataKey,
        context: &EncryptionContext,
    ) -> Result<GeneratedKeyBlob, KmsError> {
        const OP: &str = "Encrypt";
        let plaintext = Zeroizing::new(B64.encode(key.as_bytes()));
        let request = EncryptRequest {
            key_id,
            plaintext: &plaintext,
            encryption_context: context,
        };
        let body = json_body(&request, json_capacity(&[key_id, &plaintext], context))?;
        let response = self.send(OP, body, Some(key_id)).await?;
        let r: EncryptResponse = serde_json::from_slice(&response).map_err(|e| malformed(OP, &e))?;
        Ok(GeneratedKeyBlob {
            blob: blob(&r.ciphertext_blob, OP)?,
            key_arn: r.key_id,
        })
    }

    async fn decrypt(&self, ciphertext: &[u8], context: &EncryptionContext) -> Result<DecryptedKey, KmsError> {
        const OP: &str = "Decrypt";
        let ciphertext_blob = B64.encode(ciphertext);
        let request = DecryptRequest {
            ciphertext_blob: &ciphertext_blob,
            encryption_context: context,
        };
        let body = json_body(&request, json_capacity(&[&ciphertext_blob], context))?;
        let response = self.send(OP, body, None).await?;
        let r: DecryptResponse = serde_json::from_slice(&response).map_err(|e| malformed(OP, &e))?;
        Ok(DecryptedKey {
            key: data_key(&r.plaintext, OP)?,
            key_arn: r.key_id,
        })
    }

    async fn describe(&self, key_id: &str) -> Result<KeyInfo, KmsError> {
        const OP: &str = "DescribeKey";
        let body = json_body(
            &DescribeKeyRequest { key_id },
            json_capacity(&[key_id], &EncryptionContext::new()),
        )?;
        let response = self.send(OP, body, Some(key_id)).await?;
        let r: DescribeKeyResponse = serde_json::from_slice(&response).map_err(|e| malformed(OP, &e))?;
        let m = r.key_metadata;
        Ok(KeyInfo {
            enabled: m.enabled.unwrap_or(m.key_state.as_deref() == Some("Enabled")),
            key_id: m.key_id,
            arn: m.arn,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(status: u16, body: &str) -> KmsError {
        error_from(
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body.as_bytes(),
            Some("k-1"),
        )
    }

    #[test]
    fn error_types_map_to_kms_errors() {
        assert_eq!(
            map(
                400,
                r#"{"__type":"NotFoundException","message":"Key 'arn:k' does not exist"}"#
            ),
            KmsError::NotFound("k-1".into())
        );
        assert_eq!(
            map(400, r#"{"__type":"com.amazonaws.kms#NotFoundException","message":"x"}"#),
            KmsError::NotFound("k-1".into())
        );
        assert_eq!(
            map(
                400,
                r#"{"__type":"DisabledException","message":"arn:aws:kms:eu-west-1:111122223333:key/1234 is disabled."}"#
            ),
            KmsError::Disabled("arn:aws:kms:eu-west-1:111122223333:key/1234".into())
        );
        assert_eq!(
            map(
                400,
                r#"{"__type":"KMSInvalidStateException","message":"pending deletion"}"#
            ),
            KmsError::Disabled("k-1".into())
        );
        assert_eq!(
            map(400, r#"{"__type":"InvalidCiphertextException"}"#),
            KmsError::InvalidCiphertext
        );
        for t in [
            "AccessDeniedException",
            "UnrecognizedClientException",
            "IncorrectKeyException",
            "InvalidSignatureException",
        ] {
            assert!(
                matches!(map(400, &format!(r#"{{"__type":"{t}"}}"#)), KmsError::AccessDenied(m) if m == t),
                "{t}"
            );
        }
        for t in [
            "ThrottlingException",
            "KMSInternalException",
            "DependencyTimeoutException",
        ] {
            assert!(
                matches!(map(400, &format!(r#"{{"__type":"{t}"}}"#)), KmsError::Unavailable(_)),
                "{t}"
            );
        }
        assert_eq!(
            map(400, r#"{"__type":"ValidationException","Message":"bad KeySpec"}"#),
            KmsError::Other("ValidationException: bad KeySpec".into())
        );
    }

    #[test]
    fn statuses_decide_when_the_type_is_unknown() {
        assert!(matches!(map(503, ""), KmsError::Unavailable(m) if m == "HTTP 503"));
        assert!(matches!(map(500, "<html>oops</html>"), KmsError::Unavailable(_)));
        assert!(matches!(map(429, "{}"), KmsError::Unavailable(_)));
        assert!(matches!(map(403, "forbidden"), KmsError::AccessDenied(_)));
        assert!(matches!(
            map(403, r#"{"__type":"SomeNewAuthError"}"#),
            KmsError::AccessDenied(_)
        ));
        assert!(matches!(map(404, "no"), KmsError::Other(m) if m == "HTTP 404"));
        // A server error with a client-error type still says what it is.
        assert!(matches!(
            map(500, r#"{"__type":"NotFoundException"}"#),
            KmsError::NotFound(_)
        ));
    }

    #[test]
    fn the_error_type_header_and_xml_errors_are_read() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-amzn-errortype",
            HeaderValue::from_static("DisabledException:http://internal.amazon.com/coral/com.amazonaws.kms/"),
        );
        assert_eq!(
            error_from(StatusCode::BAD_REQUEST, &h, b"{}", Some("alias/a")),
            KmsError::Disabled("alias/a".into())
        );
        // moto answers a failed signature check with an XML error, whatever the protocol.
        let xml = r#"<?xml version="1.0" encoding="utf-8"?>
<ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message><Type>Sender</Type></Error></Errors></ErrorResponse>"#;
        assert_eq!(
            map(403, xml),
            KmsError::AccessDenied("SignatureDoesNotMatch: The request signature we calculated does not match".into())
        );
        let long = format!(r#"{{"__type":"Weird","message":"{}"}}"#, "m".repeat(10_000));
        let KmsError::Other(m) = map(400, &long) else { panic!() };
        assert_eq!(m.len(), "Weird: ".len() + MAX_MESSAGE_CHARS);
    }

    #[test]
    fn a_bad_plaintext_is_refused_without_showing_it() {
        let short = SecretString::new(B64.encode([0x5a; 16]));
        let e = data_key(&short, "Decrypt").unwrap_err();
        assert_eq!(e, KmsError::Other("Decrypt: Plaintext is 16 bytes, not 32".into()));
        let key = SecretString::new(B64.encode([0x5a; 32]));
        assert_eq!(data_key(&key, "Decrypt").unwrap().as_bytes(), &[0x5a; 32]);
        // A response that does not parse: only the position is reported, never the value.
        let secret = B64.encode([0x5a; 32]);
        let body = format!(r#"{{"Plaintext":"{secret}","KeyId":7}}"#);
        let e = serde_json::from_slice::<DecryptResponse>(body.as_bytes()).map_err(|e| malformed("Decrypt", &e));
        let text = e.err().unwrap().to_string();
        assert!(
            text.starts_with("KMS error: malformed Decrypt response") && !text.contains(&secret[..8]),
            "{text}"
        );
    }

    #[test]
    fn request_bodies_are_written_without_reallocation() {
        let mut ctx = EncryptionContext::new();
        // Control characters are the worst case: six bytes each.
        ctx.insert("\u{1}".repeat(100), "\u{2}".repeat(300));
        ctx.insert("aws:s3:arn".into(), "arn:aws:s3:::bucket/key".into());
        let plaintext = B64.encode([7u8; 32]);
        let request = EncryptRequest {
            key_id: "alias/aws/s3",
            plaintext: &plaintext,
            encryption_context: &ctx,
        };
        let capacity = json_capacity(&["alias/aws/s3", &plaintext], &ctx);
        let body = json_body(&request, capacity).unwrap();
        assert_eq!(body.capacity(), capacity, "the buffer grew");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["Plaintext"], plaintext.as_str());
        assert_eq!(v["EncryptionContext"]["aws:s3:arn"], "arn:aws:s3:::bucket/key");
        let empty = json_body(
            &DescribeKeyRequest { key_id: "k" },
            json_capacity(&["k"], &EncryptionContext::new()),
        )
        .unwrap();
        assert_eq!(&**empty, br#"{"KeyId":"k"}"#);
    }

    #[test]
    fn endpoints_need_a_scheme_and_a_host() {
        let settings = |endpoint: &str| AwsKmsSettings {
            endpoint: endpoint.into(),
            region: "us-east-1".into(),
            access_key_id: "AK".into(),
            secret_access_key: SecretString::new("SK".into()),
            ca_pem: None,
            timeout: Duration::from_secs(1),
        };
        assert!(AwsKms::new(settings("kms.eu-west-1.amazonaws.com")).is_err());
        assert!(AwsKms::new(settings("https://kms.eu-west-1.amazonaws.com")).is_ok());
        assert!(AwsKms::new(settings("http://127.0.0.1:4566/")).is_ok());
    }
}
