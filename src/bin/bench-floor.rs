//! The floor of the gateway's stack, for the benchmarks: a TLS reverse proxy built from the same parts as the
//! gateway (tokio, rustls with aws-lc-rs, hyper's server and hyper-util's pooled client) that does nothing else.
//! It forwards each request to the backend as it came (method, path, headers, streamed body) and the answer back
//! as it came: no SigV4, no policy, no encryption, no metrics. What the gateway costs above it is the gateway's
//! own work; what it costs above nginx is the stack's.
//!
//! ```text
//! bench-floor LISTEN BACKEND_URL CERT_PEM KEY_PEM [--per-thread N]
//! bench-floor LISTEN BACKEND_URL CERT_PEM KEY_PEM --sigv4 CLIENT_AK CLIENT_SK BACKEND_AK BACKEND_SK
//! ```
//!
//! By default one multi-threaded tokio runtime (`TOKIO_WORKER_THREADS` workers, as the gateway). `--per-thread N`
//! runs N single-threaded runtimes instead, each with its own listener (SO_REUSEPORT) and its own backend pool,
//! so that a request never leaves the thread that accepted it (nginx's model).
//!
//! `--sigv4` adds what no S3 gateway can leave out, with the gateway's own code and nothing else: it verifies the
//! client's SigV4 and its body (`auth::authenticate`, `ClientBody::verify`), and re-signs the request for the
//! backend (`backend::sign::Signer`). No classification, policy, metering, audit, header filtering or error
//! mapping: what the gateway costs above this floor is everything else it does.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper::body::{Bytes, Incoming};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use s3_sse_proxy::auth::{self, AuthLimits, CredentialStore};
use s3_sse_proxy::backend::sign::{S3Payload, Signer};
use s3_sse_proxy::body::verify::ClientBody;
use s3_sse_proxy::config::CredentialConfig;
use s3_sse_proxy::secret::SecretString;
use tokio::net::TcpSocket;

type Body = BoxBody<Bytes, hyper::Error>;

/// The `--sigv4` floor's keys: who the client is, and how to sign for the backend.
struct SigV4 {
    clients: CredentialStore,
    signer: Signer,
}

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    s3_sse_proxy::memcpy::tune();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (listen, backend, cert, key) = match &args[..] {
        [l, b, c, k, ..] => (l.clone(), b.trim_end_matches('/').to_owned(), c.clone(), k.clone()),
        _ => {
            eprintln!("usage: bench-floor LISTEN BACKEND_URL CERT_PEM KEY_PEM [--per-thread N]");
            std::process::exit(2);
        }
    };
    let (per_thread, sigv4): (Option<usize>, Option<Arc<SigV4>>) = match &args[4..] {
        [flag, n] if flag == "--per-thread" => (Some(n.parse().expect("--per-thread N")), None),
        [flag, cak, csk, bak, bsk] if flag == "--sigv4" => (None, Some(Arc::new(sigv4(cak, csk, bak, bsk)))),
        [] => (None, None),
        _ => panic!("unknown flags: {:?}", &args[4..]),
    };
    let listen: SocketAddr = listen.parse().expect("LISTEN is ip:port");
    let tls = Arc::new(tls_config(&cert, &key));
    let backend: Arc<str> = backend.into();
    match per_thread {
        None => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(serve(listen, tls, backend, sigv4)),
        Some(n) => {
            let threads: Vec<_> = (0..n)
                .map(|_| {
                    let (tls, backend) = (tls.clone(), backend.clone());
                    std::thread::spawn(move || {
                        tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .expect("runtime")
                            .block_on(serve(listen, tls, backend, None));
                    })
                })
                .collect();
            for t in threads {
                t.join().expect("runtime thread");
            }
        }
    }
}

fn tls_config(cert: &str, key: &str) -> rustls::ServerConfig {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .expect("certificate file")
        .collect::<Result<_, _>>()
        .expect("certificate");
    let key = PrivateKeyDer::from_pem_file(key).expect("key file");
    let mut c = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("certificate and key");
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    c
}

fn sigv4(client_ak: &str, client_sk: &str, backend_ak: &str, backend_sk: &str) -> SigV4 {
    SigV4 {
        clients: CredentialStore::new([CredentialConfig {
            access_key_id: client_ak.to_owned(),
            secret_access_key: SecretString::new(client_sk.to_owned()),
            display_name: None,
            allowed_buckets: vec!["*".to_owned()],
            policy: None,
            policy_file: None,
        }]),
        signer: Signer::new(
            backend_ak.to_owned(),
            SecretString::new(backend_sk.to_owned()),
            "us-east-1".to_owned(),
        ),
    }
}

