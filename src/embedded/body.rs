//! Request bodies the embedded backend refuses: read to their end before the answer, as S3 does. It never keeps
//! a byte of them.

use futures_util::StreamExt as _;
use s3s::dto::StreamingBlob;

/// Read `body` to its end (or its first error), keeping nothing. hyper closes a connection whose request body was
/// left unread, and a client that already reuses it (the gateway's connection pool) sees its next request fail.
pub(super) async fn discard(mut body: StreamingBlob) {
    while let Some(Ok(_)) = body.next().await {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn every_piece_is_read() {
        let read = Arc::new(AtomicUsize::new(0));
        let counter = read.clone();
        let pieces = futures_util::stream::iter(0..10).map(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
            Ok::<_, std::io::Error>(Bytes::from_static(b"piece"))
        });
        discard(StreamingBlob::wrap(pieces)).await;
        assert_eq!(read.load(Ordering::Relaxed), 10);
    }
}
