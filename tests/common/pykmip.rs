//! PyKMIP's server as a real KMIP server on loopback, with TLS 1.2 client-certificate authentication. Needs
//! `pip install pykmip` and `openssl` (`.ci/run` installs both).
//!
//! Certificates come from a throwaway openssl CA: ECDSA P-256, because PyKMIP's default TLS 1.2 cipher list
//! offers AES-GCM (the only TLS 1.2 ciphers rustls speaks) with ECDSA certificates only (its RSA suites are CBC).
//! The server certificate names IP 127.0.0.1; every certificate has EKU serverAuth and clientAuth (the server's
//! OpenSSL refuses a client certificate without clientAuth), except the `no_eku` one the tests use to check that.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use s3_sse_proxy::kms::kmip::{KmipKms, KmipSettings};
use s3_sse_proxy::kms::{Kms, KmsError};

use super::{Proc, START_TIMEOUT, free_port};

/// How long one KMIP call may take against PyKMIP (a Python server on a shared machine).
pub const PYKMIP_TIMEOUT: Duration = Duration::from_secs(10);

/// A running PyKMIP server and the certificates to talk to it. Killed on drop.
pub struct PyKmip {
    /// `127.0.0.1:port`.
    pub endpoint: String,
    pub dir: PathBuf,
    proc: Proc,
    _tmp: tempfile::TempDir,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running openssl (is it installed?)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An ECDSA P-256 key `name.key` and a certificate `name.pem` for `cn`, signed by `ca` (`ca.pem`/`ca.key`) with
/// the extensions of section `ext` of `ext.cnf`.
fn issue(dir: &Path, name: &str, cn: &str, ca: &str, ext: &str) {
    let (key, csr, pem) = (format!("{name}.key"), format!("{name}.csr"), format!("{name}.pem"));
    openssl(
        dir,
        &["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", &key],
    );
    openssl(
        dir,
        &["req", "-new", "-key", &key, "-subj", &format!("/CN={cn}"), "-out", &csr],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-extensions",
            ext,
            "-out",
            &pem,
        ],
    );
}

fn self_signed_ca(dir: &Path, name: &str) {
    let key = format!("{name}.key");
    openssl(
        dir,
        &["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", &key],
    );
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            &key,
            "-subj",
            &format!("/CN={name}"),
            "-days",
            "2",
            "-out",
            &format!("{name}.pem"),
        ],
    );
}

impl PyKmip {
    pub async fn start() -> PyKmip {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_owned();
        std::fs::write(
            dir.join("ext.cnf"),
            "[both]\nbasicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\n\
             extendedKeyUsage=serverAuth,clientAuth\n\
             [server_only]\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        self_signed_ca(&dir, "ca");
        issue(&dir, "server", "127.0.0.1", "ca", "both");
        issue(&dir, "client", "s3-sse-proxy", "ca", "both");
        issue(&dir, "other_client", "someone-else", "ca", "both");
        issue(&dir, "no_eku", "s3-sse-proxy", "ca", "server_only");
        self_signed_ca(&dir, "stranger_ca");
        issue(&dir, "stranger", "s3-sse-proxy", "stranger_ca", "both");

        let port = free_port();
        std::fs::create_dir(dir.join("policies")).unwrap();
        let d = dir.display();
        std::fs::write(
            dir.join("server.conf"),
            format!(
                "[server]\nhostname=127.0.0.1\nport={port}\ncertificate_path={d}/server.pem\n\
                 key_path={d}/server.key\nca_path={d}/ca.pem\nauth_suite=TLS1.2\npolicy_path={d}/policies\n\
                 enable_tls_client_auth=True\nlogging_level=DEBUG\ndatabase_path={d}/pykmip.db\n"
            ),
        )
        .unwrap();
        let mut cmd = Command::new("python3");
        // Its own process group: the server starts helper processes (a multiprocessing manager and a policy
        // monitor) that outlive a killed parent; dropping the server kills the group.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd.args(["-W", "ignore", "-m", "kmip.services.server.server", "-f"])
            .arg(dir.join("server.conf"))
            .arg("-l")
            .arg(dir.join("server.log"));
        let proc = Proc::spawn("pykmip", cmd, dir.join("pykmip.stderr"));
        let mut server = PyKmip {
            endpoint: format!("127.0.0.1:{port}"),
            dir,
            proc,
            _tmp: tmp,
        };
        server.wait_ready().await;
        server
    }

    /// Until a KMIP call gets an answer (any answer but "unavailable").
    async fn wait_ready(&mut self) {
        let kms = self.client();
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match kms.describe("kmip:0").await {
                Err(KmsError::Unavailable(e)) => {
                    if let Some(status) = self.proc.try_wait() {
                        panic!("pykmip exited ({status}) (is `pykmip` installed?):\n{}", self.log());
                    }
                    assert!(
                        Instant::now() < deadline,
                        "pykmip did not answer within {START_TIMEOUT:?} ({e}):\n{}",
                        self.log()
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                _ => return,
            }
        }
    }

    /// The server's stderr and log file.
    pub fn log(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        let tail: Vec<&str> = log
            .lines()
            .rev()
            .take(60)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("{}\n--- server.log (tail):\n{}", self.proc.log(), tail.join("\n"))
    }

    pub fn path(&self, file: &str) -> String {
        self.dir.join(file).display().to_string()
    }

    /// A client authenticating with `cert` (`cert.pem`, `cert.key` in the certificate directory).
    pub fn client_as(&self, cert: &str, timeout: Duration) -> KmipKms {
        KmipKms::new(KmipSettings {
            endpoint: self.endpoint.clone(),
            server_name: None,
            ca_file: Some(self.dir.join("ca.pem")),
            client_cert: self.dir.join(format!("{cert}.pem")),
            client_key: self.dir.join(format!("{cert}.key")),
            timeout,
        })
        .expect("KmipKms::new")
    }

    /// The gateway's client.
    pub fn client(&self) -> KmipKms {
        self.client_as("client", PYKMIP_TIMEOUT)
    }

    /// A gateway `[kms]` section that uses this server, with `default_key_id` and `extra` lines.
    pub fn gateway_toml(&self, default_key_id: &str, extra: &str) -> String {
        format!(
            "[kms]\nkind = \"kmip\"\nendpoint = \"{}\"\nca_file = \"{}\"\nclient_cert = \"{}\"\n\
             client_key = \"{}\"\ndefault_key_id = \"{default_key_id}\"\ntimeout_secs = {}\n{extra}\n",
            self.endpoint,
            self.path("ca.pem"),
            self.path("client.pem"),
            self.path("client.key"),
            PYKMIP_TIMEOUT.as_secs()
        )
    }

    /// Create and activate an AES-256 key named `name`: its uid.
    pub async fn create_key(&self, name: Option<&str>) -> String {
        self.client().create_key(name, true).await.expect("Create + Activate")
    }
}

impl Drop for PyKmip {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.proc.pid())])
            .status();
    }
}
