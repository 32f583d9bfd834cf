use super::*;

// ------------------------------------------------------------------------------------------------
// 8. SSE-C
// ------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
#[allow(clippy::too_many_lines, reason = "one scenario, read top to bottom")]
async fn sse_c_requests_as_aws_answers_them() {
    let backend = Backend::start();
    let gw = Gateway::start_with_env(&backend, "", &[("S3_SSE_PROXY_LOG", "trace")]);
    let c = gw.client();
    let bucket = unique_bucket("sse-c");
    create_bucket(&gw, &c, &bucket).await;
    let k = CustomerKey::new(61);
    let wrong = CustomerKey::new(62);
    let data = marker_body(MARKER, 0, 150_000);
    let path = format!("/{bucket}/secret");

    let r = call(&gw, &c, Method::PUT, &path, data.clone(), &k.headers()).await;
    r.assert_ok();
    assert_sse_c_echo(&r, &k, "PUT");
    assert_eq!(
        r.header("x-amz-server-side-encryption"),
        None,
        "PUT SSE-C is not SSE-S3"
    );
    assert_eq!(file_len(&data_file(&backend, &bucket, "secret")), ct_len(150_000));

    // Without the key.
    get_with(&gw, &c, &path, &[]).await.assert_error(400, "InvalidRequest");
    let h = head_with(&gw, &c, &path, &[]).await;
    assert_eq!(h.status, StatusCode::BAD_REQUEST, "HEAD without the key");
    get_with(&gw, &c, &path, &[("range", "bytes=0-9")])
        .await
        .assert_error(400, "InvalidRequest");
    // With the wrong key.
    get_with(&gw, &c, &path, &wrong.headers())
        .await
        .assert_error(403, "AccessDenied");
    let h = head_with(&gw, &c, &path, &wrong.headers()).await;
    assert_eq!(h.status, StatusCode::FORBIDDEN, "HEAD with a wrong key");
    // With the right key.
    let g = get_with(&gw, &c, &path, &k.headers()).await;
    assert_body(&g, &data, "GET with the key");
    assert_sse_c_echo(&g, &k, "GET");
    assert_no_envelope(&g.headers, "GET");
    let h = head_with(&gw, &c, &path, &k.headers()).await;
    h.assert_ok();
    assert_sse_c_echo(&h, &k, "HEAD");
    assert_eq!(h.header("content-length"), Some("150000"));
    let mut rh = k.headers();
    rh.push(("range", "bytes=65530-65545"));
    let g = get_with(&gw, &c, &path, &rh).await;
    assert_eq!(g.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(g.body.as_ref(), &data[65530..=65545]);
    assert_sse_c_echo(&g, &k, "ranged GET");

    // Malformed SSE-C requests write nothing.
    let bad_md5 = vec![
        ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
        ("x-amz-server-side-encryption-customer-key", k.b64.as_str()),
        ("x-amz-server-side-encryption-customer-key-md5", wrong.md5.as_str()),
    ];
    call(&gw, &c, Method::PUT, &format!("/{bucket}/bad-md5"), "x", &bad_md5)
        .await
        .assert_error(400, "InvalidArgument");
    backend.assert_absent(&bucket, "bad-md5").await;
    get_with(&gw, &c, &path, &bad_md5)
        .await
        .assert_error(400, "InvalidArgument");
    let mut both = k.headers();
    both.push(("x-amz-server-side-encryption", "AES256"));
    let r = call(&gw, &c, Method::PUT, &format!("/{bucket}/both"), "x", &both).await;
    assert_eq!(
        r.status.as_u16(),
        400,
        "SSE-C with x-amz-server-side-encryption: {}",
        r.text()
    );
    backend.assert_absent(&bucket, "both").await;
    // An SSE-C key for an SSE-S3 object.
    put_object(&gw, &c, &bucket, "s3obj", "plain sse-s3").await.assert_ok();
    let r = get_with(&gw, &c, &format!("/{bucket}/s3obj"), &k.headers()).await;
    r.assert_error(400, "InvalidRequest");

    // Multipart: every part needs the key.
    let key = "mp-secret";
    let id = create_mpu(&gw, &c, &bucket, key, &k.headers()).await;
    let p1 = marker_body(MARKER, 1, 5 * MIB);
    let p2 = marker_body(MARKER, 2, 3000);
    let r = upload_part(&gw, &c, &bucket, key, &id, 1, &p1, &k.headers()).await;
    r.assert_ok();
    assert_sse_c_echo(&r, &k, "UploadPart");
    let e1 = r.header("etag").unwrap().to_owned();
    let r = upload_part(&gw, &c, &bucket, key, &id, 2, &p2, &[]).await;
    r.assert_error(400, "InvalidRequest");
    assert_eq!(
        r.xml_tag("Message").as_deref(),
        Some(
            "The multipart upload initiate requested encryption. Subsequent part requests must include the \
             appropriate encryption parameters."
        ),
        "{}",
        r.text()
    );
    let r = upload_part(&gw, &c, &bucket, key, &id, 2, &p2, &wrong.headers()).await;
    r.assert_error_message(
        400,
        "InvalidRequest",
        PART_KEY_MISMATCH,
        "UploadPart with another key than the upload's",
    );
    let r = upload_part(&gw, &c, &bucket, key, &id, 2, &p2, &k.headers()).await;
    r.assert_ok();
    let e2 = r.header("etag").unwrap().to_owned();
    let r = complete_mpu(&gw, &c, &bucket, key, &id, &[(1, e1), (2, e2)], &k.headers()).await;
    assert_eq!(r.status, StatusCode::OK, "Complete: {}", r.text());
    let mp_path = format!("/{bucket}/{key}");
    let all = [p1.clone(), p2.clone()].concat();
    assert_body(
        &get_with(&gw, &c, &mp_path, &k.headers()).await,
        &all,
        "SSE-C multipart",
    );
    get_with(&gw, &c, &mp_path, &[])
        .await
        .assert_error(400, "InvalidRequest");
    get_with(&gw, &c, &mp_path, &wrong.headers())
        .await
        .assert_error(403, "AccessDenied");

    // Nothing at the backend or in the gateway's trace log shows the key (or the data).
    let leaks = files_containing(&backend.root, MARKER);
    assert!(leaks.is_empty(), "plaintext at the backend: {leaks:?}");
    let log = gw.log();
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "S3_SSE_PROXY_LOG=trace took effect (log of {} bytes):\n{}",
        log.len(),
        tail(&log, 20)
    );
    for key in [&k, &wrong] {
        for form in key.text_forms() {
            let in_log: Vec<&str> = log.lines().filter(|l| l.contains(&form)).take(3).collect();
            assert!(
                in_log.is_empty(),
                "the customer key ({form}) is in the gateway's log: {in_log:#?}"
            );
            let in_files = files_containing(&backend.root, form.as_bytes());
            assert!(
                in_files.is_empty(),
                "the customer key ({form}) is in backend files: {in_files:?}"
            );
        }
        let in_files = files_containing(&backend.root, &key.raw);
        assert!(
            in_files.is_empty(),
            "the raw customer key is in backend files: {in_files:?}"
        );
    }
    assert!(
        !backend.proc.log().contains(&k.b64),
        "the customer key reached the backend"
    );
}

