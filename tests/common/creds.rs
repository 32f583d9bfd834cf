//! The region and the access keys of the standard gateway config: the clients' ([`CLIENT`], [`LIMITED`]) and the
//! backend's ([`BACKEND`]).

pub const REGION: &str = "us-east-1";

pub const CLIENT_AK: &str = "CLIENTAKIDEXAMPLE001";
pub const CLIENT_SK: &str = "clientSecretKey/Example+0123456789abcdefgh";
pub const LIMITED_AK: &str = "LIMITEDAKIDEXAMPLE01";
pub const LIMITED_SK: &str = "limitedSecretKey/Example+0123456789abcdefg";
/// The only bucket [`LIMITED_AK`] may touch.
pub const LIMITED_BUCKET: &str = "only-this";
pub const BACKEND_AK: &str = "BACKENDAKIDEXAMPLE01";
pub const BACKEND_SK: &str = "backendSecretKey/Example+0123456789abcdefg";

/// An access key pair.
#[derive(Clone, Copy, Debug)]
pub struct Creds {
    pub ak: &'static str,
    pub sk: &'static str,
}

pub const CLIENT: Creds = Creds {
    ak: CLIENT_AK,
    sk: CLIENT_SK,
};
pub const LIMITED: Creds = Creds {
    ak: LIMITED_AK,
    sk: LIMITED_SK,
};
pub const BACKEND: Creds = Creds {
    ak: BACKEND_AK,
    sk: BACKEND_SK,
};
