//! SSE-KMS end to end with the local KMS (the quick start's default): what a client sees (headers, bodies,
//! errors), what the backend holds (no plaintext, no key material), the audit trail, and how bucket keys and
//! the key cache cut KMS calls. The AWS KMS API implementation is tested against moto in `kms_aws.rs`.

mod common;

use std::os::unix::fs::PermissionsExt as _;

use base64::Engine as _;
use common::*;
use http::{Method, StatusCode};

const MIB: usize = 1024 * 1024;
const MARKER: &[u8] = b"KMS-PLAINTEXT-MARKER-7c1e";

fn body(len: usize, seed: usize) -> Vec<u8> {
    (seed..seed + len).map(|i| MARKER[i % MARKER.len()]).collect()
}

const KMS: (&str, &str) = ("x-amz-server-side-encryption", "aws:kms");

async fn kms_calls(gw: &Gateway, op: &str) -> f64 {
    gw.metric_value(&format!(
        "s3_sse_proxy_kms_requests_total{{operation=\"{op}\",result=\"ok\"}}"
    ))
    .await
}

#[tokio::test(flavor = "multi_thread")]
#[allow(clippy::too_many_lines, reason = "one scenario, read top to bottom")]
async fn sse_kms_objects_round_trip_and_are_audited() {
    let s = Stack::start();
    let c = s.gw.client();
    let bucket = unique_bucket("kms");
    create_bucket(&s.gw, &c, &bucket).await;
    let data = body(300_000, 0);
    let path = format!("/{bucket}/doc");

    let r = call(&s.gw, &c, Method::PUT, &path, data.clone(), &[KMS]).await;
    r.assert_ok();
    assert_eq!(r.header("x-amz-server-side-encryption"), Some("aws:kms"));
    let arn = r
        .header("x-amz-server-side-encryption-aws-kms-key-id")
        .expect("key ARN")
        .to_owned();
    assert!(arn.starts_with("arn:aws:kms:") && arn.contains(":key/"), "{arn}");
    let listed = kms_admin(&s.gw, &["list"]);
    assert!(
        listed.contains(&arn) && listed.contains("alias/aws/s3"),
        "the default key: {listed}"
    );
    let etag = r.header("etag").unwrap().to_owned();
    let put_request_id = r.header("x-amz-request-id").unwrap().to_owned();

    let g = call(&s.gw, &c, Method::GET, &path, "", &[]).await;
    g.assert_ok();
    assert_eq!(g.body.as_ref(), &data[..], "GET returns the plaintext");
    assert_eq!(g.header("x-amz-server-side-encryption"), Some("aws:kms"));
    assert_eq!(
        g.header("x-amz-server-side-encryption-aws-kms-key-id"),
        Some(arn.as_str())
    );
    assert_eq!(g.header("etag"), Some(etag.as_str()));
    let h = call(&s.gw, &c, Method::HEAD, &path, "", &[]).await;
    assert_eq!(h.header("content-length"), Some("300000"));
    assert_eq!(h.header("x-amz-server-side-encryption"), Some("aws:kms"));
    let g = call(&s.gw, &c, Method::GET, &path, "", &[("range", "bytes=65530-70000")]).await;
    assert_eq!(g.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(g.body.as_ref(), &data[65530..=70000]);

    // A named key, by alias, and an encryption context, echoed as S3 does.
    let id = kms_admin(&s.gw, &["create-key", "--alias", "alias/team-a"])
        .trim()
        .to_owned();
    let ctx = b64(br#"{"department":"finance"}"#);
    let r = call(
        &s.gw,
        &c,
        Method::PUT,
        &format!("/{bucket}/finance"),
        data.clone(),
        &[
            KMS,
            ("x-amz-server-side-encryption-aws-kms-key-id", "alias/team-a"),
            ("x-amz-server-side-encryption-context", &ctx),
        ],
    )
    .await;
    r.assert_ok();
    let team_arn = r
        .header("x-amz-server-side-encryption-aws-kms-key-id")
        .unwrap()
        .to_owned();
    assert!(team_arn.ends_with(&format!("key/{id}")), "{team_arn}");
    assert_eq!(r.header("x-amz-server-side-encryption-context"), Some(ctx.as_str()));
    let g = call(&s.gw, &c, Method::GET, &format!("/{bucket}/finance"), "", &[]).await;
    assert_eq!(g.body.as_ref(), &data[..]);
    assert_eq!(
        g.header("x-amz-server-side-encryption-aws-kms-key-id"),
        Some(team_arn.as_str())
    );

    // Multipart: Create names the key; parts and Complete carry no SSE headers.
    let key = "mp";
    let r = call(&s.gw, &c, Method::POST, &format!("/{bucket}/{key}?uploads"), "", &[KMS]).await;
    r.assert_ok();
    assert_eq!(r.header("x-amz-server-side-encryption"), Some("aws:kms"));
    let upload = r.xml_tag("UploadId").unwrap();
    let enc = |v: &str| percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string();
    let parts = [body(5 * MIB + 17, 1), body(1000, 2)];
    let mut etags = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let r = call(
            &s.gw,
            &c,
            Method::PUT,
            &format!("/{bucket}/{key}?partNumber={}&uploadId={}", i + 1, enc(&upload)),
            p.clone(),
            &[],
        )
        .await;
        r.assert_ok();
        assert_eq!(r.header("x-amz-server-side-encryption"), Some("aws:kms"));
        etags.push(r.header("etag").unwrap().to_owned());
    }
    let xml = format!(
        "<CompleteMultipartUpload>{}</CompleteMultipartUpload>",
        etags
            .iter()
            .enumerate()
            .map(|(i, e)| format!("<Part><PartNumber>{}</PartNumber><ETag>{e}</ETag></Part>", i + 1))
            .collect::<String>()
    );
    let r = call(
        &s.gw,
        &c,
        Method::POST,
        &format!("/{bucket}/{key}?uploadId={}", enc(&upload)),
        xml,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "Complete: {}", r.text());
    let g = call(&s.gw, &c, Method::GET, &format!("/{bucket}/{key}"), "", &[]).await;
    assert_eq!(g.body.as_ref(), &parts.concat()[..], "multipart SSE-KMS object");
    assert_eq!(g.header("x-amz-server-side-encryption"), Some("aws:kms"));

    // The backend holds neither plaintext nor key material.
    let leaks = files_containing(&s.backend.root, MARKER);
    assert!(leaks.is_empty(), "plaintext at the backend: {leaks:?}");
    let masters = local_master_keys(&s.gw);
    assert!(masters.len() >= 2, "master keys: {}", masters.len());
    for m in &masters {
        assert!(
            files_containing(&s.backend.root, m.as_bytes()).is_empty(),
            "a master key at the backend"
        );
        let raw = base64::engine::general_purpose::STANDARD.decode(m).unwrap();
        assert!(
            files_containing(&s.backend.root, &raw).is_empty(),
            "a raw master key at the backend"
        );
    }
    let meta = std::fs::read_to_string(metadata_file(&s.backend, &bucket, "doc")).unwrap();
    assert!(meta.contains("m=KMS;"), "the envelope is an SSE-KMS one: {meta}");

    // The audit trail: one line per key use, with principal, key, object and request id; no secrets.
    let log = s.gw.log();
    let audit: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("audit") && l.contains("key use"))
        .collect();
    let put_line = audit
        .iter()
        .find(|l| l.contains(&put_request_id))
        .unwrap_or_else(|| panic!("no audit line for the PUT {put_request_id}: {audit:#?}"));
    for want in ["GenerateDataKey", &arn, &bucket, "\"doc\"", "result", "ok", "principal"] {
        assert!(put_line.contains(want), "audit line lacks {want}: {put_line}");
    }
    assert!(
        audit.iter().any(|l| l.contains("Decrypt") && l.contains("\"mp\"")),
        "{audit:#?}"
    );
    for secret in masters.iter().map(String::as_str).chain([CLIENT.sk, BACKEND_SK]) {
        assert!(!log.contains(secret), "a secret in the gateway log");
    }
}

