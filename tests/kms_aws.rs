//! The AWS KMS client (`kms::aws`) against a real implementation of the API on loopback — moto's server, which
//! checks every SigV4 signature — and against what moto cannot play: a KMS that refuses a disabled key, a closed
//! port, and a listener that never answers.
//!
//! What moto 5.2 does, read in its source and checked here: Decrypt authenticates the encryption context (AES-GCM
//! associated data) and answers InvalidCiphertextException; a bad signature or an unknown access key is an XML 403
//! (SignatureDoesNotMatch, InvalidClientTokenId); DisableKey only changes what DescribeKey reports —
//! GenerateDataKey, Encrypt and Decrypt keep working with a disabled key, where AWS answers DisabledException.

mod common;

use std::time::{Duration, Instant};

use common::moto::{Moto, kms_client};
use common::{
    Backend, Gateway, REGION, call_fresh as call, create_bucket, free_port, kms_context as context, kms_error as error,
    unique_bucket,
};
use s3_sse_proxy::crypto::keys::DataKey;
use s3_sse_proxy::kms::{EncryptionContext, Kms, KmsError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[tokio::test(flavor = "multi_thread")]
async fn generated_keys_decrypt_with_their_context_only() {
    let moto = Moto::start().await;
    let (_, arn) = moto.create_key(Some("alias/s3sp-round-trip")).await;
    let kms = moto.kms();
    let ctx = context(&[("aws:s3:arn", "arn:aws:s3:::bucket/key"), ("purpose", "test")]);

    let generated = kms.generate_data_key("alias/s3sp-round-trip", &ctx).await.unwrap();
    assert_eq!(
        generated.key_arn, arn,
        "GenerateDataKey names the key by ARN, not by alias"
    );
    assert!(!generated.blob.is_empty());
    let decrypted = kms.decrypt(&generated.blob, &ctx).await.unwrap();
    assert!(decrypted.key == generated.key, "Decrypt gives back the generated key");
    assert_eq!(decrypted.key_arn, arn);
    let other = kms.generate_data_key(&arn, &ctx).await.unwrap();
    assert!(other.key != generated.key, "each call makes a fresh key");

    // moto binds the context as associated data: any other context fails, as with AWS.
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
    assert_eq!(
        error(kms.decrypt(b"not a blob", &ctx).await),
        KmsError::InvalidCiphertext
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_encrypted_key_decrypts_to_itself() {
    let moto = Moto::start().await;
    let (id, arn) = moto.create_key(None).await;
    let kms = moto.kms();
    let ctx = context(&[("aws:s3:arn", "arn:aws:s3:::bucket/copy")]);
    let key = DataKey::from_bytes(*b"0123456789abcdef0123456789abcdef");

    for key_id in [&id, &arn] {
        let wrapped = kms.encrypt(key_id, &key, &ctx).await.unwrap();
        assert_eq!(wrapped.key_arn, arn);
        let unwrapped = kms.decrypt(&wrapped.blob, &ctx).await.unwrap();
        assert!(unwrapped.key == key, "Decrypt gives back the encrypted key");
        assert_eq!(unwrapped.key_arn, arn);
        assert_eq!(
            error(kms.decrypt(&wrapped.blob, &EncryptionContext::new()).await),
            KmsError::InvalidCiphertext
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_are_described_by_id_arn_and_alias() {
    let moto = Moto::start().await;
    let (id, arn) = moto.create_key(Some("alias/s3sp-describe")).await;
    let alias_arn = arn.replace(&format!("key/{id}"), "alias/s3sp-describe");
    let kms = moto.kms();
    for key_id in [id.as_str(), &arn, "alias/s3sp-describe", &alias_arn] {
        let info = kms.describe(key_id).await.unwrap();
        assert_eq!(
            (info.key_id.as_str(), info.arn.as_str(), info.enabled),
            (id.as_str(), arn.as_str(), true),
            "{key_id}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_keys_are_not_found() {
    let moto = Moto::start().await;
    moto.create_key(Some("alias/s3sp-exists")).await;
    let kms = moto.kms();
    let ctx = context(&[("aws:s3:arn", "arn:aws:s3:::bucket/key")]);
    let missing = "0f0e0d0c-0b0a-4909-8807-060504030201";
    let missing_arn = format!("arn:aws:kms:{REGION}:123456789012:key/{missing}");
    for key_id in [missing, &missing_arn, "alias/s3sp-missing"] {
        let not_found = KmsError::NotFound(key_id.to_owned());
        assert_eq!(error(kms.generate_data_key(key_id, &ctx).await), not_found);
        assert_eq!(error(kms.describe(key_id).await), not_found);
        let key = DataKey::generate();
        assert_eq!(error(kms.encrypt(key_id, &key, &ctx).await), not_found);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn disabled_keys_as_moto_treats_them() {
    let moto = Moto::start().await;
    let (id, arn) = moto.create_key(Some("alias/s3sp-disabled")).await;
    let kms = moto.kms();
    let ctx = context(&[("aws:s3:arn", "arn:aws:s3:::bucket/key")]);
    let before = kms.generate_data_key(&id, &ctx).await.unwrap();

    moto.disable_key(&id).await;
    let info = kms.describe("alias/s3sp-disabled").await.unwrap();
    assert_eq!((info.arn.as_str(), info.enabled), (arn.as_str(), false));

    // AWS refuses a disabled key with DisabledException (→ Disabled: `disabled_exception_is_disabled` below).
    // moto 5.2 ignores the key state here (read in its source, seen in this test): the calls succeed. Accept
    // exactly these two outcomes, so that a moto that starts refusing disabled keys keeps this test meaningful.
    match kms.generate_data_key(&id, &ctx).await {
        Ok(g) => assert_eq!(g.key_arn, arn),
        Err(e) => assert!(matches!(&e, KmsError::Disabled(a) if a == &arn || a == &id), "{e:?}"),
    }
    match kms.decrypt(&before.blob, &ctx).await {
        Ok(d) => assert!(d.key == before.key),
        Err(e) => assert!(matches!(&e, KmsError::Disabled(a) if a == &arn), "{e:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_credentials_are_access_denied() {
    let moto = Moto::start().await;
    let (id, _) = moto.create_key(None).await;
    let ctx = context(&[("aws:s3:arn", "arn:aws:s3:::bucket/key")]);
    let good = moto.kms().generate_data_key(&id, &ctx).await.unwrap();

    // A wrong secret (SignatureDoesNotMatch) and an unknown access key (InvalidClientTokenId).
    for kms in [
        moto.kms_signing_as(&moto.access_key_id, "wrong-secret-key/0123456789abcdefghijklmn"),
        moto.kms_signing_as("AKIAUNKNOWNKEY000000", "wrong-secret-key/0123456789abcdefghijklmn"),
    ] {
        for e in [
            error(kms.generate_data_key(&id, &ctx).await),
            error(kms.decrypt(&good.blob, &ctx).await),
            error(kms.describe(&id).await),
        ] {
            assert!(matches!(&e, KmsError::AccessDenied(m) if !m.is_empty()), "{e:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_kms_is_unavailable_at_once() {
    let port = free_port(); // nothing listens there
    let timeout = Duration::from_secs(5);
    let kms = kms_client(&format!("http://127.0.0.1:{port}"), "AK", "SK", timeout);
    let started = Instant::now();
    let e = error(kms.generate_data_key("alias/aws/s3", &EncryptionContext::new()).await);
    assert!(matches!(&e, KmsError::Unavailable(_)), "{e:?}");
    assert!(
        started.elapsed() < timeout,
        "a refused connection waited {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_kms_is_unavailable_after_the_timeout() {
    let timeout = Duration::from_millis(1500);
    // One listener that accepts and never answers, one that sends headers and then only part of the body.
    for answer in [
        None,
        Some(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"Plaintext\":".as_slice()),
    ] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let mut held = Vec::new();
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                if let Some(answer) = answer {
                    read_request(&mut stream).await;
                    stream.write_all(answer).await.unwrap();
                }
                held.push(stream);
            }
        });
        let kms = kms_client(&endpoint, "AK", "SK", timeout);
        let started = Instant::now();
        let e = error(kms.decrypt(b"blob", &EncryptionContext::new()).await);
        let waited = started.elapsed();
        assert!(
            matches!(&e, KmsError::Unavailable(m) if m.contains("no answer within")),
            "{e:?}"
        );
        assert!(
            waited >= timeout && waited < timeout + Duration::from_secs(2),
            "waited {waited:?}"
        );
        server.abort();
    }
}

/// A KMS that answers every request with `status` and `body`; what it received is sent on the channel.
async fn canned_kms(status: &'static str, body: String) -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let request = read_request(&mut stream).await;
            let _ = tx.send(request);
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
        }
    });
    (endpoint, rx)
}

/// Read one HTTP/1.1 request with a `Content-Length` body.
async fn read_request(stream: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "client closed before the request ended");
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_owned())
                })
                .map_or(0, |v| v.parse().unwrap());
            if buf.len() >= end + 4 + length {
                return text;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn disabled_exception_is_disabled() {
    let arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let (endpoint, mut requests) = canned_kms(
        "400 Bad Request",
        format!(r#"{{"__type":"DisabledException","message":"{arn} is disabled."}}"#),
    )
    .await;
    let kms = kms_client(&endpoint, "AKIDEXAMPLE", "SK", Duration::from_secs(5));
    let ctx = context(&[("aws:s3:arn", "arn:aws:s3:::bucket/key")]);
    assert_eq!(
        error(kms.generate_data_key("alias/aws/s3", &ctx).await),
        KmsError::Disabled(arn.to_owned())
    );

    // The request as AWS documents it, signed for `kms` in the configured region.
    let request = requests.recv().await.unwrap();
    let lower = request.to_ascii_lowercase();
    assert!(request.starts_with("POST / HTTP/1.1\r\n"), "{request}");
    assert!(
        lower.contains("\r\nx-amz-target: trentservice.generatedatakey\r\n"),
        "{request}"
    );
    assert!(
        lower.contains("\r\ncontent-type: application/x-amz-json-1.1\r\n"),
        "{request}"
    );
    assert!(
        lower.contains("credential=akidexample/") && lower.contains(&format!("/{REGION}/kms/aws4_request")),
        "{request}"
    );
    let body: serde_json::Value = serde_json::from_str(&request[request.find("\r\n\r\n").unwrap() + 4..]).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "KeyId": "alias/aws/s3",
            "KeySpec": "AES_256",
            "EncryptionContext": {"aws:s3:arn": "arn:aws:s3:::bucket/key"}
        })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn server_errors_and_oversized_answers_are_refused() {
    let (endpoint, _) = canned_kms("503 Service Unavailable", String::new()).await;
    let kms = kms_client(&endpoint, "AK", "SK", Duration::from_secs(5));
    let e = error(kms.describe("alias/aws/s3").await);
    assert_eq!(e, KmsError::Unavailable("HTTP 503".into()));

    let (endpoint, _) = canned_kms("200 OK", format!(r#"{{"Plaintext":"{}"}}"#, "A".repeat(100_000))).await;
    let kms = kms_client(&endpoint, "AK", "SK", Duration::from_secs(5));
    let e = error(kms.decrypt(b"blob", &EncryptionContext::new()).await);
    assert!(matches!(&e, KmsError::Other(m) if m.contains("larger than")), "{e:?}");
}

// ------------------------------------------------------------------------------------------------
// The gateway with `[kms] kind = "aws"`, in front of moto's KMS: SSE-KMS through the real API end to end.
// ------------------------------------------------------------------------------------------------

const KMS: (&str, &str) = ("x-amz-server-side-encryption", "aws:kms");

#[tokio::test(flavor = "multi_thread")]
async fn gateway_encrypts_with_data_keys_from_the_aws_kms_api() {
    use http::Method;
    let moto = Moto::start().await;
    let (id, arn) = moto.create_key(Some("alias/s3-default")).await;
    let (_, other_arn) = moto.create_key(Some("alias/other")).await;
    let backend = Backend::start();
    let gw = Gateway::start(&backend, &moto.gateway_toml("alias/s3-default", ""));
    let bucket = unique_bucket("awskms");
    create_bucket(&gw, &gw.client(), &bucket).await;
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();

    // The default key (an alias), then a key by id, with a context and a bucket key.
    let r = call(&gw, Method::PUT, &format!("/{bucket}/a"), &data, &[KMS]).await;
    r.assert_ok();
    assert_eq!(
        r.header("x-amz-server-side-encryption-aws-kms-key-id"),
        Some(arn.as_str())
    );
    let ctx = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, br#"{"team":"blue"}"#);
    let r = call(
        &gw,
        Method::PUT,
        &format!("/{bucket}/b"),
        &data,
        &[
            KMS,
            ("x-amz-server-side-encryption-aws-kms-key-id", "alias/other"),
            ("x-amz-server-side-encryption-context", &ctx),
            ("x-amz-server-side-encryption-bucket-key-enabled", "true"),
        ],
    )
    .await;
    r.assert_ok();
    assert_eq!(
        r.header("x-amz-server-side-encryption-aws-kms-key-id"),
        Some(other_arn.as_str())
    );
    assert_eq!(
        r.header("x-amz-server-side-encryption-bucket-key-enabled"),
        Some("true")
    );
    for (k, want_arn) in [("a", &arn), ("b", &other_arn)] {
        let g = call(&gw, Method::GET, &format!("/{bucket}/{k}"), b"", &[]).await;
        assert_eq!(g.status.as_u16(), 200, "{k}: {}", g.text());
        assert_eq!(g.body.as_ref(), &data[..], "{k}");
        assert_eq!(
            g.header("x-amz-server-side-encryption-aws-kms-key-id"),
            Some(want_arn.as_str())
        );
    }
    let calls = gw
        .metric_value("s3_sse_proxy_kms_requests_total{operation=\"GenerateDataKey\",result=\"ok\"}")
        .await;
    assert_eq!(calls, 2.0, "one GenerateDataKey per PUT (the second one a bucket key)");

    // A re-key copy onto itself through the API's Encrypt.
    let r = call(
        &gw,
        Method::PUT,
        &format!("/{bucket}/a"),
        b"",
        &[
            ("x-amz-copy-source", &format!("/{bucket}/a")),
            ("x-amz-metadata-directive", "REPLACE"),
            KMS,
            ("x-amz-server-side-encryption-aws-kms-key-id", &id),
        ],
    )
    .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text());

    // Errors as S3 gives them, nothing written.
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

    // A tampered context at the backend: moto refuses to decrypt; the client gets 403 (no cache: fresh gateway).
    let fresh = Gateway::start(&backend, &moto.gateway_toml("alias/s3-default", "cache_ttl_secs = 0"));
    let meta = common::metadata_file(&backend, &bucket, "b");
    let text = std::fs::read_to_string(&meta).unwrap();
    assert!(text.contains(&ctx), "{text}");
    let other_ctx = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, br#"{"team":"gold"}"#);
    std::fs::write(&meta, text.replace(&ctx, &other_ctx)).unwrap();
    call(&fresh, Method::GET, &format!("/{bucket}/b"), b"", &[])
        .await
        .assert_error(403, "AccessDenied");
    std::fs::write(&meta, text).unwrap();
    assert_eq!(
        call(&fresh, Method::GET, &format!("/{bucket}/b"), b"", &[])
            .await
            .status
            .as_u16(),
        200
    );

    // The gateway's KMS credentials refused: 403, nothing written.
    let wrong = moto.gateway_toml("alias/s3-default", "").replace(
        &format!("access_key_id = \"{}\"", moto.access_key_id),
        "access_key_id = \"AKIAWRONGWRONGWRONG1\"",
    );
    let denied = Gateway::start(&backend, &wrong);
    let r = call(&denied, Method::PUT, &format!("/{bucket}/denied"), b"x", &[KMS]).await;
    r.assert_error(403, "AccessDenied");
    backend.assert_absent(&bucket, "denied").await;

    // The KMS goes away: 503 for writes and for reads the cache cannot serve; nothing written.
    drop(moto);
    let r = call(&fresh, Method::PUT, &format!("/{bucket}/down"), b"x", &[KMS]).await;
    r.assert_error(503, "ServiceUnavailable");
    backend.assert_absent(&bucket, "down").await;
    call(&fresh, Method::GET, &format!("/{bucket}/a"), b"", &[])
        .await
        .assert_error(503, "ServiceUnavailable");
    // SSE-S3 does not need the KMS.
    call(&fresh, Method::PUT, &format!("/{bucket}/s3"), b"x", &[])
        .await
        .assert_ok();
}

/// A key disabled at the KMS stops working on this instance within `[kms] key_check_secs`, however long the key
/// cache would keep its keys: the first use of a cached data key (a GET) or bucket key (a bucket-key PUT) after
/// the interval asks the KMS (DescribeKey), which reports the key disabled, and is refused with S3's
/// `KMS.DisabledException`, nothing stored; enabled again, the key serves again. Until then the cache serves
/// without a KMS call per request: at most one DescribeKey per key and interval. (moto's Decrypt and
/// GenerateDataKey ignore a key's state, see the top of this file, so here only the check refuses; against AWS,
/// and the local KMS (`tests/kms.rs`), the KMS refuses every later call too.)
#[tokio::test(flavor = "multi_thread")]
async fn a_key_disabled_at_the_kms_stops_serving_cached_keys_within_the_check_interval() {
    use http::Method;
    const CHECK: Duration = Duration::from_secs(2);
    let moto = Moto::start().await;
    let (read_id, _) = moto.create_key(Some("alias/s3-default")).await;
    let (write_id, _) = moto.create_key(Some("alias/bucket-keys")).await;
    let backend = Backend::start();
    let toml = moto.gateway_toml("alias/s3-default", "cache_ttl_secs = 300\nkey_check_secs = 2");
    let gw = Gateway::start(&backend, &toml);
    let bucket = unique_bucket("kms-check");
    create_bucket(&gw, &gw.client(), &bucket).await;
    let data = vec![7u8; 1000];
    let path = |k: &str| format!("/{bucket}/{k}");
    let bucket_key = [
        KMS,
        ("x-amz-server-side-encryption-aws-kms-key-id", "alias/bucket-keys"),
        ("x-amz-server-side-encryption-bucket-key-enabled", "true"),
    ];
    call(&gw, Method::PUT, &path("a"), &data, &[KMS]).await.assert_ok();
    call(&gw, Method::PUT, &path("bk-1"), &data, &bucket_key)
        .await
        .assert_ok();

    // Served from the cache: 40 GETs and bucket-key PUTs within one interval ask the KMS nothing.
    let describes = || gw.metric_value("s3_sse_proxy_kms_requests_total{operation=\"DescribeKey\",result=\"ok\"}");
    let started = Instant::now();
    for i in 0..20 {
        call(&gw, Method::GET, &path("a"), b"", &[]).await.assert_ok();
        call(&gw, Method::PUT, &path(&format!("bk-{i}")), &data, &bucket_key)
            .await
            .assert_ok();
    }
    if started.elapsed() < CHECK {
        assert_eq!(
            describes().await,
            0.0,
            "the KMS's own answers (PUT) confirmed both keys"
        );
    }

    moto.disable_key(&read_id).await;
    moto.disable_key(&write_id).await;
    tokio::time::sleep(CHECK + Duration::from_millis(300)).await;
    call(&gw, Method::GET, &path("a"), b"", &[])
        .await
        .assert_error(400, "KMS.DisabledException");
    call(&gw, Method::PUT, &path("refused"), &data, &bucket_key)
        .await
        .assert_error(400, "KMS.DisabledException");
    backend.assert_absent(&bucket, "refused").await;
    let disabled = gw
        .metric_value("s3_sse_proxy_kms_requests_total{operation=\"DescribeKey\",result=\"ok\"}")
        .await;
    assert!(
        disabled <= 4.0,
        "one DescribeKey per key (and one per alias resolved): {disabled}"
    );

    moto.enable_key(&read_id).await;
    tokio::time::sleep(CHECK + Duration::from_millis(300)).await;
    let g = call(&gw, Method::GET, &path("a"), b"", &[]).await;
    assert_eq!(g.status.as_u16(), 200, "enabled again: {}", g.text());
    assert_eq!(g.body.as_ref(), &data[..]);
}

/// What the check costs: under a steady stream of GETs served from the key cache, the KMS is asked at most once
/// per key and `key_check_secs` (DescribeKey), never per request; the numbers are printed for BENCHMARKS.md.
#[tokio::test(flavor = "multi_thread")]
async fn cached_keys_cost_at_most_one_describe_key_per_key_and_interval() {
    use http::Method;
    const KEYS: usize = 3;
    const RUN: Duration = Duration::from_secs(6);
    let moto = Moto::start().await;
    for i in 0..KEYS {
        moto.create_key(Some(&format!("alias/k{i}"))).await;
    }
    let backend = Backend::start();
    let gw = Gateway::start(
        &backend,
        &moto.gateway_toml("alias/k0", "cache_ttl_secs = 300\nkey_check_secs = 1"),
    );
    let bucket = unique_bucket("kms-check-cost");
    create_bucket(&gw, &gw.client(), &bucket).await;
    for i in 0..KEYS {
        let alias = format!("alias/k{i}");
        let h = [KMS, ("x-amz-server-side-encryption-aws-kms-key-id", alias.as_str())];
        call(&gw, Method::PUT, &format!("/{bucket}/o{i}"), &[1u8; 100], &h)
            .await
            .assert_ok();
    }
    let metric = |op: &str| {
        let name = format!("s3_sse_proxy_kms_requests_total{{operation=\"{op}\",result=\"ok\"}}");
        let gw = &gw;
        async move { gw.metric_value(&name).await }
    };
    let started = Instant::now();
    let mut gets = 0usize;
    while started.elapsed() < RUN {
        call(&gw, Method::GET, &format!("/{bucket}/o{}", gets % KEYS), b"", &[])
            .await
            .assert_ok();
        gets += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    let (describe, decrypt) = (metric("DescribeKey").await, metric("Decrypt").await);
    println!(
        "{gets} GETs over {secs:.1} s, {KEYS} keys, key_check_secs = 1: {describe} DescribeKey, {decrypt} Decrypt \
         ({:.1} DescribeKey per key and minute)",
        describe / KEYS as f64 / secs * 60.0
    );
    assert!(gets > 3 * KEYS, "the run made few requests: {gets}");
    assert_eq!(decrypt, 0.0, "every GET was served from the cache");
    let bound = (KEYS as f64) * (secs.ceil() + 1.0);
    assert!(describe <= bound, "{describe} DescribeKey > {bound}");
    assert!(
        describe >= KEYS as f64,
        "each key was checked at least once in {secs:.1} s: {describe}"
    );
}
