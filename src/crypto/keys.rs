//! Secret key types. Each zeroizes on drop and has a `Debug` that prints nothing secret; there is no `Display`.
//! A sealed (wrapped) key is a different, public type ([`super::envelope::SealedKey`]).

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// A 256-bit object data key: generated fresh for each object, never stored unsealed.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct DataKey([u8; 32]);

impl DataKey {
    /// A fresh random data key from the system CSPRNG (aws-lc-rs).
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        aws_lc_rs::rand::fill(&mut k).expect("system RNG");
        Self(k)
    }
    pub fn from_bytes(b: [u8; 32]) -> Self {
        Self(b)
    }
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// A key-encryption key (SSE-S3 master key, or an SSE-C customer key), with its public id.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Kek {
    #[zeroize(skip)]
    id: String,
    key: [u8; 32],
}

impl Kek {
    pub fn new(id: impl Into<String>, key: [u8; 32]) -> Self {
        Self { id: id.into(), key }
    }
    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.key
    }
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kek({}, <redacted>)", self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_prints_no_key_material() {
        let k = DataKey::from_bytes([0xAB; 32]);
        assert!(!format!("{k:?}").to_lowercase().contains("ab"));
        let kek = Kek::new("kek-1", [0xCD; 32]);
        let s = format!("{kek:?}");
        assert!(s.contains("kek-1") && !s.to_lowercase().contains("cd,") && !s.contains("205"));
    }
}
