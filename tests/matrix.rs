//! The compatibility matrix: real clients through the gateway against every backend the tests can run here
//! (s3s-fs, Ceph RGW 16, moto's S3), and every `[backend] payload` mode against the backends that take it.
//! Each cell writes a record into `target/tmp/compat/` (see `common::compat`).
//!
//! `cargo test --release --test matrix` runs a representative subset (CI); the full matrix, every client
//! against Ceph and moto, is `cargo test --release --test matrix -- --include-ignored` (see
//! docs/compatibility.md). The client × s3s-fs cells are tests/clients.rs.

mod common;

use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use common::ceph::Ceph;
use common::compat::{Outcome, record};
use common::moto::Moto;
use common::*;
use http::{Method, StatusCode};

/// Generous: the scripts move a few tens of MiB through TLS, and tests run in parallel.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(900);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Store {
    S3sFs,
    Ceph,
    Moto,
}

impl Store {
    fn name(self) -> &'static str {
        match self {
            Self::S3sFs => "s3s-fs",
            Self::Ceph => "ceph-rgw-16",
            Self::Moto => "moto",
        }
    }
}

/// A gateway in front of one backend, and what a client script needs to look at that backend directly.
struct Pair {
    gw: Gateway,
    /// `S3_BACKEND_ROOT` and, for backends read over S3, their keys (see tests/clients/backend_leaks.py).
    backend_env: Vec<(String, String)>,
    _fs: Option<Backend>,
    _moto: Option<Moto>,
}

fn start_pair(store: Store, backend_toml: &str) -> Pair {
    let (s3, backend_env, fs, moto) = match store {
        Store::S3sFs => {
            let fs = Backend::start();
            let s3 = S3Backend {
                endpoint: fs.endpoint(),
                access_key_id: BACKEND_AK.into(),
                secret_access_key: BACKEND_SK.into(),
                backend_toml: backend_toml.into(),
            };
            let env = vec![("S3_BACKEND_ROOT".to_owned(), fs.root.display().to_string())];
            (s3, env, Some(fs), None)
        }
        Store::Ceph => {
            let s3 = Ceph::shared().backend(backend_toml);
            (s3.clone(), over_s3(&s3), None, None)
        }
        Store::Moto => {
            let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
            let moto = rt.block_on(Moto::start());
            let s3 = S3Backend {
                endpoint: moto.endpoint.clone(),
                access_key_id: moto.access_key_id.clone(),
                secret_access_key: moto.secret_access_key().to_owned(),
                backend_toml: backend_toml.into(),
            };
            (s3.clone(), over_s3(&s3), None, Some(moto))
        }
    };
    let gw = Gateway::start_at(&s3, "", &[], &[]);
    Pair {
        gw,
        backend_env,
        _fs: fs,
        _moto: moto,
    }
}

/// A backend whose stored bytes the scripts read through its own S3 API.
fn over_s3(s3: &S3Backend) -> Vec<(String, String)> {
    let host = s3.endpoint.strip_prefix("http://").expect("a loopback http:// backend");
    vec![
        ("S3_BACKEND_ROOT".into(), format!("s3+http://{host}")),
        ("S3_BACKEND_ACCESS_KEY_ID".into(), s3.access_key_id.clone()),
        ("S3_BACKEND_SECRET_ACCESS_KEY".into(), s3.secret_access_key.clone()),
    ]
}

// ------------------------------------------------------------------------------------------------
// Payload modes
// ------------------------------------------------------------------------------------------------

/// PUT (a body of four and a half 64 KiB chunks), GET and a ranged GET through a gateway with `payload`; the
/// first failure.
async fn round_trip(gw: &Gateway) -> Result<(), String> {
    let c = gw.client();
    let bucket = unique_bucket("payload");
    create_bucket(gw, &c, &bucket).await;
    let body = Bytes::from(pseudo_random(4 * 65536 + 32768, 11));
    let put = put_object(gw, &c, &bucket, "obj", body.clone()).await;
    if put.status != StatusCode::OK {
        return Err(format!("PUT: {} {}", put.status, put.text()));
    }
    let got = get_object(gw, &c, &bucket, "obj").await;
    if got.status != StatusCode::OK || got.body != body {
        return Err(format!("GET: {} ({} bytes)", got.status, got.body.len()));
    }
    let ranged = call(
        gw,
        &c,
        Method::GET,
        &format!("/{bucket}/obj"),
        Bytes::new(),
        &[("range", "bytes=70000-140000")],
    )
    .await;
    if ranged.status != StatusCode::PARTIAL_CONTENT || ranged.body[..] != body[70000..=140000] {
        return Err(format!("ranged GET: {}", ranged.status));
    }
    Ok(())
}