/// AWS's words for SSE-C errors (see `src/s3/sse.rs`, `src/object/mod.rs`, `src/object/multipart.rs`).
const NEEDS_ALGORITHM: &str =
    "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.";
const NEEDS_KEY: &str =
    "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.";
const NEEDS_MD5: &str = "Requests specifying Server Side Encryption with Customer provided keys must provide the \
                         client calculated MD5 of the secret key.";
const BAD_ALGORITHM: &str = "The encryption request that you specified is not valid. The valid value is AES256.";
const BAD_KEY: &str = "The secret key was invalid for the specified algorithm.";
const BAD_MD5: &str = "The calculated MD5 hash of the key did not match the hash that was provided.";
const BOTH_METHODS: &str =
    "Server Side Encryption with Customer provided key is incompatible with the encryption method specified";
const STORED_WITH_SSE: &str = "The object was stored using a form of Server Side Encryption. The correct parameters \
                               must be provided to retrieve the object.";
const NOT_APPLICABLE: &str = "The encryption parameters are not applicable to this object.";
const PART_NEEDS_KEY: &str = "The multipart upload initiate requested encryption. Subsequent part requests must \
                              include the appropriate encryption parameters.";
const PART_KEY_MISMATCH: &str = "The provided encryption parameters did not match the ones used originally.";

/// The SSE-C header triple with each value chosen freely (`None` leaves a header out); `prefix` is
/// `x-amz-` or `x-amz-copy-source-`.
fn sse_c_headers<'a>(
    prefix: &str,
    alg: Option<&'a str>,
    key: Option<&'a str>,
    md5: Option<&'a str>,
) -> Vec<(&'static str, &'a str)> {
    let names: [&'static str; 3] = if prefix == "x-amz-" {
        [
            "x-amz-server-side-encryption-customer-algorithm",
            "x-amz-server-side-encryption-customer-key",
            "x-amz-server-side-encryption-customer-key-md5",
        ]
    } else {
        [
            "x-amz-copy-source-server-side-encryption-customer-algorithm",
            "x-amz-copy-source-server-side-encryption-customer-key",
            "x-amz-copy-source-server-side-encryption-customer-key-md5",
        ]
    };
    names
        .into_iter()
        .zip([alg, key, md5])
        .filter_map(|(n, v)| v.map(|v| (n, v)))
        .collect()
}

/// Every malformed SSE-C triple, as `(what, prefix → headers, message)`; each is 400 `InvalidArgument` except
/// the algorithm, which S3 answers with `InvalidEncryptionAlgorithmError`.
fn malformed_triples<'a>(k: &'a CustomerKey, short: &'a (String, String), other_md5: &'a str) -> MalformedTriples<'a> {
    vec![
        (
            "no algorithm",
            (None, Some(k.b64.as_str()), Some(k.md5.as_str())),
            "InvalidArgument",
            NEEDS_ALGORITHM,
        ),
        (
            "algorithm AES128",
            (Some("AES128"), Some(k.b64.as_str()), Some(k.md5.as_str())),
            "InvalidEncryptionAlgorithmError",
            BAD_ALGORITHM,
        ),
        (
            "no key",
            (Some("AES256"), None, Some(k.md5.as_str())),
            "InvalidArgument",
            NEEDS_KEY,
        ),
        (
            "no key MD5",
            (Some("AES256"), Some(k.b64.as_str()), None),
            "InvalidArgument",
            NEEDS_MD5,
        ),
        (
            "a 16-byte key",
            (Some("AES256"), Some(short.0.as_str()), Some(short.1.as_str())),
            "InvalidArgument",
            BAD_KEY,
        ),
        (
            "a key that is not base64",
            (Some("AES256"), Some("not base64!"), Some(k.md5.as_str())),
            "InvalidArgument",
            BAD_KEY,
        ),
        (
            "another key's MD5",
            (Some("AES256"), Some(k.b64.as_str()), Some(other_md5)),
            "InvalidArgument",
            BAD_MD5,
        ),
    ]
}

type MalformedTriples<'a> = Vec<(
    &'static str,
    (Option<&'a str>, Option<&'a str>, Option<&'a str>),
    &'static str,
    &'static str,
)>;

