//! The floor of the gateway's stack, for the benchmarks: a TLS reverse proxy built from the same parts as the
//! gateway (tokio, rustls with aws-lc-rs, hyper's server and hyper-util's pooled client) that does nothing else.
//! It forwards each request to the backend as it came (method, path, headers, streamed body) and the answer back
//! as it came: no SigV4, no policy, no encryption, no metrics. What the gateway costs above it is the gateway's
//! own work; what it costs above nginx is the stack's.
//!
//! ```text
//! bench-floor LISTEN BACKEND_URL CERT_PEM KEY_PEM [--per-thread N]
//! ```
//!
//! By default one multi-threaded tokio runtime (`TOKIO_WORKER_THREADS` workers, as the gateway). `--per-thread N`
//! runs N single-threaded runtimes instead, each with its own listener (SO_REUSEPORT) and its own backend pool,
//! so that a request never leaves the thread that accepted it (nginx's model).

use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper::body::{Bytes, Incoming};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpSocket;

type Body = BoxBody<Bytes, hyper::Error>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (listen, backend, cert, key) = match &args[..] {
        [l, b, c, k, ..] => (l.clone(), b.trim_end_matches('/').to_owned(), c.clone(), k.clone()),
        _ => {
            eprintln!("usage: bench-floor LISTEN BACKEND_URL CERT_PEM KEY_PEM [--per-thread N]");
            std::process::exit(2);
        }
    };
    let per_thread: Option<usize> = match &args[4..] {
        [flag, n] if flag == "--per-thread" => Some(n.parse().expect("--per-thread N")),
        [] => None,
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
            .block_on(serve(listen, tls, backend)),
        Some(n) => {
            let threads: Vec<_> = (0..n)
                .map(|_| {
                    let (tls, backend) = (tls.clone(), backend.clone());
                    std::thread::spawn(move || {
                        tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .expect("runtime")
                            .block_on(serve(listen, tls, backend));
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

async fn serve(listen: SocketAddr, tls: Arc<rustls::ServerConfig>, backend: Arc<str>) {
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
        .build(http);
    let server = Arc::new(Builder::new(TokioExecutor::new()));
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (acceptor, client, backend, server) = (acceptor.clone(), client.clone(), backend.clone(), server.clone());
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else { return };
            let svc = hyper::service::service_fn(move |req| forward(req, client.clone(), backend.clone()));
            let _ = server.serve_connection(TokioIo::new(tls), svc).await;
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
    Ok(match client.request(hyper::Request::from_parts(parts, body)).await {
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
    })
}
