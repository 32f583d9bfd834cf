//! The key-use audit trail: one structured line per use of an SSE-KMS key (who used which key, for which
//! object, when, with what result), under the tracing target `audit`, apart from the access log (target
//! `access`); `--audit-log FILE` sends it to its own JSON-lines file. Never a key, a blob or a secret.
//!
//! Policy decisions go to the target `policy`: one line per decision (principal ARN, IAM action, resource ARN,
//! decision, deciding Sid or rule), never a header value or a secret.
//!
//! The request id and principal come from the request's scope ([`scope`]), set once by the gateway.

use std::future::Future;
use std::sync::OnceLock;

tokio::task_local! {
    static REQUEST: Request;
}

struct Request {
    id: String,
    principal: OnceLock<String>,
}

/// Run a request's work with its id in scope (principal set later by [`set_principal`]).
///
/// Not an `async fn`: one would hold `f` and, once polled, a second copy of it inside the task-local future, and
/// move it from one to the other (1.5 KiB for a request's work).
pub fn scope<F: Future>(request_id: String, f: F) -> impl Future<Output = F::Output> {
    REQUEST.scope(
        Request {
            id: request_id,
            principal: OnceLock::new(),
        },
        f,
    )
}

/// `f` in the scope of the request in scope now: for a request's work spawned onto a task of its own, which a
/// task-local does not follow.
pub fn carried<F: Future>(f: F) -> impl Future<Output = F::Output> {
    let request = REQUEST
        .try_with(|r| Request {
            id: r.id.clone(),
            principal: r.principal.clone(),
        })
        .unwrap_or_else(|_| Request {
            id: "-".into(),
            principal: OnceLock::new(),
        });
    REQUEST.scope(request, f)
}

/// The authenticated principal of the request in scope.
pub fn set_principal(principal: &str) {
    let _ = REQUEST.try_with(|r| r.principal.set(principal.to_owned()));
}

/// The id and principal of the request in scope (`gateway` outside any: a `rekey` run).
fn request_and_principal() -> (String, String) {
    REQUEST
        .try_with(|r| (r.id.clone(), r.principal.get().cloned().unwrap_or_else(|| "-".into())))
        .unwrap_or_else(|_| ("-".into(), "gateway".into()))
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// One key use. `operation` is the KMS operation (`GenerateDataKey`, `Encrypt`, `Decrypt`); `cached` tells a use
/// served from the data-key cache (no KMS call) from one the KMS answered; `result` is `ok` or the error kind.
pub fn key_use(operation: &str, key_id: &str, bucket: &str, key: &str, cached: bool, result: &str) {
    let (request_id, principal) = request_and_principal();
    tracing::info!(
        target: "audit",
        time = %now_rfc3339(),
        request_id = %request_id,
        principal = %principal,
        kms_operation = operation,
        key_id = key_id,
        bucket = bucket,
        key = key,
        source = if cached { "cache" } else { "kms" },
        result = result,
        "key use"
    );
}

/// One UpdateObjectEncryption: the object's data key re-wrapped from the key `from` (a keyring KEK id or a KMS
/// key ARN) to the KMS key `to` as the request named it; `result` is `ok` or the error code.
pub fn encryption_update(bucket: &str, key: &str, from: &str, to: &str, result: &str) {
    let (request_id, principal) = request_and_principal();
    tracing::info!(
        target: "audit",
        time = %now_rfc3339(),
        request_id = %request_id,
        principal = %principal,
        operation = "UpdateObjectEncryption",
        bucket = bucket,
        key = key,
        from_key_id = from,
        to_key_id = to,
        result = result,
        "encryption update"
    );
}

/// One policy decision: `decision` is `allow` or `deny`; `rule` the deciding statement's Sid, `allowed-buckets`
/// (the credential's own permission decided) or `implicit`.
pub fn policy_decision(principal: &str, action: &str, resource: &str, decision: &str, rule: &str) {
    // The id is read only when the line is written (fields are evaluated behind the level check).
    tracing::info!(
        target: "policy",
        request_id = %REQUEST.try_with(|r| r.id.clone()).unwrap_or_else(|_| "-".into()),
        principal = principal,
        action = action,
        resource = resource,
        decision = decision,
        rule = rule,
        "policy decision"
    );
}
