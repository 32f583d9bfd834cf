//! Bucket policies end to end: AWS's example policies (tests/fixtures/policies, verbatim but for the bucket name
//! and key ARN) put through PutBucketPolicy, then the request each allows and the one it denies (403
//! AccessDenied, nothing written at the backend); the Null-condition deny with bucket default encryption; the
//! policy API itself; MalformedPolicy; a config-pinned policy the API cannot remove; metrics.

mod common;

use common::*;
use http::{Method, StatusCode};

fn fixture(name: &str, bucket: &str) -> String {
    let path = format!("{}/tests/fixtures/policies/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .replace("DOC-EXAMPLE-BUCKET", bucket)
}

async fn put_policy(gw: &Gateway, c: &HttpsClient, bucket: &str, policy: &str) -> Resp {
    call(gw, c, Method::PUT, &format!("/{bucket}?policy"), policy.to_owned(), &[]).await
}

/// PutBucketPolicy answers 204 No Content, as S3 does.
async fn set_policy(gw: &Gateway, c: &HttpsClient, bucket: &str, policy: &str) {
    let r = put_policy(gw, c, bucket, policy).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "PutBucketPolicy: {}", r.text());
}

const AES256: (&str, &str) = ("x-amz-server-side-encryption", "AES256");
const KMS: (&str, &str) = ("x-amz-server-side-encryption", "aws:kms");
const SSE_C_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // "0123456789abcdef0123456789abcdef"
const SSE_C_MD5: &str = "zZ5FnqcIqUjVwvWmyog4zw==";

