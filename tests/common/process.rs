//! The processes under test: [`Proc`] (a child whose stdout is read line by line, killed on drop), the
//! `fs-backend` S3 server ([`Backend`]), the gateway ([`Gateway`], started from a generated or given config) and
//! the two together ([`Stack`]).

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use aws_sigv4::http_request::SignableBody;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::{
    BACKEND, BACKEND_AK, BACKEND_SK, CLIENT_AK, CLIENT_SK, Creds, HttpsClient, LIMITED_AK, LIMITED_BUCKET, LIMITED_SK,
    REGION, Resp, TlsVersions, https_client, sign_request, tls_config,
};

pub const BIN: &str = env!("CARGO_BIN_EXE_s3-sse-proxy");

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

/// A free TCP port on 127.0.0.1 (bind port 0, read the port, drop the listener).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

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
