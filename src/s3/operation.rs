//! Classify: each request becomes one typed [`Operation`], once, named as S3 names it.
//! Unknown operations are still forwarded (as [`Operation::Other`]); classification never rejects.

use http::Method;

use super::addressing::Target;

macro_rules! operations {
    ($($name:ident),* $(,)?) => {
        /// An S3 operation, in S3's own words.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Operation { $($name,)* }
        impl Operation {
            /// Every operation (to create metric series at zero).
            pub const ALL: &'static [Operation] = &[$(Self::$name,)*];
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$name => stringify!($name),)* }
            }
        }
    };
}

operations! {
    ListBuckets,
    CreateBucket, DeleteBucket, HeadBucket, ListObjects, ListObjectsV2, ListObjectVersions, ListMultipartUploads,
    GetBucketLocation, GetBucketPolicy, PutBucketPolicy, DeleteBucketPolicy, GetBucketPolicyStatus,
    GetBucketEncryption, PutBucketEncryption, DeleteBucketEncryption,
    GetBucketTagging, PutBucketTagging, DeleteBucketTagging, GetBucketVersioning, PutBucketVersioning,
    GetBucketLifecycleConfiguration, PutBucketLifecycleConfiguration, DeleteBucketLifecycle,
    GetBucketCors, PutBucketCors, DeleteBucketCors, GetBucketAcl, PutBucketAcl, DeleteObjects,
    GetObject, HeadObject, PutObject, PostObject, CopyObject, DeleteObject, GetObjectAttributes,
    GetObjectTagging, PutObjectTagging, DeleteObjectTagging, GetObjectAcl, PutObjectAcl,
    GetObjectLockConfiguration, PutObjectLockConfiguration, GetObjectRetention, PutObjectRetention, GetObjectLegalHold, PutObjectLegalHold,
    CreateMultipartUpload, UploadPart, UploadPartCopy, CompleteMultipartUpload, AbortMultipartUpload, ListParts,
    UpdateObjectEncryption,
    Other,
}

impl Operation {
    /// Operations whose request body carries object data (as opposed to small XML documents).
    pub fn carries_object_data(self) -> bool {
        matches!(self, Self::PutObject | Self::PostObject | Self::UploadPart)
    }
}

/// Classify from method, target and the query's parameter names.
pub fn classify(method: &Method, target: &Target, query: &[(String, String)], has_copy_source: bool) -> Operation {
    use Operation::*;
    let has = |name: &str| query.iter().any(|(k, _)| k == name);
    let Some(_) = &target.bucket else {
        return if method == Method::GET { ListBuckets } else { Other };
    };
    if target.key.is_none() {
        let sub = [
            ("policy", GetBucketPolicy, PutBucketPolicy, DeleteBucketPolicy),
            (
                "encryption",
                GetBucketEncryption,
                PutBucketEncryption,
                DeleteBucketEncryption,
            ),
            ("tagging", GetBucketTagging, PutBucketTagging, DeleteBucketTagging),
            (
                "lifecycle",
                GetBucketLifecycleConfiguration,
                PutBucketLifecycleConfiguration,
                DeleteBucketLifecycle,
            ),
            ("cors", GetBucketCors, PutBucketCors, DeleteBucketCors),
            ("versioning", GetBucketVersioning, PutBucketVersioning, Other),
            ("acl", GetBucketAcl, PutBucketAcl, Other),
            (
                "object-lock",
                GetObjectLockConfiguration,
                PutObjectLockConfiguration,
                Other,
            ),
        ];
        for (name, get, put, delete) in sub {
            if has(name) {
                return match *method {
                    Method::GET => get,
                    Method::PUT => put,
                    Method::DELETE => delete,
                    _ => Other,
                };
            }
        }
        return match *method {
            Method::GET if has("policyStatus") => GetBucketPolicyStatus,
            Method::GET if has("location") => GetBucketLocation,
            Method::GET if has("uploads") => ListMultipartUploads,
            Method::GET if has("versions") => ListObjectVersions,
            Method::GET if query.iter().any(|(k, v)| k == "list-type" && v == "2") => ListObjectsV2,
            Method::GET if query.iter().all(|(k, _)| LIST_PARAMS.contains(&k.as_str())) => ListObjects,
            Method::PUT if query.is_empty() => CreateBucket,
            Method::DELETE if query.is_empty() => DeleteBucket,
            Method::HEAD => HeadBucket,
            Method::POST if has("delete") => DeleteObjects,
            // A browser-based upload: the key and everything else are in the multipart/form-data body.
            Method::POST if query.is_empty() => PostObject,
            _ => Other,
        };
    }
    match *method {
        Method::GET if has("uploadId") => ListParts,
        Method::GET if has("tagging") => GetObjectTagging,
        Method::GET if has("acl") => GetObjectAcl,
        Method::GET if has("attributes") => GetObjectAttributes,
        Method::GET if has("retention") => GetObjectRetention,
        Method::GET if has("legal-hold") => GetObjectLegalHold,
        Method::GET if has(REFUSED_ON_CIPHERTEXT[0]) => Other,
        Method::GET => GetObject,
        Method::HEAD => HeadObject,
        Method::PUT if has("partNumber") && has("uploadId") => {
            if has_copy_source {
                UploadPartCopy
            } else {
                UploadPart
            }
        }
        Method::PUT if has("tagging") => PutObjectTagging,
        Method::PUT if has("acl") => PutObjectAcl,
        // Object Lock documents, forwarded as they are (never an object write).
        Method::PUT if has("retention") => PutObjectRetention,
        Method::PUT if has("legal-hold") => PutObjectLegalHold,
        Method::PUT if has("encryption") => UpdateObjectEncryption,
        Method::PUT if has(REFUSED_ON_CIPHERTEXT[2]) => Other,
        Method::PUT if has_copy_source => CopyObject,
        Method::PUT => PutObject,
        Method::POST if has("uploads") => CreateMultipartUpload,
        Method::POST if has("uploadId") => CompleteMultipartUpload,
        Method::DELETE if has("uploadId") => AbortMultipartUpload,
        Method::DELETE if has("tagging") => DeleteObjectTagging,
        Method::DELETE => DeleteObject,
        _ => Other,
    }
}

