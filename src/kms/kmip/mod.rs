//! KMIP (OASIS Key Management Interoperability Protocol 1.4, binary TTLV over TLS with a client certificate): the
//! protocol of enterprise HSMs and key managers. The master key is a server-side AES-256 key; the gateway draws a
//! data key and asks the server to wrap it (Encrypt, AES-GCM, the encryption context as additional data) and to
//! unwrap it (Decrypt). The gateway never holds a master key.
//!
//! Key ids: `kmip:<uid>` (the ARN this KMS reports), `alias/<name>` (a key whose Name attribute is `<name>`,
//! found with Locate), or a bare string, tried as a Unique Identifier first and as a Name if no object has it.
//!
//! One TLS connection per call, bounded as a whole (connect, handshake, request, response) by the timeout.
//! Request buffers holding a data key and response buffers holding one are zeroizing; what this cannot reach are
//! rustls's record buffers. Never puts key material in an error, a log line or a `Debug` output.

pub mod blob;
pub mod message;
pub mod ttlv;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use zeroize::{Zeroize, Zeroizing};

use super::{DecryptedKey, EncryptionContext, GeneratedKey, GeneratedKeyBlob, KeyInfo, Kms, KmsError};
use crate::crypto::keys::DataKey;
use blob::Blob;
use message::{MAX_RESPONSE_BYTES, Operation, ResponseError, reason, state};

/// The prefix of the key ARNs this KMS reports.
pub const ARN_PREFIX: &str = "kmip:";

/// Where the KMIP server is and how to authenticate to it.
pub struct KmipSettings {
    /// `host:port`.
    pub endpoint: String,
    /// The name the server's certificate must carry; default the endpoint's host.
    pub server_name: Option<String>,
    /// PEM CAs to trust for the server; without it, the webpki roots.
    pub ca_file: Option<PathBuf>,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub timeout: Duration,
}

/// A KMIP client. No `Debug`: its TLS configuration holds the client's private key.
pub struct KmipKms {
    endpoint: String,
    server_name: ServerName<'static>,
    tls: TlsConnector,
    timeout: Duration,
}

fn arn(uid: &str) -> String {
    format!("{ARN_PREFIX}{uid}")
}