/// Every SSE-C error a client can meet, with AWS's status, code and message, on every operation that takes SSE-C
/// headers; none of the refused writes leaves an object behind.
#[tokio::test(flavor = "multi_thread")]
#[allow(clippy::too_many_lines, reason = "one scenario, read top to bottom")]
async fn sse_c_errors_in_aws_words() {
    let (s, c, bucket) = stack_with_bucket("sse-c-errors").await;
    let k = CustomerKey::new(71);
    let other = CustomerKey::new(72);
    let raw16 = pseudo_random(16, 73);
    let short = (b64(&raw16), md5_b64(&raw16));
    let path = |key: &str| format!("/{bucket}/{key}");
    call(&s.gw, &c, Method::PUT, &path("c-obj"), "sse-c object", &k.headers())
        .await
        .assert_ok();
    put_object(&s.gw, &c, &bucket, "s3-obj", "sse-s3 object")
        .await
        .assert_ok();

    // Malformed triples: on PUT, CreateMultipartUpload, CopyObject (destination and source), GET and HEAD.
    for (what, (alg, key, md5), code, message) in malformed_triples(&k, &short, &other.md5) {
        let dest = sse_c_headers("x-amz-", alg, key, md5);
        let r = call(&s.gw, &c, Method::PUT, &path("new"), "x", &dest).await;
        r.assert_error_message(400, code, message, &format!("PUT with {what}"));
        let r = call(
            &s.gw,
            &c,
            Method::POST,
            &format!("/{bucket}/new?uploads"),
            Bytes::new(),
            &dest,
        )
        .await;
        r.assert_error_message(400, code, message, &format!("CreateMultipartUpload with {what}"));
        let mut h = vec![("x-amz-copy-source", format!("/{bucket}/s3-obj"))];
        h.extend(dest.iter().map(|(n, v)| (*n, v.to_string())));
        let h: Vec<(&str, &str)> = h.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let r = call(&s.gw, &c, Method::PUT, &path("new"), Bytes::new(), &h).await;
        r.assert_error_message(400, code, message, &format!("CopyObject destination with {what}"));
        let src_path = path("c-obj");
        let mut h = vec![("x-amz-copy-source", src_path.as_str())];
        h.extend(sse_c_headers("x-amz-copy-source-", alg, key, md5));
        let r = call(&s.gw, &c, Method::PUT, &path("new"), Bytes::new(), &h).await;
        r.assert_error_message(400, code, message, &format!("CopyObject source with {what}"));
        let r = get_with(&s.gw, &c, &path("c-obj"), &dest).await;
        r.assert_error_message(400, code, message, &format!("GET with {what}"));
        let r = head_with(&s.gw, &c, &path("c-obj"), &dest).await;
        assert_eq!(r.status.as_u16(), 400, "HEAD with {what}");
        s.backend.assert_absent(&bucket, "new").await;
    }
    // SSE-C together with x-amz-server-side-encryption (either value).
    for sse in ["AES256", "aws:kms"] {
        let mut h = k.headers();
        h.push(("x-amz-server-side-encryption", sse));
        let r = call(&s.gw, &c, Method::PUT, &path("new"), "x", &h).await;
        r.assert_error_message(400, "InvalidArgument", BOTH_METHODS, &format!("PUT SSE-C + {sse}"));
        let r = call(
            &s.gw,
            &c,
            Method::POST,
            &format!("/{bucket}/new?uploads"),
            Bytes::new(),
            &h,
        )
        .await;
        r.assert_error_message(400, "InvalidArgument", BOTH_METHODS, &format!("Create SSE-C + {sse}"));
    }
    s.backend.assert_absent(&bucket, "new").await;

    // Reads: no key, a wrong key, a key for an object that has none.
    let r = get_with(&s.gw, &c, &path("c-obj"), &[]).await;
    r.assert_error_message(
        400,
        "InvalidRequest",
        STORED_WITH_SSE,
        "GET of an SSE-C object without its key",
    );
    assert_eq!(head_with(&s.gw, &c, &path("c-obj"), &[]).await.status.as_u16(), 400);
    let r = get_with(&s.gw, &c, &path("c-obj"), &other.headers()).await;
    r.assert_error_message(403, "AccessDenied", "Access Denied", "GET with another key");
    assert_eq!(
        head_with(&s.gw, &c, &path("c-obj"), &other.headers())
            .await
            .status
            .as_u16(),
        403
    );
    let r = get_with(&s.gw, &c, &path("s3-obj"), &k.headers()).await;
    r.assert_error_message(
        400,
        "InvalidRequest",
        NOT_APPLICABLE,
        "GET of an SSE-S3 object with a key",
    );
    assert_eq!(
        head_with(&s.gw, &c, &path("s3-obj"), &k.headers())
            .await
            .status
            .as_u16(),
        400
    );

    // Copy sources: without the key, with another key, a key for a source that has none.
    let c_src = path("c-obj");
    let s3_src = path("s3-obj");
    let copy = |src: &str, extra: Vec<(&'static str, &str)>| {
        let mut h: Vec<(String, String)> = vec![("x-amz-copy-source".into(), src.to_owned())];
        h.extend(extra.into_iter().map(|(n, v)| (n.to_owned(), v.to_owned())));
        h
    };
    for (what, h, status, code, message) in [
        (
            "SSE-C source without its key",
            copy(&c_src, vec![]),
            400,
            "InvalidRequest",
            STORED_WITH_SSE,
        ),
        (
            "SSE-C source with another key",
            copy(&c_src, other.copy_source_headers()),
            403,
            "AccessDenied",
            "Access Denied",
        ),
        (
            "SSE-S3 source with a key",
            copy(&s3_src, k.copy_source_headers()),
            400,
            "InvalidRequest",
            NOT_APPLICABLE,
        ),
    ] {
        let h: Vec<(&str, &str)> = h.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let r = call(&s.gw, &c, Method::PUT, &path("copy"), Bytes::new(), &h).await;
        r.assert_error_message(status, code, message, &format!("CopyObject of an {what}"));
        s.backend.assert_absent(&bucket, "copy").await;
    }

    // Parts: an SSE-C upload needs its key on each part; another key is a mismatch (400, not 403).
    let id = create_mpu(&s.gw, &c, &bucket, "mp", &k.headers()).await;
    let r = upload_part(&s.gw, &c, &bucket, "mp", &id, 1, b"part", &[]).await;
    r.assert_error_message(400, "InvalidRequest", PART_NEEDS_KEY, "UploadPart without the key");
    let r = upload_part(&s.gw, &c, &bucket, "mp", &id, 1, b"part", &other.headers()).await;
    r.assert_error_message(400, "InvalidRequest", PART_KEY_MISMATCH, "UploadPart with another key");
    for (what, extra, message) in [
        ("without the upload's key", vec![], PART_NEEDS_KEY),
        ("with another key", other.headers(), PART_KEY_MISMATCH),
    ] {
        let mut h = vec![("x-amz-copy-source", s3_src.as_str())];
        h.extend(extra);
        let r = call(
            &s.gw,
            &c,
            Method::PUT,
            &part_path(&bucket, "mp", &id, 1),
            Bytes::new(),
            &h,
        )
        .await;
        r.assert_error_message(400, "InvalidRequest", message, &format!("UploadPartCopy {what}"));
    }
    let mut h = vec![("x-amz-copy-source", c_src.as_str())];
    h.extend(k.headers());
    let r = call(
        &s.gw,
        &c,
        Method::PUT,
        &part_path(&bucket, "mp", &id, 1),
        Bytes::new(),
        &h,
    )
    .await;
    r.assert_error_message(
        400,
        "InvalidRequest",
        STORED_WITH_SSE,
        "UploadPartCopy of an SSE-C source without its key",
    );
    let plain_id = create_mpu(&s.gw, &c, &bucket, "mp-plain", &[]).await;
    let r = upload_part(&s.gw, &c, &bucket, "mp-plain", &plain_id, 1, b"part", &k.headers()).await;
    r.assert_error_message(
        400,
        "InvalidRequest",
        NOT_APPLICABLE,
        "UploadPart with a key to an SSE-S3 upload",
    );
    // Nothing was stored for the refused parts.
    let r = call(
        &s.gw,
        &c,
        Method::GET,
        &format!("/{bucket}/mp?uploadId={}", enc(&id)),
        Bytes::new(),
        &[],
    )
    .await;
    r.assert_ok();
    assert!(!r.text().contains("<Part>"), "refused parts were stored: {}", r.text());
    for key in ["mp", "mp-plain"] {
        s.backend.assert_absent(&bucket, key).await;
    }
}

