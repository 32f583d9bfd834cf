//! Observability against a real Prometheus: a gateway and its backend take a mixed load (SSE-S3, SSE-C and
//! SSE-KMS objects, a multipart upload, a ranged GET, denials, bad signatures, a 404, KMS errors, a tampered
//! object, a failed TLS handshake, a backend outage) while a real `prometheus` scrapes the metrics listener every
//! second and evaluates `grafana/alerts.yaml`. Then, through Prometheus's HTTP API only:
//! - the byte counters equal the bytes the load moved (plaintext by SSE mode = bodies sent and received by the
//!   test; ciphertext = the backend's files, and the whole segments a ranged read needs);
//! - every PromQL expression of `grafana/s3-sse-proxy.json` and `grafana/alerts.yaml` parses and returns data,
//!   except the alerts whose condition is false in this load, listed with the reason;
//! - the alerts that should be pending or firing are.
//!
//! The throughput panel's data from the run is written as CSV for `docs/plot_throughput.py`. `promtool check
//! rules` and `promtool test rules` run here too.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use common::prometheus::{JOB, Prometheus, Series, unix_now};
use common::*;
use http::{Method, Request, StatusCode};

const MIB: usize = 1024 * 1024;
const SSE_S3: &str = "SSE-S3";
const SSE_C: &str = "SSE-C";
const SSE_KMS: &str = "SSE-KMS";
const KMS: (&str, &str) = ("x-amz-server-side-encryption", "aws:kms");

/// docs/format.md: plaintext segment size and tag size.
const SEGMENT: u64 = 64 * 1024;
const TAG: u64 = 16;

/// Grafana's `$__rate_interval` for a 1 s scrape interval and a 1 s step: four scrape intervals.
const RATE_INTERVAL: &str = "4s";

/// More than one scrape interval. Labelled counters (`errors_total{code}`, `kms_requests_total{result}`,
/// `backend_errors_total{operation}`, `requests_total{status_class="5xx"}`) get their series at their first
/// increment, and `rate()`/`increase()` cannot see the increments already in a series' first sample: a burst
/// of errors inside one scrape interval that creates a series is invisible to the alerts. The load therefore
/// spreads the error bursts the alerts must see over several scrapes, as a real outage does.
const SCRAPE_GAP: Duration = Duration::from_millis(1200);

/// GETs sent while the backend is down: enough for the 5xx and backend-error ratios to pass their 5% alert
/// thresholds against the rest of the load.
const OUTAGE_READS: usize = 8;

/// Alert rules whose condition is false under this load, and why. Their expressions must still parse and every
/// metric they read must have series; if one of them returns data, the list (or the load) is wrong.
const QUIET_ALERTS: &[(&str, &str)] = &[
    ("S3SseProxyDown", "Prometheus scrapes the gateway throughout (up == 1)"),
    (
        "S3SseProxyHighLatencyP99",
        "no request in this load waits 2 s for its response head",
    ),
    (
        "S3SseProxyCertificateExpiresSoon",
        "the generated certificate is valid for far more than 14 days (checked below)",
    ),
    (
        "S3SseProxyKmsDown",
        "the local KMS answers every probe (kms_up == 1, checked below)",
    ),
];

fn grafana_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("grafana").join(name)
}

