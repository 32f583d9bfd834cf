//! Fault injection against real processes on loopback: a backend killed mid-PUT and mid-GET, backend errors, a
//! backend that stops reading or answering (a TCP proxy in front of the real backend), a client that disconnects
//! or stalls, truncated TLS, slowloris headers, oversized headers and bodies, and
//! thousands of idle connections. Each test asserts what the client sees, that no partial, corrupt or unencrypted
//! object is visible at the backend afterwards, and that the gateway keeps serving others.
//!
//! Covered elsewhere, not repeated here: a refused backend, and one that accepts and never answers, in
//! tests/backend_down.rs; an unreachable or silent KMS in tests/kms_aws.rs and tests/kms_kmip.rs.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Limits short enough for a test to watch them fire.
const SHORT_LIMITS: &str =
    "[limits]\nheader_read_timeout_secs = 2\nidle_timeout_secs = 2\ntls_handshake_timeout_secs = 2\n";

type Tls = tokio_rustls::client::TlsStream<TcpStream>;

/// A TLS connection to the gateway speaking HTTP/1.1, for requests written by hand.
async fn tls_connect(gw: &Gateway) -> Tls {
    let mut cfg = tls_config(&[gw.ca_file()], TlsVersions::Both);
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = TcpStream::connect(gw.addr).await.expect("connect");
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").expect("name");
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await
        .expect("TLS handshake")
}

/// The head of a request signed as [`CLIENT`] with UNSIGNED-PAYLOAD (so its body can be sent, or not, later).
fn signed_head(
    gw: &Gateway,
    method: Method,
    path: &str,
    content_length: Option<u64>,
    extra: &[(&str, &str)],
) -> String {
    let mut b = http::Request::builder()
        .method(method.clone())
        .uri(gw.url(path))
        .header("host", gw.addr.to_string());
    if let Some(n) = content_length {
        b = b.header("content-length", n);
    }
    for (n, v) in extra {
        b = b.header(*n, *v);
    }
    let mut req = b.body(()).expect("request");
    sign_request(
        &mut req,
        CLIENT,
        std::time::SystemTime::now(),
        aws_sigv4::http_request::SignableBody::UnsignedPayload,
    );
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    for (n, v) in req.headers() {
        head.push_str(&format!("{n}: {}\r\n", v.to_str().expect("ascii header")));
    }
    head.push_str("\r\n");
    head
}

