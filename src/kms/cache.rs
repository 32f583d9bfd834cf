//! The data-key cache: decrypted KMS data keys (and bucket keys) by a digest of (blob, context), each kept for a
//! TTL, at most `capacity` entries. Keys zeroize when evicted or dropped (`DataKey` does on drop). A cache hit
//! is a key use without a KMS call: it is still audited. Never authoritative: a miss asks the KMS.
//!
//! A key the KMS reports disabled or deleted is dropped from the cache at once ([`KeyCache::forget_key`]), so
//! the next use of any of its data keys asks the KMS (and fails). Until the KMS says so, a key disabled in the
//! KMS keeps opening objects whose data key is cached: `sse::kms` bounds that by asking the KMS about each key
//! whose keys it serves from here at least every `key_check_secs`.

use std::time::{Duration, Instant};

use dashmap::DashMap;
use sha2::{Digest, Sha256};

use super::EncryptionContext;
use crate::crypto::keys::DataKey;

struct Entry {
    key: DataKey,
    key_arn: String,
    blob: Vec<u8>,
    expires: Instant,
}

pub struct KeyCache {
    map: DashMap<[u8; 32], Entry>,
    ttl: Duration,
    capacity: usize,
}

/// What a lookup finds.
pub struct Cached {
    pub key: DataKey,
    pub key_arn: String,
    pub blob: Vec<u8>,
}

/// The cache key: SHA-256 over length-prefixed fields (a name and the context), so distinct inputs never collide.
pub fn digest(name: &[&[u8]], ctx: &EncryptionContext) -> [u8; 32] {
    let mut h = Sha256::new();
    let mut field = |x: &[u8]| {
        h.update((x.len() as u64).to_be_bytes());
        h.update(x);
    };
    for n in name {
        field(n);
    }
    for (k, v) in ctx {
        field(k.as_bytes());
        field(v.as_bytes());
    }
    h.finalize().into()
}

