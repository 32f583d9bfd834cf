//! S3's own vocabulary: which operation a request is, and which bucket and key it addresses.

pub mod addressing;
pub mod copy_source;
pub mod headers;
pub mod operation;
pub mod post_policy;
pub mod range;
pub mod request;
pub mod xml;