/// An SSE-C multipart upload with odd part sizes (5 MiB + 17, 5 MiB + 1, 333 bytes), as S3 defines each step:
/// ListParts and CompleteMultipartUpload need no key (a wrong one is refused), Complete does not echo SSE-C
/// headers, and the object reads whole, by `partNumber` and by ranges across parts only with its key.
#[tokio::test(flavor = "multi_thread")]
#[allow(clippy::too_many_lines, reason = "one scenario, read top to bottom")]
async fn sse_c_multipart_upload_and_reads() {
    let (s, c, bucket) = stack_with_bucket("sse-c-mp").await;
    let k = CustomerKey::new(81);
    let other = CustomerKey::new(82);
    let parts = [
        marker_body(MARKER, 3, 5 * MIB + 17),
        marker_body(MARKER, 5, 5 * MIB + 1),
        marker_body(MARKER, 7, 333),
    ];
    let all = parts.concat();
    let n = all.len();
    let key = "odd-parts";
    let path = format!("/{bucket}/{key}");

    let r = call(
        &s.gw,
        &c,
        Method::POST,
        &format!("{path}?uploads"),
        Bytes::new(),
        &k.headers(),
    )
    .await;
    r.assert_ok();
    assert_sse_c_echo(&r, &k, "CreateMultipartUpload");
    let id = r.xml_tag("UploadId").expect("UploadId");
    let mut etags = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let r = upload_part(&s.gw, &c, &bucket, key, &id, i as u32 + 1, p, &k.headers()).await;
        r.assert_ok();
        assert_sse_c_echo(&r, &k, "UploadPart");
        etags.push((i as u32 + 1, r.header("etag").expect("part ETag").to_owned()));
    }

    // ListParts without the key: plaintext sizes and the ETags UploadPart returned; a wrong key is refused.
    let list_path = format!("{path}?uploadId={}", enc(&id));
    let r = call(&s.gw, &c, Method::GET, &list_path, Bytes::new(), &[]).await;
    r.assert_ok();
    let text = r.text();
    // (s3s-fs lists parts in directory order and without ETags; where one is listed, it is UploadPart's.)
    let mut listed_parts: Vec<(u32, String, String)> = text
        .split("<Part>")
        .skip(1)
        .map(|p| {
            (
                xml_tag(p, "PartNumber").and_then(|n| n.parse().ok()).unwrap_or(0),
                xml_tag(p, "Size").unwrap_or_default(),
                xml_tag(p, "ETag").unwrap_or_default().replace("&quot;", "\""),
            )
        })
        .collect();
    listed_parts.sort_by_key(|(n, _, _)| *n);
    let want: Vec<(u32, String)> = (1..=3).zip(parts.iter().map(|p| p.len().to_string())).collect();
    let got: Vec<(u32, String)> = listed_parts.iter().map(|(n, s, _)| (*n, s.clone())).collect();
    assert_eq!(got, want, "ListParts without the key: plaintext part sizes ({text})");
    for ((n, _, e), (_, want)) in listed_parts.iter().zip(&etags) {
        assert!(
            e.is_empty() || e == want,
            "part {n}: ListParts ETag {e}, UploadPart said {want}"
        );
    }
    let r = call(&s.gw, &c, Method::GET, &list_path, Bytes::new(), &other.headers()).await;
    r.assert_error_message(400, "InvalidRequest", PART_KEY_MISMATCH, "ListParts with another key");

    // Complete: a wrong key is refused and completes nothing; without a key it completes.
    let r = complete_mpu(&s.gw, &c, &bucket, key, &id, &etags, &other.headers()).await;
    r.assert_error_message(400, "InvalidRequest", PART_KEY_MISMATCH, "Complete with another key");
    s.backend.assert_absent(&bucket, key).await;
    let r = complete_mpu(&s.gw, &c, &bucket, key, &id, &etags, &[]).await;
    r.assert_ok();
    assert!(!r.text().contains("<Error>"), "{}", r.text());
    for h in [
        "x-amz-server-side-encryption",
        "x-amz-server-side-encryption-customer-algorithm",
        "x-amz-server-side-encryption-customer-key-md5",
    ] {
        assert_eq!(
            r.header(h),
            None,
            "CompleteMultipartUpload's answer has no {h} (S3 sends none for SSE-C)"
        );
    }
    let etag = r.xml_tag("ETag").expect("ETag").replace("&quot;", "\"");
    assert!(etag.ends_with("-3\""), "a 3-part object's ETag: {etag}");

    // HEAD: only with the key; echoes it; the size and ETag Complete stated.
    let h = head_with(&s.gw, &c, &path, &k.headers()).await;
    h.assert_ok();
    assert_sse_c_echo(&h, &k, "HEAD");
    assert_eq!(h.header("content-length"), Some(n.to_string().as_str()), "HEAD size");
    assert_eq!(h.header("etag"), Some(etag.as_str()), "HEAD ETag = Complete's");
    assert_eq!(
        head_with(&s.gw, &c, &path, &[]).await.status.as_u16(),
        400,
        "HEAD without the key"
    );
    assert_eq!(
        head_with(&s.gw, &c, &path, &other.headers()).await.status.as_u16(),
        403,
        "HEAD, wrong key"
    );

    // GET whole and by partNumber (with the key), and partNumber without it.
    let g = get_with(&s.gw, &c, &path, &k.headers()).await;
    assert_body(&g, &all, "GET of the SSE-C multipart object");
    assert_sse_c_echo(&g, &k, "GET");
    assert_eq!(g.header("etag"), Some(etag.as_str()), "GET ETag");
    let mut start = 0;
    for (i, p) in parts.iter().enumerate() {
        let part_path = format!("{path}?partNumber={}", i + 1);
        let what = format!("GET partNumber={}", i + 1);
        let g = get_with(&s.gw, &c, &part_path, &k.headers()).await;
        assert_eq!(g.status, StatusCode::PARTIAL_CONTENT, "{what}: {}", g.text());
        assert!(
            g.body.as_ref() == &p[..],
            "{what}: wrong bytes ({} bytes)",
            g.body.len()
        );
        let range = format!("bytes {start}-{}/{n}", start + p.len() - 1);
        assert_eq!(g.header("content-range"), Some(range.as_str()), "{what}");
        assert_eq!(g.header("x-amz-mp-parts-count"), Some("3"), "{what}");
        assert_sse_c_echo(&g, &k, &what);
        let h = head_with(&s.gw, &c, &part_path, &k.headers()).await;
        assert_eq!(h.status, StatusCode::PARTIAL_CONTENT, "HEAD partNumber={}", i + 1);
        assert_eq!(h.header("content-length"), Some(p.len().to_string().as_str()));
        assert_eq!(h.header("content-range"), Some(range.as_str()));
        get_with(&s.gw, &c, &part_path, &[]).await.assert_error_message(
            400,
            "InvalidRequest",
            STORED_WITH_SSE,
            &format!("{what} without the key"),
        );
        start += p.len();
    }
    get_with(&s.gw, &c, &format!("{path}?partNumber=4"), &k.headers())
        .await
        .assert_error(416, "InvalidPartNumber");

    // Ranges within and across the odd-sized parts.
    let (b1, b2) = (parts[0].len(), parts[0].len() + parts[1].len());
    let ranges = [
        (format!("bytes={}-{}", b1 - 10, b1 + 10), b1 - 10, b1 + 10),
        (format!("bytes={}-{}", b2 - 5, b2 + 100), b2 - 5, b2 + 100),
        (format!("bytes={}-{}", b1 - 1, b2), b1 - 1, b2),
        (format!("bytes={}-", 65_530), 65_530, n - 1),
        ("bytes=-400".to_owned(), n - 400, n - 1),
        (format!("bytes=0-{}", n + 1000), 0, n - 1),
    ];
    for (range, a, b) in ranges {
        let mut h = k.headers();
        h.push(("range", &range));
        let g = get_with(&s.gw, &c, &path, &h).await;
        assert_eq!(g.status, StatusCode::PARTIAL_CONTENT, "{range}: {}", g.text());
        assert_eq!(
            g.header("content-range"),
            Some(format!("bytes {a}-{b}/{n}").as_str()),
            "{range}"
        );
        assert!(
            g.body.as_ref() == &all[a..=b],
            "{range}: wrong bytes ({} bytes)",
            g.body.len()
        );
        assert_sse_c_echo(&g, &k, &range);
        get_with(&s.gw, &c, &path, &[("range", &range)])
            .await
            .assert_error_message(
                400,
                "InvalidRequest",
                STORED_WITH_SSE,
                &format!("{range} without the key"),
            );
    }

    // Abort needs no key either: a second upload, aborted, leaves nothing.
    let id2 = create_mpu(&s.gw, &c, &bucket, "aborted", &k.headers()).await;
    upload_part(&s.gw, &c, &bucket, "aborted", &id2, 1, &parts[2], &k.headers())
        .await
        .assert_ok();
    let r = call(
        &s.gw,
        &c,
        Method::DELETE,
        &format!("/{bucket}/aborted?uploadId={}", enc(&id2)),
        Bytes::new(),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "Abort without the key: {}", r.text());
    let r = call(
        &s.gw,
        &c,
        Method::GET,
        &format!("/{bucket}/aborted?uploadId={}", enc(&id2)),
        Bytes::new(),
        &[],
    )
    .await;
    // (s3s-fs answers ListParts of an aborted upload with an empty list where S3 says NoSuchUpload.)
    assert!(
        r.status == StatusCode::NOT_FOUND || !r.text().contains("<Part>"),
        "parts left after Abort: {}",
        r.text()
    );
    s.backend.assert_absent(&bucket, "aborted").await;

    // The backend holds neither the data nor the key.
    assert!(
        files_containing(&s.backend.root, MARKER).is_empty(),
        "plaintext at the backend"
    );
    for form in k.text_forms() {
        assert!(
            files_containing(&s.backend.root, form.as_bytes()).is_empty(),
            "key ({form}) at the backend"
        );
    }
    assert!(
        files_containing(&s.backend.root, &k.raw).is_empty(),
        "raw key at the backend"
    );
}

