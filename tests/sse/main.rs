//! Encryption end to end, as a client and an observer of the backend's files see it: what the backend holds
//! (ciphertext only, of the documented size, with the documented envelope), what happens when those files are
//! tampered with, mixed plaintext/encrypted buckets, ranges, conditionals, copies, SSE-C, and a backend that dies
//! in the middle of a transfer.
//!
//! The backend is the real s3s-fs (`fs-backend`), which keeps object `bucket/key` as the plain file
//! `<root>/bucket/key`, user metadata in `<root>/.bucket-<b64url(bucket)>.object-<b64url(key)>.metadata.json`
//! and the ETag in a similar `.internal.json` side file, so the tests read and change those files directly.
//!
//! One module per section, in this directory: `helpers.rs` (what the sections share), then the numbered
//! sections below. Each section's tests are named `<section>::<test>` (`cargo test --test sse -- tampering::`).

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

mod helpers;
use helpers::*;

/// 9. A backend that dies mid-transfer
mod backend_failure;
/// 1. What the backend holds
mod backend_files;
/// 6. Conditional requests
mod conditionals;
/// 7. Copies
mod copies;
/// 3. Attacks on the envelope
mod envelope;
/// 4. Buckets with objects from before the gateway
mod legacy_objects;
/// 10. What a listing echoes
mod listings;
/// 5. Ranges, sizes, HEAD
mod ranges;
/// 8. SSE-C
mod sse_c;
/// 2. Tampering with the backend's files
mod tampering;