fn promtool(args: &[&str]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(grafana_file(""))
        .output()
        .unwrap_or_else(|e| panic!("running promtool (Debian package `prometheus`, see .ci/run): {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

#[test]
fn promtool_checks_and_unit_tests_the_alert_rules() {
    let check = promtool(&["check", "rules", "alerts.yaml"]);
    assert!(check.contains("SUCCESS: 9 rules found"), "{check}");
    let test = promtool(&["test", "rules", "alerts_test.yaml"]);
    assert!(test.contains("SUCCESS"), "{test}");
}

/// Request headers with owned values.
type Headers = Vec<(&'static str, String)>;

/// A 32-byte SSE-C key and its three headers.
fn sse_c_headers(key: &[u8; 32]) -> Headers {
    use md5::Digest as _;
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    vec![
        ("x-amz-server-side-encryption-customer-algorithm", "AES256".to_owned()),
        ("x-amz-server-side-encryption-customer-key", b64(key)),
        (
            "x-amz-server-side-encryption-customer-key-md5",
            b64(&md5::Md5::digest(key)),
        ),
    ]
}

/// Ciphertext bytes the gateway must read for plaintext bytes `start..=end` of a single stream whose
/// ciphertext is `cipher_len` bytes: the whole segments holding them (docs/format.md, "Ranges").
fn segment_span_len(start: u64, end: u64, cipher_len: u64) -> u64 {
    let first = start / SEGMENT;
    let last = end / SEGMENT;
    let cipher_end = (cipher_len - 1).min((last + 1) * (SEGMENT + TAG) - 1);
    cipher_end - first * (SEGMENT + TAG) + 1
}

/// What the load moved, counted by the test on its side of the wire.
#[derive(Default, Debug)]
struct Ledger {
    /// Plaintext bytes by (direction, SSE mode): object bodies sent, object bytes received.
    plaintext: BTreeMap<(&'static str, &'static str), u64>,
    /// Ciphertext bytes the gateway read from the backend for the test's GETs, by SSE mode.
    ciphertext_download: BTreeMap<&'static str, u64>,
    /// Objects written (SSE mode, key): their backend files are the ciphertext uploaded.
    written: Vec<(&'static str, String)>,
    /// Every request and response body byte, by direction.
    client: BTreeMap<&'static str, u64>,
    /// Requests answered, by operation.
    requests: BTreeMap<&'static str, u64>,
}

struct Load<'a> {
    s: &'a Stack,
    c: HttpsClient,
    bucket: String,
    ledger: Ledger,
}

impl Load<'_> {
    fn request(&self, creds: Creds, method: Method, key: &str, body: Vec<u8>, h: &[(&str, String)]) -> Request<Bytes> {
        let h: Vec<(&str, &str)> = h.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let path = if key.is_empty() {
            format!("/{}", self.bucket)
        } else {
            format!("/{}/{key}", self.bucket)
        };
        signed_with_headers(&self.s.gw, creds, method, &path, body, &h)
    }

    /// Send, and count the bodies both ways and the request under `operation`.
    async fn send(&mut self, operation: &'static str, req: Request<Bytes>) -> Resp {
        *self.ledger.client.entry("upload").or_default() += req.body().len() as u64;
        let r = send(&self.c, req).await;
        *self.ledger.client.entry("download").or_default() += r.body.len() as u64;
        *self.ledger.requests.entry(operation).or_default() += 1;
        r
    }

    fn backend_file(&self, key: &str) -> PathBuf {
        self.s.backend.root.join(&self.bucket).join(key)
    }

    fn cipher_len(&self, key: &str) -> u64 {
        std::fs::metadata(self.backend_file(key))
            .unwrap_or_else(|e| panic!("backend file of {key}: {e}"))
            .len()
    }

    async fn put(&mut self, mode: &'static str, key: &str, body: Vec<u8>, h: &[(&str, String)]) {
        let len = body.len() as u64;
        let req = self.request(CLIENT, Method::PUT, key, body, h);
        self.send("PutObject", req).await.assert_ok();
        *self.ledger.plaintext.entry(("upload", mode)).or_default() += len;
        self.ledger.written.push((mode, key.to_owned()));
    }

    /// GET the whole object or `range` (`(start, end)` inclusive) and check the bytes.
    async fn get(
        &mut self,
        mode: &'static str,
        key: &str,
        expect: &[u8],
        range: Option<(u64, u64)>,
        h: &[(&str, String)],
    ) {
        let mut h = h.to_vec();
        if let Some((a, b)) = range {
            h.push(("range", format!("bytes={a}-{b}")));
        }
        let req = self.request(CLIENT, Method::GET, key, Vec::new(), &h);
        let r = self.send("GetObject", req).await;
        let cipher = self.cipher_len(key);
        let (want, read) = match range {
            Some((a, b)) => {
                assert_eq!(r.status, StatusCode::PARTIAL_CONTENT, "{key} range: {}", r.text());
                (&expect[a as usize..=b as usize], segment_span_len(a, b, cipher))
            }
            None => {
                r.assert_ok();
                (expect, cipher)
            }
        };
        assert!(r.body.as_ref() == want, "{key}: wrong bytes");
        *self.ledger.plaintext.entry(("download", mode)).or_default() += r.body.len() as u64;
        *self.ledger.ciphertext_download.entry(mode).or_default() += read;
    }
}

/// `{label=value,…} -> value` of an answer, by the values of `labels`.
fn by_labels(series: &[Series], labels: &[&str]) -> BTreeMap<Vec<String>, f64> {
    series
        .iter()
        .map(|s| (labels.iter().map(|l| s.label(l).to_owned()).collect(), s.last()))
        .collect()
}

/// Every `s3_sse_proxy_*` metric name (and `up`) an expression reads.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = expr
        .match_indices("s3_sse_proxy_")
        .map(|(i, _)| {
            expr[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect();
    if expr.starts_with("up{") {
        names.insert("up".to_owned());
    }
    names
}

/// The dashboard's expressions: (panel title, expr), with Grafana's variables as Grafana would fill them in.
fn dashboard_exprs(instance: &str, range: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(grafana_file("s3-sse-proxy.json")).expect("reading the dashboard");
    let d: serde_json::Value = serde_json::from_str(&text).expect("dashboard JSON");
    let mut out = Vec::new();
    for p in d["panels"].as_array().expect("panels") {
        if p["type"] != "row" && p["type"] != "text" {
            assert_eq!(
                p["datasource"]["uid"], "${datasource}",
                "panel {} must use the datasource variable",
                p["title"]
            );
        }
        for t in p["targets"].as_array().into_iter().flatten() {
            let expr = t["expr"].as_str().expect("expr");
            assert!(
                expr.contains("instance=~\"$instance\""),
                "{}: not filtered by $instance: {expr}",
                p["title"]
            );
            let filled = expr
                .replace("$instance", instance)
                .replace("$__rate_interval", RATE_INTERVAL)
                .replace("$__range", range);
            assert!(!filled.contains('$'), "{}: unknown variable in {expr}", p["title"]);
            out.push((p["title"].as_str().unwrap_or("?").to_owned(), filled));
        }
    }
    out
}

/// Sum `series` (one per label set) by one label.
fn sum_by(series: &[Series], label: &str) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    for s in series {
        *m.entry(s.label(label).to_owned()).or_default() += s.last();
    }
    m
}

/// A ledger map in the shape of [`sum_by`]'s answer.
fn owned_keys(m: &BTreeMap<&'static str, u64>) -> BTreeMap<String, f64> {
    m.iter().map(|(k, v)| ((*k).to_owned(), *v as f64)).collect()
}

fn as_f64_map<K: Ord + Clone>(m: &BTreeMap<K, u64>) -> BTreeMap<K, f64> {
    m.iter().map(|(k, v)| (k.clone(), *v as f64)).collect()
}

#[tokio::test(flavor = "multi_thread")]
#[allow(clippy::too_many_lines, reason = "one scenario, read top to bottom")]
async fn prometheus_sees_what_the_load_moved_and_every_dashboard_and_alert_expression_has_data() {
    let mut s = Stack::start();
    let instance = s.gw.metrics_addr.to_string();
    let prom = Prometheus::start(&[s.gw.metrics_addr], &[&grafana_file("alerts.yaml")]).await;
    // The first scrape, before any load: every counter starts from what the gateway exports at rest.
    prom.wait_until(&format!("up{{job=\"{JOB}\"}}"), Duration::from_secs(30), |r| {
        r.len() == 1 && r[0].last() == 1.0
    })
    .await;
    let t_start = unix_now();

    let c = s.gw.client();
    let bucket = unique_bucket("obs");
    let mut load = Load {
        s: &s,
        c,
        bucket: bucket.clone(),
        ledger: Ledger::default(),
    };
    let req = load.request(CLIENT, Method::PUT, "", Vec::new(), &[]);
    load.send("CreateBucket", req).await.assert_ok();

    // Throughput, in rounds so the plot shows a rate over time: one PUT and one GET per SSE mode per round.
    let customer: [u8; 32] = pseudo_random(32, 7).try_into().expect("32 bytes");
    let ssec = sse_c_headers(&customer);
    let kms = vec![(KMS.0, KMS.1.to_owned())];
    let mut objects: Vec<(String, Vec<u8>, Headers)> = Vec::new();
    for round in 0..4u64 {
        // (mode, PUT headers, GET headers): only SSE-C repeats its headers on reads.
        let modes = [
            (SSE_S3, Vec::new(), Vec::new()),
            (SSE_C, ssec.clone(), ssec.clone()),
            (SSE_KMS, kms.clone(), Vec::new()),
        ];
        for (i, (mode, put_h, get_h)) in modes.into_iter().enumerate() {
            let key = format!("round-{round}-{mode}");
            let body = pseudo_random(MIB + 1000 * i + round as usize, round * 10 + i as u64);
            load.put(mode, &key, body.clone(), &put_h).await;
            load.get(mode, &key, &body, None, &get_h).await;
            objects.push((key, body, get_h));
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
    }

    // A ranged GET across a segment boundary (SSE-C), and a second read of an SSE-KMS object (key cache hit).
    let (key, body, h) = objects[1].clone();
    load.get(SSE_C, &key, &body, Some((70_000, 140_000)), &h).await;
    let (key, body, h) = objects[2].clone();
    load.get(SSE_KMS, &key, &body, None, &h).await;

    // A multipart upload (SSE-S3): a whole number of segments, then an odd tail; read back whole.
    let req = load.request(CLIENT, Method::POST, "mp?uploads", Vec::new(), &[]);
    let r = load.send("CreateMultipartUpload", req).await;
    r.assert_ok();
    let upload = r.xml_tag("UploadId").expect("UploadId");
    let upload_q = percent_encoding::utf8_percent_encode(&upload, percent_encoding::NON_ALPHANUMERIC).to_string();
    let parts = [pseudo_random(5 * MIB, 101), pseudo_random(70_001, 102)];
    let mut etags = Vec::new();
    for (n, p) in parts.iter().enumerate() {
        let key = format!("mp?partNumber={}&uploadId={upload_q}", n + 1);
        let req = load.request(CLIENT, Method::PUT, &key, p.clone(), &[]);
        let r = load.send("UploadPart", req).await;
        r.assert_ok();
        etags.push(r.header("etag").expect("part ETag").to_owned());
        *load.ledger.plaintext.entry(("upload", SSE_S3)).or_default() += p.len() as u64;
    }
    let xml = format!(
        "<CompleteMultipartUpload>{}</CompleteMultipartUpload>",
        etags
            .iter()
            .enumerate()
            .map(|(i, e)| format!("<Part><PartNumber>{}</PartNumber><ETag>{e}</ETag></Part>", i + 1))
            .collect::<String>()
    );
    let req = load.request(
        CLIENT,
        Method::POST,
        &format!("mp?uploadId={upload_q}"),
        xml.into(),
        &[],
    );
    load.send("CompleteMultipartUpload", req).await.assert_ok();
    load.ledger.written.push((SSE_S3, "mp".to_owned()));
    load.get(SSE_S3, "mp", &parts.concat(), None, &[]).await;

    // Denials: the bucket-restricted credential on another bucket.
    for i in 0..2 {
        let req = load.request(LIMITED, Method::PUT, &format!("denied-{i}"), vec![b'd'; 500], &[]);
        load.send("PutObject", req).await.assert_error(403, "AccessDenied");
    }
    // Bad signatures: the right key id with a wrong secret.
    let wrong = Creds {
        ak: CLIENT_AK,
        sk: "wrongSecretKey/Example+0123456789abcdefghi",
    };
    for i in 0..3 {
        let req = load.request(wrong, Method::PUT, &format!("badsig-{i}"), vec![b'b'; 300], &[]);
        load.send("PutObject", req)
            .await
            .assert_error(403, "SignatureDoesNotMatch");
    }
    // A 404.
    let req = load.request(CLIENT, Method::GET, "no-such-key", Vec::new(), &[]);
    let r = load.send("GetObject", req).await;
    r.assert_error(404, "NoSuchKey");
    // KMS errors: a key that does not exist (the client's mistake), and a disabled key (an operator's).
    let missing = vec![
        (KMS.0, KMS.1.to_owned()),
        (
            "x-amz-server-side-encryption-aws-kms-key-id",
            "alias/no-such-key".to_owned(),
        ),
    ];
    let req = load.request(CLIENT, Method::PUT, "kms-missing", vec![b'k'; 400], &missing);
    load.send("PutObject", req)
        .await
        .assert_error(400, "KMS.NotFoundException");
    let disabled_id = kms_admin(&s.gw, &["create-key", "--alias", "alias/obs-disabled"])
        .trim()
        .to_owned();
    kms_admin(&s.gw, &["disable", &disabled_id]);
    let disabled = vec![
        (KMS.0, KMS.1.to_owned()),
        (
            "x-amz-server-side-encryption-aws-kms-key-id",
            "alias/obs-disabled".to_owned(),
        ),
    ];
    // Twice, more than a scrape apart: a labelled counter's series is born at its first increment, and
    // Prometheus sees no increase in a series' first sample (see SCRAPE_GAP).
    for i in 0..2 {
        let req = load.request(
            CLIENT,
            Method::PUT,
            &format!("kms-disabled-{i}"),
            vec![b'k'; 400],
            &disabled,
        );
        load.send("PutObject", req)
            .await
            .assert_error(400, "KMS.DisabledException");
        tokio::time::sleep(SCRAPE_GAP).await;
    }

    // A tampered object: one ciphertext byte flipped at the backend. The read is cut short, never wrong.
    let tampered = pseudo_random(1000, 55);
    load.put(SSE_S3, "tampered", tampered.clone(), &[]).await;
    let file = load.backend_file("tampered");
    let mut bytes = std::fs::read(&file).expect("backend file");
    bytes[100] ^= 1;
    std::fs::write(&file, &bytes).expect("tampering");
    let req = load.request(CLIENT, Method::GET, "tampered", Vec::new(), &[]);
    // A one-segment object fails before the first body byte: the gateway holds the response head until the first
    // segment has opened, so it answers 500 InternalError (no plaintext at all), and counts the request.
    // (received plaintext, bytes the client got: the error document counts as download)
    let (received, sent) = match send_lossy(&load.c, req).await {
        Ok(r) if r.status == StatusCode::INTERNAL_SERVER_ERROR => {
            assert_eq!(
                xml_tag(&r.text(), "Code").as_deref(),
                Some("InternalError"),
                "{}",
                r.text()
            );
            (Bytes::new(), r.body.len() as u64)
        }
        Ok(r) => {
            assert!(
                r.body_error.is_some() || r.status != StatusCode::OK,
                "tampered object served whole"
            );
            let n = r.body.len() as u64;
            (r.body, n)
        }
        Err(_) => (Bytes::new(), 0),
    };
    assert!(
        received.len() < tampered.len() && tampered.starts_with(&received),
        "a tampered read serves a prefix of the plaintext at most"
    );
    *load.ledger.client.entry("download").or_default() += sent;
    *load.ledger.requests.entry("GetObject").or_default() += 1;
    *load.ledger.plaintext.entry(("download", SSE_S3)).or_default() += received.len() as u64;
    *load.ledger.ciphertext_download.entry(SSE_S3).or_default() += bytes.len() as u64;

    // A TLS handshake that fails: plain HTTP on the HTTPS port.
    let mut tcp = std::net::TcpStream::connect(s.gw.addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
    let _ = tcp.read_to_end(&mut Vec::new());
    drop(tcp);

    // What the backend holds, before it goes away.
    let mut ciphertext_upload: BTreeMap<&'static str, u64> = BTreeMap::new();
    for (mode, key) in &load.ledger.written {
        *ciphertext_upload.entry(mode).or_default() += load.cipher_len(key);
    }

    // A backend outage: reads fail with 503, backend errors are counted, the probe reports it.
    let Load { c, mut ledger, .. } = load;
    s.backend.kill();
    for _ in 0..OUTAGE_READS {
        let r = send(
            &c,
            signed(&s.gw, CLIENT, Method::GET, &format!("/{bucket}/round-0-SSE-S3"), ""),
        )
        .await;
        r.assert_error(503, "ServiceUnavailable");
        *ledger.client.entry("download").or_default() += r.body.len() as u64;
        *ledger.requests.entry("GetObject").or_default() += 1;
        tokio::time::sleep(SCRAPE_GAP / 4).await;
    }
    let t_load_end = unix_now();
    prom.wait_until("s3_sse_proxy_backend_up", Duration::from_secs(40), |r| {
        r.len() == 1 && r[0].last() == 0.0
    })
    .await;
    // More scrapes after everything settled: the counters Prometheus holds are final, and the range queries
    // below (1 s steps up to t_end) include the backend_up == 0 samples.
    let settled = unix_now().max(t_load_end) + 1.5;
    prom.wait_until(
        "timestamp(s3_sse_proxy_requests_in_flight)",
        Duration::from_secs(30),
        |r| r.len() == 1 && r[0].last() > settled,
    )
    .await;
    let t_end = unix_now();

    // ---- Byte counters against the ledger ----
    let got = |dir: &'static str, r: &[Series]| -> BTreeMap<(&'static str, &'static str), f64> {
        r.iter()
            .filter(|s| s.label("direction") == dir)
            .map(|s| {
                let mode = [SSE_S3, SSE_C, SSE_KMS]
                    .into_iter()
                    .find(|m| *m == s.label("sse_mode"))
                    .unwrap_or_else(|| panic!("unexpected sse_mode in {s:?}"));
                ((dir, mode), s.last())
            })
            .collect()
    };
    let plaintext = prom.query("s3_sse_proxy_plaintext_bytes_total").await.unwrap();
    let ciphertext = prom.query("s3_sse_proxy_ciphertext_bytes_total").await.unwrap();
    let want = |dir: &'static str| -> BTreeMap<(&'static str, &'static str), f64> {
        as_f64_map(&ledger.plaintext)
            .into_iter()
            .filter(|((d, _), _)| *d == dir)
            .collect()
    };
    assert_eq!(
        got("upload", &plaintext),
        want("upload"),
        "plaintext upload bytes by SSE mode"
    );
    assert_eq!(
        got("download", &plaintext),
        want("download"),
        "plaintext download bytes by SSE mode"
    );
    let keyed = |m: &BTreeMap<&'static str, u64>, dir: &'static str| -> BTreeMap<(&'static str, &'static str), f64> {
        m.iter().map(|(mode, v)| ((dir, *mode), *v as f64)).collect()
    };
    assert_eq!(
        got("upload", &ciphertext),
        keyed(&ciphertext_upload, "upload"),
        "ciphertext upload bytes by SSE mode = sizes of the backend files written"
    );
    assert_eq!(
        got("download", &ciphertext),
        keyed(&ledger.ciphertext_download, "download"),
        "ciphertext download bytes by SSE mode = backend bytes the GETs needed"
    );
    let client = prom.query("s3_sse_proxy_client_bytes_total").await.unwrap();
    assert_eq!(
        sum_by(&client, "direction"),
        owned_keys(&ledger.client),
        "client body bytes by direction"
    );

    // ---- Requests, errors and security counters ----
    let requests = prom
        .query("sum by (operation) (s3_sse_proxy_requests_total)")
        .await
        .unwrap();
    // Series of operations the load did not use exist at 0 (created at start so that rate() sees a first error).
    let mut by_op = sum_by(&requests, "operation");
    assert!(by_op.contains_key("DeleteObjects"), "zero series exist: {by_op:?}");
    by_op.retain(|_, v| *v != 0.0);
    assert_eq!(by_op, owned_keys(&ledger.requests), "requests by operation");
    let errors = by_labels(
        &prom.query("s3_sse_proxy_errors_total").await.unwrap(),
        &["operation", "code"],
    );
    let e = |op: &str, code: &str| errors.get(&vec![op.to_owned(), code.to_owned()]).copied();
    assert_eq!(e("PutObject", "AccessDenied"), Some(2.0), "{errors:?}");
    assert_eq!(e("PutObject", "SignatureDoesNotMatch"), Some(3.0), "{errors:?}");
    assert_eq!(e("PutObject", "KMS.NotFoundException"), Some(1.0), "{errors:?}");
    assert_eq!(e("PutObject", "KMS.DisabledException"), Some(2.0), "{errors:?}");
    assert_eq!(
        e("GetObject", "ServiceUnavailable"),
        Some(OUTAGE_READS as f64),
        "{errors:?}"
    );
    // The 404 is the backend's answer, passed on: counted under `Backend`, not `NoSuchKey`.
    assert_eq!(e("GetObject", "Backend"), Some(1.0), "{errors:?}");
    assert_eq!(
        prom.value("s3_sse_proxy_sigv4_failures_total{reason=\"SignatureDoesNotMatch\"}")
            .await,
        3.0
    );
    assert_eq!(prom.value("s3_sse_proxy_authentication_tag_failures_total").await, 1.0);
    assert_eq!(prom.value("s3_sse_proxy_tls_handshake_failures_total").await, 1.0);
    assert!(prom.value("s3_sse_proxy_tls_handshakes_total").await >= 1.0);
    assert_eq!(
        prom.value("sum(s3_sse_proxy_backend_errors_total{operation=\"GetObject\"})")
            .await,
        OUTAGE_READS as f64
    );
    assert_eq!(prom.value("s3_sse_proxy_requests_in_flight").await, 0.0);
    let kms = by_labels(
        &prom.query("s3_sse_proxy_kms_requests_total").await.unwrap(),
        &["operation", "result"],
    );
    let kms_results: BTreeSet<&str> = kms.keys().map(|k| k[1].as_str()).collect();
    assert!(
        kms_results.is_superset(&BTreeSet::from(["ok", "NotFound", "Disabled"])),
        "{kms:?}"
    );
    let cache = sum_by(
        &prom.query("s3_sse_proxy_kms_key_cache_lookups_total").await.unwrap(),
        "result",
    );
    assert!(cache.get("hit").is_some_and(|h| *h >= 1.0), "key cache: {cache:?}");
    assert!(
        prom.value("s3_sse_proxy_crypto_seconds_total{operation=\"encrypt\"}")
            .await
            > 0.0
    );
    assert!(
        prom.value("s3_sse_proxy_crypto_seconds_total{operation=\"decrypt\"}")
            .await
            > 0.0
    );
    assert_eq!(prom.value("s3_sse_proxy_kms_up").await, 1.0);
    let expiry = prom
        .value("s3_sse_proxy_tls_certificate_expiry_timestamp_seconds")
        .await;
    assert!(expiry > t_end + 14.0 * 86_400.0, "certificate expiry {expiry}");
    assert!(prom.value("s3_sse_proxy_process_resident_memory_bytes").await > 1e6);
    let started = prom.value("s3_sse_proxy_process_start_time_seconds").await;
    assert!((t_start - 120.0..t_start).contains(&started), "start time {started}");
    let max_conns = prom
        .query_range("max(s3_sse_proxy_open_connections)", t_start, t_end, 1.0)
        .await
        .unwrap();
    assert!(
        max_conns.iter().flat_map(|s| &s.samples).any(|(_, v)| *v >= 1.0),
        "open connections never seen: {max_conns:?}"
    );

    // ---- The dashboard's `instance` variable lists this gateway ----
    let instances = prom
        .api("/api/v1/label/instance/values?match[]=s3_sse_proxy_requests_total")
        .await
        .unwrap();
    assert!(
        instances.as_array().unwrap().iter().any(|v| v == instance.as_str()),
        "{instances}"
    );

    // ---- Every expression: parses (instant query) and has data over the run (range query) ----
    let range = format!("{}s", (t_end - t_start).ceil() as u64);
    let mut exprs: Vec<(String, String, Option<&str>)> = dashboard_exprs(&instance, &range)
        .into_iter()
        .map(|(title, e)| (format!("dashboard: {title}"), e, None))
        .collect();
    let rules = prom.api("/api/v1/rules").await.unwrap();
    let rules: Vec<serde_json::Value> = rules["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().clone())
        .collect();
    let in_file = std::fs::read_to_string(grafana_file("alerts.yaml"))
        .unwrap()
        .matches("- alert: ")
        .count();
    assert_eq!(rules.len(), in_file, "Prometheus loaded every rule of alerts.yaml");
    for r in &rules {
        let name = r["name"].as_str().unwrap();
        assert_eq!(r["health"], "ok", "rule {name}: {r}");
        let quiet = QUIET_ALERTS.iter().find(|(n, _)| *n == name).map(|(_, why)| *why);
        exprs.push((format!("alert {name}"), r["query"].as_str().unwrap().to_owned(), quiet));
    }
    for (what, expr, quiet) in &exprs {
        prom.query_at(expr, t_end)
            .await
            .unwrap_or_else(|e| panic!("{what}: does not parse: {e}"));
        let data = prom.query_range(expr, t_start, t_end, 1.0).await.unwrap();
        let has_data = data.iter().flat_map(|s| &s.samples).any(|(_, v)| v.is_finite());
        match quiet {
            None => {
                if !has_data {
                    let mut seen = String::new();
                    for m in metric_names(expr) {
                        let r = prom.query_range(&m, t_start, t_end, 1.0).await;
                        seen.push_str(&format!("\n{m}: {r:?}"));
                    }
                    panic!("{what}: no data over {t_start}..{t_end}: {expr}{seen}");
                }
            }
            Some(why) => {
                assert!(!has_data, "{what} is listed as quiet ({why}) but has data: {data:?}");
                for m in metric_names(expr) {
                    let n = prom.value(&format!("count({m})")).await;
                    assert!(n >= 1.0, "{what}: no series of {m}");
                }
            }
        }
    }
    assert_eq!(
        exprs.iter().filter(|(w, ..)| w.starts_with("alert")).count(),
        9,
        "{exprs:?}"
    );

    // ---- Alerts Prometheus evaluated from alerts.yaml during the run ----
    // Rules are evaluated every second; give the last evaluations a moment.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let states = loop {
        let alerts = prom.api("/api/v1/alerts").await.unwrap();
        let states: BTreeMap<String, String> = alerts["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["labels"]["alertname"].as_str().unwrap().to_owned(),
                    a["state"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        if states.len() >= 5 || std::time::Instant::now() > deadline {
            break states;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(
        states.get("S3SseProxyAuthenticationTagFailures").map(String::as_str),
        Some("firing"),
        "{states:?}"
    );
    for name in [
        "S3SseProxyHighErrorRate",
        "S3SseProxyKmsErrors",
        "S3SseProxyBackendDown",
        "S3SseProxyBackendErrors",
    ] {
        assert!(
            states.get(name).is_some_and(|s| s == "pending" || s == "firing"),
            "{name} should be active: {states:?}"
        );
    }
    for (name, _) in QUIET_ALERTS {
        assert!(!states.contains_key(*name), "{name} is active: {states:?}");
    }

    // ---- The throughput panel's data, for docs/plot_throughput.py ----
    let mut csv = String::from("seconds,series,bytes_per_second\n");
    for (kind, metric) in [
        ("plaintext", "s3_sse_proxy_plaintext_bytes_total"),
        ("ciphertext", "s3_sse_proxy_ciphertext_bytes_total"),
    ] {
        let expr = format!("sum by (sse_mode, direction) (rate({metric}[{RATE_INTERVAL}]))");
        for series in prom.query_range(&expr, t_start, t_end, 1.0).await.unwrap() {
            let name = format!("{kind} {} {}", series.label("direction"), series.label("sse_mode"));
            for (t, v) in &series.samples {
                csv.push_str(&format!("{:.0},{name},{v:.0}\n", t - t_start));
            }
        }
    }
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("observability-throughput.csv");
    std::fs::write(&out, csv).expect("writing the CSV");
    println!("throughput panel data: {}", out.display());
    println!(
        "prometheus saw: plaintext {:?}, ciphertext {:?}, client {:?}",
        by_labels(&plaintext, &["direction", "sse_mode"]),
        by_labels(&ciphertext, &["direction", "sse_mode"]),
        sum_by(&client, "direction")
    );
}