fn payload_cell(store: Store, mode: &str) -> Result<(), String> {
    let pair = start_pair(store, &format!("payload = \"{mode}\""));
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(round_trip(&pair.gw))
}

fn assert_payload_works(store: Store, mode: &str) {
    let result = payload_cell(store, mode);
    let outcome = if result.is_ok() { Outcome::Pass } else { Outcome::Fail };
    record(
        "gateway",
        store.name(),
        &format!("backend payload = {mode}"),
        outcome,
        result.as_ref().err().map_or("", String::as_str),
    );
    if let Err(e) = result {
        panic!("payload = {mode} against {}: {e}", store.name());
    }
}

/// s3s-fs verifies every chunk signature and the trailer checksum, so these prove the framing.
#[test]
fn payload_unsigned_against_s3s_fs() {
    assert_payload_works(Store::S3sFs, "unsigned");
}

#[test]
fn payload_signed_against_s3s_fs() {
    assert_payload_works(Store::S3sFs, "signed");
}

#[test]
fn payload_trailer_against_s3s_fs() {
    assert_payload_works(Store::S3sFs, "trailer");
}

#[test]
fn payload_signed_against_ceph() {
    assert_payload_works(Store::Ceph, "signed");
}

#[test]
fn payload_unsigned_against_ceph() {
    assert_payload_works(Store::Ceph, "unsigned");
}

/// Ceph RGW 16 does not know `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: with `payload = "trailer"` every upload
/// fails, the client gets the backend's refusal as an S3 error, and no object appears. (Which is why the gateway
/// never forwards a client's own trailer framing.)
#[test]
fn payload_trailer_is_refused_by_ceph() {
    let pair = start_pair(Store::Ceph, "payload = \"trailer\"");
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let detail = rt.block_on(async {
        let gw = &pair.gw;
        let c = gw.client();
        let bucket = unique_bucket("trailer");
        create_bucket(gw, &c, &bucket).await;
        let put = put_object(gw, &c, &bucket, "obj", Bytes::from(pseudo_random(100_000, 3))).await;
        assert!(
            put.status.is_client_error() || put.status.is_server_error(),
            "Ceph accepted a trailer upload: {} {}",
            put.status,
            put.text()
        );
        assert!(put.error_code().is_some(), "not an S3 error document: {}", put.text());
        let head = call(gw, &c, Method::HEAD, &format!("/{bucket}/obj"), Bytes::new(), &[]).await;
        assert_eq!(head.status, StatusCode::NOT_FOUND, "a refused upload left an object");
        format!(
            "PUT refused: HTTP {} {}; no object",
            put.status.as_u16(),
            put.error_code().unwrap_or_default()
        )
    });
    record(
        "gateway",
        Store::Ceph.name(),
        "backend payload = trailer",
        Outcome::Gap,
        &detail,
    );
}

#[test]
fn payload_signed_against_moto() {
    assert_payload_works(Store::Moto, "signed");
}

// ------------------------------------------------------------------------------------------------
// Conditional deletes on a backend that would ignore them
// ------------------------------------------------------------------------------------------------

