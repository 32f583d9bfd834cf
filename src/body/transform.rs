//! The crypto body adapter: runs a [`crate::crypto::stream`] state machine over a body, frame by frame.
//! Encryption of request bodies and decryption of response bodies are the same shape.
//!
//! On an authentication failure the stream ends with an error: hyper then aborts the connection, so a client
//! that already has the status line sees a short body, never a wrong one.

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

    fn fail(&mut self, e: CryptoError) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.ended = true;
        self.ready.clear();
        if !self.failed {
            self.failed = true;
            self.meter.failed(&e);
        }
        Poll::Ready(Some(Err(Box::new(e))))
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
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        let started = Instant::now();
                        let r = this.transform.push(&data, &mut this.scratch);
                        let produced: usize = this.scratch.iter().map(Bytes::len).sum();
                        this.meter.progress(data.len(), produced, started.elapsed());
                        this.ready.extend(this.scratch.drain(..));
                        if let Err(e) = r {
                            return this.fail(e);
                        }
                    }
                }
                Some(Err(e)) => {
                    this.ended = true;
                    this.ready.clear();
                    return Poll::Ready(Some(Err(e)));
                }
                None => {
                    let started = Instant::now();
                    let r = this.transform.finish(&mut this.scratch);
                    let produced: usize = this.scratch.iter().map(Bytes::len).sum();
                    this.meter.progress(0, produced, started.elapsed());
                    this.ready.extend(this.scratch.drain(..));
                    if let Err(e) = r {
                        return this.fail(e);
                    }
                    this.ended = true;
                }
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
