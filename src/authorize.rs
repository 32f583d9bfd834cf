//! The policy phase: every request that names a bucket is evaluated against the bucket's policies (pinned and
//! stored) and the credential's identity policy as S3 does: an explicit Deny refuses; otherwise the credential's
//! `allowed_buckets` (a boundary no policy widens) decide. A request without credentials is allowed only by a
//! bucket policy statement that grants everyone (`"Principal": "*"`). A copy is also a read of its source, evaluated against
//! the source's bucket. Each decision is counted and audited.
//!
//! Also here, because they refuse a request before any byte reaches the backend: the gateway's reserved keys are
//! closed to clients, and a bucket that blocks SSE-C refuses writes that ask for it.

use std::collections::HashMap;
use std::sync::Arc;

use http::HeaderMap;

use crate::auth::{self, Authenticated, Credential};
use crate::bucket_state::{BucketState, RESERVED_PREFIX};
use crate::error::S3Error;
use crate::metrics::Metrics;
use crate::policy::{self as iam, Decision, Policy, Principal};
use crate::s3::addressing::{self, Target};
use crate::s3::operation::Operation;
use crate::s3::request::{ConnInfo, S3Request};
use crate::sse::SseRules;
use crate::sse::bucket_default::{blocks_sse_c, sse_c_blocked};

/// Who may do what: the configured policies and the account the principals belong to.
pub struct Authorizer {
    /// The account id of the principal ARNs of this gateway's credentials.
    pub account_id: String,
    /// `[[policies]]` from the config file, by bucket: evaluated with the stored bucket policy, never removed.
    pub pinned_policies: HashMap<String, Vec<Arc<Policy>>>,
    /// Identity policies attached to credentials in the config (access key id → policy).
    pub identity_policies: HashMap<String, Arc<Policy>>,
    pub metrics: Arc<Metrics>,
}

impl Authorizer {
    /// The whole policy phase for one authenticated request. `sse` holds the `[sse]` rules when the gateway
    /// encrypts (the bucket's blocked encryption types apply only then).
    pub async fn check(
        &self,
        buckets: &BucketState,
        req: &S3Request,
        authed: &Authenticated,
        conn: ConnInfo,
        sse: Option<SseRules>,
    ) -> Result<(), S3Error> {
        self.evaluate(buckets, req, authed, conn).await?;
        if sse.is_some() && authed.credential.is_anonymous() {
            crate::sse::request::check_anonymous(&req.parts.headers)?;
        }
        // The gateway's own objects inside buckets are not the client's to touch.
        let src = req.copy_source()?;
        if let Some(src) = src {
            addressing::check(&Target::object(&src.bucket, &src.key))?;
        }
        if req
            .target
            .key
            .as_deref()
            .is_some_and(|k| k.starts_with(RESERVED_PREFIX))
            || src.is_some_and(|s| s.key.starts_with(RESERVED_PREFIX))
        {
            return Err(S3Error::access_denied());
        }
        if let (Some(rules), Some(bucket), Some(key)) = (sse, &req.target.bucket, &req.target.key) {
            check_blocked_encryption(
                buckets,
                rules,
                req.op,
                &req.parts.headers,
                bucket,
                key,
                authed.credential.display_name(),
            )
            .await?;
        }
        Ok(())
    }

