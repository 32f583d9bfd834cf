//! The `Condition` element: operators, `…IfExists`, `ForAnyValue:`/`ForAllValues:`, and AWS's rules for keys the
//! request does not have (IAM User Guide, "IAM JSON policy elements: Condition operators"): a key absent from the
//! request makes a condition false, except for negated operators (`StringNotEquals`, `ArnNotLike`, …: true),
//! `…IfExists` (true), `Null` (which tests exactly that) and `ForAllValues:` (true).

use serde_json::Value;
use time::OffsetDateTime;

use super::matching::{Cidr, arn_match, wildcard_match};
use super::{ConditionKeys, PolicyError, err};

/// The condition keys the gateway sets on requests (lowercase). A policy naming another key is refused.
pub const KNOWN_KEYS: &[&str] = &[
    "s3:x-amz-server-side-encryption",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "s3:x-amz-server-side-encryption-customer-algorithm",
    "s3:x-amz-content-sha256",
    "s3:x-amz-acl",
    "s3:x-amz-copy-source",
    "s3:x-amz-metadata-directive",
    "s3:if-none-match",
    "s3:if-match",
    "s3:prefix",
    "s3:delimiter",
    "s3:max-keys",
    "s3:versionid",
    "s3:signatureage",
    "s3:authtype",
    "s3:signatureversion",
    "aws:securetransport",
    "aws:sourceip",
    "aws:username",
    "aws:userid",
    "aws:principalarn",
    "aws:principalaccount",
    "aws:principaltype",
    "aws:currenttime",
    "aws:epochtime",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String { ignore_case: bool, like: bool },
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    Ip,
    Arn,
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    AnyValue,
    AllValues,
}

/// A policy value, parsed once for its operator.
#[derive(Debug, Clone)]
enum Operand {
    Text(String),
    Number(f64),
    Time(i128),
    Cidr(Cidr),
}

/// One key under one operator: `"StringNotEquals": {"s3:x-amz-server-side-encryption": "AES256"}`.
#[derive(Debug, Clone)]
pub(super) struct Condition {
    kind: Kind,
    negated: bool,
    if_exists: bool,
    set: Option<SetOp>,
    key: String,
    values: Vec<Operand>,
}

fn operator(name: &str) -> Option<(Kind, bool)> {
    use Cmp::*;
    let s = |ignore_case, like| Kind::String { ignore_case, like };
    Some(match name {
        "StringEquals" => (s(false, false), false),
        "StringNotEquals" => (s(false, false), true),
        "StringEqualsIgnoreCase" => (s(true, false), false),
        "StringNotEqualsIgnoreCase" => (s(true, false), true),
        "StringLike" => (s(false, true), false),
        "StringNotLike" => (s(false, true), true),
        "NumericEquals" => (Kind::Numeric(Eq), false),
        "NumericNotEquals" => (Kind::Numeric(Eq), true),
        "NumericLessThan" => (Kind::Numeric(Lt), false),
        "NumericLessThanEquals" => (Kind::Numeric(Le), false),
        "NumericGreaterThan" => (Kind::Numeric(Gt), false),
        "NumericGreaterThanEquals" => (Kind::Numeric(Ge), false),
        "DateEquals" => (Kind::Date(Eq), false),
        "DateNotEquals" => (Kind::Date(Eq), true),
        "DateLessThan" => (Kind::Date(Lt), false),
        "DateLessThanEquals" => (Kind::Date(Le), false),
        "DateGreaterThan" => (Kind::Date(Gt), false),
        "DateGreaterThanEquals" => (Kind::Date(Ge), false),
        "Bool" => (Kind::Bool, false),
        "IpAddress" => (Kind::Ip, false),
        "NotIpAddress" => (Kind::Ip, true),
        "ArnEquals" | "ArnLike" => (Kind::Arn, false),
        "ArnNotEquals" | "ArnNotLike" => (Kind::Arn, true),
        "Null" => (Kind::Null, false),
        _ => return None,
    })
}

