//! Request bodies in large pieces for s3s-fs's writes. s3s-fs writes each piece of a body as it arrives (tens of
//! KiB) through tokio's file, one blocking-pool round trip each, which held a PUT to ~300 MB/s; joined into 1 MiB
//! pieces, the file write of one piece overlaps receiving (and hashing) the next. It never changes the bytes.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use s3s::dto::StreamingBlob;
use s3s::stream::ByteStream;

/// Bytes per piece handed to s3s-fs's writer (tokio's file writes at most 2 MiB per blocking call).
const WRITE_BYTES: usize = 1 << 20;

/// `body` in pieces of at least [`WRITE_BYTES`] (the last one shorter).
pub(super) fn in_large_pieces(body: StreamingBlob) -> StreamingBlob {
    StreamingBlob::new(Coalesce {
        inner: body,
        buf: BytesMut::new(),
        done: false,
    })
}

/// Read `body` to its end (or its first error), keeping nothing.
pub(super) async fn discard(mut body: StreamingBlob) {
    use futures_util::StreamExt as _;
    while let Some(Ok(_)) = body.next().await {}
}

struct Coalesce<S> {
    inner: S,
    buf: BytesMut,
    done: bool,
}

impl<S> ByteStream for Coalesce<S> where S: Stream<Item = Result<Bytes, s3s::StdError>> + Unpin {}

impl<S> Stream for Coalesce<S>
where
    S: Stream<Item = Result<Bytes, s3s::StdError>> + Unpin,
{
    type Item = Result<Bytes, s3s::StdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        while !this.done {
            match Pin::new(&mut this.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(piece))) => {
                    if this.buf.is_empty() && piece.len() >= WRITE_BYTES {
                        return Poll::Ready(Some(Ok(piece)));
                    }
                    if this.buf.is_empty() {
                        this.buf.reserve(WRITE_BYTES);
                    }
                    this.buf.extend_from_slice(&piece);
                    if this.buf.len() >= WRITE_BYTES {
                        return Poll::Ready(Some(Ok(this.buf.split().freeze())));
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(None) => this.done = true,
                Poll::Pending => return Poll::Pending,
            }
        }
        if this.buf.is_empty() {
            Poll::Ready(None)
        } else {
            Poll::Ready(Some(Ok(this.buf.split().freeze())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt as _;

    #[tokio::test]
    async fn small_pieces_are_joined_and_no_byte_changes() {
        let expected: Vec<u8> = (0..100u8).flat_map(|i| vec![i; 30_000]).collect();
        let body = in_large_pieces(StreamingBlob::wrap::<_, std::io::Error>(futures_util::stream::iter(
            (0..100u8).map(|i| Ok(Bytes::from(vec![i; 30_000]))),
        )));
        let out: Vec<Bytes> = body.map(|r| r.unwrap()).collect().await;
        assert!(out[..out.len() - 1].iter().all(|p| p.len() >= WRITE_BYTES));
        assert_eq!(out.len(), expected.len() / WRITE_BYTES + 1);
        assert_eq!(out.concat(), expected);
    }
}