/// With `[backend] conditional_deletes = false`, DeleteObject with `If-Match` and DeleteObjects with an entry's
/// `ETag` are 501 NotImplemented (S3's XML) and delete nothing, whether the ETag is current or stale; deletes
/// without a condition still work.
async fn conditional_deletes_are_refused(gw: &Gateway) {
    let c = gw.client();
    let bucket = unique_bucket("conddel");
    create_bucket(gw, &c, &bucket).await;
    let put = put_object(gw, &c, &bucket, "obj", Bytes::from_static(b"kept")).await;
    assert_eq!(put.status, StatusCode::OK, "PUT: {}", put.text());
    let etag = put.header("etag").expect("an ETag").to_owned();
    let path = format!("/{bucket}/obj");
    for if_match in [etag.as_str(), "\"0123456789abcdef0123456789abcdef\"", "*"] {
        let r = call(gw, &c, Method::DELETE, &path, Bytes::new(), &[("if-match", if_match)]).await;
        r.assert_error(501, "NotImplemented");
        let got = get_object(gw, &c, &bucket, "obj").await;
        assert_eq!(
            (got.status, &got.body[..]),
            (StatusCode::OK, &b"kept"[..]),
            "after If-Match {if_match}"
        );
    }
    let xml = format!("<Delete><Object><Key>obj</Key><ETag>{etag}</ETag></Object></Delete>");
    let r = delete_objects(gw, &c, &bucket, xml).await;
    r.assert_error(501, "NotImplemented");
    let got = get_object(gw, &c, &bucket, "obj").await;
    assert_eq!(
        got.status,
        StatusCode::OK,
        "DeleteObjects with an ETag deleted the object"
    );
    let r = call(gw, &c, Method::DELETE, &path, Bytes::new(), &[]).await;
    assert_eq!(
        r.status,
        StatusCode::NO_CONTENT,
        "an unconditional DELETE: {}",
        r.text()
    );
    let head = call(gw, &c, Method::HEAD, &path, Bytes::new(), &[]).await;
    assert_eq!(head.status, StatusCode::NOT_FOUND, "deleted");
    call(gw, &c, Method::DELETE, &format!("/{bucket}"), Bytes::new(), &[]).await;
}

fn conditional_deletes_cell(store: Store) {
    let pair = start_pair(store, "conditional_deletes = false");
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(conditional_deletes_are_refused(&pair.gw));
    record(
        "gateway",
        store.name(),
        "backend conditional_deletes = false",
        Outcome::Pass,
        "DeleteObject If-Match and DeleteObjects entry ETags: 501 NotImplemented, nothing deleted",
    );
}

#[test]
fn conditional_deletes_false_refuses_them_against_s3s_fs() {
    conditional_deletes_cell(Store::S3sFs);
}

/// Ceph RGW 16 ignores `If-Match` on DeleteObject (docs/compatibility.md): config/ceph-rgw.toml sets
/// `conditional_deletes = false`.
#[test]
fn conditional_deletes_false_refuses_them_against_ceph() {
    conditional_deletes_cell(Store::Ceph);
}

// ------------------------------------------------------------------------------------------------
// Clients
// ------------------------------------------------------------------------------------------------

/// A client program as the harness runs it.
struct ClientProgram {
    name: &'static str,
    program: &'static str,
    args: &'static [&'static str],
    /// Variables removed from its environment.
    unset: &'static [&'static str],
}

const AWSCLI_V2: ClientProgram = ClientProgram {
    name: "awscli-v2",
    program: "bash",
    args: &["awscli.sh", "/usr/bin/aws"],
    unset: &[],
};
const AWSCLI_V1: ClientProgram = ClientProgram {
    name: "awscli-v1",
    program: "bash",
    args: &["awscli.sh", "python3", "-m", "awscli"],
    unset: &[],
};
const BOTO3: ClientProgram = ClientProgram {
    name: "boto3",
    program: "python3",
    args: &["boto3_default.py"],
    unset: &[],
};
/// rclone's AWS SDK refuses to start while AWS_CA_BUNDLE is set; it gets the CA with --ca-cert.
const RCLONE: ClientProgram = ClientProgram {
    name: "rclone",
    program: "bash",
    args: &["rclone.sh"],
    unset: &["AWS_CA_BUNDLE"],
};
const S3CMD: ClientProgram = ClientProgram {
    name: "s3cmd",
    program: "bash",
    args: &["s3cmd.sh"],
    unset: &[],
};
const S5CMD: ClientProgram = ClientProgram {
    name: "s5cmd",
    program: "bash",
    args: &["s5cmd.sh"],
    unset: &[],
};

/// Computes STREAMING-AWS4-HMAC-SHA256-PAYLOAD chunk signatures itself (the Java, Go and .NET SDKs send it).
const RAW_STREAMING_SIGNED: ClientProgram = ClientProgram {
    name: "raw-streaming-signed",
    program: "python3",
    args: &["raw_streaming_signed.py"],
    unset: &[],
};

