//! Real S3 clients against the gateway: each test starts its own fs-backend and gateway and runs one script
//! of `tests/clients/` (which prints every step and exits 0 only if every check held).

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

/// Generous: the scripts move a few tens of MiB through TLS, and tests run in parallel.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(900);

/// Run `program args...` with the client environment of a fresh stack (the script's main part); panics with
/// the script's output (and the gateway's log tail) unless it exits 0. `unset` names variables removed from the
/// environment.
fn run_client(name: &str, program: &str, args: &[&str], unset: &[&str]) {
    let stack = Stack::start();
    run_in(
        &stack,
        name,
        program,
        args,
        unset,
        &[("S3_CLIENT_PART".into(), "main".into())],
    );
}

/// Like [`run_client`] for `program`'s SSE-KMS part, against a fresh stack whose gateway uses `kms`, with the
/// keys it made named in `S3_KMS_*` variables; the script must also say that this part passed.
fn run_sse_kms_client(kms: Kms, name: &str, program: &str, args: &[&str], unset: &[&str]) {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let (stack, moto, mut env) = match kms {
        Kms::Local => local_kms_stack(),
        Kms::Moto => {
            let (stack, moto, env) = rt.block_on(moto_kms_stack());
            (stack, Some(moto), env)
        }
    };
    env.push(("S3_CLIENT_PART".into(), "sse-kms".into()));
    let output = run_in(&stack, name, program, args, unset, &env);
    assert!(
        output.lines().any(|l| l.ends_with("sse-kms: all checks passed")),
        "{name}: the script did not report its SSE-KMS part as passed:\n{output}"
    );
    drop(stack);
    drop(moto);
}

#[derive(Clone, Copy)]
enum Kms {
    /// The gateway's default: `[kms] kind = "local"`, master keys in `<data_dir>/kms-keys.toml`.
    Local,
    /// `[kms] kind = "aws"`: moto's AWS KMS API on loopback.
    Moto,
}

/// The default stack (local KMS) with the keys of [`local_kms_env`].
fn local_kms_stack() -> (Stack, Option<moto::Moto>, Vec<(String, String)>) {
    let stack = Stack::start();
    let env = local_kms_env(&stack.gw);
    (stack, None, env)
}

/// A backend and a gateway whose `[kms]` is moto's AWS KMS API, with three keys made there (CreateKey).
async fn moto_kms_stack() -> (Stack, moto::Moto, Vec<(String, String)>) {
    let moto = moto::Moto::start().await;
    let (_, default_arn) = moto.create_key(Some("alias/clients-default")).await;
    let alias = "alias/clients";
    let (id, arn) = moto.create_key(Some(alias)).await;
    let (other_id, other_arn) = moto.create_key(None).await;
    let backend = Backend::start();
    let gw = Gateway::start(&backend, &moto.gateway_toml("alias/clients-default", ""));
    let keys = KmsKeys {
        default_arn,
        alias: alias.to_owned(),
        id,
        arn,
        other_id,
        other_arn,
    };
    (Stack { gw, backend }, moto, keys.env("aws"))
}

/// Run `program args...` against `stack` with the client environment and `extra_env`; its output. Panics with
/// the output (and the processes' log tails) unless it exits 0.
fn run_in(
    stack: &Stack,
    name: &str,
    program: &str,
    args: &[&str],
    unset: &[&str],
    extra_env: &[(String, String)],
) -> String {
    let bucket = unique_bucket(name);
    let env = stack.gw.client_env(&bucket);
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    for (k, v) in env.iter().chain(extra_env) {
        cmd.env(k, v);
    }
    // The backend's files, for the scripts' check that they hold no plaintext and no key.
    cmd.env("S3_BACKEND_ROOT", &stack.backend.root);
    for k in unset {
        cmd.env_remove(k);
    }
    let out_file = stack.gw.work_dir().join(format!("{name}.out"));
    let out = run_with_timeout(cmd, &out_file, CLIENT_TIMEOUT);
    record_cell(name, extra_env, &out);
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
    out.output
}

/// The compatibility-matrix record of this run (client × s3s-fs × script part).
fn record_cell(name: &str, extra_env: &[(String, String)], out: &RunOutput) {
    let var = |k: &str| extra_env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let client = name.trim_end_matches("-awskms").trim_end_matches("-kms");
    let feature = match (var("S3_CLIENT_PART"), var("S3_KMS_KIND")) {
        (Some("sse-kms"), Some("aws")) => "sse-kms (AWS KMS API: moto)".to_owned(),
        (Some("sse-kms"), kind) => format!("sse-kms ({} KMS)", kind.unwrap_or("?")),
        (part, _) => part.unwrap_or("main").to_owned(),
    };
    let failed_step = out.output.lines().rev().find(|l| l.starts_with("FAIL")).unwrap_or("");
    let outcome = if out.status.success() {
        common::compat::Outcome::Pass
    } else {
        common::compat::Outcome::Fail
    };
    common::compat::record(client, "s3s-fs", &feature, outcome, failed_step);
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

/// s5cmd (2.3, the Go AWS SDK v1) has no SSE-C options (only `--sse` and `--sse-kms-key-id`), so its script has
/// no SSE-C steps; see the note there.
#[test]
fn s5cmd() {
    run_client("s5cmd", "bash", &[&script("s5cmd.sh")], &[]);
}

/// Each script's SSE-KMS part, once with the local KMS and once with moto's AWS KMS API: `$local` and `$aws` run
/// `$program $args` with the variables `$unset` removed.
macro_rules! sse_kms_tests {
    ($local:ident, $aws:ident, $name:literal, $program:literal, [$($arg:expr),*], $unset:expr) => {
        #[test]
        fn $local() {
            run_sse_kms_client(Kms::Local, concat!($name, "-kms"), $program, &[$(&$arg),*], $unset);
        }

        #[test]
        fn $aws() {
            run_sse_kms_client(Kms::Moto, concat!($name, "-awskms"), $program, &[$(&$arg),*], $unset);
        }
    };
}

sse_kms_tests!(
    boto3_sse_kms_local,
    boto3_sse_kms_aws,
    "boto3",
    "python3",
    [script("boto3_default.py")],
    &[]
);
sse_kms_tests!(
    awscli_v2_sse_kms_local,
    awscli_v2_sse_kms_aws,
    "awscli-v2",
    "bash",
    [script("awscli.sh"), "/usr/bin/aws"],
    &[]
);
sse_kms_tests!(
    awscli_v1_sse_kms_local,
    awscli_v1_sse_kms_aws,
    "awscli-v1",
    "bash",
    [script("awscli.sh"), "python3", "-m", "awscli"],
    &[]
);
sse_kms_tests!(
    rclone_sse_kms_local,
    rclone_sse_kms_aws,
    "rclone",
    "bash",
    [script("rclone.sh")],
    &["AWS_CA_BUNDLE"]
);
sse_kms_tests!(
    s3cmd_sse_kms_local,
    s3cmd_sse_kms_aws,
    "s3cmd",
    "bash",
    [script("s3cmd.sh")],
    &[]
);

sse_kms_tests!(
    s5cmd_sse_kms_local,
    s5cmd_sse_kms_aws,
    "s5cmd",
    "bash",
    [script("s5cmd.sh")],
    &[]
);

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
