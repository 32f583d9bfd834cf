//! The gateway's lifecycle (issue 22): on SIGTERM it leaves the load balancer at once (`/readyz` 503, while
//! `/livez` stays 200), refuses new connections, lets the uploads and downloads already under way finish, and
//! exits; a request that would outlast `[limits] drain_timeout_secs` is cut at that time, and what it was
//! uploading never appears. SIGHUP reloads the credentials and limits from the file, or refuses an invalid one;
//! `check-config` shows the file merged with the `S3_SSE_PROXY_*` variables.

mod common;

use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime};

use aws_sigv4::http_request::SignableBody;
use bytes::Bytes;
use common::*;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Full, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

type StreamedBody = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

const MIB: usize = 1024 * 1024;

/// A PUT of `total` bytes whose body the test feeds through the returned sender; the task ends with the
/// response (or the client's error).
fn streamed_put(
    gw: &Gateway,
    path: &str,
    total: usize,
) -> (
    tokio::sync::mpsc::Sender<Bytes>,
    tokio::task::JoinHandle<Result<LossyResp, String>>,
) {
    let client = https_client_with_body::<StreamedBody>(tls_config(&[gw.ca_file()], TlsVersions::Both));
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(1);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, std::io::Error>(Frame::data(b)), rx))
    });
    let mut head = Request::builder()
        .method(Method::PUT)
        .uri(gw.url(path))
        .header("content-length", total)
        .body(())
        .unwrap();
    sign_request(&mut head, CLIENT, SystemTime::now(), SignableBody::UnsignedPayload);
    let (parts, ()) = head.into_parts();
    let req = Request::from_parts(parts, StreamBody::new(stream).boxed());
    let pending = tokio::spawn(async move {
        match client.request(req).await {
            Ok(resp) => Ok(LossyResp::read(resp).await),
            Err(e) => Err(format!("{e:?}")),
        }
    });
    (tx, pending)
}

/// Status and text of `GET path` on the metrics listener.
async fn probe(gw: &Gateway, path: &str) -> (StatusCode, String) {
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let req = Request::get(format!("http://{}{path}", gw.metrics_addr))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let r = Resp::read(client.request(req).await.expect("metrics listener")).await;
    (r.status, r.text())
}

