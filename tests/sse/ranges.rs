use super::*;

// ------------------------------------------------------------------------------------------------
// 5. Ranges, sizes, HEAD
// ------------------------------------------------------------------------------------------------

/// `(Range header, expected first byte, expected last byte)` for an object of `n` bytes, plus extra rows.
fn range_table(n: usize, extra: &[(String, usize, usize)]) -> Vec<(String, usize, usize)> {
    let mid = n / 2;
    let mut t = vec![
        ("bytes=0-0".to_owned(), 0, 0),
        ("bytes=65535-65536".to_owned(), 65535, 65536),
        (format!("bytes={}-{}", n - 1, n - 1), n - 1, n - 1),
        ("bytes=-1".to_owned(), n - 1, n - 1),
        (format!("bytes=-{}", n + 5000), 0, n - 1),
        (format!("bytes={mid}-"), mid, n - 1),
        ("bytes=0-".to_owned(), 0, n - 1),
        ("bytes=65536-131071".to_owned(), 65536, 131_071),
        (format!("bytes=100-{}", n + 100_000), 100, n - 1),
    ];
    t.extend_from_slice(extra);
    t
}

async fn check_ranges(
    s: &Stack,
    c: &HttpsClient,
    bucket: &str,
    key: &str,
    body: &[u8],
    table: &[(String, usize, usize)],
) {
    let n = body.len();
    let path = format!("/{bucket}/{key}");
    for (range, a, b) in table {
        let r = get_with(&s.gw, c, &path, &[("range", range)]).await;
        assert_eq!(
            r.status,
            StatusCode::PARTIAL_CONTENT,
            "{key} ({n} bytes) Range {range}: {}",
            r.text()
        );
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes {a}-{b}/{n}").as_str()),
            "{key} Range {range}: Content-Range"
        );
        assert_eq!(
            r.header("content-length"),
            Some((b - a + 1).to_string().as_str()),
            "{key} Range {range}: Content-Length"
        );
        assert!(r.body.as_ref() == &body[*a..=*b], "{key} Range {range}: wrong bytes");
        assert_no_envelope(&r.headers, range);
    }
    for range in [format!("bytes={n}-"), format!("bytes={}-{}", n + 10, n + 20)] {
        let r = get_with(&s.gw, c, &path, &[("range", &range)]).await;
        assert_eq!(
            (r.status.as_u16(), r.error_code().as_deref()),
            (416, Some("InvalidRange")),
            "{key} Range {range}: {}",
            r.text()
        );
    }
    let h = head_with(&s.gw, c, &path, &[]).await;
    h.assert_ok();
    assert_eq!(h.header("content-length"), Some(n.to_string().as_str()), "HEAD {key}");
    assert_eq!(h.header("x-amz-server-side-encryption"), Some("AES256"), "HEAD {key}");
    assert_no_envelope(&h.headers, key);
    let g = get_object(&s.gw, c, bucket, key).await;
    assert_body(&g, body, key);
    assert_eq!(g.header("x-amz-server-side-encryption"), Some("AES256"), "GET {key}");
}

