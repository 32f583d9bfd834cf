//! The `s3-sse-proxy` binary: CLI, config load, logging. No logic lives here.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use s3_sse_proxy::config::{self, Config};

#[derive(Parser)]
#[command(
    version,
    about = "HTTPS S3 gateway: verifies SigV4, re-signs, and encrypts objects (SSE-S3, SSE-KMS, SSE-C) for any S3 backend"
)]
struct Cli {
    /// Configuration file (TOML). Without it: the embedded quick start in --data-dir.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Where generated certificates, credentials and embedded backend data live [default: ./s3-sse-proxy-data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// HTTPS listener for S3 traffic [default: 127.0.0.1:8443].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Plain-HTTP listener for /metrics, /healthz, /readyz [default: 127.0.0.1:9464].
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
    /// Write the key-use audit trail (SSE-KMS) to this file as JSON lines instead of the log.
    #[arg(long)]
    audit_log: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Re-wrap the data keys of a bucket's SSE-S3 objects under the active key, or with --kms-key-id its
    /// SSE-KMS objects under that KMS key (metadata only; resumable).
    Rekey {
        #[arg(long)]
        bucket: String,
        #[arg(long, default_value = "")]
        prefix: String,
        /// First add a fresh key to the keyring and make it active.
        #[arg(long, conflicts_with = "kms_key_id")]
        new_key: bool,
        /// Re-wrap SSE-KMS objects under this KMS key (id, ARN or alias) instead.
        #[arg(long)]
        kms_key_id: Option<String>,
        /// Also encrypt (SSE-S3, in place) the objects stored without the gateway's envelope, e.g. from before the
        /// gateway, so that `[sse] require_envelope_on_read` can be turned on.
        #[arg(long, conflicts_with = "kms_key_id")]
        encrypt_plaintext: bool,
    },
    /// Manage the local KMS's master keys (SSE-KMS with `kms.kind = "local"`); running gateways see changes at once.
    Kms {
        #[command(subcommand)]
        action: KmsAction,
    },
    /// Check a configuration file as the gateway would at start (syntax, values, pinned and identity policies)
    /// and print the effective settings, every secret redacted; exit status 1 on any error.
    CheckConfig,
    /// Run only the embedded S3 backend (s3s-fs, plain HTTP, SigV4 required), e.g. as a test backend shared by
    /// several gateway instances.
    FsBackend {
        #[arg(long, default_value = "127.0.0.1:8014")]
        listen: SocketAddr,
        #[arg(long)]
        root: PathBuf,
        #[arg(long, env = "S3_SSE_PROXY_BACKEND_ACCESS_KEY_ID")]
        access_key: String,
        #[arg(long, env = "S3_SSE_PROXY_BACKEND_SECRET_ACCESS_KEY", hide_env_values = true)]
        secret_key: String,
    },
}

#[derive(Subcommand)]
enum KmsAction {
    /// List keys: ARN, state, number of versions, aliases (never key material).
    List,
    /// Create a key (optionally with an alias such as alias/team-a); prints its id.
    CreateKey {
        #[arg(long)]
        alias: Option<String>,
    },
    /// Disable a key (id, ARN or alias): no new data keys, no decryption (after the key cache's TTL).
    Disable { key: String },
    /// Enable a disabled key.
    Enable { key: String },
    /// Add a new version of a key: new data keys use it; existing objects still open.
    Rotate { key: String },
    /// Point an alias at a key.
    Alias { alias: String, key: String },
}

/// The effective configuration: the file (or the quick start's), the `S3_SSE_PROXY_*` variables, then the
/// command line's `--listen`, `--metrics-listen` and `--data-dir`. Also the names of the variables applied.
fn effective_config(cli: &Cli) -> Result<(Config, Vec<String>), String> {
    let (mut c, applied) = Config::load_effective(cli.config.as_deref()).map_err(|e| e.to_string())?;
    if let Some(l) = cli.listen {
        c.listen = l;
    }
    if let Some(m) = cli.metrics_listen {
        c.metrics_listen = m;
    }
    if let Some(d) = &cli.data_dir {
        c.data_dir.clone_from(d);
    }
    Ok((c, applied))
}

/// `check-config`: the effective configuration loaded and checked as `run` does, then printed with `Debug`,
/// which shows every secret as `<redacted>`.
fn check_config(cli: &Cli) -> Result<(), String> {
    let (config, applied) = effective_config(cli)?;
    config.pinned_policies().map_err(|e| e.to_string())?;
    config.identity_policies().map_err(|e| e.to_string())?;
    let source = cli
        .config
        .as_ref()
        .map_or_else(|| "the quick start's defaults".to_owned(), |p| p.display().to_string());
    println!("configuration OK: {source}");
    if !applied.is_empty() {
        println!("overridden by the environment: {}", applied.join(", "));
    }
    println!("{config:#?}");
    Ok(())
}