/// SSE-C's ETags (AWS: not an MD5 of the data): a single PUT's is `"<the backend's ETag>-1"`, the same from
/// PUT, HEAD, GET, listings and CopyObject's result, and usable in conditional requests with the key.
#[tokio::test(flavor = "multi_thread")]
async fn sse_c_etags() {
    let (s, c, bucket) = stack_with_bucket("sse-c-etag").await;
    let k = CustomerKey::new(91);
    let data = pseudo_random(100_000, 92);
    let path = format!("/{bucket}/obj");
    let r = call(&s.gw, &c, Method::PUT, &path, data.clone(), &k.headers()).await;
    r.assert_ok();
    let etag = r.header("etag").expect("ETag").to_owned();
    let plain_md5 = format!("\"{}\"", hex::encode(<md5::Md5 as md5::Digest>::digest(&data)));
    assert_ne!(etag, plain_md5, "an SSE-C ETag is not the MD5 of the data");
    let backend_head = s.backend.send_signed(BACKEND, Method::HEAD, &path, Bytes::new()).await;
    let backend_etag = backend_head
        .header("etag")
        .expect("backend ETag")
        .trim_matches('"')
        .to_owned();
    assert_eq!(
        etag,
        format!("\"{backend_etag}-1\""),
        "PUT ETag: the backend's (the ciphertext's), marked -1"
    );
    assert_eq!(
        head_with(&s.gw, &c, &path, &k.headers()).await.header("etag"),
        Some(etag.as_str())
    );
    assert_eq!(
        get_with(&s.gw, &c, &path, &k.headers()).await.header("etag"),
        Some(etag.as_str())
    );
    let list = call(
        &s.gw,
        &c,
        Method::GET,
        &format!("/{bucket}?list-type=2"),
        Bytes::new(),
        &[],
    )
    .await;
    // (s3s-fs lists objects without ETags; where one is listed, it is the client ETag.)
    let listed = listed(&list.text());
    assert_eq!(listed.len(), 1, "listing: {}", list.text());
    assert_eq!((listed[0].0.as_str(), listed[0].1), ("obj", 100_000), "listing");
    assert!(
        listed[0].2.is_empty() || listed[0].2 == etag,
        "listed ETag {}",
        listed[0].2
    );
    let mut h = k.headers();
    h.push(("if-match", &etag));
    assert_body(
        &get_with(&s.gw, &c, &path, &h).await,
        &data,
        "If-Match with the SSE-C ETag",
    );
    let mut h = k.headers();
    h.push(("if-none-match", &etag));
    assert_eq!(get_with(&s.gw, &c, &path, &h).await.status, StatusCode::NOT_MODIFIED);
    let mut h = vec![("x-amz-copy-source", path.as_str())];
    h.extend(k.copy_source_headers());
    h.extend(k.headers());
    h.push(("x-amz-metadata-directive", "REPLACE"));
    let r = call(&s.gw, &c, Method::PUT, &format!("/{bucket}/copy"), Bytes::new(), &h).await;
    r.assert_ok();
    let copy_etag = r.xml_tag("ETag").expect("ETag").replace("&quot;", "\"");
    assert!(copy_etag.ends_with("-1\""), "CopyObject ETag {copy_etag}");
    assert_eq!(
        head_with(&s.gw, &c, &format!("/{bucket}/copy"), &k.headers())
            .await
            .header("etag"),
        Some(copy_etag.as_str())
    );
}

