//! One body cut in two at a byte offset: the first `n` bytes as a body of their own (to stream as one backend
//! request), the rest handed over once they have been read (to send as another). Holds no data of its own
//! beyond the frame that straddles the cut.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::sync::oneshot;

use super::{Body, BoxError};
use crate::error::S3Error;

/// What follows the first `n` bytes: the part of the frame past the cut, then the rest of the body.
pub struct Rest {
    pub leftover: Bytes,
    pub body: Body,
}

/// Cut `inner` after `n` bytes. The receiver gets the [`Rest`] once the head has been read to its end; it gets
/// an error if the head is dropped or fails first (the body ended early, or failed a check).
pub fn split_at(inner: Body, n: u64) -> (Body, oneshot::Receiver<Rest>) {
    let (tx, rx) = oneshot::channel();
    let head = Head {
        inner: Some(inner),
        remaining: n,
        len: n,
        tx: Some(tx),
    };
    (super::boxed(head), rx)
}

struct Head {
    inner: Option<Body>,
    remaining: u64,
    len: u64,
    tx: Option<oneshot::Sender<Rest>>,
}

impl Head {
    fn hand_over(&mut self, leftover: Bytes) {
        if let (Some(tx), Some(body)) = (self.tx.take(), self.inner.take()) {
            let _ = tx.send(Rest { leftover, body });
        }
    }
}

impl HttpBody for Head {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            if this.remaining == 0 {
                this.hand_over(Bytes::new());
                return Poll::Ready(None);
            }
            let Some(inner) = this.inner.as_mut() else {
                return Poll::Ready(None);
            };
            match ready!(Pin::new(inner).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    let Ok(mut data) = frame.into_data() else { continue };
                    if data.is_empty() {
                        continue;
                    }
                    let take = usize::try_from(this.remaining).unwrap_or(usize::MAX).min(data.len());
                    let leftover = data.split_off(take);
                    this.remaining -= take as u64;
                    if this.remaining == 0 {
                        this.hand_over(leftover);
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Some(Err(e)) => {
                    this.inner = None;
                    this.tx = None;
                    return Poll::Ready(Some(Err(e)));
                }
                None => {
                    this.inner = None;
                    this.tx = None;
                    return Poll::Ready(Some(Err(Box::new(S3Error::incomplete_body()))));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0 && self.tx.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len)
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt as _;

    use super::*;

    fn frames(parts: &[&'static [u8]]) -> Body {
        let stream = futures_util::stream::iter(
            parts
                .iter()
                .map(|p| Ok::<_, BoxError>(Frame::data(Bytes::from_static(p))))
                .collect::<Vec<_>>(),
        );
        super::super::boxed(http_body_util::StreamBody::new(stream))
    }

    #[tokio::test]
    async fn the_head_has_n_bytes_and_the_rest_follows_in_order() {
        for n in 0..=10u64 {
            let (head, rest) = split_at(frames(&[b"abc", b"", b"defg", b"hij"]), n);
            let head = head.collect().await.unwrap().to_bytes();
            let Rest { leftover, body } = rest.await.unwrap();
            let tail = body.collect().await.unwrap().to_bytes();
            let all = [&head[..], &leftover[..], &tail[..]].concat();
            assert_eq!(head.len() as u64, n);
            assert_eq!(all, b"abcdefghij", "n={n}");
        }
    }

    #[tokio::test]
    async fn a_body_shorter_than_the_head_fails_and_hands_nothing_over() {
        let (head, rest) = split_at(frames(&[b"abc"]), 4);
        assert!(head.collect().await.is_err());
        assert!(rest.await.is_err());
    }
}
