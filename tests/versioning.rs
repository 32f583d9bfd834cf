//! Versioned buckets through the gateway (issue 19): every version is a whole encrypted object of its own, read by
//! `versionId` (whole, ranged, `partNumber`) with that version's SSE-C key or SSE-KMS key id; PutObject,
//! CompleteMultipartUpload and CopyObject answer the backend's version id; CopyObject and UploadPartCopy read an
//! old version (and restore it); delete markers, DeleteObjects with versions, suspended versioning and the `null`
//! version; ListObjectVersions with plaintext sizes, the client's ETags, `IsLatest`, key/version-id markers and
//! `encoding-type=url`, the gateway's own records (`.s3-sse-proxy/…`) never shown nor counted in MaxKeys;
//! emptying and deleting a versioned bucket; and a backend that holds no plaintext of any version.
//!
//! The backend is moto's S3 (`python3 -m moto.server`, without signature checking: moto's check refuses every
//! request whose query holds a `/`, among them the gateway's listing of its adoption marker, without which every
//! listing shows stored sizes; see docs/compatibility.md and `common::moto`. The gateway's signing towards
//! backends is tested against s3s-fs, Ceph and moto in the matrix). The embedded
//! s3s-fs backend has no versioning (PutBucketVersioning answers 501) and Ceph RGW is only in the matrix runs,
//! while moto implements versioned buckets (version ids, delete markers, suspended versioning, version listings)
//! in a process started in a second. One moto and one gateway in front of it (local KMS, two keys made with
//! `kms create-key` as `common::local_kms_env` does) serve every test of this file; each test uses buckets of its
//! own.
//!
//! boto3 runs `tests/clients/versioning.py`, one case per test; aws-cli v2 runs here. The script's checks are
//! S3's documented behaviour, each first run against moto directly (`VERSIONING_DIRECT=1`, see the script's
//! docstring). Where moto's versioning differs from AWS's (listed in the script: `aws_behaviour`), the AWS check
//! is skipped (`VERSIONING_BACKEND=moto`) and printed as such, never replaced by moto's behaviour.

mod common;

use std::process::Command;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use common::moto::Moto;
use common::*;
use http::Method;

/// A script case moves a few MiB through TLS and a Python S3 server, with other tests running.
const CASE_TIMEOUT: Duration = Duration::from_secs(600);

/// moto's S3 and the gateway in front of it, with what the scripts need to reach both.
struct MotoStack {
    gw: Gateway,
    /// `S3_BACKEND_ROOT=s3+http://HOST:PORT` and the backend's keys: the script reads moto directly with them.
    backend_env: Vec<(String, String)>,
    /// `S3_KMS_*`: two keys of the gateway's local KMS (ids and ARNs).
    kms_env: Vec<(String, String)>,
    // Dropped after the gateway (fields drop in order).
    _moto: Moto,
}

impl MotoStack {
    fn start() -> MotoStack {
        let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
        let moto = rt.block_on(Moto::start_without_signature_check());
        let s3 = S3Backend {
            endpoint: moto.endpoint.clone(),
            access_key_id: moto.access_key_id.clone(),
            secret_access_key: moto.secret_access_key().to_owned(),
            backend_toml: String::new(),
        };
        let host = s3.endpoint.strip_prefix("http://").expect("moto listens on http://");
        let backend_env = vec![
            ("S3_BACKEND_ROOT".to_owned(), format!("s3+http://{host}")),
            ("S3_BACKEND_ACCESS_KEY_ID".to_owned(), s3.access_key_id.clone()),
            ("S3_BACKEND_SECRET_ACCESS_KEY".to_owned(), s3.secret_access_key.clone()),
        ];
        // The local KMS (the default `[kms]`): no configuration, keys made with `kms create-key`.
        let gw = Gateway::start_at(&s3, "", &[], &[]);
        let kms_env = local_kms_env(&gw);
        MotoStack {
            gw,
            backend_env,
            kms_env,
            _moto: moto,
        }
    }
}

/// One moto and gateway for the tests that run at the same time (they use buckets of their own); the last test
/// to finish stops them.
fn shared_stack() -> Arc<MotoStack> {
    static SHARED: Mutex<Weak<MotoStack>> = Mutex::new(Weak::new());
    let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(stack) = shared.upgrade() {
        return stack;
    }
    let stack = Arc::new(MotoStack::start());
    *shared = Arc::downgrade(&stack);
    stack
}

