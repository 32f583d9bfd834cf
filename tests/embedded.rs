//! The embedded backend (s3s-fs behind `src/embedded/`) through the gateway, as S3 clients see it: missing and
//! directory keys, listings with ETags, versions of an unversioned bucket, DeleteObjects, bucket names,
//! conditional writes (issue 18); stored checksums (issue 20). boto3 runs `tests/clients/embedded_s3.py` and
//! `tests/clients/checksums.py`, one case per test; aws-cli and rclone run here.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http::Method;

/// One fs-backend and gateway for the tests that run at the same time (they use buckets of their own); the last
/// test to finish stops them.
fn shared_stack() -> Arc<Stack> {
    static SHARED: Mutex<Weak<Stack>> = Mutex::new(Weak::new());
    let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(stack) = shared.upgrade() {
        return stack;
    }
    let stack = Arc::new(Stack::start());
    *shared = Arc::downgrade(&stack);
    stack
}

fn boto3_case(case: &str) {
    let stack = shared_stack();
    let out = run_python_part(&stack, "embedded_s3.py", case);
    assert!(out.contains(&format!("{case}: all checks passed")), "{out}");
}

fn checksums_case(case: &str) {
    let stack = shared_stack();
    let out = run_python_part(&stack, "checksums.py", case);
    assert!(out.contains(&format!("{case}: all checks passed")), "{out}");
}

#[test]
fn checksums_round_trip_for_every_algorithm_as_header_or_trailer() {
    checksums_case("round_trip_per_algorithm");
}

#[test]
fn checksums_default_to_a_crc64nvme_of_the_plaintext() {
    checksums_case("default_crc64nvme");
}

#[test]
fn checksums_are_answered_only_for_whole_object_reads() {
    checksums_case("ranges_and_parts_answer_none");
}

#[test]
fn checksums_that_do_not_match_are_400_bad_digest_and_store_nothing() {
    checksums_case("wrong_checksum_stores_nothing");
}

#[test]
fn checksums_in_get_object_attributes_and_only_with_the_sse_c_key() {
    checksums_case("attributes_and_sse_c");
}

#[test]
fn checksums_survive_copies() {
    checksums_case("copies_keep_the_checksum");
}

#[test]
fn checksum_records_are_sealed_bound_to_their_object_and_deleted_with_it() {
    checksums_case("records_follow_their_objects");
}

#[test]
fn checksums_of_multipart_uploads_composite_and_full_object() {
    checksums_case("multipart_composite_and_full_object");
}

#[test]
fn checksums_of_multipart_uploads_by_default_and_through_s3transfer() {
    checksums_case("multipart_default_and_transfers");
}

#[test]
fn checksums_of_multipart_uploads_are_checked_at_complete_as_s3_checks_them() {
    checksums_case("multipart_checksum_errors");
}

#[test]
fn checksums_of_multipart_sse_c_uploads_copied_parts_and_aborted_uploads() {
    checksums_case("multipart_sse_c_copies_and_aborts");
}

#[test]
fn boto3_a_complete_abandoned_by_its_client_still_completes_with_its_records() {
    boto3_case("abandoned_complete");
}

#[test]
fn boto3_retried_complete_succeeds_and_gone_uploads_are_404_no_such_upload() {
    boto3_case("retried_and_gone_uploads");
}

#[test]
fn boto3_lists_open_multipart_uploads_and_aborts_one_by_its_listed_id() {
    boto3_case("list_multipart_uploads");
}

#[test]
fn boto3_object_tagging_set_by_every_write_counted_on_get_and_checked() {
    boto3_case("object_tagging");
}

#[test]
fn boto3_copy_onto_itself_must_change_something() {
    boto3_case("copy_onto_itself");
}

#[test]
fn boto3_torrent_select_and_rename_are_501_and_change_nothing() {
    boto3_case("subresources_on_ciphertext_are_refused");
}

#[test]
fn boto3_missing_and_directory_keys_are_404_no_such_key() {
    boto3_case("missing_and_directory_keys");
}