    async fn evaluate(
        &self,
        buckets: &BucketState,
        req: &S3Request,
        authed: &Authenticated,
        conn: ConnInfo,
    ) -> Result<(), S3Error> {
        let (op, query) = (req.op, &req.query);
        let cred = &authed.credential;
        let principal = if cred.is_anonymous() {
            Principal::anonymous()
        } else {
            Principal::user(&self.account_id, cred.display_name())
        };
        let action = iam::actions::iam_action(op, req.query_param("versionId").is_some());
        let signed_at = req
            .header(crate::s3::headers::X_AMZ_DATE)
            .or_else(|| req.query_param("X-Amz-Date"))
            .and_then(auth::parse_amz_date);
        let facts = iam::context::Facts {
            principal: &principal,
            username: cred.display_name(),
            userid: cred.access_key_id(),
            peer: conn.peer.ip(),
            secure: conn.secure,
            auth_type: authed.auth_type.policy_value(),
            sigv2: authed.signature_version == auth::SignatureVersion::V2,
            signed_at,
            now: time::OffsetDateTime::now_utc(),
        };
        // Built only when a policy is there to read them (most requests meet none).
        let make_keys = || {
            let mut keys = iam::context::condition_keys(&req.parts.headers, query, &facts);
            let upload = req.upload_id().and_then(Result::ok).and_then(|(_, env)| env.as_ref());
            upload_encryption_keys(op, upload, &mut keys);
            keys
        };
        let call = Evaluation {
            authorizer: self,
            buckets,
            op,
            principal: &principal,
            keys: std::sync::OnceLock::new(),
            make_keys: &make_keys,
            cred,
        };
        let Some(bucket) = &req.target.bucket else {
            return call.without_bucket(action);
        };
        let resource = iam::actions::resource_arn(bucket, req.target.key.as_deref());
        call.decide(action, &resource, bucket).await?;
        if op == Operation::UpdateObjectEncryption {
            // S3 requires both s3:UpdateObjectEncryption and s3:PutObject.
            call.decide("s3:PutObject", &resource, bucket).await?;
        }
        if let Some(src) = req.copy_source()? {
            let action = if src.version_id.is_some() {
                "s3:GetObjectVersion"
            } else {
                "s3:GetObject"
            };
            let resource = iam::actions::resource_arn(&src.bucket, Some(&src.key));
            call.decide(action, &resource, &src.bucket).await?;
        }
        Ok(())
    }

    fn record(
        &self,
        principal: &Principal,
        action: &str,
        resource: &str,
        allowed: bool,
        rule: &str,
        from_statement: bool,
    ) {
        self.metrics.policy_decision(allowed, rule, from_statement);
        let decision = if allowed { "allow" } else { "deny" };
        crate::audit::policy_decision(&principal.arn, action, resource, decision, rule);
    }
}

/// What one request is evaluated with.
struct Evaluation<'a> {
    authorizer: &'a Authorizer,
    buckets: &'a BucketState,
    op: Operation,
    principal: &'a Principal,
    /// The request's condition keys, made on first use by `make_keys`.
    keys: std::sync::OnceLock<iam::ConditionKeys>,
    make_keys: &'a (dyn Fn() -> iam::ConditionKeys + Sync),
    cred: &'a Credential,
}

impl Evaluation<'_> {
    fn keys(&self) -> &iam::ConditionKeys {
        self.keys.get_or_init(self.make_keys)
    }

    /// ListBuckets and the like: only an identity policy has a say.
    fn without_bucket(&self, action: &str) -> Result<(), S3Error> {
        if self.cred.is_anonymous() {
            // ListBuckets: S3 answers a caller without credentials AccessDenied.
            self.authorizer
                .record(self.principal, action, "arn:aws:s3:::*", false, "anonymous", false);
            return Err(S3Error::access_denied());
        }
        let identity = self.authorizer.identity_policies.get(self.cred.access_key_id());
        let decision = identity.map(|p| {
            p.evaluate(&iam::Request {
                principal: self.principal,
                action,
                resource: "arn:aws:s3:::*",
                keys: self.keys(),
            })
        });
        let (allowed, rule) = match decision {
            None => (true, None),
            Some(Decision::Allow(sid)) => (true, Some(sid.unwrap_or_else(|| "unnamed".to_owned()))),
            Some(Decision::Deny(sid)) => (false, Some(sid.unwrap_or_else(|| "unnamed".to_owned()))),
            Some(Decision::NoDecision) => (false, None),
        };
        let from_statement = rule.as_deref().is_some_and(|r| r != "unnamed");
        self.authorizer.record(
            self.principal,
            action,
            "*",
            allowed,
            rule.as_deref().unwrap_or("implicit"),
            from_statement,
        );
        if allowed { Ok(()) } else { Err(S3Error::access_denied()) }
    }

    /// One evaluation: `action` on `resource` in `bucket`.
    async fn decide(&self, action: &str, resource: &str, bucket: &str) -> Result<(), S3Error> {
        let mut policies = self.authorizer.pinned_policies.get(bucket).cloned().unwrap_or_default();
        policies.extend(self.buckets.policy(self.op, bucket).await?);
        let identity = self
            .authorizer
            .identity_policies
            .get(self.cred.access_key_id())
            .cloned();
        let has_identity = identity.is_some();
        policies.extend(identity);
        let mut decision = if policies.is_empty() {
            Decision::NoDecision
        } else {
            let req = iam::Request {
                principal: self.principal,
                action,
                resource,
                keys: self.keys(),
            };
            iam::evaluate_all(policies.iter().map(|p| &**p), &req)
        };
        if self.op == Operation::DeleteObjects && !matches!(decision, Decision::Deny(_)) {
            // Its keys are in the body, not read yet: any Deny of s3:DeleteObject to this caller refuses it whole.
            if let Some(sid) = policies
                .iter()
                .find_map(|p| p.may_deny(self.principal, "s3:DeleteObject"))
            {
                decision = Decision::Deny(sid);
            }
        }
        // `allowed_buckets` is the operator's boundary: a bucket policy can narrow it, never widen it. A caller
        // without credentials has none: only a statement that allows everyone lets it in.
        let (allowed, rule, from_statement) = match decision {
            Decision::Deny(sid) => (false, sid, true),
            Decision::Allow(sid) if self.cred.is_anonymous() => (true, sid, true),
            _ if self.cred.is_anonymous() => (false, Some("anonymous".to_owned()), false),
            _ if !self.cred.may_access_bucket(bucket) => (false, Some("allowed-buckets".to_owned()), false),
            Decision::Allow(sid) => (true, sid, true),
            // With an identity policy, what no statement allows is denied (AWS's implicit deny).
            Decision::NoDecision if has_identity => (false, Some("implicit".to_owned()), false),
            Decision::NoDecision => (true, Some("allowed-buckets".to_owned()), false),
        };
        let rule = rule.unwrap_or_else(|| "unnamed".to_owned());
        self.authorizer.record(
            self.principal,
            action,
            resource,
            allowed,
            &rule,
            from_statement && rule != "unnamed",
        );
        if allowed { Ok(()) } else { Err(S3Error::access_denied()) }
    }
}

