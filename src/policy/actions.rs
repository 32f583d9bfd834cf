//! Each gateway [`Operation`] as the IAM action and resource ARN that policies name (Amazon S3's "Actions,
//! resources, and condition keys" table).

use crate::s3::operation::Operation;

/// What an operation's policy evaluation is not told about itself: unclassified requests are matched only by
/// statements whose Action covers every S3 action (`s3:*`, `*`, or a NotAction).
pub const UNCLASSIFIED: &str = "s3:UnclassifiedRequest";

/// The IAM action of `op`; `versioned` when the request names a `versionId` (S3's `…Version` actions).
pub fn iam_action(op: Operation, versioned: bool) -> &'static str {
    use Operation::*;
    match op {
        ListBuckets => "s3:ListAllMyBuckets",
        CreateBucket => "s3:CreateBucket",
        DeleteBucket => "s3:DeleteBucket",
        HeadBucket | ListObjects | ListObjectsV2 => "s3:ListBucket",
        ListObjectVersions => "s3:ListBucketVersions",
        ListMultipartUploads => "s3:ListBucketMultipartUploads",
        GetBucketLocation => "s3:GetBucketLocation",
        GetBucketPolicy => "s3:GetBucketPolicy",
        PutBucketPolicy => "s3:PutBucketPolicy",
        DeleteBucketPolicy => "s3:DeleteBucketPolicy",
        GetBucketPolicyStatus => "s3:GetBucketPolicyStatus",
        GetBucketEncryption => "s3:GetEncryptionConfiguration",
        PutBucketEncryption | DeleteBucketEncryption => "s3:PutEncryptionConfiguration",
        GetBucketTagging => "s3:GetBucketTagging",
        PutBucketTagging | DeleteBucketTagging => "s3:PutBucketTagging",
        GetBucketVersioning => "s3:GetBucketVersioning",
        PutBucketVersioning => "s3:PutBucketVersioning",
        GetBucketLifecycleConfiguration => "s3:GetLifecycleConfiguration",
        PutBucketLifecycleConfiguration | DeleteBucketLifecycle => "s3:PutLifecycleConfiguration",
        GetBucketCors => "s3:GetBucketCORS",
        PutBucketCors | DeleteBucketCors => "s3:PutBucketCORS",
        GetBucketAcl => "s3:GetBucketAcl",
        PutBucketAcl => "s3:PutBucketAcl",
        DeleteObjects => "s3:DeleteObject",
        GetObject | HeadObject if versioned => "s3:GetObjectVersion",
        GetObject | HeadObject => "s3:GetObject",
        DeleteObject if versioned => "s3:DeleteObjectVersion",
        DeleteObject => "s3:DeleteObject",
        GetObjectAttributes if versioned => "s3:GetObjectVersionAttributes",
        GetObjectAttributes => "s3:GetObjectAttributes",
        GetObjectTagging if versioned => "s3:GetObjectVersionTagging",
        GetObjectTagging => "s3:GetObjectTagging",
        PutObjectTagging if versioned => "s3:PutObjectVersionTagging",
        PutObjectTagging => "s3:PutObjectTagging",
        DeleteObjectTagging if versioned => "s3:DeleteObjectVersionTagging",
        DeleteObjectTagging => "s3:DeleteObjectTagging",
        GetObjectAcl if versioned => "s3:GetObjectVersionAcl",
        GetObjectAcl => "s3:GetObjectAcl",
        PutObjectAcl if versioned => "s3:PutObjectVersionAcl",
        PutObjectAcl => "s3:PutObjectAcl",
        GetObjectLockConfiguration => "s3:GetBucketObjectLockConfiguration",
        PutObjectLockConfiguration => "s3:PutBucketObjectLockConfiguration",
        GetObjectRetention => "s3:GetObjectRetention",
        PutObjectRetention => "s3:PutObjectRetention",
        GetObjectLegalHold => "s3:GetObjectLegalHold",
        PutObjectLegalHold => "s3:PutObjectLegalHold",
        // The destination of a copy is a PutObject; its source is checked as GetObject separately.
        PutObject
        | PostObject
        | CopyObject
        | CreateMultipartUpload
        | UploadPart
        | UploadPartCopy
        | CompleteMultipartUpload => "s3:PutObject",
        AbortMultipartUpload => "s3:AbortMultipartUpload",
        ListParts => "s3:ListMultipartUploadParts",
        // S3 also requires s3:PutObject for it (evaluated in addition by the policy phase).
        UpdateObjectEncryption => "s3:UpdateObjectEncryption",
        Other => UNCLASSIFIED,
    }
}

/// `arn:aws:s3:::bucket` or `arn:aws:s3:::bucket/key`.
pub fn resource_arn(bucket: &str, key: Option<&str>) -> String {
    const PREFIX: &str = "arn:aws:s3:::";
    let mut arn = String::with_capacity(PREFIX.len() + bucket.len() + key.map_or(0, |k| k.len() + 1));
    arn.push_str(PREFIX);
    arn.push_str(bucket);
    if let Some(k) = key {
        arn.push('/');
        arn.push_str(k);
    }
    arn
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mapping the Amazon S3 documentation gives for the operations people write policies about.
    #[test]
    fn documented_actions() {
        use Operation::*;
        for (op, versioned, action) in [
            (HeadObject, false, "s3:GetObject"),
            (GetObject, true, "s3:GetObjectVersion"),
            (UploadPart, false, "s3:PutObject"),
            (CompleteMultipartUpload, false, "s3:PutObject"),
            (CopyObject, false, "s3:PutObject"),
            (ListObjectsV2, false, "s3:ListBucket"),
            (HeadBucket, false, "s3:ListBucket"),
            (DeleteBucketEncryption, false, "s3:PutEncryptionConfiguration"),
            (ListParts, false, "s3:ListMultipartUploadParts"),
            (DeleteObject, true, "s3:DeleteObjectVersion"),
            (UpdateObjectEncryption, false, "s3:UpdateObjectEncryption"),
        ] {
            assert_eq!(iam_action(op, versioned), action, "{op:?}");
        }
        assert_eq!(resource_arn("b", Some("a/b c")), "arn:aws:s3:::b/a/b c");
        assert_eq!(resource_arn("b", None), "arn:aws:s3:::b");
    }
}
