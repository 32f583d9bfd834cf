//! The object encryption format, sans-IO: pure functions and small state machines over byte slices.
//! Knows nothing of HTTP, async or storage. Spec and vectors: `docs/format.md` (the tests load its vectors).
//!
//! - [`keys`]: secret key types (zeroized on drop, never printed).
//! - [`segment`]: one 64 KiB plaintext segment ↔ AES-256-GCM ciphertext, nonce = prefix ‖ index ‖ final flag.
//! - [`size`]: plaintext ↔ ciphertext sizes and ranges (HEAD, GET ranges, listings without lookups).
//! - [`envelope`]: the sealed data key and everything a read needs, as backend user metadata.
//! - [`checksum`]: a stored checksum of the plaintext, sealed under the data key.
//! - [`stream`]: whole streams (objects, parts), sealed and opened one segment at a time.

pub mod checksum;
pub mod envelope;
pub mod keys;
pub mod kms_blob;
pub mod segment;
pub mod size;
pub mod stream;

/// Format version, first byte of everything this format writes.
pub const VERSION: u8 = 1;
/// Cipher suite 1: AES-256-GCM, 64 KiB plaintext segments, HKDF-SHA256 per-part keys.
pub const SUITE_AES256GCM_64K: u8 = 1;
/// Plaintext bytes per segment (all but the last segment of a part are full).
pub const SEGMENT_SIZE: u64 = 64 * 1024;
/// AES-GCM tag bytes appended to each segment.
pub const TAG_SIZE: u64 = 16;

/// Why decryption or unsealing failed. Deliberately coarse: an attacker learns nothing from which check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// A segment or a sealed key failed authentication (tampered, truncated, reordered, wrong key).
    #[error("authentication failed")]
    Authentication,
    /// The envelope metadata is malformed or of an unknown version/suite.
    #[error("malformed envelope: {0}")]
    Malformed(&'static str),
    /// The KEK named by the envelope is not in the keyring.
    #[error("unknown key-encryption key")]
    UnknownKek,
}
