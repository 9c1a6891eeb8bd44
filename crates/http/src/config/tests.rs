use super::*;
use std::io::Write;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

struct TempFile(tempfile::NamedTempFile);

impl TempFile {
    fn new(text: &str) -> TempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        TempFile(file)
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

const KEY: &str = "cf_0123456789abcdef0123456789abcdef";

#[test]
fn no_file_and_no_env_gives_the_defaults() {
    let config = ServerConfig::load(None, &env(&[])).unwrap();
    assert_eq!(config, ServerConfig::default());
    assert_eq!(config.listen.to_string(), LISTEN_DEFAULT);
    assert_eq!(config.database_url, "sqlite://couponflow.db");
    assert_eq!(config.body_limit_bytes, 1_048_576);
    assert_eq!(config.finance_review_threshold_minor, 10_000_000);
    assert_eq!(config.time_zone, "Asia/Shanghai");
}

#[test]
fn file_overrides_defaults_and_env_overrides_file() {
    let file = TempFile::new(
        r#"
        listen = "0.0.0.0:9000"
        database_url = "postgres://file"
        body_limit_bytes = 2048
        time_zone = "UTC"
        "#,
    );
    let vars = env(&[
        ("COUPONFLOW_DATABASE_URL", "postgres://env"),
        ("COUPONFLOW_REQUEST_TIMEOUT_SECS", "5"),
        ("COUPONFLOW_BOOTSTRAP_ADMIN_KEY", KEY),
        ("UNRELATED", "x"),
    ]);
    let config = ServerConfig::load(Some(file.path()), &vars).unwrap();
    assert_eq!(config.listen.to_string(), "0.0.0.0:9000");
    assert_eq!(config.database_url, "postgres://env");
    assert_eq!(config.body_limit_bytes, 2048);
    assert_eq!(config.request_timeout_secs, 5);
    assert_eq!(config.time_zone, "UTC");
    assert_eq!(config.bootstrap_admin_key, Some(Secret::new(KEY)));
}

#[test]
fn unknown_file_key_is_refused_by_name() {
    let file = TempFile::new("lisen = \"0.0.0.0:1\"\n");
    let error = ServerConfig::load(Some(file.path()), &env(&[])).unwrap_err();
    assert!(matches!(error, ConfigError::File { .. }), "{error:?}");
    assert!(error.to_string().contains("lisen"), "{error}");
}

#[test]
fn missing_file_is_a_read_error() {
    let path = Path::new("/nonexistent/couponflow.toml");
    let error = ServerConfig::load(Some(path), &env(&[])).unwrap_err();
    assert!(matches!(error, ConfigError::Read { .. }), "{error:?}");
}

#[test]
fn env_value_that_does_not_parse_names_the_variable() {
    let error =
        ServerConfig::load(None, &env(&[("COUPONFLOW_BODY_LIMIT_BYTES", "1MB")])).unwrap_err();
    assert_eq!(
        error,
        ConfigError::Env {
            variable: "COUPONFLOW_BODY_LIMIT_BYTES".into(),
            reason: "`1MB` is not a whole number".into(),
        }
    );
    let listen = ServerConfig::load(None, &env(&[("COUPONFLOW_LISTEN", "8080")])).unwrap_err();
    assert!(listen.to_string().contains("COUPONFLOW_LISTEN"));
}

#[test]
fn empty_env_value_counts_as_unset() {
    let config = ServerConfig::load(None, &env(&[("COUPONFLOW_DATABASE_URL", "")])).unwrap();
    assert_eq!(config.database_url, DATABASE_URL_DEFAULT);
}

#[test]
fn settings_beyond_their_limits_are_refused() {
    let cases = [
        ("COUPONFLOW_BODY_LIMIT_BYTES", "0", "body_limit_bytes"),
        (
            "COUPONFLOW_BODY_LIMIT_BYTES",
            "67108865",
            "body_limit_bytes",
        ),
        (
            "COUPONFLOW_REQUEST_TIMEOUT_SECS",
            "0",
            "request_timeout_secs",
        ),
        (
            "COUPONFLOW_SHUTDOWN_DRAIN_SECS",
            "601",
            "shutdown_drain_secs",
        ),
        (
            "COUPONFLOW_FINANCE_REVIEW_THRESHOLD_MINOR",
            "-1",
            "finance_review_threshold_minor",
        ),
        ("COUPONFLOW_USER_TOKEN_SECRET", "short", "user_token_secret"),
        (
            "COUPONFLOW_BOOTSTRAP_ADMIN_KEY",
            "admin",
            "bootstrap_admin_key",
        ),
        ("COUPONFLOW_TIME_ZONE", "Asia Shanghai", "time_zone"),
        (
            "COUPONFLOW_EXPIRY_INTERVAL_SECS",
            "0",
            "expiry_interval_secs",
        ),
        (
            "COUPONFLOW_EXPIRY_INTERVAL_SECS",
            "86401",
            "expiry_interval_secs",
        ),
    ];
    for (variable, value, setting) in cases {
        let error = ServerConfig::load(None, &env(&[(variable, value)])).unwrap_err();
        match error {
            ConfigError::Invalid { setting: named, .. } => assert_eq!(named, setting),
            other => panic!("{variable}={value}: {other:?}"),
        }
    }
}

#[test]
fn expiry_interval_is_a_minute_unless_the_file_or_the_environment_says_otherwise() {
    let defaults = ServerConfig::load(None, &env(&[])).unwrap();
    assert_eq!(defaults.expiry_interval_secs, 60);

    let file = TempFile::new("expiry_interval_secs = 300\n");
    let from_file = ServerConfig::load(Some(file.path()), &env(&[])).unwrap();
    assert_eq!(from_file.expiry_interval_secs, 300);

    let vars = env(&[("COUPONFLOW_EXPIRY_INTERVAL_SECS", "5")]);
    let from_env = ServerConfig::load(Some(file.path()), &vars).unwrap();
    assert_eq!(from_env.expiry_interval_secs, 5);
}

#[test]
fn debug_output_hides_secrets() {
    let vars = env(&[
        (
            "COUPONFLOW_USER_TOKEN_SECRET",
            "a-very-long-secret-of-thirty-two-bytes!",
        ),
        ("COUPONFLOW_BOOTSTRAP_ADMIN_KEY", KEY),
    ]);
    let config = ServerConfig::load(None, &vars).unwrap();
    let shown = format!("{config:?}");
    assert!(!shown.contains("very-long"));
    assert!(!shown.contains(KEY));
}

#[test]
fn notification_settings_come_from_the_file_and_the_env_and_are_checked() {
    let file = TempFile::new("webhook_attempts_max = 3\nexpiry_reminder_lead_secs = 3600\n");
    let config = ServerConfig::load(
        Some(file.path()),
        &env(&[("COUPONFLOW_WEBHOOK_RETRY_DELAY_BASE_MS", "250")]),
    )
    .unwrap();
    let notify = config.notify_settings();
    assert_eq!(notify.attempts_max, 3);
    assert_eq!(notify.reminder_lead_secs, 3_600);
    assert_eq!(notify.retry_delay_base_ms, 250);
    assert_eq!(
        ServerConfig::default().notify_settings(),
        couponflow_app::notify::NotifySettings::default()
    );
    assert_eq!(
        ServerConfig::default().expiry_reminder_lead_secs,
        72 * 3_600
    );
    for (variable, value, setting) in [
        (
            "COUPONFLOW_WEBHOOK_ATTEMPTS_MAX",
            "0",
            "webhook_attempts_max",
        ),
        (
            "COUPONFLOW_WEBHOOK_RETRY_DELAY_BASE_MS",
            "99999999",
            "webhook_retry_delay_base_ms",
        ),
        (
            "COUPONFLOW_WEBHOOK_SEND_TIMEOUT_MS",
            "0",
            "webhook_send_timeout_ms",
        ),
        (
            "COUPONFLOW_EXPIRY_REMINDER_LEAD_SECS",
            "0",
            "expiry_reminder_lead_secs",
        ),
    ] {
        let error = ServerConfig::load(None, &env(&[(variable, value)])).unwrap_err();
        assert!(
            matches!(error, ConfigError::Invalid { setting: s, .. } if s == setting),
            "{variable}: {error}"
        );
    }
}
