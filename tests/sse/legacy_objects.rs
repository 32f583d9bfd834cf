use super::*;

// ------------------------------------------------------------------------------------------------
// 4. Buckets with objects from before the gateway
// ------------------------------------------------------------------------------------------------

/// A bucket with a plaintext object written straight to the backend before the gateway's first write there:
/// the object reads unchanged, listings show its real size next to the encrypted objects' plaintext sizes, and
/// the gateway's own `.s3-sse-proxy/` objects are neither listed nor reachable.
#[tokio::test(flavor = "multi_thread")]
async fn legacy_objects_live_beside_encrypted_ones() {
    let s = Stack::start();
    let c = s.gw.client();
    let bucket = unique_bucket("legacy");
    s.backend
        .send_signed(BACKEND, Method::PUT, &format!("/{bucket}"), Bytes::new())
        .await
        .assert_ok();
    // 1000 bytes: a size some ciphertext could have too (of 984 plaintext bytes).
    let legacy = marker_body(MARKER, 0, 1000);
    s.backend
        .send_signed(
            BACKEND,
            Method::PUT,
            &format!("/{bucket}/legacy.txt"),
            Bytes::from(legacy.clone()),
        )
        .await
        .assert_ok();
    // The gateway compares second-resolution times: its first write comes in a later second.
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let a = pseudo_random(1000, 1);
    let b = pseudo_random(200_000, 2);
    put_object(&s.gw, &c, &bucket, "enc-a", a.clone()).await.assert_ok();
    put_object(&s.gw, &c, &bucket, "dir/enc-b", b.clone()).await.assert_ok();
    s.backend.assert_present(&bucket, ".s3-sse-proxy/adopted").await;

    let g = get_object(&s.gw, &c, &bucket, "legacy.txt").await;
    assert_body(&g, &legacy, "GET legacy object");
    let h = head_with(&s.gw, &c, &format!("/{bucket}/legacy.txt"), &[]).await;
    assert_eq!(h.header("content-length"), Some("1000"), "HEAD legacy");
    let r = get_with(&s.gw, &c, &format!("/{bucket}/legacy.txt"), &[("range", "bytes=10-19")]).await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.body.as_ref(), &legacy[10..20], "ranged GET of the legacy object");
    assert_body(&get_object(&s.gw, &c, &bucket, "enc-a").await, &a, "enc-a");
    assert_body(&get_object(&s.gw, &c, &bucket, "dir/enc-b").await, &b, "enc-b");

    let want = vec![
        ("dir/enc-b".to_owned(), 200_000u64),
        ("enc-a".to_owned(), 1000),
        ("legacy.txt".to_owned(), 1000),
    ];
    for q in ["list-type=2", "", "list-type=2&max-keys=1000&fetch-owner=true"] {
        let path = if q.is_empty() {
            format!("/{bucket}")
        } else {
            format!("/{bucket}?{q}")
        };
        let r = get_with(&s.gw, &c, &path, &[]).await;
        r.assert_ok();
        assert!(!r.text().contains(".s3-sse-proxy"), "listing {q:?}: {}", r.text());
        let got: Vec<(String, u64)> = listed(&r.text()).into_iter().map(|(k, s, _)| (k, s)).collect();
        assert_eq!(got, want, "listing {q:?}: {}", r.text());
        if q.starts_with("list-type=2") {
            assert_eq!(r.xml_tag("KeyCount").as_deref(), Some("3"), "KeyCount: {}", r.text());
        }
        // (s3s-fs listings carry no ETag; where one is listed, the legacy object's is its MD5.)
        let legacy_etag = listed(&r.text())
            .into_iter()
            .find(|(k, _, _)| k == "legacy.txt")
            .map(|(_, _, e)| e)
            .unwrap();
        if !legacy_etag.is_empty() {
            assert_eq!(
                legacy_etag,
                format!("\"{}\"", hex::encode(<md5::Md5 as md5::Digest>::digest(&legacy))),
                "the legacy object's ETag is its MD5"
            );
        }
    }
    // Delimited and prefixed listings do not show the reserved prefix either.
    for q in [
        "list-type=2&delimiter=%2F",
        "delimiter=%2F",
        "list-type=2&prefix=.s3-sse-proxy%2F",
        "list-type=2&prefix=.s3",
        "list-type=2&prefix=.s3-sse-proxy%2F&delimiter=%2F",
        "list-type=2&start-after=.",
    ] {
        let r = get_with(&s.gw, &c, &format!("/{bucket}?{q}"), &[]).await;
        r.assert_ok();
        // The request's own prefix is echoed in <Prefix>; no entry or common prefix may name the reserved one.
        let text = r.text();
        assert!(
            !without_echoed_prefix(&text).contains(".s3-sse-proxy"),
            "listing {q}: {text}"
        );
        let keys: Vec<String> = listed(&text).into_iter().map(|(k, _, _)| k).collect();
        assert!(
            keys.iter().all(|k| !k.starts_with(".s3-sse-proxy")),
            "listing {q}: {text}"
        );
        if q.contains("prefix=.s3") {
            assert!(keys.is_empty(), "listing {q}: {text}");
            assert!(!text.contains("<CommonPrefixes>"), "listing {q}: {text}");
        }
    }

    // The reserved objects are closed to clients.
    for key in [".s3-sse-proxy/adopted", ".s3-sse-proxy/layout/x"] {
        let path = format!("/{bucket}/{key}");
        get_with(&s.gw, &c, &path, &[]).await.assert_error(403, "AccessDenied");
        call(&s.gw, &c, Method::PUT, &path, "overwrite", &[])
            .await
            .assert_error(403, "AccessDenied");
        call(&s.gw, &c, Method::DELETE, &path, Bytes::new(), &[])
            .await
            .assert_error(403, "AccessDenied");
        let h = head_with(&s.gw, &c, &path, &[]).await;
        assert_eq!(h.status, StatusCode::FORBIDDEN, "HEAD {path}");
        // And as a copy source.
        let r = call(
            &s.gw,
            &c,
            Method::PUT,
            &format!("/{bucket}/stolen"),
            Bytes::new(),
            &[("x-amz-copy-source", &path)],
        )
        .await;
        r.assert_error(403, "AccessDenied");
    }
    s.backend.assert_present(&bucket, ".s3-sse-proxy/adopted").await;
    s.backend.assert_absent(&bucket, "stolen").await;
}

