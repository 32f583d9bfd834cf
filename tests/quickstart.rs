//! The no-config quick start: `s3-sse-proxy` with an embedded backend, a generated CA, and the client
//! credential from the environment or generated into the data dir. Its banner must be enough to get going.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http_body_util::Full;

const QS_AK: &str = "QUICKSTARTAKID000001";
const QS_SK: &str = "quickStartSecret/Example+0123456789abcdef";
const AWS_TIMEOUT: Duration = Duration::from_secs(180);

/// A quick-start process and what its banner said.
struct QuickStart {
    proc: Proc,
    endpoint: String,
    ca_file: PathBuf,
    metrics_url: String,
    access_key_id: String,
    command: String,
}

/// Start `s3-sse-proxy --data-dir D --listen 127.0.0.1:P --metrics-listen 127.0.0.1:M` (free ports), with the
/// quick-start credential from `env_creds` or, if `None`, with those variables removed.
fn start_quickstart(data_dir: &Path, env_creds: Option<(&str, &str)>) -> (QuickStart, u16, u16) {
    let mut last_output = String::new();
    // A free port can be taken by another test before the gateway binds it: try a few times.
    for _ in 0..3 {
        let (p, m) = (free_port(), free_port());
        let mut cmd = Command::new(BIN);
        cmd.arg("--data-dir")
            .arg(data_dir)
            .args(["--listen", &format!("127.0.0.1:{p}")])
            .args(["--metrics-listen", &format!("127.0.0.1:{m}")])
            .current_dir(data_dir.parent().expect("data dir has a parent"));
        for v in [
            "S3_SSE_PROXY_ACCESS_KEY_ID",
            "S3_SSE_PROXY_SECRET_ACCESS_KEY",
            "S3_SSE_PROXY_BACKEND_ACCESS_KEY_ID",
            "S3_SSE_PROXY_BACKEND_SECRET_ACCESS_KEY",
            "S3_SSE_PROXY_LOG",
        ] {
            cmd.env_remove(v);
        }
        if let Some((ak, sk)) = env_creds {
            cmd.env("S3_SSE_PROXY_ACCESS_KEY_ID", ak)
                .env("S3_SSE_PROXY_SECRET_ACCESS_KEY", sk);
        }
        let log = data_dir.with_extension(format!("{p}.log"));
        let proc = Proc::spawn("quick start", cmd, log);
        let Some(command) = proc.wait_line(|l| l.contains("aws --endpoint-url"), START_TIMEOUT) else {
            last_output = format!(
                "--- stdout:\n{}\n--- stderr:\n{}",
                proc.stdout_lines().join("\n"),
                proc.log()
            );
            continue;
        };
        let lines = proc.stdout_lines();
        let field = |name: &str| {
            lines
                .iter()
                .find_map(|l| after(l, name))
                .unwrap_or_else(|| panic!("banner has no {name:?} line:\n{}", lines.join("\n")))
                .to_owned()
        };
        let qs = QuickStart {
            endpoint: field("endpoint:"),
            ca_file: PathBuf::from(field("CA file:")),
            metrics_url: field("metrics:"),
            access_key_id: field("access key id:"),
            command: command.trim().to_owned(),
            proc,
        };
        return (qs, p, m);
    }
    panic!("the quick start did not come up (3 attempts); last output:\n{last_output}");
}

/// Run `/usr/bin/aws` (v2) with the quick start's endpoint, CA and the given credentials.
fn aws(qs: &QuickStart, work: &Path, ak: &str, sk: &str, args: &[&str]) -> String {
    let mut cmd = Command::new("/usr/bin/aws");
    cmd.args(args)
        .args(["--endpoint-url", &qs.endpoint, "--ca-bundle"])
        .arg(&qs.ca_file)
        .env("AWS_ACCESS_KEY_ID", ak)
        .env("AWS_SECRET_ACCESS_KEY", sk);
    isolate_aws(&mut cmd, qs, work);
    let out = run_with_timeout(cmd, &work.join("aws.out"), AWS_TIMEOUT);
    assert!(
        out.status.success(),
        "aws {} failed ({}):\n{}\n--- gateway log (tail):\n{}",
        args.join(" "),
        out.status,
        out.output,
        tail(&qs.proc.log(), 30)
    );
    out.output
}

