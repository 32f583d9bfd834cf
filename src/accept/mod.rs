//! Accept: the HTTPS listener. TLS handshake (with a timeout), HTTP/1.1 and HTTP/2, graceful shutdown, and the
//! connection-level `[limits]`: how many connections, how long for a handshake, a header section, an idle
//! connection or a stalled body, and how large a header section. There is no plain-HTTP listener for S3 traffic.

pub mod idle;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::config::Limits;
use crate::gateway::{ConnInfo, Gateway};

/// The HTTP parser's own header limit: beyond it a request gets hyper's bare 431, below it (but above
/// `max_header_bytes`) the gateway's 400 RequestHeaderSectionTooLarge. Room for a long request line too. It is
/// hyper's read buffer as well, and so the largest piece of a request body: at 64 KiB a large PUT went to the
/// backend in 64 KiB writes, one wake-up each, against the floor's ~380 KiB; 128 KiB cut its CPU per GiB by ~6 %,
/// and 400 KiB (hyper's default) by ~12 % but raised the peak memory of 64 concurrent 256 MiB PUTs past 128 MiB
/// (BENCHMARKS.md, "hyper's read buffer").
fn parser_header_limit(limits: &Limits) -> usize {
    limits.max_header_bytes.saturating_mul(4).max(128 * 1024)
}

/// One of the `max_connections` places, given back when the connection ends. A counter, not a semaphore, so that
/// the limit can change (a SIGHUP reload) without anything but the next accept noticing.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(open: &Arc<AtomicUsize>, max: usize) -> Option<Self> {
        open.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1))
            .ok()
            .map(|_| Self(open.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The HTTP parser's limits, which its connection builder fixes.
#[derive(Clone, Copy, PartialEq, Eq)]
struct ParserLimits {
    header_read_timeout: Duration,
    header_limit: usize,
}

impl ParserLimits {
    fn of(limits: &Limits) -> Self {
        Self {
            header_read_timeout: Duration::from_secs(limits.header_read_timeout_secs),
            header_limit: parser_header_limit(limits),
        }
    }

    fn builder(self) -> Builder<TokioExecutor> {
        let mut builder = Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout)
            .max_buf_size(self.header_limit);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(self.header_limit).unwrap_or(u32::MAX));
        builder
    }
}

/// Serve HTTPS until `shutdown` resolves, then let in-flight requests finish (up to 30 s).
pub async fn serve_https(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    gateway: Arc<Gateway>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    // Every `[limits]` value is read where it applies, so that a SIGHUP reload takes effect on the next
    // connection: the connection count against the current `max_connections`, the HTTP parser's limits by a
    // builder made again when they change.
    let open = Arc::new(AtomicUsize::new(0));
    let acceptor = TlsAcceptor::from(tls);
    // Shutdown tells every connection to finish its request in flight and close; each holds a receiver, so the
    // drain is over when the last is dropped.
    let (drain_tx, _) = tokio::sync::watch::channel(());
    let mut parser = ParserLimits::of(&gateway.settings.load().limits);
    let mut builder = Arc::new(parser.builder());
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
                gateway.metrics.draining.store(true, Ordering::Relaxed);
                drop(listener);
                break;
            }
        };
        // Over the limit: close at once rather than leave it in the backlog, where it would wait unanswered and
        // then take a slot ahead of newer clients; a client sees a reset and retries.
        let now = gateway.settings.load().limits;
        let Some(slot) = Slot::take(&open, now.max_connections) else {
            gateway.metrics.connections_rejected.inc();
            tracing::debug!(%peer, "connection limit reached: closed");
            drop(tcp);
            continue;
        };
        if ParserLimits::of(&now) != parser {
            parser = ParserLimits::of(&now);
            builder = Arc::new(parser.builder());
        }
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let gateway = gateway.clone();
        let builder = builder.clone();
        let handshake_timeout = Duration::from_secs(now.tls_handshake_timeout_secs);
        let idle_timeout = Duration::from_secs(now.idle_timeout_secs);
        let mut drain = drain_tx.subscribe();
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
                    // Boxed: hyper moves the service's future into its connection; the request's whole life is
                    // kilobytes, the box a pointer.
                    let resp = Box::pin(gateway.handle(req, info)).await;
                    drop(in_flight);
                    resp
                }
            });
            let conn = builder.serve_connection(TokioIo::new(tls), svc).into_owned();
            tokio::pin!(conn);
            // `closing`: graceful shutdown begun (drain or idle); `idle_close`: begun by the idle timeout, and bounded.
            let (mut closing, mut idle_close) = (false, false);
            loop {
                tokio::select! {
                    // The connection first: a request that has reached the socket is read (and marks the
                    // connection busy) before the idle check may close it under the client.
                    biased;
                    r = conn.as_mut() => {
                        if let Err(e) = r {
                            tracing::debug!(%peer, error = %e, "connection ended with an error");
                        }
                        break;
                    }
                    _ = drain.changed(), if !closing => {
                        conn.as_mut().graceful_shutdown();
                        closing = true;
                    }
                    idle = activity.idle_for(idle_timeout), if !closing => {
                        metrics.connections_timed_out.inc();
                        tracing::debug!(%peer, ?idle, "idle timeout: connection closed");
                        match idle {
                            // Closed as HTTP and TLS close (close_notify), so that the client can tell it from a
                            // failure and open another connection for its next request.
                            idle::Idle::Quiet => {
                                conn.as_mut().graceful_shutdown();
                                (closing, idle_close) = (true, true);
                            }
                            // The client does not read what it is owed: nothing graceful can reach it.
                            idle::Idle::NotReading => break,
                        }
                    }
                    // An idle close that does not complete (the client stopped reading its close) is cut. A drain's
                    // close waits for the request in flight: the drain timeout bounds it.
                    () = tokio::time::sleep(idle_timeout), if idle_close => break,
                }
            }
            open.dec();
        });
    }
    // In-flight requests finish (idle keep-alive connections close now; HTTP/2 gets GOAWAY), and so do the writes
    // whose clients have left, up to the drain timeout.
    let drain_timeout_secs = gateway.settings.load().limits.drain_timeout_secs;
    tokio::select! {
        () = async {
            drain_tx.send_replace(());
            drain_tx.closed().await;
            gateway.writes_in_flight.closed().await;
        } => tracing::info!("shutdown: every connection and write finished"),
        () = tokio::time::sleep(Duration::from_secs(drain_timeout_secs)) => {
            tracing::warn!(drain_timeout_secs, "shutdown: drain timeout, closing the connections still open");
        }
    }
}

pub fn local_addr(l: &TcpListener) -> SocketAddr {
    l.local_addr().expect("bound listener has an address")
}
