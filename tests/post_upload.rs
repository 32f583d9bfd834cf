//! Browser-based POST uploads end to end: boto3's `generate_presigned_post` (SigV4 and SigV2) posted with
//! `curl -F`, as a browser form would be; `tests/clients/sigv2_post.py` holds the steps and their checks.

mod common;

use common::*;

/// SigV4 and SigV2 policies, `${filename}`, metadata and Content-Type fields, SSE-S3 by default, SSE-C and
/// SSE-KMS fields, success_action_status 201 and success_action_redirect 303; objects read back through the
/// gateway and their plaintext is nowhere at the backend.
#[test]
fn presigned_post_with_curl() {
    let stack = Stack::start();
    let out = run_python_part(&stack, "sigv2_post.py", "post");
    assert!(out.contains("post: all checks passed"), "{out}");
}

/// Expired policy, an extra field, a starts-with violation, content-length-range exceeded, bad signatures and a
/// bucket policy Deny: each answered as S3 does, and no object appears.
#[test]
fn refused_posts_leave_no_object() {
    let stack = Stack::start();
    let out = run_python_part(&stack, "sigv2_post.py", "post-refused");
    assert!(out.contains("post-refused: all checks passed"), "{out}");
}