/// S3's `BlockedEncryptionTypes`: PutBucketEncryption stores it as given (GetBucketEncryption returns it), and a
/// bucket that blocks SSE-C refuses every write that asks for SSE-C with AWS's 403, writing nothing, while its SSE-C
/// objects stay readable and copyable to SSE-S3; `NONE` allows SSE-C again.
#[tokio::test(flavor = "multi_thread")]
#[allow(clippy::too_many_lines, reason = "one scenario, read top to bottom")]
async fn blocked_encryption_types_refuse_sse_c_writes() {
    let (s, c, bucket) = stack_with_bucket("sse-c-blocked").await;
    let k = CustomerKey::new(101);
    let k2 = CustomerKey::new(102);
    let data = marker_body(MARKER, 9, 70_000);
    let path = |key: &str| format!("/{bucket}/{key}");
    let enc_path = format!("/{bucket}?encryption");
    let config = |types: &str| {
        format!(
            "<ServerSideEncryptionConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Rule>\
             <ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>\
             </ApplyServerSideEncryptionByDefault><BlockedEncryptionTypes><EncryptionType>{types}</EncryptionType>\
             </BlockedEncryptionTypes></Rule></ServerSideEncryptionConfiguration>"
        )
    };
    // Written before the block: an SSE-C object and an SSE-C upload in progress.
    call(&s.gw, &c, Method::PUT, &path("old"), data.clone(), &k.headers())
        .await
        .assert_ok();
    let id = create_mpu(&s.gw, &c, &bucket, "mp-before", &k.headers()).await;

    let blocking = config("SSE-C");
    call(&s.gw, &c, Method::PUT, &enc_path, blocking.clone(), &[])
        .await
        .assert_ok();
    let r = call(&s.gw, &c, Method::GET, &enc_path, Bytes::new(), &[]).await;
    r.assert_ok();
    assert_eq!(
        r.text(),
        blocking,
        "GetBucketEncryption returns the configuration as given"
    );

    let principal = CLIENT_AK;
    let blocked = |action: &str, key: &str| {
        format!(
            "User: {principal} is not authorized to perform: {action} on resource: \"arn:aws:s3:::{bucket}/{key}\" \
             because this bucket has blocked upload requests that specify Server Side Encryption with Customer \
             provided keys (SSE-C). Please specify a different server-side encryption type"
        )
    };
    let old_path = path("old");
    let s3_path = path("s3-src");
    put_object(&s.gw, &c, &bucket, "s3-src", "an SSE-S3 source")
        .await
        .assert_ok();
    let with = |mut h: Vec<(&'static str, String)>, extra: Vec<(&'static str, &str)>| {
        h.extend(extra.into_iter().map(|(n, v)| (n, v.to_owned())));
        h
    };
    let bad_md5 = sse_c_headers("x-amz-", Some("AES256"), Some(k.b64.as_str()), Some(k2.md5.as_str()));
    // (what, method, path, headers, IAM action in the message, object key in the message)
    type Case<'a> = (&'a str, Method, String, Vec<(&'static str, String)>, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (
            "PutObject",
            Method::PUT,
            path("new"),
            with(vec![], k.headers()),
            "s3:PutObject",
            "new",
        ),
        (
            "PutObject, malformed SSE-C",
            Method::PUT,
            path("new"),
            with(vec![], bad_md5),
            "s3:PutObject",
            "new",
        ),
        (
            "CopyObject to SSE-C",
            Method::PUT,
            path("new"),
            with(vec![("x-amz-copy-source", s3_path.clone())], k.headers()),
            "s3:CopyObject",
            "new",
        ),
        (
            "CopyObject onto itself with a new key (rotation)",
            Method::PUT,
            old_path.clone(),
            with(
                with(vec![("x-amz-copy-source", old_path.clone())], k.copy_source_headers()),
                k2.headers(),
            ),
            "s3:CopyObject",
            "old",
        ),
        (
            "CreateMultipartUpload",
            Method::POST,
            format!("{}?uploads", path("new")),
            with(vec![], k.headers()),
            "s3:PutObject",
            "new",
        ),
        (
            "UploadPart of an upload begun before the block",
            Method::PUT,
            part_path(&bucket, "mp-before", &id, 1),
            with(vec![], k.headers()),
            "s3:PutObject",
            "mp-before",
        ),
        (
            "UploadPartCopy of an upload begun before the block",
            Method::PUT,
            part_path(&bucket, "mp-before", &id, 1),
            with(vec![("x-amz-copy-source", s3_path.clone())], k.headers()),
            "s3:PutObject",
            "mp-before",
        ),
    ];
    for (what, method, p, headers, action, key) in cases {
        let h: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let body = if method == Method::PUT && !h.iter().any(|(n, _)| *n == "x-amz-copy-source") {
            Bytes::from(data.clone())
        } else {
            Bytes::new()
        };
        let r = call(&s.gw, &c, method, &p, body, &h).await;
        r.assert_error_message(403, "AccessDenied", &blocked(action, key), what);
    }
    s.backend.assert_absent(&bucket, "new").await;
    s.backend.assert_absent(&bucket, "mp-before").await;
    let r = call(
        &s.gw,
        &c,
        Method::GET,
        &format!("/{bucket}/mp-before?uploadId={}", enc(&id)),
        Bytes::new(),
        &[],
    )
    .await;
    r.assert_ok();
    assert!(!r.text().contains("<Part>"), "a refused part was stored: {}", r.text());

    // Existing SSE-C objects stay readable, and copyable into SSE-S3.
    let g = get_with(&s.gw, &c, &old_path, &k.headers()).await;
    assert_body(&g, &data, "GET of an SSE-C object in a bucket that blocks SSE-C");
    assert_sse_c_echo(&g, &k, "GET");
    let h = head_with(&s.gw, &c, &old_path, &k.headers()).await;
    h.assert_ok();
    assert_sse_c_echo(&h, &k, "HEAD");
    let mut h = vec![("x-amz-copy-source", old_path.as_str())];
    h.extend(k.copy_source_headers());
    let r = call(&s.gw, &c, Method::PUT, &path("to-s3"), Bytes::new(), &h).await;
    r.assert_ok();
    assert_eq!(r.header("x-amz-server-side-encryption"), Some("AES256"));
    assert_body(
        &get_with(&s.gw, &c, &path("to-s3"), &[]).await,
        &data,
        "SSE-C → SSE-S3 copy",
    );
    // Writes without SSE-C are not affected.
    put_object(&s.gw, &c, &bucket, "plain-put", "x").await.assert_ok();

    // An unknown type is refused and changes nothing; NONE allows SSE-C again.
    let r = call(&s.gw, &c, Method::PUT, &enc_path, config("SSE-KMS"), &[]).await;
    r.assert_error(400, "MalformedXML");
    let r = call(&s.gw, &c, Method::GET, &enc_path, Bytes::new(), &[]).await;
    assert_eq!(r.text(), blocking, "a refused configuration replaces nothing");
    let allowing = config("NONE");
    put_encryption_and_read_it_back(&s.gw, &c, &enc_path, &allowing).await;
    call(&s.gw, &c, Method::PUT, &path("new"), data.clone(), &k.headers())
        .await
        .assert_ok();
    assert_body(
        &get_with(&s.gw, &c, &path("new"), &k.headers()).await,
        &data,
        "SSE-C after NONE",
    );
    // Blocked again, then the configuration deleted: no configuration blocks nothing.
    call(&s.gw, &c, Method::PUT, &enc_path, blocking, &[]).await.assert_ok();
    let r = call(&s.gw, &c, Method::DELETE, &enc_path, Bytes::new(), &[]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    call(&s.gw, &c, Method::PUT, &path("after-delete"), "y", &k.headers())
        .await
        .assert_ok();
    assert!(
        files_containing(&s.backend.root, MARKER).is_empty(),
        "plaintext at the backend"
    );
}