#[test]
fn boto3_keys_that_are_prefixes_of_others_and_folder_markers_are_objects_like_any() {
    boto3_case("prefix_keys_and_folder_markers");
}

#[test]
fn boto3_listings_carry_etag_size_storage_class_and_owner() {
    boto3_case("listings");
}

#[test]
fn boto3_lists_versions_of_an_unversioned_bucket_and_empties_it() {
    boto3_case("versions");
}

#[test]
fn boto3_delete_objects_and_get_bucket_location_work() {
    boto3_case("delete_objects_and_location");
}

#[test]
fn boto3_delete_bucket_of_a_bucket_with_objects_is_409_bucket_not_empty() {
    boto3_case("delete_bucket_not_empty");
}

#[test]
fn boto3_errors_carry_s3s_code_status_and_message() {
    boto3_case("errors_in_s3s_words");
}

#[test]
fn boto3_invalid_bucket_names_are_400_or_404_never_500() {
    boto3_case("invalid_bucket_names");
}

#[test]
fn boto3_conditional_writes_answer_412_and_404_as_s3() {
    boto3_case("conditional_writes");
}

#[test]
fn boto3_conditional_deletes_compare_the_client_etag_per_object_and_per_delete_objects_entry() {
    boto3_case("conditional_deletes");
}

#[test]
fn boto3_delete_objects_removes_the_checksum_records_and_part_layouts_of_what_it_deleted() {
    boto3_case("delete_objects_removes_records");
}

#[test]
fn boto3_conditional_copies_compare_the_destinations_client_etag() {
    boto3_case("conditional_copies");
}

#[test]
fn boto3_conditional_writes_with_the_current_etag_succeed() {
    boto3_case("conditional_writes_with_the_current_etag");
}

#[test]
fn boto3_listings_with_any_delimiter_never_show_the_gateways_records() {
    boto3_case("delimiters_never_show_records");
}

#[test]
fn boto3_get_object_attributes_answers_plaintext_sizes_parts_and_sse_c_rules() {
    boto3_case("object_attributes");
}

#[test]
fn boto3_two_racing_if_none_match_puts_give_one_200_and_one_412() {
    boto3_case("racing_creates");
}

#[test]
fn boto3_keys_up_to_1024_bytes_work_and_longer_ones_are_400_key_too_long() {
    boto3_case("long_keys");
}

