//! Test harness for the end-to-end tests: the real `fs-backend` and gateway processes, the environment
//! for client programs, a raw HTTPS client that trusts only the gateway's CA, and a SigV4 signer built on
//! `aws-sigv4` (independent of the gateway's own verifier).
//!
//! Every test starts its own processes on its own ports and directories, so tests run in parallel. The
//! processes listen on port 0 and the harness reads the bound address from their ready lines (no port can
//! be taken by another test between "find a free port" and "bind").
#![allow(dead_code)]
pub mod ceph;
pub mod compat;
pub mod moto;
pub mod prometheus;
pub mod pykmip;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

pub const BIN: &str = env!("CARGO_BIN_EXE_s3-sse-proxy");
pub const REGION: &str = "us-east-1";

pub const CLIENT_AK: &str = "CLIENTAKIDEXAMPLE001";
pub const CLIENT_SK: &str = "clientSecretKey/Example+0123456789abcdefgh";
pub const LIMITED_AK: &str = "LIMITEDAKIDEXAMPLE01";
pub const LIMITED_SK: &str = "limitedSecretKey/Example+0123456789abcdefg";
/// The only bucket [`LIMITED_AK`] may touch.
pub const LIMITED_BUCKET: &str = "only-this";
pub const BACKEND_AK: &str = "BACKENDAKIDEXAMPLE01";
pub const BACKEND_SK: &str = "backendSecretKey/Example+0123456789abcdefg";

/// How long a process may take to print its ready line.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Environment variables of the gateway that would change its behaviour if inherited from the test runner.
const GATEWAY_ENV: [&str; 5] = [
    "S3_SSE_PROXY_ACCESS_KEY_ID",
    "S3_SSE_PROXY_SECRET_ACCESS_KEY",
    "S3_SSE_PROXY_BACKEND_ACCESS_KEY_ID",
    "S3_SSE_PROXY_BACKEND_SECRET_ACCESS_KEY",
    "S3_SSE_PROXY_LOG",
];

/// An access key pair.
#[derive(Clone, Copy, Debug)]
pub struct Creds {
    pub ak: &'static str,
    pub sk: &'static str,
}

pub const CLIENT: Creds = Creds {
    ak: CLIENT_AK,
    sk: CLIENT_SK,
};
pub const LIMITED: Creds = Creds {
    ak: LIMITED_AK,
    sk: LIMITED_SK,
};
pub const BACKEND: Creds = Creds {
    ak: BACKEND_AK,
    sk: BACKEND_SK,
};

/// A free TCP port on 127.0.0.1 (bind port 0, read the port, drop the listener).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// A bucket name unique to this test process and call: `prefix-<pid>-<n>`, 3-63 lowercase chars.
pub fn unique_bucket(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut name = format!(
        "{}-{}-{n}-{:x}",
        prefix.to_ascii_lowercase(),
        std::process::id(),
        nanos % 0xfffff
    );
    name.truncate(63);
    assert!(name.len() >= 3, "bucket name too short: {name}");
    name
}

// ------------------------------------------------------------------------------------------------
// Processes
// ------------------------------------------------------------------------------------------------

#[derive(Default)]
struct Lines {
    lines: Vec<String>,
    closed: bool,
}

/// A child process whose stdout is collected line by line and whose stderr goes to a log file.
/// Killed (SIGKILL) and reaped on drop.
pub struct Proc {
    child: Child,
    name: String,
    stdout: Arc<(Mutex<Lines>, Condvar)>,
    pub log_path: PathBuf,
}

impl Proc {
    pub fn spawn(name: &str, mut cmd: Command, log_path: PathBuf) -> Proc {
        let log = std::fs::File::create(&log_path).unwrap_or_else(|e| panic!("creating {}: {e}", log_path.display()));
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::from(log));
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawning {name}: {e}"));
        let out = child.stdout.take().expect("piped stdout");
        let stdout = Arc::new((Mutex::new(Lines::default()), Condvar::new()));
        let shared = stdout.clone();
        std::thread::spawn(move || {
            let reader = BufReader::new(out);
            for line in reader.lines() {
                let Ok(line) = line else { break };
                let (m, cv) = &*shared;
                m.lock().unwrap().lines.push(line);
                cv.notify_all();
            }
            let (m, cv) = &*shared;
            m.lock().unwrap().closed = true;
            cv.notify_all();
        });
        Proc {
            child,
            name: name.to_owned(),
            stdout,
            log_path,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything printed on stdout so far.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.0.lock().unwrap().lines.clone()
    }

