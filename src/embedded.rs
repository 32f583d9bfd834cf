//! The embedded backend: s3s-fs (a real S3 server that verifies SigV4) run in-process on loopback, plain HTTP.
//! Used by the no-setup quick start and by the `fs-backend` subcommand the tests start as a separate process.

use std::net::SocketAddr;
use std::path::Path;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;

use crate::secret::SecretString;

/// Bind and serve s3s-fs over `root` with SigV4 required; returns the bound address.
pub async fn start(
    root: &Path,
    addr: SocketAddr,
    access_key_id: &str,
    secret: &SecretString,
) -> Result<SocketAddr, String> {
    std::fs::create_dir_all(root).map_err(|e| format!("creating {}: {e}", root.display()))?;
    let fs = s3s_fs::FileSystem::new(root).map_err(|e| format!("embedded backend: {e:?}"))?;
    let mut b = S3ServiceBuilder::new(fs);
    b.set_auth(SimpleAuth::from_single(access_key_id, secret.expose()));
    let service = b.build();
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("embedded backend bind {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let http = Builder::new(TokioExecutor::new());
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            // Headers and a streamed body go out in separate writes: without this, Nagle holds the body until the
            // client's delayed ACK (40 ms) on every GET.
            let _ = tcp.set_nodelay(true);
            let conn = http.serve_connection(TokioIo::new(tcp), service.clone()).into_owned();
            tokio::spawn(async move {
                let _ = conn.await;
            });
        }
    });
    Ok(local)
}
