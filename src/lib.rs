//! # s3-sse-proxy
//!
//! An HTTPS gateway between unmodified S3 clients and any S3-compatible backend.
//!
//! ```text
//!  client ──TLS──▶ accept ─▶ classify ─▶ authenticate ─▶ policy ─▶ verify body ─▶ dispatch ─▶ ops ──▶ backend
//!  client ◀──TLS── meter ◀─ transform response (ops, response) ◀──────────────────────────────────────── backend
//! ```
//!
//! [`gateway`] runs those phases top to bottom for each request; each phase is one module: [`s3::request`]
//! (classify), [`auth`], [`authorize`] (policy), [`body::verify`], [`ops`] (one file per S3 operation family,
//! reaching the backend through [`backend::upstream`]), [`metrics::request`] (meter).
//!
//! Rules that hold everywhere:
//! - never collect an object body whole: bodies are streams of frames through adapters ([`body`]);
//! - never log, print or label a metric with a secret (secret types live in [`secret`] and print nothing);
//! - nothing authoritative lives in memory: any instance serves any request.
#![forbid(unsafe_code)]

pub mod accept;
pub mod audit;
pub mod auth;
pub mod authorize;
pub mod backend;
pub mod body;
pub mod bucket_state;
pub mod config;
pub mod crypto;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod error;
pub mod gateway;
pub mod keyring;
pub mod kms;
pub mod memcpy;
pub mod metrics;
pub mod ops;
pub mod policy;
pub mod quickstart;
pub mod rekey;
pub mod response;
pub mod s3;
pub mod secret;
pub mod sse;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::net::TcpListener;

use crate::auth::{AuthLimits, CredentialStore};
use crate::backend::{Backend, BackendSettings};
use crate::config::{BackendKind, Config};
use crate::secret::SecretString;

/// Start everything described by `config` and serve until SIGINT/SIGTERM. On SIGHUP, the certificate is read
/// again, and so is `config_file` (with the environment), for the settings [`gateway::Settings`] holds.
pub async fn run(mut config: Config, config_file: Option<std::path::PathBuf>) -> Result<(), String> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let data_dir = config.data_dir.clone();
    std::fs::create_dir_all(&data_dir).map_err(|e| format!("creating {}: {e}", data_dir.display()))?;

    // TLS material: configured, or generated once for the quick start.
    let (cert_path, key_path, ca_hint) = match (config.tls.cert.take(), config.tls.key.take()) {
        (Some(c), Some(k)) => (c, k, None),
        _ => {
            let listen_ip = config.listen.ip();
            let extra = if listen_ip.is_unspecified() {
                vec![]
            } else {
                vec![listen_ip.to_string()]
            };
            let f = quickstart::ensure_tls(&data_dir, &extra)?;
            (f.cert, f.key, Some(f.ca))
        }
    };
    let cert = accept::tls::ReloadableCert::new(cert_path, key_path)?;
    let tls_config = accept::tls::server_config(cert.clone())?;

    let backend = start_backend(&config).await?;
    let metrics = metrics::Metrics::new();
    let keys = if config.sse.enabled {
        Some(sse_keys(&config, &data_dir, metrics.clone())?)
    } else {
        tracing::warn!("SSE is disabled: objects pass through unencrypted");
        None
    };
    let (settings, secret_hint) = reloadable_settings(&config, &data_dir, &metrics)?;
    let upstream = Arc::new(backend::upstream::Upstream::new(backend, metrics.clone()));
    let gateway = Arc::new(gateway::Gateway {
        buckets: bucket_state::BucketState::new(upstream.clone()),
        upstream,
        settings: arc_swap::ArcSwap::from_pointee(settings),
        auth_limits: auth_limits(&config),
        keys,
        metrics: metrics.clone(),
        virtual_host_domains: config.s3.virtual_host_domains.clone(),
        writes_in_flight: tokio::sync::watch::Sender::new(()),
    });

    let metrics_listener = TcpListener::bind(config.metrics_listen)
        .await
        .map_err(|e| format!("metrics listener {}: {e}", config.metrics_listen))?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("S3 listener {}: {e}", config.listen))?;
    let addr = accept::local_addr(&listener);
    let metrics_addr = accept::local_addr(&metrics_listener);
    tokio::spawn(metrics::serve(metrics_listener, metrics.clone()));
    set_certificate_expiry(&metrics, &cert);
    spawn_reloader(
        Reload {
            cert,
            config_file,
            data_dir: data_dir.clone(),
            gateway: gateway.clone(),
        },
        metrics.clone(),
    );
    gateway.probe().await;
    let prober = gateway.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(10)).await;
            prober.probe().await;
        }
    });
    metrics.ready.store(true, Ordering::Relaxed);

    print_banner(addr, metrics_addr, ca_hint.as_deref(), secret_hint.as_ref());
    accept::serve_https(listener, tls_config, gateway, shutdown_signal()).await;
    tracing::info!("stopped");
    Ok(())
}