/// A plaintext object written at the backend in the same second as (but before) the gateway's first write into
/// its bucket is still an object from before the gateway: listings must show its real size.
#[tokio::test(flavor = "multi_thread")]
async fn legacy_object_written_in_the_adoption_second_keeps_its_size() {
    let s = Stack::start();
    let c = s.gw.client();
    let legacy = marker_body(MARKER, 0, 1000);
    // Retry until the legacy object and the adoption marker carry the same (whole-second) time.
    for _attempt in 0..5 {
        let bucket = unique_bucket("legacy-same-second");
        s.backend
            .send_signed(BACKEND, Method::PUT, &format!("/{bucket}"), Bytes::new())
            .await
            .assert_ok();
        // Start early in a second, so both writes likely fall into it.
        loop {
            let ms = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .subsec_millis();
            if (200..400).contains(&ms) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(u64::from((1200 - ms) % 1000))).await;
        }
        s.backend
            .send_signed(
                BACKEND,
                Method::PUT,
                &format!("/{bucket}/legacy.txt"),
                Bytes::from(legacy.clone()),
            )
            .await
            .assert_ok();
        put_object(&s.gw, &c, &bucket, "enc", pseudo_random(10, 1))
            .await
            .assert_ok();
        let raw = s
            .backend
            .send_signed(BACKEND, Method::GET, &format!("/{bucket}?list-type=2"), Bytes::new())
            .await;
        let second = |key: &str| {
            let i = raw.text().find(&format!("<Key>{key}</Key>")).expect("listed");
            xml_tag(&raw.text()[i..], "LastModified").map(|t| t[..19].to_owned())
        };
        if second("legacy.txt") != second(".s3-sse-proxy/adopted") {
            continue;
        }
        let r = get_with(&s.gw, &c, &format!("/{bucket}?list-type=2"), &[]).await;
        r.assert_ok();
        let got: Vec<(String, u64)> = listed(&r.text()).into_iter().map(|(k, s, _)| (k, s)).collect();
        assert_eq!(
            got,
            vec![("enc".to_owned(), 10), ("legacy.txt".to_owned(), 1000)],
            "listing through the gateway: {}\nat the backend: {}",
            r.text(),
            raw.text()
        );
        return;
    }
    panic!("could not get the legacy write and the adoption into one second in 5 attempts");
}

