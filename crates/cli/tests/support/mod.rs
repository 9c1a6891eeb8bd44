//! A real `couponflow serve` process for the tests that need one.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A running server; killed (SIGKILL) when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `serve` on `database_url` with `admin_key` as its bootstrap admin
/// key, on a free port, and waits for its listening line.
pub fn start(database_url: &str, admin_key: &str) -> Server {
    start_with(database_url, admin_key, &[])
}

/// As [`start`], with more `COUPONFLOW_*` settings in the environment.
pub fn start_with(database_url: &str, admin_key: &str, settings: &[(&str, &str)]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_couponflow"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            database_url,
        ])
        .env("COUPONFLOW_BOOTSTRAP_ADMIN_KEY", admin_key)
        .env_remove("COUPONFLOW_LISTEN")
        .env_remove("COUPONFLOW_DATABASE_URL")
        .env("COUPONFLOW_LOG", "warn")
        .envs(settings.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the listening line");
    let address = line
        .trim()
        .strip_prefix("couponflow listening on http://")
        .expect("listening")
        .to_owned();
    Server {
        child,
        base: format!("http://{address}"),
    }
}
