//! SigV2 end to end, with boto3 (`signature_version='s3'`), boto3's default (SigV2) presigned URLs fetched with
//! urllib3, and hand-signed requests; `tests/clients/sigv2_post.py` holds the steps and their checks.

mod common;

use common::*;

/// Header and presigned SigV2: put/get/head/list/delete with SSE-S3 and SSE-C, presigned GET and PUT, ciphertext
/// at the backend; a tampered signature, an expired URL, a wrong key id and a skewed Date refused as S3 does.
#[test]
fn boto3_sigv2_and_presigned_urls() {
    let stack = Stack::start();
    let out = run_python_part(&stack, "sigv2_post.py", "sigv2");
    assert!(out.contains("sigv2: all checks passed"), "{out}");
}

/// `[s3] sigv2 = false`: every SigV2 form (header, presigned, POST policy) is refused with 400 InvalidRequest.
#[test]
fn sigv2_disabled_refuses_every_form() {
    let stack = Stack::start_with("[s3]\nsigv2 = false\n");
    let out = run_python_part(&stack, "sigv2_post.py", "sigv2-off");
    assert!(out.contains("sigv2-off: all checks passed"), "{out}");
}
