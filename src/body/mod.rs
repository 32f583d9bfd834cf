//! Async body adapters: the streaming stages a request or response body flows through.
//!
//! Rule: no adapter ever collects a whole object body; each holds at most a frame or two.

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
