//! `couponflow serve`: the whole service on one address (SPEC §13, §14).
//!
//! Settings come from the defaults, then `--config FILE`, then the
//! `COUPONFLOW_*` environment variables, then the `--database-url` and
//! `--listen` flags. With none of them it serves `./couponflow.db` (SQLite,
//! created and migrated on first start) on 127.0.0.1:8080. The first start
//! without `COUPONFLOW_BOOTSTRAP_ADMIN_KEY` prints a generated admin key to
//! standard error, once.
//!
//! Beside the requests it runs the background jobs (`couponflow_app::background`):
//! code batches a previous process left unfinished are resumed, and coupons
//! past their validity are expired every `expiry_interval_secs`, and the
//! notification jobs (outbox dispatch, webhook deliveries, expiry
//! reminders) run every `notify_poll_interval_ms`. A stop
//! signal stops them after the open requests have drained.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use clap::Args;
use couponflow_app::background::Background;
use couponflow_app::captcha::CaptchaVerifier;
use couponflow_app::{App, Settings};
use couponflow_http::auth::UserTokenSecret;
use couponflow_http::server::serve_with_drain_limit;
use couponflow_http::{AppState, RequestLimits, ServerConfig, SystemClock, service_app};
use couponflow_store::Store;
use tokio::net::TcpListener;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// A TOML file of settings (`listen`, `database_url`, `user_token_secret`, ...).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// `sqlite://couponflow.db` (the default) or `postgres://user:password@host/db`.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// The address to listen on, HOST:PORT; port 0 takes any free port.
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<SocketAddr>,
    /// Load the demo data set first (as `couponflow demo`; nothing happens
    /// if it is already loaded) and print its API keys.
    #[arg(long)]
    pub demo: bool,
}

/// Runs the server until SIGTERM or Ctrl-C, then lets open requests finish.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = load_config(&args)?;
    let store = Store::open_and_migrate(&config.database_url)
        .await
        .with_context(|| format!("opening {}", redacted(&config.database_url)))?;
    let store = Arc::new(store);
    let app = Arc::new(App::new(
        store.clone(),
        Arc::new(SystemClock),
        settings(&config)?,
    ));
    let configured_key = config.bootstrap_admin_key.as_ref().map(|key| key.expose());
    if let Some(key) = app.ensure_bootstrap_admin(configured_key).await? {
        eprintln!("Created the first admin API key. It is shown only this once; keep it safe:");
        eprintln!("  {key}");
    }
    if args.demo {
        let summary = crate::demo::load(&app)
            .await
            .context("loading the demo data set")?;
        eprintln!("{summary}");
    }
    let mut state = AppState::new(app.clone(), Some(user_token_secret(&config)?))?;
    if args.demo || config.demo_mall {
        state = state.with_demo_mall();
    }
    let service = service_app(state, &RequestLimits::from_config(&config));
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let address = listener.local_addr().context("reading the bound address")?;
    let background = Background::start(app, Duration::from_secs(config.expiry_interval_secs));
    println!("couponflow listening on http://{address}");
    tracing::info!(%address, database = %redacted(&config.database_url), "serving");
    let drain = Duration::from_secs(config.shutdown_drain_secs);
    serve_with_drain_limit(listener, service.router, std::future::pending(), drain)
        .await
        .context("serving")?;
    background.stop().await;
    // The router held the last other handles on the store: close it so the
    // write pipeline finishes what it has queued before the process ends.
    if let Ok(store) = Arc::try_unwrap(store) {
        store.close().await;
    }
    tracing::info!("stopped");
    Ok(())
}

fn load_config(args: &ServeArgs) -> anyhow::Result<ServerConfig> {
    let mut config = ServerConfig::load_from_process(args.config.as_deref())?;
    if let Some(url) = &args.database_url {
        config.database_url = url.clone();
    }
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    config.validate()?;
    Ok(config)
}

fn settings(config: &ServerConfig) -> anyhow::Result<Settings> {
    let time_zone = config
        .time_zone
        .parse::<chrono_tz::Tz>()
        .map_err(|error| anyhow!("time_zone `{}`: {error}", config.time_zone))?;
    Ok(Settings {
        finance_review_threshold_minor: config.finance_review_threshold_minor,
        time_zone,
        notify: config.notify_settings(),
        grant_lease_secs: config.grant_lease_secs,
        captcha: match (&config.captcha_secret, &config.captcha_url) {
            (Some(secret), _) => CaptchaVerifier::Hmac {
                secret: secret.expose().to_owned(),
            },
            (None, Some(url)) => CaptchaVerifier::Http {
                url: url.clone(),
                timeout_ms: 2_000,
            },
            (None, None) => CaptchaVerifier::None,
        },
        ..Settings::default()
    })
}

/// The configured secret; without one (the embedded demo mode) a random one
/// for this process, so the demo's own user pages can sign tokens.
fn user_token_secret(config: &ServerConfig) -> anyhow::Result<UserTokenSecret> {
    match &config.user_token_secret {
        Some(secret) => Ok(UserTokenSecret::new(secret.expose().as_bytes())?),
        None => {
            tracing::warn!(
                "no user_token_secret configured: user tokens are signed with a random secret \
                 that lasts as long as this process (demo mode; set COUPONFLOW_USER_TOKEN_SECRET \
                 to accept the mall's tokens, and on every node when running several)"
            );
            Ok(UserTokenSecret::generate())
        }
    }
}

/// A database URL fit for logs: the password, if any, replaced.
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((user_info, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match user_info.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// Logs to standard error; `COUPONFLOW_LOG` filters (`info` when unset,
/// e.g. `couponflow_http=debug,info`).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("COUPONFLOW_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A subscriber set already (by a test harness) is kept.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_the_logs() {
        assert_eq!(
            redacted("postgres://cf:s3cret@db.internal:5432/couponflow"),
            "postgres://cf:***@db.internal:5432/couponflow"
        );
        assert_eq!(redacted("sqlite://couponflow.db"), "sqlite://couponflow.db");
        assert_eq!(redacted("postgres://cf@db/x"), "postgres://cf@db/x");
    }
}
