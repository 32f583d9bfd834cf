//! Path-style (`/bucket/key`) and virtual-hosted-style (`bucket.domain/key`) addressing.

use crate::auth::canonical::percent_decode;

/// The bucket and key a request addresses (decoded).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Target {
    pub bucket: Option<String>,
    pub key: Option<String>,
}

impl Target {
    pub fn bucket(bucket: &str) -> Self {
        Self {
            bucket: Some(bucket.to_owned()),
            key: None,
        }
    }

    pub fn object(bucket: &str, key: &str) -> Self {
        Self {
            bucket: Some(bucket.to_owned()),
            key: Some(key.to_owned()),
        }
    }
}

/// Resolve the target from the Host header and the raw path. `domains` are the configured virtual-host domains.
pub fn resolve(host: Option<&str>, raw_path: &str, domains: &[String]) -> Target {
    let path = raw_path.strip_prefix('/').unwrap_or(raw_path);
    if let Some(bucket) = host_bucket(host, domains) {
        let key = (!path.is_empty()).then(|| percent_decode(path));
        return Target {
            bucket: Some(bucket.to_owned()),
            key,
        };
    }
    let (bucket, key) = match path.split_once('/') {
        Some((b, k)) => (b, (!k.is_empty()).then_some(k)),
        None => (path, None),
    };
    Target {
        bucket: (!bucket.is_empty()).then(|| percent_decode(bucket)),
        key: key.map(percent_decode),
    }
}

/// The bucket named by the Host (virtual-hosted style), if any of `domains` addresses one.
pub fn host_bucket<'a>(host: Option<&'a str>, domains: &[String]) -> Option<&'a str> {
    let host = host?;
    let host = host
        .rsplit_once(':')
        .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(h, _)| h);
    domains.iter().find_map(|d| {
        host.strip_suffix(d.as_str())
            .and_then(|b| b.strip_suffix('.'))
            .filter(|b| !b.is_empty())
    })
}

/// Refuse targets a backend could read as something else: an empty bucket segment (`//b/k`), and `.` or `..`
/// as a bucket or as a key path segment (file-system backends resolve them, which would let a credential limited
/// to one bucket reach another).
pub fn check(t: &Target) -> Result<(), crate::error::S3Error> {
    use crate::error::{S3Error, S3ErrorCode};
    let bad_bucket = match &t.bucket {
        None => t.key.is_some(),
        Some(b) => b == "." || b == ".." || b.contains('/'),
    };
    if bad_bucket {
        return Err(S3Error::new(
            S3ErrorCode::InvalidBucketName,
            "The specified bucket is not valid.",
        ));
    }
    if t.key
        .as_deref()
        .is_some_and(|k| k.split('/').any(|seg| seg == "." || seg == ".."))
    {
        return Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            "Object keys with '.' or '..' path segments are not accepted by this gateway.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_style() {
        let t = resolve(Some("127.0.0.1:8443"), "/b/dir/a%20b.txt", &[]);
        assert_eq!(t.bucket.as_deref(), Some("b"));
        assert_eq!(t.key.as_deref(), Some("dir/a b.txt"));
        assert_eq!(resolve(None, "/", &[]), Target::default());
        assert_eq!(resolve(None, "/b/", &[]).key, None);
    }

    #[test]
    fn ambiguous_targets_are_refused() {
        assert!(check(&resolve(None, "//bucket/k", &[])).is_err());
        assert!(check(&resolve(None, "/only-this/../victim/theirs", &[])).is_err());
        assert!(check(&resolve(None, "/only-this/x/%2E%2E/y", &[])).is_err());
        assert!(check(&resolve(None, "/../x", &[])).is_err());
        assert!(check(&resolve(None, "/b/a..b/.hidden", &[])).is_ok());
        assert!(check(&resolve(None, "/", &[])).is_ok());
    }

    #[test]
    fn virtual_hosted_style() {
        let d = vec!["s3.example.test".to_owned()];
        let t = resolve(Some("photos.s3.example.test:8443"), "/2026/x.jpg", &d);
        assert_eq!(t.bucket.as_deref(), Some("photos"));
        assert_eq!(t.key.as_deref(), Some("2026/x.jpg"));
        // The bare domain is path style.
        let t = resolve(Some("s3.example.test"), "/photos/x", &d);
        assert_eq!(t.bucket.as_deref(), Some("photos"));
    }
}
