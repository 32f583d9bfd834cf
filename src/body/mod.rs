//! Async body adapters: the streaming stages a request or response body flows through.
//!
//! Rule: no adapter ever collects a whole object body; each holds at most a frame or two.

pub mod metered;
pub mod split;
pub mod transform;
pub mod verify;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full, combinators::BoxBody};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The one body type handed between stages, requests and responses alike.
pub type Body = BoxBody<Bytes, BoxError>;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed()
}

pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

pub fn boxed<B>(b: B) -> Body
where
    B: http_body::Body<Data = Bytes, Error = BoxError> + Send + Sync + 'static,
{
    BodyExt::boxed(b)
}

/// Collect a body known to be small (XML documents, the gateway's own objects); `Err` past `limit` bytes or on
/// a body error. Never used for object data.
pub async fn collect_limited<B>(body: B, limit: usize) -> Result<Bytes, ()>
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    let mut body = body;
    let mut out = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ())?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > limit {
                return Err(());
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out.freeze())
}

/// The same body, its data also fed to `checksum` as it passes: the value is the body's once the body has been
/// sent whole (a backend's success answer to a request with this body says it was).
pub fn tap_checksum(
    body: Body,
    checksum: std::sync::Arc<std::sync::Mutex<crate::auth::checksum::Checksummer>>,
) -> Body {
    boxed(body.map_frame(move |frame| {
        if let Some(data) = frame.data_ref() {
            checksum.lock().unwrap_or_else(|p| p.into_inner()).update(data);
        }
        frame
    }))
}
