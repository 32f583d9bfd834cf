//! Several gateway instances in front of one backend: nothing authoritative lives in a gateway's memory, so
//! any instance serves any request of a multipart upload. And three instances behind HAProxy (deploy/haproxy.cfg)
//! under a retrying client's mixed load, one of them killed and restarted: nothing lost, no error seen.

mod common;

use bytes::Bytes;
use common::*;
use http::Method;
use sha2::{Digest as _, Sha256};

const MIB: usize = 1024 * 1024;

#[tokio::test(flavor = "multi_thread")]
async fn multipart_upload_spread_over_two_gateways() {
    let backend = Backend::start();
    // Instances in front of one backend share the SSE-S3 keyring (as a deployment shares its key file); the
    // first start generates it.
    let keys = tempfile::tempdir().expect("tempdir");
    let keyring = keys.path().join("keyring.toml");
    let sse = format!("[sse]\nkeyring = {:?}\n", keyring.display().to_string());
    let gw_a = Gateway::start(&backend, &sse);
    let gw_b = Gateway::start(&backend, &sse);
    assert_ne!(gw_a.addr, gw_b.addr);
    let client_a = gw_a.client();
    let client_b = gw_b.client();
    let gws = [(&gw_a, &client_a), (&gw_b, &client_b)];

    let bucket = unique_bucket("two-gateways");
    let key = "multi/part object.bin";
    let path = format!("/{bucket}/{}", enc(key).replace("%2F", "/"));
    create_bucket(&gw_a, &client_a, &bucket).await;

    // Create on A.
    let r = send(
        &client_a,
        signed(&gw_a, CLIENT, Method::POST, &format!("{path}?uploads"), ""),
    )
    .await;
    r.assert_ok();
    let upload_id = r
        .xml_tag("UploadId")
        .unwrap_or_else(|| panic!("no UploadId in {}", r.text()));
    assert!(!upload_id.is_empty());

    // Parts 1..4 of 5 MiB on A, B, A, B.
    let parts: Vec<Vec<u8>> = (1..=4).map(|n| pseudo_random(5 * MIB, 100 + n)).collect();
    let mut etags = Vec::new();
    for (i, data) in parts.iter().enumerate() {
        let n = i + 1;
        let (gw, client) = gws[i % 2];
        let q = format!("{path}?partNumber={n}&uploadId={}", enc(&upload_id));
        let r = send(client, signed(gw, CLIENT, Method::PUT, &q, data.clone())).await;
        r.assert_ok();
        let etag = r
            .header("etag")
            .unwrap_or_else(|| panic!("UploadPart {n} via {} returned no ETag", gw.endpoint()))
            .to_owned();
        etags.push(etag);
    }

    // Both instances see all four parts.
    for (gw, client) in gws {
        let q = format!("{path}?uploadId={}", enc(&upload_id));
        let r = send(client, signed(gw, CLIENT, Method::GET, &q, "")).await;
        r.assert_ok();
        let listed = r.text().matches("<Part>").count();
        assert_eq!(listed, 4, "ListParts via {}: {}", gw.endpoint(), r.text());
    }

    // Complete on B.
    let mut xml = String::from("<CompleteMultipartUpload>");
    for (i, etag) in etags.iter().enumerate() {
        xml.push_str(&format!(
            "<Part><PartNumber>{}</PartNumber><ETag>{etag}</ETag></Part>",
            i + 1
        ));
    }
    xml.push_str("</CompleteMultipartUpload>");
    let q = format!("{path}?uploadId={}", enc(&upload_id));
    let r = send(&client_b, signed(&gw_b, CLIENT, Method::POST, &q, xml)).await;
    r.assert_ok();
    assert!(
        r.text().contains("<ETag>") && !r.text().contains("<Error>"),
        "CompleteMultipartUpload: {}",
        r.text()
    );

    // GET from A returns the concatenation.
    let whole: Vec<u8> = parts.concat();
    let r = send(&client_a, signed(&gw_a, CLIENT, Method::GET, &path, "")).await;
    r.assert_ok();
    assert_eq!(r.body.len(), whole.len(), "object size");
    assert_eq!(
        hex::encode(Sha256::digest(&r.body)),
        hex::encode(Sha256::digest(&whole)),
        "GET via A returns the bytes uploaded through A and B"
    );
    let etag = r.header("etag").unwrap_or_default();
    assert!(etag.trim_matches('"').ends_with("-4"), "multipart ETag: {etag}");

    // And a ranged GET from B across the part 2/3 boundary.
    let start = 10 * MIB - 100;
    let end = 10 * MIB + 99;
    let range = format!("bytes={start}-{end}");
    let req = signed_with_headers(&gw_b, CLIENT, Method::GET, &path, Bytes::new(), &[("range", &range)]);
    let r = send(&client_b, req).await;
    assert_eq!(r.status.as_u16(), 206, "ranged GET: {}", r.text());
    assert!(r.body.as_ref() == &whole[start..=end], "ranged GET bytes");
}

