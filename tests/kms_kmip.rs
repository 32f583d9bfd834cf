//! The KMIP client (`kms::kmip`) against a real KMIP server on loopback — PyKMIP's, with TLS client-certificate
//! authentication — and against what PyKMIP cannot play: a closed port and a listener that never answers.
//!
//! What PyKMIP 0.11 does, read in its source and checked here: Encrypt and Decrypt need the key Active and answer
//! Permission Denied otherwise (the client then reads the key's State and reports `Disabled`); a GCM tag that
//! does not verify (another context, a tampered blob) is General Failure; a key owned by another client
//! identity (certificate CN) is Permission Denied. Its TLS layer (Python's ssl, OpenSSL) refuses a client
//! certificate from another CA (alert unknown_ca) or without the clientAuth EKU (alert unsupported_certificate)
//! in the handshake; the client reports both as `AccessDenied`, and other handshake failures as `Unavailable`.

mod common;

use std::time::{Duration, Instant};

use common::pykmip::PyKmip;
use common::{
    Backend, Gateway, call_fresh as call, create_bucket, free_port, kms_context as context, kms_error as error,
    unique_bucket,
};
use s3_sse_proxy::crypto::keys::DataKey;
use s3_sse_proxy::kms::kmip::{KmipKms, KmipSettings};
use s3_sse_proxy::kms::{EncryptionContext, Kms, KmsError};