/// The settings SIGHUP reloads, from `config`: the configured credentials (plus the environment's or the generated
/// quick-start one when none is configured or the environment names one), their identity policies, the pinned
/// bucket policies, the limits. Also the quick-start credential's hint for the banner.
fn reloadable_settings(
    config: &Config,
    data_dir: &std::path::Path,
    metrics: &Arc<metrics::Metrics>,
) -> Result<(gateway::Settings, Option<(String, String)>), String> {
    let identity_policies = config.identity_policies().map_err(|e| e.to_string())?;
    let pinned_policies = config.pinned_policies().map_err(|e| e.to_string())?;
    let mut creds = config.credentials.clone();
    let mut secret_hint = None;
    let env_set = std::env::var_os(quickstart::ENV_ACCESS_KEY_ID).is_some();
    if creds.is_empty() || env_set {
        let (c, hint) = quickstart::quickstart_credential(data_dir)?;
        secret_hint = Some((c.access_key_id.clone(), hint));
        creds.push(c);
    }
    let settings = gateway::Settings {
        credentials: CredentialStore::new(creds),
        authorizer: authorize::Authorizer {
            account_id: config.s3.account_id.clone(),
            pinned_policies,
            identity_policies,
            metrics: metrics.clone(),
        },
        limits: config.limits,
    };
    Ok((settings, secret_hint))
}

/// The keys SSE needs: the SSE-S3 keyring and the KMS, as configured (both created for the quick start).
fn sse_keys(config: &Config, data_dir: &std::path::Path, metrics: Arc<metrics::Metrics>) -> Result<sse::Keys, String> {
    let path = config
        .sse
        .keyring
        .clone()
        .unwrap_or_else(|| data_dir.join("keyring.toml"));
    let keyring = keyring::Keyring::load_or_create(&path)?;
    let k = &config.kms;
    let client = match k.kind {
        config::KmsKind::Local => {
            let path = k.key_file.clone().unwrap_or_else(|| data_dir.join("kms-keys.toml"));
            kms::KmsClient::Local(kms::local::LocalKms::open(&path, k.key_file.is_none())?)
        }
        config::KmsKind::Aws => {
            let access_key_id = k
                .access_key_id
                .clone()
                .ok_or("kms.access_key_id (or S3_SSE_PROXY_KMS_ACCESS_KEY_ID) is required for kms.kind = \"aws\"")?;
            let secret_access_key = k.secret_access_key.clone().ok_or(
                "kms.secret_access_key (or S3_SSE_PROXY_KMS_SECRET_ACCESS_KEY) is required for kms.kind = \"aws\"",
            )?;
            let ca_pem = match &k.ca_file {
                Some(p) => Some(std::fs::read(p).map_err(|e| format!("kms.ca_file {}: {e}", p.display()))?),
                None => None,
            };
            kms::KmsClient::Aws(Box::new(kms::aws::AwsKms::new(kms::aws::AwsKmsSettings {
                endpoint: k.endpoint.clone().unwrap_or_default(),
                region: k.region.clone(),
                access_key_id,
                secret_access_key,
                ca_pem,
                timeout: std::time::Duration::from_secs(k.timeout_secs),
            })?))
        }
        config::KmsKind::Kmip => kms::KmsClient::Kmip(kms::kmip::KmipKms::new(kms::kmip::KmipSettings {
            endpoint: k.endpoint.clone().unwrap_or_default(),
            server_name: k.server_name.clone(),
            ca_file: k.ca_file.clone(),
            client_cert: k.client_cert.clone().unwrap_or_default(),
            client_key: k.client_key.clone().unwrap_or_default(),
            timeout: std::time::Duration::from_secs(k.timeout_secs),
        })?),
    };
    let cache = kms::cache::KeyCache::new(std::time::Duration::from_secs(k.cache_ttl_secs), k.cache_max_entries);
    Ok(sse::Keys {
        keyring,
        kms: sse::kms::SseKms::new(
            client,
            k.default_key_id.clone(),
            cache,
            std::time::Duration::from_secs(k.key_check_secs),
            metrics,
        ),
        rules: sse::SseRules {
            block_sse_c_by_default: config.sse.block_sse_c_by_default,
            require_envelope_on_read: config.sse.require_envelope_on_read,
        },
    })
}

