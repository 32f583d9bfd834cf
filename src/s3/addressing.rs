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

/// Whether CreateBucket may make a bucket of this name: S3's rules for general purpose buckets (3 to 63
/// characters of `a-z0-9.-`, a letter or digit at each end, no `..`, not an IPv4 address, none of the prefixes and
/// suffixes S3 reserves). Other operations take any name and let the backend say whether the bucket exists.
pub fn valid_new_bucket_name(name: &str) -> bool {
    const RESERVED_PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
    const RESERVED_SUFFIXES: [&str; 5] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];
    let b = name.as_bytes();
    (3..=63).contains(&b.len())
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && !name.contains("..")
        && name.parse::<std::net::Ipv4Addr>().is_err()
        && !RESERVED_PREFIXES.iter().any(|p| name.starts_with(p))
        && !RESERVED_SUFFIXES.iter().any(|s| name.ends_with(s))
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
        return Err(S3Error::standard(S3ErrorCode::InvalidBucketName));
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

    /// The examples of S3's "General purpose bucket naming rules".
    #[test]
    fn new_bucket_names_follow_s3s_rules() {
        for ok in [
            "docexamplebucket1",
            "log-delivery-march-2020",
            "my-hosted-content",
            "a.b-c",
            "abc",
            "1bc",
        ] {
            assert!(valid_new_bucket_name(ok), "{ok}");
        }
        let long = "a".repeat(64);
        for bad in [
            "doc_example_bucket",
            "DocExampleBucket",
            "doc-example-bucket-",
            "-ab",
            "ab",
            long.as_str(),
            "a..b",
            "192.168.5.4",
            "xn--abc",
            "sthree-abc",
            "amzn-s3-demo-abc",
            "abc-s3alias",
            "abc--ol-s3",
            "abc.mrap",
            "abc--x-s3",
            "abc--table-s3",
            "ab c",
            "",
        ] {
            assert!(!valid_new_bucket_name(bad), "{bad}");
        }
        assert!(valid_new_bucket_name(&"a".repeat(63)));
        assert!(valid_new_bucket_name("192.168.5.4a"));
    }

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