fn pairs(ctx: &EncryptionContext) -> impl Iterator<Item = (&str, &str)> {
    ctx.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

/// How a key id names a key.
#[derive(Debug, PartialEq, Eq)]
enum KeyRef<'a> {
    Uid(&'a str),
    Name(&'a str),
    /// A bare string: a Unique Identifier, else a Name.
    UidOrName(&'a str),
}

fn key_ref(key_id: &str) -> KeyRef<'_> {
    if let Some(uid) = key_id.strip_prefix(ARN_PREFIX) {
        KeyRef::Uid(uid)
    } else if let Some(name) = key_id.strip_prefix("alias/") {
        KeyRef::Name(name)
    } else {
        KeyRef::UidOrName(key_id)
    }
}

impl KmipKms {
    pub fn new(s: KmipSettings) -> Result<Self, String> {
        if s.endpoint.contains("://") {
            return Err(format!(
                "kms.endpoint {}: expected host:port, without a scheme",
                s.endpoint
            ));
        }
        let host = s
            .endpoint
            .rsplit_once(':')
            .filter(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
            .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']'))
            .ok_or_else(|| format!("kms.endpoint {}: expected host:port", s.endpoint))?;
        let name = s.server_name.as_deref().unwrap_or(host).to_owned();
        let server_name = ServerName::try_from(name).map_err(|e| format!("kms.server_name: {e}"))?;

        let mut roots = rustls::RootCertStore::empty();
        match &s.ca_file {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| format!("kms.ca_file {}: {e}", path.display()))?;
                crate::backend::add_pem_roots(&mut roots, &pem, "kms.ca_file")?;
                if roots.is_empty() {
                    return Err(format!("kms.ca_file {}: no certificate", path.display()));
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let (chain, key) = crate::accept::tls::read_chain_and_key(&s.client_cert, &s.client_key)
            .map_err(|e| format!("kms client certificate: {e}"))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| format!("kms client certificate: {e}"))?;
        Ok(Self {
            endpoint: s.endpoint,
            server_name,
            tls: TlsConnector::from(Arc::new(config)),
            timeout: s.timeout,
        })
    }

    /// Send one request and read the response message into a zeroizing buffer, all within the timeout.
    async fn exchange(&self, op: Operation, request: &ttlv::Item<'_>) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        let mut out = Zeroizing::new(Vec::with_capacity(request.encoded_len()));
        request.encode(&mut out);
        let io = async {
            let tcp = TcpStream::connect(&self.endpoint).await?;
            tcp.set_nodelay(true)?;
            let mut tls = self.tls.connect(self.server_name.clone(), tcp).await?;
            tls.write_all(&out).await?;
            tls.flush().await?;
            let mut header = [0u8; ttlv::HEADER_LEN];
            tls.read_exact(&mut header).await?;
            let len = ttlv::message_len(&header)
                .ok()
                .filter(|&n| n <= MAX_RESPONSE_BYTES)
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "not a KMIP response"))?;
            let mut response = Zeroizing::new(vec![0u8; len]);
            response[..ttlv::HEADER_LEN].copy_from_slice(&header);
            tls.read_exact(&mut response[ttlv::HEADER_LEN..]).await?;
            // No close_notify wait: the message is complete, and a slow peer must not cost the caller time.
            Ok::<_, std::io::Error>(response)
        };
        match tokio::time::timeout(self.timeout, io).await {
            Err(_) => Err(KmsError::Unavailable(format!(
                "KMIP {}: no answer within {:?}",
                op.name(),
                self.timeout
            ))),
            Ok(Err(e)) => Err(transport_error(op, &e)),
            Ok(Ok(response)) => Ok(response),
        }
    }

    /// One call: the response payload handed to `read`, or the failure as a [`KmsError`] (`key_id` names the key
    /// in `NotFound`/`Disabled`).
    async fn call<T>(
        &self,
        op: Operation,
        request: &ttlv::Item<'_>,
        key_id: &str,
        read: impl FnOnce(&ttlv::Item<'_>) -> Result<T, ResponseError>,
    ) -> Result<T, KmsError> {
        let response = self.exchange(op, request).await?;
        let message = ttlv::decode(&response).map_err(|e| failure(op, e.into(), key_id))?;
        message::response_payload(&message, op)
            .and_then(read)
            .map_err(|e| failure(op, e, key_id))
    }

    /// The unique identifier of the one key named `name`.
    async fn locate(&self, name: &str, key_id: &str) -> Result<String, KmsError> {
        let uids = self
            .call(Operation::Locate, &message::locate_by_name(name), key_id, |p| {
                Ok(message::located(p).into_iter().map(str::to_owned).collect::<Vec<_>>())
            })
            .await?;
        match uids.as_slice() {
            [] => Err(KmsError::NotFound(key_id.to_owned())),
            [uid] => Ok(uid.clone()),
            _ => Err(KmsError::Other(format!(
                "KMIP Locate: {} keys are named {name:?}; use kmip:<uid>",
                uids.len()
            ))),
        }
    }

    /// The uid to use for `key_id`, and the name to Locate if no object has that uid.
    async fn resolve<'k>(&self, key_id: &'k str) -> Result<(String, Option<&'k str>), KmsError> {
        match key_ref(key_id) {
            KeyRef::Uid(uid) => Ok((uid.to_owned(), None)),
            KeyRef::Name(name) => Ok((self.locate(name, key_id).await?, None)),
            KeyRef::UidOrName(s) => Ok((s.to_owned(), Some(s))),
        }
    }

    async fn state(&self, uid: &str, key_id: &str) -> Result<u32, KmsError> {
        self.call(
            Operation::GetAttributes,
            &message::get_state(uid),
            key_id,
            message::state,
        )
        .await
    }

    /// A refusal of Encrypt or Decrypt: `Disabled` if the key is not Active (PyKMIP answers Permission Denied for
    /// that, KMIP 2.0 servers Wrong Key Lifecycle State), else the refusal as it was.
    async fn refusal(&self, e: KmsError, uid: &str) -> KmsError {
        match e {
            KmsError::AccessDenied(_) => match self.state(uid, uid).await {
                Ok(s) if s != state::ACTIVE => KmsError::Disabled(arn(uid)),
                _ => e,
            },
            e => e,
        }
    }

    /// Encrypt `plaintext` (a data key) under `key_id` for `ctx`: the blob and the key's ARN.
    async fn wrap(
        &self,
        key_id: &str,
        plaintext: &[u8; blob::KEY_LEN],
        ctx: &EncryptionContext,
    ) -> Result<GeneratedKeyBlob, KmsError> {
        let (uid, name) = self.resolve(key_id).await?;
        match (self.wrap_with(&uid, key_id, plaintext, ctx).await, name) {
            (Err(KmsError::NotFound(_)), Some(name)) => {
                let uid = self.locate(name, key_id).await?;
                self.wrap_with(&uid, key_id, plaintext, ctx).await
            }
            (r, _) => r,
        }
    }

    async fn wrap_with(
        &self,
        uid: &str,
        key_id: &str,
        plaintext: &[u8; blob::KEY_LEN],
        ctx: &EncryptionContext,
    ) -> Result<GeneratedKeyBlob, KmsError> {
        if uid.is_empty() || uid.len() > usize::from(u16::MAX) {
            return Err(KmsError::NotFound(key_id.to_owned()));
        }
        let mut iv = [0u8; blob::IV_LEN];
        aws_lc_rs::rand::fill(&mut iv).map_err(|_| KmsError::Other("system RNG failed".into()))?;
        let aad = blob::aad(uid, pairs(ctx));
        let request = message::encrypt(uid, plaintext, &iv, &aad);
        let result = self
            .call(Operation::Encrypt, &request, key_id, |p| {
                let e = message::encrypted(p)?;
                if e.iv.is_some_and(|server_iv| server_iv != iv) {
                    return Err(ResponseError::Malformed("the server changed the nonce".into()));
                }
                if e.data.len() != plaintext.len() || e.auth_tag.len() != message::TAG_LEN {
                    return Err(ResponseError::Malformed(format!(
                        "{} bytes of ciphertext and a {}-byte tag for a {}-byte key",
                        e.data.len(),
                        e.auth_tag.len(),
                        plaintext.len()
                    )));
                }
                Ok(Blob {
                    uid,
                    iv: &iv,
                    ciphertext: e.data,
                    tag: e.auth_tag,
                }
                .encode())
            })
            .await;
        match result {
            Ok(blob) => Ok(GeneratedKeyBlob {
                blob,
                key_arn: arn(uid),
            }),
            Err(e) => Err(self.refusal(e, uid).await),
        }
    }

    /// Create an AES-256 key (Encrypt and Decrypt) named `name`, and activate it unless `activate` is false: its
    /// uid. For administration and tests; the gateway never creates keys.
    #[doc(hidden)]
    pub async fn create_key(&self, name: Option<&str>, activate: bool) -> Result<String, KmsError> {
        let request = message::create(name);
        let uid = self
            .call(Operation::Create, &request, name.unwrap_or("new key"), |p| {
                message::unique_identifier(p).map(str::to_owned)
            })
            .await?;
        if activate {
            self.call(Operation::Activate, &message::activate(&uid), &uid, |_| Ok(()))
                .await?;
        }
        Ok(uid)
    }

    /// Revoke `uid`: deactivated (cessation of operation), or compromised (now). For administration and tests.
    #[doc(hidden)]
    pub async fn revoke_key(&self, uid: &str, compromised: bool) -> Result<(), KmsError> {
        let request = if compromised {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            message::revoke(uid, message::revocation::KEY_COMPROMISE, Some(now))
        } else {
            message::revoke(uid, message::revocation::CESSATION_OF_OPERATION, None)
        };
        self.call(Operation::Revoke, &request, uid, |_| Ok(())).await
    }
}

