//! `bench-load`: the side-by-side load generator of BENCHMARKS.md ("End to end"). It PUTs and GETs objects of
//! each size at each concurrency against several S3 endpoints **interleaved**: for every (size, concurrency,
//! operation) cell it runs every target in turn, so a slow spell of the shared machine hits all of them alike.
//! Requests are signed with SigV4 (`UNSIGNED-PAYLOAD`, as aws-cli v2 sends) by the gateway's own signer, bodies
//! are streamed from one shared buffer (never allocated per request), and responses are read and dropped.
//!
//! ```text
//! bench-load --target NAME,URL,ACCESS_KEY,SECRET_KEY,SSE[,CA_FILE] ...   (SSE: none | s3 | c | kms)
//!            [--sizes 4KiB,1MiB,64MiB,1GiB] [--concurrency 1,16,64] [--seconds 5] [--max-gib 2]
//!            [--max-in-flight-gib 1] [--baseline NAME] [--json FILE] [--cpu NAME=PID[+PID...]] [--rounds 1]
//!            [--hook CMD] ...
//! ```
//!
//! `--rounds N` runs every (size, concurrency, operation) cell N times over all targets, round by round, each
//! round starting one target later, and reports each target's median of the N runs (errors: their sum). On a
//! shared host whose speed drifts within a minute, the median of interleaved rounds is what compares.
//!
//! A cell runs until `--seconds` have passed or `--max-gib` have moved, but at least `concurrency` requests, so
//! each worker finishes one. Cells whose `size × concurrency` exceeds `--max-in-flight-gib` are skipped (they would
//! only measure the backend's disk). Each target gets its own bucket, `bench-<name>`, created if missing; cell
//! objects are `<size>/<worker>`, so GET reads what the PUT of the same cell wrote; they are deleted after the
//! cell. Each worker writes only its own key: concurrent PUTs of one key are not what this measures, and the
//! fs-backend does not make them atomic (see src/embedded.rs). Output: one JSON
//! line per cell (`--json`), and a markdown table with MB/s, requests/s, p50/p99 latency and each target's ratio
//! to `--baseline`.
//!
//! `--cpu NAME=PIDS` names the processes that serve target NAME (a gateway; nginx's master and workers): their
//! CPU time (user + system, from /proc) is read before and after each of that target's cells, and reported as CPU
//! seconds per GiB moved. Unlike throughput, that figure hardly moves when other work shares the machine, so it
//! compares targets fairly on a busy 2-core box. Cells run one target at a time, so a process serving several
//! targets (the SSE gateway) is charged to the target of the cell.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Empty, Full, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use s3_sse_proxy::backend::sign::{S3Payload, Signer};
use s3_sse_proxy::secret::SecretString;

type Body = BoxBody<Bytes, std::io::Error>;
type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Body>;

const FRAME: usize = 1 << 20;
/// The SSE-C key every SSE-C request carries (32 bytes) and its MD5, both base64.
const SSE_C_KEY: &str = "YmVuY2gtbG9hZC1zc2UtYy1rZXktMzItYnl0ZXMhISE=";

#[derive(Clone, Copy, PartialEq)]
enum Sse {
    None,
    S3,
    C,
    Kms,
}

struct Target {
    name: String,
    url: String,
    host: String,
    bucket: String,
    sse: Sse,
    signer: Signer,
    client: HttpClient,
    /// The processes serving this target (`--cpu`).
    pids: Vec<u32>,
}

struct Settings {
    targets: Vec<Target>,
    sizes: Vec<u64>,
    concurrency: Vec<usize>,
    seconds: f64,
    max_bytes: u64,
    max_in_flight: u64,
    baseline: Option<String>,
    json: Option<std::path::PathBuf>,
    /// `--cpu NAME=PID+PID`, applied to the targets once all are parsed.
    cpu: Vec<(String, Vec<u32>)>,
    /// `--rounds`: runs of each cell per target, interleaved; the table shows their medians.
    rounds: usize,
    /// `--hook CMD`: run as `CMD begin TARGET OP` before each target's cell and `CMD end TARGET OP REQUESTS`
    /// after it (bench/instructions.sh turns a profiler on and off with it).
    hook: Option<String>,
}

