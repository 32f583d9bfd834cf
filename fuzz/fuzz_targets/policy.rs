//! Bucket and identity policies (`src/policy/`): parse any document; when it parses, evaluate it against an
//! arbitrary request (principal, action, resource, condition keys) without panicking.
//!
//! Two input shapes: raw text (JSON the fuzzer mutates, seeded with AWS's documented example policies), and
//! documents assembled here from the policy grammar (operators with `IfExists`/`ForAnyValue:`/`ForAllValues:`,
//! every known condition key, typed values) so that most inputs get past the parser into the evaluator.
//!
//! Properties: parsing is a function of the text (parse of `policy.text` succeeds again); evaluation is
//! deterministic; an explicit Deny wins (appending a deny-everything statement always denies, appending an
//! allow-everything statement never lifts a Deny).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use s3_sse_proxy::policy::{ConditionKeys, Decision, KNOWN_KEYS, Policy, PolicyKind, Principal, Request, evaluate_all};
use serde_json::{Value, json};

const OPERATORS: [&str; 29] = [
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "IpAddress",
    "NotIpAddress",
    "ArnEquals",
    "ArnLike",
    "ArnNotEquals",
    "ArnNotLike",
    "Null",
    "BinaryEquals",
    "StringEqualsAnything",
    "",
];
const MODIFIERS: [(&str, &str); 5] = [
    ("", ""),
    ("", "IfExists"),
    ("ForAnyValue:", ""),
    ("ForAllValues:", ""),
    ("ForAllValues:", "IfExists"),
];
const VALUES: [&str; 24] = [
    "AES256",
    "aws:kms",
    "aws:kms:dsse",
    "true",
    "false",
    "TRUE",
    "10.0.0.0/8",
    "192.0.2.7",
    "2001:db8::/32",
    "::ffff:192.0.2.0/120",
    "arn:aws:kms:us-east-2:111122223333:key/01234567-89ab-cdef-0123-456789abcdef",
    "arn:aws:kms:*:111122223333:key/*",
    "arn:aws:iam::000000000000:user/alice",
    "2023-11-14T22:13:20Z",
    "2023-11-14",
    "1700000000",
    "-1.5e300",
    "*",
    "?",
    "home/${aws:username}/*",
    "REST-QUERY-STRING",
    "UNSIGNED-PAYLOAD",
    "",
    "600000",
];
const ACTIONS: [&str; 10] = [
    "s3:PutObject",
    "s3:GetObject",
    "s3:ListBucket",
    "s3:*",
    "*",
    "s3:Get*",
    "s3:PutBucketPolicy",
    "S3:getobject",
    "s3:?etObject",
    "iam:PassRole",
];
const RESOURCES: [&str; 7] = [
    "arn:aws:s3:::bucket",
    "arn:aws:s3:::bucket/*",
    "arn:aws:s3:::bucket/home/alice/*",
    "*",
    "arn:aws:s3:::*",
    "arn:aws:s3:::b?cket/*",
    "arn:aws:s3:::Bucket/*",
];
const PRINCIPALS: [&str; 5] = [
    "*",
    "000000000000",
    "arn:aws:iam::000000000000:user/alice",
    "arn:aws:iam::000000000000:root",
    "111122223333",
];

#[derive(Debug, Arbitrary)]
enum Text {
    Vocab(u8),
    Free(String),
}