async fn serve(listen: SocketAddr, tls: Arc<rustls::ServerConfig>, backend: Arc<str>, sigv4: Option<Arc<SigV4>>) {
    let socket = if listen.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .expect("socket");
    socket.set_reuseport(true).expect("SO_REUSEPORT");
    socket.set_reuseaddr(true).expect("SO_REUSEADDR");
    socket.bind(listen).expect("bind");
    let listener = socket.listen(1024).expect("listen");
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    let client: Client<HttpConnector, Incoming> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(256)
        .build(http.clone());
    let signing_client: Client<HttpConnector, s3_sse_proxy::body::Body> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(256)
        .build(http);
    let server = Arc::new(Builder::new(TokioExecutor::new()));
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (acceptor, backend, server) = (acceptor.clone(), backend.clone(), server.clone());
        let (client, signing_client, sigv4) = (client.clone(), signing_client.clone(), sigv4.clone());
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else { return };
            let tls = TokioIo::new(tls);
            let _ = match sigv4 {
                None => {
                    let svc = hyper::service::service_fn(move |req| forward(req, client.clone(), backend.clone()));
                    server.serve_connection(tls, svc).await
                }
                Some(keys) => {
                    let svc = hyper::service::service_fn(move |req| {
                        Box::pin(forward_signed(
                            req,
                            signing_client.clone(),
                            backend.clone(),
                            keys.clone(),
                        ))
                    });
                    server.serve_connection(tls, svc).await
                }
            };
        });
    }
}

async fn forward(
    req: hyper::Request<Incoming>,
    client: Client<HttpConnector, Incoming>,
    backend: Arc<str>,
) -> Result<hyper::Response<Body>, std::convert::Infallible> {
    let (mut parts, body) = req.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    parts.uri = format!("{backend}{path}").parse().expect("backend URI");
    parts.version = hyper::Version::HTTP_11;
    Ok(answer(client.request(hyper::Request::from_parts(parts, body)).await))
}

/// `forward`, with the client's signature and body verified and the request signed again for the backend.
async fn forward_signed(
    req: hyper::Request<Incoming>,
    client: Client<HttpConnector, s3_sse_proxy::body::Body>,
    backend: Arc<str>,
    keys: Arc<SigV4>,
) -> Result<hyper::Response<Body>, std::convert::Infallible> {
    let (mut parts, body) = req.into_parts();
    let refused = |status| {
        let mut r = hyper::Response::new(http_body_util::Empty::new().map_err(|e| match e {}).boxed());
        *r.status_mut() = status;
        Ok(r)
    };
    let limits = AuthLimits {
        max_clock_skew_secs: 900,
        max_presign_expiry_secs: 604_800,
        sigv2: false,
    };
    let Ok(authed) = auth::authenticate(&parts, &keys.clients, limits, None, SystemTime::now()) else {
        return refused(hyper::StatusCode::FORBIDDEN);
    };
    let Ok(body) = ClientBody::verify(body.map_err(Into::into).boxed(), authed.body_checks).await else {
        return refused(hyper::StatusCode::BAD_REQUEST);
    };
    for name in ["authorization", "x-amz-date", "x-amz-content-sha256"] {
        parts.headers.remove(name);
    }
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    parts.uri = format!("{backend}{path}").parse().expect("backend URI");
    parts.version = hyper::Version::HTTP_11;
    let payload = if body.declared.unwrap_or(0) == 0 {
        S3Payload::Empty
    } else {
        S3Payload::Unsigned
    };
    let mut req = hyper::Request::from_parts(parts, body.body);
    if keys.signer.sign_s3(&mut req, payload, SystemTime::now()).is_err() {
        return refused(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    }
    Ok(answer(client.request(req).await))
}

/// The backend's answer as it came, or 502.
fn answer(sent: Result<hyper::Response<Incoming>, hyper_util::client::legacy::Error>) -> hyper::Response<Body> {
    match sent {
        Ok(resp) => resp.map(BodyExt::boxed),
        Err(e) => {
            let mut r = hyper::Response::new(
                http_body_util::Full::new(Bytes::from(e.to_string()))
                    .map_err(|e| match e {})
                    .boxed(),
            );
            *r.status_mut() = hyper::StatusCode::BAD_GATEWAY;
            r
        }
    }
}
