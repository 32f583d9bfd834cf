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
