//! GetObjectAttributes, answered by the gateway from the object's own metadata. The backend's answer would
//! describe the ciphertext (its size, its checksums) and would not ask for an SSE-C object's key.
//!
//! Attributes: `ETag` (the client's), `ObjectSize` (plaintext), `StorageClass`, and `ObjectParts` for an object
//! uploaded in parts (plaintext part sizes from the part layout, paginated with `x-amz-max-parts` and
//! `x-amz-part-number-marker`), and `Checksum`, the stored checksum of the plaintext (opened with the object's
//! data key, so an SSE-KMS object's needs the KMS, as its GET does).
//! Objects without an envelope (written before the gateway) are the backend's to describe.

use http::{HeaderMap, Method, Response, StatusCode};

use super::ReqCtx;
use super::get::client_parts;
use crate::auth::canonical::uri_encode;
use crate::body::Body;
use crate::crypto::envelope::SseMode;
use crate::crypto::size::plaintext_len;
use crate::error::{S3Error, S3ErrorCode, xml_escape};
use crate::response;
use crate::s3::request::header_str;
use crate::sse::checksum::StoredChecksum;
use crate::sse::request as sse;
use crate::sse::{Keys, check_customer_key, client_etag, envelope_of, open_data_key};

/// The attributes S3 knows, as `x-amz-object-attributes` names them.
const KNOWN: [&str; 5] = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"];

pub async fn get_object_attributes(ctx: ReqCtx<'_>, keys: &Keys) -> Result<Response<Body>, S3Error> {
    let (op, bucket, key) = (ctx.op(), ctx.bucket(), ctx.key());
    let h = &ctx.req.parts.headers;
    let wanted = wanted(h)?;
    let customer = sse::customer_for_read(h)?;
    let version = ctx.req.query_param("versionId");
    let q = version.map(|v| format!("versionId={}", uri_encode(v)));
    let uri = ctx.upstream.object_uri(bucket, key, q.as_deref())?;
    let head = ctx.upstream.call(op, Method::HEAD, uri, HeaderMap::new()).await?;
    match head.status() {
        s if s.is_success() => {}
        StatusCode::NOT_FOUND if version.is_some() => return Err(S3Error::no_such_version()),
        StatusCode::NOT_FOUND => return Err(S3Error::no_such_key()),
        StatusCode::BAD_REQUEST if version.is_some() => return Err(S3Error::invalid_version_id()),
        StatusCode::FORBIDDEN => return Err(S3Error::access_denied()),
        s => {
            return Err(S3Error::internal(format!(
                "GetObjectAttributes: backend HEAD status {s}"
            )));
        }
    }
    let env = match ctx.keys {
        Some(keys) => keys.envelope_for_read(head.headers(), bucket, key)?,
        None => envelope_of(head.headers())?,
    };
    let Some(env) = env else {
        if customer.is_some() {
            return Err(S3Error::not_applicable_to_object());
        }
        return super::forward::handle(ctx).await;
    };
    check_customer_key(&env, customer.as_ref())?;

    let hh = head.headers();
    let cipher_total: u64 = header_str(hh, "content-length")
        .and_then(|l| l.parse().ok())
        .ok_or_else(|| S3Error::internal("backend HEAD without a Content-Length"))?;
    let backend_etag = header_str(hh, "etag").unwrap_or("");
    // A single-stream object's parts (one rewritten at Complete) cost a record read: only when asked for.
    let parts = match env.multipart || wanted.contains(&"ObjectParts") {
        true => client_parts(ctx.buckets, op, bucket, key, &env, hh).await?,
        false => None,
    };
    let size = match &parts {
        Some(p) => p.iter().map(|&(_, s)| s).sum(),
        None => plaintext_len(cipher_total).ok_or_else(|| S3Error::internal("ciphertext length fits no plaintext"))?,
    };
    let etag = client_etag(backend_etag, !env.multipart);
    let checksums_wanted = wanted.contains(&"Checksum") || (wanted.contains(&"ObjectParts") && parts.is_some());
    let (checksum, part_checksums) = match checksums_wanted && env.checksum.is_some() {
        true => {
            if ctx.anonymous() && env.mode == SseMode::Kms {
                return Err(sse::kms_needs_identity());
            }
            let dk = open_data_key(keys, &env, customer.as_ref(), bucket, key).await?;
            let whole = super::checksum::read(ctx.buckets, op, bucket, key, &env, hh, &dk).await?;
            let numbers: Vec<u32> = parts.iter().flatten().map(|(n, _)| *n).collect();
            let of_parts = match &parts {
                Some(_) => super::checksum::read_parts(ctx.buckets, op, bucket, key, hh, &numbers, &dk).await?,
                None => None,
            };
            (whole, of_parts)
        }
        false => (None, None),
    };

    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<GetObjectAttributesResponse xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
    );
    for name in &wanted {
        match *name {
            "ETag" => xml.push_str(&format!("<ETag>{}</ETag>", xml_escape(etag.trim_matches('"')))),
            "ObjectSize" => xml.push_str(&format!("<ObjectSize>{size}</ObjectSize>")),
            "StorageClass" => {
                let class = header_str(hh, "x-amz-storage-class").unwrap_or("STANDARD");
                xml.push_str(&format!("<StorageClass>{}</StorageClass>", xml_escape(class)));
            }
            "ObjectParts" => {
                if let Some(p) = &parts {
                    xml.push_str(&object_parts(p, part_checksums.as_deref(), h)?);
                }
            }
            "Checksum" => {
                if let Some(c) = &checksum {
                    let name = format!("Checksum{}", c.algorithm.sdk_name());
                    xml.push_str(&format!(
                        "<Checksum><{name}>{}</{name}><ChecksumType>{}</ChecksumType></Checksum>",
                        xml_escape(&c.value),
                        c.kind.as_str()
                    ));
                }
            }
            _ => {}
        }
    }
    xml.push_str("</GetObjectAttributesResponse>");
    let mut out = response::xml(xml);
    for name in ["last-modified", "x-amz-version-id", "x-amz-delete-marker"] {
        if let Some(v) = hh.get(name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    Ok(out)
}

/// The attribute names of `x-amz-object-attributes` (comma-separated, in the order asked), each known to S3.
fn wanted(h: &HeaderMap) -> Result<Vec<&'static str>, S3Error> {
    let listed: Vec<&str> = h
        .get_all("x-amz-object-attributes")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    if listed.is_empty() {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty",
        ));
    }
    listed
        .into_iter()
        .map(|n| {
            KNOWN
                .into_iter()
                .find(|k| *k == n)
                .ok_or_else(|| S3Error::new(S3ErrorCode::InvalidArgument, "Invalid attribute name specified."))
        })
        .collect()
}