/// `[sse] block_sse_c_by_default`, as S3 does for new buckets since April 2026: a bucket without a configuration,
/// or with one that does not say `NONE`, refuses SSE-C writes with S3's 403 and stores nothing, and
/// GetBucketEncryption shows the block; `NONE` allows SSE-C, and SSE-C objects stay readable once blocked again.
#[tokio::test(flavor = "multi_thread")]
#[allow(clippy::too_many_lines, reason = "one scenario, read top to bottom")]
async fn sse_c_blocked_by_default_when_configured() {
    let s = Stack::start_with("[sse]\nblock_sse_c_by_default = true\n");
    let c = s.gw.client();
    let bucket = unique_bucket("sse-c-default-block");
    create_bucket(&s.gw, &c, &bucket).await;
    let k = CustomerKey::new(111);
    let data = marker_body(MARKER, 3, 70_000);
    let path = |key: &str| format!("/{bucket}/{key}");
    let enc_path = format!("/{bucket}?encryption");
    let rule = |inner: &str| {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ServerSideEncryptionConfiguration \
             xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Rule>{inner}</Rule></ServerSideEncryptionConfiguration>"
        )
    };
    let aes_default = "<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>\
                       </ApplyServerSideEncryptionByDefault><BucketKeyEnabled>false</BucketKeyEnabled>";
    let blocked_types =
        |t: &str| format!("<BlockedEncryptionTypes><EncryptionType>{t}</EncryptionType></BlockedEncryptionTypes>");
    let refused = |key: &str| {
        format!(
            "User: {CLIENT_AK} is not authorized to perform: s3:PutObject on resource: \"arn:aws:s3:::{bucket}/{key}\" \
             because this bucket has blocked upload requests that specify Server Side Encryption with Customer \
             provided keys (SSE-C). Please specify a different server-side encryption type"
        )
    };
    let assert_refused =
        |r: Resp, key: &str, what: &str| r.assert_error_message(403, "AccessDenied", &refused(key), what);

    // No configuration: S3's default rule, with the block.
    let r = call(&s.gw, &c, Method::GET, &enc_path, Bytes::new(), &[]).await;
    r.assert_ok();
    assert_eq!(r.text(), rule(&format!("{aes_default}{}", blocked_types("SSE-C"))));
    let r = call(&s.gw, &c, Method::PUT, &path("new"), data.clone(), &k.headers()).await;
    assert_refused(r, "new", "PutObject into a bucket without a configuration");
    let r = call(
        &s.gw,
        &c,
        Method::POST,
        &format!("{}?uploads", path("new")),
        Bytes::new(),
        &k.headers(),
    )
    .await;
    assert_refused(r, "new", "CreateMultipartUpload into a bucket without a configuration");
    s.backend.assert_absent(&bucket, "new").await;
    put_object(&s.gw, &c, &bucket, "plain", "SSE-S3 is not blocked")
        .await
        .assert_ok();

    // `NONE` allows SSE-C, and is reported as stored.
    let allowing = rule(&format!("{aes_default}{}", blocked_types("NONE")));
    put_encryption_and_read_it_back(&s.gw, &c, &enc_path, &allowing).await;
    call(&s.gw, &c, Method::PUT, &path("old"), data.clone(), &k.headers())
        .await
        .assert_ok();

    // A configuration that does not mention blocked types keeps the default block, and says so.
    let kms_default = "<ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm>\
                       </ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled>";
    call(&s.gw, &c, Method::PUT, &enc_path, rule(kms_default), &[])
        .await
        .assert_ok();
    assert_eq!(
        call(&s.gw, &c, Method::GET, &enc_path, Bytes::new(), &[]).await.text(),
        rule(&format!("{kms_default}{}", blocked_types("SSE-C")))
    );
    let r = call(&s.gw, &c, Method::PUT, &path("new"), data.clone(), &k.headers()).await;
    assert_refused(
        r,
        "new",
        "PutObject into a bucket whose configuration is silent on SSE-C",
    );

    // Deleted configuration: blocked again; the SSE-C object written while allowed stays readable.
    let r = call(&s.gw, &c, Method::DELETE, &enc_path, Bytes::new(), &[]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let r = call(&s.gw, &c, Method::PUT, &path("new"), data.clone(), &k.headers()).await;
    assert_refused(r, "new", "PutObject after DeleteBucketEncryption");
    let g = get_with(&s.gw, &c, &path("old"), &k.headers()).await;
    assert_body(
        &g,
        &data,
        "GET of an SSE-C object in a bucket that blocks SSE-C by default",
    );
    head_with(&s.gw, &c, &path("old"), &k.headers()).await.assert_ok();
    s.backend.assert_absent(&bucket, "new").await;
    assert!(
        files_containing(&s.backend.root, MARKER).is_empty(),
        "plaintext at the backend"
    );
}

