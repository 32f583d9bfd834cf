//! Bucket policies and identity policies in AWS's JSON policy language: parse (validate) and evaluate. Pure: no
//! I/O, no clock (the caller puts the time in the request's condition keys).
//!
//! A policy is either evaluated completely or refused when parsed: an element, operator or condition key this
//! module cannot evaluate is a [`PolicyError`] naming it, never a statement that is silently skipped.
//!
//! Evaluation follows AWS: an explicit `Deny` in any matching statement wins; otherwise a matching `Allow` allows;
//! otherwise there is no decision and the credential's own permissions decide.

pub mod actions;
mod condition;
pub mod context;
mod matching;

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use condition::Condition;
pub use condition::KNOWN_KEYS;
pub use matching::wildcard_match;

/// AWS's size limit for a bucket policy document.
pub const MAX_POLICY_BYTES: usize = 20 * 1024;

/// Why a policy was refused; the message names the element (`Statement[1].Condition.StringLike`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, PolicyError> {
    Err(PolicyError(msg.into()))
}

/// Where a policy is attached: a bucket policy names its principals; an identity policy must not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    Bucket,
    Identity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// Who a request comes from, as policies name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// `arn:aws:iam::<account>:user/<name>`; `anonymous` for a request without credentials.
    pub arn: String,
    pub account: String,
    /// A request without credentials: only `"*"` (everyone) names it.
    pub anonymous: bool,
}

impl Principal {
    /// The principal of a gateway credential: `arn:aws:iam::<account_id>:user/<name>`.
    pub fn user(account_id: &str, name: &str) -> Self {
        Self {
            arn: format!("arn:aws:iam::{account_id}:user/{name}"),
            account: account_id.to_owned(),
            anonymous: false,
        }
    }

    /// The principal of a request that carries no credentials.
    pub fn anonymous() -> Self {
        Self {
            arn: "anonymous".to_owned(),
            account: String::new(),
            anonymous: true,
        }
    }
}

/// One request as the evaluator sees it. Condition keys are looked up case-insensitively (stored lowercase).
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub principal: &'a Principal,
    pub action: &'a str,
    pub resource: &'a str,
    pub keys: &'a ConditionKeys,
}

/// The request's condition keys: lowercase name → values (one for every key the gateway knows today).
#[derive(Debug, Clone, Default)]
pub struct ConditionKeys(HashMap<String, Vec<String>>);

impl ConditionKeys {
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.0.insert(name.to_ascii_lowercase(), vec![value.into()]);
    }
    pub fn get(&self, name: &str) -> Option<&[String]> {
        self.0.get(&name.to_ascii_lowercase()).map(Vec::as_slice)
    }
}

/// The outcome of evaluating one or several policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// An explicit Deny; the deciding statement's Sid, if it has one.
    Deny(Option<String>),
    Allow(Option<String>),
    /// No statement applies.
    NoDecision,
}

/// A parsed, validated policy; `text` is the document as it was given (GetBucketPolicy returns it).
#[derive(Debug, Clone)]
pub struct Policy {
    pub text: String,
    statements: Vec<Statement>,
}

#[derive(Debug, Clone)]
struct Statement {
    sid: Option<String>,
    effect: Effect,
    principal: PrincipalMatch,
    action: Patterns,
    resource: Patterns,
    conditions: Vec<Condition>,
}

#[derive(Debug, Clone)]
enum PrincipalMatch {
    /// Identity policies: the principal is the credential the policy is attached to.
    Attached,
    Principal(Vec<String>),
    NotPrincipal(Vec<String>),
}

/// `Action`/`Resource` (or their `Not` forms): wildcard patterns.
#[derive(Debug, Clone)]
struct Patterns {
    not: bool,
    patterns: Vec<String>,
}

impl Patterns {
    fn matches(&self, value: &str, ignore_case: bool) -> bool {
        self.patterns.iter().any(|p| wildcard_match(p, value, ignore_case)) != self.not
    }
}