#[tokio::test(flavor = "multi_thread")]
async fn ranges_on_a_single_part_object() {
    let (s, c, bucket) = stack_with_bucket("ranges-single").await;
    let n = 3 * SEG as usize + 100;
    let body = pseudo_random(n, 5);
    put_object(&s.gw, &c, &bucket, "obj", body.clone()).await.assert_ok();
    let extra = vec![
        ("bytes=131071-196700".to_owned(), 131_071, 196_700),
        (format!("bytes={}-", 3 * SEG), 3 * SEG as usize, n - 1),
    ];
    check_ranges(&s, &c, &bucket, "obj", &body, &range_table(n, &extra)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ranges_on_a_multipart_object() {
    let (s, c, bucket) = stack_with_bucket("ranges-multi").await;
    let p1 = pseudo_random(5 * MIB + 1, 6);
    let p2 = pseudo_random(1000, 7);
    multipart_put(&s.gw, &c, &bucket, "mp", &[&p1, &p2], &[]).await;
    let body = [p1.clone(), p2.clone()].concat();
    let n = body.len();
    let b = p1.len(); // first byte of part 2
    let extra = vec![
        (format!("bytes={}-{}", b - 10, b + 10), b - 10, b + 10),
        (format!("bytes={}-{}", b - 1, b), b - 1, b),
        (format!("bytes={b}-{b}"), b, b),
        (format!("bytes={}-{}", b - 1, b - 1), b - 1, b - 1),
        (format!("bytes={}-", b - 70_000), b - 70_000, n - 1),
        ("bytes=-1000".to_owned(), b, n - 1),
        ("bytes=-1001".to_owned(), b - 1, n - 1),
        (format!("bytes=5000000-{}", b + 500), 5_000_000, b + 500),
    ];
    check_ranges(&s, &c, &bucket, "mp", &body, &range_table(n, &extra)).await;
}

/// Ranges that start in one part and end in a later one, on an object whose first two parts are not multiples of
/// 64 KiB (so the part streams' segments do not line up with a single stream's).
#[tokio::test(flavor = "multi_thread")]
async fn range_into_a_later_part_of_an_unaligned_multipart_object() {
    let (s, c, bucket) = stack_with_bucket("ranges-unaligned").await;
    let parts = [
        pseudo_random(5 * MIB, 12),
        pseudo_random(5 * MIB + 3, 13),
        pseudo_random(70_000, 14),
    ];
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    multipart_put(&s.gw, &c, &bucket, "mp", &refs, &[]).await;
    let body = parts.concat();
    let n = body.len();
    let (b2, b3) = (5 * MIB, 10 * MIB + 3); // first bytes of parts 2 and 3
    let mut problems = Vec::new();
    for (a, b) in [
        (b2 - 3, b2 + 3),
        (b3 - 3, b3 + 7),
        (b3 - 1, b3),
        (b3 - 70_000, b3 + 10),
        (b2 - 10, b3 + 10),
        (b3 - 3, n - 1),
    ] {
        let range = format!("bytes={a}-{b}");
        let r = call_lossy(&s.gw, &c, Method::GET, &format!("/{bucket}/mp"), &[("range", &range)]).await;
        let ok = r.status == StatusCode::PARTIAL_CONTENT
            && r.body_error.is_none()
            && r.header("content-range") == Some(format!("bytes {a}-{b}/{n}").as_str())
            && r.body.as_ref() == &body[a..=b];
        if !ok {
            problems.push(format!(
                "Range {range}: {} {:?}, {} of {} bytes, body error {:?}, right bytes: {}",
                r.status,
                r.header("content-range"),
                r.body.len(),
                b - a + 1,
                r.body_error.as_deref().map(|e| &e[..e.len().min(60)]),
                body[a..].starts_with(&r.body)
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "ranged GETs of a multipart object with parts of 5 MiB, 5 MiB + 3 and 70000 bytes:\n  {}",
        problems.join("\n  ")
    );
}

/// ListParts of an upload in progress shows the plaintext part sizes and the ETags UploadPart returned.
#[tokio::test(flavor = "multi_thread")]
async fn list_parts_shows_plaintext_part_sizes() {
    let (s, c, bucket) = stack_with_bucket("list-parts").await;
    let id = create_mpu(&s.gw, &c, &bucket, "mp", &[]).await;
    let mut etags = Vec::new();
    for (n, size) in [(1u32, 5 * MIB + 1), (2, 1000)] {
        let r = upload_part(
            &s.gw,
            &c,
            &bucket,
            "mp",
            &id,
            n,
            &pseudo_random(size, u64::from(n)),
            &[],
        )
        .await;
        r.assert_ok();
        etags.push(r.header("etag").unwrap().to_owned());
    }
    let r = get_with(&s.gw, &c, &format!("/{bucket}/mp?uploadId={}", enc(&id)), &[]).await;
    r.assert_ok();
    let text = r.text();
    assert_eq!(r.xml_tag("UploadId").as_deref(), Some(id.as_str()), "{text}");
    let parts: Vec<(String, String, String)> = text
        .split("<Part>")
        .skip(1)
        .map(|p| {
            (
                xml_tag(p, "PartNumber").unwrap_or_default(),
                xml_tag(p, "Size").unwrap_or_default(),
                xml_tag(p, "ETag").unwrap_or_default().replace("&quot;", "\""),
            )
        })
        .collect();
    // (s3s-fs lists parts in directory order.)
    let mut parts = parts;
    parts.sort_by_key(|(n, _, _)| n.parse::<u32>().unwrap_or(0));
    let sizes: Vec<(&str, &str)> = parts.iter().map(|(n, s, _)| (n.as_str(), s.as_str())).collect();
    let want_1 = (5 * MIB + 1).to_string();
    assert_eq!(sizes, vec![("1", want_1.as_str()), ("2", "1000")], "ListParts: {text}");
    // (s3s-fs lists parts without ETags; where one is listed, it is the one UploadPart returned.)
    for ((n, _, e), want) in parts.iter().zip(&etags) {
        assert!(
            e.is_empty() || e == want,
            "part {n}: ListParts ETag {e}, UploadPart said {want}"
        );
    }
    let r = call(
        &s.gw,
        &c,
        Method::DELETE,
        &format!("/{bucket}/mp?uploadId={}", enc(&id)),
        Bytes::new(),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "AbortMultipartUpload: {}", r.text());
}

/// Listings show the plaintext size of multipart objects, whatever their part sizes.
#[tokio::test(flavor = "multi_thread")]
async fn listing_shows_plaintext_sizes_of_multipart_objects() {
    let (s, c, bucket) = stack_with_bucket("list-multi").await;
    let cases: [(&str, Vec<usize>); 3] = [
        ("aligned", vec![5 * MIB, 5 * MIB, 2 * MIB + 7]),
        ("unaligned-first", vec![5 * MIB + 1, 1000]),
        ("unaligned-middle", vec![5 * MIB, 5 * MIB + 3, 70_000]),
    ];
    let mut want = Vec::new();
    for (key, sizes) in &cases {
        let parts: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| pseudo_random(n, i as u64))
            .collect();
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        multipart_put(&s.gw, &c, &bucket, key, &refs, &[]).await;
        let total: usize = sizes.iter().sum();
        let h = head_with(&s.gw, &c, &format!("/{bucket}/{key}"), &[]).await;
        assert_eq!(
            h.header("content-length"),
            Some(total.to_string().as_str()),
            "HEAD {key}"
        );
        // Aligned uploads keep one segment stream per part; unaligned SSE-S3 uploads are re-encrypted at Complete
        // as one stream, so that the listed size can be derived (docs/format.md).
        let aligned = sizes[..sizes.len() - 1].iter().all(|&p| p % SEG as usize == 0);
        let cipher: u64 = if aligned {
            sizes.iter().map(|&p| ct_len(p as u64)).sum()
        } else {
            ct_len(total as u64)
        };
        assert_eq!(
            file_len(&data_file(&s.backend, &bucket, key)),
            cipher,
            "{key}: backend size"
        );
        want.push((key.to_string(), total as u64));
    }
    want.sort();
    for q in ["list-type=2", ""] {
        let path = if q.is_empty() {
            format!("/{bucket}")
        } else {
            format!("/{bucket}?{q}")
        };
        let r = get_with(&s.gw, &c, &path, &[]).await;
        r.assert_ok();
        let got: Vec<(String, u64)> = listed(&r.text()).into_iter().map(|(k, s, _)| (k, s)).collect();
        assert_eq!(got, want, "listing {q:?} (parts: {cases:?}): {}", r.text());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_object_reads_empty() {
    let (s, c, bucket) = stack_with_bucket("ranges-empty").await;
    put_object(&s.gw, &c, &bucket, "empty", Bytes::new()).await.assert_ok();
    assert_eq!(file_len(&data_file(&s.backend, &bucket, "empty")), 16);
    let g = get_object(&s.gw, &c, &bucket, "empty").await;
    assert_body(&g, b"", "GET empty");
    assert_eq!(g.header("content-length"), Some("0"));
    let h = head_with(&s.gw, &c, &format!("/{bucket}/empty"), &[]).await;
    h.assert_ok();
    assert_eq!(h.header("content-length"), Some("0"));
    assert_eq!(h.header("x-amz-server-side-encryption"), Some("AES256"));
    let r = get_with(&s.gw, &c, &format!("/{bucket}/empty"), &[("range", "bytes=0-")]).await;
    assert_eq!(r.status.as_u16(), 416, "Range on an empty object: {}", r.text());
}

/// `(key, size)` of every `<Version>` of a ListObjectVersions answer.
fn listed_versions(xml: &str) -> Vec<(String, u64)> {
    xml.split("<Version>")
        .skip(1)
        .map(|v| {
            let v = &v[..v.find("</Version>").expect("closed Version")];
            (
                xml_tag(v, "Key").expect("Key"),
                xml_tag(v, "Size").and_then(|s| s.parse().ok()).expect("Size"),
            )
        })
        .collect()
}

/// `(part number, size)` of every part of a ListParts answer, by part number.
fn listed_parts(xml: &str) -> Vec<(u32, u64)> {
    let mut parts: Vec<(u32, u64)> = xml
        .split("<Part>")
        .skip(1)
        .map(|p| {
            (
                xml_tag(p, "PartNumber")
                    .and_then(|n| n.parse().ok())
                    .expect("PartNumber"),
                xml_tag(p, "Size").and_then(|s| s.parse().ok()).expect("Size"),
            )
        })
        .collect();
    parts.sort_unstable();
    parts
}

/// Every listing states the exact plaintext size of every multipart object, whatever its part sizes (aligned,
/// unaligned, a 1-byte or an empty last part) and SSE mode (SSE-S3, SSE-KMS, SSE-C with the key on Complete, as
/// s3transfer and aws-cli send it, and without it): ListParts during the upload, ListObjects V1 and V2 and ListObjectVersions
/// after it; GET and HEAD read back exactly what was uploaded.
#[tokio::test(flavor = "multi_thread")]
#[allow(clippy::too_many_lines, reason = "one matrix, read top to bottom")]
async fn every_listing_states_exact_sizes_of_multipart_objects_in_every_mode() {
    let (s, c, bucket) = stack_with_bucket("list-sizes").await;
    let k = CustomerKey::new(91);
    let cases: [(&str, Vec<usize>); 5] = [
        ("aligned", vec![5 * MIB, 5 * MIB, 1000]),
        ("unaligned", vec![5 * MIB + 1, 5 * MIB + 3, 333]),
        ("one-byte-last", vec![5 * MIB + 1, 1]),
        ("aligned-one-byte-last", vec![5 * MIB, 1]),
        ("empty-last", vec![5 * MIB, 0]),
    ];
    let kms = [("x-amz-server-side-encryption", "aws:kms")];
    // (mode, headers of CreateMultipartUpload, of UploadPart, GET and HEAD, of Complete)
    type Headers<'a> = Vec<(&'a str, &'a str)>;
    let modes: [(&str, Headers, Headers, Headers); 4] = [
        ("sse-s3", vec![], vec![], vec![]),
        ("sse-kms", kms.to_vec(), vec![], vec![]),
        ("sse-c", k.headers(), k.headers(), k.headers()),
        // Completed without the key (S3 does not ask for it): odd parts cannot be rewritten as one stream, and
        // listings read the size the gateway recorded at Complete.
        ("sse-c-keyless", k.headers(), k.headers(), vec![]),
    ];
    let mut want = Vec::new();
    for (mode, create_headers, headers, complete_headers) in &modes {
        for (case, sizes) in &cases {
            let key = format!("{mode}/{case}");
            let what = format!("{key} {sizes:?}");
            let parts: Vec<Vec<u8>> = sizes
                .iter()
                .enumerate()
                .map(|(i, &n)| pseudo_random(n, 100 + i as u64))
                .collect();
            let all = parts.concat();
            let id = create_mpu(&s.gw, &c, &bucket, &key, create_headers).await;
            let mut etags = Vec::new();
            for (i, p) in parts.iter().enumerate() {
                let n = i as u32 + 1;
                let r = upload_part(&s.gw, &c, &bucket, &key, &id, n, p, headers).await;
                assert_eq!(r.status, StatusCode::OK, "{what}: UploadPart {n}: {}", r.text());
                etags.push((n, r.header("etag").expect("part ETag").to_owned()));
            }
            let r = get_with(&s.gw, &c, &format!("/{bucket}/{key}?uploadId={}", enc(&id)), &[]).await;
            r.assert_ok();
            let want_parts: Vec<(u32, u64)> = (1..).zip(sizes.iter().map(|&n| n as u64)).collect();
            assert_eq!(listed_parts(&r.text()), want_parts, "{what}: ListParts");
            let r = complete_mpu(&s.gw, &c, &bucket, &key, &id, &etags, complete_headers).await;
            assert_eq!(r.status, StatusCode::OK, "{what}: Complete: {}", r.text());
            assert!(!r.text().contains("<Error>"), "{what}: Complete: {}", r.text());
            let etag = r.xml_tag("ETag").expect("ETag").replace("&quot;", "\"");

            let g = get_with(&s.gw, &c, &format!("/{bucket}/{key}"), headers).await;
            assert_body(&g, &all, &format!("{what}: GET"));
            assert_eq!(g.header("etag"), Some(etag.as_str()), "{what}: GET ETag = Complete's");
            let h = head_with(&s.gw, &c, &format!("/{bucket}/{key}"), headers).await;
            assert_eq!(
                h.header("content-length"),
                Some(all.len().to_string().as_str()),
                "{what}: HEAD"
            );
            want.push((key, all.len() as u64, etag));
        }
    }
    want.sort();
    for q in ["", "?list-type=2", "?list-type=2&max-keys=4"] {
        let mut got = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let path = match &token {
                Some(t) => format!("/{bucket}{q}&continuation-token={}", enc(t)),
                None => format!("/{bucket}{q}"),
            };
            let r = get_with(&s.gw, &c, &path, &[]).await;
            r.assert_ok();
            got.extend(listed(&r.text()));
            token = r.xml_tag("NextContinuationToken");
            if token.is_none() {
                break;
            }
        }
        assert_eq!(got, want, "listing {q:?}");
    }
    let r = get_with(&s.gw, &c, &format!("/{bucket}?versions"), &[]).await;
    r.assert_ok();
    let want_sizes: Vec<(String, u64)> = want.iter().map(|(k, s, _)| (k.clone(), *s)).collect();
    assert_eq!(listed_versions(&r.text()), want_sizes, "ListObjectVersions");
}

/// boto3's upload_file and `aws s3 cp` with parts of 5 MiB + 1 in every SSE mode: both send the SSE-C key on
/// CompleteMultipartUpload, so every listing shows the exact size (`tests/clients/listing_sizes.py`).
#[test]
fn sdk_multipart_uploads_with_odd_parts_list_exact_sizes() {
    let stack = Stack::start();
    let out = run_python_part(&stack, "listing_sizes.py", "listing-sizes");
    assert!(out.contains("listing_sizes: all checks passed"), "{out}");
}
