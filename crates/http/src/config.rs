//! Server settings: defaults, then an optional TOML file, then `COUPONFLOW_*`
//! environment variables, each later source overriding the earlier one.
//!
//! The environment is passed in as a map so tests never touch the process
//! environment. Unknown keys in the file are refused (a misspelt setting
//! silently ignored is worse than a start that fails), and every number is
//! checked against its limit before the server starts.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

use couponflow_app::notify::{
    ATTEMPTS_MAX_LIMIT, NotifySettings, REMINDER_LEAD_SECS_MAX, RETRY_DELAY_MAX_MS_LIMIT,
    SEND_TIMEOUT_MS_MAX,
};
use serde::Deserialize;

use crate::auth::is_api_key_format;

pub const LISTEN_DEFAULT: &str = "127.0.0.1:8080";
pub const DATABASE_URL_DEFAULT: &str = "sqlite://couponflow.db";
pub const BODY_LIMIT_BYTES_DEFAULT: usize = 1024 * 1024;
pub const BODY_LIMIT_BYTES_MAX: usize = 64 * 1024 * 1024;
pub const REQUEST_TIMEOUT_SECS_DEFAULT: u64 = 30;
pub const REQUEST_TIMEOUT_SECS_MAX: u64 = 600;
pub const SHUTDOWN_DRAIN_SECS_DEFAULT: u64 = 30;
pub const SHUTDOWN_DRAIN_SECS_MAX: u64 = 600;
pub const EXPIRY_INTERVAL_SECS_DEFAULT: u64 = 60;
/// A day: coupons past their validity are never usable anyway (the quote
/// and the state machine refuse them), but wallets should not show them as
/// available for longer than this.
pub const EXPIRY_INTERVAL_SECS_MAX: u64 = 86_400;
/// ¥100,000.00 in fen: templates whose budget is above this also need finance's review.
pub const FINANCE_REVIEW_THRESHOLD_MINOR_DEFAULT: i64 = 10_000_000;
pub const TIME_ZONE_DEFAULT: &str = "Asia/Shanghai";
const TIME_ZONE_CHARS_MAX: usize = 64;
/// A minute: the notification jobs look for work at least this often.
pub const NOTIFY_POLL_INTERVAL_MS_MAX: u64 = 60_000;
pub const GRANT_LEASE_SECS_DEFAULT: u64 = couponflow_app::grants::GRANT_LEASE_SECS_DEFAULT;
pub const GRANT_LEASE_SECS_MAX: u64 = 3_600;

/// A setting that must not appear in logs. `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<hidden>)")
    }
}