/// `--hook`: the command with `args`, waited for (cells run one at a time, so blocking here times nothing).
fn hook(s: &Settings, args: &[&str]) {
    if let Some(cmd) = &s.hook {
        match std::process::Command::new(cmd).args(args).status() {
            Ok(st) if st.success() => {}
            other => eprintln!("--hook {cmd} {}: {other:?}", args.join(" ")),
        }
    }
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("B", 1)]
        .iter()
        .find_map(|(suffix, m)| s.strip_suffix(suffix).map(|n| (n, *m)))
        .unwrap_or((s, 1));
    num.parse::<u64>()
        .map(|n| n * mult)
        .map_err(|_| format!("not a size: {s}"))
}

fn size_name(n: u64) -> String {
    match n {
        n if n >= 1 << 30 && n % (1 << 30) == 0 => format!("{}GiB", n >> 30),
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{}MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{}KiB", n >> 10),
        n => format!("{n}B"),
    }
}

fn http_client(ca: Option<&str>) -> Result<HttpClient, String> {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(ca) = ca {
        for cert in CertificateDer::pem_file_iter(ca).map_err(|e| format!("{ca}: {e}"))? {
            roots
                .add(cert.map_err(|e| format!("{ca}: {e}"))?)
                .map_err(|e| format!("{ca}: {e}"))?;
        }
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(256)
        .build(connector))
}

fn parse_target(spec: &str) -> Result<Target, String> {
    let f: Vec<&str> = spec.split(',').collect();
    if !(5..=6).contains(&f.len()) {
        return Err(format!("--target NAME,URL,AK,SK,SSE[,CA]: {spec}"));
    }
    let sse = match f[4] {
        "none" => Sse::None,
        "s3" => Sse::S3,
        "c" => Sse::C,
        "kms" => Sse::Kms,
        other => return Err(format!("SSE must be none, s3, c or kms, not {other}")),
    };
    let url = f[1].trim_end_matches('/').to_owned();
    let host = url
        .split_once("://")
        .map(|(_, h)| h.to_owned())
        .ok_or_else(|| format!("not a URL: {url}"))?;
    Ok(Target {
        name: f[0].to_owned(),
        bucket: format!("bench-{}", f[0].to_ascii_lowercase()),
        url,
        host,
        sse,
        signer: Signer::new(f[2].to_owned(), SecretString::new(f[3].to_owned()), "us-east-1".into()),
        client: http_client(f.get(5).copied())?,
        pids: Vec::new(),
    })
}

