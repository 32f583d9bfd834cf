//! A pass-through body that counts its data bytes as they go by and reports once when it is over (ended, failed
//! or dropped unfinished): the meter phase's view of request and response bodies.
//!
//! A request body dropped unread (the gateway answered an error before reading it) can be drained in the
//! background, up to a limit, so that the client, still sending, reads the error response instead of a
//! connection reset (a server that closes with unread data makes the kernel send RST).

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};

use super::{Body, BoxError};

/// Called with each data frame's length.
pub type OnData = Box<dyn Fn(u64) + Send + Sync>;
/// Called once with the total and whether the body ended normally.
pub type OnDone = Box<dyn FnOnce(u64, bool) + Send + Sync>;

pub struct Metered {
    inner: Body,
    total: u64,
    on_data: OnData,
    on_done: Option<OnDone>,
    drain_limit: u64,
}

/// How long a background drain may take at most.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(10);

impl Metered {
    pub fn new(inner: Body, on_data: OnData, on_done: Option<OnDone>) -> Self {
        Self {
            inner,
            total: 0,
            on_data,
            on_done,
            drain_limit: 0,
        }
    }

    /// When dropped unfinished, read and discard up to `limit` more bytes (for at most 10 s) in the background.
    pub fn drain_on_drop(mut self, limit: u64) -> Self {
        self.drain_limit = limit;
        self
    }

    fn finish(&mut self, complete: bool) {
        if let Some(f) = self.on_done.take() {
            f(self.total, complete);
        }
    }
}

impl HttpBody for Metered {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let r = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        match &r {
            Some(Ok(frame)) => {
                if let Some(d) = frame.data_ref() {
                    this.total += d.len() as u64;
                    (this.on_data)(d.len() as u64);
                }
                if this.inner.is_end_stream() {
                    this.finish(true);
                }
            }
            Some(Err(_)) => this.finish(false),
            None => this.finish(true),
        }
        Poll::Ready(r)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        let complete = self.inner.is_end_stream();
        self.finish(complete);
        if !complete
            && self.drain_limit > 0
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let mut body = std::mem::replace(&mut self.inner, super::empty());
            // Drained bytes were received from the client too: they are counted like the others.
            let on_data = std::mem::replace(&mut self.on_data, Box::new(|_| {}));
            let limit = self.drain_limit;
            rt.spawn(async move {
                use http_body_util::BodyExt;
                let drain = async {
                    let mut read = 0u64;
                    while let Some(Ok(frame)) = body.frame().await {
                        let n = frame.data_ref().map_or(0, |d| d.len() as u64);
                        on_data(n);
                        read += n;
                        if read > limit {
                            break;
                        }
                    }
                };
                let _ = tokio::time::timeout(DRAIN_TIME, drain).await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[tokio::test]
    async fn counts_and_reports_once() {
        let seen = Arc::new(AtomicU64::new(0));
        let done = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (s, d) = (seen.clone(), done.clone());
        let body = Metered::new(
            super::super::full(Bytes::from_static(b"hello world")),
            Box::new(move |n| {
                s.fetch_add(n, Ordering::Relaxed);
            }),
            Some(Box::new(move |total, complete| {
                d.lock().unwrap().push((total, complete))
            })),
        );
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(bytes.len(), 11);
        assert_eq!(seen.load(Ordering::Relaxed), 11);
        assert_eq!(*done.lock().unwrap(), vec![(11, true)]);
        // Dropped before it is read: reported as incomplete.
        let d2 = Arc::new(std::sync::Mutex::new(Vec::new()));
        let d = d2.clone();
        drop(Metered::new(
            super::super::full(Bytes::from_static(b"x")),
            Box::new(|_| {}),
            Some(Box::new(move |total, complete| {
                d.lock().unwrap().push((total, complete))
            })),
        ));
        assert_eq!(*d2.lock().unwrap(), vec![(0, false)]);
    }

    #[tokio::test]
    async fn drained_bytes_are_counted() {
        let seen = Arc::new(AtomicU64::new(0));
        let s = seen.clone();
        let on_data = Box::new(move |n| {
            s.fetch_add(n, Ordering::Relaxed);
        });
        drop(Metered::new(super::super::full(Bytes::from_static(b"unread body")), on_data, None).drain_on_drop(1024));
        for _ in 0..100 {
            if seen.load(Ordering::Relaxed) == 11 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("drained bytes counted: {}", seen.load(Ordering::Relaxed));
    }
}