impl Policy {
    pub fn parse(text: &str, kind: PolicyKind) -> Result<Self, PolicyError> {
        if text.len() > MAX_POLICY_BYTES {
            return err(format!("Policy: larger than {MAX_POLICY_BYTES} bytes"));
        }
        let doc: Value = serde_json::from_str(text).map_err(|e| PolicyError(format!("Policy: not JSON ({e})")))?;
        let Value::Object(doc) = doc else {
            return err("Policy: not a JSON object");
        };
        for k in doc.keys() {
            if !["Version", "Id", "Statement"].contains(&k.as_str()) {
                return err(format!("{k}: unknown policy element"));
            }
        }
        // Without Version, AWS reads a policy as 2008-10-17, where `${…}` is literal text.
        let variables = match doc.get("Version") {
            None => false,
            Some(Value::String(v)) if v == "2012-10-17" => true,
            Some(Value::String(v)) if v == "2008-10-17" => false,
            Some(v) => return err(format!("Version: unsupported version {v}")),
        };
        if let Some(id) = doc.get("Id")
            && !id.is_string()
        {
            return err("Id: must be a string");
        }
        let statements = match doc.get("Statement") {
            Some(Value::Array(a)) if !a.is_empty() => a.iter().collect::<Vec<_>>(),
            Some(s @ Value::Object(_)) => vec![s],
            _ => return err("Statement: missing or empty"),
        };
        let mut sids = HashSet::new();
        let statements = statements
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                let st =
                    Statement::parse(s, kind, variables).map_err(|e| PolicyError(format!("Statement[{i}].{}", e.0)))?;
                if let Some(sid) = &st.sid
                    && !sids.insert(sid.clone())
                {
                    return err(format!("Statement[{i}].Sid: duplicate Sid {sid:?}"));
                }
                Ok(st)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            text: text.to_owned(),
            statements,
        })
    }

    /// Evaluate one policy: Deny wins over Allow; no matching statement is no decision.
    pub fn evaluate(&self, req: &Request<'_>) -> Decision {
        evaluate_all([self], req)
    }

    /// AWS's "public" test, simplified (see README "Bucket policies"): some Allow statement applies to every
    /// principal (`"*"`, `{"AWS": "*"}` or `NotPrincipal`) and none of its conditions pins the caller down with a
    /// fixed value of `aws:SourceIp`, `aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:userid` or `aws:username`.
    pub fn is_public(&self) -> bool {
        self.statements.iter().any(|s| {
            let everyone = match &s.principal {
                PrincipalMatch::Attached => false,
                PrincipalMatch::Principal(p) => p.iter().any(|p| p == "*"),
                PrincipalMatch::NotPrincipal(_) => true,
            };
            s.effect == Effect::Allow && everyone && !s.conditions.iter().any(Condition::restricts_caller)
        })
    }

    /// The first `Resource`/`NotResource` pattern that can name nothing in `bucket` (neither the bucket's ARN
    /// nor an object ARN in it): S3 refuses such a bucket policy with "Policy has invalid resource".
    pub fn foreign_resource(&self, bucket: &str) -> Option<&str> {
        self.statements
            .iter()
            .flat_map(|s| s.resource.patterns.iter())
            .find(|p| {
                let Some(rest) = p.strip_prefix("arn:aws:s3:::") else {
                    return p.as_str() != "*";
                };
                let bucket_part = rest.split_once('/').map_or(rest, |(b, _)| b);
                // `arn:aws:s3:::*` and `arn:aws:s3:::bu*` can name the bucket; so can `arn:aws:s3:::b*/x`.
                !(wildcard_match(bucket_part, bucket, false) || wildcard_match(rest, bucket, false))
            })
            .map(String::as_str)
    }

    /// Whether some Deny statement could apply to `action` by `principal` on some object of any bucket (its
    /// resource and conditions not considered): for requests whose objects are not known before the body is read.
    pub fn may_deny(&self, principal: &Principal, action: &str) -> Option<Option<String>> {
        self.statements
            .iter()
            .find(|s| s.effect == Effect::Deny && s.principal_matches(principal) && s.action.matches(action, true))
            .map(|s| s.sid.clone())
    }
}

/// Evaluate several policies as one (bucket policy + pinned policies): any Deny wins, then any Allow.
pub fn evaluate_all<'p>(policies: impl IntoIterator<Item = &'p Policy>, req: &Request<'_>) -> Decision {
    let mut allow = None;
    for p in policies {
        for s in &p.statements {
            if !s.applies(req) {
                continue;
            }
            match s.effect {
                Effect::Deny => return Decision::Deny(s.sid.clone()),
                Effect::Allow => {
                    if allow.is_none() {
                        allow = Some(s.sid.clone());
                    }
                }
            }
        }
    }
    allow.map_or(Decision::NoDecision, Decision::Allow)
}