/// Logs: human or JSON on stderr, filtered by `S3_SSE_PROXY_LOG` (default `info`). With `--audit-log FILE`, the
/// key-use audit trail (target `audit`) goes to that file instead, as JSON lines, whatever the filter says.
fn init_tracing(format: LogFormat, audit_log: Option<&std::path::Path>) -> Result<(), String> {
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    let mut env = EnvFilter::try_from_env("S3_SSE_PROXY_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    if audit_log.is_some() {
        // The audit lines go to their file only.
        env = env.add_directive("audit=off".parse().expect("a valid directive"));
    }
    // One EnvFilter, no combinator: it tells tracing the most verbose level any layer wants, so the trace spans of
    // h2 and hyper are never built. (`EnvFilter.and(filter_fn)` has no such hint: every one of h2's trace spans was
    // built and dropped, 10 % of the CPU of a large GET over HTTP/2.)
    let main = match format {
        LogFormat::Human => tracing_subscriber::fmt::layer().with_writer(std::io::stderr).boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed(),
    }
    .with_filter(env);
    let audit = match audit_log {
        None => None,
        Some(path) => {
            use std::os::unix::fs::OpenOptionsExt;
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| format!("audit log {}: {e}", path.display()))?;
            Some(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::sync::Mutex::new(file))
                    .with_filter(Targets::new().with_target("audit", tracing::Level::INFO)),
            )
        }
    };
    tracing_subscriber::registry().with(main).with(audit).init();
    Ok(())
}

/// glibc's malloc was 12 % of a 4 KiB request's CPU (BENCHMARKS.md, "Issue 21: the allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    s3_sse_proxy::memcpy::tune();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime")
        .block_on(run())
}

async fn run() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Err(e) = init_tracing(cli.log_format, cli.audit_log.as_deref()) {
        eprintln!("s3-sse-proxy: {e}");
        return std::process::ExitCode::FAILURE;
    }
    let config = || effective_config(&cli).map(|(c, _)| c);
    let result = match &cli.command {
        Some(Command::Rekey {
            bucket,
            prefix,
            new_key,
            kms_key_id,
            encrypt_plaintext,
        }) => match config() {
            Ok(c) => {
                let what = s3_sse_proxy::RekeyWhat {
                    new_key: *new_key,
                    kms_key: kms_key_id.as_deref(),
                    encrypt_plaintext: *encrypt_plaintext,
                };
                s3_sse_proxy::rekey(c, bucket, prefix, what).await
            }
            Err(e) => Err(e),
        },
        Some(Command::Kms { action }) => config().and_then(|c| kms_admin(&c, action)),
        Some(Command::CheckConfig) => check_config(&cli),
        Some(Command::FsBackend {
            listen,
            root,
            access_key,
            secret_key,
        }) => fs_backend(*listen, root.clone(), access_key.clone(), secret_key.clone()).await,
        None => match config() {
            Ok(c) => s3_sse_proxy::run(c, cli.config.clone()).await,
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("s3-sse-proxy: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn kms_admin(c: &Config, action: &KmsAction) -> Result<(), String> {
    use s3_sse_proxy::kms::local::admin;
    if c.kms.kind != config::KmsKind::Local {
        return Err("the kms subcommand manages the local KMS only (kms.kind = \"local\")".into());
    }
    let path = c
        .kms
        .key_file
        .clone()
        .unwrap_or_else(|| c.data_dir.join("kms-keys.toml"));
    match action {
        KmsAction::List => {
            admin::create_if_missing(&path)?;
            for line in admin::list(&path)? {
                println!("{line}");
            }
        }
        KmsAction::CreateKey { alias } => {
            admin::create_if_missing(&path)?;
            println!("{}", admin::create_key(&path, alias.as_deref())?);
        }
        KmsAction::Disable { key } => admin::set_enabled(&path, key, false)?,
        KmsAction::Enable { key } => admin::set_enabled(&path, key, true)?,
        KmsAction::Rotate { key } => println!("version {}", admin::rotate(&path, key)?),
        KmsAction::Alias { alias, key } => admin::set_alias(&path, alias, key)?,
    }
    Ok(())
}

#[cfg(feature = "embedded")]
async fn fs_backend(listen: SocketAddr, root: PathBuf, ak: String, sk: String) -> Result<(), String> {
    let sk = s3_sse_proxy::secret::SecretString::new(sk);
    let service = s3_sse_proxy::embedded::service(&root, &ak, &sk)?;
    let addr = s3_sse_proxy::embedded::serve(service, listen).await?;
    println!("fs-backend ready on http://{addr} (root {})", root.display());
    let _ = tokio::signal::ctrl_c().await;
    Ok(())
}

#[cfg(not(feature = "embedded"))]
async fn fs_backend(_: SocketAddr, _: PathBuf, _: String, _: String) -> Result<(), String> {
    Err("built without the `embedded` feature".into())
}
