use super::*;

// ------------------------------------------------------------------------------------------------
// 6. Conditional requests
// ------------------------------------------------------------------------------------------------

async fn check_conditionals(s: &Stack, c: &HttpsClient, bucket: &str, key: &str, body: &[u8], etag: &str) {
    let path = format!("/{bucket}/{key}");
    let raw = etag.trim_matches('"');
    let backend_etag = format!("\"{}\"", raw.strip_suffix("-1").unwrap_or(raw));
    let g = get_with(&s.gw, c, &path, &[("if-match", etag)]).await;
    assert_body(&g, body, &format!("{key}: If-Match with the client ETag"));
    assert_eq!(g.header("etag"), Some(etag));
    let g = get_with(&s.gw, c, &path, &[("if-match", "\"0123456789abcdef0123456789abcdef\"")]).await;
    g.assert_error(412, "PreconditionFailed");
    if backend_etag != etag {
        get_with(&s.gw, c, &path, &[("if-match", &backend_etag)])
            .await
            .assert_error(412, "PreconditionFailed");
    }
    let g = get_with(&s.gw, c, &path, &[("if-none-match", etag)]).await;
    assert_eq!(g.status, StatusCode::NOT_MODIFIED, "{key}: If-None-Match: {}", g.text());
    assert!(g.body.is_empty());
    assert_eq!(g.header("etag"), Some(etag), "304 carries the client ETag");
    let unquoted = etag.trim_matches('"');
    let g = get_with(&s.gw, c, &path, &[("if-match", unquoted)]).await;
    assert_body(&g, body, &format!("{key}: If-Match with the client ETag unquoted"));
    let g = get_with(&s.gw, c, &path, &[("if-none-match", unquoted)]).await;
    assert_eq!(g.status, StatusCode::NOT_MODIFIED, "{key}: If-None-Match unquoted");
    let g = get_with(&s.gw, c, &path, &[("if-none-match", "\"other\"")]).await;
    assert_body(&g, body, &format!("{key}: If-None-Match with another ETag"));
    let g = get_with(&s.gw, c, &path, &[("if-match", etag), ("range", "bytes=1-10")]).await;
    assert_eq!(g.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(g.body.as_ref(), &body[1..=10]);
    let h = head_with(&s.gw, c, &path, &[("if-match", "\"nope\"")]).await;
    assert_eq!(h.status, StatusCode::PRECONDITION_FAILED, "HEAD If-Match other");
    let h = head_with(&s.gw, c, &path, &[("if-none-match", etag)]).await;
    assert_eq!(h.status, StatusCode::NOT_MODIFIED, "HEAD If-None-Match");
    let h = head_with(&s.gw, c, &path, &[("if-match", etag)]).await;
    h.assert_ok();
    assert_eq!(h.header("etag"), Some(etag));
}

#[tokio::test(flavor = "multi_thread")]
async fn conditionals_compare_client_etags() {
    let (s, c, bucket) = stack_with_bucket("cond").await;
    let body = pseudo_random(100_000, 9);
    let r = put_object(&s.gw, &c, &bucket, "single", body.clone()).await;
    r.assert_ok();
    let etag = r.header("etag").unwrap().to_owned();
    assert!(etag.ends_with("-1\""), "{etag}");
    let h = head_with(&s.gw, &c, &format!("/{bucket}/single"), &[]).await;
    assert_eq!(h.header("etag"), Some(etag.as_str()), "HEAD shows the PUT ETag");
    check_conditionals(&s, &c, &bucket, "single", &body, &etag).await;

    let p1 = pseudo_random(5 * MIB, 10);
    let p2 = pseudo_random(10, 11);
    let r = multipart_put(&s.gw, &c, &bucket, "multi", &[&p1, &p2], &[]).await;
    let etag = r.xml_tag("ETag").unwrap().replace("&quot;", "\"");
    let h = head_with(&s.gw, &c, &format!("/{bucket}/multi"), &[]).await;
    assert_eq!(h.header("etag"), Some(etag.as_str()), "HEAD shows the Complete ETag");
    check_conditionals(&s, &c, &bucket, "multi", &[p1, p2].concat(), &etag).await;

    let l = get_with(&s.gw, &c, &format!("/{bucket}?list-type=2"), &[]).await;
    // (s3s-fs listings carry no ETag; where one is listed, it is the one HEAD shows.)
    for (k, _, e) in listed(&l.text()).into_iter().filter(|(_, _, e)| !e.is_empty()) {
        let h = head_with(&s.gw, &c, &format!("/{bucket}/{k}"), &[]).await;
        assert_eq!(
            Some(e.as_str()),
            h.header("etag"),
            "listing and HEAD agree on {k}'s ETag"
        );
    }
}