/// Stored checksums per algorithm and payload mode (header signed or unsigned, unsigned or signed trailer) and
/// multipart COMPOSITE/FULL_OBJECT, by hand-signed requests (issue 20).
const RAW_CHECKSUMS: ClientProgram = ClientProgram {
    name: "raw-checksums",
    program: "python3",
    args: &["raw_checksums.py", "all"],
    unset: &[],
};

/// A cell that fails for a reason outside the gateway: where the script stops, and what the client sees.
struct KnownGap {
    client: &'static str,
    store: Store,
    /// The start of the script's `FAIL at step: ...` line.
    failing_step: &'static str,
    why: &'static str,
}

/// Every known gap, listed (never skipped): the cell still runs, must still fail exactly there, and is shown as
/// a gap in docs/compatibility.md.
const KNOWN_GAPS: &[KnownGap] = &[
    KnownGap {
        client: "awscli-v2",
        store: Store::Moto,
        failing_step: "FAIL at step: s3 ls",
        why: MOTO_LIST_PREFIX,
    },
    KnownGap {
        client: "awscli-v1",
        store: Store::Moto,
        failing_step: "FAIL at step: s3 ls",
        why: MOTO_LIST_PREFIX,
    },
    KnownGap {
        client: "rclone",
        store: Store::Moto,
        failing_step: "FAIL at step: rclone copy",
        why: MOTO_LIST_PREFIX,
    },
    KnownGap {
        client: "s3cmd",
        store: Store::Moto,
        failing_step: "FAIL at step: s3cmd ls",
        why: MOTO_LIST_PREFIX,
    },
    KnownGap {
        client: "s5cmd",
        store: Store::Moto,
        failing_step: "FAIL at step: s5cmd ls",
        why: MOTO_LIST_PREFIX,
    },
    KnownGap {
        client: "boto3",
        store: Store::Moto,
        failing_step: "FAIL at step: list_objects_v2 with prefix",
        why: MOTO_LIST_PREFIX,
    },
    KnownGap {
        client: SUITE,
        store: Store::Moto,
        failing_step: "PART sigv2 FAIL at step: SigV2 ListObjectsV2 with a prefix; SigV2 with a key holding a space \
                       and '=': put, get, presigned GET, delete; boto3's default presigned GET with \
                       response-content-type: the override is signed and applied",
        why: MOTO_SUITE_SIGV2,
    },
];

const MOTO_LIST_PREFIX: &str = "moto's signature check rejects the gateway's listing requests whose query \
     holds a `/` (`prefix=cp%2F`, `delimiter=%2F`, encoded as SigV4 says; the same signed requests are accepted by \
     s3s-fs and Ceph): the client gets moto's 403 SignatureDoesNotMatch, passed through; listing without them works";

/// The script's main part (SSE-S3 and SSE-C uploads and downloads, ranges, multipart, copy, listing, and the
/// check that the backend holds no plaintext and no key) through a gateway in front of `store`.
fn client_cell(client: &ClientProgram, store: Store) {
    let pair = start_pair(store, "");
    let bucket = unique_bucket(client.name);
    let mut cmd = Command::new(client.program);
    let script_dir = client_script("");
    for a in client.args {
        // Script names are relative to tests/clients/.
        if a.ends_with(".sh") || a.ends_with(".py") {
            cmd.arg(script_dir.join(a));
        } else {
            cmd.arg(a);
        }
    }
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    for (k, v) in pair.gw.client_env(&bucket).iter().chain(&pair.backend_env) {
        cmd.env(k, v);
    }
    cmd.env("S3_CLIENT_PART", "main");
    for k in client.unset {
        cmd.env_remove(k);
    }
    let out = run_with_timeout(
        cmd,
        &pair.gw.work_dir().join(format!("{}.out", client.name)),
        CLIENT_TIMEOUT,
    );
    let failed_step = out
        .output
        .lines()
        .rev()
        .find(|l| l.starts_with("FAIL"))
        .unwrap_or("")
        .to_owned();
    let gap = KNOWN_GAPS.iter().find(|g| g.client == client.name && g.store == store);
    if let Some(gap) = gap {
        assert!(
            !out.status.success(),
            "{} against {} passed, but KNOWN_GAPS says it fails ({}): update the list",
            client.name,
            store.name(),
            gap.why
        );
        if failed_step.starts_with(gap.failing_step) {
            record(
                client.name,
                store.name(),
                "main",
                Outcome::Gap,
                &format!("{}; {}", failed_step, gap.why),
            );
            return;
        }
    }
    let outcome = if out.status.success() {
        Outcome::Pass
    } else {
        Outcome::Fail
    };
    record(client.name, store.name(), "main", outcome, &failed_step);
    assert!(
        out.status.success(),
        "{} against {}: exited with {}\n===== client output =====\n{}\n===== gateway log (tail) =====\n{}",
        client.name,
        store.name(),
        out.status,
        out.output,
        tail(&pair.gw.log(), 60),
    );
}

