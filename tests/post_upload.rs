//! Browser-based POST uploads end to end: boto3's `generate_presigned_post` (SigV4 and SigV2) posted with
//! `curl -F`, as a browser form would be; `tests/clients/sigv2_post.py` holds the steps and their checks.

mod common;

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use hmac::{Hmac, KeyInit as _, Mac as _};
use http::{Method, Request};
use tokio::io::AsyncWriteExt as _;

use common::*;

/// SigV4 and SigV2 policies, `${filename}`, metadata and Content-Type fields, SSE-S3 by default, SSE-C and
/// SSE-KMS fields, success_action_status 201 and success_action_redirect 303; objects read back through the
/// gateway and their plaintext is nowhere at the backend.
#[test]
fn presigned_post_with_curl() {
    let stack = Stack::start();
    let out = run_python_part(&stack, "sigv2_post.py", "post");
    assert!(out.contains("post: all checks passed"), "{out}");
}

/// Expired policy, an extra field, a starts-with violation, content-length-range exceeded, bad signatures and a
/// bucket policy Deny: each answered as S3 does, and no object appears.
#[test]
fn refused_posts_leave_no_object() {
    let stack = Stack::start();
    let out = run_python_part(&stack, "sigv2_post.py", "post-refused");
    assert!(out.contains("post-refused: all checks passed"), "{out}");
}

/// An empty starts-with condition admits a form without the field (bucket default encryption), fields after a
/// small file are ignored (AWS's example form ends with its submit button), and an x-amz-checksum-crc32 field
/// is verified as the header is: a wrong one is 400 BadDigest and stores nothing.
#[test]
fn post_fields_as_s3_reads_them() {
    let stack = Stack::start();
    let out = run_python_part(&stack, "sigv2_post.py", "post-fields");
    assert!(out.contains("post-fields: all checks passed"), "{out}");
}

/// AWS's example form sends its submit button after the file: with files of 1 byte to 5 MiB + 1 (also with SSE-C,
/// SSE-KMS and x-amz-checksum-crc32 fields) the late fields are ignored, the object reads back whole and in a
/// range, and HEAD and ListObjectsV2 state its exact size; a wrong checksum or a content-length-range the file
/// exceeds stores nothing. Larger files followed by fields (5 MiB + 64 KiB to 20 MiB; SSE-C; a checksum field)
/// are stored whole the same way; refused ones (range, checksum, too long a form after the file) leave neither
/// an object nor a multipart upload behind.
#[test]
fn fields_after_the_file_are_ignored() {
    let stack = Stack::start();
    let out = run_python_part(&stack, "sigv2_post.py", "post-after");
    assert!(out.contains("post-after: all checks passed"), "{out}");
    // The measure of what reading such forms whole costs: the gateway's peak resident memory.
    let status = std::fs::read_to_string(format!("/proc/{}/status", stack.gw.proc.pid())).unwrap_or_default();
    let peak = status.lines().find(|l| l.starts_with("VmHWM")).unwrap_or("VmHWM: ?");
    eprintln!("gateway peak memory after the post-after forms: {peak}");
}

/// The `tagging` field becomes the object's tags, read back with GetObjectTagging through the gateway. The
/// embedded backend keeps no tags, so the gateway is in front of moto's S3.
#[test]
fn post_tagging_field_tags_the_object() {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let moto = rt.block_on(common::moto::Moto::start_without_signature_check());
    let backend = S3Backend {
        endpoint: moto.endpoint.clone(),
        access_key_id: moto.access_key_id.clone(),
        secret_access_key: moto.secret_access_key().to_owned(),
        backend_toml: String::new(),
    };
    let gw = Gateway::start_at(&backend, "", &[], &[]);
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(client_script("sigv2_post.py"))
        .arg("post-tagging")
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    for (k, v) in gw.client_env(&unique_bucket("post-tagging")) {
        cmd.env(k, v);
    }
    cmd.env("S3_BACKEND_ROOT", "unused");
    let out = run_with_timeout(cmd, &gw.work_dir().join("post-tagging.out"), Duration::from_secs(300));
    assert!(
        out.status.success() && out.output.contains("post-tagging: all checks passed"),
        "post-tagging: {}\n{}\n===== gateway log (tail) =====\n{}",
        out.status,
        out.output,
        tail(&gw.log(), 40)
    );
}

// ------------------------------------------------------------------------------------------------
// Violations found while the file streams (the form is built and SigV4-signed here, from the AWS docs).
// ------------------------------------------------------------------------------------------------

const MIB: usize = 1024 * 1024;
const BOUNDARY: &str = "----s3ssepostboundary7MA4YWxk";

