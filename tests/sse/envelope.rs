use super::*;

// ------------------------------------------------------------------------------------------------
// 3. Attacks on the envelope
// ------------------------------------------------------------------------------------------------

/// An envelope of an unknown version is refused (500 InternalError), never guessed at.
#[tokio::test(flavor = "multi_thread")]
async fn unknown_envelope_version_is_internal_error() {
    let (s, c, bucket) = stack_with_bucket("env-v2").await;
    let body = marker_body(MARKER, 0, 100_000);
    put_object(&s.gw, &c, &bucket, "k", body.clone()).await.assert_ok();
    let meta = metadata_file(&s.backend, &bucket, "k");
    let text = std::fs::read_to_string(&meta).unwrap_or_else(|e| panic!("{}: {e}", meta.display()));
    assert!(text.contains("v=2;s=1;m=S3;"), "metadata side file: {text}");
    std::fs::write(&meta, text.replace("v=2;s=1;", "v=3;s=1;")).unwrap();
    let h = s
        .backend
        .send_signed(BACKEND, Method::HEAD, &format!("/{bucket}/k"), Bytes::new())
        .await;
    assert!(
        h.header("x-amz-meta-s3sp").is_some_and(|e| e.starts_with("v=3;")),
        "the edit reached the backend's metadata: {:?}",
        h.headers
    );

    let path = format!("/{bucket}/k");
    for range in [None, Some("bytes=0-99"), Some("bytes=-10")] {
        let h: Vec<(&str, &str)> = range.iter().map(|r| ("range", *r)).collect();
        let r = call_lossy(&s.gw, &c, Method::GET, &path, &h).await;
        assert_eq!(
            r.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "GET (range {range:?}) of an object with envelope v=3: {} {}",
            r.status,
            r.text()
        );
        assert_eq!(
            xml_tag(&r.text(), "Code").as_deref(),
            Some("InternalError"),
            "{}",
            r.text()
        );
        assert!(!contains(&r.body, MARKER), "no object data in the error");
        assert!(r.body_error.is_none(), "a complete XML error: {:?}", r.body_error);
    }
    let r = head_with(&s.gw, &c, &path, &[]).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "HEAD: {:?}", r.headers);
    assert!(r.body.is_empty());
}