/// No ~/.aws files, no pager, the gateway CA, no proxies for loopback, no inherited credentials.
fn isolate_aws(cmd: &mut Command, qs: &QuickStart, work: &Path) {
    cmd.env("AWS_CONFIG_FILE", work.join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", work.join("no-credentials"))
        .env("AWS_DEFAULT_REGION", REGION)
        .env("AWS_PAGER", "")
        .env("AWS_CA_BUNDLE", &qs.ca_file)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN");
}

/// Run the banner's "try it" command with `bash -c`.
fn run_printed_command(qs: &QuickStart, work: &Path, extra_env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new("bash");
    cmd.arg("-c").arg(&qs.command);
    isolate_aws(&mut cmd, qs, work);
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("S3_SSE_PROXY_SECRET_ACCESS_KEY");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let out = run_with_timeout(cmd, &work.join("printed.out"), AWS_TIMEOUT);
    assert!(
        out.status.success(),
        "the printed command failed ({}):\n{}\n{}\n--- gateway log (tail):\n{}",
        out.status,
        qs.command,
        out.output,
        tail(&qs.proc.log(), 30)
    );
    out.output
}

async fn http_get(url: &str) -> (u16, String) {
    let client: hyper_util::client::legacy::Client<_, Full<Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let resp = client
        .request(http::Request::get(url).body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let r = Resp::read(resp).await;
    (r.status.as_u16(), r.text())
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn secret_from_credentials_toml(path: &Path) -> (String, String) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let v: toml::Table = toml::from_str(&text).expect("credentials.toml is TOML");
    let get = |k: &str| {
        v.get(k)
            .and_then(|x| x.as_str())
            .expect("key in credentials.toml")
            .to_owned()
    };
    (get("access_key_id"), get("secret_access_key"))
}

#[tokio::test(flavor = "multi_thread")]
async fn quick_start_with_environment_credentials_then_generated_ones() {
    let tmp = tempfile::Builder::new().prefix("s3sp-quickstart-").tempdir().unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();

    // ---- 1: credentials from the environment.
    let data1 = tmp.path().join("data1");
    let (qs, p, m) = start_quickstart(&data1, Some((QS_AK, QS_SK)));
    let banner = qs.proc.stdout_lines().join("\n");
    assert_eq!(qs.endpoint, format!("https://127.0.0.1:{p}"), "banner:\n{banner}");
    assert_eq!(qs.ca_file, data1.join("tls/ca.pem"), "banner:\n{banner}");
    assert!(qs.ca_file.is_file(), "the CA file the banner names exists");
    assert_eq!(qs.metrics_url, format!("http://127.0.0.1:{m}/metrics"));
    assert_eq!(qs.access_key_id, QS_AK);
    assert!(
        qs.command.contains(&format!(
            "aws --endpoint-url https://127.0.0.1:{p} --ca-bundle {}",
            qs.ca_file.display()
        )) && qs.command.ends_with("s3 ls"),
        "unexpected command: {}",
        qs.command
    );
    assert!(
        qs.command.contains(QS_AK),
        "the command sets the access key id: {}",
        qs.command
    );
    assert!(
        !banner.contains(QS_SK),
        "the banner must not print the secret:\n{banner}"
    );
    assert!(
        !data1.join("credentials.toml").exists(),
        "env credentials are not written to disk"
    );

    let bucket = unique_bucket("quickstart");
    aws(&qs, &work, QS_AK, QS_SK, &["s3", "mb", &format!("s3://{bucket}")]);
    let file = work.join("hello.txt");
    std::fs::write(&file, b"hello from the quick start\n").unwrap();
    aws(
        &qs,
        &work,
        QS_AK,
        QS_SK,
        &[
            "s3",
            "cp",
            "--no-progress",
            file.to_str().unwrap(),
            &format!("s3://{bucket}/hello.txt"),
        ],
    );
    let ls = aws(&qs, &work, QS_AK, QS_SK, &["s3", "ls", &format!("s3://{bucket}/")]);
    assert!(ls.contains("hello.txt"), "s3 ls shows the object:\n{ls}");
    // Wrong secret: refused.
    let mut cmd = Command::new("/usr/bin/aws");
    cmd.args(["s3", "ls", "--endpoint-url", &qs.endpoint, "--ca-bundle"])
        .arg(&qs.ca_file)
        .env("AWS_ACCESS_KEY_ID", QS_AK)
        .env("AWS_SECRET_ACCESS_KEY", "wrong-secret")
        .env("AWS_MAX_ATTEMPTS", "1");
    isolate_aws(&mut cmd, &qs, &work);
    let out = run_with_timeout(cmd, &work.join("aws-wrong.out"), AWS_TIMEOUT);
    assert!(!out.status.success(), "a wrong secret was accepted:\n{}", out.output);
    assert!(out.output.contains("SignatureDoesNotMatch"), "{}", out.output);

    // The printed command works with the secret in the variable it names.
    let out = run_printed_command(&qs, &work, &[("S3_SSE_PROXY_SECRET_ACCESS_KEY", QS_SK)]);
    assert!(out.contains(&bucket), "the printed `s3 ls` lists {bucket}:\n{out}");

    // Metrics and health.
    let (status, metrics) = http_get(&qs.metrics_url).await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains("s3_sse_proxy_requests_total"),
        "metrics lack s3_sse_proxy_requests_total:\n{metrics}"
    );
    assert!(
        metrics.contains("s3_sse_proxy_sigv4_failures_total{reason=\"SignatureDoesNotMatch\"}"),
        "the wrong-secret request is counted:\n{metrics}"
    );
    assert_eq!(http_get(&format!("http://127.0.0.1:{m}/healthz")).await.0, 200);
    assert_eq!(http_get(&format!("http://127.0.0.1:{m}/readyz")).await.0, 200);
    let log = qs.proc.log();
    assert!(!log.contains(QS_SK), "the log must not contain the secret");
    drop(qs);

    // ---- 2: no credentials in the environment, a new data dir: they are generated.
    let data2 = tmp.path().join("data2");
    let (qs, p2, _) = start_quickstart(&data2, None);
    let creds = data2.join("credentials.toml");
    assert!(creds.is_file(), "credentials.toml was generated in {}", data2.display());
    assert_eq!(mode(&creds), 0o600, "credentials.toml must be private");
    let backend_creds = data2.join("backend-credentials.toml");
    if backend_creds.exists() {
        assert_eq!(mode(&backend_creds), 0o600, "backend-credentials.toml must be private");
    }
    assert_eq!(mode(&data2.join("tls/key.pem")), 0o600, "the TLS key must be private");
    let (ak, sk) = secret_from_credentials_toml(&creds);
    assert_eq!(qs.access_key_id, ak, "the banner prints the generated access key id");
    assert_ne!(ak, QS_AK);
    let banner = qs.proc.stdout_lines().join("\n");
    assert!(
        !banner.contains(&sk),
        "the banner must not print the generated secret:\n{banner}"
    );
    assert_eq!(qs.endpoint, format!("https://127.0.0.1:{p2}"));
    assert_eq!(qs.ca_file, data2.join("tls/ca.pem"));

    let bucket2 = unique_bucket("generated");
    aws(&qs, &work, &ak, &sk, &["s3", "mb", &format!("s3://{bucket2}")]);
    let out = run_printed_command(&qs, &work, &[]);
    assert!(out.contains(&bucket2), "the printed `s3 ls` lists {bucket2}:\n{out}");
    assert!(
        !out.contains(&bucket),
        "a new data dir has its own embedded backend:\n{out}"
    );
    let ca_pem = std::fs::read(&qs.ca_file).unwrap();
    drop(qs);

    // ---- 3: restarted on the same data dir: same credential, same CA, same data.
    let (qs, _, _) = start_quickstart(&data2, None);
    assert_eq!(qs.access_key_id, ak, "the generated credential is reused");
    assert_eq!(
        std::fs::read(&qs.ca_file).unwrap(),
        ca_pem,
        "the generated CA is reused"
    );
    let out = run_printed_command(&qs, &work, &[]);
    assert!(out.contains(&bucket2), "the bucket survives a restart:\n{out}");
}

/// Run `case` of the boto3 script `script` against the quick start (its embedded backend called in process, no
/// socket between them); the case must pass.
fn python_case_against_quick_start(qs: &QuickStart, data_dir: &Path, work: &Path, script: &str, case: &str) {
    let mut cmd = Command::new("python3");
    cmd.arg(client_script(script))
        .arg(case)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    let ca = qs.ca_file.display().to_string();
    for (k, v) in [
        ("S3_ENDPOINT", qs.endpoint.clone()),
        ("AWS_ACCESS_KEY_ID", QS_AK.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", QS_SK.to_owned()),
        ("AWS_DEFAULT_REGION", "us-east-1".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("S3_CA_FILE", ca.clone()),
        ("AWS_CA_BUNDLE", ca),
        ("WORK_DIR", work.display().to_string()),
        ("S3_BUCKET", unique_bucket(case)),
        ("S3_BACKEND_ROOT", data_dir.join("backend").display().to_string()),
        ("AWS_CONFIG_FILE", work.join("no-aws-config").display().to_string()),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            work.join("no-aws-credentials").display().to_string(),
        ),
        ("NO_PROXY", "127.0.0.1,localhost".to_owned()),
        ("no_proxy", "127.0.0.1,localhost".to_owned()),
    ] {
        cmd.env(k, v);
    }
    let out = run_with_timeout(cmd, &work.join(format!("{case}.out")), Duration::from_secs(300));
    assert!(
        out.status.success() && out.output.contains(&format!("{case}: all checks passed")),
        "{script} {case}: exited with {}\n===== output =====\n{}\n===== quick start log (tail) =====\n{}",
        out.status,
        out.output,
        tail(&qs.proc.log(), 40)
    );
}

/// The quick start's gateway calls its embedded backend in process: PUT, GET, ranges, multipart (SSE-C, copied
/// parts, aborts), listings, copies, and the backend's and gateway's error answers (400 BadDigest storing nothing,
/// 404 NoSuchUpload, 412 PreconditionFailed) all go through that path here, as the fs-backend tests do over a socket.
#[test]
fn quick_start_serves_s3_through_its_in_process_backend() {
    let tmp = tempfile::Builder::new().prefix("s3sp-quickstart-").tempdir().unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let data = tmp.path().join("data");
    let (qs, _, _) = start_quickstart(&data, Some((QS_AK, QS_SK)));
    for (script, case) in [
        ("embedded_s3.py", "listings"),
        ("embedded_s3.py", "conditional_writes"),
        ("embedded_s3.py", "retried_and_gone_uploads"),
        ("embedded_s3.py", "missing_and_directory_keys"),
        ("embedded_s3.py", "prefix_keys_and_folder_markers"),
        ("checksums.py", "ranges_and_parts_answer_none"),
        ("checksums.py", "wrong_checksum_stores_nothing"),
        ("checksums.py", "copies_keep_the_checksum"),
        ("checksums.py", "multipart_sse_c_copies_and_aborts"),
    ] {
        python_case_against_quick_start(&qs, &data, &work, script, case);
    }
    // A HEAD's 404 over HTTP/2 (curl's default over TLS) has no body: a body there breaks the stream.
    let bucket = unique_bucket("head-h2");
    aws(&qs, &work, QS_AK, QS_SK, &["s3", "mb", &format!("s3://{bucket}")]);
    let out = Command::new("curl")
        .args(["-sS", "-I", "--http2", "--cacert"])
        .arg(&qs.ca_file)
        .args([
            "--aws-sigv4",
            "aws:amz:us-east-1:s3",
            "--user",
            &format!("{QS_AK}:{QS_SK}"),
        ])
        .args(["-H", "x-amz-content-sha256:UNSIGNED-PAYLOAD"])
        .arg(format!("{}/{bucket}/missing", qs.endpoint))
        .output()
        .expect("curl");
    let head = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && head.starts_with("HTTP/2 404"),
        "HEAD of a missing key: {}\n{head}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // On an AMD CPU the gateway re-executed itself, keeping its process id, with glibc's `rep movsb` threshold
    // raised (src/memcpy.rs); elsewhere it runs as started.
    let environ = std::fs::read(format!("/proc/{}/environ", qs.proc.pid())).expect("the gateway's environment");
    let tunable = b"glibc.cpu.x86_rep_movsb_threshold=";
    let tuned = environ
        .split(|&b| b == 0)
        .any(|v| v.starts_with(b"GLIBC_TUNABLES=") && v.windows(tunable.len()).any(|w| w == tunable));
    assert_eq!(
        tuned,
        s3_sse_proxy::memcpy::amd_cpu(),
        "GLIBC_TUNABLES with the threshold in the environment of the gateway"
    );
}