fn auth_limits(config: &Config) -> AuthLimits {
    AuthLimits {
        max_clock_skew_secs: config.s3.max_clock_skew_secs,
        max_presign_expiry_secs: config.s3.max_presign_expiry_secs,
        sigv2: config.s3.sigv2,
    }
}

/// `s3-sse-proxy rekey`: re-wrap the data keys of `bucket`'s objects (metadata only). SSE-S3 objects: optionally
/// add a fresh active keyring key first, then re-wrap under the active key. With `kms_key`: SSE-KMS objects
/// under another KMS key are re-wrapped under `kms_key`. Prints progress; safe to interrupt and run again.
/// What a `rekey` run does besides re-wrapping under the active SSE-S3 key.
pub struct RekeyWhat<'a> {
    /// First add a fresh active key to the keyring.
    pub new_key: bool,
    /// Re-wrap SSE-KMS objects under this key instead of SSE-S3 ones.
    pub kms_key: Option<&'a str>,
    /// Also encrypt objects without an envelope (SSE-S3, in place).
    pub encrypt_plaintext: bool,
}

pub async fn rekey(config: Config, bucket: &str, prefix: &str, what: RekeyWhat<'_>) -> Result<(), String> {
    let RekeyWhat {
        new_key,
        kms_key,
        encrypt_plaintext,
    } = what;
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let path = config
        .sse
        .keyring
        .clone()
        .unwrap_or_else(|| config.data_dir.join("keyring.toml"));
    if !path.exists() {
        return Err(format!("no keyring at {}", path.display()));
    }
    if new_key {
        let id = keyring::add_active_key(&path)?;
        println!("added key {id} to {} and made it active", path.display());
    }
    let metrics = metrics::Metrics::new();
    let mut keys = sse_keys(&config, &config.data_dir, metrics.clone())?;
    // The migration tool reads the plaintext objects that a locked-down gateway refuses to serve.
    keys.rules.require_envelope_on_read = false;
    match kms_key {
        None => println!(
            "re-wrapping SSE-S3 data keys in bucket {bucket:?} (prefix {prefix:?}) under {}",
            keys.keyring.active().id()
        ),
        Some(k) => println!("re-wrapping SSE-KMS data keys in bucket {bucket:?} (prefix {prefix:?}) under {k}"),
    }
    let upstream = Arc::new(backend::upstream::Upstream::new(
        start_backend(&config).await?,
        metrics.clone(),
    ));
    let rekey = rekey::Rekey {
        buckets: bucket_state::BucketState::new(upstream.clone()),
        upstream,
        keys,
        metrics,
        encrypt_plaintext,
    };
    let done = rekey.run(bucket, prefix, kms_key).await.map_err(|e| e.to_string())?;
    let encrypted = if encrypt_plaintext {
        format!(", {} plaintext objects encrypted", done.encrypted)
    } else {
        String::new()
    };
    println!(
        "done: {} objects examined, {} re-wrapped{encrypted}; running gateways pick up the new key on restart",
        done.examined, done.rewrapped
    );
    Ok(())
}

async fn start_backend(config: &Config) -> Result<Arc<Backend>, String> {
    let b = &config.backend;
    let settings = |endpoint, access_key_id, secret_access_key, ca_pem| BackendSettings {
        endpoint,
        region: b.region.clone(),
        access_key_id,
        secret_access_key,
        ca_pem,
        addressing: b.addressing,
        connect_timeout: config.connect_timeout(),
        response_timeout: config.response_timeout(),
        payload: b.payload,
        object_lock_checksum: b.object_lock_checksum && b.kind == BackendKind::S3,
        conditional_deletes: b.conditional_deletes,
    };
    if b.kind == BackendKind::Embedded {
        return start_embedded(&config.data_dir, settings);
    }
    let (Some(ak), Some(sk)) = (b.access_key_id.clone(), b.secret_access_key.clone()) else {
        return Err(
            "backend credentials missing: set backend.access_key_id/secret_access_key or \
                    S3_SSE_PROXY_BACKEND_ACCESS_KEY_ID/S3_SSE_PROXY_BACKEND_SECRET_ACCESS_KEY"
                .into(),
        );
    };
    let endpoint = b.endpoint.clone().expect("validated");
    let ca_pem = match &b.ca_file {
        Some(p) => Some(std::fs::read(p).map_err(|e| format!("backend.ca_file {}: {e}", p.display()))?),
        None => None,
    };
    tracing::info!(endpoint = %endpoint, region = %b.region, "backend");
    Backend::new(settings(&endpoint, ak, sk, ca_pem))
}