/// The whole `Condition` object: every operator, every key (all must hold).
pub(super) fn parse_block(v: &Value, variables: bool) -> Result<Vec<Condition>, PolicyError> {
    let Value::Object(ops) = v else {
        return err("must be an object");
    };
    let mut out = Vec::new();
    for (full, keys) in ops {
        let (set, rest) = match full.split_once(':') {
            Some(("ForAnyValue", r)) => (Some(SetOp::AnyValue), r),
            Some(("ForAllValues", r)) => (Some(SetOp::AllValues), r),
            Some(_) => return err(format!("{full}: unsupported set operator")),
            None => (None, full.as_str()),
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(b) => (b, true),
            None => (rest, false),
        };
        let (kind, negated) =
            operator(base).ok_or_else(|| PolicyError(format!("{full}: unsupported condition operator")))?;
        if kind == Kind::Null && (if_exists || set.is_some()) {
            return err(format!("{full}: unsupported condition operator"));
        }
        let Value::Object(keys) = keys else {
            return err(format!("{full}: must be an object of condition keys"));
        };
        if keys.is_empty() {
            return err(format!("{full}: no condition keys"));
        }
        for (key, values) in keys {
            let lower = key.to_ascii_lowercase();
            if lower.starts_with("s3:existingobjecttag/") {
                return err(format!(
                    "{full}.{key}: s3:ExistingObjectTag is not supported (the gateway does not read object tags \
                     to evaluate policies)"
                ));
            }
            if !KNOWN_KEYS.contains(&lower.as_str()) {
                return err(format!("{full}.{key}: unsupported condition key"));
            }
            let raw = scalars(values)
                .ok_or_else(|| PolicyError(format!("{full}.{key}: values must be strings, numbers or booleans")))?;
            if raw.is_empty() {
                return err(format!("{full}.{key}: no values"));
            }
            let values = raw
                .iter()
                .map(|r| {
                    if variables && r.contains("${") {
                        return err(format!("{full}.{key}: policy variables ({r:?}) are not supported"));
                    }
                    operand(kind, r).ok_or_else(|| PolicyError(format!("{full}.{key}: {r:?} is not a valid value")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            out.push(Condition {
                kind,
                negated,
                if_exists,
                set,
                key: lower,
                values,
            });
        }
    }
    Ok(out)
}

fn scalars(v: &Value) -> Option<Vec<String>> {
    let one = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match v {
        Value::Array(a) => a.iter().map(one).collect(),
        v => one(v).map(|s| vec![s]),
    }
}

fn operand(kind: Kind, raw: &str) -> Option<Operand> {
    Some(match kind {
        Kind::Numeric(_) => Operand::Number(raw.parse().ok()?),
        Kind::Date(_) => Operand::Time(parse_time(raw)?),
        Kind::Ip => Operand::Cidr(Cidr::parse(raw)?),
        Kind::Bool | Kind::Null => {
            let b = raw.to_ascii_lowercase();
            if b != "true" && b != "false" {
                return None;
            }
            Operand::Text(b)
        }
        Kind::String { .. } | Kind::Arn => Operand::Text(raw.to_owned()),
    })
}

/// ISO 8601 (RFC 3339, or a bare date) or epoch seconds → Unix nanoseconds.
fn parse_time(raw: &str) -> Option<i128> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(secs) = raw.parse::<i64>() {
        return Some(i128::from(secs) * 1_000_000_000);
    }
    if let Ok(t) = OffsetDateTime::parse(raw, &Rfc3339) {
        return Some(t.unix_timestamp_nanos());
    }
    let d = time::Date::parse(raw, time::macros::format_description!("[year]-[month]-[day]")).ok()?;
    Some(d.midnight().assume_utc().unix_timestamp_nanos())
}

impl Condition {
    pub(super) fn holds(&self, keys: &ConditionKeys) -> bool {
        let present = keys.get(&self.key).filter(|v| !v.is_empty());
        if self.kind == Kind::Null {
            let want_absent = matches!(&self.values[0], Operand::Text(t) if t == "true");
            return present.is_none() == want_absent;
        }
        let Some(values) = present else {
            return match self.set {
                Some(SetOp::AllValues) => true,
                Some(SetOp::AnyValue) => self.if_exists,
                None => self.if_exists || self.negated,
            };
        };
        // Negated operators: a request value passes when it matches none of the policy's values.
        let passes = |v: &String| self.values.iter().any(|p| self.matches(p, v)) != self.negated;
        match self.set {
            Some(SetOp::AllValues) => values.iter().all(passes),
            Some(SetOp::AnyValue) | None => values.iter().any(passes),
        }
    }

    fn matches(&self, policy: &Operand, value: &str) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        let cmp = |c: Cmp, o: Option<std::cmp::Ordering>| match (c, o) {
            (_, None) => false,
            (Cmp::Eq, Some(o)) => o == Equal,
            (Cmp::Lt, Some(o)) => o == Less,
            (Cmp::Le, Some(o)) => o != Greater,
            (Cmp::Gt, Some(o)) => o == Greater,
            (Cmp::Ge, Some(o)) => o != Less,
        };
        match (self.kind, policy) {
            (Kind::String { ignore_case, like }, Operand::Text(p)) => {
                if like {
                    wildcard_match(p, value, false)
                } else if ignore_case {
                    p.to_lowercase() == value.to_lowercase()
                } else {
                    p == value
                }
            }
            (Kind::Numeric(c), Operand::Number(p)) => value.parse::<f64>().is_ok_and(|v| cmp(c, v.partial_cmp(p))),
            (Kind::Date(c), Operand::Time(p)) => parse_time(value).is_some_and(|v| cmp(c, Some(v.cmp(p)))),
            (Kind::Bool, Operand::Text(p)) => value.eq_ignore_ascii_case(p),
            (Kind::Ip, Operand::Cidr(c)) => value.parse().is_ok_and(|ip| c.contains(ip)),
            (Kind::Arn, Operand::Text(p)) => arn_match(p, value),
            _ => false,
        }
    }

    /// For the "public" test: a positive, non-wildcard condition on who or where the caller is.
    pub(super) fn restricts_caller(&self) -> bool {
        const CALLER: [&str; 5] = [
            "aws:sourceip",
            "aws:principalarn",
            "aws:principalaccount",
            "aws:userid",
            "aws:username",
        ];
        let fixed = self.values.iter().all(|v| match v {
            Operand::Text(t) => !t.contains(['*', '?']),
            Operand::Cidr(_) => true,
            _ => false,
        });
        CALLER.contains(&self.key.as_str())
            && !self.negated
            && !self.if_exists
            && self.set.is_none()
            && fixed
            && !matches!(self.kind, Kind::Null)
            && !self.values.iter().any(|v| matches!(v, Operand::Cidr(c) if *c == Cidr::parse("0.0.0.0/0").expect("static") || *c == Cidr::parse("::/0").expect("static")))
    }
}