/// `python3 tests/clients/versioning.py <case>` through the shared gateway; panics with its output and the
/// gateway's log tail unless every check passed.
fn boto3_case(case: &str) {
    let stack = shared_stack();
    let env: Vec<_> = stack.backend_env.iter().chain(&stack.kms_env).cloned().collect();
    script_case(&stack, "versioning.py", case, &env, &[("VERSIONING_BACKEND", "moto")]);
}

/// `python3 tests/clients/checksums.py <case>` through the shared gateway, each case's bucket versioned (the
/// script reads the backend only through the gateway here: no `S3_BACKEND_ROOT`).
fn checksums_case(case: &str) {
    let stack = shared_stack();
    script_case(&stack, "checksums.py", case, &[], &[("CHECKSUMS_VERSIONED", "1")]);
}

fn script_case(stack: &MotoStack, script: &str, case: &str, env: &[(String, String)], more: &[(&str, &str)]) {
    let mut cmd = Command::new("python3");
    cmd.arg(client_script(script))
        .arg(case)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    for (k, v) in stack.gw.client_env(&unique_bucket("ver")).iter().chain(env) {
        cmd.env(k, v);
    }
    for (k, v) in more {
        cmd.env(k, v);
    }
    let out = run_with_timeout(cmd, &stack.gw.work_dir().join(format!("{case}.out")), CASE_TIMEOUT);
    assert!(
        out.status.success() && out.output.contains(&format!("{case}: all checks passed")),
        "{script} {case}: exited with {}\n===== output =====\n{}\n===== gateway log (tail) =====\n{}",
        out.status,
        out.output,
        tail(&stack.gw.log(), 60)
    );
}

#[test]
fn boto3_gets_and_heads_each_version_by_its_version_id_whole_and_ranged() {
    boto3_case("get_head_by_version_id");
}

#[test]
fn boto3_reads_every_version_of_an_sse_c_object_with_its_own_key() {
    boto3_case("sse_c_versions_with_their_own_keys");
}

#[test]
fn boto3_sees_each_sse_kms_version_under_its_own_key_id() {
    boto3_case("sse_kms_versions_under_two_key_ids");
}

#[test]
fn boto3_reads_a_multipart_version_whole_by_range_and_by_part_after_a_single_put_over_it() {
    boto3_case("multipart_version_overwritten_by_a_single_put");
}

#[test]
fn boto3_copies_an_old_version_to_another_key_onto_itself_and_into_upload_parts() {
    boto3_case("copy_from_an_old_version");
}

#[test]
fn boto3_delete_without_version_id_leaves_a_delete_marker_and_deleting_the_marker_restores_the_object() {
    boto3_case("delete_markers");
}

#[test]
fn boto3_lists_versions_with_plaintext_sizes_client_etags_and_pagination_without_gateway_records() {
    boto3_case("list_object_versions");
}

#[test]
fn boto3_suspended_versioning_replaces_reads_and_deletes_the_null_version() {
    boto3_case("suspended_versioning_and_the_null_version");
}

#[test]
fn boto3_delete_objects_with_version_ids_deletes_exactly_those_versions() {
    boto3_case("delete_objects_with_versions");
}

#[test]
fn boto3_empties_a_versioned_bucket_with_every_sse_mode_and_deletes_it() {
    boto3_case("empty_and_delete_a_versioned_bucket");
}

#[test]
fn boto3_get_bucket_versioning_reports_what_put_bucket_versioning_set() {
    boto3_case("bucket_versioning_round_trip");
}

#[test]
fn the_backend_holds_no_plaintext_of_any_version() {
    boto3_case("backend_holds_no_plaintext");
}

// Multipart checksums (tests/clients/checksums.py) in versioned buckets on moto (issue 20).

#[test]
fn checksums_multipart_composite_and_full_object_in_a_versioned_bucket_on_moto() {
    checksums_case("multipart_composite_and_full_object");
}

#[test]
fn checksums_multipart_default_and_transfers_in_a_versioned_bucket_on_moto() {
    checksums_case("multipart_default_and_transfers");
}

#[test]
fn checksums_multipart_errors_store_nothing_in_a_versioned_bucket_on_moto() {
    checksums_case("multipart_checksum_errors");
}

#[test]
fn checksums_multipart_sse_c_copies_and_aborts_in_a_versioned_bucket_on_moto() {
    checksums_case("multipart_sse_c_copies_and_aborts");
}

#[test]
fn checksums_each_multipart_version_answers_its_own_checksum_by_version_id_on_moto() {
    checksums_case("multipart_versions_keep_their_checksums");
}