    /// The stderr log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Wait until a stdout line satisfies `pred`; `None` on timeout or if stdout closed (process exited).
    pub fn wait_line(&self, pred: impl Fn(&str) -> bool, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let (m, cv) = &*self.stdout;
        let mut g = m.lock().unwrap();
        loop {
            if let Some(l) = g.lines.iter().find(|l| pred(l)) {
                return Some(l.clone());
            }
            if g.closed {
                return None;
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            g = cv.wait_timeout(g, deadline - now).unwrap().0;
        }
    }

    /// Like [`Proc::wait_line`], but panics with the process's output if the line does not come.
    pub fn expect_line(&self, pred: impl Fn(&str) -> bool, what: &str) -> String {
        match self.wait_line(pred, START_TIMEOUT) {
            Some(l) => l,
            None => panic!(
                "{} did not print {what} within {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
                self.name,
                START_TIMEOUT,
                self.stdout_lines().join("\n"),
                self.log()
            ),
        }
    }

    /// Send a signal with `kill(1)` (no libc in the tests).
    pub fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .expect("running kill");
        assert!(st.success(), "kill -{sig} {} failed", self.pid());
    }

    /// SIGKILL the process now and reap it.
    pub fn kill_now(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Exit status if the process has exited.
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The part of `line` after `prefix` (after trimming leading spaces), if it starts so.
pub fn after<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    line.trim_start().strip_prefix(prefix).map(str::trim)
}

/// Where a gateway's `[backend]` points: endpoint, the backend's credentials and more `[backend]` lines (e.g.
/// `payload = "signed"`).
#[derive(Clone)]
pub struct S3Backend {
    pub endpoint: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub backend_toml: String,
}

/// `fs-backend`: the real s3s-fs S3 server, plain HTTP, SigV4 with [`BACKEND`] credentials.
pub struct Backend {
    pub proc: Proc,
    pub addr: SocketAddr,
    pub root: PathBuf,
    _dir: tempfile::TempDir,
}

impl Backend {
    pub fn start() -> Backend {
        let dir = tempfile::Builder::new()
            .prefix("s3sp-backend-")
            .tempdir()
            .expect("tempdir");
        let root = dir.path().join("root");
        let (proc, addr) = Self::spawn(&root, "127.0.0.1:0", &dir.path().join("fs-backend.log"));
        Backend {
            proc,
            addr,
            root,
            _dir: dir,
        }
    }

    fn spawn(root: &Path, listen: &str, log: &Path) -> (Proc, SocketAddr) {
        let mut cmd = Command::new(BIN);
        cmd.args(["fs-backend", "--listen", listen, "--root"]).arg(root).args([
            "--access-key",
            BACKEND_AK,
            "--secret-key",
            BACKEND_SK,
        ]);
        for v in GATEWAY_ENV {
            cmd.env_remove(v);
        }
        let proc = Proc::spawn("fs-backend", cmd, log.to_path_buf());
        let line = proc.expect_line(|l| l.starts_with("fs-backend ready on "), "its ready line");
        let url = line
            .strip_prefix("fs-backend ready on http://")
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| panic!("unexpected ready line: {line}"));
        let addr: SocketAddr = url.parse().unwrap_or_else(|e| panic!("address in {line:?}: {e}"));
        (proc, addr)
    }

    /// SIGKILL the backend process (its files stay).
    pub fn kill(&mut self) {
        self.proc.kill_now();
    }

