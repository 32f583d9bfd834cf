//! Several gateway instances in front of one backend: nothing authoritative lives in a gateway's memory, so
//! any instance serves any request of a multipart upload.

mod common;

use bytes::Bytes;
use common::*;
use http::Method;
use sha2::{Digest as _, Sha256};

const MIB: usize = 1024 * 1024;

#[tokio::test(flavor = "multi_thread")]
async fn multipart_upload_spread_over_two_gateways() {
    let backend = Backend::start();
    // Instances in front of one backend share the SSE-S3 keyring (as a deployment shares its key file); the
    // first start generates it.
    let keys = tempfile::tempdir().expect("tempdir");
    let keyring = keys.path().join("keyring.toml");
    let sse = format!("[sse]\nkeyring = {:?}\n", keyring.display().to_string());
    let gw_a = Gateway::start(&backend, &sse);
    let gw_b = Gateway::start(&backend, &sse);
    assert_ne!(gw_a.addr, gw_b.addr);
    let client_a = gw_a.client();
    let client_b = gw_b.client();
    let gws = [(&gw_a, &client_a), (&gw_b, &client_b)];

    let bucket = unique_bucket("two-gateways");
    let key = "multi/part object.bin";
    let path = format!("/{bucket}/{}", enc(key).replace("%2F", "/"));
    create_bucket(&gw_a, &client_a, &bucket).await;

    // Create on A.
    let r = send(
        &client_a,
        signed(&gw_a, CLIENT, Method::POST, &format!("{path}?uploads"), ""),
    )
    .await;
    r.assert_ok();
    let upload_id = r
        .xml_tag("UploadId")
        .unwrap_or_else(|| panic!("no UploadId in {}", r.text()));
    assert!(!upload_id.is_empty());

    // Parts 1..4 of 5 MiB on A, B, A, B.
    let parts: Vec<Vec<u8>> = (1..=4).map(|n| pseudo_random(5 * MIB, 100 + n)).collect();
    let mut etags = Vec::new();
    for (i, data) in parts.iter().enumerate() {
        let n = i + 1;
        let (gw, client) = gws[i % 2];
        let q = format!("{path}?partNumber={n}&uploadId={}", enc(&upload_id));
        let r = send(client, signed(gw, CLIENT, Method::PUT, &q, data.clone())).await;
        r.assert_ok();
        let etag = r
            .header("etag")
            .unwrap_or_else(|| panic!("UploadPart {n} via {} returned no ETag", gw.endpoint()))
            .to_owned();
        etags.push(etag);
    }

    // Both instances see all four parts.
    for (gw, client) in gws {
        let q = format!("{path}?uploadId={}", enc(&upload_id));
        let r = send(client, signed(gw, CLIENT, Method::GET, &q, "")).await;
        r.assert_ok();
        let listed = r.text().matches("<Part>").count();
        assert_eq!(listed, 4, "ListParts via {}: {}", gw.endpoint(), r.text());
    }

    // Complete on B.
    let mut xml = String::from("<CompleteMultipartUpload>");
    for (i, etag) in etags.iter().enumerate() {
        xml.push_str(&format!(
            "<Part><PartNumber>{}</PartNumber><ETag>{etag}</ETag></Part>",
            i + 1
        ));
    }
    xml.push_str("</CompleteMultipartUpload>");
    let q = format!("{path}?uploadId={}", enc(&upload_id));
    let r = send(&client_b, signed(&gw_b, CLIENT, Method::POST, &q, xml)).await;
    r.assert_ok();
    assert!(
        r.text().contains("<ETag>") && !r.text().contains("<Error>"),
        "CompleteMultipartUpload: {}",
        r.text()
    );

    // GET from A returns the concatenation.
    let whole: Vec<u8> = parts.concat();
    let r = send(&client_a, signed(&gw_a, CLIENT, Method::GET, &path, "")).await;
    r.assert_ok();
    assert_eq!(r.body.len(), whole.len(), "object size");
    assert_eq!(
        hex::encode(Sha256::digest(&r.body)),
        hex::encode(Sha256::digest(&whole)),
        "GET via A returns the bytes uploaded through A and B"
    );
    let etag = r.header("etag").unwrap_or_default();
    assert!(etag.trim_matches('"').ends_with("-4"), "multipart ETag: {etag}");

    // And a ranged GET from B across the part 2/3 boundary.
    let start = 10 * MIB - 100;
    let end = 10 * MIB + 99;
    let range = format!("bytes={start}-{end}");
    let req = signed_with_headers(&gw_b, CLIENT, Method::GET, &path, Bytes::new(), &[("range", &range)]);
    let r = send(&client_b, req).await;
    assert_eq!(r.status.as_u16(), 206, "ranged GET: {}", r.text());
    assert!(r.body.as_ref() == &whole[start..=end], "ranged GET bytes");
}