/// One instance of the three behind the balancer, on fixed ports so that it can come back on them.
struct Instance {
    listen: u16,
    metrics: u16,
}

impl Instance {
    fn new() -> Self {
        Self {
            listen: free_port(),
            metrics: free_port(),
        }
    }
    fn start(&self, backend: &Backend, extra_toml: &str) -> Gateway {
        let listen = format!("127.0.0.1:{}", self.listen);
        let metrics = format!("127.0.0.1:{}", self.metrics);
        Gateway::start_with_env_args(
            backend,
            extra_toml,
            &[],
            &["--listen", &listen, "--metrics-listen", &metrics],
        )
    }
}

/// Waits until `proc`'s log (stderr) holds `needle` `n` times.
fn wait_in_log(proc: &Proc, needle: &str, n: usize, within: std::time::Duration) {
    let deadline = std::time::Instant::now() + within;
    while proc.log().matches(needle).count() < n {
        assert!(
            std::time::Instant::now() < deadline,
            "no {needle:?} (x{n}) within {within:?}:\n{}",
            proc.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Which instances served at least one UploadPart (from their `requests_total`).
async fn served_upload_parts(gws: &[&Gateway]) -> usize {
    let mut n = 0;
    for gw in gws {
        let text = gw.metrics_text().await;
        let parts: f64 = text
            .lines()
            .filter(|l| l.starts_with("s3_sse_proxy_requests_total{") && l.contains("operation=\"UploadPart\""))
            .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
            .sum();
        if parts > 0.0 {
            n += 1;
        }
    }
    n
}

/// deploy/haproxy.cfg in front of three instances sharing the keyring, the KMS keys and the certificate; a
/// retrying boto3 client (tests/clients/lb_load.py) runs SSE-S3, SSE-C and SSE-KMS PUTs and GETs, multipart
/// uploads whose parts go out on new connections, copies and listings. One instance is SIGKILLed mid-load:
/// HAProxy's `/readyz` check takes it out; it is restarted on its ports and taken back in. The client saw no
/// error, every object reads back byte-identical, and the parts were spread over the instances.
#[tokio::test(flavor = "multi_thread")]
async fn three_instances_behind_haproxy_survive_one_killed_mid_load() {
    use std::time::Duration;
    let backend = Backend::start();
    let shared = tempfile::Builder::new().prefix("s3sp-lb-").tempdir().unwrap();
    // The local KMS's key file, made once for the three (`kms list` creates it), as a deployment shares it.
    let out = std::process::Command::new(BIN)
        .arg("--data-dir")
        .arg(shared.path())
        .args(["kms", "list"])
        .output()
        .expect("s3-sse-proxy kms list");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let keys = format!(
        "[sse]\nkeyring = {:?}\n[kms]\nkey_file = {:?}\n",
        shared.path().join("keyring.toml").display().to_string(),
        shared.path().join("kms-keys.toml").display().to_string(),
    );
    let instances = [Instance::new(), Instance::new(), Instance::new()];
    let gw1 = instances[0].start(&backend, &keys);
    // One certificate for all (TLS ends at the instances): the first one's.
    let tls_dir = gw1.ca_file().parent().unwrap().to_owned();
    let with_cert = format!(
        "{keys}[tls]\ncert = {:?}\nkey = {:?}\n",
        tls_dir.join("cert.pem").display().to_string(),
        tls_dir.join("key.pem").display().to_string()
    );
    let mut gw2 = instances[1].start(&backend, &with_cert);
    let gw3 = instances[2].start(&backend, &with_cert);

    let lb_port = free_port();
    let cfg = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/haproxy.cfg");
    let mut cmd = std::process::Command::new("haproxy");
    cmd.args(["-db", "-f"])
        .arg(&cfg)
        .env("LB_BIND", format!("127.0.0.1:{lb_port}"));
    for (i, inst) in instances.iter().enumerate() {
        cmd.env(format!("GW{}_ADDR", i + 1), format!("127.0.0.1:{}", inst.listen))
            .env(format!("GW{}_CHECK_PORT", i + 1), inst.metrics.to_string());
    }
    let mut haproxy = Proc::spawn("haproxy", cmd, shared.path().join("haproxy.log"));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", lb_port)).is_err() {
        assert!(haproxy.try_wait().is_none(), "haproxy exited:\n{}", haproxy.log());
        assert!(
            std::time::Instant::now() < deadline,
            "haproxy does not listen:\n{}",
            haproxy.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let bucket = unique_bucket("behind-haproxy");
    create_bucket(&gw1, &gw1.client(), &bucket).await;
    let work = shared.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let (stop, ready, report) = (work.join("stop"), work.join("ready"), work.join("report.json"));
    let mut load = std::process::Command::new("python3");
    load.arg(client_script("lb_load.py"));
    for (k, v) in gw1.client_env(&bucket) {
        load.env(k, v);
    }
    load.env("S3_ENDPOINT", format!("https://127.0.0.1:{lb_port}"))
        .env("STOP_FILE", &stop)
        .env("READY_FILE", &ready)
        .env("REPORT", &report)
        .env("WORKERS", "6");
    let load = std::thread::spawn({
        let out = work.join("lb_load.out");
        move || run_with_timeout(load, &out, Duration::from_secs(240))
    });

    // Mid-load: every worker has done a round, and more is under way.
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while !ready.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the load never got going:\n{}",
            haproxy.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    gw2.proc.kill_now();
    wait_in_log(&haproxy, "gateways/gw2 is DOWN", 1, Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(3));
    let gw2_back = instances[1].start(&backend, &with_cert);
    drop(gw2);
    wait_in_log(&haproxy, "gateways/gw2 is UP", 1, Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(4));
    std::fs::write(&stop, "stop").unwrap();

    let out = load.join().expect("the load thread");
    let report_text = std::fs::read_to_string(&report).unwrap_or_default();
    assert!(
        out.status.success(),
        "lb_load.py: {}\n{}\n--- report:\n{report_text}\n--- haproxy:\n{}",
        out.status,
        out.output,
        haproxy.log()
    );
    println!("lb_load.py: {}\n--- haproxy:\n{}", out.output, haproxy.log());
    let report: serde_json::Value = serde_json::from_str(&report_text).expect("the JSON report");
    for op in [
        "put-sse-s3",
        "put-sse-c",
        "put-sse-kms",
        "get",
        "multipart",
        "copy",
        "list",
    ] {
        assert!(report["counts"][op].as_u64().unwrap_or(0) > 0, "no {op} ran: {report}");
    }
    assert_eq!(report["errors"], serde_json::json!([]), "{report}");
    assert_eq!(report["corrupt"], serde_json::json!([]), "{report}");
    assert!(
        served_upload_parts(&[&gw1, &gw2_back, &gw3]).await >= 2,
        "the multipart uploads' parts all went to one instance"
    );
}