/// Any other change to the stored envelope (sealed key, nonce prefix, KEK id, mode, layout flag) makes reads fail
/// without serving a byte of wrong data.
#[tokio::test(flavor = "multi_thread")]
async fn altered_envelope_fields_are_refused() {
    let (s, c, bucket) = stack_with_bucket("env-fields").await;
    let body = pseudo_random(100_000, 77);
    put_object(&s.gw, &c, &bucket, "k", body.clone()).await.assert_ok();
    let meta = metadata_file(&s.backend, &bucket, "k");
    let original = std::fs::read_to_string(&meta).unwrap();
    let env_start = original.find("v=2;").expect("envelope in the metadata file");
    let env_end = env_start + original[env_start..].find('"').expect("end of the envelope string");
    let env = original[env_start..env_end].to_owned();
    let field = |name: &str| {
        env.split(';')
            .find_map(|f| f.strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_owned()
    };
    let flip_b64 = |v: &str| {
        let mut raw = base64::engine::general_purpose::STANDARD.decode(v).unwrap();
        let mid = raw.len() / 2;
        raw[mid] ^= 1;
        b64(&raw)
    };
    let (d, n, k) = (field("d"), field("n"), field("k"));
    let cases = [
        ("sealed key bit flipped", env.replace(&d, &flip_b64(&d))),
        (
            "nonce prefix bit flipped",
            env.replace(&format!("n={n}"), &format!("n={}", flip_b64(&n))),
        ),
        ("unknown KEK id", env.replace(&format!("k={k}"), "k=kek-unknown")),
        ("mode KMS", env.replace("m=S3", "m=KMS")),
        ("multipart flag added", format!("{env};l=m")),
        ("unknown field", format!("{env};z=1")),
        ("sealed key shortened", env.replace(&d, &d[4..])),
    ];
    let path = format!("/{bucket}/k");
    for (what, altered) in cases {
        assert_ne!(altered, env, "{what}: the case changes the envelope");
        std::fs::write(&meta, original.replace(&env, &altered)).unwrap();
        for range in [None, Some("bytes=0-99")] {
            let h: Vec<(&str, &str)> = range.iter().map(|r| ("range", *r)).collect();
            let r = try_call_lossy(&s.gw, &c, Method::GET, &path, &h).await;
            if let Ok(r) = &r {
                assert!(
                    !r.status.is_success() || r.body_error.is_some(),
                    "envelope with {what}: GET (range {range:?}) answered {} with {} bytes",
                    r.status,
                    r.body.len()
                );
            }
            assert_not_served(&r, &body, &format!("envelope with {what}"));
        }
    }
    std::fs::write(&meta, &original).unwrap();
    assert_body(&get_with(&s.gw, &c, &path, &[]).await, &body, "envelope restored");
}

/// The sealed key is bound to bucket and key: an object copied at the backend (data and metadata) to another
/// name does not open there.
#[tokio::test(flavor = "multi_thread")]
async fn envelope_copied_to_another_name_does_not_open() {
    let (s, c, bucket) = stack_with_bucket("env-moved").await;
    let other_bucket = unique_bucket("env-moved-other");
    create_bucket(&s.gw, &c, &other_bucket).await;
    let body = marker_body(MARKER, 3, 150_000);
    put_object(&s.gw, &c, &bucket, "orig", body.clone()).await.assert_ok();
    let env = s
        .backend
        .send_signed(BACKEND, Method::HEAD, &format!("/{bucket}/orig"), Bytes::new())
        .await
        .header("x-amz-meta-s3sp")
        .expect("envelope")
        .to_owned();

    let src = format!("/{bucket}/orig");
    for (b, k) in [(bucket.as_str(), "renamed"), (other_bucket.as_str(), "orig")] {
        let r = s
            .backend
            .send_signed_with_headers(
                BACKEND,
                Method::PUT,
                &format!("/{b}/{k}"),
                Bytes::new(),
                &[("x-amz-copy-source", &src), ("x-amz-metadata-directive", "COPY")],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "backend CopyObject to {b}/{k}: {}", r.text());
        let h = s
            .backend
            .send_signed(BACKEND, Method::HEAD, &format!("/{b}/{k}"), Bytes::new())
            .await;
        assert_eq!(
            h.header("x-amz-meta-s3sp"),
            Some(env.as_str()),
            "backend copy carried the envelope"
        );
        assert_eq!(file_len(&data_file(&s.backend, b, k)), ct_len(body.len() as u64));

        let path = format!("/{b}/{k}");
        let r = call_lossy(&s.gw, &c, Method::GET, &path, &[]).await;
        assert!(
            !r.status.is_success(),
            "GET {path} (a copy of {src} made at the backend) must fail: {} with {} bytes",
            r.status,
            r.body.len()
        );
        assert!(!contains(&r.body, MARKER), "GET {path}: plaintext in the error");
        let r = call_lossy(&s.gw, &c, Method::GET, &path, &[("range", "bytes=0-99")]).await;
        assert!(!r.status.is_success(), "ranged GET {path}: {}", r.status);
        assert!(!contains(&r.body, MARKER));
        let r = head_with(&s.gw, &c, &path, &[]).await;
        assert!(!r.status.is_success(), "HEAD {path}: {}", r.status);
    }
    // The original still reads.
    assert_body(&get_object(&s.gw, &c, &bucket, "orig").await, &body, "original");
}

/// Clients cannot plant an envelope: the metadata name is the gateway's.
#[tokio::test(flavor = "multi_thread")]
async fn clients_cannot_set_the_envelope_metadata() {
    let (s, c, bucket) = stack_with_bucket("env-planted").await;
    put_object(&s.gw, &c, &bucket, "src", "source").await.assert_ok();
    let planted = ("x-amz-meta-s3sp", "v=1;s=1;m=S3;k=x;n=AAAAAAAAAA==;d=AAAA");
    call(&s.gw, &c, Method::PUT, &format!("/{bucket}/put"), "data", &[planted])
        .await
        .assert_error(400, "InvalidArgument");
    s.backend.assert_absent(&bucket, "put").await;
    let src = format!("/{bucket}/src");
    call(
        &s.gw,
        &c,
        Method::PUT,
        &format!("/{bucket}/copy"),
        Bytes::new(),
        &[
            ("x-amz-copy-source", &src),
            ("x-amz-metadata-directive", "REPLACE"),
            planted,
        ],
    )
    .await
    .assert_error(400, "InvalidArgument");
    s.backend.assert_absent(&bucket, "copy").await;
    call(
        &s.gw,
        &c,
        Method::POST,
        &format!("/{bucket}/mpu?uploads"),
        Bytes::new(),
        &[planted],
    )
    .await
    .assert_error(400, "InvalidArgument");
}