/// The seal binds the object's key: keys with spaces, `+`, `%`, `~`, `*` and non-ASCII characters must be the
/// same key for PUT, GET, HEAD, CopyObject (source and destination) and multipart uploads.
#[tokio::test(flavor = "multi_thread")]
async fn keys_with_special_characters_round_trip() {
    let (s, c, bucket) = stack_with_bucket("special-keys").await;
    let keys = [
        "a b.txt",
        "plus+sign",
        "percent%41",
        "unicode-\u{fc}-\u{2603}",
        "deep/dir/x y/z",
        "tilde~and*star(1)",
        "semi;colon=eq&amp",
    ];
    let path_of = |k: &str| format!("/{bucket}/{}", enc(k).replace("%2F", "/"));
    let mut want = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let data = pseudo_random(70_000 + i, 100 + i as u64);
        let path = path_of(key);
        let r = call(&s.gw, &c, Method::PUT, &path, data.clone(), &[]).await;
        assert_eq!(r.status, StatusCode::OK, "PUT {key:?}: {}", r.text());
        assert_eq!(
            file_len(&data_file(&s.backend, &bucket, key)),
            ct_len(data.len() as u64),
            "{key:?}: backend file"
        );
        assert_body(&get_with(&s.gw, &c, &path, &[]).await, &data, &format!("GET {key:?}"));
        let r = get_with(&s.gw, &c, &path, &[("range", "bytes=65530-65540")]).await;
        assert_eq!(r.body.as_ref(), &data[65530..=65540], "ranged GET {key:?}");
        // Copy it (source in x-amz-copy-source, URL-encoded) to another tricky name.
        let dst = format!("copy of {key}");
        let src = path_of(key);
        let r = call(
            &s.gw,
            &c,
            Method::PUT,
            &path_of(&dst),
            Bytes::new(),
            &[("x-amz-copy-source", &src)],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "copy {key:?} -> {dst:?}: {}", r.text());
        assert_body(
            &get_with(&s.gw, &c, &path_of(&dst), &[]).await,
            &data,
            &format!("GET {dst:?}"),
        );
        want.push((key.to_string(), data.len() as u64));
        want.push((dst, data.len() as u64));
    }
    // A multipart upload to a tricky name.
    let key = "multi part+\u{e9}.bin";
    let p1 = pseudo_random(5 * MIB, 7);
    let k = enc(key);
    multipart_put(&s.gw, &c, &bucket, &k, &[&p1, b"end"], &[]).await;
    assert_body(
        &get_with(&s.gw, &c, &path_of(key), &[]).await,
        &[&p1[..], b"end"].concat(),
        "multipart with a tricky name",
    );
    want.push((key.to_owned(), p1.len() as u64 + 3));
    want.sort();
    let r = get_with(&s.gw, &c, &format!("/{bucket}?list-type=2"), &[]).await;
    r.assert_ok();
    let mut got: Vec<(String, u64)> = listed(&r.text())
        .into_iter()
        .map(|(k, s, _)| (k.replace("&amp;", "&"), s))
        .collect();
    got.sort();
    assert_eq!(got, want, "listing: {}", r.text());
}