/// PutBucketEncryption of `doc`, then GetBucketEncryption answers it as stored.
async fn put_encryption_and_read_it_back(gw: &Gateway, c: &HttpsClient, enc_path: &str, doc: &str) {
    call(gw, c, Method::PUT, enc_path, doc.to_owned(), &[])
        .await
        .assert_ok();
    let r = call(gw, c, Method::GET, enc_path, Bytes::new(), &[]).await;
    assert_eq!(r.text(), doc, "GetBucketEncryption answers the configuration as stored");
}

/// One row of the SSE header table: (what, request headers, S3 error code, S3 message).
type HeaderRow<'a> = (&'a str, Vec<(&'static str, String)>, &'a str, &'a str);

/// AWS's SSE request-header table, the combinations it refuses: each row on PutObject, CreateMultipartUpload and
/// CopyObject is 400 with S3's code and message, and writes nothing. (The SSE-C triple's own defects are
/// `sse_c_errors_in_aws_words`; SSE-KMS headers without `aws:kms` and bad contexts are in tests/kms.rs.)
#[tokio::test(flavor = "multi_thread")]
async fn sse_header_combinations_aws_refuses() {
    let (s, c, bucket) = stack_with_bucket("sse-combinations").await;
    let k = CustomerKey::new(121);
    let path = |key: &str| format!("/{bucket}/{key}");
    put_object(&s.gw, &c, &bucket, "src", "a copy source").await.assert_ok();
    const KMS_NEEDS_HEADER: &str =
        "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms";
    const UNSUPPORTED: &str = "The encryption method specified is not supported";
    let ctx = b64(br#"{"a":"b"}"#);
    let with_c = |extra: (&'static str, &'static str)| {
        let mut h: Vec<(&str, String)> = k.headers().into_iter().map(|(n, v)| (n, v.to_owned())).collect();
        h.push((extra.0, extra.1.to_owned()));
        h
    };
    let sse = |v: &str| vec![("x-amz-server-side-encryption", v.to_owned())];
    // (row, headers, code, message)
    let rows: Vec<HeaderRow> = vec![
        (
            "SSE-C with AES256",
            with_c(("x-amz-server-side-encryption", "AES256")),
            "InvalidArgument",
            BOTH_METHODS,
        ),
        (
            "SSE-C with aws:kms",
            with_c(("x-amz-server-side-encryption", "aws:kms")),
            "InvalidArgument",
            BOTH_METHODS,
        ),
        (
            "SSE-C with a KMS key id",
            with_c(("x-amz-server-side-encryption-aws-kms-key-id", "alias/aws/s3")),
            "InvalidArgument",
            KMS_NEEDS_HEADER,
        ),
        (
            "SSE-C with a KMS context",
            {
                let mut h = with_c(("x-amz-meta-row", "ctx"));
                h.push(("x-amz-server-side-encryption-context", ctx.clone()));
                h
            },
            "InvalidArgument",
            KMS_NEEDS_HEADER,
        ),
        (
            "aes256 (S3's values are case-sensitive)",
            sse("aes256"),
            "InvalidArgument",
            UNSUPPORTED,
        ),
        (
            "an empty x-amz-server-side-encryption",
            sse(""),
            "InvalidArgument",
            UNSUPPORTED,
        ),
        ("aws:kms:dsse", sse("aws:kms:dsse"), "InvalidArgument", UNSUPPORTED),
    ];
    let src = path("src");
    for (row, headers, code, message) in rows {
        let h: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let r = call(&s.gw, &c, Method::PUT, &path("new"), "x", &h).await;
        r.assert_error_message(400, code, message, &format!("PutObject, {row}"));
        let r = call(
            &s.gw,
            &c,
            Method::POST,
            &format!("{}?uploads", path("new")),
            Bytes::new(),
            &h,
        )
        .await;
        r.assert_error_message(400, code, message, &format!("CreateMultipartUpload, {row}"));
        let mut copy = h.clone();
        copy.push(("x-amz-copy-source", src.as_str()));
        let r = call(&s.gw, &c, Method::PUT, &path("new"), Bytes::new(), &copy).await;
        r.assert_error_message(400, code, message, &format!("CopyObject, {row}"));
    }
    s.backend.assert_absent(&bucket, "new").await;
}

/// `block_sse_c_by_default` as boto3 sees it: GetBucketEncryption's `BlockedEncryptionTypes`, the 403 of an SSE-C
/// `put_object`, and `NONE` through `put_bucket_encryption` letting SSE-C in.
const BOTO3_SSE_C_BLOCKED: &str = r#"
import os, boto3, botocore
s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"])
b = os.environ["S3_BUCKET"]
rule = s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]["Rules"][0]
assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256", rule
assert rule["BlockedEncryptionTypes"]["EncryptionType"] == ["SSE-C"], rule
key = bytes(range(32))
try:
    s3.put_object(Bucket=b, Key="c", Body=b"x", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    raise SystemExit("an SSE-C put_object was accepted")
except botocore.exceptions.ClientError as e:
    assert e.response["Error"]["Code"] == "AccessDenied", e.response
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 403, e.response
s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration={"Rules": [{
    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
    "BlockedEncryptionTypes": {"EncryptionType": ["NONE"]}}]})
s3.put_object(Bucket=b, Key="c", Body=b"x", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
assert s3.get_object(Bucket=b, Key="c", SSECustomerAlgorithm="AES256", SSECustomerKey=key)["Body"].read() == b"x"
print("boto3 sse-c blocked by default ok")
"#;

#[tokio::test(flavor = "multi_thread")]
async fn sse_c_blocked_by_default_with_boto3() {
    let s = Stack::start_with("[sse]\nblock_sse_c_by_default = true\n");
    let c = s.gw.client();
    let bucket = unique_bucket("sse-c-block-boto3");
    create_bucket(&s.gw, &c, &bucket).await;
    run_python_inline(&s.gw, &bucket, BOTO3_SSE_C_BLOCKED, &[]);
}