/// A transport failure: `AccessDenied` if the server refused the client's certificate by a TLS alert that says
/// so, else `Unavailable` (connection refused or reset, a handshake failure of any other kind, bad framing).
fn transport_error(op: Operation, e: &std::io::Error) -> KmsError {
    use rustls::AlertDescription as A;
    let described = format!("KMIP {}: {e}", op.name());
    let alert = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .and_then(|tls| match tls {
            rustls::Error::AlertReceived(a) => Some(*a),
            _ => None,
        });
    match alert {
        Some(
            A::BadCertificate
            | A::UnsupportedCertificate
            | A::CertificateRevoked
            | A::CertificateExpired
            | A::CertificateUnknown
            | A::UnknownCA
            | A::AccessDenied
            | A::CertificateRequired,
        ) => KmsError::AccessDenied(described),
        _ => KmsError::Unavailable(described),
    }
}

/// Map a failed response to a [`KmsError`].
fn failure(op: Operation, e: ResponseError, key_id: &str) -> KmsError {
    let (reason, message) = match e {
        ResponseError::Malformed(m) => return KmsError::Other(format!("KMIP {}: {m}", op.name())),
        ResponseError::Failed { reason, message, .. } => (reason, message),
    };
    let described = format!(
        "KMIP {}: result reason {}: {message}",
        op.name(),
        reason.map_or_else(|| "none".to_owned(), |r| format!("{r:#x}"))
    );
    match reason {
        Some(reason::ITEM_NOT_FOUND | reason::OBJECT_NOT_FOUND) => KmsError::NotFound(key_id.to_owned()),
        Some(reason::WRONG_KEY_LIFECYCLE_STATE | reason::OBJECT_ARCHIVED | reason::OBJECT_DESTROYED) => {
            KmsError::Disabled(key_id.to_owned())
        }
        Some(reason::AUTHENTICATION_NOT_SUCCESSFUL | reason::PERMISSION_DENIED | reason::NOT_AUTHORISED) => {
            KmsError::AccessDenied(described)
        }
        // PyKMIP reports a GCM tag mismatch as General Failure (its crypto library's exception is not a KMIP
        // error); the spec's answer is Cryptographic Failure. On Decrypt both mean the blob does not open.
        Some(reason::CRYPTOGRAPHIC_FAILURE | reason::GENERAL_FAILURE) if op == Operation::Decrypt => {
            KmsError::InvalidCiphertext
        }
        _ => KmsError::Other(described),
    }
}

