//! Paths whose meaning could differ between the gateway (which checks the bucket policy on the bucket it
//! parsed) and the backend (which decides what is actually read or written).
//!
//! These tests document bugs found and fixed (see their comments); they keep the fixes in place.

mod common;

use common::*;
use http::{Method, StatusCode};

/// A credential limited to one bucket must not reach another bucket's objects through a key with `..`
/// segments (`/only-this/../other/theirs`): the gateway checks the bucket it parsed, and a backend that
/// stores objects as files (the embedded s3s-fs) resolves the `..`. Any answer is fine as long as the other
/// bucket's object is neither read nor changed.
#[tokio::test(flavor = "multi_thread")]
async fn restricted_credential_cannot_escape_its_bucket_with_dot_dot_keys() {
    let s = Stack::start();
    let client = s.gw.client();
    let other = unique_bucket("victim");
    create_bucket(&s.gw, &client, &other).await;
    const SECRET: &str = "the other bucket's secret content";
    put_object(&s.gw, &client, &other, "theirs", SECRET).await.assert_ok();
    send(
        &client,
        signed(&s.gw, LIMITED, Method::PUT, &format!("/{LIMITED_BUCKET}"), ""),
    )
    .await
    .assert_ok();

    let mut problems = Vec::new();
    for path in [
        format!("/{LIMITED_BUCKET}/../{other}/theirs"),
        format!("/{LIMITED_BUCKET}/x/../../{other}/theirs"),
    ] {
        let r = send(&client, signed(&s.gw, LIMITED, Method::GET, &path, "")).await;
        if r.text().contains(SECRET) {
            problems.push(format!("GET {path} read the other bucket's object ({})", r.status));
        }
    }
    let traversal = format!("/{LIMITED_BUCKET}/../{other}/theirs");
    let r = send(&client, signed(&s.gw, LIMITED, Method::PUT, &traversal, "overwritten")).await;
    let now = get_object(&s.gw, &client, &other, "theirs").await;
    if now.text() != SECRET {
        problems.push(format!(
            "PUT {traversal} ({}) changed the other bucket's object to {:?}",
            r.status,
            now.text()
        ));
        put_object(&s.gw, &client, &other, "theirs", SECRET).await.assert_ok();
    }
    let src = format!("/{LIMITED_BUCKET}/../{other}/theirs");
    let req = signed_with_headers(
        &s.gw,
        LIMITED,
        Method::PUT,
        &format!("/{LIMITED_BUCKET}/copied"),
        "",
        &[("x-amz-copy-source", &src)],
    );
    let r = send(&client, req).await;
    let copied = send(
        &client,
        signed(&s.gw, LIMITED, Method::GET, &format!("/{LIMITED_BUCKET}/copied"), ""),
    )
    .await;
    if copied.text().contains(SECRET) {
        problems.push(format!(
            "CopyObject with x-amz-copy-source {src} ({}) copied the other bucket's object",
            r.status
        ));
    }
    let r = send(&client, signed(&s.gw, LIMITED, Method::DELETE, &traversal, "")).await;
    if s.backend.head_status(&other, "theirs").await != StatusCode::OK {
        problems.push(format!(
            "DELETE {traversal} ({}) deleted the other bucket's object",
            r.status
        ));
    }
    assert!(
        problems.is_empty(),
        "credential {LIMITED_AK} (allowed_buckets = [\"{LIMITED_BUCKET}\"]) reached bucket {other}:\n  {}",
        problems.join("\n  ")
    );
}

/// `GET //bucket/key` names no bucket in path style: it must not turn into another operation at the backend.
#[tokio::test(flavor = "multi_thread")]
async fn empty_bucket_segment_is_not_rewritten_to_list_buckets() {
    let s = Stack::start();
    let client = s.gw.client();
    let bucket = unique_bucket("double-slash");
    create_bucket(&s.gw, &client, &bucket).await;
    put_object(&s.gw, &client, &bucket, "k", "data").await.assert_ok();
    let r = send(
        &client,
        signed(&s.gw, CLIENT, Method::GET, &format!("//{bucket}/k"), ""),
    )
    .await;
    assert!(
        !(r.status == StatusCode::OK && r.text().contains("ListAllMyBucketsResult")),
        "GET //{bucket}/k was answered with a ListBuckets result: {}",
        r.text()
    );
}

/// A credential limited to some buckets does not learn the names of the others from ListBuckets.
#[tokio::test(flavor = "multi_thread")]
async fn restricted_credential_lists_only_its_buckets() {
    let s = Stack::start();
    let client = s.gw.client();
    let other = unique_bucket("someone-elses");
    create_bucket(&s.gw, &client, &other).await;
    send(
        &client,
        signed(&s.gw, LIMITED, Method::PUT, &format!("/{LIMITED_BUCKET}"), ""),
    )
    .await
    .assert_ok();

    let full = send(&client, signed(&s.gw, CLIENT, Method::GET, "/", "")).await;
    full.assert_ok();
    assert!(
        full.text().contains(&format!("<Name>{other}</Name>")),
        "{}",
        full.text()
    );
    assert!(
        full.text().contains(&format!("<Name>{LIMITED_BUCKET}</Name>")),
        "{}",
        full.text()
    );

    let limited = send(&client, signed(&s.gw, LIMITED, Method::GET, "/", "")).await;
    limited.assert_ok();
    assert!(
        limited.text().contains(&format!("<Name>{LIMITED_BUCKET}</Name>")),
        "{}",
        limited.text()
    );
    assert!(
        !limited.text().contains(&other),
        "the restricted credential sees {other}: {}",
        limited.text()
    );
    assert!(limited.text().contains("<ListAllMyBucketsResult"), "{}", limited.text());
}