// The CI subset: one CLI and one SDK against each of Ceph and moto.

#[test]
fn awscli_v2_against_ceph() {
    client_cell(&AWSCLI_V2, Store::Ceph);
}

#[test]
fn boto3_against_ceph() {
    client_cell(&BOTO3, Store::Ceph);
}

#[test]
fn awscli_v2_against_moto() {
    client_cell(&AWSCLI_V2, Store::Moto);
}

#[test]
fn boto3_against_moto() {
    client_cell(&BOTO3, Store::Moto);
}

#[test]
fn raw_streaming_signed_against_s3s_fs() {
    client_cell(&RAW_STREAMING_SIGNED, Store::S3sFs);
}

#[test]
fn raw_streaming_signed_against_ceph() {
    client_cell(&RAW_STREAMING_SIGNED, Store::Ceph);
}

#[test]
fn raw_streaming_signed_against_moto() {
    client_cell(&RAW_STREAMING_SIGNED, Store::Moto);
}

#[test]
fn raw_checksums_against_s3s_fs() {
    client_cell(&RAW_CHECKSUMS, Store::S3sFs);
}

#[test]
fn raw_checksums_against_ceph() {
    client_cell(&RAW_CHECKSUMS, Store::Ceph);
}

#[test]
fn raw_checksums_against_moto() {
    client_cell(&RAW_CHECKSUMS, Store::Moto);
}

// The rest of the matrix (`-- --include-ignored`).

#[test]
#[ignore = "full matrix: cargo test --release --test matrix -- --include-ignored"]
fn awscli_v1_against_ceph() {
    client_cell(&AWSCLI_V1, Store::Ceph);
}

#[test]
#[ignore = "full matrix: cargo test --release --test matrix -- --include-ignored"]
fn rclone_against_ceph() {
    client_cell(&RCLONE, Store::Ceph);
}

#[test]
#[ignore = "full matrix: cargo test --release --test matrix -- --include-ignored"]
fn s3cmd_against_ceph() {
    client_cell(&S3CMD, Store::Ceph);
}

/// In CI too: Ceph checks every part ETag at CompleteMultipartUpload (s3s-fs does not), and the AWS SDK for Go
/// writes their quotes as `&#34;` (see `sse::multipart::backend_part_etags`).
#[test]
fn s5cmd_against_ceph() {
    client_cell(&S5CMD, Store::Ceph);
}

#[test]
#[ignore = "full matrix: cargo test --release --test matrix -- --include-ignored"]
fn awscli_v1_against_moto() {
    client_cell(&AWSCLI_V1, Store::Moto);
}

#[test]
#[ignore = "full matrix: cargo test --release --test matrix -- --include-ignored"]
fn rclone_against_moto() {
    client_cell(&RCLONE, Store::Moto);
}

#[test]
#[ignore = "full matrix: cargo test --release --test matrix -- --include-ignored"]
fn s3cmd_against_moto() {
    client_cell(&S3CMD, Store::Moto);
}

#[test]
#[ignore = "full matrix: cargo test --release --test matrix -- --include-ignored"]
fn s5cmd_against_moto() {
    client_cell(&S5CMD, Store::Moto);
}

/// The moto listing gap in KNOWN_GAPS is moto's: boto3 talking to moto directly, with no gateway in between, gets
/// the same 403 SignatureDoesNotMatch for a ListObjectsV2 with `prefix=d/` or `delimiter=/`
/// (tests/backends/moto_listing_signature_bug.py). When a moto release fixes it, this test fails: drop the gap.
#[test]
fn moto_rejects_listing_queries_with_a_slash_from_boto3_directly() {
    assert_moto_signature_bug(&[]);
}

// ------------------------------------------------------------------------------------------------
// Backend suite
// ------------------------------------------------------------------------------------------------

