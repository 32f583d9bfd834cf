//! S3's own vocabulary: which operation a request is, and which bucket and key it addresses.

pub mod addressing;
pub mod operation;
pub mod post_policy;
pub mod range;
pub mod sse;
pub mod xml;
