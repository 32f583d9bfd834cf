//! An unreachable or silent backend is a prompt 503 ServiceUnavailable, never a hang; the gateway keeps serving.

mod common;

use std::time::{Duration, Instant};

use common::*;
use http::Method;

fn config(endpoint: &str, data_dir: &std::path::Path) -> String {
    format!(
        r#"listen = "127.0.0.1:0"
metrics_listen = "127.0.0.1:0"
data_dir = {data_dir:?}

[backend]
kind = "s3"
endpoint = "{endpoint}"
access_key_id = "{BACKEND_AK}"
secret_access_key = "{BACKEND_SK}"
connect_timeout_secs = 2
response_timeout_secs = 2

[[credentials]]
access_key_id = "{CLIENT_AK}"
secret_access_key = "{CLIENT_SK}"
"#
    )
}

fn gateway_in_front_of(endpoint: &str) -> Gateway {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = config(endpoint, &dir.path().join("gw"));
    Gateway::start_with_config_text(dir, &text)
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_connection_is_service_unavailable() {
    let port = free_port(); // nothing listens there
    let gw = gateway_in_front_of(&format!("http://127.0.0.1:{port}"));
    let started = Instant::now();
    let resp = send(&gw.client(), signed(&gw, CLIENT, Method::GET, "/some-bucket/key", "")).await;
    resp.assert_error(503, "ServiceUnavailable");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    // A PUT is refused the same way, and the gateway is still up for the next request.
    let resp = send(
        &gw.client(),
        signed(&gw, CLIENT, Method::PUT, "/some-bucket/key", "data"),
    )
    .await;
    resp.assert_error(503, "ServiceUnavailable");
}

#[tokio::test(flavor = "multi_thread")]
async fn silent_backend_times_out_as_service_unavailable() {
    // Accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let held = std::thread::spawn(move || {
        let mut conns = Vec::new();
        for c in listener.incoming().take(4) {
            conns.push(c);
        }
        std::thread::sleep(Duration::from_secs(30));
    });
    let gw = gateway_in_front_of(&format!("http://{addr}"));
    let started = Instant::now();
    let resp = send(&gw.client(), signed(&gw, CLIENT, Method::GET, "/some-bucket/key", "")).await;
    resp.assert_error(503, "ServiceUnavailable");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(10),
        "took {took:?}"
    );
    drop(held);
}