fn settings() -> Result<Settings, String> {
    let mut s = Settings {
        targets: Vec::new(),
        sizes: vec![4 << 10, 1 << 20, 64 << 20, 1 << 30],
        concurrency: vec![1, 16, 64],
        seconds: 5.0,
        max_bytes: 2 << 30,
        max_in_flight: 1 << 30,
        baseline: None,
        json: None,
        cpu: Vec::new(),
        rounds: 1,
        hook: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--target" => s.targets.push(parse_target(&value()?)?),
            "--sizes" => s.sizes = value()?.split(',').map(parse_size).collect::<Result<_, _>>()?,
            "--concurrency" => {
                s.concurrency = value()?
                    .split(',')
                    .map(|c| c.parse().map_err(|_| format!("not a number: {c}")))
                    .collect::<Result<_, _>>()?
            }
            "--seconds" => s.seconds = value()?.parse().map_err(|_| "--seconds: not a number")?,
            "--max-gib" => {
                s.max_bytes =
                    (value()?.parse::<f64>().map_err(|_| "--max-gib: not a number")? * (1u64 << 30) as f64) as u64
            }
            "--max-in-flight-gib" => {
                s.max_in_flight = (value()?
                    .parse::<f64>()
                    .map_err(|_| "--max-in-flight-gib: not a number")?
                    * (1u64 << 30) as f64) as u64
            }
            "--baseline" => s.baseline = Some(value()?),
            "--rounds" => {
                s.rounds = value()?
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or("--rounds: a number above 0")?
            }
            "--json" => s.json = Some(value()?.into()),
            "--hook" => s.hook = Some(value()?),
            "--cpu" => {
                let v = value()?;
                let (name, pids) = v.split_once('=').ok_or("--cpu NAME=PID[+PID...]")?;
                let pids = pids
                    .split('+')
                    .map(|p| p.parse().map_err(|_| format!("--cpu: not a pid: {p}")))
                    .collect::<Result<_, String>>()?;
                s.cpu.push((name.to_owned(), pids));
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if s.targets.is_empty() {
        return Err("at least one --target".into());
    }
    for (name, pids) in std::mem::take(&mut s.cpu) {
        // BENCH_ONLY may have left the target out: its processes are then not measured.
        if let Some(t) = s.targets.iter_mut().find(|t| t.name == name) {
            t.pids = pids;
        }
    }
    Ok(s)
}

impl Target {
    fn request(&self, method: Method, path: &str, len: Option<u64>, body: Body) -> Request<Body> {
        let mut b = Request::builder()
            .method(method.clone())
            .uri(format!("{}{path}", self.url))
            .header(http::header::HOST, &self.host);
        if let Some(len) = len {
            b = b.header(http::header::CONTENT_LENGTH, len);
        }
        // `/bucket/key`: SSE headers go on object PUTs (and SSE-C's on GETs too), never on bucket requests.
        let object = path.matches('/').count() >= 2;
        let put = object && method == Method::PUT;
        match self.sse {
            Sse::S3 if put => b = b.header("x-amz-server-side-encryption", "AES256"),
            Sse::Kms if put => b = b.header("x-amz-server-side-encryption", "aws:kms"),
            Sse::C if object && method != Method::DELETE => {
                b = b
                    .header("x-amz-server-side-encryption-customer-algorithm", "AES256")
                    .header("x-amz-server-side-encryption-customer-key", SSE_C_KEY)
                    .header("x-amz-server-side-encryption-customer-key-md5", sse_c_md5())
            }
            _ => {}
        }
        let mut req = b.body(body).expect("request");
        self.signer
            .sign_s3(&mut req, S3Payload::Unsigned, std::time::SystemTime::now())
            .expect("signing");
        req
    }

    async fn send(&self, req: Request<Body>) -> Result<(StatusCode, u64), String> {
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| format!("{}: {e:?}", self.name))?;
        let status = resp.status();
        let mut body = resp.into_body();
        let mut n = 0u64;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("{}: body: {e}", self.name))?;
            if let Some(d) = frame.data_ref() {
                n += d.len() as u64;
            }
        }
        Ok((status, n))
    }

    async fn ensure_bucket(&self) -> Result<(), String> {
        let req = self.request(Method::PUT, &format!("/{}", self.bucket), Some(0), empty());
        let (status, _) = self.send(req).await?;
        if status.is_success() || status == StatusCode::CONFLICT {
            Ok(())
        } else {
            Err(format!("{}: CreateBucket {}: {status}", self.name, self.bucket))
        }
    }
}

fn sse_c_md5() -> String {
    use base64::Engine;
    use md5::{Digest, Md5};
    let key = base64::engine::general_purpose::STANDARD
        .decode(SSE_C_KEY)
        .expect("base64");
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(&key))
}

fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// `len` bytes streamed in frames sliced from `data` (one shared buffer).
fn body_of(data: &Bytes, len: u64) -> Body {
    if len <= data.len() as u64 {
        return Full::new(data.slice(..len as usize))
            .map_err(|never| match never {})
            .boxed();
    }
    let data = data.clone();
    let frames = futures_util::stream::unfold(len, move |left| {
        let data = data.clone();
        async move {
            (left > 0).then(|| {
                let n = left.min(data.len() as u64);
                (Ok(Frame::data(data.slice(..n as usize))), left - n)
            })
        }
    });
    BodyExt::boxed(StreamBody::new(frames))
}

/// Clock ticks per second, the unit of /proc/PID/stat's CPU times.
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(100.0)
}

/// User + system CPU seconds used so far by `pids` (fields 14 and 15 of /proc/PID/stat, after the `(comm)`).
fn cpu_seconds(pids: &[u32], ticks: f64) -> Option<f64> {
    let mut total = 0u64;
    for pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let after_comm = &stat[stat.rfind(')')? + 2..];
        let f: Vec<&str> = after_comm.split(' ').collect();
        // after_comm starts at field 3 (state): utime is field 14, stime 15.
        total += f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    }
    Some(total as f64 / ticks)
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Put,
    Get,
}

struct CellResult {
    requests: u64,
    bytes: u64,
    wall: Duration,
    latencies: Vec<Duration>,
    errors: u64,
    first_error: Option<String>,
}

async fn run_cell(t: Arc<Target>, data: Bytes, op: Op, size: u64, conc: usize, s: &Settings) -> CellResult {
    let deadline = Duration::from_secs_f64(s.seconds);
    let max_requests = (s.max_bytes / size).max(conc as u64);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..conc {
        let (t, data, next) = (t.clone(), data.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let (mut bytes, mut errors, mut first_error) = (0u64, 0u64, None);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= max_requests || (i >= conc as u64 && start.elapsed() >= deadline) {
                    break;
                }
                let path = format!("/{}/{}/{worker}", t.bucket, size_name(size));
                let req = match op {
                    Op::Put => t.request(Method::PUT, &path, Some(size), body_of(&data, size)),
                    Op::Get => t.request(Method::GET, &path, None, empty()),
                };
                let began = Instant::now();
                match t.send(req).await {
                    Ok((status, n)) if status.is_success() => {
                        lat.push(began.elapsed());
                        bytes += if op == Op::Put { size } else { n };
                    }
                    Ok((status, _)) => {
                        errors += 1;
                        first_error.get_or_insert(format!("{status}"));
                    }
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            (lat, bytes, errors, first_error)
        }));
    }
    let mut r = CellResult {
        requests: 0,
        bytes: 0,
        wall: Duration::ZERO,
        latencies: Vec::new(),
        errors: 0,
        first_error: None,
    };
    for w in workers {
        let (lat, bytes, errors, first_error) = w.await.expect("worker");
        r.requests += lat.len() as u64;
        r.latencies.extend(lat);
        r.bytes += bytes;
        r.errors += errors;
        if r.first_error.is_none() {
            r.first_error = first_error;
        }
    }
    r.wall = start.elapsed();
    r.latencies.sort();
    r
}

/// One row of a target's runs of a cell: the median of each figure (of an even count, the mean of the middle
/// two), errors summed.
fn median_row(mut runs: Vec<Row>) -> Row {
    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    }
    let of = |f: fn(&Row) -> f64, runs: &[Row]| median(runs.iter().map(f).collect());
    let cpu: Vec<f64> = runs.iter().filter_map(|r| r.cpu_s_per_gib).collect();
    let (mbps, rps, p50_ms, p99_ms) = (
        of(|r| r.mbps, &runs),
        of(|r| r.rps, &runs),
        of(|r| r.p50_ms, &runs),
        of(|r| r.p99_ms, &runs),
    );
    let errors = runs.iter().map(|r| r.errors).sum();
    let mut row = runs.swap_remove(0);
    (row.mbps, row.rps, row.p50_ms, row.p99_ms, row.errors) = (mbps, rps, p50_ms, p99_ms, errors);
    row.cpu_s_per_gib = (!cpu.is_empty()).then(|| median(cpu));
    row
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e3
}