impl KeyCache {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            map: DashMap::new(),
            ttl,
            capacity,
        }
    }

    pub fn get(&self, id: &[u8; 32]) -> Option<Cached> {
        if self.ttl.is_zero() {
            return None;
        }
        let now = Instant::now();
        let hit = self.map.get(id).and_then(|e| {
            (e.expires > now).then(|| Cached {
                key: e.key.clone(),
                key_arn: e.key_arn.clone(),
                blob: e.blob.clone(),
            })
        });
        if hit.is_none() {
            self.map.remove_if(id, |_, e| e.expires <= now);
        }
        hit
    }

    pub fn insert(&self, id: [u8; 32], key: &DataKey, key_arn: &str, blob: &[u8]) {
        if self.ttl.is_zero() || self.capacity == 0 {
            return;
        }
        if self.map.len() >= self.capacity {
            self.make_room();
        }
        self.map.insert(
            id,
            Entry {
                key: key.clone(),
                key_arn: key_arn.to_owned(),
                blob: blob.to_vec(),
                expires: Instant::now() + self.ttl,
            },
        );
    }

    /// A full cache: drop the expired entries, and if that is not enough, the tenth of the entries closest to
    /// expiry, in one pass. Room for many inserts per scan: a scan per insert (as before) made every SSE-KMS PUT
    /// cost O(capacity) once the cache was full (at 10,000 entries, 4x the CPU of a 4 KiB PUT, BENCHMARKS.md).
    fn make_room(&self) {
        let now = Instant::now();
        self.map.retain(|_, e| e.expires > now);
        let len = self.map.len();
        if len < self.capacity {
            return;
        }
        let drop = (len + 1 - self.capacity).max(self.capacity / 10).min(len);
        let mut by_expiry: Vec<(Instant, [u8; 32])> = self.map.iter().map(|e| (e.expires, *e.key())).collect();
        by_expiry.select_nth_unstable(drop - 1);
        for (_, id) in &by_expiry[..drop] {
            self.map.remove(id);
        }
    }

    /// Drop every entry made under the KMS key `key_arn` (data keys and bucket keys); returns how many. A scan
    /// of the whole cache, done only when the KMS refuses a key.
    pub fn forget_key(&self, key_arn: &str) -> usize {
        let before = self.map.len();
        self.map.retain(|_, e| e.key_arn != key_arn);
        before.saturating_sub(self.map.len())
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_the_size_is_bounded() {
        let c = KeyCache::new(Duration::from_millis(50), 3);
        let ctx = EncryptionContext::new();
        for i in 0..10u8 {
            c.insert(digest(&[&[i]], &ctx), &DataKey::from_bytes([i; 32]), "arn", &[i]);
            assert!(c.len() <= 3);
        }
        let hit = c.get(&digest(&[&[9]], &ctx)).expect("newest entry kept");
        assert_eq!(hit.key, DataKey::from_bytes([9; 32]));
        assert!(c.get(&digest(&[&[0]], &ctx)).is_none(), "oldest evicted");
        std::thread::sleep(Duration::from_millis(60));
        assert!(c.get(&digest(&[&[9]], &ctx)).is_none(), "expired");
        let off = KeyCache::new(Duration::ZERO, 3);
        off.insert([0; 32], &DataKey::from_bytes([1; 32]), "arn", &[]);
        assert!(off.get(&[0; 32]).is_none());
    }

    /// A full cache makes room by dropping its oldest tenth at once, never a newer entry.
    #[test]
    fn a_full_cache_drops_its_oldest_entries_first() {
        let c = KeyCache::new(Duration::from_secs(300), 100);
        let ctx = EncryptionContext::new();
        let id = |i: u32| digest(&[&i.to_be_bytes()], &ctx);
        for i in 0..1_000u32 {
            c.insert(id(i), &DataKey::from_bytes([1; 32]), "arn", &[]);
            assert!(c.len() <= 100, "{} entries after {i}", c.len());
            // Same-instant expiries may tie: give each insert its own.
            std::thread::sleep(Duration::from_micros(20));
        }
        assert!(c.len() >= 90, "{} entries", c.len());
        for i in 1_000 - 90..1_000 {
            assert!(c.get(&id(i)).is_some(), "entry {i} of the newest 90");
        }
        assert!(c.get(&id(0)).is_none() && c.get(&id(899)).is_none());
    }

    #[test]
    fn a_refused_key_is_forgotten_with_all_its_entries() {
        let c = KeyCache::new(Duration::from_secs(300), 20_000);
        let ctx = EncryptionContext::new();
        for i in 0..10_000u32 {
            let arn = if i % 2 == 0 { "arn:k/even" } else { "arn:k/odd" };
            c.insert(
                digest(&[&i.to_be_bytes()], &ctx),
                &DataKey::from_bytes([1; 32]),
                arn,
                &[],
            );
        }
        let started = Instant::now();
        assert_eq!(c.forget_key("arn:k/even"), 5_000);
        // The cost of one invalidation of a full default-size cache (BENCHMARKS.md, "KMS key cache").
        println!("forget_key over 10000 entries: {:?}", started.elapsed());
        assert!(
            c.get(&digest(&[&0u32.to_be_bytes()], &ctx)).is_none(),
            "the refused key's entry"
        );
        assert!(
            c.get(&digest(&[&1u32.to_be_bytes()], &ctx)).is_some(),
            "another key's entry stays"
        );
        assert_eq!(c.forget_key("arn:k/even"), 0);
        assert_eq!(c.len(), 5_000);
    }

    #[test]
    fn digests_separate_fields_and_contexts() {
        let a: EncryptionContext = [("k".to_owned(), "v".to_owned())].into();
        assert_ne!(digest(&[b"ab", b"c"], &a), digest(&[b"a", b"bc"], &a));
        assert_ne!(digest(&[b"x"], &a), digest(&[b"x"], &EncryptionContext::new()));
    }
}
