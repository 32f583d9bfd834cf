use super::*;

// ------------------------------------------------------------------------------------------------
// 2. Tampering with the backend's files
// ------------------------------------------------------------------------------------------------

const TAMPER_SIZE: usize = 200_000;

/// A stack with a 200000-byte object `victim` (and a same-size object `other`) written through the gateway.
async fn tamper_setup(prefix: &str) -> (Stack, HttpsClient, String, Vec<u8>, PathBuf) {
    let (s, c, bucket) = stack_with_bucket(prefix).await;
    let body = pseudo_random(TAMPER_SIZE, 42);
    put_object(&s.gw, &c, &bucket, "victim", body.clone()).await.assert_ok();
    put_object(&s.gw, &c, &bucket, "other", pseudo_random(TAMPER_SIZE, 43))
        .await
        .assert_ok();
    let f = data_file(&s.backend, &bucket, "victim");
    assert_eq!(file_len(&f), ct_len(TAMPER_SIZE as u64));
    // Untampered, it reads back.
    assert_body(
        &get_object(&s.gw, &c, &bucket, "victim").await,
        &body,
        "GET before tampering",
    );
    (s, c, bucket, body, f)
}

/// Tamper with `victim`'s data file by `edit`, then GET it whole: an error or a cut-short body, and the tag
/// failure counter goes up.
async fn tamper_case(prefix: &str, what: &str, edit: impl FnOnce(&Path, &Path)) {
    let (s, c, bucket, body, f) = tamper_setup(prefix).await;
    let before = s.gw.metric_value(TAG_FAILURES).await;
    edit(&f, &data_file(&s.backend, &bucket, "other"));
    let r = try_call_lossy(&s.gw, &c, Method::GET, &format!("/{bucket}/victim"), &[]).await;
    assert_not_served(&r, &body, what);
    // The counter is bumped when the stream fails; allow the gateway a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut after = s.gw.metric_value(TAG_FAILURES).await;
    while after <= before && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        after = s.gw.metric_value(TAG_FAILURES).await;
    }
    assert!(
        after > before,
        "{what}: {TAG_FAILURES} did not increase ({before} -> {after}); GET: {:?}",
        r.map(|r| (r.status, r.body.len(), r.body_error))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tampered_byte_is_not_served() {
    tamper_case("tamper-flip", "one byte flipped mid-file", |f, _| {
        let mut d = std::fs::read(f).unwrap();
        let mid = d.len() / 2;
        d[mid] ^= 0x01;
        std::fs::write(f, d).unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn truncated_file_is_not_served() {
    tamper_case("tamper-trunc", "file truncated by 16 bytes", |f, _| {
        let d = std::fs::read(f).unwrap();
        std::fs::write(f, &d[..d.len() - 16]).unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn appended_bytes_are_not_served() {
    tamper_case("tamper-append", "16 bytes appended", |f, _| {
        let mut d = std::fs::read(f).unwrap();
        d.extend_from_slice(&[0x5a; 16]);
        std::fs::write(f, d).unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn swapped_segments_are_not_served() {
    tamper_case("tamper-swap", "first two segments swapped", |f, _| {
        let mut d = std::fs::read(f).unwrap();
        let n = (SEG + TAG) as usize;
        let first = d[..n].to_vec();
        d.copy_within(n..2 * n, 0);
        d[n..2 * n].copy_from_slice(&first);
        std::fs::write(f, d).unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn another_objects_ciphertext_is_not_served() {
    tamper_case("tamper-splice", "another object's file copied over it", |f, other| {
        std::fs::copy(other, f).unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn file_cut_at_a_segment_boundary_is_not_served() {
    // 200000 bytes = 3 whole segments + 3392: drop the whole last segment (3392 + 16 bytes). The rest is a valid
    // ciphertext length (of 196608 bytes), but its new last segment was not sealed as the final one.
    tamper_case("tamper-cut", "last segment removed", |f, _| {
        let d = std::fs::read(f).unwrap();
        std::fs::write(f, &d[..3 * (SEG + TAG) as usize]).unwrap();
    })
    .await;
}

/// The part layout of a multipart object (a plain backend object the gateway keeps) is trusted for where each
/// part's stream begins, but a changed layout must not make the gateway serve wrong bytes.
#[tokio::test(flavor = "multi_thread")]
async fn tampered_multipart_layout_is_not_served() {
    let (s, c, bucket) = stack_with_bucket("tamper-layout").await;
    // Aligned parts: the object keeps one stream per part and a layout record (unaligned ones are rewritten).
    let p1 = pseudo_random(5 * MIB, 91);
    let p2 = pseudo_random(1000, 92);
    let r = multipart_put(&s.gw, &c, &bucket, "mp", &[&p1, &p2], &[]).await;
    let etag = r.xml_tag("ETag").unwrap().replace("&quot;", "").replace('"', "");
    let body = [p1, p2].concat();
    let layout_key = format!(
        ".s3-sse-proxy/layout/{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"mp"))
    );
    let layout_file = data_file(&s.backend, &bucket, &layout_key);
    let original =
        std::fs::read_to_string(&layout_file).unwrap_or_else(|e| panic!("layout file {}: {e}", layout_file.display()));
    let (c1, c2) = (ct_len(5 * MIB as u64), ct_len(1000));
    assert_eq!(
        original.trim(),
        format!("v=1;etag={etag};parts={c1}*1,{c2}*1"),
        "the documented layout"
    );
    let path = format!("/{bucket}/mp");
    assert_body(&get_with(&s.gw, &c, &path, &[]).await, &body, "before tampering");

    let shifted = (c1 - (SEG + TAG), c2 + SEG + TAG);
    for (what, text) in [
        ("parts swapped", Some(format!("v=1;etag={etag};parts={c2}*1,{c1}*1"))),
        (
            "boundary moved by one segment",
            Some(format!("v=1;etag={etag};parts={}*1,{}*1", shifted.0, shifted.1)),
        ),
        ("one part", Some(format!("v=1;etag={etag};parts={}*1", c1 + c2))),
        (
            "another ETag",
            Some(format!(
                "v=1;etag=0123456789abcdef0123456789abcdef-2;parts={c1}*1,{c2}*1"
            )),
        ),
        ("deleted", None),
    ] {
        match &text {
            Some(t) => std::fs::write(&layout_file, t).unwrap(),
            None => std::fs::remove_file(&layout_file).unwrap(),
        }
        for range in [None, Some("bytes=5242870-5242890"), Some("bytes=0-99")] {
            let h: Vec<(&str, &str)> = range.iter().map(|r| ("range", *r)).collect();
            let r = try_call_lossy(&s.gw, &c, Method::GET, &path, &h).await;
            let start = if range == Some("bytes=5242870-5242890") {
                5_242_870
            } else {
                0
            };
            // A range inside the first segment of part 1 may still be served correctly (it is authentic).
            if let (Some("bytes=0-99"), Ok(r)) = (range, &r)
                && r.status == StatusCode::PARTIAL_CONTENT
                && r.body_error.is_none()
            {
                assert_eq!(r.body.as_ref(), &body[..100], "layout {what}: range 0-99");
                continue;
            }
            assert_not_served(&r, &body[start..], &format!("layout {what}, range {range:?}"));
        }
        std::fs::write(&layout_file, &original).unwrap();
    }
    assert_body(&get_with(&s.gw, &c, &path, &[]).await, &body, "layout restored");
}

/// Only the segments a range needs are read: with the last segment tampered, the first 100 bytes still read;
/// a range that covers the tampered segment does not.
#[tokio::test(flavor = "multi_thread")]
async fn ranges_read_only_the_segments_they_need() {
    let (s, c, bucket, body, f) = tamper_setup("tamper-range").await;
    let mut d = std::fs::read(&f).unwrap();
    let last = d.len() - 20; // inside the last segment (200000 = 3·65536 + 3392)
    d[last] ^= 0x80;
    std::fs::write(&f, d).unwrap();
    let path = format!("/{bucket}/victim");

    let r = get_with(&s.gw, &c, &path, &[("range", "bytes=0-99")]).await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT, "{}", r.text());
    assert_eq!(r.header("content-range"), Some("bytes 0-99/200000"));
    assert_eq!(r.body.as_ref(), &body[..100]);
    let r = get_with(&s.gw, &c, &path, &[("range", "bytes=65530-131080")]).await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT, "{}", r.text());
    assert_eq!(r.body.as_ref(), &body[65530..=131080]);

    let before = s.gw.metric_value(TAG_FAILURES).await;
    for (range, start) in [
        ("bytes=199990-199999", 199_990),
        ("bytes=150000-", 150_000),
        ("bytes=-5", 199_995),
        ("bytes=0-", 0),
    ] {
        let r = try_call_lossy(&s.gw, &c, Method::GET, &path, &[("range", range)]).await;
        assert_not_served(&r, &body[start..], &format!("range {range} over the tampered segment"));
    }
    let after = s.gw.metric_value(TAG_FAILURES).await;
    assert!(after >= before + 4.0, "{TAG_FAILURES}: {before} -> {after}");
}

/// The metric of authentication-tag failures, waited for (the stream reports it as it fails).
async fn tag_failures_after(gw: &Gateway, before: f64, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut after = gw.metric_value(TAG_FAILURES).await;
    while after <= before && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        after = gw.metric_value(TAG_FAILURES).await;
    }
    assert!(
        after > before,
        "{what}: {TAG_FAILURES} did not increase ({before} -> {after})"
    );
}

/// A GET whose first needed segment fails authentication is answered before its head is sent: 500
/// InternalError, S3's XML, no object byte.
async fn assert_500_before_any_byte(gw: &Gateway, c: &HttpsClient, path: &str, range: Option<&str>, what: &str) {
    let before = gw.metric_value(TAG_FAILURES).await;
    let h: Vec<(&str, &str)> = range.iter().map(|r| ("range", *r)).collect();
    let r = get_with(gw, c, path, &h).await;
    r.assert_error(500, "InternalError");
    assert_eq!(r.header("content-type"), Some("application/xml"), "{what}");
    assert!(
        r.header("content-range").is_none(),
        "{what}: an error has no Content-Range"
    );
    tag_failures_after(gw, before, what).await;
}

/// A GET whose failing segment comes after the first: the head (200/206) is gone, so the body is cut short,
/// and what was sent is the original's.
async fn assert_cut_after_good_bytes(
    gw: &Gateway,
    c: &HttpsClient,
    path: &str,
    range: Option<&str>,
    expected: &[u8],
    what: &str,
) {
    let before = gw.metric_value(TAG_FAILURES).await;
    let h: Vec<(&str, &str)> = range.iter().map(|r| ("range", *r)).collect();
    let r = call_lossy(gw, c, Method::GET, path, &h).await;
    let status = if range.is_some() {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    assert_eq!(r.status, status, "{what}");
    assert!(
        r.body_error.is_some(),
        "{what}: the body completed ({} bytes)",
        r.body.len()
    );
    assert!(r.body.len() < expected.len(), "{what}: whole body served");
    assert!(
        expected.starts_with(&r.body),
        "{what}: bytes served before the cut are not the original's"
    );
    tag_failures_after(gw, before, what).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_first_segment_is_a_500_and_a_later_one_cuts_the_body() {
    let (s, c, bucket, body, f) = tamper_setup("tamper-first").await;
    let path = format!("/{bucket}/victim");
    let original = std::fs::read(&f).unwrap();
    let seg = (SEG + TAG) as usize;

    // Segment 0 tampered: every read that starts in it is a 500; one that starts after it is served.
    let mut d = original.clone();
    d[100] ^= 0x01;
    std::fs::write(&f, &d).unwrap();
    assert_500_before_any_byte(&s.gw, &c, &path, None, "segment 0 tampered, whole GET").await;
    assert_500_before_any_byte(
        &s.gw,
        &c,
        &path,
        Some("bytes=10-70000"),
        "segment 0 tampered, range from it",
    )
    .await;
    let r = get_with(&s.gw, &c, &path, &[("range", "bytes=65536-65635")]).await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT, "{}", r.text());
    assert_eq!(
        r.body.as_ref(),
        &body[65536..65636],
        "a range after the tampered segment"
    );

    // Segment 2 tampered: a range starting in it is a 500. A read starting before it fails either way: a 500 if
    // the failure shows before the head is sent (the backend's first frames may hold several segments), else cut.
    let mut d = original.clone();
    d[2 * seg + 7] ^= 0x01;
    std::fs::write(&f, &d).unwrap();
    assert_500_before_any_byte(
        &s.gw,
        &c,
        &path,
        Some("bytes=131072-"),
        "segment 2 tampered, range from it",
    )
    .await;
    assert_500_before_any_byte(
        &s.gw,
        &c,
        &path,
        Some("bytes=-60000"),
        "segment 2 tampered, suffix range",
    )
    .await;
    let r = try_call_lossy(&s.gw, &c, Method::GET, &path, &[]).await;
    assert_not_served(&r, &body, "segment 2 tampered, whole GET");

    // Far into a larger object, the head is long gone: the body is cut after good bytes.
    let big = pseudo_random(4 * MIB, 44);
    put_object(&s.gw, &c, &bucket, "big", big.clone()).await.assert_ok();
    let bf = data_file(&s.backend, &bucket, "big");
    let mut d = std::fs::read(&bf).unwrap();
    d[48 * seg + 5] ^= 0x01; // segment 48, at 3 MiB
    std::fs::write(&bf, d).unwrap();
    let big_path = format!("/{bucket}/big");
    assert_cut_after_good_bytes(&s.gw, &c, &big_path, None, &big, "segment 48 tampered, whole GET").await;
    assert_cut_after_good_bytes(
        &s.gw,
        &c,
        &big_path,
        Some("bytes=1000-3500000"),
        &big[1000..=3_500_000],
        "segment 48 tampered, range across it",
    )
    .await;
    assert_500_before_any_byte(
        &s.gw,
        &c,
        &big_path,
        Some("bytes=3145728-"),
        "segment 48 tampered, range from it",
    )
    .await;

    // The empty object's one segment is its first.
    put_object(&s.gw, &c, &bucket, "empty", Vec::new()).await.assert_ok();
    let e = data_file(&s.backend, &bucket, "empty");
    let mut d = std::fs::read(&e).unwrap();
    d[0] ^= 0x01;
    std::fs::write(&e, d).unwrap();
    assert_500_before_any_byte(&s.gw, &c, &format!("/{bucket}/empty"), None, "empty object tampered").await;
}

/// The same across the parts of a multipart object: the first segment the read needs decides.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_first_segment_of_a_multipart_read_is_a_500() {
    let (s, c, bucket) = stack_with_bucket("tamper-first-mp").await;
    let p1 = pseudo_random(5 * MIB, 93);
    let p2 = pseudo_random(70_000, 94);
    multipart_put(&s.gw, &c, &bucket, "mp", &[&p1, &p2], &[])
        .await
        .assert_ok();
    let body = [p1, p2].concat();
    let path = format!("/{bucket}/mp");
    let f = data_file(&s.backend, &bucket, "mp");
    let mut d = std::fs::read(&f).unwrap();
    // Part 2's first segment.
    d[ct_len(5 * MIB as u64) as usize + 3] ^= 0x01;
    std::fs::write(&f, d).unwrap();

    assert_cut_after_good_bytes(&s.gw, &c, &path, None, &body, "part 2 tampered, whole GET").await;
    let start = 5 * MIB;
    assert_500_before_any_byte(
        &s.gw,
        &c,
        &path,
        Some(&format!("bytes={start}-")),
        "part 2 tampered, range from it",
    )
    .await;
    assert_500_before_any_byte(
        &s.gw,
        &c,
        &format!("{path}?partNumber=2"),
        None,
        "part 2 tampered, partNumber=2",
    )
    .await;
    let r = get_with(&s.gw, &c, &format!("{path}?partNumber=1"), &[]).await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT, "{}", r.text());
    assert_eq!(r.body.as_ref(), &body[..5 * MIB], "part 1 untouched");
}
