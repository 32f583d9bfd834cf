//! TLS for the S3 listener (rustls, TLS 1.2 and 1.3): the certificate is read from PEM and can be reloaded
//! (SIGHUP) without dropping connections — new handshakes get the new certificate, live ones keep theirs.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A certificate resolver whose certificate can be swapped at runtime.
#[derive(Debug)]
pub struct ReloadableCert {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
}

/// A PEM certificate chain (leaf first) and its private key (PKCS#8, PKCS#1 or SEC1). Also the KMIP client's
/// certificate.
pub fn read_chain_and_key(
    cert_path: &Path,
    key_path: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_path)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| format!("certificate {}: {e}", cert_path.display()))?;
    if certs.is_empty() {
        return Err(format!("certificate {}: no certificate in file", cert_path.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| format!("key {}: {e}", key_path.display()))?;
    Ok((certs, key))
}

fn load(cert_path: &Path, key_path: &Path) -> Result<CertifiedKey, String> {
    let (certs, key) = read_chain_and_key(cert_path, key_path)?;
    let key = rustls::crypto::aws_lc_rs::sign::any_supported_type(&key)
        .map_err(|e| format!("key {}: {e}", key_path.display()))?;
    let ck = CertifiedKey::new(certs, key);
    ck.keys_match()
        .map_err(|e| format!("certificate and key do not match: {e}"))?;
    Ok(ck)
}

impl ReloadableCert {
    pub fn new(cert_path: PathBuf, key_path: PathBuf) -> Result<Arc<Self>, String> {
        let ck = load(&cert_path, &key_path)?;
        Ok(Arc::new(Self {
            cert_path,
            key_path,
            current: RwLock::new(Arc::new(ck)),
        }))
    }

    /// Read the files again; on error the old certificate stays in service.
    pub fn reload(&self) -> Result<(), String> {
        let ck = load(&self.cert_path, &self.key_path)?;
        *self.current.write().map_err(|_| "certificate lock poisoned")? = Arc::new(ck);
        Ok(())
    }

    /// The serving certificate's DER (for tests and the readiness check).
    pub fn leaf_der(&self) -> Option<CertificateDer<'static>> {
        self.current.read().ok().and_then(|c| c.cert.first().cloned())
    }
}

impl ResolvesServerCert for ReloadableCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| c.clone())
    }
}

pub fn server_config(resolver: Arc<ReloadableCert>) -> Result<Arc<ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Generate a local CA and a server certificate for `names` (DNS names and IP addresses), as PEM:
/// `(ca_cert, server_cert, server_key)`. For the embedded quick start only.
pub fn generate_local_ca(names: &[String]) -> Result<(String, String, String), rcgen::Error> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name.push(DnType::CommonName, "s3-sse-proxy local CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.use_authority_key_identifier_extension = true;
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate()?;
    let mut leaf = CertificateParams::new(names.to_vec())?;
    leaf.distinguished_name.push(DnType::CommonName, "s3-sse-proxy");
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    let cert = leaf.signed_by(&key, &issuer)?;
    Ok((ca_cert.pem(), cert.pem(), key.serialize_pem()))
}

/// When a certificate expires (Unix seconds), for the expiry metric and alert.
pub fn not_after(der: &CertificateDer<'_>) -> Option<i64> {
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
    Some(cert.validity().not_after.timestamp())
}

#[cfg(test)]
mod expiry_tests {
    use super::*;

    #[test]
    fn generated_certificates_expire_when_rcgen_was_told() {
        let (_, cert_pem, _) = generate_local_ca(&["127.0.0.1".into()]).unwrap();
        use rustls_pki_types::pem::PemObject;
        let der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let t = not_after(&der).unwrap();
        assert!(t > now + 86_400, "expires in the future: {t} vs {now}");
    }
}
