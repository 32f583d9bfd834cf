//! The matching primitives of the policy language: `*`/`?` wildcards, ARNs compared component by component,
//! and CIDR blocks.

use std::net::IpAddr;

/// `*` matches any run of characters (also none), `?` exactly one; nothing else is special.
pub fn wildcard_match(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let eq = |a: char, b: char| {
        if ignore_case {
            a.to_lowercase().eq(b.to_lowercase())
        } else {
            a == b
        }
    };
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && (p[pi] == '?' || eq(p[pi], t[ti])) {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            // Let the last `*` swallow one more character and retry.
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// ArnEquals / ArnLike: both split into their six `:`-separated components (the last keeps its colons), each
/// compared with wildcards, case-sensitively. A value that is not an ARN matches nothing.
pub fn arn_match(pattern: &str, value: &str) -> bool {
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let v: Vec<&str> = value.splitn(6, ':').collect();
    p.len() == 6 && v.len() == 6 && p.iter().zip(&v).all(|(p, v)| wildcard_match(p, v, false))
}

/// A CIDR block (`10.0.0.0/8`, `2001:db8::/32`) or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Self> {
        let (a, p) = s.split_once('/').unwrap_or((s, ""));
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = if p.is_empty() { max } else { p.parse().ok()? };
        (prefix <= max).then_some(Self { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V6(v6)) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            _ => ip,
        };
        let (net, ip, bits) = match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => (u128::from(n.to_bits()), u128::from(i.to_bits()), 32),
            (IpAddr::V6(n), IpAddr::V6(i)) => (n.to_bits(), i.to_bits(), 128),
            _ => return false,
        };
        let shift = bits - u32::from(self.prefix);
        shift >= bits || (net >> shift) == (ip >> shift)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        for (p, t, ci, want) in [
            ("s3:*", "s3:GetObject", false, true),
            ("s3:Get*", "s3:getobject", true, true),
            ("s3:Get*", "s3:getobject", false, false),
            ("s3:?etObject", "s3:GetObject", false, true),
            ("s3:?etObject", "s3:etObject", false, false),
            ("arn:aws:s3:::b/*", "arn:aws:s3:::b/", false, true),
            ("arn:aws:s3:::b/*", "arn:aws:s3:::b", false, false),
            ("arn:aws:s3:::b/*/x*y", "arn:aws:s3:::b/a/b/xzzy", false, true),
            ("*a*b", "xaxxbxb", false, true),
            ("*a*b", "xaxxbxc", false, false),
            ("", "", false, true),
            ("*", "", false, true),
        ] {
            assert_eq!(wildcard_match(p, t, ci), want, "{p} ~ {t}");
        }
    }

    #[test]
    fn arns_by_component() {
        assert!(arn_match(
            "arn:aws:kms:*:111122223333:key/*",
            "arn:aws:kms:us-east-2:111122223333:key/k:1"
        ));
        assert!(!arn_match(
            "arn:aws:kms:*:111122223333:key/*",
            "arn:aws:kms:us-east-2:999:key/k"
        ));
        assert!(!arn_match("arn:aws:kms:*:*:*", "alias/aws/s3"), "not an ARN");
    }

    #[test]
    fn cidr_blocks() {
        let c = Cidr::parse("192.0.2.0/24").unwrap();
        assert!(c.contains("192.0.2.77".parse().unwrap()));
        assert!(!c.contains("192.0.3.1".parse().unwrap()));
        assert!(c.contains("::ffff:192.0.2.1".parse().unwrap()), "v4-mapped");
        let c6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(c6.contains("2001:db8:1::1".parse().unwrap()));
        assert!(!c6.contains("192.0.2.1".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains("8.8.8.8".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.1").unwrap().contains("10.0.0.1".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_none() && Cidr::parse("nope").is_none());
    }
}