impl Statement {
    fn parse(v: &Value, kind: PolicyKind, variables: bool) -> Result<Self, PolicyError> {
        let Value::Object(s) = v else {
            return err("not a JSON object");
        };
        const ELEMENTS: [&str; 9] = [
            "Sid",
            "Effect",
            "Principal",
            "NotPrincipal",
            "Action",
            "NotAction",
            "Resource",
            "NotResource",
            "Condition",
        ];
        for k in s.keys() {
            if !ELEMENTS.contains(&k.as_str()) {
                return err(format!("{k}: unknown statement element"));
            }
        }
        let sid = match s.get("Sid") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return err("Sid: must be a string"),
        };
        let effect = match s.get("Effect").and_then(Value::as_str) {
            Some("Allow") => Effect::Allow,
            Some("Deny") => Effect::Deny,
            _ => return err("Effect: must be \"Allow\" or \"Deny\""),
        };
        let principal = match (kind, s.get("Principal"), s.get("NotPrincipal")) {
            (PolicyKind::Identity, None, None) => PrincipalMatch::Attached,
            (PolicyKind::Identity, _, _) => return err("Principal: not allowed in an identity policy"),
            (PolicyKind::Bucket, Some(p), None) => PrincipalMatch::Principal(parse_principal(p, "Principal")?),
            (PolicyKind::Bucket, None, Some(p)) => PrincipalMatch::NotPrincipal(parse_principal(p, "NotPrincipal")?),
            (PolicyKind::Bucket, None, None) => return err("Principal: missing"),
            (PolicyKind::Bucket, Some(_), Some(_)) => return err("NotPrincipal: cannot be combined with Principal"),
        };
        let action = patterns(s, "Action", "NotAction")?;
        for p in &action.patterns {
            if p != "*" && !p.to_ascii_lowercase().starts_with("s3:") {
                return err(format!("Action: {p:?} is not an S3 action"));
            }
        }
        let resource = patterns(s, "Resource", "NotResource")?;
        let name = if resource.not { "NotResource" } else { "Resource" };
        for p in &resource.patterns {
            if p != "*" && !p.starts_with("arn:aws:s3:::") {
                return err(format!("{name}: {p:?} is not an S3 resource ARN"));
            }
            if variables && p.contains("${") {
                return err(format!("{name}: policy variables ({p:?}) are not supported"));
            }
        }
        let conditions = match s.get("Condition") {
            None => Vec::new(),
            Some(c) => condition::parse_block(c, variables).map_err(|e| PolicyError(format!("Condition.{}", e.0)))?,
        };
        Ok(Self {
            sid,
            effect,
            principal,
            action,
            resource,
            conditions,
        })
    }

    fn principal_matches(&self, p: &Principal) -> bool {
        let named = |list: &[String]| {
            list.iter().any(|n| {
                n == "*"
                    || (!p.anonymous
                        && (*n == p.arn || *n == p.account || *n == format!("arn:aws:iam::{}:root", p.account)))
            })
        };
        match &self.principal {
            PrincipalMatch::Attached => true,
            PrincipalMatch::Principal(list) => named(list),
            PrincipalMatch::NotPrincipal(list) => !named(list),
        }
    }

    fn applies(&self, req: &Request<'_>) -> bool {
        self.principal_matches(req.principal)
            && self.action.matches(req.action, true)
            && self.resource.matches(req.resource, false)
            && self.conditions.iter().all(|c| c.holds(req.keys))
    }
}

/// `"*"`, `{"AWS": "*" | id | [ids]}`; other principal types have no meaning at the gateway and are refused.
fn parse_principal(v: &Value, name: &str) -> Result<Vec<String>, PolicyError> {
    match v {
        Value::String(s) if s == "*" => Ok(vec!["*".to_owned()]),
        Value::String(s) => err(format!("{name}: {s:?} must be \"*\" or {{\"AWS\": …}}")),
        Value::Object(m) => {
            let mut out = Vec::new();
            for (k, v) in m {
                if k != "AWS" {
                    return err(format!("{name}.{k}: principal type not supported (only AWS)"));
                }
                for id in strings(v).ok_or_else(|| PolicyError(format!("{name}.AWS: must be a string or list")))? {
                    let ok = id == "*"
                        || (id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()))
                        || id.starts_with("arn:aws:iam::");
                    if !ok || (id != "*" && id.contains(['*', '?'])) {
                        return err(format!("{name}.AWS: {id:?} is not \"*\", an account id or an IAM ARN"));
                    }
                    out.push(id);
                }
            }
            if out.is_empty() {
                return err(format!("{name}: empty"));
            }
            Ok(out)
        }
        _ => err(format!("{name}: must be \"*\" or an object")),
    }
}

fn patterns(s: &serde_json::Map<String, Value>, yes: &str, not: &str) -> Result<Patterns, PolicyError> {
    let (v, name, negated) = match (s.get(yes), s.get(not)) {
        (Some(v), None) => (v, yes, false),
        (None, Some(v)) => (v, not, true),
        (None, None) => return err(format!("{yes}: missing")),
        (Some(_), Some(_)) => return err(format!("{not}: cannot be combined with {yes}")),
    };
    match strings(v) {
        Some(p) if !p.is_empty() && p.iter().all(|p| !p.is_empty()) => Ok(Patterns {
            not: negated,
            patterns: p,
        }),
        _ => err(format!("{name}: must be a non-empty string or list of strings")),
    }
}

/// A string or a list of strings.
fn strings(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(a) => a.iter().map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