struct Row {
    op: &'static str,
    size: u64,
    conc: usize,
    target: String,
    mbps: f64,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
    /// CPU seconds the target's processes used per GiB moved in this cell (`--cpu`).
    cpu_s_per_gib: Option<f64>,
}

#[tokio::main]
async fn main() {
    let mut s = match settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bench-load: {e}");
            std::process::exit(2);
        }
    };
    let mut data = vec![0u8; FRAME];
    aws_lc_rs::rand::fill(&mut data).expect("random bytes");
    let data = Bytes::from(data);
    let targets: Vec<Arc<Target>> = std::mem::take(&mut s.targets).into_iter().map(Arc::new).collect();
    for t in &targets {
        if let Err(e) = t.ensure_bucket().await {
            eprintln!("bench-load: {e}");
            std::process::exit(1);
        }
    }
    let ticks = clock_ticks();
    let mut json = s.json.as_ref().map(|p| std::fs::File::create(p).expect("--json file"));
    let mut rows = Vec::new();
    for &size in &s.sizes {
        for &conc in &s.concurrency {
            if size * conc as u64 > s.max_in_flight {
                eprintln!(
                    "skip {} x {conc}: more than --max-in-flight-gib in flight",
                    size_name(size)
                );
                continue;
            }
            for op in [Op::Put, Op::Get] {
                let mut runs: Vec<Vec<Row>> = targets.iter().map(|_| Vec::new()).collect();
                for (round, k) in (0..s.rounds).flat_map(|r| (0..targets.len()).map(move |k| (r, k))) {
                    let i = (k + round) % targets.len();
                    let t = &targets[i];
                    let op_name = if op == Op::Put { "PUT" } else { "GET" };
                    hook(&s, &["begin", &t.name, op_name]);
                    let cpu_before = cpu_seconds(&t.pids, ticks);
                    let r = run_cell(t.clone(), data.clone(), op, size, conc, &s).await;
                    hook(&s, &["end", &t.name, op_name, &r.requests.to_string()]);
                    let secs = r.wall.as_secs_f64();
                    let cpu = cpu_before
                        .zip(cpu_seconds(&t.pids, ticks))
                        .filter(|_| !t.pids.is_empty() && r.bytes > 0)
                        .map(|(a, b)| b - a);
                    let cpu_s_per_gib = cpu.map(|c| c / (r.bytes as f64 / (1u64 << 30) as f64));
                    let row = Row {
                        op: op_name,
                        size,
                        conc,
                        target: t.name.clone(),
                        mbps: r.bytes as f64 / secs / 1e6,
                        rps: r.requests as f64 / secs,
                        p50_ms: percentile(&r.latencies, 0.50),
                        p99_ms: percentile(&r.latencies, 0.99),
                        errors: r.errors,
                        cpu_s_per_gib,
                    };
                    eprintln!(
                        "{:>3} {:>6} c={:<3} {:<12} {:>9.1} MB/s {:>9.1} req/s p50 {:>8.2} ms p99 {:>8.2} ms \
                         ({} requests, {} errors{}){}",
                        row.op,
                        size_name(size),
                        conc,
                        row.target,
                        row.mbps,
                        row.rps,
                        row.p50_ms,
                        row.p99_ms,
                        r.requests,
                        r.errors,
                        r.first_error
                            .as_deref()
                            .map(|e| format!(", first: {e}"))
                            .unwrap_or_default(),
                        cpu.filter(|_| r.requests > 0)
                            .map(|c| format!(
                                " cpu {:.2} s/GiB {:.2} s/10k req",
                                cpu_s_per_gib.unwrap_or_default(),
                                c * 1e4 / r.requests as f64
                            ))
                            .unwrap_or_default()
                    );
                    if let Some(f) = json.as_mut() {
                        use std::io::Write;
                        let line = serde_json::json!({
                            "op": row.op, "size": size, "concurrency": conc, "target": row.target,
                            "requests": r.requests, "bytes": r.bytes, "seconds": secs, "mb_per_s": row.mbps,
                            "requests_per_s": row.rps, "p50_ms": row.p50_ms, "p99_ms": row.p99_ms,
                            "errors": r.errors, "cpu_seconds": cpu, "cpu_seconds_per_gib": cpu_s_per_gib,
                            "cpu_seconds_per_10k_requests": cpu.filter(|_| r.requests > 0)
                                .map(|c| c * 1e4 / r.requests as f64),
                        });
                        writeln!(f, "{line}").expect("--json write");
                    }
                    runs[i].push(row);
                }
                rows.extend(runs.into_iter().map(median_row));
            }
            // The cell's objects go, so that a run's footprint at the backend stays one cell's.
            for t in &targets {
                for i in 0..conc {
                    let path = format!("/{}/{}/{i}", t.bucket, size_name(size));
                    let _ = t.send(t.request(Method::DELETE, &path, None, empty())).await;
                }
            }
        }
    }
    print_table(&rows, &targets, s.baseline.as_deref());
    print_cpu_table(&rows, &targets);
    if rows.iter().any(|r| r.errors > 0) {
        std::process::exit(1);
    }
}

