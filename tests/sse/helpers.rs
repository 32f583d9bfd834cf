use super::*;

// Helpers shared by the sections of the `sse` tests (the test binary's root is `main.rs`); `enc`, `b64` and
// `md5_b64` come from `tests/common`.

pub(crate) const KIB: usize = 1024;
pub(crate) const MIB: usize = 1024 * 1024;
pub(crate) const SEG: u64 = 65536;
pub(crate) const TAG: u64 = 16;

pub(crate) const TAG_FAILURES: &str = "s3_sse_proxy_authentication_tag_failures_total";

/// The ASCII marker many test objects are made of (see [`marker_body`]).
pub(crate) const MARKER: &[u8] = b"PLAINTEXT-MARKER-4f1c9e2a-";

pub(crate) fn b64url(d: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d)
}

/// The documented ciphertext size of one segment stream of `p` plaintext bytes.
pub(crate) fn ct_len(p: u64) -> u64 {
    p + TAG * p.div_ceil(SEG).max(1)
}

/// `len` bytes of `marker` repeated, starting `offset` bytes into the repetition.
pub(crate) fn marker_body(marker: &[u8], offset: usize, len: usize) -> Vec<u8> {
    (offset..offset + len).map(|i| marker[i % marker.len()]).collect()
}

/// The backend's data file of `bucket/key`.
pub(crate) fn data_file(b: &Backend, bucket: &str, key: &str) -> PathBuf {
    b.root.join(bucket).join(key)
}

pub(crate) fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .len()
}

/// A started stack with one bucket created through the gateway.
pub(crate) async fn stack_with_bucket(prefix: &str) -> (Stack, HttpsClient, String) {
    let s = Stack::start();
    let client = s.gw.client();
    let bucket = unique_bucket(prefix);
    create_bucket(&s.gw, &client, &bucket).await;
    (s, client, bucket)
}

/// As [`call`], reading the body only as far as it goes; `Err` if the connection closed before a response head.
pub(crate) async fn try_call_lossy(
    gw: &Gateway,
    c: &HttpsClient,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<LossyResp, String> {
    send_lossy(c, signed_with_headers(gw, CLIENT, method, path, Bytes::new(), headers)).await
}

/// As [`try_call_lossy`], panicking if there is no response head.
pub(crate) async fn call_lossy(
    gw: &Gateway,
    c: &HttpsClient,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> LossyResp {
    let what = format!("{method} {path}");
    try_call_lossy(gw, c, method, path, headers)
        .await
        .unwrap_or_else(|e| panic!("{what}: no response: {e}"))
}

pub(crate) async fn get_with(gw: &Gateway, c: &HttpsClient, path: &str, headers: &[(&str, &str)]) -> Resp {
    call(gw, c, Method::GET, path, Bytes::new(), headers).await
}

pub(crate) async fn head_with(gw: &Gateway, c: &HttpsClient, path: &str, headers: &[(&str, &str)]) -> Resp {
    call(gw, c, Method::HEAD, path, Bytes::new(), headers).await
}

/// Panics unless `r` is a 200 whose body is exactly `want`.
pub(crate) fn assert_body(r: &Resp, want: &[u8], what: &str) {
    assert_eq!(r.status, StatusCode::OK, "{what}: status; body {}", r.text());
    assert_eq!(r.body.len(), want.len(), "{what}: body length");
    assert!(r.body.as_ref() == want, "{what}: body differs from what was written");
}

/// The gateway must never show the backend's envelope to a client.
pub(crate) fn assert_no_envelope(headers: &http::HeaderMap, what: &str) {
    assert!(
        !headers.contains_key("x-amz-meta-s3sp"),
        "{what}: the response shows the envelope header x-amz-meta-s3sp"
    );
}

/// What a client must see when an object's stored data is no longer authentic: an error status, a body cut
/// short with a transport error, or a connection closed before any response (when the first segment fails
/// before the response head was flushed); never a complete body, never a byte that differs from the original.
pub(crate) fn assert_not_served(r: &Result<LossyResp, String>, original: &[u8], what: &str) {
    let Ok(r) = r else { return };
    let got = format!(
        "status {}, {} body bytes, body error {:?}, first bytes {:?}",
        r.status,
        r.body.len(),
        r.body_error,
        String::from_utf8_lossy(&r.body[..r.body.len().min(200)])
    );
    if r.status.is_success() {
        assert!(
            r.body_error.is_some(),
            "{what}: a {} with a complete body was served for a tampered object ({got})",
            r.status
        );
        assert!(r.body.len() < original.len(), "{what}: whole object served ({got})");
        assert!(
            original.starts_with(&r.body),
            "{what}: the bytes served before the abort are not the original's ({got})"
        );
    } else {
        assert!(
            r.body.len() < 4 * KIB && !contains(&r.body, &original[..original.len().min(64)]),
            "{what}: an error response carries object data ({got})"
        );
    }
}

/// A 32-byte SSE-C customer key and the header values that name it.
pub(crate) struct CustomerKey {
    pub(crate) raw: [u8; 32],
    pub(crate) b64: String,
    pub(crate) md5: String,
}

impl CustomerKey {
    pub(crate) fn new(seed: u64) -> CustomerKey {
        let raw: [u8; 32] = pseudo_random(32, seed).try_into().expect("32 bytes");
        CustomerKey {
            raw,
            b64: b64(&raw),
            md5: md5_b64(&raw),
        }
    }

    pub(crate) fn headers(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
            ("x-amz-server-side-encryption-customer-key", &self.b64),
            ("x-amz-server-side-encryption-customer-key-md5", &self.md5),
        ]
    }

    pub(crate) fn copy_source_headers(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("x-amz-copy-source-server-side-encryption-customer-algorithm", "AES256"),
            ("x-amz-copy-source-server-side-encryption-customer-key", &self.b64),
            ("x-amz-copy-source-server-side-encryption-customer-key-md5", &self.md5),
        ]
    }

    /// Every text form the key could leak in.
    pub(crate) fn text_forms(&self) -> Vec<String> {
        vec![
            self.b64.clone(),
            self.b64.trim_end_matches('=').to_owned(),
            b64url(&self.raw),
            hex::encode(self.raw),
            hex::encode_upper(self.raw),
        ]
    }
}