/// A bucket with `dir/sub/f.bin`, `dir/g.bin` and `other.bin` (pseudo-random bodies), made with raw requests.
fn bucket_with_a_directory(stack: &Stack, name: &str) -> (String, Vec<(&'static str, Vec<u8>)>) {
    let bucket = unique_bucket(name);
    let objects = vec![
        ("dir/sub/f.bin", pseudo_random(300_000, 1)),
        ("dir/g.bin", pseudo_random(1000, 2)),
        ("other.bin", pseudo_random(10, 3)),
    ];
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(async {
        let c = stack.gw.client();
        create_bucket(&stack.gw, &c, &bucket).await;
        for (key, body) in &objects {
            put_object(&stack.gw, &c, &bucket, key, body.clone()).await.assert_ok();
        }
    });
    (bucket, objects)
}

#[test]
fn head_of_a_directory_key_is_a_bare_404_and_get_is_no_such_key() {
    let stack = shared_stack();
    let (bucket, _) = bucket_with_a_directory(&stack, "emb-raw");
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(async {
        let c = stack.gw.client();
        for key in ["dir", "dir/sub", "nothing"] {
            let path = format!("/{bucket}/{key}");
            let head = call(&stack.gw, &c, Method::HEAD, &path, Bytes::new(), &[]).await;
            assert_eq!(head.status.as_u16(), 404, "HEAD {path}: {:?}", head.headers);
            assert!(head.body.is_empty(), "HEAD {path} has a body");
            call(&stack.gw, &c, Method::GET, &path, Bytes::new(), &[])
                .await
                .assert_error(404, "NoSuchKey");
            // With partNumber too: the error document, not a HEAD's empty 404 (issue 23).
            call(
                &stack.gw,
                &c,
                Method::GET,
                &format!("{path}?partNumber=1"),
                Bytes::new(),
                &[],
            )
            .await
            .assert_error(404, "NoSuchKey");
        }
    });
}

/// `/usr/bin/aws args...` as the gateway's client; (exit status, stdout and stderr).
fn aws(stack: &Stack, args: &[&str]) -> (std::process::ExitStatus, String) {
    let mut cmd = Command::new("/usr/bin/aws");
    cmd.args(args).args(["--endpoint-url", &stack.gw.endpoint()]);
    for (k, v) in stack.gw.client_env("unused") {
        cmd.env(k, v);
    }
    cmd.env("AWS_PAGER", "").env("AWS_MAX_ATTEMPTS", "1");
    let out = run_with_timeout(cmd, &stack.gw.work_dir().join("aws.out"), Duration::from_secs(120));
    (out.status, out.output)
}

#[test]
fn aws_cli_sees_404_and_versions_and_removes_the_bucket() {
    let stack = shared_stack();
    let (bucket, objects) = bucket_with_a_directory(&stack, "emb-cli");

    let (st, out) = aws(&stack, &["s3api", "head-object", "--bucket", &bucket, "--key", "dir"]);
    assert!(
        !st.success() && out.contains("(404)"),
        "head-object of a directory key: {out}"
    );

    let (st, out) = aws(&stack, &["s3api", "list-object-versions", "--bucket", &bucket]);
    assert!(st.success(), "list-object-versions: {out}");
    let listed: serde_json::Value = serde_json::from_str(&out).expect("aws-cli prints JSON");
    let versions = listed["Versions"].as_array().expect("Versions");
    let keys: Vec<&str> = versions.iter().map(|v| v["Key"].as_str().unwrap_or("")).collect();
    assert_eq!(keys, ["dir/g.bin", "dir/sub/f.bin", "other.bin"], "{out}");
    for (v, (_, body)) in versions.iter().zip([&objects[1], &objects[0], &objects[2]]) {
        assert_eq!(v["VersionId"], "null", "{v}");
        assert_eq!(v["IsLatest"], true, "{v}");
        assert_eq!(v["Size"], body.len(), "{v}");
        assert!(v["ETag"].as_str().is_some_and(|e| e.len() > 2), "{v}");
    }

    let (st, out) = aws(&stack, &["s3api", "get-bucket-versioning", "--bucket", &bucket]);
    assert!(st.success() && !out.contains("Status"), "get-bucket-versioning: {out}");

    let (st, out) = aws(&stack, &["s3", "rb", "--force", &format!("s3://{bucket}")]);
    assert!(st.success(), "aws s3 rb --force: {out}");
    let (st, out) = aws(&stack, &["s3api", "head-bucket", "--bucket", &bucket]);
    assert!(!st.success() && out.contains("(404)"), "head-bucket after rb: {out}");
}

/// aws-cli's JSON answer to `args`, which must succeed.
fn aws_json(stack: &Stack, args: &[&str]) -> serde_json::Value {
    let (st, out) = aws(stack, args);
    assert!(st.success(), "aws {args:?}: {out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("aws {args:?} prints JSON ({e}): {out}"))
}

fn b64(d: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(d)
}

fn sha256(d: &[u8]) -> Vec<u8> {
    use sha2::{Digest as _, Sha256};
    Sha256::digest(d).to_vec()
}

/// A bucket of its own for an aws-cli test, and 300 KB of data.
fn aws_cli_bucket(stack: &Stack, bucket: &str) -> Vec<u8> {
    let (st, out) = aws(stack, &["s3api", "create-bucket", "--bucket", bucket]);
    assert!(st.success(), "create-bucket: {out}");
    (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn aws_cli_checksum_mode_and_get_object_attributes_answer_the_plaintext_checksum() {
    let stack = shared_stack();
    let bucket = "emb-cli-checksums";
    let dir = stack.gw.work_dir();
    // One PUT of 300 KB with the SHA256 aws-cli computes: answered on PUT, HEAD with checksum mode, attributes.
    let data = aws_cli_bucket(&stack, bucket);
    let file = dir.join("sums-one.bin");
    std::fs::write(&file, &data).unwrap();
    let want = b64(&sha256(&data));
    let f = file.to_str().unwrap();
    let put = aws_json(
        &stack,
        &[
            "s3api",
            "put-object",
            "--bucket",
            bucket,
            "--key",
            "one",
            "--body",
            f,
            "--checksum-algorithm",
            "SHA256",
        ],
    );
    assert_eq!(put["ChecksumSHA256"], want.as_str(), "put-object: {put}");
    let head = aws_json(
        &stack,
        &[
            "s3api",
            "head-object",
            "--bucket",
            bucket,
            "--key",
            "one",
            "--checksum-mode",
            "ENABLED",
        ],
    );
    assert_eq!(
        head["ChecksumSHA256"],
        want.as_str(),
        "head-object --checksum-mode ENABLED: {head}"
    );
    let head = aws_json(&stack, &["s3api", "head-object", "--bucket", bucket, "--key", "one"]);
    assert!(
        head.get("ChecksumSHA256").is_none(),
        "head-object without checksum mode: {head}"
    );
    let attrs = aws_json(
        &stack,
        &[
            "s3api",
            "get-object-attributes",
            "--bucket",
            bucket,
            "--key",
            "one",
            "--object-attributes",
            "Checksum",
            "ObjectSize",
        ],
    );
    assert_eq!(attrs["ObjectSize"], data.len(), "{attrs}");
    assert_eq!(attrs["Checksum"]["ChecksumSHA256"], want.as_str(), "{attrs}");
    let (st, out) = aws(&stack, &["s3", "rb", "--force", &format!("s3://{bucket}")]);
    assert!(st.success(), "aws s3 rb --force: {out}");
}

#[test]
fn aws_cli_multipart_sha256_parts_make_a_composite_checksum() {
    let stack = shared_stack();
    let bucket = "emb-cli-mpu-checksums";
    let dir = stack.gw.work_dir();
    let data = aws_cli_bucket(&stack, bucket);
    // A multipart upload with SHA256 parts (aws-cli computes each): COMPOSITE, the SHA256 of the parts' SHA256s, -2.
    let parts: [Vec<u8>; 2] = [data.repeat(18), data[..1000].to_vec()];
    let up = aws_json(
        &stack,
        &[
            "s3api",
            "create-multipart-upload",
            "--bucket",
            bucket,
            "--key",
            "multi",
            "--checksum-algorithm",
            "SHA256",
        ],
    );
    let upload_id = up["UploadId"].as_str().expect("UploadId").to_owned();
    let mut listed = Vec::new();
    for (n, part) in parts.iter().enumerate() {
        let path = dir.join(format!("sums-part-{n}.bin"));
        std::fs::write(&path, part).unwrap();
        let number = (n + 1).to_string();
        let r = aws_json(
            &stack,
            &[
                "s3api",
                "upload-part",
                "--bucket",
                bucket,
                "--key",
                "multi",
                "--upload-id",
                &upload_id,
                "--part-number",
                &number,
                "--body",
                path.to_str().unwrap(),
                "--checksum-algorithm",
                "SHA256",
            ],
        );
        assert_eq!(
            r["ChecksumSHA256"],
            b64(&sha256(part)).as_str(),
            "upload-part {number}: {r}"
        );
        listed.push(serde_json::json!({"PartNumber": n + 1, "ETag": r["ETag"], "ChecksumSHA256": r["ChecksumSHA256"]}));
    }
    let raw: Vec<u8> = parts.iter().flat_map(|p| sha256(p)).collect();
    let composite = format!("{}-2", b64(&sha256(&raw)));
    let done = serde_json::json!({ "Parts": listed }).to_string();
    let c = aws_json(
        &stack,
        &[
            "s3api",
            "complete-multipart-upload",
            "--bucket",
            bucket,
            "--key",
            "multi",
            "--upload-id",
            &upload_id,
            "--multipart-upload",
            &done,
        ],
    );
    assert_eq!(
        c["ChecksumSHA256"],
        composite.as_str(),
        "complete-multipart-upload: {c}"
    );
    let head = aws_json(
        &stack,
        &[
            "s3api",
            "head-object",
            "--bucket",
            bucket,
            "--key",
            "multi",
            "--checksum-mode",
            "ENABLED",
        ],
    );
    assert_eq!(
        head["ChecksumSHA256"],
        composite.as_str(),
        "head-object of the multipart object: {head}"
    );
    assert_eq!(head["ContentLength"], parts[0].len() + parts[1].len(), "{head}");

    let (st, out) = aws(&stack, &["s3", "rb", "--force", &format!("s3://{bucket}")]);
    assert!(st.success(), "aws s3 rb --force: {out}");
}

#[test]
fn aws_cli_create_bucket_with_an_invalid_name_is_400_invalid_bucket_name() {
    let stack = shared_stack();
    for name in ["ab", "a..b", "192.168.0.1"] {
        let (st, out) = aws(&stack, &["s3api", "create-bucket", "--bucket", name]);
        assert!(
            !st.success() && out.contains("InvalidBucketName"),
            "create-bucket {name}: {out}"
        );
    }
}

/// Straight to the backend: what the gateway should pass on for an invalid bucket name.
#[test]
fn the_backend_answers_400_invalid_bucket_name_for_invalid_names() {
    let stack = shared_stack();
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(async {
        let long = "a".repeat(64);
        for name in ["ab", "AB", "a..b", long.as_str(), "192.168.1.2"] {
            for (method, path) in [(Method::PUT, format!("/{name}")), (Method::GET, format!("/{name}/k"))] {
                let r = stack
                    .backend
                    .send_signed(BACKEND, method.clone(), &path, Bytes::new())
                    .await;
                r.assert_error(400, "InvalidBucketName");
            }
        }
    });
}

#[test]
fn rclone_copies_a_prefix_that_is_a_directory_without_retrying() {
    let stack = shared_stack();
    let (bucket, objects) = bucket_with_a_directory(&stack, "emb-rclone");
    let work = stack.gw.work_dir();
    let dest = work.join("copied");
    let log = work.join("rclone.log");
    let mut cmd = Command::new("rclone");
    cmd.args(["copy", &format!("gw:{bucket}/dir")])
        .arg(&dest)
        .arg("--ca-cert")
        .arg(stack.gw.ca_file())
        // Never -vv: rclone's debug log prints the secret key. Its default retries stay on: a retry must not
        // be needed.
        .arg("-v")
        .arg("--log-file")
        .arg(&log)
        .env("RCLONE_CONFIG", work.join("rclone.conf"))
        .env("RCLONE_CONFIG_GW_TYPE", "s3")
        .env("RCLONE_CONFIG_GW_PROVIDER", "Other")
        .env("RCLONE_CONFIG_GW_ENDPOINT", stack.gw.endpoint())
        .env("RCLONE_CONFIG_GW_ACCESS_KEY_ID", CLIENT_AK)
        .env("RCLONE_CONFIG_GW_SECRET_ACCESS_KEY", CLIENT_SK)
        .env("RCLONE_CONFIG_GW_REGION", REGION)
        .env("NO_PROXY", "127.0.0.1,localhost")
        // rclone's SDK refuses AWS_CA_BUNDLE with its custom transport; the CA comes from --ca-cert.
        .env_remove("AWS_CA_BUNDLE");
    std::fs::write(work.join("rclone.conf"), "").expect("rclone.conf");
    let started = Instant::now();
    let out = run_with_timeout(cmd, &work.join("rclone.out"), Duration::from_secs(120));
    let took = started.elapsed();
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(out.status.success(), "rclone copy failed:\n{}\n{log}", out.output);
    assert!(took < Duration::from_secs(20), "rclone copy took {took:?}:\n{log}");
    assert!(!log.to_lowercase().contains("retry"), "rclone retried:\n{log}");
    for (key, body) in &objects {
        let local = key.strip_prefix("dir/").map(|k| dest.join(k));
        match local {
            Some(p) => assert_eq!(std::fs::read(&p).ok().as_ref(), Some(body), "{}", p.display()),
            None => assert!(!dest.join(key).exists(), "{key} is outside the prefix"),
        }
    }
    assert!(!Path::new(&dest).join("sub/f.bin/").is_dir());
}

/// A CompleteMultipartUpload whose caller goes away as soon as it has sent it (a gateway killed mid-request, as in
/// the three-instance test) still runs to its end in the embedded backend: the object is there, whole, and the
/// upload is done. Cut between its steps, it had left the upload gone and no object.
#[tokio::test]
async fn a_complete_whose_caller_goes_away_still_completes() {
    use std::io::Write as _;
    let stack = shared_stack();
    let backend = &stack.backend;
    let bucket = unique_bucket("abandoned-complete");
    let made = backend
        .send_signed(BACKEND, Method::PUT, &format!("/{bucket}"), Bytes::new())
        .await;
    assert!(
        made.status.is_success(),
        "CreateBucket: {} {}",
        made.status,
        made.text()
    );
    let object = format!("/{bucket}/big");
    let created = backend
        .send_signed(BACKEND, Method::POST, &format!("{object}?uploads"), Bytes::new())
        .await;
    let text = created.text();
    let upload_id = text
        .split_once("<UploadId>")
        .and_then(|(_, rest)| rest.split_once("</UploadId>"))
        .map(|(id, _)| id.to_owned())
        .unwrap_or_else(|| panic!("CreateMultipartUpload: {} {text}", created.status));
    let part = Bytes::from(pseudo_random(8 << 20, 7));
    let mut xml = String::from("<CompleteMultipartUpload>");
    for n in 1..=2 {
        let r = backend
            .send_signed(
                BACKEND,
                Method::PUT,
                &format!("{object}?partNumber={n}&uploadId={upload_id}"),
                part.clone(),
            )
            .await;
        let etag = r
            .header("etag")
            .unwrap_or_else(|| panic!("UploadPart {n}: {} {}", r.status, r.text()));
        xml.push_str(&format!("<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"));
    }
    xml.push_str("</CompleteMultipartUpload>");

    // The Complete, written to a connection that is closed at once, before any answer.
    let body = Bytes::from(xml);
    let mut req = http::Request::builder()
        .method(Method::POST)
        .uri(format!("{}{object}?uploadId={upload_id}", backend.endpoint()))
        .header("content-length", body.len())
        .body(body.clone())
        .unwrap();
    sign_request(
        &mut req,
        BACKEND,
        std::time::SystemTime::now(),
        aws_sigv4::http_request::SignableBody::Bytes(&body),
    );
    let mut wire = format!(
        "POST {} HTTP/1.1\r\nhost: {}\r\n",
        req.uri().path_and_query().unwrap(),
        backend.addr
    );
    for (name, value) in req.headers() {
        wire.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap()));
    }
    wire.push_str("\r\n");
    let mut tcp = std::net::TcpStream::connect(backend.addr).unwrap();
    tcp.write_all(wire.as_bytes()).unwrap();
    tcp.write_all(&body).unwrap();
    drop(tcp);

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = backend.send_signed(BACKEND, Method::GET, &object, Bytes::new()).await;
        if got.status == http::StatusCode::OK {
            assert_eq!(got.body.len(), 16 << 20, "the completed object's size");
            assert!(
                got.body[..8 << 20] == part[..] && got.body[8 << 20..] == part[..],
                "the completed object's bytes"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the abandoned Complete left no object: {} {}",
            got.status,
            got.text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let parts = backend
        .send_signed(
            BACKEND,
            Method::GET,
            &format!("{object}?uploadId={upload_id}"),
            Bytes::new(),
        )
        .await;
    assert_eq!(
        parts.status,
        http::StatusCode::NOT_FOUND,
        "the upload is done: {}",
        parts.text()
    );
}
