//! Secret value types: zeroized on drop, never printed. A public value is a different type.

use std::fmt;

use serde::{Deserialize, Deserializer};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A secret string (secret access keys). `Debug` prints `<redacted>`; there is no `Display`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(s: String) -> Self {
        Self(s)
    }
    /// The secret itself, for the one place that needs it (key derivation, signing).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self)
    }
}

/// A SigV4 signing key (`kSigning`, HMAC-SHA256 output), derived per date/region/service.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SigningKey([u8; 32]);

impl SigningKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    //! Every type that holds key material or a credential secret: zeroized on drop (the trait bound is the check:
    //! `ZeroizeOnDrop` is only implemented by the derive, which wipes every field), and its `Debug` — also inside
    //! the structs that carry it (config, credentials, keyring, chunk-signing context) — prints none of its bytes
    //! in any of the forms a leak would take (hex, base64, decimal array, raw text).

    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as B64;
    use md5::Digest as _;
    use zeroize::ZeroizeOnDrop;

    use super::*;
    use crate::crypto::keys::{DataKey, Kek};
    use crate::sse::request::CustomerKey;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    /// A key byte that is easy to spot: `0xa7` = "a7", 167, base64 "p6en", and not ASCII text.
    const KEY: [u8; 32] = [0xa7; 32];

    fn zeroizes_on_drop<T: ZeroizeOnDrop>() {}

    /// The ways `KEY` or `SECRET` could appear in text.
    fn leaks(printed: &str) -> Vec<String> {
        let forms = [
            SECRET.to_owned(),
            hex::encode(&KEY[..4]),
            hex::encode(&KEY[..4]).to_uppercase(),
            B64.encode(&KEY[..6]),
            B64.encode(KEY),
            "167, 167".to_owned(),
            "0xa7".to_owned(),
        ];
        forms.into_iter().filter(|f| printed.contains(f.as_str())).collect()
    }

    fn customer_key() -> CustomerKey {
        let mut h = http::HeaderMap::new();
        h.insert(
            "x-amz-server-side-encryption-customer-algorithm",
            http::HeaderValue::from_static("AES256"),
        );
        h.insert(
            "x-amz-server-side-encryption-customer-key",
            B64.encode(KEY).parse().unwrap(),
        );
        h.insert(
            "x-amz-server-side-encryption-customer-key-md5",
            B64.encode(md5::Md5::digest(KEY)).parse().unwrap(),
        );
        match crate::sse::request::parse(&h).unwrap() {
            crate::sse::request::SseRequest::Customer(k) => k,
            other => panic!("not SSE-C: {other:?}"),
        }
    }

    #[test]
    fn every_key_type_zeroizes_on_drop_and_debug_prints_no_secret() {
        zeroizes_on_drop::<SecretString>();
        zeroizes_on_drop::<SigningKey>();
        zeroizes_on_drop::<DataKey>();
        zeroizes_on_drop::<Kek>();
        zeroizes_on_drop::<CustomerKey>();

        let customer = customer_key();
        assert_eq!(customer.as_bytes(), &KEY, "the test key is the one parsed");
        let signing_context = crate::auth::chunked::ChunkSigningContext {
            signing_key: SigningKey::from_bytes(KEY),
            amz_date: "20130524T000000Z".into(),
            scope: "20130524/us-east-1/s3/aws4_request".into(),
            seed_signature: "00".repeat(32),
        };
        let keyring = crate::keyring::Keyring::parse(&format!(
            "active = \"kek-1\"\n[[keys]]\nid = \"kek-1\"\nkey = \"{}\"\n",
            B64.encode(KEY)
        ))
        .unwrap();
        let printed = [
            format!("{:?}", SecretString::new(SECRET.into())),
            format!("{:?}", SigningKey::from_bytes(KEY)),
            format!("{:?}", DataKey::from_bytes(KEY)),
            format!("{:?}", Kek::new("kek-1", KEY)),
            format!("{customer:?}"),
            format!("{:?}", crate::sse::request::SseRequest::Customer(customer.clone())),
            format!("{signing_context:?}"),
            format!("{keyring:?}"),
            format!("{:#?}", keyring),
        ];
        for p in &printed {
            assert!(p.contains("redacted"), "{p}");
            assert_eq!(leaks(p), Vec::<String>::new(), "{p}");
        }
        // The ids stay visible: they are public and operators need them.
        assert!(printed[3].contains("kek-1") && printed[7].contains("kek-1"));
    }

    #[test]
    fn config_debug_prints_no_credential_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            format!(
                "[backend]\nkind = \"s3\"\nendpoint = \"http://127.0.0.1:9000\"\naccess_key_id = \"BACKENDAK\"\n\
                 secret_access_key = \"{SECRET}\"\n\n[kms]\nkind = \"aws\"\nendpoint = \"http://127.0.0.1:5000\"\n\
                 access_key_id = \"KMSAK\"\nsecret_access_key = \"{SECRET}\"\n\n[[credentials]]\n\
                 access_key_id = \"CLIENTAK\"\nsecret_access_key = \"{SECRET}\"\n"
            ),
        )
        .unwrap();
        let config = crate::config::Config::load(&path).unwrap();
        let printed = format!("{config:?}");
        assert!(printed.contains("BACKENDAK") && printed.contains("KMSAK") && printed.contains("CLIENTAK"));
        assert_eq!(leaks(&printed), Vec::<String>::new(), "{printed}");
        let store = crate::auth::CredentialStore::new(config.credentials);
        let printed = format!("{store:?}");
        assert!(printed.contains("CLIENTAK"));
        assert_eq!(leaks(&printed), Vec::<String>::new(), "{printed}");
    }
}