/// S3's `BlockedEncryptionTypes`: in a bucket that blocks SSE-C, a write that asks for SSE-C (by any of its
/// headers, before they are checked) is refused before a byte reaches the backend. Reads, and copies *from*
/// SSE-C objects, are not writes that ask for SSE-C. The setting is read from the backend on each such write
/// (cached briefly), so every instance enforces the latest one; with `[sse] block_sse_c_by_default`, a bucket whose
/// configuration does not say `NONE` (or that has none) blocks SSE-C.
async fn check_blocked_encryption(
    buckets: &BucketState,
    rules: SseRules,
    op: Operation,
    headers: &HeaderMap,
    bucket: &str,
    key: &str,
    principal: &str,
) -> Result<(), S3Error> {
    let action = match op {
        // AWS names CopyObject's own action in this message.
        Operation::CopyObject => "s3:CopyObject",
        Operation::PutObject
        | Operation::PostObject
        | Operation::CreateMultipartUpload
        | Operation::UploadPart
        | Operation::UploadPartCopy => "s3:PutObject",
        _ => return Ok(()),
    };
    let asks_for_sse_c = headers
        .keys()
        .any(|n| n.as_str().starts_with("x-amz-server-side-encryption-customer-"));
    if !asks_for_sse_c {
        return Ok(());
    }
    let config = buckets.encryption(op, bucket).await?;
    if blocks_sse_c(config.as_deref(), rules.block_sse_c_by_default) {
        Err(sse_c_blocked(principal, action, bucket, key))
    } else {
        Ok(())
    }
}

/// UploadPart, UploadPartCopy and CompleteMultipartUpload carry no SSE headers of their own: their encryption
/// condition keys are those of the upload, as recorded in the upload ID at CreateMultipartUpload (which was
/// evaluated with the headers it was sent with).
fn upload_encryption_keys(
    op: Operation,
    upload: Option<&crate::crypto::envelope::Envelope>,
    keys: &mut iam::ConditionKeys,
) {
    use crate::crypto::envelope::SseMode;
    const SSE: &str = "s3:x-amz-server-side-encryption";
    const SSE_C: &str = "s3:x-amz-server-side-encryption-customer-algorithm";
    if !matches!(
        op,
        Operation::UploadPart | Operation::UploadPartCopy | Operation::CompleteMultipartUpload
    ) || keys.get(SSE).is_some()
        || keys.get(SSE_C).is_some()
    {
        return;
    }
    let Some(env) = upload else {
        return;
    };
    match env.mode {
        SseMode::S3 => keys.set(SSE, "AES256"),
        SseMode::Kms => {
            keys.set(SSE, "aws:kms");
            keys.set("s3:x-amz-server-side-encryption-aws-kms-key-id", env.kek_id.as_str());
        }
        SseMode::C => keys.set(SSE_C, "AES256"),
    }
}