/// Everything `couponflow serve` can be told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub database_url: String,
    pub body_limit_bytes: usize,
    pub request_timeout_secs: u64,
    /// How long open connections may finish after a shutdown signal.
    pub shutdown_drain_secs: u64,
    /// How often the expiry job moves coupons past their validity to `expired`.
    pub expiry_interval_secs: u64,
    /// The HMAC secret shared with the mall for user tokens; `None` = demo mode.
    pub user_token_secret: Option<Secret>,
    /// The first admin key; generated and printed once when absent.
    pub bootstrap_admin_key: Option<Secret>,
    pub finance_review_threshold_minor: i64,
    /// The IANA time zone the console shows times in.
    pub time_zone: String,
    /// Webhooks, inbox and reminders (SPEC §6.3): see [`NotifySettings`].
    pub notify_poll_interval_ms: u64,
    pub webhook_retry_delay_base_ms: u64,
    pub webhook_retry_delay_max_ms: u64,
    pub webhook_attempts_max: u32,
    pub webhook_send_timeout_ms: u64,
    pub expiry_reminder_lead_secs: u64,
    /// How long a node holds a grant without recording a chunk before
    /// another node may take it over (SPEC §14: a dead node's grant resumes).
    pub grant_lease_secs: u64,
    /// The built-in captcha verifier's shared secret (SPEC §11.4).
    pub captcha_secret: Option<Secret>,
    /// The mall's captcha verifier, called when no secret is set.
    pub captcha_url: Option<String>,
    /// Couponflow plays the mall for the user pages (demo sign-in and demo
    /// orders at `/m/api`); `couponflow serve --demo` turns it on too.
    pub demo_mall: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        let notify = NotifySettings::default();
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: DATABASE_URL_DEFAULT.to_owned(),
            body_limit_bytes: BODY_LIMIT_BYTES_DEFAULT,
            request_timeout_secs: REQUEST_TIMEOUT_SECS_DEFAULT,
            shutdown_drain_secs: SHUTDOWN_DRAIN_SECS_DEFAULT,
            expiry_interval_secs: EXPIRY_INTERVAL_SECS_DEFAULT,
            user_token_secret: None,
            bootstrap_admin_key: None,
            finance_review_threshold_minor: FINANCE_REVIEW_THRESHOLD_MINOR_DEFAULT,
            time_zone: TIME_ZONE_DEFAULT.to_owned(),
            notify_poll_interval_ms: notify.poll_interval_ms,
            webhook_retry_delay_base_ms: notify.retry_delay_base_ms,
            webhook_retry_delay_max_ms: notify.retry_delay_max_ms,
            webhook_attempts_max: notify.attempts_max,
            webhook_send_timeout_ms: notify.send_timeout_ms,
            expiry_reminder_lead_secs: notify.reminder_lead_secs,
            grant_lease_secs: GRANT_LEASE_SECS_DEFAULT,
            captcha_secret: None,
            captcha_url: None,
            demo_mall: false,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("the config file {path} is not valid: {reason}")]
    File { path: String, reason: String },
    #[error("environment variable {variable} is not valid: {reason}")]
    Env { variable: String, reason: String },
    #[error("setting {setting} is not valid: {reason}")]
    Invalid {
        setting: &'static str,
        reason: String,
    },
}

/// The file's shape: every key optional, unknown keys refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<String>,
    database_url: Option<String>,
    body_limit_bytes: Option<usize>,
    request_timeout_secs: Option<u64>,
    shutdown_drain_secs: Option<u64>,
    expiry_interval_secs: Option<u64>,
    user_token_secret: Option<String>,
    bootstrap_admin_key: Option<String>,
    finance_review_threshold_minor: Option<i64>,
    time_zone: Option<String>,
    notify_poll_interval_ms: Option<u64>,
    webhook_retry_delay_base_ms: Option<u64>,
    webhook_retry_delay_max_ms: Option<u64>,
    webhook_attempts_max: Option<u32>,
    webhook_send_timeout_ms: Option<u64>,
    expiry_reminder_lead_secs: Option<u64>,
    grant_lease_secs: Option<u64>,
    captcha_secret: Option<String>,
    captcha_url: Option<String>,
    demo_mall: Option<bool>,
}

