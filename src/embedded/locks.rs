//! Per-key locks for the embedded backend: what makes s3s-fs's two-step overwrites, and the conditional writes
//! checked before them, atomic. It must never hold a lock across anything but one object operation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

/// One lock per object key. s3s-fs overwrites an object in two steps: it renames the data into place, then writes
/// the metadata (where the gateway keeps the object's envelope) as a second file. A second writer, or a reader,
/// between the two pairs one PUT's ciphertext with another's data key: the object no longer opens, and is lost.
/// So writers (PUT, copy, CompleteMultipartUpload, deletes) hold their key's lock exclusively for their whole
/// call, and readers (GET, HEAD, a copy's source) share it while s3s-fs opens the file and reads its metadata; the
/// open file keeps its data when a writer later replaces it. Several keys are always locked in sorted order.
#[derive(Default)]
pub(super) struct KeyLocks(Mutex<HashMap<ObjectName, Arc<RwLock<()>>>>);

/// (bucket, key)
type ObjectName = (String, String);

/// A held key lock; released on drop.
#[allow(dead_code)] // held for its Drop, never read
pub(super) enum KeyGuard {
    Read(OwnedRwLockReadGuard<()>),
    Write(OwnedRwLockWriteGuard<()>),
}

impl KeyLocks {
    fn lock_for(&self, bucket: &str, key: &str) -> Arc<RwLock<()>> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // Forget the locks nobody holds, so the map stays the size of the keys in use.
        if map.len() >= 1024 {
            map.retain(|_, l| Arc::strong_count(l) > 1);
        }
        map.entry((bucket.to_owned(), key.to_owned())).or_default().clone()
    }

    /// Lock `keys` (bucket, key, exclusive), in sorted order; a key listed twice is locked once, exclusively if
    /// either asks for it.
    pub(super) async fn lock(&self, mut keys: Vec<(&str, &str, bool)>) -> Vec<KeyGuard> {
        keys.sort_by(|a, b| (a.0, a.1, !a.2).cmp(&(b.0, b.1, !b.2)));
        keys.dedup_by(|later, first| later.0 == first.0 && later.1 == first.1);
        let mut guards = Vec::with_capacity(keys.len());
        for (bucket, key, exclusive) in keys {
            let l = self.lock_for(bucket, key);
            guards.push(if exclusive {
                KeyGuard::Write(l.write_owned().await)
            } else {
                KeyGuard::Read(l.read_owned().await)
            });
        }
        guards
    }
}