/// SSE-KMS's headers without `aws:kms` (alone, or with AES256): 400 InvalidArgument, as S3 answers; nothing stored.
#[tokio::test(flavor = "multi_thread")]
async fn kms_headers_without_aws_kms_are_refused_as_s3_does() {
    let s = Stack::start();
    let c = s.gw.client();
    let bucket = unique_bucket("kms-hdr");
    create_bucket(&s.gw, &c, &bucket).await;
    let path = |k: &str| format!("/{bucket}/{k}");
    let context = b64(br#"{"a":"b"}"#);
    for (name, headers) in [
        (
            "keyid-only",
            vec![("x-amz-server-side-encryption-aws-kms-key-id", "alias/aws/s3")],
        ),
        (
            "context-only",
            vec![("x-amz-server-side-encryption-context", context.as_str())],
        ),
        (
            "aes-keyid",
            vec![
                ("x-amz-server-side-encryption", "AES256"),
                ("x-amz-server-side-encryption-aws-kms-key-id", "alias/aws/s3"),
            ],
        ),
        (
            "aes-context",
            vec![
                ("x-amz-server-side-encryption", "AES256"),
                ("x-amz-server-side-encryption-context", context.as_str()),
            ],
        ),
    ] {
        let r = call(&s.gw, &c, Method::PUT, &path(name), "x", &headers).await;
        r.assert_error(400, "InvalidArgument");
        assert!(
            r.text()
                .contains("requires HTTP header x-amz-server-side-encryption : aws:kms"),
            "{name}: {}",
            r.text()
        );
        s.backend.assert_absent(&bucket, name).await;
    }
}

/// A write that asks for `aws:kms:dsse`: (operation, method, path, headers).
type DsseWrite<'a> = (&'a str, Method, String, Vec<(&'a str, &'a str)>);