    /// Start the backend again on the same root and address (after [`Backend::kill`]); gateways configured
    /// with its endpoint reach it again.
    pub fn restart(&mut self) {
        self.proc.kill_now();
        let log = self.root.with_file_name("fs-backend-restarted.log");
        // Same root, same address: the listener binds with SO_REUSEADDR, so the killed one's port is free.
        let (proc, addr) = Self::spawn(&self.root, &self.addr.to_string(), &log);
        assert_eq!(
            addr, self.addr,
            "the restarted backend must listen where the gateway expects it"
        );
        self.proc = proc;
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A request signed with `creds` sent straight to the backend (plain HTTP).
    pub async fn send_signed(&self, creds: Creds, method: Method, path_and_query: &str, body: Bytes) -> Resp {
        self.send_signed_with_headers(creds, method, path_and_query, body, &[])
            .await
    }

    /// Like [`Backend::send_signed`], with extra (signed) headers.
    pub async fn send_signed_with_headers(
        &self,
        creds: Creds,
        method: Method,
        path_and_query: &str,
        body: Bytes,
        headers: &[(&str, &str)],
    ) -> Resp {
        let uri = format!("{}{path_and_query}", self.endpoint());
        let with_length = !body.is_empty() || method == Method::PUT || method == Method::POST;
        let mut req = Request::builder().method(method).uri(uri);
        if with_length {
            req = req.header("content-length", body.len());
        }
        for (n, v) in headers {
            req = req.header(*n, *v);
        }
        let mut req = req.body(body.clone()).expect("request");
        sign_request(&mut req, creds, SystemTime::now(), SignableBody::Bytes(&body));
        let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let (parts, body) = req.into_parts();
        let resp = client
            .request(Request::from_parts(parts, Full::new(body)))
            .await
            .expect("backend request");
        Resp::read(resp).await
    }

    /// HEAD `bucket/key` at the backend with the backend's own credentials: 200 if the object exists.
    pub async fn head_status(&self, bucket: &str, key: &str) -> StatusCode {
        self.send_signed(BACKEND, Method::HEAD, &format!("/{bucket}/{key}"), Bytes::new())
            .await
            .status
    }

    /// Panics unless `bucket/key` does NOT exist at the backend.
    pub async fn assert_absent(&self, bucket: &str, key: &str) {
        let st = self.head_status(bucket, key).await;
        assert_eq!(
            st,
            StatusCode::NOT_FOUND,
            "object {bucket}/{key} must not exist at the backend (direct HEAD)"
        );
    }

    /// Panics unless `bucket/key` exists at the backend.
    pub async fn assert_present(&self, bucket: &str, key: &str) {
        let st = self.head_status(bucket, key).await;
        assert_eq!(
            st,
            StatusCode::OK,
            "object {bucket}/{key} must exist at the backend (direct HEAD)"
        );
    }
}

/// The gateway process (`s3-sse-proxy --config FILE`) in front of a [`Backend`].
pub struct Gateway {
    pub proc: Proc,
    pub addr: SocketAddr,
    pub metrics_addr: SocketAddr,
    /// The generated CA (absent when the config names its own `[tls]` certificate).
    pub ca_file: Option<PathBuf>,
    pub config_path: PathBuf,
    pub dir: tempfile::TempDir,
    work_n: AtomicU32,
}

impl Gateway {
    /// The standard config: the backend, [`CLIENT`] on every bucket, [`LIMITED`] on [`LIMITED_BUCKET`] only,
    /// followed by `extra_toml` (tables such as `[s3]`, `[tls]` or more `[[credentials]]`).
    pub fn start(backend: &Backend, extra_toml: &str) -> Gateway {
        Self::start_with_env(backend, extra_toml, &[])
    }

    /// Like [`Gateway::start`], with extra environment variables for the gateway process (e.g.
    /// `S3_SSE_PROXY_LOG`, which is otherwise removed).
    pub fn start_with_env(backend: &Backend, extra_toml: &str, env: &[(&str, &str)]) -> Gateway {
        Self::start_with_env_args(backend, extra_toml, env, &[])
    }

    /// Like [`Gateway::start_with_env`], with extra command-line arguments (e.g. `--audit-log FILE`).
    pub fn start_with_env_args(backend: &Backend, extra_toml: &str, env: &[(&str, &str)], args: &[&str]) -> Gateway {
        let s3 = S3Backend {
            endpoint: backend.endpoint(),
            access_key_id: BACKEND_AK.into(),
            secret_access_key: BACKEND_SK.into(),
            backend_toml: String::new(),
        };
        Self::start_at(&s3, extra_toml, env, args)
    }

    /// Like [`Gateway::start_with_env_args`] in front of any S3 backend (Ceph RGW, moto, …).
    pub fn start_at(backend: &S3Backend, extra_toml: &str, env: &[(&str, &str)], args: &[&str]) -> Gateway {
        let dir = tempfile::Builder::new()
            .prefix("s3sp-gateway-")
            .tempdir()
            .expect("tempdir");
        let data_dir = dir.path().join("gw");
        let config = format!(
            r#"listen = "127.0.0.1:0"
metrics_listen = "127.0.0.1:0"
data_dir = {data_dir:?}

[backend]
kind = "s3"
endpoint = "{endpoint}"
region = "{REGION}"
access_key_id = "{backend_ak}"
secret_access_key = "{backend_sk}"
{backend_toml}

[[credentials]]
access_key_id = "{CLIENT_AK}"
secret_access_key = "{CLIENT_SK}"
allowed_buckets = ["*"]

[[credentials]]
access_key_id = "{LIMITED_AK}"
secret_access_key = "{LIMITED_SK}"
display_name = "limited"
allowed_buckets = ["{LIMITED_BUCKET}"]

{extra_toml}
"#,
            endpoint = backend.endpoint,
            backend_ak = backend.access_key_id,
            backend_sk = backend.secret_access_key,
            backend_toml = backend.backend_toml,
        );
        Self::start_with_config_text_env(dir, &config, env, args)
    }