/// Object subresources of S3 that cannot work on the ciphertext the backend holds, refused when SSE is on (they
/// classify as [`Operation::Other`], never as the GetObject/PutObject their method would otherwise make them):
/// GetObjectTorrent (a torrent of ciphertext), SelectObjectContent (a query over ciphertext), RenameObject (the
/// envelope's sealed key and the gateway's records are bound to the object's name).
pub const REFUSED_ON_CIPHERTEXT: [&str; 3] = ["torrent", "select", "renameObject"];

/// Query parameters that still mean plain ListObjects (v1), including presigned-URL parameters.
const LIST_PARAMS: &[&str] = &[
    "prefix",
    "delimiter",
    "marker",
    "max-keys",
    "encoding-type",
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
    "AWSAccessKeyId",
    "Expires",
    "Signature",
    "x-id",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::addressing::resolve;

    fn op(method: Method, path_and_query: &str, copy: bool) -> Operation {
        let (path, q) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        let query: Vec<(String, String)> = q
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect();
        classify(&method, &resolve(None, path, &[]), &query, copy)
    }

    /// Request lines as they appear in AWS's API reference examples.
    #[test]
    fn aws_reference_examples() {
        use Operation::*;
        assert_eq!(op(Method::GET, "/", false), ListBuckets);
        assert_eq!(op(Method::GET, "/bucket?list-type=2&prefix=a", false), ListObjectsV2);
        assert_eq!(op(Method::GET, "/bucket?prefix=a&max-keys=2", false), ListObjects);
        assert_eq!(op(Method::GET, "/bucket?uploads", false), ListMultipartUploads);
        assert_eq!(op(Method::PUT, "/bucket", false), CreateBucket);
        assert_eq!(op(Method::PUT, "/bucket?encryption", false), PutBucketEncryption);
        assert_eq!(op(Method::POST, "/bucket?delete", false), DeleteObjects);
        assert_eq!(op(Method::POST, "/bucket", false), PostObject);
        assert_eq!(op(Method::PUT, "/bucket/key", false), PutObject);
        assert_eq!(op(Method::PUT, "/bucket/key", true), CopyObject);
        assert_eq!(op(Method::POST, "/bucket/key?uploads", false), CreateMultipartUpload);
        assert_eq!(
            op(Method::PUT, "/bucket/key?partNumber=1&uploadId=x", false),
            UploadPart
        );
        assert_eq!(
            op(Method::PUT, "/bucket/key?partNumber=1&uploadId=x", true),
            UploadPartCopy
        );
        assert_eq!(
            op(Method::POST, "/bucket/key?uploadId=x", false),
            CompleteMultipartUpload
        );
        assert_eq!(
            op(Method::DELETE, "/bucket/key?uploadId=x", false),
            AbortMultipartUpload
        );
        assert_eq!(op(Method::GET, "/bucket/key?uploadId=x", false), ListParts);
        assert_eq!(op(Method::GET, "/bucket/key?tagging", false), GetObjectTagging);
        assert_eq!(op(Method::HEAD, "/bucket/key", false), HeadObject);
        assert_eq!(op(Method::GET, "/bucket/key", false), GetObject);
        assert_eq!(op(Method::GET, "/bucket?notification", false), Other);
        assert_eq!(op(Method::PUT, "/bucket/key?encryption", false), UpdateObjectEncryption);
        // Object Lock documents of an object: never a PutObject (the gateway would store the document as the
        // object's new content) nor a GetObject.
        assert_eq!(
            op(Method::PUT, "/bucket?object-lock", false),
            PutObjectLockConfiguration
        );
        assert_eq!(
            op(Method::GET, "/bucket?object-lock", false),
            GetObjectLockConfiguration
        );
        assert_eq!(op(Method::PUT, "/bucket/key?retention", false), PutObjectRetention);
        assert_eq!(
            op(Method::GET, "/bucket/key?retention&versionId=v", false),
            GetObjectRetention
        );
        assert_eq!(op(Method::PUT, "/bucket/key?legal-hold", false), PutObjectLegalHold);
        assert_eq!(op(Method::GET, "/bucket/key?legal-hold", false), GetObjectLegalHold);
        // Never a GetObject or PutObject: the gateway refuses them (an empty object would replace the key).
        assert_eq!(op(Method::GET, "/bucket/key?torrent", false), Other);
        assert_eq!(op(Method::PUT, "/bucket/key?renameObject", false), Other);
        assert_eq!(op(Method::POST, "/bucket/key?select&select-type=2", false), Other);
    }
}