/// The client name of the backend suite's rows.
const SUITE: &str = "backend-suite";

/// The parts of tests/clients/backend_suite.py, one row each.
const SUITE_PARTS: [&str; 5] = ["sse-kms", "default-encryption", "policy", "sigv2", "post"];

/// tests/clients/backend_suite.py (SSE-KMS, default encryption, bucket policies, SigV2, POST uploads, each
/// checking that the backend holds no plaintext) through a gateway with its local KMS in front of `store`; one
/// record per part. A part passes, or fails exactly at the steps a [`KnownGap`] of [`SUITE`] lists for it.
fn suite_cell(store: Store) {
    let pair = start_pair(store, "");
    let mut cmd = Command::new("python3");
    cmd.arg(client_script("backend_suite.py"))
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    let kms_env = local_kms_env(&pair.gw);
    for (k, v) in pair
        .gw
        .client_env(&unique_bucket("suite"))
        .iter()
        .chain(&pair.backend_env)
        .chain(&kms_env)
    {
        cmd.env(k, v);
    }
    cmd.env(
        "S3_POLICY_DIR",
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/policies"),
    );
    let out = run_with_timeout(cmd, &pair.gw.work_dir().join("backend-suite.out"), CLIENT_TIMEOUT);
    // Shown with --nocapture.
    println!("{}", out.output);
    let mut unexplained = Vec::new();
    for part in SUITE_PARTS {
        let prefix = format!("PART {part} ");
        let line = out.output.lines().find(|l| l.starts_with(&prefix));
        let gap = KNOWN_GAPS
            .iter()
            .find(|g| g.client == SUITE && g.store == store && g.failing_step.starts_with(&prefix));
        let (outcome, detail) = match (line, gap) {
            (Some(l), None) if l == format!("{prefix}pass") => (Outcome::Pass, String::new()),
            (Some(l), Some(g)) if l == g.failing_step => (Outcome::Gap, format!("{l}; {}", g.why)),
            (Some(l), Some(_)) if l == format!("{prefix}pass") => {
                unexplained.push(format!("{part} passed, but KNOWN_GAPS says it fails: update the list"));
                (Outcome::Pass, String::new())
            }
            (Some(l), _) => {
                unexplained.push(l.to_owned());
                (Outcome::Fail, l.to_owned())
            }
            (None, _) => {
                let why = format!("{prefix}FAIL: no result (the script exited with {})", out.status);
                unexplained.push(why.clone());
                (Outcome::Fail, why)
            }
        };
        record(SUITE, store.name(), part, outcome, &detail);
    }
    assert!(
        unexplained.is_empty(),
        "backend suite against {}: {unexplained:#?}\n===== output =====\n{}\n===== gateway log (tail) =====\n{}",
        store.name(),
        out.output,
        tail(&pair.gw.log(), 60),
    );
}

#[test]
fn suite_against_s3s_fs() {
    suite_cell(Store::S3sFs);
}

#[test]
fn suite_against_ceph() {
    suite_cell(Store::Ceph);
}

#[test]
fn suite_against_moto() {
    suite_cell(Store::Moto);
}

const MOTO_SUITE_SIGV2: &str = "moto's signature check refuses, with 403 SignatureDoesNotMatch passed through, \
     every request whose query holds a `/` (as in the clients' listing gap; here also \
     `response-content-type=text/x-test`) \
     and every request for a key holding `=`, `+`, `%`, `:` or `,` (percent-encoded in the path, as SigV4 says); \
     s3s-fs and Ceph accept the same requests, and boto3 talking to moto directly gets the same 403 \
     (tests/backends/moto_listing_signature_bug.py). The part's other steps pass";

/// The moto key gap in KNOWN_GAPS is moto's: boto3 talking to moto directly, with no gateway in between, gets 403
/// SignatureDoesNotMatch for a PutObject of `a=b`, `a+b`, `a%b`, `a:b`, `a,b` and `dir/a b=c.bin`
/// (tests/backends/moto_listing_signature_bug.py keys). When a moto release fixes it, this test fails: drop the
/// gap.
#[test]
fn moto_rejects_keys_with_reserved_characters_from_boto3_directly() {
    assert_moto_signature_bug(&["keys"]);
}