/// `/usr/bin/aws args...` (aws-cli v2) as the gateway's client; (exit status, stdout and stderr).
fn aws(gw: &Gateway, args: &[&str]) -> (std::process::ExitStatus, String) {
    let mut cmd = Command::new("/usr/bin/aws");
    cmd.args(args).args(["--endpoint-url", &gw.endpoint()]);
    for (k, v) in gw.client_env("unused") {
        cmd.env(k, v);
    }
    cmd.env("AWS_PAGER", "").env("AWS_MAX_ATTEMPTS", "1");
    let out = run_with_timeout(cmd, &gw.work_dir().join("aws.out"), Duration::from_secs(120));
    (out.status, out.output)
}

/// `aws s3api …` that must succeed and print JSON: that JSON.
fn aws_json(gw: &Gateway, args: &[&str]) -> serde_json::Value {
    let (st, out) = aws(gw, args);
    assert!(st.success(), "aws {}: exited with {st}\n{out}", args.join(" "));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("aws {} printed no JSON ({e}):\n{out}", args.join(" ")))
}

/// `aws s3api …` that must succeed (its output, if any, is not looked at).
fn aws_ok(gw: &Gateway, args: &[&str]) {
    let (st, out) = aws(gw, args);
    assert!(st.success(), "aws {}: exited with {st}\n{out}", args.join(" "));
}

#[test]
fn aws_cli_lists_two_versions_with_plaintext_sizes_and_gets_the_first_by_version_id() {
    let stack = shared_stack();
    let gw = &stack.gw;
    let bucket = unique_bucket("ver-cli");
    let work = gw.work_dir();
    // Not multiples of the gateway's 64 KiB segment: the backend's sizes differ from these.
    let bodies = [pseudo_random(100_003, 19), pseudo_random(70_001, 20)];
    let files: Vec<String> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let path = work.join(format!("v{}.bin", i + 1));
            std::fs::write(&path, b).expect("writing a body file");
            path.display().to_string()
        })
        .collect();

    aws_ok(gw, &["s3api", "create-bucket", "--bucket", &bucket]);
    aws_ok(
        gw,
        &[
            "s3api",
            "put-bucket-versioning",
            "--bucket",
            &bucket,
            "--versioning-configuration",
            "Status=Enabled",
        ],
    );
    let got = aws_json(gw, &["s3api", "get-bucket-versioning", "--bucket", &bucket]);
    assert_eq!(got["Status"], "Enabled", "get-bucket-versioning: {got}");

    let mut version_ids = Vec::new();
    for file in &files {
        let got = aws_json(
            gw,
            &[
                "s3api",
                "put-object",
                "--bucket",
                &bucket,
                "--key",
                "doc",
                "--body",
                file,
            ],
        );
        let id = got["VersionId"].as_str().unwrap_or_default().to_owned();
        assert!(
            !id.is_empty() && id != "null",
            "put-object in a versioned bucket: {got}"
        );
        version_ids.push(id);
    }
    assert_ne!(version_ids[0], version_ids[1], "two PUTs gave one version id");

    let listed = aws_json(gw, &["s3api", "list-object-versions", "--bucket", &bucket]);
    let seen = listed_versions(&listed);
    // Newest first, with the plaintext sizes (the backend holds more bytes for each).
    let want = vec![
        ("doc".to_owned(), version_ids[1].clone(), bodies[1].len() as u64, true),
        ("doc".to_owned(), version_ids[0].clone(), bodies[0].len() as u64, false),
    ];
    assert_eq!(seen, want, "list-object-versions: {listed}");
    assert!(
        listed
            .get("DeleteMarkers")
            .is_none_or(|m| m.as_array().is_some_and(Vec::is_empty)),
        "no delete markers were made: {listed}"
    );

    let out_file = work.join("got-v1.bin").display().to_string();
    let got = aws_json(
        gw,
        &[
            "s3api",
            "get-object",
            "--bucket",
            &bucket,
            "--key",
            "doc",
            "--version-id",
            &version_ids[0],
            &out_file,
        ],
    );
    assert_eq!(
        got["VersionId"],
        version_ids[0].as_str(),
        "get-object --version-id: {got}"
    );
    assert_eq!(got["ContentLength"], bodies[0].len(), "get-object --version-id: {got}");
    let read = std::fs::read(&out_file).expect("get-object wrote its file");
    assert!(
        read == bodies[0],
        "get-object --version-id of the first version wrote {} bytes that are not its {} bytes",
        read.len(),
        bodies[0].len()
    );

    delete_versions_and_bucket(gw, &bucket, "doc", &version_ids);
}

