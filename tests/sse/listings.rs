use super::*;

// ------------------------------------------------------------------------------------------------
// 10. What a listing echoes
// ------------------------------------------------------------------------------------------------

/// `MaxKeys=1` makes the backend's first page the gateway's adoption marker alone (`.s3-sse-proxy/…` sorts before
/// the client's keys), so the gateway walks past it with a marker or token of its own. The page the client gets
/// still echoes exactly what the client sent, as S3's do: ListObjectsV2 has `StartAfter` and `ContinuationToken`
/// only when sent, ListObjects' `Marker` and ListObjectVersions' `KeyMarker`/`VersionIdMarker` are there and empty
/// when not sent; and the page is the client's first key.
#[tokio::test(flavor = "multi_thread")]
async fn a_page_after_a_walk_past_the_records_echoes_only_what_the_client_sent() {
    let (s, c, bucket) = stack_with_bucket("echo").await;
    for key in ["a", "b", "c"] {
        put_object(&s.gw, &c, &bucket, key, pseudo_random(100, 3))
            .await
            .assert_ok();
    }
    s.backend.assert_present(&bucket, ".s3-sse-proxy/adopted").await;
    let list = |q: &str| {
        let path = format!("/{bucket}?{q}");
        let (gw, c) = (&s.gw, &c);
        async move {
            let r = get_with(gw, c, &path, &[]).await;
            r.assert_ok();
            r
        }
    };
    let keys = |r: &Resp| listed(&r.text()).into_iter().map(|(k, _, _)| k).collect::<Vec<_>>();
    let element = |r: &Resp, name: &str| {
        let t = r.text();
        (t.contains(&format!("<{name}>")) || t.contains(&format!("<{name}/>")))
            .then(|| r.xml_tag(name).unwrap_or_default())
    };

    let r = list("list-type=2&max-keys=1").await;
    assert_eq!(keys(&r), ["a"], "{}", r.text());
    assert_eq!(
        (
            r.xml_tag("KeyCount").as_deref(),
            r.xml_tag("MaxKeys").as_deref(),
            r.xml_tag("IsTruncated").as_deref()
        ),
        (Some("1"), Some("1"), Some("true")),
        "{}",
        r.text()
    );
    assert_eq!(element(&r, "StartAfter"), None, "no StartAfter was sent: {}", r.text());
    assert_eq!(
        element(&r, "ContinuationToken"),
        None,
        "no token was sent: {}",
        r.text()
    );

    // A start-after that sorts before the records ('-' < '.'): the walk goes on with a token, the page echoes
    // the client's start-after and no token.
    let r = list("list-type=2&max-keys=1&start-after=-a").await;
    assert_eq!(keys(&r), ["a"], "{}", r.text());
    assert_eq!(element(&r, "StartAfter").as_deref(), Some("-a"), "{}", r.text());
    assert_eq!(
        element(&r, "ContinuationToken"),
        None,
        "no token was sent: {}",
        r.text()
    );
    // The next page from the page's own token goes on with "b".
    let token = r
        .xml_tag("NextContinuationToken")
        .expect("a truncated page has a next token");
    let r = list(&format!(
        "list-type=2&max-keys=1&continuation-token={}",
        percent_encoding::utf8_percent_encode(&token, percent_encoding::NON_ALPHANUMERIC)
    ))
    .await;
    assert_eq!(keys(&r), ["b"], "{}", r.text());
    assert_eq!(element(&r, "StartAfter"), None, "{}", r.text());

    let r = list("max-keys=1").await;
    assert_eq!(keys(&r), ["a"], "{}", r.text());
    assert_eq!(
        element(&r, "Marker").as_deref(),
        Some(""),
        "ListObjects echoes an empty Marker: {}",
        r.text()
    );

    let r = list("versions&max-keys=1").await;
    assert!(
        r.text().contains("<Key>a</Key>") && !r.text().contains(".s3-sse-proxy"),
        "{}",
        r.text()
    );
    assert_eq!(element(&r, "KeyMarker").as_deref(), Some(""), "{}", r.text());
    assert_eq!(element(&r, "VersionIdMarker").as_deref(), Some(""), "{}", r.text());
}