/// Panics unless `r` carries the SSE-C response headers for `k`.
pub(crate) fn assert_sse_c_echo(r: &Resp, k: &CustomerKey, what: &str) {
    assert_eq!(
        r.header("x-amz-server-side-encryption-customer-algorithm"),
        Some("AES256"),
        "{what}: SSE-C algorithm echoed"
    );
    assert_eq!(
        r.header("x-amz-server-side-encryption-customer-key-md5"),
        Some(k.md5.as_str()),
        "{what}: SSE-C key MD5 echoed"
    );
}

pub(crate) async fn create_mpu(
    gw: &Gateway,
    c: &HttpsClient,
    bucket: &str,
    key: &str,
    headers: &[(&str, &str)],
) -> String {
    let r = call(
        gw,
        c,
        Method::POST,
        &format!("/{bucket}/{key}?uploads"),
        Bytes::new(),
        headers,
    )
    .await;
    r.assert_ok();
    r.xml_tag("UploadId")
        .unwrap_or_else(|| panic!("no UploadId in {}", r.text()))
}

pub(crate) fn part_path(bucket: &str, key: &str, upload_id: &str, n: u32) -> String {
    format!("/{bucket}/{key}?partNumber={n}&uploadId={}", enc(upload_id))
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn upload_part(
    gw: &Gateway,
    c: &HttpsClient,
    bucket: &str,
    key: &str,
    upload_id: &str,
    n: u32,
    data: &[u8],
    headers: &[(&str, &str)],
) -> Resp {
    call(
        gw,
        c,
        Method::PUT,
        &part_path(bucket, key, upload_id, n),
        Bytes::copy_from_slice(data),
        headers,
    )
    .await
}

pub(crate) async fn complete_mpu(
    gw: &Gateway,
    c: &HttpsClient,
    bucket: &str,
    key: &str,
    upload_id: &str,
    parts: &[(u32, String)],
    headers: &[(&str, &str)],
) -> Resp {
    let mut xml = String::from("<CompleteMultipartUpload>");
    for (n, etag) in parts {
        xml.push_str(&format!("<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"));
    }
    xml.push_str("</CompleteMultipartUpload>");
    call(
        gw,
        c,
        Method::POST,
        &format!("/{bucket}/{key}?uploadId={}", enc(upload_id)),
        xml,
        headers,
    )
    .await
}

/// A whole multipart upload through the gateway (every request with `headers`); returns Complete's response.
pub(crate) async fn multipart_put(
    gw: &Gateway,
    c: &HttpsClient,
    bucket: &str,
    key: &str,
    parts: &[&[u8]],
    headers: &[(&str, &str)],
) -> Resp {
    let id = create_mpu(gw, c, bucket, key, headers).await;
    let mut etags = Vec::new();
    for (i, data) in parts.iter().enumerate() {
        let n = i as u32 + 1;
        let r = upload_part(gw, c, bucket, key, &id, n, data, headers).await;
        assert_eq!(r.status, StatusCode::OK, "UploadPart {n} of {key}: {}", r.text());
        etags.push((n, r.header("etag").expect("part ETag").to_owned()));
    }
    let r = complete_mpu(gw, c, bucket, key, &id, &etags, headers).await;
    assert_eq!(r.status, StatusCode::OK, "Complete {key}: {}", r.text());
    assert!(
        !r.text().contains("<Error>"),
        "Complete {key} answered 200 with an error: {}",
        r.text()
    );
    r
}

/// `(key, size, etag)` of every `<Contents>` of a listing.
pub(crate) fn listed(xml: &str) -> Vec<(String, u64, String)> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find("<Contents>") {
        let after = &rest[i..];
        let end = after.find("</Contents>").expect("closed Contents");
        let entry = &after[..end];
        out.push((
            xml_tag(entry, "Key").expect("Key"),
            xml_tag(entry, "Size").and_then(|s| s.parse().ok()).expect("Size"),
            xml_tag(entry, "ETag").unwrap_or_default().replace("&quot;", "\""),
        ));
        rest = &after[end..];
    }
    out
}

/// A listing without the top-level `<Prefix>` that echoes the request's own `prefix`.
pub(crate) fn without_echoed_prefix(xml: &str) -> String {
    let first_entry = ["<Contents>", "<CommonPrefixes>"]
        .iter()
        .filter_map(|t| xml.find(t))
        .min()
        .unwrap_or(xml.len());
    match (xml.find("<Prefix>"), xml.find("</Prefix>")) {
        (Some(a), Some(b)) if b < first_entry => format!("{}{}", &xml[..a], &xml[b + "</Prefix>".len()..]),
        _ => xml.to_owned(),
    }
}