impl ServerConfig {
    /// Defaults, then `file` if given, then `env`; then every limit is checked.
    pub fn load(file: Option<&Path>, env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let mut config = ServerConfig::default();
        if let Some(path) = file {
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
                path: shown.clone(),
                reason: error.to_string(),
            })?;
            config
                .apply_toml(&text)
                .map_err(|reason| ConfigError::File {
                    path: shown,
                    reason,
                })?;
        }
        config.apply_env(env)?;
        config.validate()?;
        Ok(config)
    }

    /// [`ServerConfig::load`] with the process environment.
    pub fn load_from_process(file: Option<&Path>) -> Result<Self, ConfigError> {
        let env: HashMap<String, String> = std::env::vars().collect();
        ServerConfig::load(file, &env)
    }

    fn apply_toml(&mut self, text: &str) -> Result<(), String> {
        let file: FileSettings = toml::from_str(text).map_err(|error| error.to_string())?;
        if let Some(listen) = file.listen {
            self.listen = parse_listen(&listen)?;
        }
        set(&mut self.database_url, file.database_url);
        set(&mut self.body_limit_bytes, file.body_limit_bytes);
        set(&mut self.request_timeout_secs, file.request_timeout_secs);
        set(&mut self.shutdown_drain_secs, file.shutdown_drain_secs);
        set(&mut self.expiry_interval_secs, file.expiry_interval_secs);
        set_secret(&mut self.user_token_secret, file.user_token_secret);
        set_secret(&mut self.bootstrap_admin_key, file.bootstrap_admin_key);
        set(
            &mut self.finance_review_threshold_minor,
            file.finance_review_threshold_minor,
        );
        set(&mut self.time_zone, file.time_zone);
        set(
            &mut self.notify_poll_interval_ms,
            file.notify_poll_interval_ms,
        );
        set(
            &mut self.webhook_retry_delay_base_ms,
            file.webhook_retry_delay_base_ms,
        );
        set(
            &mut self.webhook_retry_delay_max_ms,
            file.webhook_retry_delay_max_ms,
        );
        set(&mut self.webhook_attempts_max, file.webhook_attempts_max);
        set(
            &mut self.webhook_send_timeout_ms,
            file.webhook_send_timeout_ms,
        );
        set(
            &mut self.expiry_reminder_lead_secs,
            file.expiry_reminder_lead_secs,
        );
        set(&mut self.grant_lease_secs, file.grant_lease_secs);
        set_secret(&mut self.captcha_secret, file.captcha_secret);
        if file.captcha_url.is_some() {
            self.captcha_url = file.captcha_url;
        }
        set(&mut self.demo_mall, file.demo_mall);
        Ok(())
    }

    fn apply_env(&mut self, env: &HashMap<String, String>) -> Result<(), ConfigError> {
        let reader = EnvReader(env);
        if let Some(listen) = reader.parsed("COUPONFLOW_LISTEN", parse_listen)? {
            self.listen = listen;
        }
        set(
            &mut self.database_url,
            reader.text("COUPONFLOW_DATABASE_URL"),
        );
        set(
            &mut self.body_limit_bytes,
            reader.number("COUPONFLOW_BODY_LIMIT_BYTES")?,
        );
        set(
            &mut self.request_timeout_secs,
            reader.number("COUPONFLOW_REQUEST_TIMEOUT_SECS")?,
        );
        set(
            &mut self.shutdown_drain_secs,
            reader.number("COUPONFLOW_SHUTDOWN_DRAIN_SECS")?,
        );
        set(
            &mut self.expiry_interval_secs,
            reader.number("COUPONFLOW_EXPIRY_INTERVAL_SECS")?,
        );
        set_secret(
            &mut self.user_token_secret,
            reader.text("COUPONFLOW_USER_TOKEN_SECRET"),
        );
        set_secret(
            &mut self.bootstrap_admin_key,
            reader.text("COUPONFLOW_BOOTSTRAP_ADMIN_KEY"),
        );
        set(
            &mut self.finance_review_threshold_minor,
            reader.number("COUPONFLOW_FINANCE_REVIEW_THRESHOLD_MINOR")?,
        );
        set(&mut self.time_zone, reader.text("COUPONFLOW_TIME_ZONE"));
        set(&mut self.demo_mall, reader.flag("COUPONFLOW_DEMO_MALL")?);
        self.apply_notify_env(&reader)
    }

    fn apply_notify_env(&mut self, reader: &EnvReader<'_>) -> Result<(), ConfigError> {
        set(
            &mut self.notify_poll_interval_ms,
            reader.number("COUPONFLOW_NOTIFY_POLL_INTERVAL_MS")?,
        );
        set(
            &mut self.webhook_retry_delay_base_ms,
            reader.number("COUPONFLOW_WEBHOOK_RETRY_DELAY_BASE_MS")?,
        );
        set(
            &mut self.webhook_retry_delay_max_ms,
            reader.number("COUPONFLOW_WEBHOOK_RETRY_DELAY_MAX_MS")?,
        );
        set(
            &mut self.webhook_attempts_max,
            reader.number("COUPONFLOW_WEBHOOK_ATTEMPTS_MAX")?,
        );
        set(
            &mut self.webhook_send_timeout_ms,
            reader.number("COUPONFLOW_WEBHOOK_SEND_TIMEOUT_MS")?,
        );
        set(
            &mut self.expiry_reminder_lead_secs,
            reader.number("COUPONFLOW_EXPIRY_REMINDER_LEAD_SECS")?,
        );
        set(
            &mut self.grant_lease_secs,
            reader.number("COUPONFLOW_GRANT_LEASE_SECS")?,
        );
        set_secret(
            &mut self.captcha_secret,
            reader.text("COUPONFLOW_CAPTCHA_SECRET"),
        );
        if let Some(url) = reader.text("COUPONFLOW_CAPTCHA_URL") {
            self.captcha_url = Some(url);
        }
        Ok(())
    }

    /// Checks every setting against its limit.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |setting, reason: &str| {
            Err(ConfigError::Invalid {
                setting,
                reason: reason.to_owned(),
            })
        };
        if self.database_url.trim().is_empty() {
            return invalid("database_url", "must not be empty");
        }
        if !(1..=BODY_LIMIT_BYTES_MAX).contains(&self.body_limit_bytes) {
            return invalid(
                "body_limit_bytes",
                "must be between 1 and 67108864 (64 MiB)",
            );
        }
        if !(1..=REQUEST_TIMEOUT_SECS_MAX).contains(&self.request_timeout_secs) {
            return invalid("request_timeout_secs", "must be between 1 and 600");
        }
        if self.shutdown_drain_secs > SHUTDOWN_DRAIN_SECS_MAX {
            return invalid("shutdown_drain_secs", "must be at most 600");
        }
        if !(1..=EXPIRY_INTERVAL_SECS_MAX).contains(&self.expiry_interval_secs) {
            return invalid(
                "expiry_interval_secs",
                "must be between 1 and 86400 (a day)",
            );
        }
        if self.finance_review_threshold_minor < 0 {
            return invalid("finance_review_threshold_minor", "must not be negative");
        }
        self.validate_secrets()?;
        self.validate_notify()?;
        validate_time_zone(&self.time_zone)
    }

    /// The notification settings for the use cases.
    pub fn notify_settings(&self) -> NotifySettings {
        NotifySettings {
            poll_interval_ms: self.notify_poll_interval_ms,
            retry_delay_base_ms: self.webhook_retry_delay_base_ms,
            retry_delay_max_ms: self.webhook_retry_delay_max_ms,
            attempts_max: self.webhook_attempts_max,
            send_timeout_ms: self.webhook_send_timeout_ms,
            reminder_lead_secs: self.expiry_reminder_lead_secs,
        }
    }

    fn validate_notify(&self) -> Result<(), ConfigError> {
        let checks: [(&'static str, bool, String); 7] = [
            (
                "notify_poll_interval_ms",
                (1..=NOTIFY_POLL_INTERVAL_MS_MAX).contains(&self.notify_poll_interval_ms),
                format!("must be between 1 and {NOTIFY_POLL_INTERVAL_MS_MAX}"),
            ),
            (
                "webhook_retry_delay_max_ms",
                (1..=RETRY_DELAY_MAX_MS_LIMIT).contains(&self.webhook_retry_delay_max_ms),
                format!("must be between 1 and {RETRY_DELAY_MAX_MS_LIMIT} (a week)"),
            ),
            (
                "webhook_retry_delay_base_ms",
                (1..=self.webhook_retry_delay_max_ms).contains(&self.webhook_retry_delay_base_ms),
                "must be between 1 and webhook_retry_delay_max_ms".to_owned(),
            ),
            (
                "webhook_attempts_max",
                (1..=ATTEMPTS_MAX_LIMIT).contains(&self.webhook_attempts_max),
                format!("must be between 1 and {ATTEMPTS_MAX_LIMIT}"),
            ),
            (
                "webhook_send_timeout_ms",
                (1..=SEND_TIMEOUT_MS_MAX).contains(&self.webhook_send_timeout_ms),
                format!("must be between 1 and {SEND_TIMEOUT_MS_MAX}"),
            ),
            (
                "expiry_reminder_lead_secs",
                (1..=REMINDER_LEAD_SECS_MAX).contains(&self.expiry_reminder_lead_secs),
                format!("must be between 1 and {REMINDER_LEAD_SECS_MAX} (90 days)"),
            ),
            (
                "grant_lease_secs",
                (1..=GRANT_LEASE_SECS_MAX).contains(&self.grant_lease_secs),
                format!("must be between 1 and {GRANT_LEASE_SECS_MAX} (an hour)"),
            ),
        ];
        match checks.into_iter().find(|(_, ok, _)| !ok) {
            Some((setting, _, reason)) => Err(ConfigError::Invalid { setting, reason }),
            None => Ok(()),
        }
    }

    fn validate_secrets(&self) -> Result<(), ConfigError> {
        let too_short = self
            .user_token_secret
            .as_ref()
            .is_some_and(|secret| secret.expose().len() < crate::auth::USER_TOKEN_SECRET_BYTES_MIN);
        if too_short {
            return Err(ConfigError::Invalid {
                setting: "user_token_secret",
                reason: "must be at least 32 bytes long".to_owned(),
            });
        }
        let bad_key = self
            .bootstrap_admin_key
            .as_ref()
            .is_some_and(|key| !is_api_key_format(key.expose()));
        if bad_key {
            return Err(ConfigError::Invalid {
                setting: "bootstrap_admin_key",
                reason: "must be `cf_` followed by 32 lowercase letters or digits".to_owned(),
            });
        }
        Ok(())
    }
}