fn hmac256(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// The fields of a SigV4 POST form for `bucket`, any key, valid for an hour.
fn signed_fields(bucket: &str, key: &str) -> Vec<(String, String)> {
    let now = time::OffsetDateTime::from(SystemTime::now());
    let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let amz_date = now.format(fmt).unwrap();
    let date = &amz_date[..8];
    let credential = format!("{CLIENT_AK}/{date}/{REGION}/s3/aws4_request");
    let expiration = (now + time::Duration::hours(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let policy = serde_json::json!({
        "expiration": expiration,
        "conditions": [
            {"bucket": bucket},
            ["starts-with", "$key", ""],
            {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
            {"x-amz-credential": credential},
            {"x-amz-date": amz_date},
        ]
    });
    let policy = base64::engine::general_purpose::STANDARD.encode(policy.to_string());
    let mut k = hmac256(format!("AWS4{CLIENT_SK}").as_bytes(), date);
    for part in [REGION, "s3", "aws4_request"] {
        k = hmac256(&k, part);
    }
    let signature = hex::encode(hmac256(&k, &policy));
    [
        ("key", key.to_owned()),
        ("x-amz-algorithm", "AWS4-HMAC-SHA256".to_owned()),
        ("x-amz-credential", credential),
        ("x-amz-date", amz_date),
        ("policy", policy),
        ("x-amz-signature", signature),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// A multipart/form-data body: the fields, the file, then `after` (the closing delimiter, or more).
fn form_body(fields: &[(String, String)], file: &[u8], after: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for (k, val) in fields {
        v.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{val}\r\n").as_bytes(),
        );
    }
    v.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.bin\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    v.extend_from_slice(file);
    v.extend_from_slice(after.as_bytes());
    v
}

fn post_request(gw: &Gateway, bucket: &str, body: Vec<u8>) -> Request<bytes::Bytes> {
    Request::builder()
        .method(Method::POST)
        .uri(gw.url(&format!("/{bucket}")))
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(bytes::Bytes::from(body))
        .unwrap()
}

/// A file of 6 MiB (past what the gateway reads whole) streams before the gateway can see whether a field follows
/// it: a field after it is ignored as S3 ignores it (the object reads back whole, without the late field), a form
/// that does not continue as a form after the file is refused and leaves no object, and a form without late
/// fields works the same.
#[tokio::test(flavor = "multi_thread")]
async fn a_field_after_a_streamed_file_is_ignored() {
    let s = Stack::start();
    let client = s.gw.client();
    let bucket = unique_bucket("post-after");
    create_bucket(&s.gw, &client, &bucket).await;
    let file = pseudo_random(6 * MIB, 41);
    let after = format!(
        "\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"x-amz-meta-late\"\r\n\r\nlate\r\n--{BOUNDARY}--\r\n"
    );
    let body = form_body(&signed_fields(&bucket, "late-field"), &file, &after);
    let r = send(&client, post_request(&s.gw, &bucket, body)).await;
    assert_eq!(r.status, 204, "{}", r.text());
    let got = get_object(&s.gw, &client, &bucket, "late-field").await;
    got.assert_ok();
    assert!(got.body.as_ref() == &file[..], "the posted object reads back whole");
    assert!(
        got.headers.get("x-amz-meta-late").is_none(),
        "the late field is not stored"
    );

    let body = form_body(
        &signed_fields(&bucket, "bad-end"),
        &file,
        &format!("\r\n--{BOUNDARY}XX"),
    );
    let r = send(&client, post_request(&s.gw, &bucket, body)).await;
    r.assert_error(400, "MalformedPOSTRequest");
    s.backend.assert_absent(&bucket, "bad-end").await;

    let body = form_body(&signed_fields(&bucket, "ok"), &file, &format!("\r\n--{BOUNDARY}--\r\n"));
    let r = send(&client, post_request(&s.gw, &bucket, body)).await;
    assert_eq!(r.status, 204, "{}", r.text());
    let got = get_object(&s.gw, &client, &bucket, "ok").await;
    got.assert_ok();
    assert!(got.body.as_ref() == &file[..], "the posted object reads back");
}

/// The client goes away in the middle of the file, of a form read whole (1 MiB) or of a streamed one (6 MiB): no
/// object appears at the backend.
#[tokio::test(flavor = "multi_thread")]
async fn client_disconnect_mid_file_leaves_no_object() {
    let s = Stack::start();
    let bucket = unique_bucket("post-cut");
    create_bucket(&s.gw, &s.gw.client(), &bucket).await;
    for size in [MIB, 6 * MIB] {
        let key = format!("cut-{size}");
        let body = form_body(
            &signed_fields(&bucket, &key),
            &pseudo_random(size, 42),
            &format!("\r\n--{BOUNDARY}--\r\n"),
        );
        let head = format!(
            "POST /{bucket} HTTP/1.1\r\nhost: {}\r\ncontent-type: multipart/form-data; boundary={BOUNDARY}\r\n\
             content-length: {}\r\n\r\n",
            s.gw.addr,
            body.len()
        );
        let cfg = std::sync::Arc::new(tls_config(&[s.gw.ca_file()], TlsVersions::Both));
        let tcp = tokio::net::TcpStream::connect(s.gw.addr).await.unwrap();
        let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let mut tls = tokio_rustls::TlsConnector::from(cfg).connect(name, tcp).await.unwrap();
        tls.write_all(head.as_bytes()).await.unwrap();
        tls.write_all(&body[..body.len() - 100 * 1024]).await.unwrap();
        tls.flush().await.unwrap();
        // Let the gateway forward what it got, then vanish.
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop(tls);
        tokio::time::sleep(Duration::from_secs(1)).await;
        s.backend.assert_absent(&bucket, &key).await;
    }
}
