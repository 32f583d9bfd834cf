//! moto's server as a real AWS KMS API on loopback, with signature checking. Started with
//! `INITIAL_NO_AUTH_ACTION_COUNT=3`, moto lets exactly three requests through unchecked — the IAM calls that
//! create a user, its access key and an allow-everything policy — and verifies the SigV4 signature of every later
//! request against that key. Needs `pip install 'moto[server]'` (`.ci/run` installs it).

use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use s3_sse_proxy::backend::sign::Signer;
use s3_sse_proxy::kms::aws::{AwsKms, AwsKmsSettings};
use s3_sse_proxy::secret::SecretString;
use serde_json::json;

use super::{Proc, REGION, START_TIMEOUT, free_port, xml_tag};

/// How long one KMS call may take against moto (a Python server on a shared machine).
pub const MOTO_TIMEOUT: Duration = Duration::from_secs(10);

/// A running moto server and the access key it checks signatures against. Killed on drop.
pub struct Moto {
    pub endpoint: String,
    pub access_key_id: String,
    secret_access_key: String,
    admin: AwsKms,
    _proc: Proc,
    _dir: tempfile::TempDir,
}

impl Moto {
    pub async fn start() -> Moto {
        Self::start_checking(true).await
    }

    /// moto that checks no signature at all. For S3 tests of features moto's signature check gets in the way
    /// of: it refuses every request whose query holds a `/` (docs/compatibility.md), which includes the gateway's
    /// own listings of its records (`prefix=.s3-sse-proxy%2F…`), so listings there show stored sizes.
    #[allow(dead_code)] // not every test binary uses it
    pub async fn start_without_signature_check() -> Moto {
        Self::start_checking(false).await
    }

    async fn start_checking(check_signatures: bool) -> Moto {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let mut cmd = Command::new("python3");
        cmd.args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()]);
        if check_signatures {
            cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", "3");
        }
        let mut proc = Proc::spawn("moto", cmd, dir.path().join("moto.log"));
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = proc.try_wait() {
                panic!(
                    "moto exited ({status}) before listening (is `moto[server]` installed?):\n{}",
                    proc.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "moto did not listen on {port} within {START_TIMEOUT:?}:\n{}",
                proc.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let endpoint = format!("http://127.0.0.1:{port}");

        // The three unchecked requests. They are signed all the same: moto routes a request to a service by the
        // credential scope of its signature (an unsigned form post would reach its S3).
        iam(&endpoint, &[("Action", "CreateUser"), ("UserName", "s3-sse-proxy")]).await;
        let created = iam(
            &endpoint,
            &[("Action", "CreateAccessKey"), ("UserName", "s3-sse-proxy")],
        )
        .await;
        let access_key_id = xml_tag(&created, "AccessKeyId").expect("AccessKeyId in CreateAccessKey");
        let secret_access_key = xml_tag(&created, "SecretAccessKey").expect("SecretAccessKey in CreateAccessKey");
        let policy = json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
        })
        .to_string();
        iam(
            &endpoint,
            &[
                ("Action", "PutUserPolicy"),
                ("UserName", "s3-sse-proxy"),
                ("PolicyName", "everything"),
                ("PolicyDocument", &policy),
            ],
        )
        .await;

        let admin = kms_client(&endpoint, &access_key_id, &secret_access_key, MOTO_TIMEOUT);
        Moto {
            endpoint,
            access_key_id,
            secret_access_key,
            admin,
            _proc: proc,
            _dir: dir,
        }
    }

    /// The secret of the key moto checks (for a gateway using moto as its S3 backend).
    pub fn secret_access_key(&self) -> &str {
        &self.secret_access_key
    }

    /// A client signing with the key moto checks.
    pub fn kms(&self) -> AwsKms {
        kms_client(
            &self.endpoint,
            &self.access_key_id,
            &self.secret_access_key,
            MOTO_TIMEOUT,
        )
    }

    /// A gateway `[kms]` section that uses this moto as its AWS KMS, with `default_key_id` and `extra` lines.
    pub fn gateway_toml(&self, default_key_id: &str, extra: &str) -> String {
        format!(
            "[kms]\nkind = \"aws\"\nendpoint = \"{}\"\nregion = \"{REGION}\"\naccess_key_id = \"{}\"\n\
             secret_access_key = \"{}\"\ndefault_key_id = \"{default_key_id}\"\ntimeout_secs = {}\n{extra}\n",
            self.endpoint,
            self.access_key_id,
            self.secret_access_key,
            MOTO_TIMEOUT.as_secs()
        )
    }

    /// A client signing with other credentials.
    pub fn kms_signing_as(&self, access_key_id: &str, secret_access_key: &str) -> AwsKms {
        kms_client(&self.endpoint, access_key_id, secret_access_key, MOTO_TIMEOUT)
    }

    /// CreateKey (symmetric, encrypt/decrypt), and CreateAlias if `alias` is given: the key's id and ARN.
    pub async fn create_key(&self, alias: Option<&str>) -> (String, String) {
        let created = self
            .admin
            .call("CreateKey", &json!({"Description": "s3-sse-proxy test key"}))
            .await
            .expect("CreateKey");
        let id = created["KeyMetadata"]["KeyId"].as_str().expect("KeyId").to_owned();
        let arn = created["KeyMetadata"]["Arn"].as_str().expect("Arn").to_owned();
        if let Some(alias) = alias {
            self.admin
                .call("CreateAlias", &json!({"AliasName": alias, "TargetKeyId": id}))
                .await
                .expect("CreateAlias");
        }
        (id, arn)
    }

    pub async fn disable_key(&self, key_id: &str) {
        self.admin
            .call("DisableKey", &json!({"KeyId": key_id}))
            .await
            .expect("DisableKey");
    }

    pub async fn enable_key(&self, key_id: &str) {
        self.admin
            .call("EnableKey", &json!({"KeyId": key_id}))
            .await
            .expect("EnableKey");
    }
}

pub fn kms_client(endpoint: &str, access_key_id: &str, secret_access_key: &str, timeout: Duration) -> AwsKms {
    AwsKms::new(AwsKmsSettings {
        endpoint: endpoint.to_owned(),
        region: REGION.to_owned(),
        access_key_id: access_key_id.to_owned(),
        secret_access_key: SecretString::new(secret_access_key.to_owned()),
        ca_pem: None,
        timeout,
    })
    .expect("AwsKms::new")
}

/// One IAM query-protocol call (form post), signed with a key moto does not check yet; the response text.
async fn iam(endpoint: &str, params: &[(&str, &str)]) -> String {
    let form: Vec<String> = params
        .iter()
        .chain(&[("Version", "2010-05-08")])
        .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, NON_ALPHANUMERIC)))
        .collect();
    let body = form.join("&");
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(format!("{endpoint}/"))
        .header("host", endpoint.trim_start_matches("http://"))
        .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
        .body(())
        .expect("request");
    Signer::for_service(
        "iam",
        "AKIDMOTOSETUP0000000".into(),
        SecretString::new("not checked".into()),
        REGION.into(),
    )
    .sign_payload(&mut req, body.as_bytes())
    .expect("signing");
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let resp = client
        .request(req.map(|()| Full::new(Bytes::from(body))))
        .await
        .expect("IAM call to moto");
    let status = resp.status();
    let text =
        String::from_utf8_lossy(&resp.into_body().collect().await.expect("IAM response").to_bytes()).into_owned();
    assert_eq!(status, StatusCode::OK, "IAM {params:?}: {text}");
    text
}
