//! `couponflow serve` as an operator runs it: a real process on a fresh
//! SQLite file, its first admin key printed once, a graceful stop on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running server: its address, and the lines of standard error it wrote.
struct Server {
    child: Child,
    address: String,
    stderr: mpsc::Receiver<String>,
}

fn start(database: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_couponflow"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url"])
        .arg(format!("sqlite://{}", database.display()))
        .env_remove("COUPONFLOW_BOOTSTRAP_ADMIN_KEY")
        .env_remove("COUPONFLOW_LISTEN")
        .env_remove("COUPONFLOW_DATABASE_URL")
        .env("COUPONFLOW_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("a line on stdout");
    let address = line
        .trim()
        .strip_prefix("couponflow listening on http://")
        .unwrap_or_else(|| panic!("not the listening line: {line:?}"))
        .to_owned();
    let stderr = drain(child.stderr.take().expect("stderr"));
    Server {
        child,
        address,
        stderr,
    }
}

/// Reads standard error on a thread so the server never blocks on a full pipe.
fn drain(stderr: ChildStderr) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                return;
            }
        }
    });
    receiver
}

impl Server {
    /// `GET path` over plain HTTP/1.1; answers the status line and the body.
    fn get(&self, path: &str, key: Option<&str>) -> (String, String) {
        let mut stream = TcpStream::connect(&self.address).expect("a connection");
        let authorization = key
            .map(|key| format!("Authorization: Bearer {key}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\n{authorization}Connection: close\r\n\r\n",
            self.address
        );
        stream.write_all(request.as_bytes()).expect("the request");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("the answer");
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        let status = head.lines().next().unwrap_or_default().to_owned();
        (status, body.to_owned())
    }

    /// The generated admin key, if the server printed one on standard error
    /// before it went `wait` without printing anything.
    fn printed_key(&self, wait: Duration) -> Option<String> {
        while let Ok(line) = self.stderr.recv_timeout(wait) {
            if let Some(body) = line.trim().strip_prefix("cf_") {
                return Some(format!("cf_{body}"));
            }
        }
        None
    }

    /// SIGTERM, then the exit status.
    fn stop(mut self) -> Option<i32> {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        for _ in 0..100 {
            if let Some(status) = self.child.try_wait().expect("a status") {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("the server did not stop within 5 s of SIGTERM");
    }
}

#[test]
fn serve_creates_the_database_prints_the_first_admin_key_once_and_stops_on_sigterm() {
    let directory = tempfile::tempdir().expect("a temp dir");
    let database = directory.path().join("couponflow.db");

    let first = start(&database);
    assert!(database.exists(), "the SQLite file is created");
    let (status, body) = first.get("/healthz", None);
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    let key = first
        .printed_key(Duration::from_secs(5))
        .expect("a generated admin key on stderr");
    let (status, body) = first.get("/v1/templates", Some(&key));
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    let (status, _) = first.get("/v1/templates", None);
    assert_eq!(status, "HTTP/1.1 401 Unauthorized");
    assert_eq!(first.stop(), Some(0), "a graceful stop exits 0");

    let second = start(&database);
    let (status, body) = second.get("/v1/templates", Some(&key));
    assert_eq!(
        status, "HTTP/1.1 200 OK",
        "the key outlives a restart: {body}"
    );
    assert_eq!(
        second.printed_key(Duration::from_millis(300)),
        None,
        "the key is printed only once"
    );
    assert_eq!(second.stop(), Some(0));
}