/// PUT `key` with `headers`: either 200 and the object is at the backend, or 403 AccessDenied and it is not.
async fn expect_put(s: &Stack, c: &HttpsClient, bucket: &str, key: &str, h: &[(&str, &str)], allowed: bool) {
    let r = call(&s.gw, c, Method::PUT, &format!("/{bucket}/{key}"), "data", h).await;
    if allowed {
        r.assert_ok();
        s.backend.assert_present(bucket, key).await;
    } else {
        r.assert_error(403, "AccessDenied");
        s.backend.assert_absent(bucket, key).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_example_policies_allow_and_deny_as_documented() {
    let s = Stack::start();
    let c = s.gw.client();

    // The PutObjPolicy pair: AES256 only.
    let b = unique_bucket("pol-aes");
    create_bucket(&s.gw, &c, &b).await;
    set_policy(&s.gw, &c, &b, &fixture("put-obj-policy-aes256.json", &b)).await;
    expect_put(&s, &c, &b, "plain", &[], false).await;
    expect_put(&s, &c, &b, "kms", &[KMS], false).await;
    expect_put(&s, &c, &b, "aes", &[AES256], true).await;
    // Reads are not concerned.
    call(&s.gw, &c, Method::GET, &format!("/{b}/aes"), "", &[])
        .await
        .assert_ok();
    // Multipart: CreateMultipartUpload is judged on its headers; its parts carry the upload's encryption.
    let r = call(&s.gw, &c, Method::POST, &format!("/{b}/mp?uploads"), "", &[]).await;
    r.assert_error(403, "AccessDenied");
    let r = call(&s.gw, &c, Method::POST, &format!("/{b}/mp?uploads"), "", &[AES256]).await;
    r.assert_ok();
    let id = r.xml_tag("UploadId").expect("UploadId");
    let q = format!("/{b}/mp?partNumber=1&uploadId={}", urlencode(&id));
    call(&s.gw, &c, Method::PUT, &q, vec![7u8; 1000], &[]).await.assert_ok();

    // The SSE-C deny.
    let b = unique_bucket("pol-ssec");
    create_bucket(&s.gw, &c, &b).await;
    set_policy(&s.gw, &c, &b, &fixture("deny-sse-c.json", &b)).await;
    let ssec = [
        ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
        ("x-amz-server-side-encryption-customer-key", SSE_C_KEY),
        ("x-amz-server-side-encryption-customer-key-md5", SSE_C_MD5),
    ];
    expect_put(&s, &c, &b, "ssec", &ssec, false).await;
    expect_put(&s, &c, &b, "plain", &[], true).await;
    expect_put(&s, &c, &b, "aes", &[AES256], true).await;

    // TLS only: every request reaches the gateway over TLS, so nothing is denied.
    let b = unique_bucket("pol-tls");
    create_bucket(&s.gw, &c, &b).await;
    set_policy(&s.gw, &c, &b, &fixture("allow-ssl-requests-only.json", &b)).await;
    expect_put(&s, &c, &b, "k", &[], true).await;
    call(&s.gw, &c, Method::GET, &format!("/{b}?list-type=2"), "", &[])
        .await
        .assert_ok();
    call(&s.gw, &c, Method::GET, &format!("/{b}?policy"), "", &[])
        .await
        .assert_ok();

    // SSE-KMS with one specific key: the gateway's default key, by ARN.
    let b = unique_bucket("pol-kms");
    create_bucket(&s.gw, &c, &b).await;
    let r = call(&s.gw, &c, Method::PUT, &format!("/{b}/probe"), "x", &[KMS]).await;
    r.assert_ok();
    let arn = r
        .header("x-amz-server-side-encryption-aws-kms-key-id")
        .expect("key ARN")
        .to_owned();
    let policy = fixture("require-sse-kms-specific-key.json", &b).replace(
        "arn:aws:kms:us-east-2:111122223333:key/01234567-89ab-cdef-0123-456789abcdef",
        &arn,
    );
    set_policy(&s.gw, &c, &b, &policy).await;
    let key_id = ("x-amz-server-side-encryption-aws-kms-key-id", arn.as_str());
    expect_put(&s, &c, &b, "right-key", &[KMS, key_id], true).await;
    expect_put(&s, &c, &b, "no-key-id", &[KMS], false).await;
    expect_put(
        &s,
        &c,
        &b,
        "alias",
        &[KMS, ("x-amz-server-side-encryption-aws-kms-key-id", "alias/aws/s3")],
        false,
    )
    .await;
    expect_put(&s, &c, &b, "plain", &[], false).await;

    // Every decision is counted by its rule.
    let m = s.gw.metrics_text().await;
    for line in [
        r#"s3_sse_proxy_policy_decisions_total{decision="deny",rule="DenyIncorrectEncryptionHeader"}"#,
        r#"s3_sse_proxy_policy_decisions_total{decision="deny",rule="RestrictSSECObjectUploads"}"#,
        r#"s3_sse_proxy_policy_decisions_total{decision="deny",rule="DenyObjectsThatAreNotSSEKMSWithSpecificKey"}"#,
        r#"s3_sse_proxy_policy_decisions_total{decision="allow",rule="allowed-buckets"}"#,
    ] {
        assert!(m.lines().any(|l| l.starts_with(line)), "{line} missing from\n{m}");
    }
    // And audited, with the deciding Sid, never a key.
    let log = s.gw.log();
    assert!(
        log.lines()
            .any(|l| l.contains("policy decision") && l.contains("RestrictSSECObjectUploads")),
        "no audit line"
    );
    assert!(!log.contains(SSE_C_KEY), "the customer key leaked into the log");
}

/// S3 evaluates bucket policies on the request as sent, before default encryption: a Null-condition deny refuses
/// uploads without the header even in a bucket whose default encryption would encrypt them.
#[tokio::test(flavor = "multi_thread")]
async fn null_condition_deny_applies_before_default_encryption() {
    let s = Stack::start();
    let c = s.gw.client();
    let b = unique_bucket("pol-default");
    create_bucket(&s.gw, &c, &b).await;
    let config = r#"<ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>"#;
    call(&s.gw, &c, Method::PUT, &format!("/{b}?encryption"), config, &[])
        .await
        .assert_ok();
    set_policy(&s.gw, &c, &b, &fixture("deny-unencrypted-object-uploads.json", &b)).await;
    expect_put(&s, &c, &b, "no-header", &[], false).await;
    expect_put(&s, &c, &b, "with-header", &[AES256], true).await;
    let r = call(&s.gw, &c, Method::HEAD, &format!("/{b}/with-header"), "", &[]).await;
    assert_eq!(r.header("x-amz-server-side-encryption"), Some("AES256"));

    // A denied upload with a large body: the client reads the 403, not a reset.
    let big = vec![0u8; 8 * 1024 * 1024];
    let r = call(&s.gw, &c, Method::PUT, &format!("/{b}/big"), big, &[]).await;
    r.assert_error(403, "AccessDenied");
    s.backend.assert_absent(&b, "big").await;

    // A copy into the bucket is a PutObject there, judged on its own headers.
    let src = unique_bucket("pol-src");
    create_bucket(&s.gw, &c, &src).await;
    put_object(&s.gw, &c, &src, "o", "source").await.assert_ok();
    let from = format!("/{src}/o");
    let r = call(
        &s.gw,
        &c,
        Method::PUT,
        &format!("/{b}/copy"),
        "",
        &[("x-amz-copy-source", &from)],
    )
    .await;
    r.assert_error(403, "AccessDenied");
    s.backend.assert_absent(&b, "copy").await;
    call(
        &s.gw,
        &c,
        Method::PUT,
        &format!("/{b}/copy"),
        "",
        &[("x-amz-copy-source", &from), AES256],
    )
    .await
    .assert_ok();
}

/// `s3:if-none-match` evaluates: a bucket policy that denies PutObject without `If-None-Match` (AWS's example for
/// enforcing conditional writes) refuses plain PUTs and lets conditional ones through, which then fail or succeed
/// as the condition says.
#[tokio::test(flavor = "multi_thread")]
async fn a_policy_can_require_conditional_writes() {
    let s = Stack::start();
    let c = s.gw.client();
    let b = unique_bucket("pol-cond");
    create_bucket(&s.gw, &c, &b).await;
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"RequireIfNoneMatch","Effect":"Deny","Principal":"*",
        "Action":"s3:PutObject","Resource":"arn:aws:s3:::{b}/*",
        "Condition":{{"Null":{{"s3:if-none-match":"true"}}}}}}]}}"#
    );
    set_policy(&s.gw, &c, &b, &policy).await;
    expect_put(&s, &c, &b, "plain", &[], false).await;
    expect_put(&s, &c, &b, "conditional", &[("if-none-match", "*")], true).await;
    let r = call(
        &s.gw,
        &c,
        Method::PUT,
        &format!("/{b}/conditional"),
        "again",
        &[("if-none-match", "*")],
    )
    .await;
    r.assert_error(412, "PreconditionFailed");
    let r = get_object(&s.gw, &c, &b, "conditional").await;
    assert_eq!(r.text(), "data", "the object the first conditional PUT wrote");
}