fn print_table(rows: &[Row], targets: &[Arc<Target>], baseline: Option<&str>) {
    let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
    println!(
        "| op | size | conc | {} |",
        names
            .iter()
            .map(|n| format!("{n} MB/s (req/s) p50/p99 ms"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    println!("|---|---|---:|{}", "---:|".repeat(names.len()));
    for cell in rows.chunks(names.len()) {
        let base = baseline.and_then(|b| cell.iter().find(|r| r.target == b));
        let cols: Vec<String> = cell
            .iter()
            .map(|r| {
                let ratio = base
                    .filter(|b| b.target != r.target)
                    .map(|b| {
                        if r.size <= 64 << 10 {
                            format!(" **{:.2}×**", r.rps / b.rps)
                        } else {
                            format!(" **{:.2}×**", r.mbps / b.mbps)
                        }
                    })
                    .unwrap_or_default();
                format!("{:.1} ({:.0}) {:.1}/{:.1}{ratio}", r.mbps, r.rps, r.p50_ms, r.p99_ms)
            })
            .collect();
        print_row(&cell[0], &cols);
    }
}

/// CPU seconds per GiB moved, for the targets measured with `--cpu`.
fn print_cpu_table(rows: &[Row], targets: &[Arc<Target>]) {
    let names: Vec<&str> = targets
        .iter()
        .filter(|t| !t.pids.is_empty())
        .map(|t| t.name.as_str())
        .collect();
    if names.is_empty() {
        return;
    }
    println!();
    println!("CPU seconds per GiB moved (user + system of the serving process):");
    println!();
    println!("| op | size | conc | {} |", names.join(" | "));
    println!("|---|---|---:|{}", "---:|".repeat(names.len()));
    for cell in rows.chunks(targets.len()) {
        let cols: Vec<String> = names
            .iter()
            .map(|n| {
                cell.iter()
                    .find(|r| r.target == *n)
                    .and_then(|r| r.cpu_s_per_gib)
                    .map(|c| format!("{c:.2}"))
                    .unwrap_or_else(|| "–".into())
            })
            .collect();
        print_row(&cell[0], &cols);
    }
}

/// One markdown row: the cell (operation, size, concurrency of `r`), then `cols`.
fn print_row(r: &Row, cols: &[String]) {
    println!(
        "| {} | {} | {} | {} |",
        r.op,
        size_name(r.size),
        r.conc,
        cols.join(" | ")
    );
}