#[tokio::test(flavor = "multi_thread")]
async fn kms_failures_are_the_errors_s3_returns_and_write_nothing() {
    // No key cache: every request asks the KMS, so a disabled key takes effect at once.
    let s = Stack::start_with("[kms]\ncache_ttl_secs = 0\n");
    let c = s.gw.client();
    let bucket = unique_bucket("kms-err");
    create_bucket(&s.gw, &c, &bucket).await;
    let path = |k: &str| format!("/{bucket}/{k}");

    let r = call(
        &s.gw,
        &c,
        Method::PUT,
        &path("nokey"),
        "x",
        &[KMS, ("x-amz-server-side-encryption-aws-kms-key-id", "alias/missing")],
    )
    .await;
    r.assert_error(400, "KMS.NotFoundException");
    s.backend.assert_absent(&bucket, "nokey").await;

    for (name, value, code, status) in [
        (
            "x-amz-server-side-encryption-context",
            "not base64 json",
            "InvalidArgument",
            400,
        ),
        (
            "x-amz-server-side-encryption-context",
            &b64(b"[1,2]"),
            "InvalidArgument",
            400,
        ),
        (
            "x-amz-server-side-encryption-context",
            &b64(br#"{"aws:s3:arn":"x"}"#),
            "InvalidArgument",
            400,
        ),
    ] {
        let r = call(&s.gw, &c, Method::PUT, &path("badctx"), "x", &[KMS, (name, value)]).await;
        r.assert_error(status, code);
    }
    s.backend.assert_absent(&bucket, "badctx").await;
    // aws:kms:dsse is an encryption method the gateway does not support: S3's 400 for one, whatever the write,
    // and nothing stored (never an object under another mode).
    call(&s.gw, &c, Method::PUT, &path("dsse-src"), "source", &[])
        .await
        .assert_ok();
    let dsse = ("x-amz-server-side-encryption", "aws:kms:dsse");
    let src = path("dsse-src");
    let writes: [DsseWrite; 3] = [
        ("PutObject", Method::PUT, path("dsse"), vec![dsse]),
        (
            "CreateMultipartUpload",
            Method::POST,
            format!("{}?uploads", path("dsse")),
            vec![dsse],
        ),
        (
            "CopyObject",
            Method::PUT,
            path("dsse"),
            vec![dsse, ("x-amz-copy-source", src.as_str())],
        ),
    ];
    for (what, method, p, h) in writes {
        let r = call(&s.gw, &c, method, &p, if what == "PutObject" { "x" } else { "" }, &h).await;
        r.assert_error_message(
            400,
            "InvalidArgument",
            "The encryption method specified is not supported",
            what,
        );
    }
    s.backend.assert_absent(&bucket, "dsse").await;

    // An object under the default key, then the key is disabled.
    call(&s.gw, &c, Method::PUT, &path("before"), body(1000, 0), &[KMS])
        .await
        .assert_ok();
    kms_admin(&s.gw, &["disable", "alias/aws/s3"]);
    let r = call(&s.gw, &c, Method::PUT, &path("after"), "x", &[KMS]).await;
    r.assert_error(400, "KMS.DisabledException");
    s.backend.assert_absent(&bucket, "after").await;
    let r = call(
        &s.gw,
        &c,
        Method::POST,
        &format!("{}?uploads", path("after-mp")),
        "",
        &[KMS],
    )
    .await;
    r.assert_error(400, "KMS.DisabledException");
    let r = call(&s.gw, &c, Method::GET, &path("before"), "", &[]).await;
    r.assert_error(400, "KMS.DisabledException");
    assert!(!r.text().contains("KMS-PLAINTEXT"), "nothing of the object is served");
    kms_admin(&s.gw, &["enable", "alias/aws/s3"]);
    let r = call(&s.gw, &c, Method::GET, &path("before"), "", &[]).await;
    assert_eq!(r.body.as_ref(), &body(1000, 0)[..], "readable again once enabled");

    // A tampered encryption context in the backend metadata: the KMS refuses, the client gets 403.
    let ctx = b64(br#"{"project":"a"}"#);
    call(
        &s.gw,
        &c,
        Method::PUT,
        &path("ctx"),
        body(1000, 1),
        &[KMS, ("x-amz-server-side-encryption-context", &ctx)],
    )
    .await
    .assert_ok();
    let meta = metadata_file(&s.backend, &bucket, "ctx");
    let text = std::fs::read_to_string(&meta).unwrap();
    let stored = b64(br#"{"project":"a"}"#);
    assert!(text.contains(&stored), "context stored in the envelope: {text}");
    std::fs::write(&meta, text.replace(&stored, &b64(br#"{"project":"b"}"#))).unwrap();
    call(&s.gw, &c, Method::GET, &path("ctx"), "", &[])
        .await
        .assert_error(403, "AccessDenied");

    // The audit trail records refusals too.
    let log = s.gw.log();
    assert!(
        log.lines().any(|l| l.contains("key use") && l.contains("Disabled")),
        "audit line for the disabled key"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bucket_keys_cut_kms_calls() {
    let s = Stack::start();
    let c = s.gw.client();
    let bucket = unique_bucket("kms-bk");
    create_bucket(&s.gw, &c, &bucket).await;
    let bk = ("x-amz-server-side-encryption-bucket-key-enabled", "true");
    let before = kms_calls(&s.gw, "GenerateDataKey").await;
    for i in 0..20 {
        let r = call(
            &s.gw,
            &c,
            Method::PUT,
            &format!("/{bucket}/bk-{i}"),
            body(100, i),
            &[KMS, bk],
        )
        .await;
        r.assert_ok();
        assert_eq!(
            r.header("x-amz-server-side-encryption-bucket-key-enabled"),
            Some("true")
        );
    }
    let with_bucket_key = kms_calls(&s.gw, "GenerateDataKey").await - before;
    for i in 0..20 {
        call(
            &s.gw,
            &c,
            Method::PUT,
            &format!("/{bucket}/each-{i}"),
            body(100, i),
            &[KMS],
        )
        .await
        .assert_ok();
    }
    let without = kms_calls(&s.gw, "GenerateDataKey").await - before - with_bucket_key;
    assert_eq!(with_bucket_key, 1.0, "one bucket key for 20 PUTs");
    assert_eq!(without, 20.0, "one data key per PUT without a bucket key");
    for i in 0..20 {
        let g = call(&s.gw, &c, Method::GET, &format!("/{bucket}/bk-{i}"), "", &[]).await;
        assert_eq!(g.body.as_ref(), &body(100, i)[..]);
        assert_eq!(
            g.header("x-amz-server-side-encryption-bucket-key-enabled"),
            Some("true")
        );
    }
    assert_eq!(
        kms_calls(&s.gw, "Decrypt").await,
        0.0,
        "reads of fresh objects use the cached keys"
    );
    let hits =
        s.gw.metric_value("s3_sse_proxy_kms_key_cache_lookups_total{result=\"hit\"}")
            .await;
    assert!(hits >= 39.0, "cache hits counted: {hits}");
}

#[tokio::test(flavor = "multi_thread")]
async fn copies_between_modes_and_kms_keys() {
    let s = Stack::start();
    let c = s.gw.client();
    let bucket = unique_bucket("kms-copy");
    create_bucket(&s.gw, &c, &bucket).await;
    let other = kms_admin(&s.gw, &["create-key", "--alias", "alias/other"])
        .trim()
        .to_owned();
    let data = body(200_000, 3);
    let src = |k: &str| format!("/{bucket}/{k}");
    call(&s.gw, &c, Method::PUT, &src("s3"), data.clone(), &[])
        .await
        .assert_ok();
    call(&s.gw, &c, Method::PUT, &src("kms"), data.clone(), &[KMS])
        .await
        .assert_ok();

    // SSE-S3 → SSE-KMS, SSE-KMS → SSE-S3, SSE-KMS → another key (re-key onto itself), SSE-KMS → SSE-C.
    let r = call(
        &s.gw,
        &c,
        Method::PUT,
        &src("s3-to-kms"),
        "",
        &[("x-amz-copy-source", &src("s3")), KMS],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.header("x-amz-server-side-encryption"), Some("aws:kms"));
    let r = call(
        &s.gw,
        &c,
        Method::PUT,
        &src("kms-to-s3"),
        "",
        &[("x-amz-copy-source", &src("kms"))],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.header("x-amz-server-side-encryption"), Some("AES256"));
    let r = call(
        &s.gw,
        &c,
        Method::PUT,
        &src("kms"),
        "",
        &[
            ("x-amz-copy-source", &src("kms")),
            ("x-amz-metadata-directive", "REPLACE"),
            KMS,
            ("x-amz-server-side-encryption-aws-kms-key-id", &other),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "re-key: {}", r.text());
    assert!(
        r.header("x-amz-server-side-encryption-aws-kms-key-id")
            .unwrap()
            .ends_with(&other)
    );
    let ck = [9u8; 32];
    let ck_b64 = b64(&ck);
    let ck_md5 = b64(&md5_digest(&ck));
    let sse_c = [
        ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
        ("x-amz-server-side-encryption-customer-key", ck_b64.as_str()),
        ("x-amz-server-side-encryption-customer-key-md5", ck_md5.as_str()),
    ];
    let mut h = vec![("x-amz-copy-source", src("kms"))];
    h.extend(sse_c.iter().map(|(a, b)| (*a, (*b).to_owned())));
    let hr: Vec<(&str, &str)> = h.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let r = call(&s.gw, &c, Method::PUT, &src("kms-to-c"), "", &hr).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    for (k, extra) in [
        ("s3-to-kms", &[][..]),
        ("kms-to-s3", &[][..]),
        ("kms", &[][..]),
        ("kms-to-c", &sse_c[..]),
    ] {
        let g = call(&s.gw, &c, Method::GET, &src(k), "", extra).await;
        assert_eq!(g.status, StatusCode::OK, "{k}: {}", g.text());
        assert_eq!(g.body.as_ref(), &data[..], "{k}");
    }
    let g = call(&s.gw, &c, Method::HEAD, &src("kms"), "", &[]).await;
    assert!(
        g.header("x-amz-server-side-encryption-aws-kms-key-id")
            .unwrap()
            .ends_with(&other),
        "re-keyed"
    );
    assert!(
        files_containing(&s.backend.root, MARKER).is_empty(),
        "plaintext at the backend"
    );
}

fn md5_digest(d: &[u8]) -> Vec<u8> {
    use md5::Digest as _;
    md5::Md5::digest(d).to_vec()
}

/// `s3-sse-proxy rekey` with the gateway's config, as an operator runs it.
fn rekey(gw: &Gateway, args: &[&str]) -> String {
    gateway_command(gw, &[&["rekey"], args].concat())
}

/// Re-keying re-wraps data keys (SSE-S3 under a new keyring key, SSE-KMS under another KMS key) without
/// rewriting object data, and keeps each object's bucket-key setting and encryption context.
#[tokio::test(flavor = "multi_thread")]
async fn rekey_rewraps_data_keys_without_rewriting_data() {
    let s = Stack::start_with("[kms]\ncache_ttl_secs = 0\n");
    let c = s.gw.client();
    let bucket = unique_bucket("rekey");
    create_bucket(&s.gw, &c, &bucket).await;
    let ctx = b64(br#"{"team":"a"}"#);
    let objects: [(&str, Vec<(&str, &str)>); 4] = [
        ("s3", vec![]),
        ("kms", vec![KMS]),
        (
            "kms-bk",
            vec![KMS, ("x-amz-server-side-encryption-bucket-key-enabled", "true")],
        ),
        ("kms-ctx", vec![KMS, ("x-amz-server-side-encryption-context", &ctx)]),
    ];
    for (i, (k, h)) in objects.iter().enumerate() {
        call(&s.gw, &c, Method::PUT, &format!("/{bucket}/{k}"), body(150_000, i), h)
            .await
            .assert_ok();
    }
    let data_of = |k: &str| std::fs::read(s.backend.root.join(&bucket).join(k)).unwrap();
    let before: Vec<Vec<u8>> = objects.iter().map(|(k, _)| data_of(k)).collect();
    let old_arn = call(&s.gw, &c, Method::HEAD, &format!("/{bucket}/kms"), "", &[])
        .await
        .header("x-amz-server-side-encryption-aws-kms-key-id")
        .unwrap()
        .to_owned();

    let new_id = kms_admin(&s.gw, &["create-key", "--alias", "alias/next"])
        .trim()
        .to_owned();
    let out = rekey(&s.gw, &["--bucket", &bucket, "--kms-key-id", "alias/next"]);
    assert!(out.contains("4 objects examined, 3 re-wrapped"), "{out}");
    let out = rekey(&s.gw, &["--bucket", &bucket, "--kms-key-id", "alias/next"]);
    assert!(out.contains("0 re-wrapped"), "idempotent: {out}");
    let out = rekey(&s.gw, &["--bucket", &bucket, "--new-key"]);
    assert!(out.contains("1 re-wrapped"), "the SSE-S3 object: {out}");
    // The old KMS key can go: nothing needs it any more.
    kms_admin(&s.gw, &["disable", &old_arn]);

    for (i, (k, _)) in objects.iter().enumerate() {
        assert_eq!(data_of(k), before[i], "{k}: object data not rewritten");
    }
    // The running gateway reloads the KMS key file by itself; the SSE-S3 keyring on restart.
    let gw2 = Gateway::start_with_config_text(
        tempfile::tempdir().unwrap(),
        &std::fs::read_to_string(&s.gw.config_path).unwrap(),
    );
    let c2 = gw2.client();
    for (i, (k, _)) in objects.iter().enumerate() {
        let g = call(&gw2, &c2, Method::GET, &format!("/{bucket}/{k}"), "", &[]).await;
        assert_eq!(g.status, StatusCode::OK, "{k}: {}", g.text());
        assert_eq!(g.body.as_ref(), &body(150_000, i)[..], "{k}");
        if k.starts_with("kms") {
            let arn = g.header("x-amz-server-side-encryption-aws-kms-key-id").unwrap();
            assert!(arn.ends_with(&new_id), "{k} under the new key: {arn}");
        }
    }
    let g = call(&gw2, &c2, Method::HEAD, &format!("/{bucket}/kms-bk"), "", &[]).await;
    assert_eq!(
        g.header("x-amz-server-side-encryption-bucket-key-enabled"),
        Some("true")
    );
    let meta = std::fs::read_to_string(metadata_file(&s.backend, &bucket, "kms-ctx")).unwrap();
    assert!(meta.contains(&ctx), "context kept: {meta}");
}

/// `--audit-log FILE`: the key-use trail goes to its own file as JSON lines (one per use, with who, which key,
/// which object, when, the result and the request id), not to the access log; no secret appears in either.
#[tokio::test(flavor = "multi_thread")]
async fn audit_log_file_holds_one_json_line_per_key_use() {
    let backend = Backend::start();
    let dir = tempfile::tempdir().unwrap();
    let audit_path = dir.path().join("audit.jsonl");
    let gw = Gateway::start_with_env_args(
        &backend,
        "[kms]\ncache_ttl_secs = 0\n",
        &[],
        &["--audit-log", audit_path.to_str().unwrap(), "--log-format", "json"],
    );
    let c = gw.client();
    let bucket = unique_bucket("audit");
    create_bucket(&gw, &c, &bucket).await;
    let r = call(&gw, &c, Method::PUT, &format!("/{bucket}/a"), body(1000, 0), &[KMS]).await;
    r.assert_ok();
    let put_id = r.header("x-amz-request-id").unwrap().to_owned();
    let arn = r
        .header("x-amz-server-side-encryption-aws-kms-key-id")
        .unwrap()
        .to_owned();
    let g = call(&gw, &c, Method::GET, &format!("/{bucket}/a"), "", &[]).await;
    g.assert_ok();
    let get_id = g.header("x-amz-request-id").unwrap().to_owned();
    let limited = Gateway::client(&gw);
    let r = send(
        &limited,
        signed_with_headers(
            &gw,
            LIMITED,
            Method::PUT,
            &format!("/{LIMITED_BUCKET}/x"),
            "x",
            &[KMS, ("x-amz-server-side-encryption-aws-kms-key-id", "alias/absent")],
        ),
    )
    .await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.text());
    std::thread::sleep(std::time::Duration::from_millis(200));

    let text = std::fs::read_to_string(&audit_path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let find = |id: &str| {
        lines
            .iter()
            .find(|l| l["fields"]["request_id"] == id)
            .unwrap_or_else(|| panic!("no audit line for {id}: {text}"))
            .clone()
    };
    let put = find(&put_id);
    assert_eq!(put["target"], "audit");
    assert_eq!(put["fields"]["kms_operation"], "GenerateDataKey");
    assert_eq!(put["fields"]["key_id"], arn.as_str());
    assert_eq!(put["fields"]["bucket"], bucket.as_str());
    assert_eq!(put["fields"]["key"], "a");
    assert_eq!(put["fields"]["result"], "ok");
    assert_eq!(put["fields"]["principal"], CLIENT_AK);
    assert!(
        put["fields"]["time"].as_str().is_some_and(|t| t.starts_with("20")),
        "{put}"
    );
    let get = find(&get_id);
    assert_eq!(get["fields"]["kms_operation"], "Decrypt");
    assert_eq!(get["fields"]["source"], "kms");
    let refused = lines
        .iter()
        .find(|l| l["fields"]["principal"] == "limited")
        .unwrap_or_else(|| panic!("the refused use is audited: {text}"));
    assert_eq!(refused["fields"]["result"], "NotFound");
    assert_eq!(refused["fields"]["key_id"], "alias/absent");

    let log = gw.log();
    assert!(
        !log.contains("\"target\":\"audit\""),
        "audit lines stay out of the main log"
    );
    let masters = local_master_keys(&gw);
    for secret in masters
        .iter()
        .map(String::as_str)
        .chain([CLIENT_SK, LIMITED_SK, BACKEND_SK])
    {
        assert!(!text.contains(secret) && !log.contains(secret), "a secret in the logs");
    }
    assert_eq!(
        std::fs::metadata(&audit_path).unwrap().permissions().mode() & 0o777,
        0o600,
        "the audit file is private"
    );
}

/// PutBucketEncryption with `aws:kms`, a `KMSMasterKeyID` and `BucketKeyEnabled` applies to writes that name no
/// encryption (PUT, multipart, copy); an explicit request wins; deleting the configuration restores SSE-S3.
#[tokio::test(flavor = "multi_thread")]
async fn bucket_default_sse_kms_applies_to_writes_without_headers() {
    let s = Stack::start();
    let c = s.gw.client();
    let bucket = unique_bucket("kms-default");
    create_bucket(&s.gw, &c, &bucket).await;
    let id = kms_admin(&s.gw, &["create-key", "--alias", "alias/bucket-default"])
        .trim()
        .to_owned();
    let config = "<ServerSideEncryptionConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Rule>\
        <ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm>\
        <KMSMasterKeyID>alias/bucket-default</KMSMasterKeyID></ApplyServerSideEncryptionByDefault>\
        <BucketKeyEnabled>true</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>";
    let r = call(&s.gw, &c, Method::PUT, &format!("/{bucket}?encryption"), config, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let g = call(&s.gw, &c, Method::GET, &format!("/{bucket}?encryption"), "", &[]).await;
    assert!(
        g.text()
            .contains("<KMSMasterKeyID>alias/bucket-default</KMSMasterKeyID>"),
        "{}",
        g.text()
    );

    let data = body(100_000, 5);
    let r = call(
        &s.gw,
        &c,
        Method::PUT,
        &format!("/{bucket}/plain-put"),
        data.clone(),
        &[],
    )
    .await;
    r.assert_ok();
    assert_eq!(r.header("x-amz-server-side-encryption"), Some("aws:kms"));
    assert!(
        r.header("x-amz-server-side-encryption-aws-kms-key-id")
            .unwrap()
            .ends_with(&id)
    );
    assert_eq!(
        r.header("x-amz-server-side-encryption-bucket-key-enabled"),
        Some("true")
    );
    let r = call(&s.gw, &c, Method::POST, &format!("/{bucket}/mp?uploads"), "", &[]).await;
    r.assert_ok();
    assert!(
        r.header("x-amz-server-side-encryption-aws-kms-key-id")
            .unwrap()
            .ends_with(&id),
        "multipart too"
    );
    let r = call(
        &s.gw,
        &c,
        Method::PUT,
        &format!("/{bucket}/copied"),
        "",
        &[("x-amz-copy-source", &format!("/{bucket}/plain-put"))],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(
        r.header("x-amz-server-side-encryption-aws-kms-key-id")
            .unwrap()
            .ends_with(&id),
        "copy too"
    );
    // `aws:kms` without a key id uses the account default (aws/s3), as on AWS, with the bucket's bucket-key choice.
    let r = call(&s.gw, &c, Method::PUT, &format!("/{bucket}/asked-kms"), "x", &[KMS]).await;
    assert!(
        !r.header("x-amz-server-side-encryption-aws-kms-key-id")
            .unwrap()
            .ends_with(&id)
    );
    assert_eq!(
        r.header("x-amz-server-side-encryption-bucket-key-enabled"),
        Some("true")
    );
    // An explicit AES256 wins over the default.
    let r = call(
        &s.gw,
        &c,
        Method::PUT,
        &format!("/{bucket}/asked-s3"),
        "x",
        &[("x-amz-server-side-encryption", "AES256")],
    )
    .await;
    assert_eq!(r.header("x-amz-server-side-encryption"), Some("AES256"));
    let g = call(&s.gw, &c, Method::GET, &format!("/{bucket}/plain-put"), "", &[]).await;
    assert_eq!(g.body.as_ref(), &data[..]);

    // dsse is refused at PutBucketEncryption as at PutObject, and the stored configuration stays; deleting the
    // configuration brings SSE-S3 back.
    let dsse = config.replace("<SSEAlgorithm>aws:kms<", "<SSEAlgorithm>aws:kms:dsse<");
    call(&s.gw, &c, Method::PUT, &format!("/{bucket}?encryption"), dsse, &[])
        .await
        .assert_error_message(
            400,
            "InvalidArgument",
            "The encryption method specified is not supported",
            "PutBucketEncryption",
        );
    let stored = call(&s.gw, &c, Method::GET, &format!("/{bucket}?encryption"), "", &[]).await;
    assert!(
        stored.text().contains("<SSEAlgorithm>aws:kms</SSEAlgorithm>"),
        "{}",
        stored.text()
    );
    let r = call(&s.gw, &c, Method::DELETE, &format!("/{bucket}?encryption"), "", &[]).await;
    assert!(r.status.is_success(), "{}", r.text());
    let r = call(&s.gw, &c, Method::PUT, &format!("/{bucket}/after-delete"), "x", &[]).await;
    assert_eq!(r.header("x-amz-server-side-encryption"), Some("AES256"));
}

/// A key the KMS refuses stops working at once on this instance, not after the key cache's TTL: once the KMS
/// answers DisabledException for it (here to a PutObject), the data keys and bucket keys of that key cached by
/// earlier requests are dropped, so a GET of an object whose data key was cached, and a bucket-key PUT whose
/// bucket key was cached, are refused too; enabled again, the key works again.
#[tokio::test(flavor = "multi_thread")]
async fn a_disabled_key_stops_working_at_once_despite_the_cache() {
    let s = Stack::start_with("[kms]\ncache_ttl_secs = 300\n");
    let c = s.gw.client();
    let bucket = unique_bucket("kms-disable");
    create_bucket(&s.gw, &c, &bucket).await;
    let id = kms_admin(&s.gw, &["create-key", "--alias", "alias/soon-disabled"])
        .trim()
        .to_owned();
    let with_key = [
        KMS,
        ("x-amz-server-side-encryption-aws-kms-key-id", "alias/soon-disabled"),
    ];
    let mut with_bucket_key = with_key.to_vec();
    with_bucket_key.push(("x-amz-server-side-encryption-bucket-key-enabled", "true"));
    let path = |k: &str| format!("/{bucket}/{k}");
    call(&s.gw, &c, Method::PUT, &path("a"), body(1000, 1), &with_key)
        .await
        .assert_ok();
    call(&s.gw, &c, Method::PUT, &path("bk-1"), body(1000, 2), &with_bucket_key)
        .await
        .assert_ok();
    let hits_before =
        s.gw.metric_value("s3_sse_proxy_kms_key_cache_lookups_total{result=\"hit\"}")
            .await;
    let g = call(&s.gw, &c, Method::GET, &path("a"), "", &[]).await;
    assert_eq!(g.body.as_ref(), &body(1000, 1)[..]);
    let hits =
        s.gw.metric_value("s3_sse_proxy_kms_key_cache_lookups_total{result=\"hit\"}")
            .await;
    assert!(hits > hits_before, "the GET was served from the key cache");

    kms_admin(&s.gw, &["disable", &id]);
    call(&s.gw, &c, Method::PUT, &path("b"), body(1000, 3), &with_key)
        .await
        .assert_error(400, "KMS.DisabledException");
    call(&s.gw, &c, Method::GET, &path("a"), "", &[])
        .await
        .assert_error(400, "KMS.DisabledException");
    call(&s.gw, &c, Method::PUT, &path("bk-2"), body(1000, 4), &with_bucket_key)
        .await
        .assert_error(400, "KMS.DisabledException");
    s.backend.assert_absent(&bucket, "b").await;
    s.backend.assert_absent(&bucket, "bk-2").await;

    kms_admin(&s.gw, &["enable", &id]);
    let g = call(&s.gw, &c, Method::GET, &path("a"), "", &[]).await;
    assert_eq!(g.body.as_ref(), &body(1000, 1)[..], "enabled again");
}

/// Without any request that makes the KMS speak, a key disabled at the KMS stops opening cached data keys within
/// `[kms] key_check_secs`: the first GET after the interval asks the KMS (DescribeKey) and is refused, and so is
/// every later one (the cached keys are gone; the KMS refuses Decrypt). Within the interval, GETs are served from
/// the cache without a KMS call.
#[tokio::test(flavor = "multi_thread")]
async fn a_disabled_key_stops_opening_cached_keys_within_the_check_interval() {
    let s = Stack::start_with("[kms]\ncache_ttl_secs = 300\nkey_check_secs = 1\n");
    let c = s.gw.client();
    let bucket = unique_bucket("kms-check");
    create_bucket(&s.gw, &c, &bucket).await;
    let id = kms_admin(&s.gw, &["create-key", "--alias", "alias/checked"])
        .trim()
        .to_owned();
    let with_key = [KMS, ("x-amz-server-side-encryption-aws-kms-key-id", "alias/checked")];
    let path = format!("/{bucket}/a");
    call(&s.gw, &c, Method::PUT, &path, body(1000, 1), &with_key)
        .await
        .assert_ok();
    let kms_calls = || {
        s.gw.metric_value("s3_sse_proxy_kms_requests_total{operation=\"Decrypt\",result=\"ok\"}")
    };
    let g = call(&s.gw, &c, Method::GET, &path, "", &[]).await;
    assert_eq!(g.body.as_ref(), &body(1000, 1)[..]);
    assert_eq!(kms_calls().await, 0.0, "served from the cache");

    kms_admin(&s.gw, &["disable", &id]);
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    // The first GET after the interval (refused by the check), then one that finds the cache empty (by the KMS).
    for _ in 0..2 {
        call(&s.gw, &c, Method::GET, &path, "", &[])
            .await
            .assert_error(400, "KMS.DisabledException");
    }
    kms_admin(&s.gw, &["enable", &id]);
    let g = call(&s.gw, &c, Method::GET, &path, "", &[]).await;
    assert_eq!(g.body.as_ref(), &body(1000, 1)[..], "enabled again");
}

/// UpdateObjectEncryption's request document (botocore's serialisation), with `inner` inside `<SSE-KMS>`.
fn object_encryption(inner: &str) -> String {
    format!(
        "<ObjectEncryption xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><SSE-KMS>{inner}</SSE-KMS></ObjectEncryption>"
    )
}

/// `PUT /bucket/key?encryption` with `doc` and its Content-MD5 (S3 requires a checksum).
async fn update_encryption(gw: &Gateway, c: &HttpsClient, bucket: &str, key: &str, doc: &str) -> Resp {
    let md5 = md5_b64(doc.as_bytes());
    call(
        gw,
        c,
        Method::PUT,
        &format!("/{bucket}/{key}?encryption"),
        doc.to_owned(),
        &[("content-md5", &md5)],
    )
    .await
}

/// UpdateObjectEncryption (AWS, January 2026): SSE-S3 → SSE-KMS and SSE-KMS → another KMS key without rewriting
/// data: the stored bytes, the ETag, the metadata and the encryption context stay; the object reads back under
/// the new key; each refusal is AWS's and changes nothing; the change is audited and needs
/// s3:UpdateObjectEncryption.
#[tokio::test(flavor = "multi_thread")]
#[allow(clippy::too_many_lines, reason = "one scenario, read top to bottom")]
async fn update_object_encryption_rewraps_without_rewriting_data() {
    let backend = Backend::start();
    let audit = tempfile::tempdir().unwrap();
    let audit_path = audit.path().join("audit.jsonl");
    let gw = Gateway::start_with_env_args(&backend, "", &[], &["--audit-log", audit_path.to_str().unwrap()]);
    let s = Stack { gw, backend };
    let c = s.gw.client();
    let bucket = unique_bucket("update-enc");
    create_bucket(&s.gw, &c, &bucket).await;
    let next_id = kms_admin(&s.gw, &["create-key", "--alias", "alias/next"])
        .trim()
        .to_owned();
    let ctx = b64(br#"{"team":"a"}"#);
    let meta = [("x-amz-meta-owner", "alice"), ("content-type", "text/x-test")];
    let mut kms_h = vec![KMS, ("x-amz-server-side-encryption-context", ctx.as_str())];
    kms_h.extend(meta);
    for (k, h, seed) in [("s3", meta.to_vec(), 1), ("kms", kms_h, 2)] {
        call(
            &s.gw,
            &c,
            Method::PUT,
            &format!("/{bucket}/{k}"),
            body(150_000, seed),
            &h,
        )
        .await
        .assert_ok();
    }
    let data_of = |k: &str| std::fs::read(s.backend.root.join(&bucket).join(k)).unwrap();
    let head = |k: &'static str| {
        let (gw, c, bucket) = (&s.gw, &c, &bucket);
        async move { call(gw, c, Method::HEAD, &format!("/{bucket}/{k}"), "", &[]).await }
    };
    let before = [data_of("s3"), data_of("kms")];
    let etags = [
        head("s3").await.header("etag").unwrap().to_owned(),
        head("kms").await.header("etag").unwrap().to_owned(),
    ];
    let checksum_of = |k: &'static str| {
        let (gw, c, bucket) = (&s.gw, &c, &bucket);
        async move {
            let h = call(
                gw,
                c,
                Method::HEAD,
                &format!("/{bucket}/{k}"),
                "",
                &[("x-amz-checksum-mode", "ENABLED")],
            )
            .await;
            h.header("x-amz-checksum-crc64nvme").map(str::to_owned)
        }
    };
    let checksums = [checksum_of("s3").await, checksum_of("kms").await];
    assert!(
        checksums.iter().all(Option::is_some),
        "the gateway keeps a checksum: {checksums:?}"
    );

    let listed = kms_admin(&s.gw, &["list"]);
    let next_arn = listed
        .lines()
        .find(|l| l.contains(&next_id))
        .and_then(|l| l.split('\t').next())
        .unwrap()
        .to_owned();
    let to_next = object_encryption(&format!(
        "<KMSKeyArn>{next_arn}</KMSKeyArn><BucketKeyEnabled>true</BucketKeyEnabled>"
    ));
    for k in ["s3", "kms"] {
        let r = update_encryption(&s.gw, &c, &bucket, k, &to_next).await;
        r.assert_ok();
        assert!(r.body.is_empty(), "{k}: {}", r.text());
    }
    for (i, (k, seed)) in [("s3", 1), ("kms", 2)].into_iter().enumerate() {
        assert_eq!(data_of(k), before[i], "{k}: object data not rewritten");
        let h = head(k).await;
        assert_eq!(h.header("etag"), Some(etags[i].as_str()), "{k}: ETag preserved");
        assert_eq!(checksum_of(k).await, checksums[i], "{k}: checksum preserved");
        assert_eq!(h.header("x-amz-server-side-encryption"), Some("aws:kms"), "{k}");
        assert_eq!(
            h.header("x-amz-server-side-encryption-aws-kms-key-id"),
            Some(next_arn.as_str()),
            "{k}"
        );
        assert_eq!(
            h.header("x-amz-server-side-encryption-bucket-key-enabled"),
            Some("true"),
            "{k}"
        );
        assert_eq!(h.header("x-amz-meta-owner"), Some("alice"), "{k}: metadata kept");
        assert_eq!(h.header("content-type"), Some("text/x-test"), "{k}: content type kept");
        let g = call(&s.gw, &c, Method::GET, &format!("/{bucket}/{k}"), "", &[]).await;
        assert_eq!(g.body.as_ref(), &body(150_000, seed)[..], "{k}");
        let l = call(
            &s.gw,
            &c,
            Method::GET,
            &format!("/{bucket}?list-type=2&prefix={k}"),
            "",
            &[],
        )
        .await;
        let listed_etag = l.xml_tag("ETag").map(|e| e.replace("&quot;", "\""));
        assert_eq!(listed_etag.as_deref(), Some(etags[i].as_str()), "{k}: listed ETag");
    }
    assert_eq!(
        head("kms").await.header("x-amz-server-side-encryption-context"),
        Some(ctx.as_str()),
        "the encryption context is kept"
    );

    // Refusals, as AWS words them; none changes the object.
    let k = ("x-amz-server-side-encryption-customer-algorithm", "AES256");
    let key = [7u8; 32];
    let (kb, km) = (b64(&key), md5_b64(&key));
    call(
        &s.gw,
        &c,
        Method::PUT,
        &format!("/{bucket}/ssec"),
        "secret",
        &[
            k,
            ("x-amz-server-side-encryption-customer-key", &kb),
            ("x-amz-server-side-encryption-customer-key-md5", &km),
        ],
    )
    .await
    .assert_ok();
    let ssec_before = data_of("ssec");
    update_encryption(&s.gw, &c, &bucket, "ssec", &to_next)
        .await
        .assert_error(400, "InvalidRequest");
    assert_eq!(data_of("ssec"), ssec_before);
    update_encryption(&s.gw, &c, &bucket, "missing", &to_next)
        .await
        .assert_error(404, "NoSuchKey");
    let unknown = object_encryption("<KMSKeyArn>arn:aws:kms:local:000000000000:key/nope</KMSKeyArn>");
    update_encryption(&s.gw, &c, &bucket, "s3", &unknown)
        .await
        .assert_error(400, "KMS.NotFoundException");
    let no_key = object_encryption("<BucketKeyEnabled>true</BucketKeyEnabled>");
    update_encryption(&s.gw, &c, &bucket, "s3", &no_key)
        .await
        .assert_error(400, "InvalidRequest");
    let r = call(
        &s.gw,
        &c,
        Method::PUT,
        &format!("/{bucket}/s3?encryption"),
        to_next.clone(),
        &[],
    )
    .await;
    r.assert_error(400, "InvalidRequest");
    assert!(r.text().contains("Content-MD5"), "{}", r.text());
    assert_eq!(
        head("s3").await.header("x-amz-server-side-encryption-aws-kms-key-id"),
        Some(next_arn.as_str())
    );

    // The audit trail names the change.
    let audit_text = std::fs::read_to_string(&audit_path).unwrap();
    let line = audit_text
        .lines()
        .find(|l| l.contains("encryption update") && l.contains("\"key\":\"s3\""))
        .unwrap_or_else(|| panic!("no encryption update line: {audit_text}"));
    assert!(line.contains(&next_arn) && line.contains("\"result\":\"ok\""), "{line}");

    // A bucket policy that denies s3:UpdateObjectEncryption refuses it.
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"NoUpdate","Effect":"Deny","Principal":"*","Action":"s3:UpdateObjectEncryption","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
    );
    let r = call(&s.gw, &c, Method::PUT, &format!("/{bucket}?policy"), policy, &[]).await;
    assert!(r.status.is_success(), "{}", r.text());
    update_encryption(&s.gw, &c, &bucket, "kms", &to_next)
        .await
        .assert_error(403, "AccessDenied");
    assert!(
        files_containing(&s.backend.root, MARKER).is_empty(),
        "plaintext at the backend"
    );
}

/// boto3's own `update_object_encryption` (botocore's model of the January 2026 API: its URI, XML body and
/// checksum) against the gateway: the object moves to SSE-KMS under the named key with its ETag and bytes.
const BOTO3_UPDATE_ENCRYPTION: &str = r#"
import os, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"])
b, arn = os.environ["S3_BUCKET"], os.environ["KMS_ARN"]
s3.put_object(Bucket=b, Key="o", Body=b"boto3 body " * 1000)
before = s3.head_object(Bucket=b, Key="o")
assert before["ServerSideEncryption"] == "AES256", before
s3.update_object_encryption(Bucket=b, Key="o", ObjectEncryption={"SSEKMS": {"KMSKeyArn": arn, "BucketKeyEnabled": False}})
after = s3.head_object(Bucket=b, Key="o")
assert after["ServerSideEncryption"] == "aws:kms", after
assert after["SSEKMSKeyId"] == arn, after
assert after["ETag"] == before["ETag"], (before["ETag"], after["ETag"])
assert s3.get_object(Bucket=b, Key="o")["Body"].read() == b"boto3 body " * 1000
try:
    s3.update_object_encryption(Bucket=b, Key="missing", ObjectEncryption={"SSEKMS": {"KMSKeyArn": arn}})
    raise SystemExit("updating a missing key succeeded")
except s3.exceptions.NoSuchKey:
    pass
print("boto3 update_object_encryption ok")
"#;

#[tokio::test(flavor = "multi_thread")]
async fn update_object_encryption_with_boto3() {
    let s = Stack::start();
    let c = s.gw.client();
    let bucket = unique_bucket("update-enc-boto3");
    create_bucket(&s.gw, &c, &bucket).await;
    let id = kms_admin(&s.gw, &["create-key"]).trim().to_owned();
    let arn = kms_admin(&s.gw, &["list"])
        .lines()
        .find(|l| l.contains(&id))
        .and_then(|l| l.split('\t').next())
        .unwrap()
        .to_owned();
    run_python_inline(&s.gw, &bucket, BOTO3_UPDATE_ENCRYPTION, &[("KMS_ARN", &arn)]);
}

/// UpdateObjectEncryption in front of moto's S3, whose ETags are S3's (the MD5 of the stored bytes): the backend's
/// metadata-only self-copy keeps a single-part object's ETag, hence the client's.
#[tokio::test(flavor = "multi_thread")]
async fn update_object_encryption_keeps_the_etag_on_moto() {
    let moto = common::moto::Moto::start_without_signature_check().await;
    let s3 = S3Backend {
        endpoint: moto.endpoint.clone(),
        access_key_id: moto.access_key_id.clone(),
        secret_access_key: moto.secret_access_key().to_owned(),
        backend_toml: String::new(),
    };
    let gw = Gateway::start_at(&s3, "", &[], &[]);
    let c = gw.client();
    let bucket = unique_bucket("update-enc-moto");
    create_bucket(&gw, &c, &bucket).await;
    let path = format!("/{bucket}/o");
    call(&gw, &c, Method::PUT, &path, body(150_000, 7), &[])
        .await
        .assert_ok();
    let before = call(&gw, &c, Method::HEAD, &path, "", &[]).await;
    let arn = kms_admin(&gw, &["list"])
        .lines()
        .find(|l| l.ends_with("alias/aws/s3"))
        .and_then(|l| l.split('\t').next())
        .unwrap()
        .to_owned();
    let doc = object_encryption(&format!("<KMSKeyArn>{arn}</KMSKeyArn>"));
    update_encryption(&gw, &c, &bucket, "o", &doc).await.assert_ok();
    let after = call(&gw, &c, Method::HEAD, &path, "", &[]).await;
    assert_eq!(after.header("x-amz-server-side-encryption"), Some("aws:kms"));
    assert_eq!(after.header("etag"), before.header("etag"), "ETag preserved on moto");
    let g = call(&gw, &c, Method::GET, &path, "", &[]).await;
    assert_eq!(g.body.as_ref(), &body(150_000, 7)[..]);
}