/// `<ObjectParts>` for the parts after `x-amz-part-number-marker`, at most `x-amz-max-parts` (1000) of them, with
/// each part's checksum when the object keeps them (`checksums`, in the order of `parts`).
fn object_parts(parts: &[(u32, u64)], checksums: Option<&[StoredChecksum]>, h: &HeaderMap) -> Result<String, S3Error> {
    let number = |name: &str, default: u32| match header_str(h, name) {
        None => Ok(default),
        Some(v) => v.trim().parse::<u32>().map_err(|_| {
            S3Error::new(
                S3ErrorCode::InvalidArgument,
                format!("{name} must be a non-negative integer"),
            )
        }),
    };
    let max = number("x-amz-max-parts", 1000)?.min(1000);
    let marker = number("x-amz-part-number-marker", 0)?;
    let after: Vec<(&(u32, u64), Option<&StoredChecksum>)> = parts
        .iter()
        .enumerate()
        .filter(|(_, (n, _))| *n > marker)
        .map(|(i, p)| (p, checksums.and_then(|c| c.get(i))))
        .collect();
    let page = &after[..after.len().min(max as usize)];
    let truncated = after.len() > page.len();
    let mut x = format!(
        "<ObjectParts><PartsCount>{count}</PartsCount>\
         <PartNumberMarker>{marker}</PartNumberMarker><MaxParts>{max}</MaxParts><IsTruncated>{truncated}</IsTruncated>",
        count = parts.len()
    );
    if let Some(((last, _), _)) = page.last() {
        x.push_str(&format!("<NextPartNumberMarker>{last}</NextPartNumberMarker>"));
    }
    for ((n, size), checksum) in page {
        x.push_str(&format!("<Part><PartNumber>{n}</PartNumber><Size>{size}</Size>"));
        if let Some(c) = checksum {
            let name = format!("Checksum{}", c.algorithm.sdk_name());
            x.push_str(&format!("<{name}>{}</{name}>", xml_escape(&c.value)));
        }
        x.push_str("</Part>");
    }
    x.push_str("</ObjectParts>");
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(*n, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn attribute_names_are_s3s_and_at_least_one_is_asked() {
        let h = headers(&[("x-amz-object-attributes", "ObjectSize, ETag,StorageClass")]);
        assert_eq!(wanted(&h).unwrap(), ["ObjectSize", "ETag", "StorageClass"]);
        let code = |h: &HeaderMap| wanted(h).unwrap_err().code;
        assert_eq!(code(&headers(&[])), S3ErrorCode::InvalidRequest);
        assert_eq!(
            code(&headers(&[("x-amz-object-attributes", " , ")])),
            S3ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(&headers(&[("x-amz-object-attributes", "ETag,Size")])),
            S3ErrorCode::InvalidArgument
        );
    }

    #[test]
    fn object_parts_are_paginated_after_the_marker() {
        let parts = [(1, 100), (2, 200), (4, 50)];
        let all = object_parts(&parts, None, &headers(&[])).unwrap();
        assert!(all.contains("<PartsCount>3</PartsCount>"), "{all}");
        assert!(all.contains("<IsTruncated>false</IsTruncated>"), "{all}");
        assert!(
            all.contains("<Part><PartNumber>4</PartNumber><Size>50</Size></Part>"),
            "{all}"
        );
        let sums: Vec<StoredChecksum> = ["AAAAAQ==", "AAAAAg==", "AAAABA=="]
            .iter()
            .map(|v| StoredChecksum {
                algorithm: crate::auth::checksum::ChecksumAlgorithm::Crc32,
                kind: crate::sse::checksum::ChecksumType::FullObject,
                value: (*v).into(),
            })
            .collect();
        let page = object_parts(
            &parts,
            Some(&sums),
            &headers(&[("x-amz-max-parts", "1"), ("x-amz-part-number-marker", "1")]),
        )
        .unwrap();
        assert!(
            page.contains(
                "<Part><PartNumber>2</PartNumber><Size>200</Size><ChecksumCRC32>AAAAAg==</ChecksumCRC32></Part>"
            ),
            "{page}"
        );
        assert!(!page.contains("<PartNumber>4</PartNumber>"), "{page}");
        assert!(page.contains("<IsTruncated>true</IsTruncated>"), "{page}");
        assert!(
            page.contains("<NextPartNumberMarker>2</NextPartNumberMarker>"),
            "{page}"
        );
        let bad = object_parts(&parts, None, &headers(&[("x-amz-max-parts", "-1")])).unwrap_err();
        assert_eq!(bad.code, S3ErrorCode::InvalidArgument);
    }
}