/// The embedded backend over `data_dir/backend`, called in process (no socket: nothing on the network reaches
/// it). Its requests are signed with its own credentials and verified, as over a socket.
#[cfg(feature = "embedded")]
fn start_embedded<'a>(
    data_dir: &std::path::Path,
    settings: impl Fn(&'a str, String, SecretString, Option<Vec<u8>>) -> BackendSettings<'a>,
) -> Result<Arc<Backend>, String> {
    let (ak, sk) = quickstart::load_or_generate_keys(&data_dir.join("backend-credentials.toml"))?;
    let service = embedded::service(&data_dir.join("backend"), &ak, &sk)?;
    tracing::info!(root = %data_dir.join("backend").display(), "embedded backend, in process");
    Backend::in_process(settings(EMBEDDED_ENDPOINT, ak, sk, None), service)
}

/// The name the in-process embedded backend's requests carry (their `Host`); never resolved or connected to.
#[cfg(feature = "embedded")]
const EMBEDDED_ENDPOINT: &str = "http://embedded-backend";

#[cfg(not(feature = "embedded"))]
fn start_embedded<'a>(
    _: &std::path::Path,
    _: impl Fn(&'a str, String, SecretString, Option<Vec<u8>>) -> BackendSettings<'a>,
) -> Result<Arc<Backend>, String> {
    Err("this build has no embedded backend (feature `embedded`); use --config with backend.kind = \"s3\"".into())
}

fn set_certificate_expiry(metrics: &metrics::Metrics, cert: &accept::tls::ReloadableCert) {
    if let Some(t) = cert.leaf_der().as_ref().and_then(accept::tls::not_after) {
        metrics.certificate_expiry.set(t as f64);
    }
}

/// What a SIGHUP reloads: the certificate, and the gateway's [`gateway::Settings`] from the config file.
struct Reload {
    cert: Arc<accept::tls::ReloadableCert>,
    /// `None` (the quick start): nothing to read again but the certificate.
    config_file: Option<std::path::PathBuf>,
    /// The data directory in force (the quick-start credential lives there); a reload does not move it.
    data_dir: std::path::PathBuf,
    gateway: Arc<gateway::Gateway>,
}

impl Reload {
    /// The config file read, validated and swapped in whole, or refused with one log line (the settings in force
    /// stay). The line never carries the file's text: it may hold a secret.
    fn settings(&self, metrics: &Arc<metrics::Metrics>) {
        let Some(path) = &self.config_file else {
            return;
        };
        let loaded = Config::load(path)
            .map_err(|e| e.without_source_text())
            .and_then(|c| reloadable_settings(&c, &self.data_dir, metrics).map(|(s, _)| s));
        match loaded {
            Ok(settings) => {
                self.gateway.settings.store(Arc::new(settings));
                tracing::info!(config = %path.display(), "SIGHUP: credentials, policies and limits reloaded");
            }
            Err(e) => tracing::error!(error = %e, "SIGHUP: config refused; the settings in force stay"),
        }
    }
}

fn spawn_reloader(reload: Reload, metrics: Arc<metrics::Metrics>) {
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            match reload.cert.reload() {
                Ok(()) => {
                    set_certificate_expiry(&metrics, &reload.cert);
                    tracing::info!("SIGHUP: TLS certificate reloaded");
                }
                Err(e) => tracing::error!(error = %e, "SIGHUP: certificate reload failed; keeping the old one"),
            }
            reload.settings(&metrics);
        }
    });
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

fn print_banner(
    addr: std::net::SocketAddr,
    metrics: std::net::SocketAddr,
    ca: Option<&std::path::Path>,
    secret: Option<&(String, String)>,
) {
    let endpoint = format!("https://{addr}");
    println!("s3-sse-proxy {} ready", env!("CARGO_PKG_VERSION"));
    println!("  endpoint:       {endpoint}");
    if let Some(ca) = ca {
        println!("  CA file:        {}", ca.display());
    }
    println!("  metrics:        http://{metrics}/metrics");
    if let Some((ak, secret_hint)) = secret {
        println!("  access key id:  {ak}");
        let ca_arg = ca.map(|c| format!(" --ca-bundle {}", c.display())).unwrap_or_default();
        println!("  try it:");
        println!(
            "    AWS_ACCESS_KEY_ID={ak} AWS_SECRET_ACCESS_KEY={secret_hint} aws --endpoint-url {endpoint}{ca_arg} s3 ls"
        );
    }
}
