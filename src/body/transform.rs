//! The crypto body adapter: runs a [`crate::crypto::stream`] state machine over a body, frame by frame.
//! Encryption of request bodies and decryption of response bodies are the same shape.
//!
//! On an authentication failure the stream ends with an error: hyper then aborts the connection, so a client
//! that already has the status line sees a short body, never a wrong one. A response can hold its head until
//! the first output ([`TransformBody::first_output`]), so that a failure there is still an error status.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};

use super::{Body, BoxError};
use crate::crypto::CryptoError;
use crate::crypto::stream::{ChainOpener, StreamOpener, StreamSealer};

/// A sans-IO stream transformation.
pub trait Transform: Send + Sync + Unpin + 'static {
    fn push(&mut self, data: &[u8], out: &mut Vec<Bytes>) -> Result<(), CryptoError>;
    fn finish(&mut self, out: &mut Vec<Bytes>) -> Result<(), CryptoError>;
}

impl Transform for StreamSealer {
    fn push(&mut self, data: &[u8], out: &mut Vec<Bytes>) -> Result<(), CryptoError> {
        StreamSealer::push(self, data, out)
    }
    fn finish(&mut self, out: &mut Vec<Bytes>) -> Result<(), CryptoError> {
        StreamSealer::finish(self, out)
    }
}

impl Transform for StreamOpener {
    fn push(&mut self, data: &[u8], out: &mut Vec<Bytes>) -> Result<(), CryptoError> {
        StreamOpener::push(self, data, out)
    }
    fn finish(&mut self, _out: &mut Vec<Bytes>) -> Result<(), CryptoError> {
        StreamOpener::finish(self)
    }
}

impl Transform for ChainOpener {
    fn push(&mut self, data: &[u8], out: &mut Vec<Bytes>) -> Result<(), CryptoError> {
        ChainOpener::push(self, data, out)
    }
    fn finish(&mut self, _out: &mut Vec<Bytes>) -> Result<(), CryptoError> {
        ChainOpener::finish(self)
    }
}

/// What a transform reports as it runs: bytes in and out with the time spent on them, and a failure (for
/// metrics and logs; never with key material).
pub trait Meter: Send + Sync + 'static {
    fn progress(&self, input: usize, output: usize, spent: Duration);
    fn failed(&self, e: &CryptoError);
}

pub type BoxMeter = Box<dyn Meter>;

pub struct TransformBody<T: Transform> {
    inner: Body,
    transform: T,
    ready: VecDeque<Bytes>,
    scratch: Vec<Bytes>,
    ended: bool,
    length: Option<u64>,
    meter: BoxMeter,
    failed: bool,
}

impl<T: Transform> TransformBody<T> {
    /// `length` is the exact output length, when known (it becomes the body's size hint).
    pub fn new(inner: Body, transform: T, length: Option<u64>, meter: BoxMeter) -> Self {
        Self {
            inner,
            transform,
            ready: VecDeque::new(),
            scratch: Vec::new(),
            ended: false,
            length,
            meter,
            failed: false,
        }
    }

    /// End the stream on a transform error (metered once), giving the error to return.
    fn fail(&mut self, e: CryptoError) -> BoxError {
        self.ended = true;
        self.ready.clear();
        if !self.failed {
            self.failed = true;
            self.meter.failed(&e);
        }
        Box::new(e)
    }

    /// Read the inner body until the transform has produced its first output (for a decrypting body: the first
    /// segment has been authenticated) or has ended. The caller can still answer with an error status when this
    /// fails, instead of cutting a response whose head is already sent; no first-byte latency is added, since
    /// no byte could be sent before this point anyway. Holds at most one segment's output.
    pub async fn first_output(mut self) -> Result<Self, BoxError> {
        std::future::poll_fn(|cx| {
            loop {
                if !self.ready.is_empty() || self.ended {
                    return Poll::Ready(Ok::<(), BoxError>(()));
                }
                ready!(self.poll_fill(cx))?;
            }
        })
        .await?;
        Ok(self)
    }

    /// Read one frame of the inner body through the transform into `ready` (or end the stream).
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        match ready!(Pin::new(&mut self.inner).poll_frame(cx)) {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    let started = Instant::now();
                    let r = self.transform.push(&data, &mut self.scratch);
                    self.produced(data.len(), started);
                    r.map_err(|e| self.fail(e))?;
                }
            }
            Some(Err(e)) => {
                self.ended = true;
                self.ready.clear();
                return Poll::Ready(Err(e));
            }
            None => {
                let started = Instant::now();
                let r = self.transform.finish(&mut self.scratch);
                self.produced(0, started);
                r.map_err(|e| self.fail(e))?;
                self.ended = true;
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Move what the transform produced to `ready`, and meter it.
    fn produced(&mut self, input: usize, started: Instant) {
        let output: usize = self.scratch.iter().map(Bytes::len).sum();
        self.meter.progress(input, output, started.elapsed());
        self.ready.extend(self.scratch.drain(..));
    }
}

impl<T: Transform> HttpBody for TransformBody<T> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            if let Some(b) = this.ready.pop_front() {
                return Poll::Ready(Some(Ok(Frame::data(b))));
            }
            if this.ended {
                return Poll::Ready(None);
            }
            if let Err(e) = ready!(this.poll_fill(cx)) {
                return Poll::Ready(Some(Err(e)));
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended && self.ready.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        self.length.map_or_else(SizeHint::default, SizeHint::with_exact)
    }
}