/// Without a time zone database here, check the shape of an IANA name.
fn validate_time_zone(name: &str) -> Result<(), ConfigError> {
    let shaped = !name.is_empty()
        && name.len() <= TIME_ZONE_CHARS_MAX
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'));
    if shaped {
        return Ok(());
    }
    Err(ConfigError::Invalid {
        setting: "time_zone",
        reason: format!("`{name}` is not an IANA time zone name such as {TIME_ZONE_DEFAULT}"),
    })
}

fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    text.parse()
        .map_err(|_| format!("listen address `{text}` is not HOST:PORT, e.g. {LISTEN_DEFAULT}"))
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *slot = value;
    }
}

fn set_secret(slot: &mut Option<Secret>, value: Option<String>) {
    if let Some(value) = value {
        *slot = Some(Secret(value));
    }
}

struct EnvReader<'a>(&'a HashMap<String, String>);

impl EnvReader<'_> {
    /// An empty variable counts as unset, as shells make those easily.
    fn text(&self, variable: &str) -> Option<String> {
        self.0
            .get(variable)
            .filter(|value| !value.is_empty())
            .cloned()
    }

    fn parsed<T>(
        &self,
        variable: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        let Some(text) = self.text(variable) else {
            return Ok(None);
        };
        parse(text.trim())
            .map(Some)
            .map_err(|reason| ConfigError::Env {
                variable: variable.to_owned(),
                reason,
            })
    }

    fn flag(&self, variable: &str) -> Result<Option<bool>, ConfigError> {
        self.parsed(variable, |text| match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(format!("`{text}` is not true or false")),
        })
    }

    fn number<T: std::str::FromStr>(&self, variable: &str) -> Result<Option<T>, ConfigError> {
        self.parsed(variable, |text| {
            text.parse()
                .map_err(|_| format!("`{text}` is not a whole number"))
        })
    }
}

#[cfg(test)]
mod tests;
