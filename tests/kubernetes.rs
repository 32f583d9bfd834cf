//! deploy/kubernetes/ agrees with the binary: tests/kubernetes.py parses the manifests and checks them against
//! each other, `--help` and `check-config`; here, the paths they probe and scrape answer 200 on a running
//! gateway's metrics listener, and their metrics port is the binary's default.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

#[tokio::test(flavor = "multi_thread")]
async fn the_kubernetes_manifests_agree_with_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(client_script("../kubernetes.py")).arg(BIN);
    let out = run_with_timeout(cmd, &dir.path().join("kubernetes.out"), Duration::from_secs(60));
    assert!(out.status.success(), "tests/kubernetes.py: {}", out.output);
    let summary: serde_json::Value = serde_json::from_str(out.output.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("tests/kubernetes.py's summary: {e}\n{}", out.output));

    let port = summary["metrics_port"].as_u64().expect("metrics_port");
    let help = std::process::Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains(&format!("[default: 127.0.0.1:{port}]")),
        "the manifests' metrics port {port} is not the binary's default:\n{help}"
    );

    let s = Stack::start();
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut paths: Vec<&str> = summary["probe_paths"]
        .as_array()
        .expect("probe_paths")
        .iter()
        .filter_map(|p| p.as_str())
        .collect();
    paths.push(summary["scrape_path"].as_str().expect("scrape_path"));
    assert_eq!(paths.len(), 3, "{summary}");
    for path in paths {
        let req = http::Request::get(format!("http://{}{path}", s.gw.metrics_addr))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let r = Resp::read(client.request(req).await.expect("metrics listener")).await;
        assert_eq!(
            r.status.as_u16(),
            200,
            "GET {path} on the metrics listener: {}",
            r.text()
        );
    }
}