    /// Start with a complete config text, written into `dir`.
    pub fn start_with_config_text(dir: tempfile::TempDir, config: &str) -> Gateway {
        Self::start_with_config_text_env(dir, config, &[], &[])
    }

    fn start_with_config_text_env(
        dir: tempfile::TempDir,
        config: &str,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Gateway {
        let config_path = dir.path().join("gateway.toml");
        std::fs::write(&config_path, config).expect("writing config");
        let mut cmd = Command::new(BIN);
        cmd.arg("--config").arg(&config_path).args(args).current_dir(dir.path());
        for v in GATEWAY_ENV {
            cmd.env_remove(v);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let proc = Proc::spawn("gateway", cmd, dir.path().join("gateway.log"));
        // The banner: "s3-sse-proxy X ready", "  endpoint: ...", ["  CA file: ..."], "  metrics: ..." (last).
        let metrics_line = proc.expect_line(|l| after(l, "metrics:").is_some(), "its ready banner");
        let lines = proc.stdout_lines();
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("s3-sse-proxy ") && l.ends_with(" ready")),
            "banner without a ready line: {lines:?}"
        );
        let endpoint = lines
            .iter()
            .find_map(|l| after(l, "endpoint:"))
            .unwrap_or_else(|| panic!("banner without endpoint: {lines:?}"));
        let addr: SocketAddr = endpoint
            .strip_prefix("https://")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("endpoint is not https://IP:PORT: {endpoint}"));
        let ca_file = lines.iter().find_map(|l| after(l, "CA file:")).map(PathBuf::from);
        let metrics_addr: SocketAddr = after(&metrics_line, "metrics:")
            .and_then(|m| m.strip_prefix("http://"))
            .and_then(|m| m.strip_suffix("/metrics"))
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected metrics line: {metrics_line}"));
        Gateway {
            proc,
            addr,
            metrics_addr,
            ca_file,
            config_path,
            dir,
            work_n: AtomicU32::new(0),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("https://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn ca_file(&self) -> &Path {
        self.ca_file
            .as_deref()
            .expect("this gateway generated no CA (it has a [tls] section)")
    }

    /// A new scratch directory under the gateway's temp dir.
    pub fn work_dir(&self) -> PathBuf {
        let n = self.work_n.fetch_add(1, Ordering::Relaxed);
        let d = self.dir.path().join(format!("work-{n}"));
        std::fs::create_dir_all(&d).expect("work dir");
        d
    }

    /// Environment for a client program talking to this gateway as [`CLIENT`], with bucket `bucket`.
    pub fn client_env(&self, bucket: &str) -> Vec<(String, String)> {
        let ca = self.ca_file().display().to_string();
        let work = self.work_dir();
        [
            ("S3_ENDPOINT", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", CLIENT_AK.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", CLIENT_SK.to_owned()),
            ("AWS_DEFAULT_REGION", REGION.to_owned()),
            ("AWS_REGION", REGION.to_owned()),
            ("S3_CA_FILE", ca.clone()),
            ("AWS_CA_BUNDLE", ca),
            ("WORK_DIR", work.display().to_string()),
            ("S3_BUCKET", bucket.to_owned()),
            // Isolation from whoever runs the tests: no ~/.aws files, no proxies for loopback.
            ("AWS_CONFIG_FILE", work.join("no-aws-config").display().to_string()),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                work.join("no-aws-credentials").display().to_string(),
            ),
            ("NO_PROXY", "127.0.0.1,localhost".to_owned()),
            ("no_proxy", "127.0.0.1,localhost".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Raw HTTPS client trusting only this gateway's CA (HTTP/1.1, TLS 1.2 and 1.3).
    pub fn client(&self) -> HttpsClient {
        https_client(tls_config(&[self.ca_file()], TlsVersions::Both))
    }

    /// `https://127.0.0.1:PORT{path_and_query}`.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.endpoint())
    }

    pub fn log(&self) -> String {
        self.proc.log()
    }

    /// The text of `GET /metrics` on the gateway's plain-HTTP metrics listener.
    pub async fn metrics_text(&self) -> String {
        let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let uri = format!("http://{}/metrics", self.metrics_addr);
        let req = Request::get(uri).body(Full::new(Bytes::new())).expect("request");
        let resp = client.request(req).await.expect("GET /metrics");
        let r = Resp::read(resp).await;
        assert_eq!(r.status, StatusCode::OK, "GET /metrics: {}", r.text());
        r.text()
    }

    /// The value of an unlabelled metric (`name value` line) in `/metrics`; 0 if it is not there.
    pub async fn metric_value(&self, name: &str) -> f64 {
        let text = self.metrics_text().await;
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .find_map(|l| {
                let (n, v) = l.split_once(' ')?;
                (n == name).then(|| v.trim().parse().ok()).flatten()
            })
            .unwrap_or(0.0)
    }
}

/// `s3-sse-proxy --config <gateway's config> ARGS…`, as an operator runs it: its standard output; panics unless
/// it succeeds.
pub fn gateway_command(gw: &Gateway, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&gw.config_path)
        .args(args)
        .output()
        .expect("running s3-sse-proxy");
    assert!(
        out.status.success(),
        "s3-sse-proxy {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `s3-sse-proxy --config <gateway's config> kms ARGS…` (the local KMS's key management).
pub fn kms_admin(gw: &Gateway, args: &[&str]) -> String {
    gateway_command(gw, &[&["kms"], args].concat())
}

/// The gateway's local KMS key file.
pub fn kms_key_file(gw: &Gateway) -> PathBuf {
    gw.dir.path().join("gw/kms-keys.toml")
}

/// Every master key version in the gateway's local KMS key file, as written there (base64 of 32 bytes).
pub fn local_master_keys(gw: &Gateway) -> Vec<String> {
    let text = std::fs::read_to_string(kms_key_file(gw)).expect("reading the local KMS key file");
    let keys: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("versions"))
        .flat_map(|l| l.split('"').skip(1).step_by(2).map(str::to_owned).collect::<Vec<_>>())
        .collect();
    assert!(!keys.is_empty(), "no master keys in {text}");
    keys
}

/// The keys an SSE-KMS script uses: the gateway's default key, a key with an alias, and another key.
pub struct KmsKeys {
    pub default_arn: String,
    pub alias: String,
    pub id: String,
    pub arn: String,
    pub other_id: String,
    pub other_arn: String,
}

impl KmsKeys {
    pub fn env(self, kind: &str) -> Vec<(String, String)> {
        [
            ("S3_KMS_KIND", kind.to_owned()),
            ("S3_KMS_DEFAULT_KEY_ARN", self.default_arn),
            ("S3_KMS_KEY_ALIAS", self.alias),
            ("S3_KMS_KEY_ID", self.id),
            ("S3_KMS_KEY_ARN", self.arn),
            ("S3_KMS_OTHER_KEY_ID", self.other_id),
            ("S3_KMS_OTHER_KEY_ARN", self.other_arn),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

/// Two more keys in `gw`'s local KMS (its default config), made by `kms create-key`, and the environment of a
/// script's SSE-KMS steps (`S3_KMS_*`): besides the keys, `S3_KMS_ADMIN` (the `kms` subcommand against this
/// gateway's config, to disable and enable keys) and `S3_KMS_MASTER_KEY_DIR` (every master key, 32 raw bytes a
/// file, for the check that none reaches the backend).
pub fn local_kms_env(gw: &Gateway) -> Vec<(String, String)> {
    let alias = "alias/clients";
    let id = kms_admin(gw, &["create-key", "--alias", alias]).trim().to_owned();
    let other_id = kms_admin(gw, &["create-key"]).trim().to_owned();
    // One line per key: ARN, state, versions, aliases.
    let listed = kms_admin(gw, &["list"]);
    let arn_where = |pred: &dyn Fn(&str) -> bool| -> String {
        let line = listed
            .lines()
            .find(|l| pred(l))
            .unwrap_or_else(|| panic!("no such key in `kms list`:\n{listed}"));
        line.split('\t').next().unwrap().to_owned()
    };
    let keys = KmsKeys {
        default_arn: arn_where(&|l| l.ends_with("alias/aws/s3")),
        arn: arn_where(&|l| l.split('\t').next().unwrap().ends_with(&format!("key/{id}"))),
        other_arn: arn_where(&|l| l.split('\t').next().unwrap().ends_with(&format!("key/{other_id}"))),
        alias: alias.to_owned(),
        id,
        other_id,
    };
    let master_dir = gw.work_dir();
    for (i, k) in local_master_keys(gw).iter().enumerate() {
        let raw = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, k).expect("base64 master key");
        std::fs::write(master_dir.join(format!("master-{i}")), raw).expect("writing a master key file");
    }
    let mut env = keys.env("local");
    env.push((
        "S3_KMS_ADMIN".into(),
        format!("{BIN} --config {} kms", gw.config_path.display()),
    ));
    env.push(("S3_KMS_MASTER_KEY_DIR".into(), master_dir.display().to_string()));
    env
}

/// A backend and a gateway in front of it, with the standard config.
pub struct Stack {
    // Dropped in declaration order: the gateway first.
    pub gw: Gateway,
    pub backend: Backend,
}

impl Stack {
    pub fn start() -> Stack {
        Self::start_with("")
    }

    pub fn start_with(extra_toml: &str) -> Stack {
        let backend = Backend::start();
        let gw = Gateway::start(&backend, extra_toml);
        Stack { gw, backend }
    }
}

// ------------------------------------------------------------------------------------------------
// HTTPS client
// ------------------------------------------------------------------------------------------------

pub type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsVersions {
    Both,
    Tls12Only,
    Tls13Only,
}

pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A rustls client config that trusts only the CA certificates in `ca_files` (PEM).
pub fn tls_config(ca_files: &[&Path], versions: TlsVersions) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for f in ca_files {
        for cert in CertificateDer::pem_file_iter(f).unwrap_or_else(|e| panic!("reading {}: {e}", f.display())) {
            roots.add(cert.expect("PEM certificate")).expect("adding root");
        }
    }
    tls_config_with_roots(roots, versions)
}

pub fn tls_config_with_roots(roots: rustls::RootCertStore, versions: TlsVersions) -> rustls::ClientConfig {
    let v: &[&'static rustls::SupportedProtocolVersion] = match versions {
        TlsVersions::Both => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersions::Tls12Only => &[&rustls::version::TLS12],
        TlsVersions::Tls13Only => &[&rustls::version::TLS13],
    };
    rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(v)
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

pub fn https_client(cfg: rustls::ClientConfig) -> HttpsClient {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(cfg)
        .https_only()
        .enable_http1()
        .build();
    Client::builder(TokioExecutor::new()).build(connector)
}

/// Like [`https_client`], for requests with any body type (e.g. a streamed one).
pub fn https_client_with_body<B>(cfg: rustls::ClientConfig) -> Client<hyper_rustls::HttpsConnector<HttpConnector>, B>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(cfg)
        .https_only()
        .enable_http1()
        .build();
    Client::builder(TokioExecutor::new()).build(connector)
}

/// A response read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub async fn read(resp: http::Response<hyper::body::Incoming>) -> Resp {
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.expect("reading response body").to_bytes();
        Resp {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The text of the first `<tag>...</tag>` of the XML body.
    pub fn xml_tag(&self, tag: &str) -> Option<String> {
        xml_tag(&self.text(), tag)
    }

    /// The S3 error `<Code>`.
    pub fn error_code(&self) -> Option<String> {
        self.xml_tag("Code")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Panics unless the response is the S3 error `code` with `status`.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status.as_u16(), self.error_code().as_deref()),
            (status, Some(code)),
            "expected {status} {code}; got {} with body {}",
            self.status,
            self.text()
        );
    }

    /// Panics unless the response is the S3 error `code` with `status` and exactly `message` (as an XML parser
    /// reads it).
    pub fn assert_error_message(&self, status: u16, code: &str, message: &str, what: &str) {
        let got = self
            .xml_tag("Message")
            .map(|m| quick_xml::escape::unescape(&m).map_or(m.clone(), |u| u.into_owned()));
        assert_eq!(
            (self.status.as_u16(), self.error_code().as_deref(), got.as_deref()),
            (status, Some(code), Some(message)),
            "{what}: got {} with body {}",
            self.status,
            self.text()
        );
    }

    /// Panics unless the status is 200.
    pub fn assert_ok(&self) {
        assert_eq!(self.status, StatusCode::OK, "expected 200; body: {}", self.text());
    }
}

pub fn xml_tag(text: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&close)? + start;
    Some(text[start..end].to_owned())
}

/// Send `req` (body as bytes) with `client` and read the whole response.
pub async fn send(client: &HttpsClient, req: Request<Bytes>) -> Resp {
    let (parts, body) = req.into_parts();
    let what = format!("{} {}", parts.method, parts.uri);
    let resp = client
        .request(Request::from_parts(parts, Full::new(body)))
        .await
        .unwrap_or_else(|e| panic!("{what}: {e:?}"));
    Resp::read(resp).await
}

/// A response whose body may have ended in an error (an aborted connection): what arrived, and the error.
#[derive(Debug)]
pub struct LossyResp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// Every body byte received before the end or the error.
    pub body: Bytes,
    /// Why the body did not complete, if it did not.
    pub body_error: Option<String>,
}