impl Text {
    fn get<'a>(&'a self, vocab: &[&'a str]) -> &'a str {
        match self {
            Text::Vocab(i) => vocab[usize::from(*i) % vocab.len()],
            Text::Free(s) => s,
        }
    }
}

#[derive(Debug, Arbitrary)]
enum Scalar {
    Text(Text),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    fn json(&self) -> Value {
        match self {
            Scalar::Text(t) => json!(t.get(&VALUES)),
            Scalar::Int(i) => json!(i),
            Scalar::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Scalar::Bool(b) => json!(b),
        }
    }
}

#[derive(Debug, Arbitrary)]
struct Cond {
    operator: u8,
    modifier: u8,
    key: Text,
    upper: bool,
    values: Vec<Scalar>,
    list: bool,
}

#[derive(Debug, Arbitrary)]
enum Princ {
    None,
    Star,
    Aws(Vec<Text>),
    Not(Vec<Text>),
    Service(String),
}

#[derive(Debug, Arbitrary)]
struct Stmt {
    sid: Option<u8>,
    deny: bool,
    principal: Princ,
    not_action: bool,
    actions: Vec<Text>,
    not_resource: bool,
    resources: Vec<Text>,
    conditions: Vec<Cond>,
}

#[derive(Debug, Arbitrary)]
struct Ctx {
    user: Text,
    action: Text,
    resource: Text,
    keys: Vec<(Text, Text)>,
}

/// The structured half of the input (after a first byte with bit 0 set).
#[derive(Debug, Arbitrary)]
struct Built {
    version: u8,
    ctx: Ctx,
    statements: Vec<Stmt>,
}

fn one_or_many(items: Vec<Value>) -> Value {
    if items.len() == 1 {
        items.into_iter().next().expect("one")
    } else {
        Value::Array(items)
    }
}

fn build(version: u8, statements: &[Stmt]) -> String {
    let statements: Vec<Value> = statements
        .iter()
        .map(|s| {
            let mut st = serde_json::Map::new();
            if let Some(sid) = s.sid {
                st.insert("Sid".into(), json!(format!("S{}", sid % 4)));
            }
            st.insert("Effect".into(), json!(if s.deny { "Deny" } else { "Allow" }));
            let ids = |v: &[Text]| one_or_many(v.iter().map(|t| json!(t.get(&PRINCIPALS))).collect());
            match &s.principal {
                Princ::None => {}
                Princ::Star => {
                    st.insert("Principal".into(), json!("*"));
                }
                Princ::Aws(v) => {
                    st.insert("Principal".into(), json!({ "AWS": ids(v) }));
                }
                Princ::Not(v) => {
                    st.insert("NotPrincipal".into(), json!({ "AWS": ids(v) }));
                }
                Princ::Service(v) => {
                    st.insert("Principal".into(), json!({ "Service": v }));
                }
            }
            let actions = one_or_many(s.actions.iter().map(|t| json!(t.get(&ACTIONS))).collect());
            st.insert((if s.not_action { "NotAction" } else { "Action" }).into(), actions);
            let resources = one_or_many(s.resources.iter().map(|t| json!(t.get(&RESOURCES))).collect());
            st.insert(
                (if s.not_resource { "NotResource" } else { "Resource" }).into(),
                resources,
            );
            if !s.conditions.is_empty() {
                let mut block = serde_json::Map::new();
                for c in &s.conditions {
                    let (set, suffix) = MODIFIERS[usize::from(c.modifier) % MODIFIERS.len()];
                    let op = format!("{set}{}{suffix}", OPERATORS[usize::from(c.operator) % OPERATORS.len()]);
                    let mut key = c.key.get(KNOWN_KEYS).to_owned();
                    if c.upper {
                        key = key.to_ascii_uppercase();
                    }
                    let values: Vec<Value> = c.values.iter().map(Scalar::json).collect();
                    let values = if c.list {
                        Value::Array(values)
                    } else {
                        one_or_many(values)
                    };
                    let entry = block.entry(op).or_insert_with(|| json!({}));
                    if let Value::Object(m) = entry {
                        m.insert(key, values);
                    }
                }
                st.insert("Condition".into(), Value::Object(block));
            }
            Value::Object(st)
        })
        .collect();
    let mut doc = serde_json::Map::new();
    match version % 3 {
        0 => {
            doc.insert("Version".into(), json!("2012-10-17"));
        }
        1 => {
            doc.insert("Version".into(), json!("2008-10-17"));
        }
        _ => {}
    }
    doc.insert("Statement".into(), one_or_many(statements));
    Value::Object(doc).to_string()
}

fn check(text: &str, kind: PolicyKind, ctx: &Ctx) {
    let Ok(policy) = Policy::parse(text, kind) else {
        return;
    };
    assert!(Policy::parse(&policy.text, kind).is_ok());
    let principal = Principal::user("000000000000", ctx.user.get(&["alice", "bob", ""]));
    let mut keys = ConditionKeys::default();
    for (k, v) in &ctx.keys {
        keys.set(k.get(KNOWN_KEYS), v.get(&VALUES));
    }
    let action = ctx.action.get(&ACTIONS);
    let req = Request {
        principal: &principal,
        action,
        resource: ctx.resource.get(&RESOURCES),
        keys: &keys,
    };
    let decision = policy.evaluate(&req);
    assert_eq!(policy.evaluate(&req), decision, "evaluation is deterministic");
    let _ = (policy.is_public(), policy.may_deny(&principal, action));

    let extra = |effect: &str| {
        let statement = match kind {
            PolicyKind::Bucket => json!({"Effect": effect, "Principal": "*", "Action": "*", "Resource": "*"}),
            PolicyKind::Identity => json!({"Effect": effect, "Action": "*", "Resource": "*"}),
        };
        Policy::parse(
            &json!({"Version": "2012-10-17", "Statement": [statement]}).to_string(),
            kind,
        )
        .expect("valid")
    };
    let deny_all = extra("Deny");
    assert!(matches!(evaluate_all([&policy, &deny_all], &req), Decision::Deny(_)));
    let allow_all = extra("Allow");
    let with_allow = evaluate_all([&policy, &allow_all], &req);
    match &decision {
        Decision::Deny(_) | Decision::Allow(_) => assert_eq!(with_allow, decision),
        Decision::NoDecision => assert_eq!(with_allow, Decision::Allow(None)),
    }
}

/// Requests a raw-text policy is evaluated against: the AWS examples' cases (upload with and without SSE, SSE-KMS
/// with a key, SSE-C, plain HTTP, a listing).
fn canned() -> Vec<Ctx> {
    let ctx = |action: u8, resource: u8, keys: &[(&str, &str)]| Ctx {
        user: Text::Vocab(0),
        action: Text::Vocab(action),
        resource: Text::Vocab(resource),
        keys: keys
            .iter()
            .map(|(k, v)| (Text::Free((*k).into()), Text::Free((*v).into())))
            .collect(),
    };
    vec![
        ctx(0, 1, &[("aws:securetransport", "true"), ("aws:sourceip", "192.0.2.7")]),
        ctx(
            0,
            1,
            &[
                ("s3:x-amz-server-side-encryption", "AES256"),
                ("aws:securetransport", "true"),
            ],
        ),
        ctx(
            0,
            2,
            &[
                ("s3:x-amz-server-side-encryption", "aws:kms"),
                ("s3:x-amz-server-side-encryption-aws-kms-key-id", VALUES[10]),
            ],
        ),
        ctx(
            0,
            1,
            &[("s3:x-amz-server-side-encryption-customer-algorithm", "AES256")],
        ),
        ctx(
            1,
            1,
            &[
                ("aws:securetransport", "false"),
                ("aws:currenttime", "2023-11-14T22:13:20Z"),
            ],
        ),
        ctx(
            2,
            0,
            &[
                ("s3:prefix", "home/alice/"),
                ("s3:max-keys", "10"),
                ("aws:epochtime", "1700000000"),
            ],
        ),
    ]
}

// Input: a first byte `f`. Bit 0 clear: the rest is a policy document (so a seed file is one byte and a policy),
// evaluated against the `canned` requests. Bit 0 set: the rest is a `Built`. Bit 1: an identity policy.
fuzz_target!(|data: &[u8]| {
    let Some((&f, rest)) = data.split_first() else {
        return;
    };
    let kind = if f & 2 != 0 {
        PolicyKind::Identity
    } else {
        PolicyKind::Bucket
    };
    if f & 1 == 0 {
        let Ok(text) = std::str::from_utf8(rest) else {
            return;
        };
        for ctx in canned() {
            check(text, kind, &ctx);
        }
    } else if let Ok(b) = Built::arbitrary_take_rest(arbitrary::Unstructured::new(rest)) {
        check(&build(b.version, &b.statements), kind, &b.ctx);
    }
});
