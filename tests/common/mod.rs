//! Test harness for the end-to-end tests: the real `fs-backend` and gateway processes, the environment
//! for client programs, a raw HTTPS client that trusts only the gateway's CA, and a SigV4 signer built on
//! `aws-sigv4` (independent of the gateway's own verifier).
//!
//! Every test starts its own processes on its own ports and directories, so tests run in parallel. The
//! processes listen on port 0 and the harness reads the bound address from their ready lines (no port can
//! be taken by another test between "find a free port" and "bind").
//!
//! One file per concern, every public item re-exported here, so tests name everything `common::Item`:
//!
//! - `creds`: the region and the access keys of the standard gateway config ([`CLIENT`], [`LIMITED`], [`BACKEND`]).
//! - `process`: child processes ([`Proc`]), `fs-backend` ([`Backend`]), the gateway ([`Gateway`]), both ([`Stack`]).
//! - `https`: the raw HTTPS client ([`HttpsClient`], [`tls_config`]), [`send`], responses ([`Resp`], [`LossyResp`]).
//! - `signing`: SigV4 with `aws-sigv4` ([`sign_request`], [`presign`], [`signed`], [`signed_with_headers`]).
//! - `s3`: S3 calls as [`CLIENT`] ([`call`], [`create_bucket`], [`put_object`], [`get_object`]) and request values
//!   ([`unique_bucket`], [`pseudo_random`], [`enc`], [`b64`], [`md5_b64`]).
//! - `scripts`: client programs in `tests/clients/` ([`run_with_timeout`], [`run_python_part`]).
//! - `files`: the backend's files ([`all_files`], [`files_containing`], [`metadata_file`]).
//! - `kms`: the gateway's local KMS ([`kms_admin`], [`local_kms_env`]) and KMS test helpers.
//! - `ceph`, `compat`, `moto`, `prometheus`, `pykmip`: other servers the tests run, and the compatibility records.
#![allow(dead_code)]
pub mod ceph;
pub mod compat;
pub mod moto;
pub mod prometheus;
pub mod pykmip;

mod creds;
mod files;
mod https;
mod kms;
mod process;
mod s3;
mod scripts;
mod signing;

// Each test binary uses only part of the harness: like unused items (`dead_code` above), unused re-exports are fine.
#[allow(unused_imports)]
pub use {creds::*, files::*, https::*, kms::*, process::*, s3::*, scripts::*, signing::*};