impl LossyResp {
    pub async fn read(resp: http::Response<hyper::body::Incoming>) -> LossyResp {
        let (parts, mut body) = resp.into_parts();
        let mut buf = Vec::new();
        let mut body_error = None;
        loop {
            match body.frame().await {
                None => break,
                Some(Ok(f)) => {
                    if let Ok(d) = f.into_data() {
                        buf.extend_from_slice(&d);
                    }
                }
                Some(Err(e)) => {
                    body_error = Some(format!("{e:?}"));
                    break;
                }
            }
        }
        LossyResp {
            status: parts.status,
            headers: parts.headers,
            body: Bytes::from(buf),
            body_error,
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Send `req`; the response body is read as far as it goes (see [`LossyResp`]). A request that gets no
/// response head at all is `Err`.
pub async fn send_lossy(client: &HttpsClient, req: Request<Bytes>) -> Result<LossyResp, String> {
    let (parts, body) = req.into_parts();
    match client.request(Request::from_parts(parts, Full::new(body))).await {
        Ok(resp) => Ok(LossyResp::read(resp).await),
        Err(e) => Err(format!("{e:?}")),
    }
}

// ------------------------------------------------------------------------------------------------
// SigV4 (aws-sigv4)
// ------------------------------------------------------------------------------------------------

fn settings(location: SignatureLocation, expires_in: Option<Duration>) -> SigningSettings {
    let mut s = SigningSettings::default();
    s.percent_encoding_mode = PercentEncodingMode::Single;
    s.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    s.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    s.signature_location = location;
    s.expires_in = expires_in;
    s
}

fn identity(creds: Creds) -> Identity {
    Credentials::new(creds.ak, creds.sk, None, None, "e2e-tests").into()
}

fn sign_with<B>(
    req: &mut Request<B>,
    creds: Creds,
    time: SystemTime,
    payload: SignableBody<'_>,
    settings: SigningSettings,
) -> String {
    let identity = identity(creds);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name("s3")
        .time(time)
        .settings(settings)
        .build()
        .expect("signing params");
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().expect("ASCII header").to_owned()))
        .collect();
    let uri = req.uri().to_string();
    let signable = SignableRequest::new(
        req.method().as_str(),
        &uri,
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        payload,
    )
    .expect("signable request");
    let (instructions, signature) = sign(signable, &params.into()).expect("signing").into_parts();
    instructions.apply_to_request_http1x(req);
    signature
}

/// Sign `req` in the `Authorization` header (adds `x-amz-date`, `x-amz-content-sha256`, `authorization`).
/// Every header already on the request is signed. Returns the signature (hex).
pub fn sign_request<B>(req: &mut Request<B>, creds: Creds, time: SystemTime, payload: SignableBody<'_>) -> String {
    sign_with(req, creds, time, payload, settings(SignatureLocation::Headers, None))
}

/// A presigned URL for `method url` (UNSIGNED-PAYLOAD, only `host` signed).
pub fn presign(method: Method, url: &str, creds: Creds, time: SystemTime, expires_in: Duration) -> String {
    let mut req = Request::builder().method(method).uri(url).body(()).expect("request");
    sign_with(
        &mut req,
        creds,
        time,
        SignableBody::UnsignedPayload,
        settings(SignatureLocation::QueryParams, Some(expires_in)),
    );
    req.uri().to_string()
}

/// A request to the gateway signed as `creds` with the body's SHA-256 (`content-length` signed too).
pub fn signed(
    gw: &Gateway,
    creds: Creds,
    method: Method,
    path_and_query: &str,
    body: impl Into<Bytes>,
) -> Request<Bytes> {
    signed_with_headers(gw, creds, method, path_and_query, body, &[])
}

/// Like [`signed`], with extra (signed) headers.
pub fn signed_with_headers(
    gw: &Gateway,
    creds: Creds,
    method: Method,
    path_and_query: &str,
    body: impl Into<Bytes>,
    headers: &[(&str, &str)],
) -> Request<Bytes> {
    let body = body.into();
    // S3 wants a Content-Length on every PUT and POST, even an empty one.
    let with_length = !body.is_empty() || method == Method::PUT || method == Method::POST;
    let mut b = Request::builder().method(method).uri(gw.url(path_and_query));
    if with_length {
        b = b.header("content-length", body.len());
    }
    for (n, v) in headers {
        b = b.header(*n, *v);
    }
    let mut req = b.body(body.clone()).expect("request");
    sign_request(&mut req, creds, SystemTime::now(), SignableBody::Bytes(&body));
    req
}

/// A request to the gateway as [`CLIENT`] with extra (signed) headers, read whole.
pub async fn call(
    gw: &Gateway,
    c: &HttpsClient,
    method: Method,
    path: &str,
    body: impl Into<Bytes>,
    h: &[(&str, &str)],
) -> Resp {
    send(c, signed_with_headers(gw, CLIENT, method, path, body, h)).await
}

/// Create `bucket` through the gateway as [`CLIENT`]; panics unless 200.
pub async fn create_bucket(gw: &Gateway, client: &HttpsClient, bucket: &str) {
    let r = send(
        client,
        signed(gw, CLIENT, Method::PUT, &format!("/{bucket}"), Bytes::new()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "CreateBucket {bucket}: {}", r.text());
}

/// PUT an object through the gateway as [`CLIENT`].
pub async fn put_object(gw: &Gateway, client: &HttpsClient, bucket: &str, key: &str, body: impl Into<Bytes>) -> Resp {
    send(
        client,
        signed(gw, CLIENT, Method::PUT, &format!("/{bucket}/{key}"), body),
    )
    .await
}

/// GET an object through the gateway as [`CLIENT`].
pub async fn get_object(gw: &Gateway, client: &HttpsClient, bucket: &str, key: &str) -> Resp {
    send(
        client,
        signed(gw, CLIENT, Method::GET, &format!("/{bucket}/{key}"), Bytes::new()),
    )
    .await
}

/// Deterministic pseudo-random bytes (xorshift), so failures are reproducible.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

// ------------------------------------------------------------------------------------------------
// Running client programs
// ------------------------------------------------------------------------------------------------

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

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

// ------------------------------------------------------------------------------------------------
// What the backend holds (s3s-fs keeps `bucket/key` as a plain file and user metadata in a side file)
// ------------------------------------------------------------------------------------------------

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Every regular file under `root`, recursively.
pub fn all_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(t) if t.is_file() => out.push(p),
                _ => {}
            }
        }
    }
    out.sort();
    out
}

