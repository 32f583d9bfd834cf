//! The evaluator against a table of (policy, request) → decision: AWS's documented examples (the fixtures in
//! `tests/fixtures/policies/`, verbatim) and AWS's documented rules for operators and absent keys.

use super::*;

const KMS_KEY: &str = "arn:aws:kms:us-east-2:111122223333:key/01234567-89ab-cdef-0123-456789abcdef";

fn fixture(name: &str) -> Policy {
    let path = format!("{}/tests/fixtures/policies/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    Policy::parse(&text, PolicyKind::Bucket).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn principal() -> Principal {
    Principal::user("000000000000", "alice")
}

/// Evaluate `policy` for `action` on `resource` with the given condition keys.
fn decide(policy: &Policy, action: &str, resource: &str, keys: &[(&str, &str)]) -> Decision {
    let mut k = ConditionKeys::default();
    for (n, v) in keys {
        k.set(n, *v);
    }
    let p = principal();
    policy.evaluate(&Request {
        principal: &p,
        action,
        resource,
        keys: &k,
    })
}

fn deny(sid: &str) -> Decision {
    Decision::Deny(Some(sid.to_owned()))
}

const SSE: &str = "s3:x-amz-server-side-encryption";
const OBJECT: &str = "arn:aws:s3:::DOC-EXAMPLE-BUCKET/photos/a.jpg";

#[test]
fn aws_put_obj_policy_requires_aes256_on_uploads() {
    let p = fixture("put-obj-policy-aes256.json");
    // No header: both statements apply (StringNotEquals on an absent key is true); the first decides.
    assert_eq!(
        decide(&p, "s3:PutObject", OBJECT, &[]),
        deny("DenyIncorrectEncryptionHeader")
    );
    assert_eq!(
        decide(&p, "s3:PutObject", OBJECT, &[(SSE, "aws:kms")]),
        deny("DenyIncorrectEncryptionHeader")
    );
    assert_eq!(
        decide(&p, "s3:PutObject", OBJECT, &[(SSE, "AES256")]),
        Decision::NoDecision
    );
    // StringNotEquals is case-sensitive.
    assert_eq!(
        decide(&p, "s3:PutObject", OBJECT, &[(SSE, "aes256")]),
        deny("DenyIncorrectEncryptionHeader")
    );
    // Other actions and other buckets are not concerned.
    assert_eq!(decide(&p, "s3:GetObject", OBJECT, &[]), Decision::NoDecision);
    assert_eq!(
        decide(&p, "s3:PutObject", "arn:aws:s3:::other/a.jpg", &[]),
        Decision::NoDecision
    );
    // The bucket itself is not `bucket/*`.
    assert_eq!(
        decide(&p, "s3:PutObject", "arn:aws:s3:::DOC-EXAMPLE-BUCKET", &[]),
        Decision::NoDecision
    );
    // Action names are case-insensitive.
    assert_eq!(
        decide(&p, "S3:PUTOBJECT", OBJECT, &[]),
        deny("DenyIncorrectEncryptionHeader")
    );
}

#[test]
fn aws_deny_unencrypted_uploads_tests_presence_only() {
    let p = fixture("deny-unencrypted-object-uploads.json");
    assert_eq!(
        decide(&p, "s3:PutObject", OBJECT, &[]),
        deny("DenyUnEncryptedObjectUploads")
    );
    assert_eq!(
        decide(&p, "s3:PutObject", OBJECT, &[(SSE, "AES256")]),
        Decision::NoDecision
    );
    assert_eq!(
        decide(&p, "s3:PutObject", OBJECT, &[(SSE, "aws:kms")]),
        Decision::NoDecision
    );
}

#[test]
fn aws_require_sse_kms_with_one_key() {
    let p = fixture("require-sse-kms-specific-key.json");
    let sid = deny("DenyObjectsThatAreNotSSEKMSWithSpecificKey");
    let key = "s3:x-amz-server-side-encryption-aws-kms-key-id";
    assert_eq!(
        decide(&p, "s3:PutObject", OBJECT, &[(SSE, "aws:kms"), (key, KMS_KEY)]),
        Decision::NoDecision
    );
    let other = "arn:aws:kms:us-east-2:111122223333:key/ffffffff-89ab-cdef-0123-456789abcdef";
    assert_eq!(
        decide(&p, "s3:PutObject", OBJECT, &[(SSE, "aws:kms"), (key, other)]),
        sid
    );
    // Not an ARN (a bare id or an alias): ArnNotEquals holds, so denied.
    assert_eq!(
        decide(&p, "s3:PutObject", OBJECT, &[(SSE, "aws:kms"), (key, "alias/aws/s3")]),
        sid
    );
    // ...IfExists: no key id header at all is also denied (the condition is true when the key is absent).
    assert_eq!(decide(&p, "s3:PutObject", OBJECT, &[(SSE, "aws:kms")]), sid);
    assert_eq!(decide(&p, "s3:PutObject", OBJECT, &[]), sid);
}

#[test]
fn aws_allow_ssl_requests_only() {
    let p = fixture("allow-ssl-requests-only.json");
    let tls = ("aws:SecureTransport", "true");
    let plain = ("aws:SecureTransport", "false");
    for (action, resource) in [
        ("s3:GetObject", OBJECT),
        ("s3:ListBucket", "arn:aws:s3:::DOC-EXAMPLE-BUCKET"),
        ("s3:PutBucketPolicy", "arn:aws:s3:::DOC-EXAMPLE-BUCKET"),
    ] {
        assert_eq!(decide(&p, action, resource, &[tls]), Decision::NoDecision);
        assert_eq!(decide(&p, action, resource, &[plain]), deny("AllowSSLRequestsOnly"));
    }
    // Bool is case-insensitive in its value.
    assert_eq!(
        decide(&p, "s3:GetObject", OBJECT, &[("aws:securetransport", "FALSE")]),
        deny("AllowSSLRequestsOnly")
    );
}

#[test]
fn aws_deny_sse_c_uploads() {
    let p = fixture("deny-sse-c.json");
    let alg = "s3:x-amz-server-side-encryption-customer-algorithm";
    assert_eq!(
        decide(&p, "s3:PutObject", OBJECT, &[(alg, "AES256")]),
        deny("RestrictSSECObjectUploads")
    );
    assert_eq!(
        decide(&p, "s3:PutObject", OBJECT, &[(SSE, "AES256")]),
        Decision::NoDecision
    );
    assert_eq!(decide(&p, "s3:PutObject", OBJECT, &[]), Decision::NoDecision);
    assert_eq!(
        decide(&p, "s3:GetObject", OBJECT, &[(alg, "AES256")]),
        Decision::NoDecision
    );
}

fn policy(statements: &str) -> Policy {
    let text = format!(r#"{{"Version": "2012-10-17", "Statement": [{statements}]}}"#);
    Policy::parse(&text, PolicyKind::Bucket).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn with_condition(effect: &str, condition: &str) -> Policy {
    policy(&format!(
        r#"{{"Sid": "S", "Effect": "{effect}", "Principal": "*", "Action": "s3:*", "Resource": "*",
             "Condition": {condition}}}"#
    ))
}

/// (condition, request keys, does the condition hold)
#[test]
fn operators_and_absent_keys_follow_aws() {
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], bool);
    let cases: &[Case] = &[
        // Absent keys: false for positive operators, true for negated ones, true for IfExists.
        (r#"{"StringEquals": {"s3:prefix": "a"}}"#, &[], false),
        (r#"{"StringNotEquals": {"s3:prefix": "a"}}"#, &[], true),
        (r#"{"StringNotLike": {"s3:prefix": "a*"}}"#, &[], true),
        (
            r#"{"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/x"}}"#,
            &[],
            true,
        ),
        (r#"{"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}"#, &[], true),
        (r#"{"StringEqualsIfExists": {"s3:prefix": "a"}}"#, &[], true),
        (
            r#"{"StringEqualsIfExists": {"s3:prefix": "a"}}"#,
            &[("s3:prefix", "b")],
            false,
        ),
        (r#"{"NumericLessThan": {"s3:max-keys": "10"}}"#, &[], false),
        // Null: true = absent, false = present.
        (r#"{"Null": {"s3:x-amz-acl": "true"}}"#, &[], true),
        (
            r#"{"Null": {"s3:x-amz-acl": "true"}}"#,
            &[("s3:x-amz-acl", "private")],
            false,
        ),
        (
            r#"{"Null": {"s3:x-amz-acl": "false"}}"#,
            &[("s3:x-amz-acl", "private")],
            true,
        ),
        // Several values: OR for positive operators, NOR for negated ones.
        (
            r#"{"StringEquals": {"s3:prefix": ["a", "b"]}}"#,
            &[("s3:prefix", "b")],
            true,
        ),
        (
            r#"{"StringNotEquals": {"s3:prefix": ["a", "b"]}}"#,
            &[("s3:prefix", "b")],
            false,
        ),
        (
            r#"{"StringNotEquals": {"s3:prefix": ["a", "b"]}}"#,
            &[("s3:prefix", "c")],
            true,
        ),
        // Several keys: AND.
        (
            r#"{"StringEquals": {"s3:prefix": "a", "s3:delimiter": "/"}}"#,
            &[("s3:prefix", "a"), ("s3:delimiter", "|")],
            false,
        ),
        // Strings: case, wildcards.
        (
            r#"{"StringEquals": {"s3:prefix": "Home"}}"#,
            &[("s3:prefix", "home")],
            false,
        ),
        (
            r#"{"StringEqualsIgnoreCase": {"s3:prefix": "Home"}}"#,
            &[("s3:prefix", "home")],
            true,
        ),
        (
            r#"{"StringNotEqualsIgnoreCase": {"s3:prefix": "Home"}}"#,
            &[("s3:prefix", "HOME")],
            false,
        ),
        (
            r#"{"StringLike": {"s3:prefix": "home/*"}}"#,
            &[("s3:prefix", "home/alice/x")],
            true,
        ),
        (
            r#"{"StringLike": {"s3:prefix": "home/?"}}"#,
            &[("s3:prefix", "home/ab")],
            false,
        ),
        (
            r#"{"StringEquals": {"s3:prefix": "home/*"}}"#,
            &[("s3:prefix", "home/x")],
            false,
        ),
        // Numbers.
        (
            r#"{"NumericLessThanEquals": {"s3:max-keys": "10"}}"#,
            &[("s3:max-keys", "10")],
            true,
        ),
        (
            r#"{"NumericLessThan": {"s3:max-keys": 10}}"#,
            &[("s3:max-keys", "10")],
            false,
        ),
        (
            r#"{"NumericGreaterThan": {"s3:max-keys": "10"}}"#,
            &[("s3:max-keys", "11")],
            true,
        ),
        (
            r#"{"NumericNotEquals": {"s3:max-keys": "10"}}"#,
            &[("s3:max-keys", "10")],
            false,
        ),
        (
            r#"{"NumericEquals": {"s3:max-keys": "10"}}"#,
            &[("s3:max-keys", "ten")],
            false,
        ),
        // Dates: ISO 8601 or epoch seconds, either side.
        (
            r#"{"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}"#,
            &[("aws:CurrentTime", "2026-05-01T12:00:00Z")],
            true,
        ),
        (
            r#"{"DateLessThan": {"aws:CurrentTime": "2020-01-01"}}"#,
            &[("aws:CurrentTime", "2026-05-01T12:00:00Z")],
            false,
        ),
        (
            r#"{"DateEquals": {"aws:EpochTime": "1577836800"}}"#,
            &[("aws:EpochTime", "2020-01-01T00:00:00Z")],
            true,
        ),
        (
            r#"{"DateNotEquals": {"aws:EpochTime": "1577836800"}}"#,
            &[("aws:EpochTime", "1577836801")],
            true,
        ),
        // Bool, IP, ARN.
        (
            r#"{"Bool": {"aws:SecureTransport": "true"}}"#,
            &[("aws:SecureTransport", "true")],
            true,
        ),
        (
            r#"{"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:db8::/32"]}}"#,
            &[("aws:SourceIp", "2001:db8::5")],
            true,
        ),
        (
            r#"{"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}"#,
            &[("aws:SourceIp", "198.51.100.1")],
            false,
        ),
        (
            r#"{"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}"#,
            &[("aws:SourceIp", "198.51.100.1")],
            true,
        ),
        (
            r#"{"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/a*"}}"#,
            &[("aws:PrincipalArn", "arn:aws:iam::000000000000:user/alice")],
            true,
        ),
        (
            r#"{"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::000000000000:user/alice"}}"#,
            &[("aws:PrincipalArn", "arn:aws:iam::000000000000:user/bob")],
            false,
        ),
        // Set operators: ForAllValues is true without the key, ForAnyValue false.
        (r#"{"ForAllValues:StringEquals": {"s3:prefix": ["a", "b"]}}"#, &[], true),
        (r#"{"ForAnyValue:StringEquals": {"s3:prefix": ["a", "b"]}}"#, &[], false),
        (
            r#"{"ForAnyValue:StringEquals": {"s3:prefix": ["a", "b"]}}"#,
            &[("s3:prefix", "b")],
            true,
        ),
        (
            r#"{"ForAllValues:StringEquals": {"s3:prefix": ["a", "b"]}}"#,
            &[("s3:prefix", "c")],
            false,
        ),
        (
            r#"{"ForAnyValue:StringNotEquals": {"s3:prefix": ["a", "b"]}}"#,
            &[("s3:prefix", "c")],
            true,
        ),
        // Key names are case-insensitive.
        (
            r#"{"StringEquals": {"S3:X-Amz-Server-Side-Encryption": "AES256"}}"#,
            &[(SSE, "AES256")],
            true,
        ),
    ];
    for (condition, keys, holds) in cases {
        let p = with_condition("Deny", condition);
        let want = if *holds { deny("S") } else { Decision::NoDecision };
        assert_eq!(
            decide(&p, "s3:GetObject", OBJECT, keys),
            want,
            "{condition} with {keys:?}"
        );
    }
}

#[test]
fn explicit_deny_wins_over_allow_in_any_order_and_across_policies() {
    let allow = r#"{"Sid": "A", "Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}"#;
    let deny_get = r#"{"Sid": "D", "Effect": "Deny", "Principal": "*", "Action": "s3:Get*", "Resource": "*"}"#;
    for p in [
        policy(&format!("{allow},{deny_get}")),
        policy(&format!("{deny_get},{allow}")),
    ] {
        assert_eq!(decide(&p, "s3:GetObject", OBJECT, &[]), deny("D"));
        assert_eq!(
            decide(&p, "s3:PutObject", OBJECT, &[]),
            Decision::Allow(Some("A".into()))
        );
    }
    let (a, d) = (policy(allow), policy(deny_get));
    let k = ConditionKeys::default();
    let p = principal();
    let req = Request {
        principal: &p,
        action: "s3:GetObject",
        resource: OBJECT,
        keys: &k,
    };
    assert_eq!(evaluate_all([&a, &d], &req), deny("D"));
    assert_eq!(evaluate_all([&a], &req), Decision::Allow(Some("A".into())));
    assert_eq!(evaluate_all([], &req), Decision::NoDecision);
}

#[test]
fn not_action_not_resource_not_principal() {
    let p = policy(
        r#"{"Sid": "N", "Effect": "Deny", "Principal": "*", "NotAction": "s3:Get*",
            "NotResource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET/public/*"}"#,
    );
    assert_eq!(decide(&p, "s3:PutObject", OBJECT, &[]), deny("N"));
    assert_eq!(decide(&p, "s3:GetObject", OBJECT, &[]), Decision::NoDecision);
    assert_eq!(
        decide(&p, "s3:PutObject", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/public/x", &[]),
        Decision::NoDecision
    );
    let np = policy(
        r#"{"Sid": "NP", "Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::000000000000:user/alice"},
            "Action": "s3:*", "Resource": "*"}"#,
    );
    assert_eq!(
        decide(&np, "s3:GetObject", OBJECT, &[]),
        Decision::NoDecision,
        "alice is excepted"
    );
    let bob = Principal::user("000000000000", "bob");
    let k = ConditionKeys::default();
    let req = Request {
        principal: &bob,
        action: "s3:GetObject",
        resource: OBJECT,
        keys: &k,
    };
    assert_eq!(np.evaluate(&req), deny("NP"));
}

#[test]
fn principals_by_arn_account_and_root() {
    for (who, applies) in [
        (r#""*""#, true),
        (r#"{"AWS": "*"}"#, true),
        (r#"{"AWS": "arn:aws:iam::000000000000:user/alice"}"#, true),
        (
            r#"{"AWS": ["arn:aws:iam::000000000000:user/bob", "000000000000"]}"#,
            true,
        ),
        (r#"{"AWS": "arn:aws:iam::000000000000:root"}"#, true),
        (r#"{"AWS": "arn:aws:iam::000000000000:user/bob"}"#, false),
        (r#"{"AWS": "111122223333"}"#, false),
    ] {
        let p = policy(&format!(
            r#"{{"Sid": "P", "Effect": "Allow", "Principal": {who}, "Action": "s3:GetObject", "Resource": "*"}}"#
        ));
        let want = if applies {
            Decision::Allow(Some("P".into()))
        } else {
            Decision::NoDecision
        };
        assert_eq!(decide(&p, "s3:GetObject", OBJECT, &[]), want, "{who}");
    }
}

/// Whatever cannot be evaluated completely is refused, naming the element.
#[test]
fn what_cannot_be_evaluated_is_refused_by_name() {
    let st = |extra: &str| {
        format!(
            r#"{{"Version": "2012-10-17", "Statement": [{{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": "arn:aws:s3:::b/*"{extra}}}]}}"#
        )
    };
    for (text, names) in [
        (st(r#", "Condition": {"BinaryEquals": {"s3:prefix": "YQ=="}}"#), "Statement[0].Condition.BinaryEquals"),
        (st(r#", "Condition": {"StringEquals": {"aws:RequestTag/team": "x"}}"#), "aws:RequestTag/team"),
        (
            st(r#", "Condition": {"StringEquals": {"s3:ExistingObjectTag/team": "x"}}"#),
            "s3:ExistingObjectTag is not supported",
        ),
        (st(r#", "Condition": {"StringEquals": {"aws:username": "${aws:username}"}}"#), "policy variables"),
        (st(r#", "Condition": {"NullIfExists": {"s3:prefix": "true"}}"#), "NullIfExists"),
        (st(r#", "Condition": {"ForSomeValues:StringEquals": {"s3:prefix": "a"}}"#), "ForSomeValues"),
        (st(r#", "Condition": {"NumericEquals": {"s3:max-keys": "ten"}}"#), "NumericEquals.s3:max-keys"),
        (st(r#", "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/40"}}"#), "IpAddress.aws:SourceIp"),
        (st(r#", "Condition": {"Bool": {"aws:SecureTransport": "yes"}}"#), "Bool.aws:SecureTransport"),
        (st(r#", "Condition": {"DateLessThan": {"aws:CurrentTime": "soon"}}"#), "DateLessThan"),
        (st(r#", "Effect2": "Allow""#), "Statement[0].Effect2"),
        (
            r#"{"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "s3:*", "Resource": "*"}}"#.into(),
            "Principal.Service",
        ),
        (
            r#"{"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}}"#.into(),
            "Principal: missing",
        ),
        (
            r#"{"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Principal": "*", "Action": "ec2:*", "Resource": "*"}}"#.into(),
            "Action",
        ),
        (
            r#"{"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/${aws:username}/*"}}"#.into(),
            "Resource: policy variables",
        ),
        (
            r#"{"Version": "2012-10-17", "Statement": {"Effect": "deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}}"#.into(),
            "Effect",
        ),
        (r#"{"Version": "2012-10-18", "Statement": []}"#.into(), "Version"),
        (r#"{"Version": "2012-10-17", "Statement": []}"#.into(), "Statement"),
        (
            r#"{"Statement": [{"Sid": "x", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"},
                {"Sid": "x", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}]}"#.into(),
            "Statement[1].Sid: duplicate",
        ),
        ("not json".into(), "not JSON"),
    ] {
        let e = Policy::parse(&text, PolicyKind::Bucket).expect_err(&text);
        assert!(e.0.contains(names), "{text}\n  refused with {e:?}, expected to name {names:?}");
    }
    // Version 2008-10-17 has no policy variables: `${…}` is literal text there, as in AWS.
    let literal = r#"{"Version": "2008-10-17", "Statement": {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/${x}"}}"#;
    assert!(Policy::parse(literal, PolicyKind::Bucket).is_ok());
    // Identity policies have no Principal.
    let id = r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}"#;
    assert!(Policy::parse(id, PolicyKind::Identity).is_ok());
    assert!(Policy::parse(id, PolicyKind::Bucket).is_err());
}

#[test]
fn public_means_everyone_allowed_without_a_caller_restriction() {
    let allow = |principal: &str, condition: &str| {
        policy(&format!(
            r#"{{"Effect": "Allow", "Principal": {principal}, "Action": "s3:GetObject", "Resource": "*"{condition}}}"#
        ))
    };
    assert!(allow(r#""*""#, "").is_public());
    assert!(
        allow(
            r#"{"AWS": "*"}"#,
            r#", "Condition": {"Bool": {"aws:SecureTransport": "true"}}"#
        )
        .is_public()
    );
    assert!(
        !allow(
            r#""*""#,
            r#", "Condition": {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}"#
        )
        .is_public()
    );
    assert!(
        allow(
            r#""*""#,
            r#", "Condition": {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}"#
        )
        .is_public()
    );
    assert!(allow(r#""*""#, r#", "Condition": {"StringLike": {"aws:username": "*"}}"#).is_public());
    assert!(!allow(r#"{"AWS": "000000000000"}"#, "").is_public());
    assert!(
        !fixture("put-obj-policy-aes256.json").is_public(),
        "Deny statements make nothing public"
    );
}

/// A bucket policy names its own bucket: every Resource must be able to match the bucket or an object in it.
#[test]
fn bucket_policy_resources_must_name_the_bucket() {
    let with = |resource: &str| {
        policy(&format!(
            r#"{{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": {resource}}}"#
        ))
    };
    for ok in [
        r#""*""#,
        r#""arn:aws:s3:::photos""#,
        r#""arn:aws:s3:::photos/*""#,
        r#"["arn:aws:s3:::photos", "arn:aws:s3:::photos/2024/*"]"#,
        r#""arn:aws:s3:::pho*""#,
        r#""arn:aws:s3:::*/secret""#,
        r#""arn:aws:s3:::photo?/x""#,
    ] {
        assert_eq!(with(ok).foreign_resource("photos"), None, "{ok}");
    }
    for (bad, named) in [
        (r#""arn:aws:s3:::other/*""#, "arn:aws:s3:::other/*"),
        (
            r#"["arn:aws:s3:::photos/*", "arn:aws:s3:::photos2"]"#,
            "arn:aws:s3:::photos2",
        ),
        (r#""arn:aws:s3:::Photos/*""#, "arn:aws:s3:::Photos/*"),
    ] {
        assert_eq!(with(bad).foreign_resource("photos"), Some(named), "{bad}");
    }
    // NotResource is checked the same way.
    let not = policy(r#"{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "NotResource": "arn:aws:s3:::x/*"}"#);
    assert_eq!(not.foreign_resource("photos"), Some("arn:aws:s3:::x/*"));
}