/// Everything the server sends until it closes (or `limit` passes: then the test fails).
async fn read_to_close(s: &mut Tls, limit: Duration) -> Vec<u8> {
    let mut out = Vec::new();
    let r = tokio::time::timeout(limit, async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(r.is_ok(), "the gateway did not close the connection within {limit:?}");
    out
}

/// The status line's code and the XML `<Code>` of a raw HTTP response.
fn status_and_code(raw: &[u8]) -> (u16, Option<String>) {
    let text = String::from_utf8_lossy(raw);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    (status, xml_tag(&text, "Code"))
}

/// The gateway still answers a normal PUT and GET.
async fn still_serving(gw: &Gateway, bucket: &str) {
    let c = gw.client();
    let body = pseudo_random(100_000, 99);
    put_object(gw, &c, bucket, "after-the-fault", body.clone())
        .await
        .assert_ok();
    let r = get_object(gw, &c, bucket, "after-the-fault").await;
    r.assert_ok();
    assert!(r.body == body, "GET after the fault returned other bytes");
}

/// Nothing under the backend's root holds `plaintext` (a 4 KiB sample of it), and `bucket/key` is not there.
async fn nothing_left(backend: &Backend, bucket: &str, key: &str, plaintext: &[u8]) {
    backend.assert_absent(bucket, key).await;
    let sample = &plaintext[plaintext.len() / 2..plaintext.len() / 2 + 4096];
    assert_eq!(
        files_containing(&backend.root, sample),
        Vec::<std::path::PathBuf>::new()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_header_sections_are_refused_as_aws_does() {
    let s = Stack::start_with("[limits]\nmax_header_bytes = 4096\n");
    let bucket = unique_bucket("hdr");
    create_bucket(&s.gw, &s.gw.client(), &bucket).await;
    let meta = "m".repeat(5000);
    let r = call(
        &s.gw,
        &s.gw.client(),
        Method::PUT,
        &format!("/{bucket}/k"),
        "data",
        &[("x-amz-meta-big", &meta)],
    )
    .await;
    r.assert_error(400, "RequestHeaderSectionTooLarge");
    s.backend.assert_absent(&bucket, "k").await;
    // Beyond the HTTP parser's own buffer (4 x the limit, at least 128 KiB) there is no S3 answer: hyper's 431.
    let mut tls = tls_connect(&s.gw).await;
    let head = signed_head(
        &s.gw,
        Method::GET,
        &format!("/{bucket}/k"),
        None,
        &[("x-amz-meta-huge", &"h".repeat(140_000))],
    );
    tls.write_all(head.as_bytes()).await.expect("write");
    let raw = read_to_close(&mut tls, Duration::from_secs(30)).await;
    assert_eq!(status_and_code(&raw).0, 431);
    still_serving(&s.gw, &bucket).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_bodies_are_refused_before_a_byte_reaches_the_backend() {
    let s = Stack::start_with("[limits]\nmax_object_bytes = 1048576\nmax_xml_body_bytes = 2048\n");
    let c = s.gw.client();
    let bucket = unique_bucket("body");
    create_bucket(&s.gw, &c, &bucket).await;
    let big = pseudo_random(1024 * 1024 + 1, 1);
    put_object(&s.gw, &c, &bucket, "big", big.clone())
        .await
        .assert_error(400, "EntityTooLarge");
    nothing_left(&s.backend, &bucket, "big", &big).await;
    // UploadPart is held to the same limit.
    let r = call(&s.gw, &c, Method::POST, &format!("/{bucket}/mp?uploads"), "", &[]).await;
    r.assert_ok();
    let upload = r.xml_tag("UploadId").expect("UploadId");
    let r = call(
        &s.gw,
        &c,
        Method::PUT,
        &format!("/{bucket}/mp?partNumber=1&uploadId={upload}"),
        big.clone(),
        &[],
    )
    .await;
    r.assert_error(400, "EntityTooLarge");
    // An XML body over its limit: DeleteObjects with too many keys.
    let keys: String = (0..100)
        .map(|i| format!("<Object><Key>key-{i}</Key></Object>"))
        .collect();
    let xml = format!("<Delete>{keys}</Delete>");
    let r = delete_objects(&s.gw, &c, &bucket, xml).await;
    r.assert_error(400, "MaxMessageLengthExceeded");
    // The limit is on what is declared, so a body just under it is fine.
    put_object(&s.gw, &c, &bucket, "fits", pseudo_random(1024 * 1024, 2))
        .await
        .assert_ok();
    still_serving(&s.gw, &bucket).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn slowloris_headers_are_cut_off_while_others_are_served() {
    let s = Stack::start_with(SHORT_LIMITS);
    let bucket = unique_bucket("loris");
    create_bucket(&s.gw, &s.gw.client(), &bucket).await;
    let mut tls = tls_connect(&s.gw).await;
    let head = signed_head(&s.gw, Method::GET, &format!("/{bucket}/k"), None, &[]);
    // One byte every 300 ms: the header section never completes within header_read_timeout_secs.
    let mut closed = false;
    for b in head.as_bytes().iter().take(200) {
        if tls.write_all(&[*b]).await.is_err() || tls.flush().await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    if !closed {
        let raw = read_to_close(&mut tls, Duration::from_secs(30)).await;
        // hyper answers 408 or just closes; either way no request was made.
        assert!(
            raw.is_empty() || status_and_code(&raw).0 == 408,
            "{}",
            String::from_utf8_lossy(&raw)
        );
    }
    still_serving(&s.gw, &bucket).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_upload_times_out_and_leaves_nothing() {
    let s = Stack::start_with(SHORT_LIMITS);
    let bucket = unique_bucket("stall");
    create_bucket(&s.gw, &s.gw.client(), &bucket).await;
    let data = pseudo_random(1024 * 1024, 3);
    let mut tls = tls_connect(&s.gw).await;
    let head = signed_head(
        &s.gw,
        Method::PUT,
        &format!("/{bucket}/stalled"),
        Some(data.len() as u64),
        &[],
    );
    tls.write_all(head.as_bytes()).await.expect("write head");
    tls.write_all(&data[..300_000]).await.expect("write part of the body");
    tls.flush().await.expect("flush");
    // ...and nothing more: the gateway ends the request, as AWS does, with RequestTimeout.
    let raw = read_to_close(&mut tls, Duration::from_secs(60)).await;
    assert_eq!(
        status_and_code(&raw),
        (400, Some("RequestTimeout".to_owned())),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    nothing_left(&s.backend, &bucket, "stalled", &data).await;
    still_serving(&s.gw, &bucket).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn client_disconnects_mid_upload_and_mid_download() {
    let s = Stack::start();
    let bucket = unique_bucket("disc");
    create_bucket(&s.gw, &s.gw.client(), &bucket).await;
    let data = pseudo_random(4 * 1024 * 1024, 4);
    // Mid-upload: half the body, then the connection is gone.
    {
        let mut tls = tls_connect(&s.gw).await;
        let head = signed_head(
            &s.gw,
            Method::PUT,
            &format!("/{bucket}/half"),
            Some(data.len() as u64),
            &[],
        );
        tls.write_all(head.as_bytes()).await.expect("write head");
        tls.write_all(&data[..data.len() / 2]).await.expect("write half");
        tls.flush().await.expect("flush");
    }
    // The gateway notices at once or at the latest when the backend request fails; poll for what the backend holds.
    tokio::time::sleep(Duration::from_secs(1)).await;
    nothing_left(&s.backend, &bucket, "half", &data).await;
    // Mid-download: a complete object, read 100 KiB of, then dropped.
    put_object(&s.gw, &s.gw.client(), &bucket, "whole", data.clone())
        .await
        .assert_ok();
    {
        let mut tls = tls_connect(&s.gw).await;
        let head = signed_head(&s.gw, Method::GET, &format!("/{bucket}/whole"), None, &[]);
        tls.write_all(head.as_bytes()).await.expect("write head");
        let mut buf = vec![0u8; 100 * 1024];
        tls.read_exact(&mut buf).await.expect("read some");
    }
    let r = get_object(&s.gw, &s.gw.client(), &bucket, "whole").await;
    r.assert_ok();
    assert!(r.body == data, "the object changed after an aborted download");
    still_serving(&s.gw, &bucket).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn backend_killed_mid_put_leaves_nothing_and_the_gateway_recovers() {
    let mut s = Stack::start();
    let bucket = unique_bucket("killput");
    create_bucket(&s.gw, &s.gw.client(), &bucket).await;
    let data = pseudo_random(8 * 1024 * 1024, 5);
    let mut tls = tls_connect(&s.gw).await;
    let head = signed_head(
        &s.gw,
        Method::PUT,
        &format!("/{bucket}/cut"),
        Some(data.len() as u64),
        &[],
    );
    tls.write_all(head.as_bytes()).await.expect("write head");
    tls.write_all(&data[..2 * 1024 * 1024])
        .await
        .expect("write the first part");
    tls.flush().await.expect("flush");
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.backend.kill();
    // The rest may or may not be taken: the gateway may answer and close first.
    let _ = tls.write_all(&data[2 * 1024 * 1024..]).await;
    let raw = read_to_close(&mut tls, Duration::from_secs(90)).await;
    if !raw.is_empty() {
        let (status, code) = status_and_code(&raw);
        assert_eq!(
            (status, code.as_deref()),
            (503, Some("ServiceUnavailable")),
            "{}",
            String::from_utf8_lossy(&raw)
        );
    }
    s.backend.restart();
    nothing_left(&s.backend, &bucket, "cut", &data).await;
    still_serving(&s.gw, &bucket).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn backend_killed_mid_get_truncates_the_download_never_corrupts_it() {
    let mut s = Stack::start();
    let bucket = unique_bucket("killget");
    create_bucket(&s.gw, &s.gw.client(), &bucket).await;
    let data = pseudo_random(32 * 1024 * 1024, 6);
    put_object(&s.gw, &s.gw.client(), &bucket, "big", data.clone())
        .await
        .assert_ok();
    let mut tls = tls_connect(&s.gw).await;
    let head = signed_head(&s.gw, Method::GET, &format!("/{bucket}/big"), None, &[]);
    tls.write_all(head.as_bytes()).await.expect("write head");
    let mut first = vec![0u8; 64 * 1024];
    tls.read_exact(&mut first).await.expect("the download starts");
    s.backend.kill();
    first.extend(read_to_close(&mut tls, Duration::from_secs(90)).await);
    // The head said 200 and the full length; the body stops short, and what arrived is the object's prefix.
    let text = String::from_utf8_lossy(&first);
    let split = text.find("\r\n\r\n").expect("a response head") + 4;
    assert_eq!(status_and_code(&first).0, 200);
    let head = text[..split].to_ascii_lowercase();
    assert!(head.contains(&format!("content-length: {}", data.len())), "{head}");
    let body = &first[split..];
    assert!(
        body.len() < data.len(),
        "the whole object arrived although the backend was killed"
    );
    assert!(
        data.starts_with(body),
        "the truncated download holds bytes that are not the object's"
    );
    s.backend.restart();
    let r = get_object(&s.gw, &s.gw.client(), &bucket, "big").await;
    r.assert_ok();
    assert!(r.body == data, "the object differs after the backend came back");
    still_serving(&s.gw, &bucket).await;
}

/// A programmable HTTP server that answers every request with one S3 error. Used because the real backend
/// (s3s-fs) cannot be made to answer 500, 503 or SlowDown on demand; it stands only for those statuses.
async fn failing_backend(status: u16, code: &'static str) -> std::net::SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut seen = Vec::new();
                while !contains(&seen, b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let body = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>injected</Message></Error>"
                );
                let resp = format!(
                    "HTTP/1.1 {status} Injected\r\ncontent-type: application/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    addr
}

/// A gateway whose backend is the one at `addr` (a failing test backend), with the client credentials.
fn gateway_in_front_of(addr: std::net::SocketAddr) -> Gateway {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        "listen = \"127.0.0.1:0\"\nmetrics_listen = \"127.0.0.1:0\"\ndata_dir = {:?}\n\n[backend]\nkind = \"s3\"\nendpoint = \"http://{addr}\"\naccess_key_id = \"{BACKEND_AK}\"\nsecret_access_key = \"{BACKEND_SK}\"\n\n[[credentials]]\naccess_key_id = \"{CLIENT_AK}\"\nsecret_access_key = \"{CLIENT_SK}\"\n",
        dir.path().join("gw")
    );
    Gateway::start_with_config_text(dir, &config)
}

#[tokio::test(flavor = "multi_thread")]
async fn backend_errors_reach_the_client_as_s3_errors() {
    for (status, code) in [(500, "InternalError"), (503, "ServiceUnavailable"), (503, "SlowDown")] {
        let addr = failing_backend(status, code).await;
        let gw = gateway_in_front_of(addr);
        let c = gw.client();
        for (method, body) in [
            (Method::PUT, Bytes::from(pseudo_random(200_000, 7))),
            (Method::GET, Bytes::new()),
        ] {
            let r = send(&c, signed(&gw, CLIENT, method.clone(), "/b/k", body)).await;
            assert_eq!(
                r.status.as_u16(),
                status,
                "{method} with a backend answering {status} {code}: {}",
                r.text()
            );
            assert_eq!(r.error_code().as_deref(), Some(code), "{method}: {}", r.text());
        }
    }
}

/// S3 answers 409 ConditionalRequestConflict when another write or delete of the key won while a conditional write
/// was in progress (the embedded backend serialises each key's writers, so it never does): the client gets that
/// answer, never a 500, whether it comes to the write itself or to the gateway's HEAD before an `If-Match`.
#[tokio::test(flavor = "multi_thread")]
async fn a_backends_409_on_a_conditional_write_reaches_the_client_as_conditional_request_conflict() {
    let addr = failing_backend(409, "ConditionalRequestConflict").await;
    let gw = gateway_in_front_of(addr);
    let c = gw.client();
    for (method, condition) in [
        (Method::PUT, ("if-none-match", "*")),
        (Method::PUT, ("if-match", "\"0123456789abcdef0123456789abcdef-1\"")),
        (Method::DELETE, ("if-match", "\"0123456789abcdef0123456789abcdef-1\"")),
    ] {
        let body = if method == Method::PUT {
            Bytes::from(pseudo_random(100_000, 9))
        } else {
            Bytes::new()
        };
        let r = send(
            &c,
            signed_with_headers(&gw, CLIENT, method.clone(), "/b/k", body, &[condition]),
        )
        .await;
        assert_eq!(r.status.as_u16(), 409, "{method} {condition:?}: {}", r.text());
        assert_eq!(
            r.error_code().as_deref(),
            Some("ConditionalRequestConflict"),
            "{method} {condition:?}: {}",
            r.text()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn truncated_tls_is_dropped_and_counted() {
    let s = Stack::start_with(SHORT_LIMITS);
    let bucket = unique_bucket("tls");
    create_bucket(&s.gw, &s.gw.client(), &bucket).await;
    let before = s.gw.metric_value("s3_sse_proxy_tls_handshake_failures_total").await;
    // Half a ClientHello, then silence: the handshake timeout closes it.
    let mut tcp = TcpStream::connect(s.gw.addr).await.expect("connect");
    tcp.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03])
        .await
        .expect("write");
    let mut buf = [0u8; 64];
    let r = tokio::time::timeout(Duration::from_secs(30), tcp.read(&mut buf)).await;
    assert!(
        matches!(r, Ok(Ok(0) | Err(_))),
        "the gateway did not close a half handshake: {r:?}"
    );
    // Half a ClientHello, then the client goes away.
    let mut tcp = TcpStream::connect(s.gw.addr).await.expect("connect");
    tcp.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .await
        .expect("write");
    drop(tcp);
    // A completed handshake, then half a record of a request.
    let tls = tls_connect(&s.gw).await;
    let (tcp, _) = tls.into_inner();
    let mut tcp = tcp;
    tcp.write_all(&[0x17, 0x03, 0x03, 0x40, 0x00, 0xde, 0xad])
        .await
        .expect("write");
    drop(tcp);
    still_serving(&s.gw, &bucket).await;
    let mut after = before;
    for _ in 0..100 {
        after = s.gw.metric_value("s3_sse_proxy_tls_handshake_failures_total").await;
        if after >= before + 2.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(after >= before + 2.0, "handshake failures counted: {before} -> {after}");
}

/// Raise this process's open-file limit (the gateway it starts inherits it), as an operator would.
fn raise_fd_limit(n: u64) {
    let _ = std::process::Command::new("prlimit")
        .args(["--pid", &std::process::id().to_string(), &format!("--nofile={n}:{n}")])
        .status();
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_idle_connections_are_closed_while_a_real_client_is_served() {
    const IDLE: usize = 10_000;
    raise_fd_limit(30_000);
    let s = Stack::start_with(&format!("{SHORT_LIMITS}max_connections = {}\n", IDLE + 100));
    let bucket = unique_bucket("idle");
    create_bucket(&s.gw, &s.gw.client(), &bucket).await;
    // 10,000 connections that never start a handshake, and 100 that finish one and then say nothing.
    let mut idle = Vec::with_capacity(IDLE);
    for _ in 0..IDLE - 100 {
        idle.push(
            TcpStream::connect(s.gw.addr)
                .await
                .expect("connect (is the fd limit high enough?)"),
        );
    }
    let mut idle_tls = Vec::new();
    for _ in 0..100 {
        idle_tls.push(tls_connect(&s.gw).await);
    }
    // Meanwhile a real client is served.
    still_serving(&s.gw, &bucket).await;
    // And every idle one is closed by the gateway (handshake or idle timeout).
    for mut c in idle {
        let mut b = [0u8; 1];
        let r = tokio::time::timeout(Duration::from_secs(60), c.read(&mut b)).await;
        assert!(matches!(r, Ok(Ok(0) | Err(_))), "an idle connection stayed open: {r:?}");
    }
    for mut c in idle_tls {
        let r = read_to_close(&mut c, Duration::from_secs(60)).await;
        assert!(
            r.is_empty(),
            "an idle TLS connection got bytes: {}",
            String::from_utf8_lossy(&r)
        );
    }
    let mut open = f64::MAX;
    for _ in 0..100 {
        open = s.gw.metric_value("s3_sse_proxy_open_connections").await;
        if open == 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(open, 0.0, "connections still open after the idle timeout");
    still_serving(&s.gw, &bucket).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_over_the_limit_are_closed_at_once() {
    let s = Stack::start_with(&format!("{SHORT_LIMITS}max_connections = 20\n"));
    let bucket = unique_bucket("maxconn");
    create_bucket(&s.gw, &s.gw.client(), &bucket).await;
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(tls_connect(&s.gw).await);
    }
    let mut extra = TcpStream::connect(s.gw.addr).await.expect("connect");
    let mut b = [0u8; 1];
    let r = tokio::time::timeout(Duration::from_secs(30), extra.read(&mut b)).await;
    assert!(
        matches!(r, Ok(Ok(0) | Err(_))),
        "the 21st connection was not closed: {r:?}"
    );
    assert!(s.gw.metric_value("s3_sse_proxy_connections_rejected_total").await >= 1.0);
    // Once the idle ones are gone (idle timeout), clients get in again.
    for mut c in held {
        read_to_close(&mut c, Duration::from_secs(60)).await;
    }
    still_serving(&s.gw, &bucket).await;
}

/// Write `text` as the gateway's config file, SIGHUP it, and wait for its `n`th reload.
async fn reload(gw: &Gateway, text: String, n: usize) {
    std::fs::write(&gw.config_path, text).expect("write config");
    gw.proc.signal("HUP");
    for _ in 0..100 {
        if gw.log().matches("credentials, policies and limits reloaded").count() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no reload in the log:\n{}", gw.log());
}

/// `max_connections` reloads with SIGHUP: lowered below the connections already open, it closes the next one at
/// once and leaves the open ones be; raised again, new connections get in.
#[tokio::test(flavor = "multi_thread")]
async fn sighup_changes_the_connection_limit_for_the_next_connection() {
    // Held connections must outlive the reloads (a long idle timeout), and a connection over the limit must be
    // told apart from one that times out its handshake (a long handshake timeout).
    let s = Stack::start_with(
        "[limits]\nmax_connections = 20\nidle_timeout_secs = 120\ntls_handshake_timeout_secs = 120\n",
    );
    let bucket = unique_bucket("maxconn-reload");
    create_bucket(&s.gw, &s.gw.client(), &bucket).await;
    let original = std::fs::read_to_string(&s.gw.config_path).expect("config");
    let mut held = vec![tls_connect(&s.gw).await, tls_connect(&s.gw).await];
    reload(
        &s.gw,
        original.replace("max_connections = 20", "max_connections = 2"),
        1,
    )
    .await;
    let mut extra = TcpStream::connect(s.gw.addr).await.expect("connect");
    let mut b = [0u8; 1];
    let r = tokio::time::timeout(Duration::from_secs(10), extra.read(&mut b)).await;
    assert!(
        matches!(r, Ok(Ok(0) | Err(_))),
        "a third connection over the reloaded limit of 2: {r:?}"
    );
    assert!(s.gw.metric_value("s3_sse_proxy_connections_rejected_total").await >= 1.0);
    reload(&s.gw, original, 2).await;
    held.push(tls_connect(&s.gw).await);
    still_serving(&s.gw, &bucket).await;
    drop(held);
}

/// A TCP proxy between the gateway and the real backend that can be told to stop forwarding (a backend that
/// has gone slow without closing anything). Bytes read while stalled are held, not dropped.
struct StallProxy {
    addr: std::net::SocketAddr,
    stalled: Arc<std::sync::atomic::AtomicBool>,
}

impl StallProxy {
    async fn start(upstream: std::net::SocketAddr) -> StallProxy {
        use std::sync::atomic::{AtomicBool, Ordering};
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = l.local_addr().expect("addr");
        let stalled = Arc::new(AtomicBool::new(false));
        let flag = stalled.clone();
        tokio::spawn(async move {
            while let Ok((down, _)) = l.accept().await {
                let Ok(up) = TcpStream::connect(upstream).await else {
                    continue;
                };
                let (dr, dw) = down.into_split();
                let (ur, uw) = up.into_split();
                for (mut r, mut w) in [
                    (
                        Box::new(dr) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
                        Box::new(uw) as Box<dyn tokio::io::AsyncWrite + Unpin + Send>,
                    ),
                    (Box::new(ur), Box::new(dw)),
                ] {
                    let flag = flag.clone();
                    tokio::spawn(async move {
                        let mut buf = vec![0u8; 16 * 1024];
                        loop {
                            while flag.load(Ordering::Relaxed) {
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            }
                            let n = match r.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            while flag.load(Ordering::Relaxed) {
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            }
                            if w.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = w.shutdown().await;
                    });
                }
            }
        });
        StallProxy { addr, stalled }
    }

    fn stall(&self, on: bool) {
        self.stalled.store(on, std::sync::atomic::Ordering::Relaxed);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_backend_times_out_as_503_and_a_stalled_download_is_cut() {
    let backend = Backend::start();
    let proxy = StallProxy::start(backend.addr).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        "listen = \"127.0.0.1:0\"\nmetrics_listen = \"127.0.0.1:0\"\ndata_dir = {:?}\n\n[backend]\nkind = \"s3\"\nendpoint = \"http://{}\"\naccess_key_id = \"{BACKEND_AK}\"\nsecret_access_key = \"{BACKEND_SK}\"\nresponse_timeout_secs = 2\n\n[[credentials]]\naccess_key_id = \"{CLIENT_AK}\"\nsecret_access_key = \"{CLIENT_SK}\"\n\n{SHORT_LIMITS}",
        dir.path().join("gw"),
        proxy.addr
    );
    let gw = Gateway::start_with_config_text(dir, &config);
    let bucket = unique_bucket("slow");
    create_bucket(&gw, &gw.client(), &bucket).await;
    let data = pseudo_random(16 * 1024 * 1024, 8);
    put_object(&gw, &gw.client(), &bucket, "big", data.clone())
        .await
        .assert_ok();

    // A backend that stops answering: uploads small and large end in 503 once the backend timeout fires.
    proxy.stall(true);
    for (key, len) in [("small", 100_000), ("large", 8 * 1024 * 1024)] {
        let body = pseudo_random(len, 9);
        let r = tokio::time::timeout(
            Duration::from_secs(60),
            put_object(&gw, &gw.client(), &bucket, key, body),
        )
        .await;
        let r = r.unwrap_or_else(|_| panic!("PUT {key} ({len} bytes) to a stalled backend never ended"));
        r.assert_error(503, "ServiceUnavailable");
    }
    proxy.stall(false);

    // A download whose backend stalls mid-body: the client gets a prefix, then the connection is closed.
    let mut tls = tls_connect(&gw).await;
    let head = signed_head(&gw, Method::GET, &format!("/{bucket}/big"), None, &[]);
    tls.write_all(head.as_bytes()).await.expect("write head");
    let mut got = vec![0u8; 64 * 1024];
    tls.read_exact(&mut got).await.expect("the download starts");
    proxy.stall(true);
    got.extend(read_to_close(&mut tls, Duration::from_secs(60)).await);
    let split = String::from_utf8_lossy(&got).find("\r\n\r\n").expect("head") + 4;
    assert!(got.len() - split < data.len() && data.starts_with(&got[split..]));
    proxy.stall(false);

    // Nothing of the timed-out uploads is visible, and the gateway serves again.
    backend.assert_absent(&bucket, "small").await;
    backend.assert_absent(&bucket, "large").await;
    still_serving(&gw, &bucket).await;
}

/// A keep-alive connection the gateway closes for idleness ends with TLS's close_notify, not a bare TCP close:
/// without it a client cannot tell an idle close from a cut connection (rustls reports "peer closed connection
/// without sending TLS close_notify", the errors of the first concurrency-64 benchmark run).
#[tokio::test(flavor = "multi_thread")]
async fn an_idle_keep_alive_connection_is_closed_with_close_notify() {
    let s = Stack::start_with("[limits]\nidle_timeout_secs = 1\n");
    let bucket = unique_bucket("closenotify");
    create_bucket(&s.gw, &s.gw.client(), &bucket).await;
    let mut c = tls_connect(&s.gw).await;
    c.write_all(signed_head(&s.gw, Method::GET, &format!("/{bucket}"), None, &[]).as_bytes())
        .await
        .expect("send");
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let end = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match c.read(&mut buf).await {
                Ok(0) => return Ok(()),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => return Err(e),
            }
        }
    })
    .await
    .expect("the idle connection was not closed");
    assert_eq!(status_and_code(&got).0, 200, "{}", String::from_utf8_lossy(&got));
    assert!(end.is_ok(), "the idle close was not a TLS close: {end:?}");
}

/// The load of the concurrency-64 benchmark cells, with the connection limit at that concurrency and a short idle
/// timeout: 64 keep-alive clients each PUT and GET their own 4 KiB object, pausing now and then for about the idle
/// timeout, so that the gateway closes idle connections while other requests (and new connections) arrive.
///
/// A request a client sends on a kept-alive connection in the instant the gateway closes it cannot be answered
/// (HTTP/1.1's keep-alive race, for any server); the client sees the connection closed cleanly before any
/// response byte and retries, as the AWS SDKs do. Nothing else may fail: no cut TLS, no reset, no refused
/// connection, no partial body.
#[tokio::test(flavor = "multi_thread")]
async fn keep_alive_clients_at_the_connection_limit_see_no_error_across_idle_timeouts() {
    const CLIENTS: usize = 64;
    let s = Arc::new(Stack::start_with(&format!(
        "[limits]\nidle_timeout_secs = 1\nmax_connections = {CLIENTS}\n"
    )));
    let bucket = unique_bucket("keepalive");
    create_bucket(&s.gw, &s.gw.client(), &bucket).await;
    let mut workers = Vec::new();
    for w in 0..CLIENTS as u64 {
        let s = s.clone();
        let bucket = bucket.clone();
        workers.push(tokio::spawn(async move {
            // One client (one keep-alive connection at a time) per worker, as an SDK in one process would have.
            let gw = &s.gw;
            let client = gw.client();
            let body = Bytes::from(pseudo_random(4096, w));
            let path = format!("/{bucket}/k{w}");
            let (mut errors, mut retried) = (Vec::new(), 0);
            let mut send = async |method: Method, body: Bytes| {
                let mut r = send_lossy(&client, signed(gw, CLIENT, method.clone(), &path, body.clone())).await;
                if matches!(&r, Err(e) if e.contains("IncompleteMessage")) {
                    retried += 1;
                    r = send_lossy(&client, signed(gw, CLIENT, method, &path, body)).await;
                }
                r
            };
            for i in 0..24u64 {
                match send(Method::PUT, body.clone()).await {
                    Ok(r) if r.status == 200 && r.body_error.is_none() => {}
                    other => errors.push(format!("PUT {path} #{i}: {other:?}")),
                }
                match send(Method::GET, Bytes::new()).await {
                    Ok(r) if r.status == 200 && r.body_error.is_none() && r.body == body => {}
                    other => errors.push(format!(
                        "GET {path} #{i}: {:?}",
                        other.map(|r| (r.status, r.body_error))
                    )),
                }
                // Pauses around the idle timeout (1 s; the watchdog looks every 250 ms), spread over the workers.
                let pause = match (i + w) % 4 {
                    0 => 0,
                    n => 850 + 150 * n + (w * 7) % 100,
                };
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            (errors, retried)
        }));
    }
    let (mut errors, mut retried) = (Vec::new(), 0);
    for w in workers {
        let (e, r) = w.await.expect("worker");
        errors.extend(e);
        retried += r;
    }
    let timed_out = s.gw.metric_value("s3_sse_proxy_connections_timed_out_total").await;
    assert!(
        timed_out > 0.0,
        "the idle timeout never fired: the test did not test it"
    );
    assert!(
        errors.is_empty(),
        "{} of {} requests failed ({retried} retried after a clean close), e.g. {:?}",
        errors.len(),
        CLIENTS * 48,
        &errors[..errors.len().min(5)]
    );
    eprintln!("{timed_out} idle closes, {retried} requests retried after a clean close");
}

/// A TCP proxy between the gateway and the real backend that forwards everything until, once armed, the backend
/// has answered a CompleteMultipartUpload (`POST …?uploadId=…`); from then on it drops whatever the gateway sends
/// (closing that connection) and every connection it opens, until `restore`. To the gateway this is a backend gone
/// right after completing an upload: the state an instance killed at that point leaves behind.
struct CutAfterComplete {
    addr: std::net::SocketAddr,
    armed: Arc<std::sync::atomic::AtomicBool>,
    cut: Arc<std::sync::atomic::AtomicBool>,
}

impl CutAfterComplete {
    async fn start(upstream: std::net::SocketAddr) -> CutAfterComplete {
        use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = l.local_addr().expect("addr");
        let (armed, cut) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
        let (armed2, cut2) = (armed.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((down, _)) = l.accept().await {
                if cut2.load(SeqCst) {
                    continue;
                }
                let Ok(up) = TcpStream::connect(upstream).await else {
                    continue;
                };
                let (mut dr, mut dw) = down.into_split();
                let (mut ur, mut uw) = up.into_split();
                // This connection carried a Complete: its answer is the last thing the backend does.
                let completing = Arc::new(AtomicBool::new(false));
                let (armed, cut, flag) = (armed2.clone(), cut2.clone(), completing.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n @ 1..) = dr.read(&mut buf).await {
                        if cut.load(SeqCst) {
                            break;
                        }
                        let line = buf[..n].split(|b| *b == b'\n').next().unwrap_or_default();
                        if armed.load(SeqCst) && line.starts_with(b"POST ") && contains(line, b"uploadId=") {
                            flag.store(true, SeqCst);
                        }
                        if uw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    let _ = uw.shutdown().await;
                });
                let cut = cut2.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n @ 1..) = ur.read(&mut buf).await {
                        if dw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                        if completing.load(SeqCst) {
                            cut.store(true, SeqCst);
                        }
                    }
                    let _ = dw.shutdown().await;
                });
            }
        });
        CutAfterComplete { addr, armed, cut }
    }

    fn arm(&self) {
        self.armed.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    fn restore(&self) {
        self.armed.store(false, std::sync::atomic::Ordering::SeqCst);
        self.cut.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The gateway's layout records in `bucket`, as the backend lists them, each named by its prefix (the part up to the
/// last `/`).
async fn layout_records(backend: &Backend, bucket: &str) -> Vec<String> {
    let q = format!("/{bucket}?list-type=2&prefix=.s3-sse-proxy/layout");
    let listed = backend.send_signed(BACKEND, Method::GET, &q, Bytes::new()).await;
    listed.assert_ok();
    let text = listed.text();
    text.split("<Key>")
        .skip(1)
        .filter_map(|s| s.split("</Key>").next())
        .map(|k| k[..=k.rfind('/').expect("a record under the reserved prefix")].to_owned())
        .collect()
}

/// A CompleteMultipartUpload cut right after the backend's (the backend gone, or the instance killed, before the
/// gateway recorded the part layout): the client sees a 5xx S3 error, and yet the object reads back whole, by
/// range and by part (the layout was recorded before the backend's Complete). The client's retry succeeds, as S3
/// answers a retried Complete, and settles the object: its own layout record, its exact size in listings, no
/// leftover. Found by tests/instances.rs' HAProxy test, whose killed instance left an object answering 500.
#[tokio::test(flavor = "multi_thread")]
async fn a_complete_cut_after_the_backends_leaves_a_readable_object_its_retry_settles() {
    let backend = Backend::start();
    let proxy = CutAfterComplete::start(backend.addr).await;
    let gw = gateway_in_front_of(proxy.addr);
    let c = gw.client();
    let bucket = unique_bucket("cut-complete");
    create_bucket(&gw, &c, &bucket).await;
    let path = format!("/{bucket}/cut");
    let r = call(
        &gw,
        &c,
        Method::POST,
        &format!("{path}?uploads"),
        "",
        &[("x-amz-server-side-encryption", "AES256")],
    )
    .await;
    r.assert_ok();
    assert_eq!(r.header("x-amz-server-side-encryption"), Some("AES256"));
    let upload = enc(&r.xml_tag("UploadId").expect("UploadId"));
    // Part 1 is not whole segments: the object cannot be sized from its stored size alone.
    let parts = [pseudo_random(5 * 1024 * 1024 + 1000, 31), pseudo_random(3000, 32)];
    let mut xml = String::from("<CompleteMultipartUpload>");
    for (i, data) in parts.iter().enumerate() {
        let q = format!("{path}?partNumber={}&uploadId={upload}", i + 1);
        let r = call(&gw, &c, Method::PUT, &q, data.clone(), &[]).await;
        r.assert_ok();
        let etag = r.header("etag").expect("part ETag");
        xml.push_str(&format!(
            "<Part><PartNumber>{}</PartNumber><ETag>{etag}</ETag></Part>",
            i + 1
        ));
    }
    xml.push_str("</CompleteMultipartUpload>");
    let whole = parts.concat();

    proxy.arm();
    let complete = format!("{path}?uploadId={upload}");
    let r = call(&gw, &c, Method::POST, &complete, xml.clone(), &[]).await;
    assert!(
        r.status.is_server_error(),
        "Complete cut after the backend's: {} {}",
        r.status,
        r.text()
    );
    assert!(r.xml_tag("Code").is_some(), "an S3 error document: {}", r.text());
    proxy.restore();

    // The backend holds the object, and of the gateway's layout records only the one written before its Complete.
    backend.assert_present(&bucket, "cut").await;
    assert_eq!(
        layout_records(&backend, &bucket).await,
        vec![".s3-sse-proxy/layout-pending/".to_owned()]
    );
    // Readable as it is: whole, by range across the parts' boundary, and by part.
    let r = get_object(&gw, &c, &bucket, "cut").await;
    r.assert_ok();
    assert!(r.body == whole, "GET after the cut Complete returned other bytes");
    let b = parts[0].len();
    let range = format!("bytes={}-{}", b - 10, b + 9);
    let r = call(&gw, &c, Method::GET, &path, "", &[("range", &range)]).await;
    assert_eq!(r.status.as_u16(), 206, "{}", r.text());
    assert!(r.body.as_ref() == &whole[b - 10..b + 10], "ranged GET across the parts");
    let r = call(&gw, &c, Method::GET, &format!("{path}?partNumber=2"), "", &[]).await;
    assert_eq!(r.status.as_u16(), 206, "{}", r.text());
    assert!(r.body == parts[1], "GET partNumber=2");

    // The client's retry: answered as S3 answers one after the upload completed.
    let r = call(&gw, &c, Method::POST, &complete, xml, &[]).await;
    r.assert_ok();
    let etag = r.xml_tag("ETag").unwrap_or_else(|| panic!("{}", r.text()));
    assert!(etag.replace("&quot;", "").ends_with("-2"), "Complete's ETag: {etag}");
    let r = call(&gw, &c, Method::GET, &format!("/{bucket}?list-type=2"), "", &[]).await;
    r.assert_ok();
    assert_eq!(r.xml_tag("Size"), Some(whole.len().to_string()), "{}", r.text());
    let r = call(&gw, &c, Method::HEAD, &path, "", &[]).await;
    r.assert_ok();
    assert_eq!(r.header("content-length"), Some(whole.len().to_string().as_str()));
    // At the backend: the object's own layout record, and no record left from before the Complete.
    assert_eq!(
        layout_records(&backend, &bucket).await,
        vec![".s3-sse-proxy/layout/".to_owned()]
    );
    let r = get_object(&gw, &c, &bucket, "cut").await;
    r.assert_ok();
    assert!(r.body == whole, "GET after the retry returned other bytes");
    still_serving(&gw, &bucket).await;
}

/// SIGTERM just after a client sent a CompleteMultipartUpload and went away: the gateway's shutdown waits for
/// that write, as it waits for connections, and exits once it is done. The object is then there whole, with the
/// checksum of its parts, and the upload is gone; the write used to be cut at exit (shutdown waited for
/// connections only, and this one's client had closed its own).
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_waits_for_a_complete_whose_client_went_away() {
    use base64::Engine as _;
    let backend = Backend::start();
    let keys = tempfile::tempdir().expect("tempdir");
    let sse = format!(
        "[sse]\nkeyring = {:?}\n",
        keys.path().join("keyring.toml").display().to_string()
    );
    let mut gw = Gateway::start(&backend, &sse);
    let c = gw.client();
    let bucket = unique_bucket("term-complete");
    create_bucket(&gw, &c, &bucket).await;
    let path = format!("/{bucket}/mp");
    let crc32 = &[("x-amz-checksum-algorithm", "CRC32")];
    let r = call(&gw, &c, Method::POST, &format!("{path}?uploads"), "", crc32).await;
    r.assert_ok();
    let upload = enc(&r.xml_tag("UploadId").expect("UploadId"));
    // Unaligned parts: after the backend's Complete the gateway rewrites the 40 MiB object as one stream, which
    // keeps the Complete going well after its client has left.
    let parts = [
        pseudo_random(20 * 1024 * 1024 + 1000, 41),
        pseudo_random(20 * 1024 * 1024, 42),
    ];
    let (mut xml, mut part_crcs) = (String::from("<CompleteMultipartUpload>"), Vec::new());
    for (i, data) in parts.iter().enumerate() {
        let q = format!("{path}?partNumber={}&uploadId={upload}", i + 1);
        let r = call(&gw, &c, Method::PUT, &q, data.clone(), crc32).await;
        r.assert_ok();
        let (etag, crc) = (
            r.header("etag").expect("ETag"),
            r.header("x-amz-checksum-crc32").expect("CRC32"),
        );
        xml.push_str(&format!(
            "<Part><PartNumber>{}</PartNumber><ETag>{etag}</ETag><ChecksumCRC32>{crc}</ChecksumCRC32></Part>",
            i + 1
        ));
        part_crcs.extend(base64::engine::general_purpose::STANDARD.decode(crc).expect("base64"));
    }
    xml.push_str("</CompleteMultipartUpload>");

    // The Complete, on a connection closed before any answer; then SIGTERM, once the gateway has authorized it.
    let authorized = || gw.log().matches("\"s3:PutObject\"").count();
    let before = authorized();
    {
        let mut tls = tls_connect(&gw).await;
        let q = format!("{path}?uploadId={upload}");
        let head = signed_head(&gw, Method::POST, &q, Some(xml.len() as u64), &[]);
        tls.write_all(format!("{head}{xml}").as_bytes()).await.expect("write");
        tls.flush().await.expect("flush");
        // What the server sent after the handshake (session tickets) is read, so that the close is a FIN: a reset
        // could discard the request before the gateway reads it.
        let mut buf = [0u8; 1];
        let answered = tokio::time::timeout(Duration::from_millis(20), tls.read(&mut buf)).await;
        assert!(answered.is_err(), "an answer before the client went away: {answered:?}");
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while authorized() == before {
        assert!(
            std::time::Instant::now() < deadline,
            "the Complete never reached the gateway:\n{}",
            gw.log()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    gw.proc.signal("TERM");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = gw.proc.try_wait() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no exit after SIGTERM:\n{}",
            gw.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "exit status {status}:\n{}", gw.log());

    // Another instance with the same keys finds the object as the Complete would have left it.
    let gw = Gateway::start(&backend, &sse);
    let c = gw.client();
    let r = call(&gw, &c, Method::GET, &format!("/{bucket}?uploads"), "", &[]).await;
    r.assert_ok();
    assert!(
        !r.text().contains("<Upload>"),
        "an upload left in progress: {}",
        r.text()
    );
    let r = call(&gw, &c, Method::GET, &path, "", &[("x-amz-checksum-mode", "ENABLED")]).await;
    r.assert_ok();
    assert!(r.body == parts.concat(), "the object's content");
    let composite = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32IsoHdlc, &part_crcs) as u32;
    let want = format!("{}-2", b64(&composite.to_be_bytes()));
    assert_eq!(
        r.header("x-amz-checksum-crc32"),
        Some(want.as_str()),
        "the parts' checksum"
    );
}