/// The files under `root` whose content contains `needle`.
pub fn files_containing(root: &Path, needle: &[u8]) -> Vec<PathBuf> {
    all_files(root)
        .into_iter()
        .filter(|p| std::fs::read(p).is_ok_and(|d| contains(&d, needle)))
        .collect()
}

/// The backend's metadata side file of `bucket/key` (s3s-fs's naming).
pub fn metadata_file(b: &Backend, bucket: &str, key: &str) -> PathBuf {
    use base64::Engine as _;
    let b64url = |d: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d);
    b.root.join(format!(
        ".bucket-{}.object-{}.metadata.json",
        b64url(bucket.as_bytes()),
        b64url(key.as_bytes())
    ))
}

/// A request to the gateway as [`CLIENT`] on a fresh connection, read whole.
pub async fn call_fresh(gw: &Gateway, method: Method, path: &str, body: &[u8], h: &[(&str, &str)]) -> Resp {
    send(
        &gw.client(),
        signed_with_headers(gw, CLIENT, method, path, Bytes::copy_from_slice(body), h),
    )
    .await
}

// ------------------------------------------------------------------------------------------------
// KMS implementations under test
// ------------------------------------------------------------------------------------------------

pub fn kms_context(pairs: &[(&str, &str)]) -> s3_sse_proxy::kms::EncryptionContext {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// The error of a result whose success type has no `Debug` (it holds a key).
pub fn kms_error<T>(r: Result<T, s3_sse_proxy::kms::KmsError>) -> s3_sse_proxy::kms::KmsError {
    match r {
        Ok(_) => panic!("expected a KMS error, got a success"),
        Err(e) => e,
    }
}
