//! `couponflow grants create|show`: staff grants (SPEC §6.2.2) through a
//! running server's API. `create` uploads the users (a CSV file, a comma
//! separated list, or a segment) to `POST /v1/grants`, prints the grant id
//! on standard output, then polls `GET /v1/grants/{id}` with a progress
//! bar on standard error until the grant is done, and prints its counts.
//! Leaving early (Ctrl-C) does not stop the grant: the server finishes it.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use crate::migrate_cmd::runtime;

const PROGRESS_TEMPLATE: &str =
    "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} users ({eta} left) {msg}";
/// How often `create` asks for the grant's progress.
const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How long one call to the server may take (an upload of a million users included).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Args, Debug)]
pub struct GrantsArgs {
    #[command(subcommand)]
    command: GrantsCommand,
}

/// Where the server is and who calls it.
#[derive(Args, Debug)]
struct ServerArgs {
    /// The server's base URL.
    #[arg(
        long,
        env = "COUPONFLOW_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    server: String,
    /// An admin or operator API key.
    #[arg(long, env = "COUPONFLOW_KEY", hide_env_values = true)]
    key: String,
}

#[derive(Subcommand, Debug)]
enum GrantsCommand {
    /// Grant a template's coupons to users, then follow the job with a progress bar.
    Create {
        /// The template's id.
        #[arg(long, value_name = "ID")]
        template: String,
        /// A CSV file of user ids, one a line (optional header `user_id`).
        #[arg(long, value_name = "FILE", group = "whom")]
        csv: Option<PathBuf>,
        /// User ids separated by commas.
        #[arg(long, value_name = "U1,U2", value_delimiter = ',', group = "whom")]
        users: Option<Vec<String>>,
        /// A tag segment the mall has sent.
        #[arg(long, value_name = "TAG", group = "whom")]
        segment: Option<String>,
        /// Why (kept with the grant).
        #[arg(long)]
        reason: Option<String>,
        /// Print the id and return at once instead of following the job.
        #[arg(long)]
        no_wait: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Show a grant and its counts as JSON.
    Show {
        /// The grant's id.
        id: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

pub fn run(args: GrantsArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async move {
        match args.command {
            GrantsCommand::Create {
                template,
                csv,
                users,
                segment,
                reason,
                no_wait,
                server,
            } => {
                let client = Client::new(server)?;
                let upload = match (csv, users, segment) {
                    (Some(path), None, None) => Upload::Csv(
                        std::fs::read(&path)
                            .with_context(|| format!("reading {}", path.display()))?,
                    ),
                    (None, Some(users), None) => Upload::Json(json!({"users": users})),
                    (None, None, Some(tag)) => Upload::Json(json!({"segment": tag})),
                    _ => bail!("name the users with one of --csv, --users and --segment"),
                };
                let grant = client.create(&template, reason.as_deref(), upload).await?;
                let id = text(&grant, "id")?;
                println!("{id}");
                if no_wait {
                    return Ok(());
                }
                let done = follow(&client, &id, &grant).await?;
                eprintln!("{}", summary(&done));
                Ok(())
            }
            GrantsCommand::Show { id, server } => {
                let grant = Client::new(server)?.grant(&id).await?;
                println!("{}", serde_json::to_string_pretty(&grant)?);
                Ok(())
            }
        }
    })
}

enum Upload {
    Csv(Vec<u8>),
    Json(Value),
}

struct Client {
    http: reqwest::Client,
    server: ServerArgs,
}

impl Client {
    fn new(server: ServerArgs) -> anyhow::Result<Client> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .context("building the HTTP client")?;
        Ok(Client { http, server })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.server.trim_end_matches('/'))
    }

