//! A real Prometheus server (Debian package `prometheus`, which `.ci/run` installs) scraping gateways on
//! loopback every second, with its storage in a temp dir, and a small client for its HTTP API
//! (`/api/v1/query`, `/api/v1/query_range`, `/api/v1/rules`, …). Killed on drop.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use super::{Proc, START_TIMEOUT, free_port};

/// The scrape job's name, as `grafana/alerts.yaml` expects it.
pub const JOB: &str = "s3-sse-proxy";

/// One series of a query answer: its labels and its `(unix time, value)` samples.
#[derive(Debug, Clone)]
pub struct Series {
    pub labels: serde_json::Map<String, Value>,
    pub samples: Vec<(f64, f64)>,
}

impl Series {
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).and_then(Value::as_str).unwrap_or("")
    }

    /// The last sample's value.
    pub fn last(&self) -> f64 {
        self.samples.last().map_or(f64::NAN, |s| s.1)
    }
}

pub struct Prometheus {
    pub addr: SocketAddr,
    proc: Proc,
    _dir: tempfile::TempDir,
}

/// Seconds since the Unix epoch, as Prometheus counts them.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

impl Prometheus {
    /// Start Prometheus scraping `targets` (the gateways' metrics listeners) every second, evaluating
    /// `rule_files` every second. Panics (naming the package) if the binary is missing.
    pub async fn start(targets: &[SocketAddr], rule_files: &[&Path]) -> Prometheus {
        let dir = tempfile::Builder::new()
            .prefix("s3sp-prometheus-")
            .tempdir()
            .expect("tempdir");
        let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        let rules: Vec<String> = rule_files.iter().map(|r| format!("'{}'", r.display())).collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files: [{}]\n\
             scrape_configs:\n  - job_name: '{JOB}'\n    static_configs:\n      - targets: [{}]\n",
            rules.join(", "),
            targets.join(", ")
        );
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).expect("writing prometheus.yml");
        // A port picked then bound by another process can be taken in between: try a few.
        for attempt in 0.. {
            let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
            let mut cmd = Command::new("prometheus");
            cmd.arg(format!("--config.file={}", config_path.display()))
                .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
                .arg(format!("--web.listen-address={addr}"))
                .current_dir(dir.path());
            let mut proc = Proc::spawn("prometheus", cmd, dir.path().join(format!("prometheus-{attempt}.log")));
            let deadline = Instant::now() + START_TIMEOUT;
            loop {
                if let Some(status) = proc.try_wait() {
                    let log = proc.log();
                    if attempt < 3 && log.contains("address already in use") {
                        break;
                    }
                    panic!("prometheus exited ({status}) at start (apt-get install prometheus?):\n{log}");
                }
                if get(addr, "/-/ready").await.is_ok_and(|(s, _)| s == StatusCode::OK) {
                    return Prometheus { addr, proc, _dir: dir };
                }
                assert!(
                    Instant::now() < deadline,
                    "prometheus not ready within {START_TIMEOUT:?}:\n{}",
                    proc.log()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        unreachable!()
    }

    pub fn log(&self) -> String {
        self.proc.log()
    }

    /// `GET path_and_query` on the API; the JSON answer's `data` if its `status` is `success`, else the
    /// error Prometheus gave (a PromQL parse error, for instance).
    pub async fn api(&self, path_and_query: &str) -> Result<Value, String> {
        let (status, body) = get(self.addr, path_and_query).await?;
        let v: Value = serde_json::from_slice(&body).map_err(|e| {
            format!(
                "{path_and_query}: {status}, not JSON ({e}): {}",
                String::from_utf8_lossy(&body)
            )
        })?;
        if v["status"] == "success" {
            Ok(v["data"].clone())
        } else {
            Err(format!("{path_and_query}: {status}: {} {}", v["errorType"], v["error"]))
        }
    }

    /// An instant query at `time`.
    pub async fn query_at(&self, expr: &str, time: f64) -> Result<Vec<Series>, String> {
        let data = self
            .api(&format!("/api/v1/query?query={}&time={time:.3}", enc(expr)))
            .await?;
        Ok(series(&data))
    }

    /// An instant query now.
    pub async fn query(&self, expr: &str) -> Result<Vec<Series>, String> {
        self.query_at(expr, unix_now()).await
    }

    /// A range query from `start` to `end` every `step` seconds.
    pub async fn query_range(&self, expr: &str, start: f64, end: f64, step: f64) -> Result<Vec<Series>, String> {
        let data = self
            .api(&format!(
                "/api/v1/query_range?query={}&start={start:.3}&end={end:.3}&step={step}",
                enc(expr)
            ))
            .await?;
        Ok(series(&data))
    }

    /// The single value of `expr` now (panics if it does not parse or is not exactly one series).
    pub async fn value(&self, expr: &str) -> f64 {
        let r = self.query(expr).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.len(), 1, "{expr}: expected one series, got {r:?}");
        r[0].last()
    }

    /// Poll `expr` until `pred` holds for its answer; panics with the last answer after `timeout`.
    pub async fn wait_until(&self, expr: &str, timeout: Duration, pred: impl Fn(&[Series]) -> bool) -> Vec<Series> {
        let deadline = Instant::now() + timeout;
        loop {
            let r = self.query(expr).await.unwrap_or_else(|e| panic!("{e}"));
            if pred(&r) {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "{expr}: condition not met within {timeout:?}; last answer {r:?}\nprometheus log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

fn enc(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

/// `GET http://addr{path_and_query}`: status and body.
async fn get(addr: SocketAddr, path_and_query: &str) -> Result<(StatusCode, Bytes), String> {
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let req = Request::builder()
        .method(Method::GET)
        .uri(format!("http://{addr}{path_and_query}"))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let resp = client
        .request(req)
        .await
        .map_err(|e| format!("{path_and_query}: {e}"))?;
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("{path_and_query}: {e}"))?
        .to_bytes();
    Ok((status, body))
}

/// The series of a `vector`, `matrix` or `scalar` answer.
fn series(data: &Value) -> Vec<Series> {
    let sample = |v: &Value| {
        let t = v[0].as_f64().unwrap_or(f64::NAN);
        let x = v[1].as_str().and_then(|s| s.parse::<f64>().ok()).unwrap_or(f64::NAN);
        (t, x)
    };
    match data["resultType"].as_str() {
        Some("scalar") => vec![Series {
            labels: serde_json::Map::new(),
            samples: vec![sample(&data["result"])],
        }],
        _ => data["result"]
            .as_array()
            .map(|rs| {
                rs.iter()
                    .map(|r| Series {
                        labels: r["metric"].as_object().cloned().unwrap_or_default(),
                        samples: match r.get("values").and_then(Value::as_array) {
                            Some(vs) => vs.iter().map(sample).collect(),
                            None => vec![sample(&r["value"])],
                        },
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}
