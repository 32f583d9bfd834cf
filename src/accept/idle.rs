//! Idle connections and stalled bodies (`[limits] idle_timeout_secs`).
//!
//! A connection is closed when no byte has moved on it for the idle timeout and either the gateway owes the
//! client nothing (no request being worked on) or the client owes the gateway a read (a response write is
//! blocked). A request body that stalls that long ends the request with an error. Waiting for the backend is
//! not idleness: the backend's own timeouts govern it. Never closes a connection that is making progress. A quiet
//! connection is closed as HTTP and TLS close it (close_notify), so that a client can tell it from a failure.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::body::BoxError;

/// What one connection did last, shared by its socket, its requests and its watchdog.
#[derive(Debug)]
pub struct Activity {
    start: Instant,
    /// Milliseconds since `start` of the last byte read or written.
    last: AtomicU64,
    /// Milliseconds since `start` + 1 when a write started to wait for the client; 0 when none waits.
    write_blocked: AtomicU64,
    /// Requests whose response head is not yet produced.
    in_flight: AtomicU64,
}

impl Activity {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            last: AtomicU64::new(0),
            write_blocked: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn touch(&self) {
        self.last.store(self.now_ms(), Ordering::Relaxed);
        self.write_blocked.store(0, Ordering::Relaxed);
    }

    /// A request arrived; the returned guard marks its response head done when dropped.
    pub fn request(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.touch();
        InFlight(self.clone())
    }

    /// Whether the connection should be closed now, and why.
    fn expired(&self, idle: Duration) -> Option<Idle> {
        let idle_ms = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX);
        if self.now_ms().saturating_sub(self.last.load(Ordering::Relaxed)) < idle_ms {
            None
        } else if self.write_blocked.load(Ordering::Relaxed) > 0 {
            Some(Idle::NotReading)
        } else if self.in_flight.load(Ordering::Relaxed) == 0 {
            Some(Idle::Quiet)
        } else {
            None
        }
    }

    /// Resolves when the connection has been idle (see the module doc) for `idle`.
    pub async fn idle_for(&self, idle: Duration) -> Idle {
        let tick = (idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
        loop {
            tokio::time::sleep(tick).await;
            if let Some(why) = self.expired(idle) {
                return why;
            }
        }
    }
}

/// Why a connection is idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idle {
    /// Between requests: the gateway owes the client nothing.
    Quiet,
    /// A response write has waited for the client to read for the whole idle timeout.
    NotReading,
}

pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// A socket that reports its reads and writes to an [`Activity`].
pub struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> Watched<T> {
    pub fn new(inner: T, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.note_write(&r);
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.note_write(&r);
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<T> Watched<T> {
    fn note_write(&self, r: &Poll<std::io::Result<usize>>) {
        match r {
            Poll::Ready(Ok(n)) if *n > 0 => self.activity.touch(),
            Poll::Pending => {
                let since = self.activity.now_ms() + 1;
                let _ = self
                    .activity
                    .write_blocked
                    .compare_exchange(0, since, Ordering::Relaxed, Ordering::Relaxed);
            }
            _ => {}
        }
    }
}

/// The request body stalled for the idle timeout.
#[derive(Debug, thiserror::Error)]
#[error("the client sent no request body bytes for {0:?}")]
pub struct BodyStalled(pub Duration);

/// Whether a body error (or one of its sources) is a [`BodyStalled`].
pub fn is_stall(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(e) = cur {
        if e.is::<BodyStalled>() {
            return true;
        }
        cur = e.source();
    }
    false
}

/// A request body that fails with [`BodyStalled`] when no frame arrives for `idle` while it is being read.
pub struct StallTimeout<B> {
    inner: B,
    idle: Duration,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<B> StallTimeout<B> {
    pub fn new(inner: B, idle: Duration) -> Self {
        Self {
            inner,
            idle,
            timer: None,
        }
    }
}

impl<B> HttpBody for StallTimeout<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(r) => {
                this.timer = None;
                Poll::Ready(r.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let idle = this.idle;
                let timer = this.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyStalled(idle))))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