/// Runs tests/backends/moto_listing_signature_bug.py with `args`: it exits 0 while moto still has the bug.
fn assert_moto_signature_bug(args: &[&str]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new("python3");
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/backends/moto_listing_signature_bug.py"
    ))
    .args(args);
    let out = run_with_timeout(cmd, &dir.path().join("out"), Duration::from_secs(120));
    assert!(
        out.status.success(),
        "moto no longer behaves as KNOWN_GAPS says (exit {}):\n{}",
        out.status,
        out.output
    );
}

/// rclone (the AWS SDK for Go) writes the quotes of CompleteMultipartUpload's part ETags as `&#34;`: the gateway
/// must still turn them back into Ceph's own, which Ceph compares (before, Ceph answered 400 InvalidPart).
#[test]
fn complete_multipart_upload_with_go_quoted_etags_against_ceph() {
    let pair = start_pair(Store::Ceph, "");
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(async {
        let gw = &pair.gw;
        let c = gw.client();
        let bucket = unique_bucket("go-etags");
        create_bucket(gw, &c, &bucket).await;
        let path = format!("/{bucket}/obj");
        let created = call(gw, &c, Method::POST, &format!("{path}?uploads"), Bytes::new(), &[]).await;
        created.assert_ok();
        let upload_id = xml_tag(&created.text(), "UploadId").expect("UploadId");
        let body = Bytes::from(pseudo_random(100_000, 7));
        let part = call(
            gw,
            &c,
            Method::PUT,
            &format!("{path}?partNumber=1&uploadId={upload_id}"),
            body.clone(),
            &[],
        )
        .await;
        part.assert_ok();
        let etag = part.header("etag").expect("part ETag").trim_matches('"').to_owned();
        let xml = format!(
            "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Part><ETag>&#34;{etag}&#34;\
             </ETag><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>"
        );
        let done = call(gw, &c, Method::POST, &format!("{path}?uploadId={upload_id}"), xml, &[]).await;
        done.assert_ok();
        let got = get_object(gw, &c, &bucket, "obj").await;
        assert_eq!(
            (got.status, got.body),
            (StatusCode::OK, body),
            "GET of the completed object"
        );
    });
}

// ------------------------------------------------------------------------------------------------
// Versioned buckets
// ------------------------------------------------------------------------------------------------

/// tests/versioning.rs's cases (there against moto), here through a gateway in front of Ceph RGW 16, whose
/// versioning is the other real implementation the tests can run.
const VERSIONING_CASES: [&str; 12] = [
    "get_head_by_version_id",
    "sse_c_versions_with_their_own_keys",
    "sse_kms_versions_under_two_key_ids",
    "multipart_version_overwritten_by_a_single_put",
    "copy_from_an_old_version",
    "delete_markers",
    "list_object_versions",
    "suspended_versioning_and_the_null_version",
    "delete_objects_with_versions",
    "empty_and_delete_a_versioned_bucket",
    "bucket_versioning_round_trip",
    "backend_holds_no_plaintext",
];

#[test]
fn versioning_against_ceph() {
    let pair = start_pair(Store::Ceph, "");
    let kms_env = local_kms_env(&pair.gw);
    let mut failed = Vec::new();
    for case in VERSIONING_CASES {
        let mut cmd = Command::new("python3");
        cmd.arg(client_script("versioning.py"))
            .arg(case)
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        let env = pair.gw.client_env(&unique_bucket("ver"));
        for (k, v) in env.iter().chain(&pair.backend_env).chain(&kms_env) {
            cmd.env(k, v);
        }
        cmd.env("VERSIONING_BACKEND", "ceph");
        let out = run_with_timeout(cmd, &pair.gw.work_dir().join(format!("{case}.out")), CLIENT_TIMEOUT);
        let passed = out.status.success() && out.output.contains(&format!("{case}: all checks passed"));
        record(
            "versioning",
            Store::Ceph.name(),
            case,
            if passed { Outcome::Pass } else { Outcome::Fail },
            out.output.lines().rev().find(|l| l.starts_with("FAIL")).unwrap_or(""),
        );
        if !passed {
            failed.push(format!("===== {case} =====\n{}", out.output));
        }
    }
    assert!(
        failed.is_empty(),
        "versioning against Ceph:\n{}\n===== gateway log (tail) =====\n{}",
        failed.join("\n"),
        tail(&pair.gw.log(), 60)
    );
}
