//! The readiness probe, run periodically: the backend answers (any status below 500 to a signed `GET /`) and the
//! KMS answers a DescribeKey of the default key (any answer but "unavailable"). Sets `backend_up` / `kms_up`.

use http::{HeaderMap, Method};

use super::Metrics;
use crate::backend::Backend;
use crate::kms::{Kms, KmsError};
use crate::s3::addressing::Target;
use crate::sse::Keys;

pub async fn probe(backend: &Backend, keys: Option<&Keys>, metrics: &Metrics) {
    let backend_up = match backend.uri_for(&Target::default(), None) {
        Ok(uri) => {
            let call = backend.send(Method::GET, uri, HeaderMap::new(), crate::body::empty());
            matches!(
                tokio::time::timeout(backend.response_timeout, call).await,
                Ok(Ok(r)) if r.status().as_u16() < 500
            )
        }
        Err(_) => false,
    };
    metrics.backend_up.set(i64::from(backend_up));
    let kms_up = match keys {
        None => true,
        Some(k) => !matches!(
            k.kms.client.describe(&k.kms.default_key_id).await,
            Err(KmsError::Unavailable(_) | KmsError::Other(_))
        ),
    };
    metrics.kms_up.set(i64::from(kms_up));
    if !backend_up || !kms_up {
        tracing::warn!(backend_up, kms_up, "readiness probe failed");
    }
}
