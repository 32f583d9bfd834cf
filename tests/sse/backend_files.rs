use super::*;

// ------------------------------------------------------------------------------------------------
// 1. What the backend holds
// ------------------------------------------------------------------------------------------------

/// Objects of 0, 1, 65536, 65537 and 200000 bytes and a 12 MiB multipart object, all full of an ASCII marker:
/// no file under the backend's root contains the marker, each data file has exactly the documented ciphertext
/// size, every envelope has the documented form, and GET returns the exact bytes.
#[tokio::test(flavor = "multi_thread")]
async fn backend_files_hold_only_ciphertext_of_the_documented_size() {
    let (s, c, bucket) = stack_with_bucket("inspect").await;
    let sizes = [0usize, 1, 65536, 65537, 200_000];
    let mut objects: Vec<(String, Vec<u8>, u64)> = Vec::new();
    for size in sizes {
        let key = format!("obj-{size}");
        let body = marker_body(MARKER, size, size);
        let r = put_object(&s.gw, &c, &bucket, &key, body.clone()).await;
        r.assert_ok();
        let etag = r.header("etag").unwrap_or_default().to_owned();
        assert!(
            etag.starts_with('"') && etag.ends_with("-1\""),
            "single-part ETag of {key} is \"<md5>-1\": {etag}"
        );
        assert_eq!(r.header("x-amz-server-side-encryption"), Some("AES256"), "{key}");
        objects.push((key, body, ct_len(size as u64)));
    }
    // 12 MiB in parts of 5, 5 and 2 MiB.
    let big = marker_body(MARKER, 7, 12 * MIB);
    let part_sizes = [5 * MIB, 5 * MIB, 2 * MIB];
    let mut parts: Vec<&[u8]> = Vec::new();
    let mut off = 0;
    for n in part_sizes {
        parts.push(&big[off..off + n]);
        off += n;
    }
    let r = multipart_put(&s.gw, &c, &bucket, "multi-12mib", &parts, &[]).await;
    let etag = r.xml_tag("ETag").unwrap_or_default().replace("&quot;", "\"");
    assert!(etag.ends_with("-3\""), "multipart ETag has the -3 form: {etag}");
    let mp_cipher: u64 = part_sizes.iter().map(|&p| ct_len(p as u64)).sum();
    objects.push(("multi-12mib".to_owned(), big.clone(), mp_cipher));

    // The marker is nowhere under the root (data files, metadata and internal side files, anything else).
    let files = all_files(&s.backend.root);
    assert!(files.len() >= objects.len(), "backend files: {files:?}");
    let leaks = files_containing(&s.backend.root, MARKER);
    assert!(leaks.is_empty(), "plaintext marker found in backend files: {leaks:?}");

    let mut nonce_prefixes = Vec::new();
    for (key, body, cipher) in &objects {
        // Sizes.
        let f = data_file(&s.backend, &bucket, key);
        assert_eq!(
            file_len(&f),
            *cipher,
            "{key}: backend file size is the ciphertext size for {} plaintext bytes",
            body.len()
        );
        // The envelope, as the backend serves it: v=2;s=1;m=S3;k=…;n=<7 bytes>;d=<60 bytes>;x=<sealed checksum>
        // (;l=m;x=r for multipart: its checksum is made at Complete, in a record).
        let h = s
            .backend
            .send_signed(BACKEND, Method::HEAD, &format!("/{bucket}/{key}"), Bytes::new())
            .await;
        assert_eq!(h.status, StatusCode::OK, "{key}: backend HEAD");
        assert_eq!(h.header("content-length"), Some(cipher.to_string().as_str()));
        let env = h
            .header("x-amz-meta-s3sp")
            .unwrap_or_else(|| panic!("{key}: no x-amz-meta-s3sp at the backend: {:?}", h.headers))
            .to_owned();
        let multipart = key.starts_with("multi");
        // Version 2: with the stored checksum, `x`.
        assert!(env.starts_with("v=2;s=1;m=S3;k="), "{key}: envelope {env}");
        let fields: Vec<(&str, &str)> = env.split(';').filter_map(|f| f.split_once('=')).collect();
        let names: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
        let want: &[&str] = if multipart {
            &["v", "s", "m", "k", "n", "d", "l", "x"]
        } else {
            &["v", "s", "m", "k", "n", "d", "x"]
        };
        assert_eq!(names, want, "{key}: envelope fields of {env}");
        let field = |n: &str| fields.iter().find(|(k, _)| *k == n).map(|(_, v)| *v).unwrap();
        let b64d = |v: &str| base64::engine::general_purpose::STANDARD.decode(v).expect("base64");
        assert_eq!(b64d(field("n")).len(), 7, "{key}: nonce prefix is 7 bytes");
        assert_eq!(
            b64d(field("d")).len(),
            12 + 32 + 16,
            "{key}: sealed data key is nonce ‖ 32-byte key ‖ tag"
        );
        if multipart {
            assert_eq!((field("l"), field("x")), ("m", "r"));
        }
        nonce_prefixes.push(field("n").to_owned());
        // The gateway serves the exact bytes, the plaintext size and none of the backend's envelope.
        let g = get_object(&s.gw, &c, &bucket, key).await;
        assert_body(&g, body, &format!("GET {key}"));
        assert_eq!(g.header("content-length"), Some(body.len().to_string().as_str()));
        assert_eq!(g.header("x-amz-server-side-encryption"), Some("AES256"));
        assert_no_envelope(&g.headers, key);
    }
    nonce_prefixes.sort();
    nonce_prefixes.dedup();
    assert_eq!(
        nonce_prefixes.len(),
        objects.len(),
        "every object has its own nonce prefix"
    );

    // The search above would have found the marker: a plaintext object written straight to the backend.
    let plain_bucket = unique_bucket("inspect-plain");
    s.backend
        .send_signed(BACKEND, Method::PUT, &format!("/{plain_bucket}"), Bytes::new())
        .await
        .assert_ok();
    s.backend
        .send_signed(
            BACKEND,
            Method::PUT,
            &format!("/{plain_bucket}/plain"),
            Bytes::from(marker_body(MARKER, 0, 1000)),
        )
        .await
        .assert_ok();
    assert_eq!(
        files_containing(&s.backend.root, MARKER),
        vec![data_file(&s.backend, &plain_bucket, "plain")],
        "the file search finds a plaintext object"
    );
}