/// Wait until the gateway process has exited; its exit status and how long it took.
async fn exited(gw: &mut Gateway, within: Duration) -> (std::process::ExitStatus, Duration) {
    let start = Instant::now();
    loop {
        if let Some(status) = gw.proc.try_wait() {
            return (status, start.elapsed());
        }
        assert!(
            start.elapsed() < within,
            "the gateway did not exit within {within:?}:\n{}",
            gw.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_uploads_and_downloads_in_flight_and_refuses_new_connections() {
    let mut s = Stack::start();
    let c = s.gw.client();
    let bucket = unique_bucket("drain");
    create_bucket(&s.gw, &c, &bucket).await;
    let big = Bytes::from(pseudo_random(24 * MIB, 1));
    put_object(&s.gw, &c, &bucket, "big", big.clone()).await.assert_ok();
    assert_eq!(probe(&s.gw, "/readyz").await.0, StatusCode::OK);

    // A download under way: its head and first MiB read, the rest not yet.
    let req = signed(&s.gw, CLIENT, Method::GET, &format!("/{bucket}/big"), Bytes::new());
    let (parts, body) = req.into_parts();
    let resp = c
        .request(Request::from_parts(parts, Full::new(body)))
        .await
        .expect("GET big");
    assert_eq!(resp.status(), StatusCode::OK);
    let mut download = resp.into_body();
    let mut got = Vec::new();
    while got.len() < MIB {
        let frame = download.frame().await.expect("a frame").expect("no error");
        got.extend_from_slice(&frame.into_data().unwrap_or_default());
    }
    // An upload under way: a third of its body sent.
    let upload = Bytes::from(pseudo_random(12 * MIB, 2));
    let (tx, pending) = streamed_put(&s.gw, &format!("/{bucket}/uploaded"), upload.len());
    for piece in upload.slice(..4 * MIB).chunks(MIB) {
        tx.send(Bytes::copy_from_slice(piece))
            .await
            .expect("the gateway reads the body");
    }
    // The requests are under way at the gateway (past the TLS handshake) before the signal.
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.gw.metric_value("s3_sse_proxy_requests_in_flight").await < 2.0 {
        assert!(Instant::now() < deadline, "the requests never reached the gateway");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    s.gw.proc.signal("TERM");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, text) = probe(&s.gw, "/readyz").await;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert!(text.contains("shutting down"), "/readyz while draining: {text}");
            break;
        }
        assert!(Instant::now() < deadline, "/readyz still {status} after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(probe(&s.gw, "/livez").await.0, StatusCode::OK, "/livez while draining");
    assert!(
        TcpStream::connect(s.gw.addr).is_err(),
        "a new connection was accepted while draining"
    );

    // Both finish as if nothing had happened.
    for piece in upload.slice(4 * MIB..).chunks(MIB) {
        tx.send(Bytes::copy_from_slice(piece))
            .await
            .expect("the gateway still reads the body");
    }
    drop(tx);
    let put = pending.await.expect("task").expect("the upload's response");
    assert_eq!(
        put.status,
        StatusCode::OK,
        "upload in flight at SIGTERM: {:?}",
        put.body_error
    );
    while let Some(frame) = download.frame().await {
        got.extend_from_slice(&frame.expect("the download is not cut").into_data().unwrap_or_default());
    }
    assert!(
        got == big[..],
        "the download in flight got {} of {} bytes",
        got.len(),
        big.len()
    );

    let (status, _) = exited(&mut s.gw, Duration::from_secs(20)).await;
    assert!(status.success(), "exit status {status}:\n{}", s.gw.log());
    s.backend.assert_present(&bucket, "uploaded").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_drain_timeout_cuts_a_request_that_would_not_end_and_nothing_partial_is_stored() {
    let mut s = Stack::start_with("[limits]\ndrain_timeout_secs = 2\n");
    let c = s.gw.client();
    let bucket = unique_bucket("drain-cut");
    create_bucket(&s.gw, &c, &bucket).await;
    let upload = Bytes::from(pseudo_random(8 * MIB, 3));
    let (tx, pending) = streamed_put(&s.gw, &format!("/{bucket}/never"), upload.len());
    tx.send(upload.slice(..MIB)).await.expect("the gateway reads the body");
    // The requests are under way at the gateway (past the TLS handshake) before the signal.
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.gw.metric_value("s3_sse_proxy_requests_in_flight").await < 1.0 {
        assert!(Instant::now() < deadline, "the requests never reached the gateway");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    s.gw.proc.signal("TERM");
    let (status, took) = exited(&mut s.gw, Duration::from_secs(15)).await;
    assert!(status.success(), "exit status {status}:\n{}", s.gw.log());
    assert!(
        took >= Duration::from_millis(1500),
        "exited after {took:?}, before the 2 s drain timeout"
    );
    assert!(s.gw.log().contains("drain timeout"), "no drain-timeout line in the log");
    let put = pending.await.expect("task");
    assert!(
        put.as_ref().map_or(true, |r| r.status != StatusCode::OK),
        "the cut upload succeeded: {put:?}"
    );
    drop(tx);
    s.backend.assert_absent(&bucket, "never").await;
}

/// `check-config`: a valid file prints its effective settings with every secret redacted (exit 0); a file that
/// would not start the gateway (a missing endpoint, a malformed pinned policy, bad TOML) exits 1 saying why.
#[test]
fn check_config_validates_and_prints_the_settings_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let run = |text: &str| {
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap();
        let out = std::process::Command::new(BIN)
            .args(["check-config", "--config"])
            .arg(&path)
            .output()
            .expect("running check-config");
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        (out.status, text)
    };
    let good = r#"
[backend]
kind = "s3"
endpoint = "http://127.0.0.1:9"
access_key_id = "BACKENDKEY"
secret_access_key = "backend-secret-do-not-print"

[limits]
drain_timeout_secs = 7

[[credentials]]
access_key_id = "CLIENTKEY"
secret_access_key = "client-secret-do-not-print"
"#;
    let (status, text) = run(good);
    assert!(status.success(), "check-config of a valid file: {status}\n{text}");
    assert!(text.contains("configuration OK"), "{text}");
    assert!(text.contains("drain_timeout_secs: 7"), "the effective settings: {text}");
    assert!(text.contains("BACKENDKEY") && text.contains("CLIENTKEY"), "{text}");
    assert!(!text.contains("do-not-print"), "a secret printed:\n{text}");
    assert!(text.contains("<redacted>"), "{text}");

    for (bad, why) in [
        ("[backend]\nkind = \"s3\"\n", "backend.endpoint is required"),
        (
            "[backend]\nkind = \"s3\"\nendpoint = \"http://x\"\n[[policies]]\nbucket = \"b\"\npolicy = \"{\"\n",
            "polic",
        ),
        ("[backend\n", "TOML"),
    ] {
        let (status, text) = run(bad);
        assert_eq!(status.code(), Some(1), "check-config of {bad:?}: {text}");
        assert!(
            text.to_lowercase().contains(&why.to_lowercase()),
            "check-config of {bad:?} says: {text}"
        );
    }
}

/// `check-config` shows the file merged with the `S3_SSE_PROXY_*` variables: a variable overrides the file, another
/// completes it (a secret among them, redacted), the variables applied are named; a variable that does not fit
/// its setting's type exits 1 naming it, without its value.
#[test]
fn check_config_merges_the_environment_over_the_file_and_redacts_its_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(
        &path,
        "[backend]\nkind = \"s3\"\nendpoint = \"http://127.0.0.1:9\"\naccess_key_id = \"FILEKEY\"\n\
         [limits]\nmax_connections = 10\n",
    )
    .unwrap();
    let run = |env: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(BIN);
        cmd.args(["check-config", "--config"]).arg(&path);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("running check-config");
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        (out.status, text)
    };
    let (status, text) = run(&[
        ("S3_SSE_PROXY_LIMITS_MAX_CONNECTIONS", "77"),
        ("S3_SSE_PROXY_BACKEND_SECRET_ACCESS_KEY", "env-secret-do-not-print"),
        ("S3_SSE_PROXY_S3_ACCOUNT_ID", "000000000042"),
    ]);
    assert!(status.success(), "{text}");
    assert!(
        text.contains("max_connections: 77"),
        "the variable wins over the file: {text}"
    );
    assert!(
        text.contains("\"000000000042\""),
        "a digit string stays a string: {text}"
    );
    assert!(text.contains("FILEKEY"), "the file's other settings stay: {text}");
    assert!(!text.contains("do-not-print"), "a secret printed:\n{text}");
    assert!(
        text.contains("S3_SSE_PROXY_BACKEND_SECRET_ACCESS_KEY") && text.contains("S3_SSE_PROXY_LIMITS_MAX_CONNECTIONS"),
        "the variables applied are named: {text}"
    );

    let (status, text) = run(&[("S3_SSE_PROXY_LIMITS_MAX_CONNECTIONS", "lots-do-not-print")]);
    assert_eq!(status.code(), Some(1), "{text}");
    assert!(text.contains("S3_SSE_PROXY_LIMITS_MAX_CONNECTIONS"), "{text}");
    assert!(!text.contains("do-not-print"), "{text}");
}

/// Waits until the gateway's log has `n` lines containing `needle`.
async fn log_lines(gw: &Gateway, needle: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while gw.log().matches(needle).count() < n {
        assert!(Instant::now() < deadline, "no {needle:?} in the log:\n{}", gw.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// SIGHUP reads the config file again and swaps the credentials and limits in whole: the key the file no longer
/// names gets 403 InvalidAccessKeyId, the new key works, the new `max_object_bytes` applies. A file that does not
/// parse, or does not validate, is refused with one log line (without the file's text, which may hold a secret)
/// and the settings in force stay.
#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_credentials_and_limits_and_refuses_an_invalid_file() {
    const KEY_B: Creds = Creds {
        ak: "RELOADEDAKIDEXAMPLE1",
        sk: "reloadedSecretKey/Example+0123456789abcd",
    };
    let s = Stack::start();
    let gw = &s.gw;
    let c = gw.client();
    let bucket = unique_bucket("reload");
    create_bucket(gw, &c, &bucket).await;
    let list = |creds: Creds| send(&c, signed(gw, creds, Method::GET, &format!("/{bucket}"), Bytes::new()));
    let put = |creds: Creds, len: usize| {
        send(
            &c,
            signed(
                gw,
                creds,
                Method::PUT,
                &format!("/{bucket}/o{len}"),
                pseudo_random(len, 7),
            ),
        )
    };
    list(CLIENT).await.assert_ok();
    list(KEY_B).await.assert_error(403, "InvalidAccessKeyId");
    put(CLIENT, 4096).await.assert_ok();

    let original = std::fs::read_to_string(&gw.config_path).unwrap();
    let with_b =
        original.replace(CLIENT_AK, KEY_B.ak).replace(CLIENT_SK, KEY_B.sk) + "\n[limits]\nmax_object_bytes = 2048\n";
    std::fs::write(&gw.config_path, &with_b).unwrap();
    gw.proc.signal("HUP");
    log_lines(gw, "credentials, policies and limits reloaded", 1).await;
    list(CLIENT).await.assert_error(403, "InvalidAccessKeyId");
    list(KEY_B).await.assert_ok();
    put(KEY_B, 4096).await.assert_error(400, "EntityTooLarge");
    put(KEY_B, 1024).await.assert_ok();

    let refused = [
        // Bad TOML, on the line of a secret.
        original.replace(CLIENT_SK, "leaked-secret-do-not-log\n[oops"),
        // Good TOML, an invalid value.
        with_b.clone() + "idle_timeout_secs = 0\n",
    ];
    for (i, bad) in refused.iter().enumerate() {
        std::fs::write(&gw.config_path, bad).unwrap();
        gw.proc.signal("HUP");
        log_lines(gw, "config refused", i + 1).await;
        list(CLIENT).await.assert_error(403, "InvalidAccessKeyId");
        list(KEY_B).await.assert_ok();
        put(KEY_B, 4096).await.assert_error(400, "EntityTooLarge");
    }
    let log = gw.log();
    assert!(
        !log.contains("do-not-log"),
        "the refused file's text in the log:\n{log}"
    );
    assert_eq!(log.matches("config refused").count(), 2, "one line per refusal:\n{log}");
}
