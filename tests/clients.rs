//! Real S3 clients against the gateway: each test starts its own fs-backend and gateway and runs one script
//! of `tests/clients/` (which prints every step and exits 0 only if every check held).

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

/// Generous: the scripts move a few tens of MiB through TLS, and tests run in parallel.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(900);

/// Run `program args...` with the client environment of a fresh stack; panics with the script's output
/// (and the gateway's log tail) unless it exits 0. `unset` names variables removed from the environment.
fn run_client(name: &str, program: &str, args: &[&str], unset: &[&str]) {
    let stack = Stack::start();
    let bucket = unique_bucket(name);
    let env = stack.gw.client_env(&bucket);
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    for (k, v) in &env {
        cmd.env(k, v);
    }
    // The backend's files, for the scripts' check that they hold no plaintext and no SSE-C key.
    cmd.env("S3_BACKEND_ROOT", &stack.backend.root);
    for k in unset {
        cmd.env_remove(k);
    }
    let out_file = stack.gw.work_dir().join(format!("{name}.out"));
    let out = run_with_timeout(cmd, &out_file, CLIENT_TIMEOUT);
    if !out.status.success() {
        panic!(
            "{name}: `{program} {}` exited with {}\n===== client output =====\n{}\n===== gateway log (tail) \
             =====\n{}\n===== fs-backend log (tail) =====\n{}",
            args.join(" "),
            out.status,
            out.output,
            tail(&stack.gw.log(), 60),
            tail(&stack.backend.proc.log(), 30),
        );
    }
    // Shown with --nocapture.
    println!("{}", tail(&out.output, 5));
}

fn script(name: &str) -> String {
    client_script(name).display().to_string()
}

#[test]
fn boto3_default() {
    run_client("boto3", "python3", &[&script("boto3_default.py")], &[]);
}

#[test]
fn awscli_v2() {
    run_client("awscli-v2", "bash", &[&script("awscli.sh"), "/usr/bin/aws"], &[]);
}

#[test]
fn awscli_v1() {
    run_client(
        "awscli-v1",
        "bash",
        &[&script("awscli.sh"), "python3", "-m", "awscli"],
        &[],
    );
}

/// rclone's AWS SDK refuses to start while AWS_CA_BUNDLE is set; it gets the CA with --ca-cert.
#[test]
fn rclone() {
    run_client("rclone", "bash", &[&script("rclone.sh")], &["AWS_CA_BUNDLE"]);
}

/// s3cmd (2.3) has no SSE-C options (only `--server-side-encryption` for SSE-S3 and a KMS key id), so its
/// script has no SSE-C steps; see the note there.
#[test]
fn s3cmd() {
    run_client("s3cmd", "bash", &[&script("s3cmd.sh")], &[]);
}

/// The example configs in `config/` use only keys the gateway's schema knows.
#[test]
fn example_configs_match_the_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new("python3");
    cmd.arg(script("check_configs.py"))
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/config"));
    let out = run_with_timeout(cmd, &dir.path().join("out"), Duration::from_secs(60));
    assert!(
        out.status.success(),
        "check_configs.py exited with {}:\n{}",
        out.status,
        out.output
    );
}

/// The same example configs, parsed and validated by the gateway's own loader.
#[test]
fn example_configs_load_with_the_gateway_parser() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/config");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("config dir") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            if let Err(e) = s3_sse_proxy::config::Config::load(&path) {
                panic!("{}: {e}", path.display());
            }
            n += 1;
        }
    }
    assert!(n >= 5, "expected the five example configs in {dir}, found {n}");
}
