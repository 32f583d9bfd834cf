//! Accept: the HTTPS listener. TLS handshake (with a timeout), HTTP/1.1 and HTTP/2, graceful shutdown, and the
//! connection-level `[limits]`: how many connections, how long for a handshake, a header section, an idle
//! connection or a stalled body, and how large a header section. There is no plain-HTTP listener for S3 traffic.

pub mod idle;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::config::Limits;
use crate::gateway::{ConnInfo, Gateway};

/// The HTTP parser's own header limit: beyond it a request gets hyper's bare 431, below it (but above
/// `max_header_bytes`) the gateway's 400 RequestHeaderSectionTooLarge. Room for a long request line too.
fn parser_header_limit(limits: &Limits) -> usize {
    limits.max_header_bytes.saturating_mul(4).max(64 * 1024)
}

/// Serve HTTPS until `shutdown` resolves, then let in-flight requests finish (up to 30 s).
pub async fn serve_https(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    gateway: Arc<Gateway>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    // The connection count and the HTTP parser's limits are fixed at start; the rest of `[limits]` is read where
    // it applies, so that a SIGHUP reload takes effect on the next connection.
    let limits = gateway.settings.load().limits;
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let acceptor = TlsAcceptor::from(tls);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    let header_limit = parser_header_limit(&limits);
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(limits.header_read_timeout_secs))
        .max_buf_size(header_limit);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(header_limit).unwrap_or(u32::MAX));
    let builder = Arc::new(builder);
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => {
                // Out of the load balancer at once; no new connection from here on.
                gateway.metrics.draining.store(true, std::sync::atomic::Ordering::Relaxed);
                drop(listener);
                break;
            }
        };
        // Over the limit: close at once rather than leave it in the backlog, where it would wait unanswered and
        // then take a slot ahead of newer clients; a client sees a reset and retries.
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            gateway.metrics.connections_rejected.inc();
            tracing::debug!(%peer, "connection limit reached: closed");
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let gateway = gateway.clone();
        let builder = builder.clone();
        let now = gateway.settings.load().limits;
        let handshake_timeout = Duration::from_secs(now.tls_handshake_timeout_secs);
        let idle_timeout = Duration::from_secs(now.idle_timeout_secs);
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _slot = slot;
            let activity = idle::Activity::new();
            let tcp = idle::Watched::new(tcp, activity.clone());
            let tls = match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    gateway.metrics.tls_handshake_failures.inc();
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    gateway.metrics.tls_handshake_failures.inc();
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            gateway.metrics.tls_handshakes.inc();
            let open = gateway.metrics.open_connections.clone();
            open.inc();
            let info = ConnInfo { peer, secure: true };
            let metrics = gateway.metrics.clone();
            let requests = activity.clone();
            let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let in_flight = requests.request();
                let req = req.map(|b| idle::StallTimeout::new(b, idle_timeout));
                let gateway = gateway.clone();
                async move {
                    let resp = gateway.handle(req, info).await;
                    drop(in_flight);
                    resp
                }
            });
            let conn = builder.serve_connection(TokioIo::new(tls), svc);
            tokio::select! {
                r = watcher.watch(conn.into_owned()) => if let Err(e) = r {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                },
                () = activity.idle_for(idle_timeout) => {
                    metrics.connections_timed_out.inc();
                    tracing::debug!(%peer, "idle timeout: connection closed");
                }
            }
            open.dec();
        });
    }
    // In-flight requests finish (idle keep-alive connections close now; HTTP/2 gets GOAWAY), up to the drain
    // timeout.
    let drain_timeout_secs = gateway.settings.load().limits.drain_timeout_secs;
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("shutdown: every connection finished"),
        () = tokio::time::sleep(Duration::from_secs(drain_timeout_secs)) => {
            tracing::warn!(drain_timeout_secs, "shutdown: drain timeout, closing the connections still open");
        }
    }
}

pub fn local_addr(l: &TcpListener) -> SocketAddr {
    l.local_addr().expect("bound listener has an address")
}