/// `[sse] require_envelope_on_read`: an object without the gateway's envelope — from before the gateway, or put at
/// the backend in place of an encrypted one — is refused (500, S3's InternalError, with a message that says why)
/// by GET, ranged GET, HEAD, GetObjectAttributes and as a copy source, while a gateway without the switch serves
/// it; `rekey --encrypt-plaintext` encrypts such objects in place, after which they read normally.
#[tokio::test(flavor = "multi_thread")]
#[allow(clippy::too_many_lines, reason = "one scenario, read top to bottom")]
async fn require_envelope_on_read_refuses_plaintext_until_rekey_encrypts_it() {
    let s = Stack::start_with("[sse]\nrequire_envelope_on_read = true\n");
    let c = s.gw.client();
    let bucket = unique_bucket("envelope-required");
    let direct_put = |key: &str, data: Vec<u8>| {
        let (backend, path) = (&s.backend, format!("/{bucket}/{key}"));
        async move {
            backend
                .send_signed(BACKEND, Method::PUT, &path, Bytes::from(data))
                .await
                .assert_ok();
        }
    };
    s.backend
        .send_signed(BACKEND, Method::PUT, &format!("/{bucket}"), Bytes::new())
        .await
        .assert_ok();
    let legacy = marker_body(MARKER, 0, 1000);
    direct_put("legacy.txt", legacy.clone()).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let enc = pseudo_random(70_000, 3);
    put_object(&s.gw, &c, &bucket, "enc", enc.clone()).await.assert_ok();
    assert_body(
        &get_object(&s.gw, &c, &bucket, "enc").await,
        &enc,
        "an encrypted object reads",
    );
    // A backend writer replaces the encrypted object with plaintext of their choice.
    let substitute = marker_body(MARKER, 5, 500);
    direct_put("enc", substitute.clone()).await;

    const WHY: &str = "The object was not encrypted by this gateway, which is set to serve only objects it encrypted \
                       (require_envelope_on_read).";
    for key in ["legacy.txt", "enc"] {
        let path = format!("/{bucket}/{key}");
        get_with(&s.gw, &c, &path, &[])
            .await
            .assert_error_message(500, "InternalError", WHY, &format!("GET {key}"));
        let r = get_with(&s.gw, &c, &path, &[("range", "bytes=0-9")]).await;
        r.assert_error_message(500, "InternalError", WHY, &format!("ranged GET {key}"));
        let h = head_with(&s.gw, &c, &path, &[]).await;
        assert_eq!(h.status, StatusCode::INTERNAL_SERVER_ERROR, "HEAD {key}");
        let r = get_with(
            &s.gw,
            &c,
            &format!("{path}?attributes"),
            &[("x-amz-object-attributes", "ObjectSize")],
        )
        .await;
        r.assert_error_message(500, "InternalError", WHY, &format!("GetObjectAttributes {key}"));
        let r = call(
            &s.gw,
            &c,
            Method::PUT,
            &format!("/{bucket}/copy-of-{key}"),
            Bytes::new(),
            &[("x-amz-copy-source", path.as_str())],
        )
        .await;
        r.assert_error_message(500, "InternalError", WHY, &format!("CopyObject from {key}"));
        s.backend.assert_absent(&bucket, &format!("copy-of-{key}")).await;
    }
    // Without the switch, the same objects are served as stored.
    let open_gw = Gateway::start(&s.backend, "");
    let oc = open_gw.client();
    assert_body(
        &get_object(&open_gw, &oc, &bucket, "legacy.txt").await,
        &legacy,
        "without the switch",
    );

    let out = gateway_command(&s.gw, &["rekey", "--bucket", &bucket, "--encrypt-plaintext"]);
    assert!(
        out.contains("2 objects examined, 0 re-wrapped, 2 plaintext objects encrypted"),
        "{out}"
    );
    let out = gateway_command(&s.gw, &["rekey", "--bucket", &bucket, "--encrypt-plaintext"]);
    assert!(out.contains("0 plaintext objects encrypted"), "idempotent: {out}");
    for (key, data) in [("legacy.txt", &legacy), ("enc", &substitute)] {
        let g = get_object(&s.gw, &c, &bucket, key).await;
        assert_body(&g, data, &format!("{key} after rekey --encrypt-plaintext"));
        assert_eq!(g.header("x-amz-server-side-encryption"), Some("AES256"), "{key}");
        assert_eq!(
            file_len(&data_file(&s.backend, &bucket, key)),
            ct_len(data.len() as u64),
            "{key} is ciphertext"
        );
        let h = head_with(&s.gw, &c, &format!("/{bucket}/{key}"), &[]).await;
        assert_eq!(
            h.header("content-length"),
            Some(data.len().to_string().as_str()),
            "HEAD {key}"
        );
    }
    let r = get_with(&s.gw, &c, &format!("/{bucket}?list-type=2"), &[]).await;
    let got: Vec<(String, u64)> = listed(&r.text()).into_iter().map(|(k, s, _)| (k, s)).collect();
    assert_eq!(
        got,
        vec![("enc".to_owned(), 500), ("legacy.txt".to_owned(), 1000)],
        "{}",
        r.text()
    );
    assert!(
        files_containing(&s.backend.root, MARKER).is_empty(),
        "plaintext left at the backend"
    );
}