impl Kms for KmipKms {
    async fn generate_data_key(&self, key_id: &str, context: &EncryptionContext) -> Result<GeneratedKey, KmsError> {
        let key = DataKey::generate();
        let wrapped = self.wrap(key_id, key.as_bytes(), context).await?;
        Ok(GeneratedKey {
            key,
            blob: wrapped.blob,
            key_arn: wrapped.key_arn,
        })
    }

    async fn encrypt(
        &self,
        key_id: &str,
        key: &DataKey,
        context: &EncryptionContext,
    ) -> Result<GeneratedKeyBlob, KmsError> {
        self.wrap(key_id, key.as_bytes(), context).await
    }

    async fn decrypt(&self, blob: &[u8], context: &EncryptionContext) -> Result<DecryptedKey, KmsError> {
        let b = Blob::parse(blob).ok_or(KmsError::InvalidCiphertext)?;
        let aad = blob::aad(b.uid, pairs(context));
        let request = message::decrypt(b.uid, b.ciphertext, b.iv, &aad, b.tag);
        let result = self
            .call(Operation::Decrypt, &request, &arn(b.uid), |p| {
                let plaintext = message::decrypted(p)?;
                let mut bytes: [u8; blob::KEY_LEN] = plaintext.try_into().map_err(|_| {
                    ResponseError::Malformed(format!("Decrypt gave {} bytes, not a data key", plaintext.len()))
                })?;
                let key = DataKey::from_bytes(bytes);
                bytes.zeroize();
                Ok(key)
            })
            .await;
        match result {
            Ok(key) => Ok(DecryptedKey {
                key,
                key_arn: arn(b.uid),
            }),
            Err(e) => Err(self.refusal(e, b.uid).await),
        }
    }