/// (Key, VersionId, Size, IsLatest) of each entry of `Versions` in aws-cli's list-object-versions JSON.
fn listed_versions(listed: &serde_json::Value) -> Vec<(String, String, u64, bool)> {
    let versions = listed["Versions"]
        .as_array()
        .unwrap_or_else(|| panic!("list-object-versions has no Versions: {listed}"));
    versions
        .iter()
        .map(|v| {
            (
                v["Key"].as_str().unwrap_or_default().to_owned(),
                v["VersionId"].as_str().unwrap_or_default().to_owned(),
                v["Size"].as_u64().unwrap_or_default(),
                v["IsLatest"].as_bool().unwrap_or_default(),
            )
        })
        .collect()
}

/// delete-object --version-id for each of `version_ids` of `key`, delete-bucket, and head-bucket answers 404.
fn delete_versions_and_bucket(gw: &Gateway, bucket: &str, key: &str, version_ids: &[String]) {
    for id in version_ids {
        aws_ok(
            gw,
            &[
                "s3api",
                "delete-object",
                "--bucket",
                bucket,
                "--key",
                key,
                "--version-id",
                id,
            ],
        );
    }
    // aws-cli prints nothing for an empty listing.
    let (st, out) = aws(gw, &["s3api", "list-object-versions", "--bucket", bucket]);
    assert!(
        st.success() && !out.contains("VersionId"),
        "list-object-versions after deleting every version: {out}"
    );
    aws_ok(gw, &["s3api", "delete-bucket", "--bucket", bucket]);
    let (st, out) = aws(gw, &["s3api", "head-bucket", "--bucket", bucket]);
    assert!(
        !st.success() && out.contains("(404)"),
        "head-bucket after delete-bucket: {out}"
    );
}

#[test]
fn boto3_writes_single_and_multipart_objects_into_an_object_lock_bucket_that_requires_a_checksum() {
    boto3_case("object_lock_bucket");
}

#[test]
fn boto3_conditional_writes_and_deletes_reach_moto_with_the_backends_etag() {
    boto3_case("conditional_writes");
}

/// UpdateObjectEncryption naming a version (`?encryption&versionId=`): S3 re-wraps that very version in place, which
/// the backend's self-copy cannot do (it would make a new current version and leave the named one under its old
/// key), so the gateway answers S3's 501 `NotImplemented` before touching anything: the version keeps SSE-S3, no
/// version is added.
#[test]
fn update_object_encryption_of_a_named_version_is_not_implemented_and_changes_nothing() {
    let stack = shared_stack();
    let gw = &stack.gw;
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let kms_arn = stack
        .kms_env
        .iter()
        .find(|(k, _)| k == "S3_KMS_KEY_ARN")
        .map(|(_, v)| v.clone())
        .expect("the stack's KMS key ARN");
    let bucket = unique_bucket("ver-update-enc");
    rt.block_on(async {
        let c = gw.client();
        create_bucket(gw, &c, &bucket).await;
        let versioning = "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>";
        call(gw, &c, Method::PUT, &format!("/{bucket}?versioning"), versioning, &[])
            .await
            .assert_ok();
        let path = format!("/{bucket}/doc");
        let put = call(gw, &c, Method::PUT, &path, pseudo_random(100_003, 23), &[]).await;
        put.assert_ok();
        let version = put.header("x-amz-version-id").expect("a version id").to_owned();
        let doc = format!(
            "<ObjectEncryption xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><SSE-KMS><KMSKeyArn>{kms_arn}\
             </KMSKeyArn></SSE-KMS></ObjectEncryption>"
        );
        let md5 = md5_b64(doc.as_bytes());
        for query in [format!("versionId={version}"), "versionId=null".to_owned()] {
            let r = call(
                gw,
                &c,
                Method::PUT,
                &format!("{path}?encryption&{query}"),
                doc.clone(),
                &[("content-md5", &md5)],
            )
            .await;
            r.assert_error_message(
                501,
                "NotImplemented",
                "A header you provided implies functionality that is not implemented.",
                &query,
            );
        }
        let head = call(gw, &c, Method::HEAD, &format!("{path}?versionId={version}"), "", &[]).await;
        assert_eq!(
            head.header("x-amz-server-side-encryption"),
            Some("AES256"),
            "the version kept SSE-S3"
        );
        let listed = call(gw, &c, Method::GET, &format!("/{bucket}?versions"), "", &[]).await;
        listed.assert_ok();
        assert_eq!(
            listed.text().matches("<Version>").count(),
            1,
            "no version added: {}",
            listed.text()
        );
        call(gw, &c, Method::DELETE, &format!("{path}?versionId={version}"), "", &[]).await;
        call(gw, &c, Method::DELETE, &format!("/{bucket}"), "", &[]).await;
    });
}