#[tokio::test(flavor = "multi_thread")]
async fn generated_keys_decrypt_with_their_context_only() {
    let server = PyKmip::start().await;
    let uid = server.create_key(Some("round-trip")).await;
    let kms = server.client();
    let ctx = context(&[("aws:s3:arn", "arn:aws:s3:::bucket/key"), ("purpose", "test")]);

    let generated = kms.generate_data_key("alias/round-trip", &ctx).await.unwrap();
    assert_eq!(
        generated.key_arn,
        format!("kmip:{uid}"),
        "the ARN names the uid, not the alias"
    );
    assert!(
        !generated.blob.windows(32).any(|w| w == generated.key.as_bytes()),
        "the blob does not hold the key"
    );
    let decrypted = kms.decrypt(&generated.blob, &ctx).await.unwrap();
    assert!(decrypted.key == generated.key, "Decrypt gives back the generated key");
    assert_eq!(decrypted.key_arn, generated.key_arn);
    let other = kms.generate_data_key(&format!("kmip:{uid}"), &ctx).await.unwrap();
    assert!(other.key != generated.key, "each call makes a fresh key");

    for wrong in [
        context(&[("aws:s3:arn", "arn:aws:s3:::bucket/other"), ("purpose", "test")]),
        context(&[("aws:s3:arn", "arn:aws:s3:::bucket/key")]),
        EncryptionContext::new(),
    ] {
        assert_eq!(
            error(kms.decrypt(&generated.blob, &wrong).await),
            KmsError::InvalidCiphertext,
            "{wrong:?}"
        );
    }
    let mut tampered = generated.blob.clone();
    *tampered.last_mut().unwrap() ^= 1;
    assert_eq!(error(kms.decrypt(&tampered, &ctx).await), KmsError::InvalidCiphertext);
    let mut tampered = generated.blob.clone();
    tampered[10] ^= 1; // the nonce
    assert_eq!(error(kms.decrypt(&tampered, &ctx).await), KmsError::InvalidCiphertext);
    assert_eq!(
        error(kms.decrypt(b"not a blob", &ctx).await),
        KmsError::InvalidCiphertext
    );
    // The same ciphertext presented under another key's uid.
    let second = server.create_key(None).await;
    let moved = [
        &[1u8, 0, second.len() as u8][..],
        second.as_bytes(),
        &generated.blob[3 + uid.len()..],
    ]
    .concat();
    assert_eq!(error(kms.decrypt(&moved, &ctx).await), KmsError::InvalidCiphertext);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_encrypted_key_decrypts_to_itself() {
    let server = PyKmip::start().await;
    let uid = server.create_key(None).await;
    let kms = server.client();
    let ctx = context(&[("aws:s3:arn", "arn:aws:s3:::bucket/copy")]);
    let key = DataKey::from_bytes(*b"0123456789abcdef0123456789abcdef");
    // A bare uid.
    let wrapped = kms.encrypt(&uid, &key, &ctx).await.unwrap();
    assert_eq!(wrapped.key_arn, format!("kmip:{uid}"));
    let back = kms.decrypt(&wrapped.blob, &ctx).await.unwrap();
    assert!(back.key == key);
    let again = kms.encrypt(&uid, &key, &ctx).await.unwrap();
    assert_ne!(again.blob, wrapped.blob, "a fresh nonce for every Encrypt");
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_are_described_by_uid_and_by_name() {
    let server = PyKmip::start().await;
    let uid = server.create_key(Some("described")).await;
    let kms = server.client();
    for id in [
        uid.clone(),
        format!("kmip:{uid}"),
        "alias/described".into(),
        "described".into(),
    ] {
        let info = kms.describe(&id).await.unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(
            (info.key_id.as_str(), info.arn.as_str(), info.enabled),
            (uid.as_str(), format!("kmip:{uid}").as_str(), true),
            "{id}"
        );
    }
    for unknown in ["kmip:99999", "99999", "alias/nope", "nope"] {
        assert_eq!(
            error(kms.describe(unknown).await),
            KmsError::NotFound(unknown.into()),
            "{unknown}"
        );
        assert_eq!(
            error(kms.generate_data_key(unknown, &EncryptionContext::new()).await),
            KmsError::NotFound(unknown.into()),
            "{unknown}"
        );
    }
    // A name given to two keys is refused, not guessed.
    server.create_key(Some("twice")).await;
    server.create_key(Some("twice")).await;
    assert!(matches!(
        error(kms.describe("alias/twice").await),
        KmsError::Other(m) if m.contains("2 keys are named")
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_that_are_not_active_are_disabled() {
    let server = PyKmip::start().await;
    let kms = server.client();
    let ctx = context(&[("aws:s3:arn", "arn:aws:s3:::bucket/key")]);

    let deactivated = server.create_key(Some("deactivated")).await;
    let blob = kms.generate_data_key(&deactivated, &ctx).await.unwrap().blob;
    kms.revoke_key(&deactivated, false).await.unwrap();
    assert!(!kms.describe("alias/deactivated").await.unwrap().enabled);
    let disabled = KmsError::Disabled(format!("kmip:{deactivated}"));
    assert_eq!(error(kms.generate_data_key("alias/deactivated", &ctx).await), disabled);
    assert_eq!(
        error(kms.decrypt(&blob, &ctx).await),
        disabled,
        "Decrypt checks the state too"
    );

    let compromised = server.create_key(None).await;
    let blob = kms.generate_data_key(&compromised, &ctx).await.unwrap().blob;
    kms.revoke_key(&compromised, true).await.unwrap();
    assert_eq!(
        error(kms.decrypt(&blob, &ctx).await),
        KmsError::Disabled(format!("kmip:{compromised}"))
    );

    let pre_active = kms.create_key(Some("never-activated"), false).await.unwrap();
    assert!(!kms.describe(&pre_active).await.unwrap().enabled);
    assert_eq!(
        error(kms.generate_data_key("alias/never-activated", &ctx).await),
        KmsError::Disabled(format!("kmip:{pre_active}"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn clients_without_a_valid_certificate_are_refused() {
    let server = PyKmip::start().await;
    let uid = server.create_key(Some("owned")).await;
    let ctx = EncryptionContext::new();
    let blob = server.client().generate_data_key(&uid, &ctx).await.unwrap().blob;

    // A certificate from the right CA for another identity: PyKMIP's default policy lets only the owner use a key.
    let other = server.client_as("other_client", Duration::from_secs(10));
    assert!(matches!(
        error(other.generate_data_key(&uid, &ctx).await),
        KmsError::AccessDenied(_)
    ));
    assert!(matches!(
        error(other.decrypt(&blob, &ctx).await),
        KmsError::AccessDenied(_)
    ));

    // Without the clientAuth extended key usage: OpenSSL refuses it in the handshake, before PyKMIP's own check.
    let no_eku = server.client_as("no_eku", Duration::from_secs(10));
    let e = error(no_eku.describe(&uid).await);
    assert!(
        matches!(&e, KmsError::AccessDenied(m) if m.contains("UnsupportedCertificate")),
        "{e:?}"
    );

    // From a CA the server does not trust: the handshake fails with an alert.
    let stranger = server.client_as("stranger", Duration::from_secs(10));
    let e = error(stranger.generate_data_key(&uid, &ctx).await);
    assert!(
        matches!(&e, KmsError::AccessDenied(m) if m.contains("UnknownCA")),
        "{e:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_is_down_or_silent_is_unavailable_within_the_timeout() {
    let server = PyKmip::start().await;
    let settings = |endpoint: String| KmipSettings {
        endpoint,
        server_name: Some("127.0.0.1".into()),
        ca_file: Some(server.dir.join("ca.pem")),
        client_cert: server.dir.join("client.pem"),
        client_key: server.dir.join("client.key"),
        timeout: Duration::from_secs(1),
    };
    let closed = KmipKms::new(settings(format!("127.0.0.1:{}", free_port()))).unwrap();
    let e = error(closed.describe("kmip:1").await);
    assert!(
        matches!(&e, KmsError::Unavailable(m) if m.contains("KMIP GetAttributes")),
        "{e:?}"
    );

    // Accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let kms = KmipKms::new(settings(addr.to_string())).unwrap();
    let started = Instant::now();
    let e = error(kms.generate_data_key("kmip:1", &EncryptionContext::new()).await);
    assert!(
        matches!(&e, KmsError::Unavailable(m) if m.contains("no answer within")),
        "{e:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());

    // The real server, stopped.
    let endpoint = server.endpoint.clone();
    let kms = KmipKms::new(settings(endpoint)).unwrap();
    drop(server);
    let e = error(kms.describe("kmip:1").await);
    assert!(matches!(e, KmsError::Unavailable(_)), "{e:?}");
}

// ------------------------------------------------------------------------------------------------
// The gateway with `[kms] kind = "kmip"`, in front of PyKMIP: SSE-KMS through KMIP end to end.
// ------------------------------------------------------------------------------------------------

const KMS: (&str, &str) = ("x-amz-server-side-encryption", "aws:kms");

#[tokio::test(flavor = "multi_thread")]
async fn gateway_encrypts_with_data_keys_wrapped_by_a_kmip_server() {
    use http::Method;
    let server = PyKmip::start().await;
    let uid = server.create_key(Some("s3-default")).await;
    let other = server.create_key(Some("other")).await;
    let backend = Backend::start();
    let gw = Gateway::start(&backend, &server.gateway_toml("alias/s3-default", ""));
    let bucket = unique_bucket("kmip");
    create_bucket(&gw, &gw.client(), &bucket).await;
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();

    let r = call(&gw, Method::PUT, &format!("/{bucket}/a"), &data, &[KMS]).await;
    r.assert_ok();
    assert_eq!(
        r.header("x-amz-server-side-encryption-aws-kms-key-id"),
        Some(format!("kmip:{uid}").as_str())
    );
    let ctx = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, br#"{"team":"blue"}"#);
    let r = call(
        &gw,
        Method::PUT,
        &format!("/{bucket}/b"),
        &data,
        &[
            KMS,
            ("x-amz-server-side-encryption-aws-kms-key-id", &format!("kmip:{other}")),
            ("x-amz-server-side-encryption-context", &ctx),
        ],
    )
    .await;
    r.assert_ok();
    for (k, want) in [("a", &uid), ("b", &other)] {
        let g = call(&gw, Method::GET, &format!("/{bucket}/{k}"), b"", &[]).await;
        assert_eq!(g.status.as_u16(), 200, "{k}: {}", g.text());
        assert_eq!(g.body.as_ref(), &data[..], "{k}");
        assert_eq!(
            g.header("x-amz-server-side-encryption-aws-kms-key-id"),
            Some(format!("kmip:{want}").as_str())
        );
    }

    // A fresh gateway (nothing cached) reads the objects through KMIP Decrypt.
    let fresh = Gateway::start(&backend, &server.gateway_toml("alias/s3-default", "cache_ttl_secs = 0"));
    let g = call(&fresh, Method::GET, &format!("/{bucket}/b"), b"", &[]).await;
    assert_eq!(g.status.as_u16(), 200, "{}", g.text());
    assert_eq!(g.body.as_ref(), &data[..]);

    let r = call(
        &gw,
        Method::PUT,
        &format!("/{bucket}/missing"),
        b"x",
        &[
            KMS,
            ("x-amz-server-side-encryption-aws-kms-key-id", "alias/does-not-exist"),
        ],
    )
    .await;
    r.assert_error(400, "KMS.NotFoundException");
    backend.assert_absent(&bucket, "missing").await;

    // A revoked key: writes refused as disabled, reads too once nothing is cached; nothing written.
    server.client().revoke_key(&other, false).await.unwrap();
    let r = call(
        &gw,
        Method::PUT,
        &format!("/{bucket}/revoked"),
        b"x",
        &[KMS, ("x-amz-server-side-encryption-aws-kms-key-id", "alias/other")],
    )
    .await;
    r.assert_error(400, "KMS.DisabledException");
    backend.assert_absent(&bucket, "revoked").await;
    call(&fresh, Method::GET, &format!("/{bucket}/b"), b"", &[])
        .await
        .assert_error(400, "KMS.DisabledException");

    // The KMIP server goes away: 503, nothing written.
    drop(server);
    let r = call(&fresh, Method::PUT, &format!("/{bucket}/down"), b"x", &[KMS]).await;
    r.assert_error(503, "ServiceUnavailable");
    backend.assert_absent(&bucket, "down").await;
}
