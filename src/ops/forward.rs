//! Operations the gateway passes through unchanged (with SSE off, all of them): the client's request, verified,
//! re-signed and sent on; the backend's answer streamed back.

use http::Response;

use super::ReqCtx;
use crate::body::Body;
use crate::error::S3Error;
use crate::response;

pub async fn handle(mut ctx: ReqCtx<'_>) -> Result<Response<Body>, S3Error> {
    let headers = ctx.forwarded_headers();
    let body = ctx.take_body();
    let resp = ctx.send_as_is(headers, body).await?;
    Ok(match ctx.keys {
        Some(_) => response::pass_through(resp),
        None => response::forward(resp),
    })
}
