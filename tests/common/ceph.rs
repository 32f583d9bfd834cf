//! A single-node Ceph cluster (radosgw 16 on a memstore OSD) shared by every test of one test binary: started
//! on first use by `tests/backends/ceph-rgw-up.sh` (~16 s), on free loopback ports, and stopped by that script's
//! reaper once the test binary has exited. Tests isolate themselves by bucket. Needs the Debian packages
//! `radosgw ceph-mon ceph-osd` (`.ci/run` installs them).

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use super::{S3Backend, free_port, run_with_timeout};

pub const CEPH_AK: &str = "CEPHAKIDEXAMPLE00001";
pub const CEPH_SK: &str = "cephSecretKey/Example+0123456789abcdefghij";

/// Generous: three daemons start on a machine that may be running many tests.
const CEPH_START_TIMEOUT: Duration = Duration::from_secs(300);

pub struct Ceph {
    pub endpoint: String,
}

impl Ceph {
    /// The cluster of this test binary, started on first call. A failed start is remembered: the other tests
    /// fail at once with its reason instead of each waiting for the timeout again.
    pub fn shared() -> &'static Ceph {
        static CEPH: OnceLock<Result<Ceph, String>> = OnceLock::new();
        // Two tries: a port picked free may be taken by another test before the daemon binds it.
        match CEPH.get_or_init(|| Self::start().or_else(|_| Self::start())) {
            Ok(ceph) => ceph,
            Err(why) => panic!("{why}"),
        }
    }

    fn start() -> Result<Ceph, String> {
        let dir = tempfile::Builder::new()
            .prefix("s3sp-ceph-")
            .tempdir()
            .expect("tempdir")
            .keep();
        let (mon_port, rgw_port) = (free_port(), free_port());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/backends/ceph-rgw-up.sh");
        let mut cmd = Command::new("bash");
        cmd.arg(script)
            .arg(&dir)
            .args([CEPH_AK, CEPH_SK, &mon_port.to_string(), &rgw_port.to_string()])
            .arg(std::process::id().to_string());
        let out = run_with_timeout(cmd, &dir.join("ceph-up.out"), CEPH_START_TIMEOUT);
        if !out.status.success() {
            return Err(format!(
                "Ceph did not start (are radosgw, ceph-mon and ceph-osd installed?):\n{}",
                out.output
            ));
        }
        Ok(Ceph {
            endpoint: format!("http://127.0.0.1:{rgw_port}"),
        })
    }

    /// The gateway's `[backend]` for this cluster, with more `[backend]` lines.
    pub fn backend(&self, backend_toml: &str) -> S3Backend {
        S3Backend {
            endpoint: self.endpoint.clone(),
            access_key_id: CEPH_AK.into(),
            secret_access_key: CEPH_SK.into(),
            backend_toml: backend_toml.into(),
        }
    }
}
