//! Encryption end to end, as a client and an observer of the backend's files see it: what the backend holds
//! (ciphertext only, of the documented size, with the documented envelope), what happens when those files are
//! tampered with, mixed plaintext/encrypted buckets, ranges, conditionals, copies, SSE-C, and a backend that dies
//! in the middle of a transfer.
//!
//! The backend is the real s3s-fs (`fs-backend`), which keeps object `bucket/key` as the plain file
//! `<root>/bucket/key`, user metadata in `<root>/.bucket-<b64url(bucket)>.object-<b64url(key)>.metadata.json`
//! and the ETag in a similar `.internal.json` side file, so the tests read and change those files directly.
//!
//! One file per section, in this directory: `helpers.rs` (what the sections share), then the numbered sections
//! below. The files are `include!`d rather than modules so that every test keeps its name (no `<section>::` prefix
//! in `cargo test --test sse -- --list`, CI logs or `--exact` filters); hence all `use` lines live here.

#[path = "../common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use aws_sigv4::http_request::SignableBody;
use base64::Engine as _;
use bytes::Bytes;
use common::*;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt as _, StreamBody};
use hyper::body::Frame;

include!("helpers.rs");
include!("backend_files.rs"); // 1. What the backend holds
include!("tampering.rs"); // 2. Tampering with the backend's files
include!("envelope.rs"); // 3. Attacks on the envelope
include!("legacy_objects.rs"); // 4. Buckets with objects from before the gateway
include!("ranges.rs"); // 5. Ranges, sizes, HEAD
include!("conditionals.rs"); // 6. Conditional requests
include!("copies.rs"); // 7. Copies
include!("sse_c.rs"); // 8. SSE-C
include!("backend_failure.rs"); // 9. A backend that dies mid-transfer

// `cargo fmt` does not follow `include!`; these declarations, never compiled (`cfg(any())` is always false), make it
// format the included files too.
#[cfg(any())]
mod backend_failure;
#[cfg(any())]
mod backend_files;
#[cfg(any())]
mod conditionals;
#[cfg(any())]
mod copies;
#[cfg(any())]
mod envelope;
#[cfg(any())]
mod helpers;
#[cfg(any())]
mod legacy_objects;
#[cfg(any())]
mod ranges;
#[cfg(any())]
mod sse_c;
#[cfg(any())]
mod tampering;