/// A copy reads its source: the source bucket's policy is evaluated for s3:GetObject.
#[tokio::test(flavor = "multi_thread")]
async fn copy_source_is_judged_by_its_bucket_policy() {
    let s = Stack::start();
    let c = s.gw.client();
    let (src, dst) = (unique_bucket("pol-csrc"), unique_bucket("pol-cdst"));
    create_bucket(&s.gw, &c, &src).await;
    create_bucket(&s.gw, &c, &dst).await;
    put_object(&s.gw, &c, &src, "secret/o", "x").await.assert_ok();
    let deny_reads = format!(
        r#"{{"Version": "2012-10-17", "Statement": [{{"Sid": "NoReads", "Effect": "Deny", "Principal": "*",
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::{src}/secret/*"}}]}}"#
    );
    set_policy(&s.gw, &c, &src, &deny_reads).await;
    get_object(&s.gw, &c, &src, "secret/o")
        .await
        .assert_error(403, "AccessDenied");
    let from = format!("/{src}/secret/o");
    let r = call(
        &s.gw,
        &c,
        Method::PUT,
        &format!("/{dst}/copy"),
        "",
        &[("x-amz-copy-source", &from)],
    )
    .await;
    r.assert_error(403, "AccessDenied");
    s.backend.assert_absent(&dst, "copy").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn policy_api_put_get_status_delete_and_malformed() {
    let s = Stack::start();
    let c = s.gw.client();
    let b = unique_bucket("pol-api");
    create_bucket(&s.gw, &c, &b).await;
    let path = format!("/{b}?policy");
    call(&s.gw, &c, Method::GET, &path, "", &[])
        .await
        .assert_error(404, "NoSuchBucketPolicy");
    call(&s.gw, &c, Method::GET, &format!("/{b}?policyStatus"), "", &[])
        .await
        .assert_error(404, "NoSuchBucketPolicy");
    let missing = unique_bucket("pol-none");
    call(&s.gw, &c, Method::GET, &format!("/{missing}?policy"), "", &[])
        .await
        .assert_error(404, "NoSuchBucket");
    put_policy(&s.gw, &c, &missing, &fixture("deny-sse-c.json", &missing))
        .await
        .assert_error(404, "NoSuchBucket");

    let text = fixture("put-obj-policy-aes256.json", &b);
    let r = put_policy(&s.gw, &c, &b, &text).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let r = call(&s.gw, &c, Method::GET, &path, "", &[]).await;
    r.assert_ok();
    assert_eq!(r.text(), text, "GetBucketPolicy returns the document as put");
    let r = call(&s.gw, &c, Method::GET, &format!("/{b}?policyStatus"), "", &[]).await;
    r.assert_ok();
    assert_eq!(r.xml_tag("IsPublic").as_deref(), Some("false"), "{}", r.text());
    // The policy object is the gateway's own: not listed, not readable as an object.
    let list = call(&s.gw, &c, Method::GET, &format!("/{b}?list-type=2"), "", &[]).await;
    assert!(!list.text().contains("policy.json"), "{}", list.text());
    call(
        &s.gw,
        &c,
        Method::GET,
        &format!("/{b}/.s3-sse-proxy/policy.json"),
        "",
        &[],
    )
    .await
    .assert_error(403, "AccessDenied");

    let public = format!(
        r#"{{"Version": "2012-10-17", "Statement": [{{"Sid": "Public", "Effect": "Allow", "Principal": "*",
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::{b}/*"}}]}}"#
    );
    set_policy(&s.gw, &c, &b, &public).await;
    let r = call(&s.gw, &c, Method::GET, &format!("/{b}?policyStatus"), "", &[]).await;
    assert_eq!(r.xml_tag("IsPublic").as_deref(), Some("true"), "{}", r.text());

    // Malformed: refused with the element named, and the previous policy stays.
    for (bad, names) in [
        (
            format!(
                r#"{{"Version": "2012-10-17", "Statement": [{{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                    "Resource": "arn:aws:s3:::{b}/*", "Condition": {{"BinaryEquals": {{"s3:prefix": "YQ=="}}}}}}]}}"#
            ),
            "Statement[0].Condition.BinaryEquals",
        ),
        (
            format!(
                r#"{{"Version": "2012-10-17", "Statement": [{{"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::{b}/*", "Condition": {{"StringEquals": {{"s3:ExistingObjectTag/team": "x"}}}}}}]}}"#
            ),
            "s3:ExistingObjectTag",
        ),
        ("{".to_owned(), "not JSON"),
    ] {
        let r = put_policy(&s.gw, &c, &b, &bad).await;
        r.assert_error(400, "MalformedPolicy");
        let msg = r.xml_tag("Message").unwrap_or_default();
        assert!(msg.contains(names), "{msg:?} should name {names:?}");
    }
    let r = call(&s.gw, &c, Method::GET, &path, "", &[]).await;
    assert_eq!(r.text(), public);

    let r = call(&s.gw, &c, Method::DELETE, &path, "", &[]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    call(&s.gw, &c, Method::GET, &path, "", &[])
        .await
        .assert_error(404, "NoSuchBucketPolicy");
    s.backend.assert_absent(&b, ".s3-sse-proxy/policy.json").await;
}

/// A Deny of PutBucketPolicy in the stored policy binds the API too; a pinned policy cannot be deleted.
#[tokio::test(flavor = "multi_thread")]
async fn pinned_policy_survives_delete_bucket_policy() {
    let b = unique_bucket("pol-pinned");
    let pinned = fixture("put-obj-policy-aes256.json", &b);
    let s = Stack::start_with(&format!("[[policies]]\nbucket = \"{b}\"\npolicy = '''{pinned}'''\n"));
    let c = s.gw.client();
    create_bucket(&s.gw, &c, &b).await;
    expect_put(&s, &c, &b, "plain", &[], false).await;
    // Not shown by the API, and not removed by it.
    call(&s.gw, &c, Method::GET, &format!("/{b}?policy"), "", &[])
        .await
        .assert_error(404, "NoSuchBucketPolicy");
    let r = call(&s.gw, &c, Method::DELETE, &format!("/{b}?policy"), "", &[]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    expect_put(&s, &c, &b, "plain2", &[], false).await;
    // A stored policy adds to it; the pinned Deny still wins over a stored Allow.
    let allow_all = format!(
        r#"{{"Version": "2012-10-17", "Statement": [{{"Sid": "All", "Effect": "Allow", "Principal": "*",
            "Action": "s3:*", "Resource": ["arn:aws:s3:::{b}", "arn:aws:s3:::{b}/*"]}}]}}"#
    );
    set_policy(&s.gw, &c, &b, &allow_all).await;
    expect_put(&s, &c, &b, "plain3", &[], false).await;
    expect_put(&s, &c, &b, "aes", &[AES256], true).await;
}

/// A malformed pinned policy stops the gateway from starting, naming the element.
#[test]
fn malformed_pinned_policy_refuses_to_start() {
    let backend = Backend::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gw.toml");
    std::fs::write(
        &config,
        format!(
            "[backend]\nkind = \"s3\"\nendpoint = \"{}\"\naccess_key_id = \"{BACKEND_AK}\"\nsecret_access_key = \"{BACKEND_SK}\"\n\
             [[policies]]\nbucket = \"b\"\npolicy = '''{{\"Statement\": {{\"Effect\": \"Deny\", \"Principal\": \"*\", \
             \"Action\": \"s3:*\", \"Resource\": \"*\", \"Condition\": {{\"StringEquals\": {{\"aws:RequestTag/x\": \"y\"}}}}}}}}'''\n",
            backend.endpoint()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .env("S3_SSE_PROXY_ACCESS_KEY_ID", "AK")
        .env("S3_SSE_PROXY_SECRET_ACCESS_KEY", "SK")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("aws:RequestTag/x") && err.contains("policies[0]"), "{err}");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `allowed_buckets` is the operator's boundary: a bucket policy that allows everyone (`Principal: "*"`) does not
/// let a credential confined to another bucket in; within its buckets, the policy still narrows.
#[tokio::test(flavor = "multi_thread")]
async fn a_bucket_policy_cannot_widen_allowed_buckets() {
    let s = Stack::start();
    let c = s.gw.client();
    let bucket = unique_bucket("boundary");
    create_bucket(&s.gw, &c, &bucket).await;
    let open = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Everyone","Effect":"Allow","Principal":"*",
        "Action":"s3:*","Resource":["arn:aws:s3:::{bucket}","arn:aws:s3:::{bucket}/*"]}}]}}"#
    );
    set_policy(&s.gw, &c, &bucket, &open).await;
    let r = send(&c, signed(&s.gw, LIMITED, Method::PUT, &format!("/{bucket}/x"), "x")).await;
    r.assert_error(403, "AccessDenied");
    s.backend.assert_absent(&bucket, "x").await;
    let r = send(&c, signed(&s.gw, LIMITED, Method::GET, &format!("/{bucket}"), "")).await;
    r.assert_error(403, "AccessDenied");
    // The owner's credential is allowed, by the statement.
    let r = call(&s.gw, &c, Method::PUT, &format!("/{bucket}/y"), "y", &[]).await;
    r.assert_ok();
    let denied =
        s.gw.metric_value(r#"s3_sse_proxy_policy_decisions_total{decision="deny",rule="allowed-buckets"}"#)
            .await;
    assert_eq!(denied, 2.0, "both refusals counted under allowed-buckets");
}

const READER: Creds = Creds {
    ak: "READERAKIDEXAMPLE001",
    sk: "readerSecretKey/Example+0123456789abcdefg",
};
const KMS_WRITER: Creds = Creds {
    ak: "KMSWRITERAKIDEXAMPL1",
    sk: "kmsWriterSecretKey/Example+0123456789abcd",
};

/// Identity policies attached to credentials in the config: a read-only tenant can read its bucket and nothing
/// else (what no statement allows is denied), and a writer whose policy denies uploads without SSE-KMS.
#[tokio::test(flavor = "multi_thread")]
async fn credential_identity_policies_grant_only_what_they_allow() {
    let backend = Backend::start();
    let bucket = unique_bucket("identity");
    let extra = format!(
        r#"[[credentials]]
access_key_id = "{reader_ak}"
secret_access_key = "{reader_sk}"
display_name = "reader"
policy = '''{{"Version": "2012-10-17", "Statement": [
  {{"Sid": "ReadOneBucket", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
    "Resource": ["arn:aws:s3:::{bucket}", "arn:aws:s3:::{bucket}/*"]}}]}}'''

[[credentials]]
access_key_id = "{writer_ak}"
secret_access_key = "{writer_sk}"
display_name = "kms-writer"
policy = '''{{"Version": "2012-10-17", "Statement": [
  {{"Sid": "Everything", "Effect": "Allow", "Action": "s3:*", "Resource": "*"}},
  {{"Sid": "OnlyKms", "Effect": "Deny", "Action": "s3:PutObject", "Resource": "*",
    "Condition": {{"StringNotEqualsIfExists": {{"s3:x-amz-server-side-encryption": "aws:kms"}},
                  "Null": {{"s3:x-amz-server-side-encryption": "false"}}}}}},
  {{"Sid": "RequireHeader", "Effect": "Deny", "Action": "s3:PutObject", "Resource": "*",
    "Condition": {{"Null": {{"s3:x-amz-server-side-encryption": "true"}}}}}}]}}'''
"#,
        reader_ak = READER.ak,
        reader_sk = READER.sk,
        writer_ak = KMS_WRITER.ak,
        writer_sk = KMS_WRITER.sk,
    );
    let gw = Gateway::start(&backend, &extra);
    let c = gw.client();
    create_bucket(&gw, &c, &bucket).await;
    call(&gw, &c, Method::PUT, &format!("/{bucket}/doc"), "hello".to_owned(), &[])
        .await
        .assert_ok();

    // The reader: GET and list its bucket; nothing else.
    let r = send(&c, signed(&gw, READER, Method::GET, &format!("/{bucket}/doc"), "")).await;
    assert_eq!(r.body.as_ref(), b"hello", "{}", r.text());
    let r = send(
        &c,
        signed(&gw, READER, Method::GET, &format!("/{bucket}?list-type=2"), ""),
    )
    .await;
    r.assert_ok();
    let r = send(&c, signed(&gw, READER, Method::PUT, &format!("/{bucket}/new"), "x")).await;
    r.assert_error(403, "AccessDenied");
    backend.assert_absent(&bucket, "new").await;
    let r = send(&c, signed(&gw, READER, Method::DELETE, &format!("/{bucket}/doc"), "")).await;
    r.assert_error(403, "AccessDenied");
    send(&c, signed(&gw, READER, Method::GET, "/", ""))
        .await
        .assert_error(403, "AccessDenied");

    // The writer: uploads must ask for SSE-KMS.
    let put = |key: &str, h: &[(&str, &str)]| {
        signed_with_headers(&gw, KMS_WRITER, Method::PUT, &format!("/{bucket}/{key}"), "x", h)
    };
    send(&c, put("plain", &[])).await.assert_error(403, "AccessDenied");
    send(&c, put("aes", &[AES256])).await.assert_error(403, "AccessDenied");
    send(&c, put("kms", &[KMS])).await.assert_ok();
    backend.assert_absent(&bucket, "plain").await;
    backend.assert_absent(&bucket, "aes").await;
    send(&c, signed(&gw, KMS_WRITER, Method::GET, "/", ""))
        .await
        .assert_ok();
    let implicit = gw
        .metric_value(r#"s3_sse_proxy_policy_decisions_total{decision="deny",rule="implicit"}"#)
        .await;
    assert_eq!(implicit, 3.0, "the reader's three refusals are implicit denies");
    let only_kms = gw
        .metric_value(r#"s3_sse_proxy_policy_decisions_total{decision="deny",rule="OnlyKms"}"#)
        .await;
    assert_eq!(only_kms, 1.0);
}

/// An identity policy with a Principal (or anything the evaluator cannot evaluate) stops the gateway.
#[test]
fn malformed_identity_policy_refuses_to_start() {
    let backend = Backend::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gw.toml");
    std::fs::write(
        &config,
        format!(
            "[backend]\nkind = \"s3\"\nendpoint = \"{}\"\naccess_key_id = \"{BACKEND_AK}\"\nsecret_access_key = \"{BACKEND_SK}\"\n\
             [[credentials]]\naccess_key_id = \"AKIDPOLICY0000000001\"\nsecret_access_key = \"sk\"\n\
             policy = '''{{\"Statement\": {{\"Effect\": \"Allow\", \"Principal\": \"*\", \"Action\": \"s3:*\", \"Resource\": \"*\"}}}}'''\n",
            backend.endpoint()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("AKIDPOLICY0000000001") && err.contains("Principal"),
        "{err}"
    );
}

/// AWS's example policies through real clients (tests/clients/policy_examples.py): each policy put with the
/// client's PutBucketPolicy, then the uploads it allows and denies, single part and multipart, with nothing left
/// behind by a denied one.
fn run_policy_examples(name: &str, client: &[&str]) {
    let s = Stack::start();
    let bucket = unique_bucket(name);
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(client_script("policy_examples.py"))
        .args(client)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    for (k, v) in s.gw.client_env(&bucket) {
        cmd.env(k, v);
    }
    cmd.env("S3_BACKEND_ROOT", &s.backend.root).env(
        "S3_POLICY_DIR",
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/policies"),
    );
    let out_file = s.gw.work_dir().join(format!("{name}.out"));
    let out = run_with_timeout(cmd, &out_file, std::time::Duration::from_secs(600));
    assert!(
        out.status.success() && out.output.contains("all checks passed"),
        "{name}: exited with {}\n{}\n===== gateway log (tail) =====\n{}",
        out.status,
        out.output,
        tail(&s.gw.log(), 40)
    );
}

#[test]
fn aws_example_policies_with_boto3() {
    run_policy_examples("pol-boto3", &["boto3"]);
}

#[test]
fn aws_example_policies_with_awscli_v2() {
    run_policy_examples("pol-cli2", &["awscli", "/usr/bin/aws"]);
}

#[test]
fn aws_example_policies_with_awscli_v1() {
    run_policy_examples("pol-cli1", &["awscli", "python3", "-m", "awscli"]);
}

/// A request without credentials, as the gateway's HTTPS client sends it.
async fn anonymous(
    s: &Stack,
    c: &HttpsClient,
    method: Method,
    path: &str,
    body: &'static [u8],
    h: &[(&str, &str)],
) -> Resp {
    let mut b = http::Request::builder().method(method).uri(s.gw.url(path));
    if !body.is_empty() {
        b = b.header("content-length", body.len());
    }
    for (n, v) in h {
        b = b.header(*n, *v);
    }
    send(c, b.body(bytes::Bytes::from_static(body)).unwrap()).await
}

/// Requests without credentials are S3's anonymous requests: refused (403 AccessDenied) unless a bucket policy
/// grants everyone (`"Principal": "*"`) the action; then an SSE-S3 object is served decrypted, while SSE-KMS (the
/// KMS acts for an identity) and SSE-C stay refused. A principal that names an account never means everyone.
#[tokio::test(flavor = "multi_thread")]
async fn anonymous_requests_only_where_a_bucket_policy_grants_everyone() {
    let s = Stack::start();
    let c = s.gw.client();
    let bucket = unique_bucket("anon");
    let other = unique_bucket("anon-other");
    create_bucket(&s.gw, &c, &bucket).await;
    create_bucket(&s.gw, &c, &other).await;
    let data = pseudo_random(200_000, 7);
    for b in [&bucket, &other] {
        put_object(&s.gw, &c, b, "public.bin", data.clone()).await.assert_ok();
    }
    call(&s.gw, &c, Method::PUT, &format!("/{bucket}/kms.bin"), "kms", &[KMS])
        .await
        .assert_ok();
    let ck = b"0123456789abcdef0123456789abcdef";
    let (ck_b64, ck_md5) = (b64(ck), md5_b64(ck));
    let sse_c = [
        ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
        ("x-amz-server-side-encryption-customer-key", ck_b64.as_str()),
        ("x-amz-server-side-encryption-customer-key-md5", ck_md5.as_str()),
    ];
    call(&s.gw, &c, Method::PUT, &format!("/{bucket}/c.bin"), "ssec", &sse_c)
        .await
        .assert_ok();
    let get = |b: &str, k: &str| format!("/{b}/{k}");

    // No policy: nothing for anyone without credentials.
    anonymous(&s, &c, Method::GET, &get(&bucket, "public.bin"), b"", &[])
        .await
        .assert_error(403, "AccessDenied");

    // A statement that names the account is not everyone.
    let account_only = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#,
        ACCOUNT = "000000000000"
    );
    set_policy(&s.gw, &c, &bucket, &account_only).await;
    anonymous(&s, &c, Method::GET, &get(&bucket, "public.bin"), b"", &[])
        .await
        .assert_error(403, "AccessDenied");

    let public_read = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
    );
    set_policy(&s.gw, &c, &bucket, &public_read).await;
    let r = anonymous(&s, &c, Method::GET, &get(&bucket, "public.bin"), b"", &[]).await;
    r.assert_ok();
    assert_eq!(r.body[..], data[..], "anonymous GET: the plaintext");
    let r = anonymous(
        &s,
        &c,
        Method::GET,
        &get(&bucket, "public.bin"),
        b"",
        &[("range", "bytes=70000-70009")],
    )
    .await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.body[..], data[70000..70010]);
    let r = anonymous(&s, &c, Method::HEAD, &get(&bucket, "public.bin"), b"", &[]).await;
    r.assert_ok();
    assert_eq!(r.header("content-length"), Some("200000"));

    // What the policy does not grant, or needs an identity, stays refused; nothing is written.
    anonymous(&s, &c, Method::GET, &get(&bucket, "kms.bin"), b"", &[])
        .await
        .assert_error(400, "InvalidArgument");
    anonymous(&s, &c, Method::GET, &get(&bucket, "c.bin"), b"", &sse_c)
        .await
        .assert_error(403, "AccessDenied");
    anonymous(&s, &c, Method::GET, &get(&bucket, "c.bin"), b"", &[])
        .await
        .assert_error(400, "InvalidRequest");
    anonymous(&s, &c, Method::PUT, &get(&bucket, "new.bin"), b"hello", &[])
        .await
        .assert_error(403, "AccessDenied");
    s.backend.assert_absent(&bucket, "new.bin").await;
    anonymous(&s, &c, Method::GET, &format!("/{bucket}?list-type=2"), b"", &[])
        .await
        .assert_error(403, "AccessDenied");
    anonymous(&s, &c, Method::GET, &get(&other, "public.bin"), b"", &[])
        .await
        .assert_error(403, "AccessDenied");
    anonymous(&s, &c, Method::GET, "/", b"", &[])
        .await
        .assert_error(403, "AccessDenied");
    anonymous(&s, &c, Method::GET, &get(&bucket, ".s3-sse-proxy/adopted"), b"", &[])
        .await
        .assert_error(403, "AccessDenied");

    // Writes granted to everyone: SSE-S3 only, never SSE-KMS (explicit or the bucket's default) or SSE-C.
    let public_write = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
    );
    set_policy(&s.gw, &c, &bucket, &public_write).await;
    anonymous(&s, &c, Method::PUT, &get(&bucket, "drop.bin"), b"hello", &[])
        .await
        .assert_ok();
    let r = get_object(&s.gw, &c, &bucket, "drop.bin").await;
    assert_eq!(&r.body[..], b"hello");
    assert_eq!(r.header("x-amz-server-side-encryption"), Some("AES256"));
    anonymous(&s, &c, Method::PUT, &get(&bucket, "k.bin"), b"hello", &[KMS])
        .await
        .assert_error(400, "InvalidArgument");
    anonymous(&s, &c, Method::PUT, &get(&bucket, "c2.bin"), b"hello", &sse_c)
        .await
        .assert_error(403, "AccessDenied");
    for k in ["k.bin", "c2.bin"] {
        s.backend.assert_absent(&bucket, k).await;
    }
    // A body that claims chunk signatures cannot be checked without a key.
    let r = anonymous(
        &s,
        &c,
        Method::PUT,
        &get(&bucket, "chunked.bin"),
        b"0;chunk-signature=00\r\n\r\n",
        &[
            ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
            ("x-amz-decoded-content-length", "0"),
        ],
    )
    .await;
    r.assert_error(403, "AccessDenied");
    s.backend.assert_absent(&bucket, "chunked.bin").await;
}