    async fn describe(&self, key_id: &str) -> Result<KeyInfo, KmsError> {
        let (mut uid, name) = self.resolve(key_id).await?;
        let state = match (self.state(&uid, key_id).await, name) {
            (Err(KmsError::NotFound(_)), Some(name)) => {
                uid = self.locate(name, key_id).await?;
                self.state(&uid, key_id).await?
            }
            (r, _) => r?,
        };
        Ok(KeyInfo {
            arn: arn(&uid),
            key_id: uid,
            enabled: state == state::ACTIVE,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_name_uids_and_names() {
        assert_eq!(key_ref("kmip:17"), KeyRef::Uid("17"));
        assert_eq!(key_ref("alias/s3-default"), KeyRef::Name("s3-default"));
        assert_eq!(key_ref("alias/aws/s3"), KeyRef::Name("aws/s3"));
        assert_eq!(key_ref("17"), KeyRef::UidOrName("17"));
        assert_eq!(key_ref("team-key"), KeyRef::UidOrName("team-key"));
    }

    fn failed(reason: u32) -> ResponseError {
        ResponseError::Failed {
            status: 1,
            reason: Some(reason),
            message: "m".into(),
        }
    }

    #[test]
    fn result_reasons_map_to_kms_errors() {
        let map = |op, r| failure(op, failed(r), "alias/k");
        assert_eq!(
            map(Operation::Encrypt, reason::ITEM_NOT_FOUND),
            KmsError::NotFound("alias/k".into())
        );
        assert_eq!(
            map(Operation::Encrypt, reason::WRONG_KEY_LIFECYCLE_STATE),
            KmsError::Disabled("alias/k".into())
        );
        assert!(matches!(
            map(Operation::Encrypt, reason::PERMISSION_DENIED),
            KmsError::AccessDenied(m) if m == "KMIP Encrypt: result reason 0xc: m"
        ));
        assert!(matches!(
            map(Operation::Locate, reason::AUTHENTICATION_NOT_SUCCESSFUL),
            KmsError::AccessDenied(_)
        ));
        assert_eq!(
            map(Operation::Decrypt, reason::CRYPTOGRAPHIC_FAILURE),
            KmsError::InvalidCiphertext
        );
        assert_eq!(
            map(Operation::Decrypt, reason::GENERAL_FAILURE),
            KmsError::InvalidCiphertext
        );
        assert!(matches!(
            map(Operation::Encrypt, reason::GENERAL_FAILURE),
            KmsError::Other(_)
        ));
        assert!(matches!(map(Operation::Encrypt, 0x07), KmsError::Other(_)));
        assert!(matches!(
            failure(Operation::Decrypt, ResponseError::Malformed("x".into()), "k"),
            KmsError::Other(m) if m == "KMIP Decrypt: x"
        ));
    }

    #[test]
    fn certificate_alerts_are_refusals_and_the_rest_unavailability() {
        let io = |e: rustls::Error| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
        assert!(matches!(
            transport_error(
                Operation::Encrypt,
                &io(rustls::Error::AlertReceived(rustls::AlertDescription::UnknownCA))
            ),
            KmsError::AccessDenied(_)
        ));
        assert!(matches!(
            transport_error(
                Operation::Encrypt,
                &io(rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure))
            ),
            KmsError::Unavailable(_)
        ));
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(matches!(
            transport_error(Operation::Decrypt, &refused),
            KmsError::Unavailable(_)
        ));
    }

    #[test]
    fn endpoints_are_host_and_port() {
        let settings = |endpoint: &str| KmipSettings {
            endpoint: endpoint.into(),
            server_name: None,
            ca_file: None,
            client_cert: "/nonexistent/cert.pem".into(),
            client_key: "/nonexistent/key.pem".into(),
            timeout: Duration::from_secs(1),
        };
        for bad in ["127.0.0.1", "https://kms:5696", ":5696", "kms:port"] {
            let e = KmipKms::new(settings(bad)).err().unwrap();
            assert!(
                e.contains("expected host:port") || e.contains("server_name"),
                "{bad}: {e}"
            );
        }
        let e = KmipKms::new(settings("kms.example.com:5696")).err().unwrap();
        assert!(e.contains("client certificate"), "{e}");
    }
}
