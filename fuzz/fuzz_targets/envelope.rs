//! Everything read back from backend metadata or handed to clients as tokens: the envelope text
//! (`src/crypto/envelope.rs`), multipart upload IDs and layout records (`src/object/multipart.rs`), local and KMIP
//! KMS blobs (`src/crypto/kms_blob.rs`, `src/kms/kmip/blob.rs`), the SSE-KMS encryption-context header
//! (`src/kms/mod.rs`), and a sealed data key opened under a KEK.
//!
//! Properties: what decodes re-encodes to something that decodes to the same value; an arbitrary sealed key, key
//! check or blob never opens (only the real KEK's seal does).
#![no_main]

use libfuzzer_sys::fuzz_target;
use s3_sse_proxy::crypto::envelope::{
    Envelope, SealedKey, SseMode, customer_key_matches, open_key, seal_key_with_nonce,
};
use s3_sse_proxy::crypto::keys::{DataKey, Kek};
use s3_sse_proxy::crypto::kms_blob;
use s3_sse_proxy::kms::kmip::blob::Blob;
use s3_sse_proxy::sse::multipart::{Layout, parse_upload_id, upload_token};

fn kek() -> Kek {
    Kek::new("kek-1", core::array::from_fn(|i| 0x20 + i as u8))
}

fuzz_target!(|data: &[u8]| {
    let kek = kek();
    for mode in [SseMode::S3, SseMode::C, SseMode::Kms] {
        assert!(open_key(&kek, mode, &SealedKey(data.to_vec()), "bucket", "key").is_err());
    }
    assert!(!customer_key_matches(&[0x40; 32], data));
    let _ = kms_blob::header(data);
    assert!(kms_blob::open(&kek, data, [("aws:s3:arn", "arn:aws:s3:::bucket/key")]).is_err());
    if let Some(b) = Blob::parse(data) {
        let encoded = b.encode();
        assert_eq!(encoded, data, "a KMIP blob has one encoding");
        assert_eq!(Blob::parse(&encoded), Some(b));
    }

    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(env) = Envelope::decode(text) {
        let encoded = env.encode();
        assert_eq!(Envelope::decode(&encoded).as_ref(), Ok(&env), "{encoded}");
        // An upload ID carries the envelope unchanged.
        let token = upload_token("backend-upload", &env);
        let (backend, back) = parse_upload_id(&token).expect("own token");
        assert_eq!((backend.as_str(), back.as_ref()), ("backend-upload", Some(&env)));
        // The data key sealed under the KEK named by the envelope opens, for this object only.
        let dk = DataKey::from_bytes([7; 32]);
        let sealed = seal_key_with_nonce(
            &Kek::new(env.kek_id.clone(), [9; 32]),
            env.mode,
            &dk,
            "b",
            text,
            [1; 12],
        );
        let k = Kek::new(env.kek_id.clone(), [9; 32]);
        assert!(open_key(&k, env.mode, &sealed, "b", text).is_ok_and(|d| d == dk));
        assert!(open_key(&k, env.mode, &sealed, "b", &format!("{text}x")).is_err());
    }
    let _ = parse_upload_id(text);
    if let Some(layout) = Layout::decode(text) {
        let encoded = layout.encode();
        let again = Layout::decode(&encoded).expect("a layout re-encodes to a valid record");
        assert_eq!(again.part_sizes, layout.part_sizes);
        assert_eq!(again.part_numbers, layout.part_numbers);
        let _ = (layout.is_aligned(), layout.plaintext_sizes());
        // Totals never wrap: present exactly when the sizes add up within a u64.
        let wide: u128 = layout.part_sizes.iter().map(|&c| u128::from(c)).sum();
        assert_eq!(
            layout.cipher_total().map(u128::from),
            (wide <= u128::from(u64::MAX)).then_some(wide)
        );
        if let (Some(sizes), Some(_)) = (layout.plaintext_sizes(), layout.cipher_total()) {
            assert_eq!(layout.plaintext_total(), Some(sizes.iter().sum::<u64>()));
        }
    }
    let _ = s3_sse_proxy::kms::parse_context_header(text);
});