    async fn create(
        &self,
        template: &str,
        reason: Option<&str>,
        upload: Upload,
    ) -> anyhow::Result<Value> {
        let request = self
            .http
            .post(self.url("/v1/grants"))
            .bearer_auth(&self.server.key);
        let request = match upload {
            Upload::Csv(bytes) => {
                let mut query = vec![("template", template)];
                query.extend(reason.map(|reason| ("reason", reason)));
                request
                    .query(&query)
                    .header("content-type", "text/csv")
                    .body(bytes)
            }
            Upload::Json(mut body) => {
                body["template"] = json!(template);
                if let Some(reason) = reason {
                    body["reason"] = json!(reason);
                }
                request.json(&body)
            }
        };
        answer(request.send().await, 202).await
    }

    async fn grant(&self, id: &str) -> anyhow::Result<Value> {
        let request = self
            .http
            .get(self.url(&format!("/v1/grants/{id}")))
            .bearer_auth(&self.server.key);
        answer(request.send().await, 200).await
    }
}

/// The body of an answer with `status`, or the server's problem as the error.
async fn answer(
    sent: Result<reqwest::Response, reqwest::Error>,
    status: u16,
) -> anyhow::Result<Value> {
    let response = sent.context("calling the server")?;
    let got = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if got == status {
        return Ok(body);
    }
    match (body["code"].as_str(), body["detail"].as_str()) {
        (Some(code), Some(detail)) => Err(anyhow!("{got} {code}: {detail}{}", fields(&body))),
        _ => Err(anyhow!("the server answered {got}: {body}")),
    }
}

/// ` (field: reason, …)` of a problem's `errors`, if any.
fn fields(problem: &Value) -> String {
    let Some(errors) = problem["errors"].as_array().filter(|e| !e.is_empty()) else {
        return String::new();
    };
    let list: Vec<String> = errors
        .iter()
        .map(|e| {
            format!(
                "{}: {}",
                e["field"].as_str().unwrap_or("?"),
                e["reason"].as_str().unwrap_or("?")
            )
        })
        .collect();
    format!(" ({})", list.join("; "))
}

fn text(value: &Value, field: &str) -> anyhow::Result<String> {
    value[field]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("the server's answer has no {field}: {value}"))
}

fn number(value: &Value, field: &str) -> u64 {
    value[field].as_u64().unwrap_or(0)
}

/// Polls until the grant is done, with a progress bar (hidden when standard
/// error is not a terminal).
async fn follow(client: &Client, id: &str, grant: &Value) -> anyhow::Result<Value> {
    let bar = ProgressBar::new(number(grant, "total"));
    bar.set_style(ProgressStyle::with_template(PROGRESS_TEMPLATE)?);
    loop {
        let grant = tokio::select! {
            grant = client.grant(id) => grant?,
            _ = tokio::signal::ctrl_c() => {
                bar.abandon();
                bail!("stopped following; the server finishes grant {id}: `couponflow grants show {id}`");
            }
        };
        bar.set_position(number(&grant, "processed"));
        bar.set_message(format!(
            "{} granted, {} skipped",
            number(&grant, "done"),
            skipped_total(&grant)
        ));
        if grant["status"] == "done" {
            bar.finish_and_clear();
            return Ok(grant);
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

fn skipped_total(grant: &Value) -> u64 {
    grant["skipped"]
        .as_object()
        .map(|reasons| reasons.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0)
}

/// One line per count, as the run ends.
fn summary(grant: &Value) -> String {
    let skipped = &grant["skipped"];
    format!(
        "grant {}: {} users ({} duplicates dropped)\n  granted {}\n  skipped {} (limit reached {}, sold out {}, budget exhausted {}, not in audience {})\n  failed {}",
        grant["id"].as_str().unwrap_or("?"),
        number(grant, "total"),
        number(grant, "duplicates"),
        number(grant, "done"),
        skipped_total(grant),
        number(skipped, "limit_reached"),
        number(skipped, "sold_out"),
        number(skipped, "budget_exhausted"),
        number(skipped, "not_in_audience"),
        number(grant, "failed"),
    )
}
