//! Client programs (`tests/clients/`): running a command with a timeout, and a Python script part against a
//! [`Stack`].

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Stack, unique_bucket};

/// Path of a file in `tests/clients/`.
pub fn client_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients").join(name)
}

/// Output of a finished client program (stdout and stderr interleaved in one file).
pub struct RunOutput {
    pub status: std::process::ExitStatus,
    pub output: String,
}

/// Run `cmd` with output to a file, killing it after `timeout`. Panics if it cannot be started.
pub fn run_with_timeout(mut cmd: Command, out_file: &Path, timeout: Duration) -> RunOutput {
    let f = std::fs::File::create(out_file).expect("output file");
    let f2 = f.try_clone().expect("dup output file");
    cmd.stdin(Stdio::null()).stdout(Stdio::from(f)).stderr(Stdio::from(f2));
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let st = child.wait().expect("wait");
            let mut output = std::fs::read_to_string(out_file).unwrap_or_default();
            output.push_str(&format!("\n*** killed after {timeout:?}"));
            return RunOutput { status: st, output };
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output = String::from_utf8_lossy(&std::fs::read(out_file).unwrap_or_default()).into_owned();
    RunOutput { status, output }
}

/// Run `python3 tests/clients/<script> <part>` with the client environment of `stack` (a fresh bucket named after
/// `part`) and the backend root; panics with its output and the gateway's log tail unless it exits 0.
pub fn run_python_part(stack: &Stack, script: &str, part: &str) -> String {
    let mut cmd = Command::new("python3");
    cmd.arg(client_script(script))
        .arg(part)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    for (k, v) in stack.gw.client_env(&unique_bucket(part)) {
        cmd.env(k, v);
    }
    cmd.env("S3_BACKEND_ROOT", &stack.backend.root);
    let out_file = stack.gw.work_dir().join(format!("{part}.out"));
    let out = run_with_timeout(cmd, &out_file, Duration::from_secs(300));
    assert!(
        out.status.success(),
        "{script} {part}: exited with {}\n===== output =====\n{}\n===== gateway log (tail) =====\n{}",
        out.status,
        out.output,
        tail(&stack.gw.log(), 40)
    );
    out.output
}

/// Run the Python program `code` (`python3 -c`) as a client of `gw` in `bucket`, with `env` added; it must exit 0
/// (its output and the gateway's log tail say why not).
pub fn run_python_inline(gw: &super::Gateway, bucket: &str, code: &str, env: &[(&str, &str)]) {
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(code);
    for (k, v) in gw.client_env(bucket) {
        cmd.env(k, v);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("python3");
    assert!(
        out.status.success(),
        "{}\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        tail(&gw.log(), 30)
    );
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
